"""Anthropic's Messages API (app/anthropic/)."""
from .schema import (ANTHROPIC_CLIENT, ANY_OBJECT, BOOLEAN, COMMON, INTEGER, STRING, answer, array, body, errors,
                     nullable, obj, operation, ref, sse_event)

TAG = "Anthropic"
STATUSES = COMMON + (529,)

SCHEMAS = {
    "AnthropicMessageParam": obj({"role": {"enum": ["user", "assistant"]},
                                  "content": {"description": "a string or a list of content blocks"}},
                                 ("role", "content")),
    "MessagesRequest": obj({
        "model": STRING, "messages": array(ref("AnthropicMessageParam")), "max_tokens": INTEGER,
        "system": {"description": "a string or text blocks"}, "stream": BOOLEAN, "stop_sequences": array(STRING),
        "tools": array(ANY_OBJECT), "tool_choice": ANY_OBJECT, "thinking": ANY_OBJECT, "output_config": ANY_OBJECT,
        "metadata": ANY_OBJECT, "temperature": {}, "top_p": {}, "top_k": {},
    }, ("model", "messages", "max_tokens"), description="Claude Code's other fields are accepted"),
    "CountTokensRequest": obj({"model": STRING, "messages": array(ref("AnthropicMessageParam")),
                               "system": {}, "tools": array(ANY_OBJECT)}, ("model", "messages")),
    "AnthropicUsage": obj({"input_tokens": INTEGER, "output_tokens": INTEGER,
                           "cache_creation_input_tokens": INTEGER, "cache_read_input_tokens": INTEGER},
                          ("input_tokens", "output_tokens"), description="estimates"),
    "Message": obj({
        "id": STRING, "type": {"const": "message"}, "role": {"const": "assistant"}, "model": STRING,
        "content": array(obj({"type": {"enum": ["text", "thinking", "tool_use"]}}, ("type",))),
        "stop_reason": nullable(STRING), "stop_sequence": nullable(STRING), "usage": ref("AnthropicUsage"),
    }, ("id", "type", "role", "model", "content", "stop_reason", "usage")),
    "MessageStream": sse_event(
        "message_start, content_block_start/delta/stop per block, message_delta, message_stop; ping keep-alives; "
        "an in-band error event (Anthropic's envelope)",
        ("message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta",
         "message_stop", "ping", "error"), obj({"type": STRING}, ("type",))),
    "TokenCount": obj({"input_tokens": INTEGER}, ("input_tokens",), description="an estimate"),
}


def paths() -> dict:
    return {
        "/v1/messages": {"post": operation(
            "Create a message", TAG, security=ANTHROPIC_CLIENT, request=body(ref("MessagesRequest"), examples=(
                {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hello"}]},
                {"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": True,
                 "messages": [{"role": "user", "content": "Hello"}]})),
            responses={"200": answer("the Message, or its events with stream: true", ref("Message"),
                                     stream=ref("MessageStream")), **errors("AnthropicError", STATUSES)})},
        "/v1/messages/count_tokens": {"post": operation(
            "Count a message's input tokens (an estimate)", TAG, security=ANTHROPIC_CLIENT,
            request=body(ref("CountTokensRequest"), examples=(
                {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hello"}]},)),
            responses={"200": answer("the estimate", ref("TokenCount")), **errors("AnthropicError", STATUSES)})},
    }
