"""An answer in the Gemini API's words: GenerateContentResponse, whole or as a stream of them
(server-sent events with `?alt=sse`, else one JSON array written as it grows), and Google's
error envelope {"error": {"code", "message", "status"}}.

Parts: the text, the thoughts as `{"text", "thought": true}` when the request asked for them
(thinkingConfig.includeThoughts), each tool call whole as `{"functionCall": {"id", "name",
"args"}}` (the stream holds a call's argument fragments until its part ends: Gemini sends a call
in one piece), and a generated file as `inlineData` (base64, with MEDIA_OUTPUT=base64) or
`fileData` (its signed gateway URL as `fileUri`, with MEDIA_OUTPUT=url): Gemini's own two ways
of carrying a file, so no answer holds megabytes the operator chose to serve by URL.
"""
from __future__ import annotations

import json
import secrets
from typing import Iterable

from .. import sse
from ..answer.events import REFUSAL, TEXT, THINKING, TOOL_CALL, Delta, FileOut, Finish, PartEnd, PartStart, Usage
from ..answer.reply import Reply
from ..errors import ApiError

FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY", "tool_calls": "STOP"}
# google.rpc.Code names of the statuses the gateway answers with
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          405: "INVALID_ARGUMENT", 408: "DEADLINE_EXCEEDED", 409: "ABORTED", 413: "INVALID_ARGUMENT",
          429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
          502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
DOMAIN = "gemini-business-proxy"


def error_body(error: ApiError) -> dict:
    """Google's envelope; the gateway's own code (and the field at fault) as an ErrorInfo detail."""
    body = error.body()["error"]  # its text made printable once, for every surface
    out = {"code": error.status, "message": body["message"], "status": STATUS.get(error.status, "UNKNOWN")}
    if error.code or error.param:
        metadata = {"param": body["param"]} if error.param else {}
        out["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": body["code"] or body["type"],
                           "domain": DOMAIN, "metadata": metadata}]
    return {"error": out}


def envelope(error: ApiError) -> tuple[int, dict]:
    """The blueprint's envelope (errors.use_envelope): same status, Google's words."""
    return error.status, error_body(error)


def new_id() -> str:
    return secrets.token_urlsafe(16)


def file_part(file: FileOut) -> dict:
    if file.url.startswith("data:"):
        return {"inlineData": {"mimeType": file.mime_type, "data": file.url.split(",", 1)[1]}}
    return {"fileData": {"mimeType": file.mime_type, "fileUri": file.url}}


def call_part(call_id: str, name: str, arguments: str) -> dict:
    return {"functionCall": {"id": call_id, "name": name, "args": json.loads(arguments or "{}")}}


def usage_metadata(usage: Usage) -> dict:
    out = {"promptTokenCount": usage.prompt_tokens, "candidatesTokenCount": usage.text_tokens,
           "totalTokenCount": usage.prompt_tokens + usage.text_tokens + usage.reasoning_tokens}
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = usage.cached_tokens
    return out


def response(model: str, response_id: str, parts: list[dict], finish: str | None = None,
             usage: Usage | None = None) -> dict:
    candidate = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = FINISH.get(finish, "OTHER")
    out = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = usage_metadata(usage)
    return {**out, "modelVersion": model, "responseId": response_id}


def whole(model: str, include_thoughts: bool, reply: Reply) -> dict:
    parts = []
    if reply.thinking and include_thoughts:
        parts.append({"text": reply.thinking, "thought": True})
    text = reply.text + (reply.refusal or "")
    if text:
        parts.append({"text": text})
    parts += [file_part(f) for f in reply.files]
    parts += [call_part(c.id, c.name, c.arguments) for c in reply.calls]
    return response(model, new_id(), parts, reply.finish_reason, reply.usage)


class StreamRenderer:
    """One GenerateContentResponse per event that shows something (a delta, a whole call, a
    file), the last one with the finishReason and usageMetadata. `sse`: each one a `data:`
    event (`?alt=sse`); else the elements of one JSON array, `[` first and `]` last whatever
    happened, which is what the API streams without alt=sse.

    Keep-alives are a bare line break: whitespace between JSON values, and an empty line in SSE
    that dispatches nothing. An SSE comment would not do: the google-genai SDK reads any line
    that is not `data:` as JSON and fails on it."""

    keepalive = "\n"

    def __init__(self, model: str, include_thoughts: bool, sse_framing: bool):
        self.model = model
        self.include_thoughts = include_thoughts
        self.sse = sse_framing
        self.mimetype = "text/event-stream" if sse_framing else "application/json"
        self.id = new_id()
        self.written = 0  # responses written: the JSON array's separators
        self.call: tuple[str, str, list[str]] | None = None  # the call being read: id, name, fragments

    def head(self) -> Iterable[str]:
        if not self.sse:
            yield "["

    def event(self, event) -> Iterable[str]:
        if isinstance(event, PartStart) and event.call is not None:
            self.call = (event.call.id, event.call.name, [])
        elif isinstance(event, Delta) and event.kind == TOOL_CALL:
            self.call[2].append(event.text)
        elif isinstance(event, PartEnd) and event.kind == TOOL_CALL and self.call is not None:
            call_id, name, fragments = self.call
            self.call = None
            yield self._element(response(self.model, self.id, [call_part(call_id, name, "".join(fragments))]))
        elif isinstance(event, Delta) and (event.kind in (TEXT, REFUSAL) or self.include_thoughts):
            part = {"text": event.text, "thought": True} if event.kind == THINKING else {"text": event.text}
            yield self._element(response(self.model, self.id, [part]))
        elif isinstance(event, FileOut):
            yield self._element(response(self.model, self.id, [file_part(event)]))
        elif isinstance(event, Finish):
            yield self._element(response(self.model, self.id, [{"text": ""}], event.reason, event.usage))

    def error(self, error: ApiError) -> str:
        return self._element(error_body(error))

    def tail(self) -> Iterable[str]:
        if not self.sse:
            yield "]"

    def _element(self, body: dict) -> str:
        if self.sse:
            return sse.frame(body)
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        self.written += 1
        return text if self.written == 1 else ",\r\n" + text
