"""OpenAI's surface: chat completions, images, models, file links (app/openai/, app/files.py)."""
from .schema import (ANY_OBJECT, BOOLEAN, CLIENT, INTEGER, JSON, NUMBER, PUBLIC, STRING, answer, array, body,
                     errors, nullable, obj, operation, path_param, ref, sse_event)

TAG = "OpenAI"
FIELD = {"description": "any JSON value: checked by the gateway (a wrong type is a 400 naming it)"}

SCHEMAS = {
    "ChatMessage": obj({
        "role": {"type": "string", "description": "system, developer, user, assistant, tool or function"},
        "content": {"description": "text, or content parts (text, image_url, file), or null beside tool_calls"},
        "name": STRING, "tool_calls": array(ANY_OBJECT), "tool_call_id": STRING,
    }, ("role",)),
    "ChatCompletionRequest": obj({
        "model": STRING, "messages": array(ref("ChatMessage")), "stream": BOOLEAN,
        "stream_options": ANY_OBJECT, "max_tokens": nullable(INTEGER), "max_completion_tokens": nullable(INTEGER),
        "stop": {"description": "a string or a list of strings"}, "temperature": nullable(NUMBER),
        "top_p": nullable(NUMBER), "n": nullable(INTEGER), "tools": array(ANY_OBJECT), "tool_choice": FIELD,
        "parallel_tool_calls": BOOLEAN, "response_format": ANY_OBJECT, "functions": array(ANY_OBJECT),
        "function_call": FIELD, "reasoning_effort": nullable(STRING), "user": STRING,
    }, ("model", "messages"), description="Unknown fields are accepted and ignored, as OpenAI's clients send many"),
    "Usage": obj({"prompt_tokens": INTEGER, "completion_tokens": INTEGER, "total_tokens": INTEGER},
                 ("prompt_tokens", "completion_tokens", "total_tokens"),
                 description="estimates: the upstream reports no token counts"),
    "ChatCompletion": obj({
        "id": STRING, "object": {"const": "chat.completion"}, "created": INTEGER, "model": STRING,
        "choices": array(obj({
            "index": INTEGER,
            "message": obj({"role": {"const": "assistant"}, "content": nullable(STRING),
                            "refusal": nullable(STRING), "tool_calls": array(ANY_OBJECT),
                            "function_call": ANY_OBJECT, "reasoning_content": STRING}, ("role", "content")),
            "finish_reason": nullable(STRING), "logprobs": {"type": "null"}}, ("index", "message", "finish_reason"))),
        "usage": ref("Usage"),
    }, ("id", "object", "created", "model", "choices")),
    "ChatCompletionStream": sse_event(
        "`data: {chat.completion.chunk}` events (`: keep-alive` comments between them), an in-band "
        "`data: {\"error\": …}` on a failure after the first byte, then `data: [DONE]` (not JSON)",
        ("message",), {"anyOf": [obj({"object": {"const": "chat.completion.chunk"}, "choices": array(ANY_OBJECT)},
                                     ("object", "choices")), ref("OpenAIError")]}, last="[DONE]"),
    "Model": obj({"id": STRING, "object": {"const": "model"}, "created": INTEGER, "owned_by": STRING},
                 ("id", "object", "created", "owned_by")),
    "ModelList": obj({"object": {"const": "list"}, "data": array(ref("Model"))}, ("object", "data")),
    "AnthropicModel": obj({"type": {"const": "model"}, "id": STRING, "display_name": STRING, "created_at": STRING},
                          ("type", "id", "display_name", "created_at")),
    "AnthropicModelList": obj({"data": array(ref("AnthropicModel")), "has_more": BOOLEAN,
                               "first_id": nullable(STRING), "last_id": nullable(STRING)}, ("data", "has_more")),
    "ImageRequest": obj({
        "prompt": STRING, "model": STRING, "n": INTEGER, "response_format": {"enum": ["url", "b64_json"]},
        "size": STRING, "quality": STRING, "style": STRING, "user": STRING,
        "images": array(obj({"image_url": STRING}), description="an edit's images (JSON)"),
    }, ("prompt",)),
    "ImageEditForm": obj({"prompt": STRING, "model": STRING, "n": STRING, "response_format": STRING,
                          "image": {"type": "string", "format": "binary"},
                          "image[]": array({"type": "string", "format": "binary"})}, ("prompt",)),
    "ImagesResponse": obj({"created": INTEGER, "data": array(obj({
        "url": STRING, "b64_json": STRING, "revised_prompt": STRING})), "usage": ref("ImagesUsage")},
        ("created", "data", "usage")),
    "ImagesUsage": obj({
        "input_tokens": INTEGER, "output_tokens": INTEGER, "total_tokens": INTEGER,
        "input_tokens_details": obj({"text_tokens": INTEGER, "image_tokens": INTEGER},
                                    ("text_tokens", "image_tokens"))},
        ("input_tokens", "input_tokens_details", "output_tokens", "total_tokens"),
        description="estimates, summed over the images' answers: the prompt's text and the text the model wrote "
                    "(the upstream reports no token counts; image tokens are not estimated: 0)"),
}

