"""An answer in the native API's words: named SSE events `thinking`, `text`, `refusal`, `file`
(a generated image or video: its url and mime_type), then `done` or `error`; and the whole
reply's body (generated files in its `files` list)."""
from __future__ import annotations

from typing import Iterable

from .. import sse
from ..answer.events import Delta, FileOut, Finish
from ..answer.reply import Reply
from ..errors import ApiError


def whole(head: dict, reply: Reply) -> dict:
    return {**head, "reply": reply.text, "thinking": reply.thinking,
            "finish_reason": reply.finish_reason, "refusal": reply.refusal,
            "files": [file_body(f) for f in reply.files]}


def file_body(file: FileOut) -> dict:
    return {"url": file.url, "mime_type": file.mime_type, "name": file.name}


class NativeRenderer:
    """`head`: the session fields every `done` event repeats. Event names are the part kinds."""

    def __init__(self, head: dict):
        self.fields = head

    def head(self) -> Iterable[str]:
        return ()

    def event(self, event) -> Iterable[str]:
        if isinstance(event, Delta):
            yield sse.frame({"type": event.kind, "text": event.text}, event=event.kind)
        elif isinstance(event, FileOut):
            yield sse.frame({"type": "file", **file_body(event)}, event="file")
        elif isinstance(event, Finish):
            yield sse.frame({"type": "done", **self.fields, "finish_reason": event.reason}, event="done")

    def error(self, error: ApiError) -> str:
        return sse.frame({"type": "error", **error.body()}, event="error")

    def tail(self) -> Iterable[str]:
        return ()
