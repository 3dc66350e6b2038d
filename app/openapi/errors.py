"""The error envelopes, one per surface (app/errors.py, app/anthropic/render.py, app/generate/render.py)."""
from .schema import INTEGER, STRING, array, nullable, obj

SCHEMAS = {
    "OpenAIError": obj({"error": obj({
        "message": STRING, "type": STRING, "param": nullable(STRING), "code": nullable(STRING)},
        ("message", "type", "param", "code"))}, ("error",),
        description="OpenAI's envelope: every /v1 (but Anthropic's Messages), native, admin, health and file error"),
    "AnthropicError": obj({"type": {"const": "error"}, "error": obj({"type": STRING, "message": STRING},
                                                                     ("type", "message"))}, ("type", "error"),
                          description="Anthropic's envelope (/v1/messages)"),
    "GoogleError": obj({"error": obj({"code": INTEGER, "message": STRING, "status": STRING,
                                      "details": array(obj({"@type": STRING, "reason": STRING, "domain": STRING,
                                                            "metadata": {"type": "object"}}))},
                                     ("code", "message", "status"))}, ("error",),
                       description="Google's envelope (generateContent and the /v1beta catalogue)"),
}