_MODEL_ANSWER = {"description": "the model (Anthropic's shape when the request carries anthropic-version)"}


def paths() -> dict:
    return {
        "/v1/chat/completions": {"post": operation(
            "Create a chat completion", TAG, security=CLIENT,
            request=body(ref("ChatCompletionRequest"), examples=(
                {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hello"}]},
                {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hello"}], "stream": True})),
            responses={"200": answer("the completion, or its chunks with stream: true", ref("ChatCompletion"),
                                     stream=ref("ChatCompletionStream")), **errors("OpenAIError")})},
        "/v1/images/generations": {"post": operation(
            "Generate images", TAG, security=CLIENT,
            request=body(ref("ImageRequest"), examples=({"prompt": "a red apple", "model": "gemini-3.1-flash-image"},)),
            responses={"200": answer("the images", ref("ImagesResponse")), **errors("OpenAIError")})},
        "/v1/images/edits": {"post": operation(
            "Edit images", TAG, security=CLIENT,
            request={"required": True, "content": {JSON: {"schema": ref("ImageRequest")},
                                                   "multipart/form-data": {"schema": ref("ImageEditForm")}}},
            responses={"200": answer("the images", ref("ImagesResponse")), **errors("OpenAIError")})},
        "/v1/models": {"get": operation(
            "List models", TAG, security=CLIENT,
            parameters=[{"name": "anthropic-version", "in": "header", "required": False, "schema": STRING,
                         "description": "present: the list in Anthropic's shape"}],
            responses={"200": answer("the models", {"anyOf": [ref("ModelList"), ref("AnthropicModelList")]}),
                       **errors("OpenAIError", (401, 429, 500, 503))})},
        "/v1/models/{model}": {"get": operation(
            "Retrieve a model", TAG, security=CLIENT, parameters=[path_param("model", "a model id or alias", "gemini-2.5-flash")],
            responses={"200": {**answer("the model", {"anyOf": [ref("Model"), ref("AnthropicModel")]}),
                               **_MODEL_ANSWER}, **errors("OpenAIError", (400, 401, 404, 429, 500, 503))})},
        "/v1/files/{file_id}/content": {"get": operation(
            "Download a generated file", "Files", security=PUBLIC,
            description="A signed, expiring link the gateway handed out in an answer (no API key).",
            parameters=[path_param("file_id", "the file's id"),
                        {"name": "expires", "in": "query", "required": True, "schema": STRING},
                        {"name": "signature", "in": "query", "required": True, "schema": STRING}],
            responses={"200": {"description": "the file's bytes", "content": {"*/*": {"schema": {
                "type": "string", "format": "binary"}}}},
                **errors("OpenAIError", (400, 403, 404, 410, 429, 500, 503))})},
    }
