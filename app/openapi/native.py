"""The native session API (app/gemini/): one upstream session per native session."""
from .schema import (BOOLEAN, CLIENT, STRING, answer, array, body, errors, nullable, obj, operation, path_param,
                     ref, sse_event)

TAG = "Native"

SCHEMAS = {
    "SessionRequest": obj({"model": STRING}),
    "Session": obj({"session_id": STRING, "model": STRING, "created_at": STRING, "expires_at": STRING},
                   ("session_id", "model", "created_at", "expires_at")),
    "SessionDeleted": obj({"session_id": STRING, "deleted": {"const": True}}, ("session_id", "deleted")),
    "NativeFile": obj({"data": STRING, "url": STRING, "mime_type": STRING, "name": STRING}),
    "NativeChatRequest": obj({"session_id": STRING, "message": STRING, "files": array(ref("NativeFile")),
                              "stream": BOOLEAN}, ("session_id", "message")),
    "NativeReply": obj({
        "session_id": STRING, "model": STRING, "expires_at": STRING, "reply": STRING, "thinking": STRING,
        "finish_reason": nullable(STRING), "refusal": nullable(STRING),
        "files": array(obj({"url": STRING, "mime_type": STRING, "name": STRING})),
    }, ("session_id", "model", "expires_at", "reply", "finish_reason", "files")),
    "NativeStream": sse_event("thinking, text, refusal and file events, then done (finish_reason, expires_at) or "
                              "error (the OpenAI envelope beside type)",
                              ("thinking", "text", "refusal", "file", "done", "error"),
                              obj({"type": {"enum": ["thinking", "text", "refusal", "file", "done", "error"]}},
                                  ("type",))),
}

_ID = path_param("session_id", "a native session's id")


def paths() -> dict:
    return {
        "/gemini/sessions": {"post": operation(
            "Create a session", TAG, security=CLIENT, request=body(ref("SessionRequest"), required=False, examples=({"model": "gemini-2.5-flash"},)),
            responses={"201": answer("the session", ref("Session")), **errors("OpenAIError")})},
        "/gemini/sessions/{session_id}": {
            "get": operation("Get a session", TAG, security=CLIENT, parameters=[_ID],
                             responses={"200": answer("the session", ref("Session")),
                                        **errors("OpenAIError", (401, 404, 429, 500, 503))}),
            "delete": operation("Delete a session (and its upstream session)", TAG, security=CLIENT,
                                parameters=[_ID],
                                responses={"200": answer("deleted", ref("SessionDeleted")),
                                           **errors("OpenAIError", (401, 404, 429, 500, 502, 503, 504))}),
        },
        "/gemini/chat": {"post": operation(
            "Send a message in a session", TAG, security=CLIENT, request=body(ref("NativeChatRequest")),
            responses={"200": answer("the reply, or its events with stream: true", ref("NativeReply"),
                                     stream=ref("NativeStream")), **errors("OpenAIError")})},
    }
