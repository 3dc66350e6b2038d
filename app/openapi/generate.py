"""Gemini's own API: generateContent, streamGenerateContent, countTokens and the catalogue
(app/generate/), under /v1beta and /v1 as the google-genai SDKs call it."""
from .schema import (ANY_OBJECT, GOOGLE_CLIENT, INTEGER, JSON, SSE, STRING, answer, array, body, errors, obj,
                     operation, path_param, query_param, ref, sse_event)

TAG = "Gemini API"

SCHEMAS = {
    "Content": obj({"role": STRING, "parts": array(ANY_OBJECT)}, ("parts",)),
    "GenerateContentRequest": obj({
        "contents": array(ref("Content")), "systemInstruction": ref("Content"), "tools": array(ANY_OBJECT),
        "toolConfig": ANY_OBJECT, "generationConfig": ANY_OBJECT, "safetySettings": array(ANY_OBJECT),
    }, ("contents",)),
    "GoogleCountTokensRequest": obj({"contents": array(ref("Content")), "generateContentRequest": ANY_OBJECT}),
    "GenerateContentResponse": obj({
        "candidates": array(obj({"content": ref("Content"), "finishReason": STRING, "index": INTEGER})),
        "usageMetadata": ANY_OBJECT, "modelVersion": STRING, "responseId": STRING,
    }),
    "GoogleTokenCount": obj({"totalTokens": INTEGER}, ("totalTokens",), description="an estimate"),
    "GoogleModel": obj({"name": STRING, "baseModelId": STRING, "version": STRING, "displayName": STRING,
                        "description": STRING}, ("name",)),
    "GoogleModelList": obj({"models": array(ref("GoogleModel"))}, ("models",)),
}

_MODEL = path_param("model", "a model id or alias (models/ is optional)", "gemini-2.5-flash")
_HELLO = ({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]},)
_ALT = query_param("alt", {"enum": ["sse", "json"]}, "sse: server-sent events; otherwise one JSON array")


def _actions(prefix: str) -> dict:
    out = {
        f"{prefix}/models/{{model}}:generateContent": {"post": operation(
            "Generate content", TAG, security=GOOGLE_CLIENT, parameters=[_MODEL],
            request=body(ref("GenerateContentRequest"), examples=_HELLO),
            responses={"200": answer("the answer", ref("GenerateContentResponse")), **errors("GoogleError")})},
        f"{prefix}/models/{{model}}:streamGenerateContent": {"post": operation(
            "Generate content, streamed", TAG, security=GOOGLE_CLIENT, parameters=[_MODEL, _ALT],
            request=body(ref("GenerateContentRequest"), examples=_HELLO),
            responses={"200": {"description": "GenerateContentResponses: SSE with alt=sse, else one JSON array",
                               "content": {JSON: {"schema": array(ref("GenerateContentResponse"))},
                                           SSE: {"schema": sse_event(
                                               "one GenerateContentResponse per event", ("message",),
                                               ref("GenerateContentResponse"))}}},
                       **errors("GoogleError")})},
        f"{prefix}/models/{{model}}:countTokens": {"post": operation(
            "Count tokens (an estimate)", TAG, security=GOOGLE_CLIENT, parameters=[_MODEL],
            request=body(ref("GoogleCountTokensRequest"), examples=_HELLO),
            responses={"200": answer("the estimate", ref("GoogleTokenCount")), **errors("GoogleError")})},
    }
    return out


def paths() -> dict:
    return {
        **_actions("/v1beta"), **_actions("/v1"),
        "/v1beta/models": {"get": operation(
            "List models", TAG, security=GOOGLE_CLIENT,
            responses={"200": answer("the catalogue", ref("GoogleModelList")),
                       **errors("GoogleError", (401, 429, 500, 503))})},
        "/v1beta/models/{model}": {"get": operation(
            "Get a model", TAG, security=GOOGLE_CLIENT, parameters=[_MODEL],
            responses={"200": answer("the model", ref("GoogleModel")),
                       **errors("GoogleError", (400, 401, 404, 429, 500, 503))})},
    }
