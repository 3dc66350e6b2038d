"""An answer in Chat Completions' words: the streamed chunks (openai-wire.md §5) and the whole completion."""
from __future__ import annotations

import secrets
import time
from typing import Iterable

from .. import sse
from ..answer.events import REFUSAL, TEXT, THINKING, Delta, FileOut, Finish
from ..answer.reply import Reply
from ..errors import ApiError
from .translate import usage_body

DELTA_KEYS = {THINKING: "reasoning_content", TEXT: "content", REFUSAL: "refusal"}


def new_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def file_markdown(file: FileOut) -> str:
    """A generated file as Markdown in the message content, which every chat client renders:
    an image inline, anything else (a video) as a link."""
    if file.mime_type.startswith("image/"):
        return f"![image]({file.url})"
    return f"[{file.mime_type.split('/')[0] or 'file'}]({file.url})"


FILE_SEPARATOR = "\n\n"  # between answer text and a file's link, and between two links


def content_of(text: str, files) -> str:
    """The message content a client is given for an answer's text and files, streamed or whole
    (the chunks of ChunkRenderer add up to it)."""
    return FILE_SEPARATOR.join([text] * bool(text) + [file_markdown(f) for f in files])


def completion(model: str, reply: Reply) -> dict:
    content = content_of(reply.text, reply.files)
    message = {"role": "assistant", "content": content, "refusal": reply.refusal, "annotations": []}
    if reply.thinking:
        message["reasoning_content"] = reply.thinking
    return {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
        "usage": usage_body(reply.usage),
        "system_fingerprint": None,
        "service_tier": None,
    }


class ChunkRenderer:
    """The chunks of one streamed completion (same id/created/model on each): the role first,
    reasoning/content/refusal deltas, one finish chunk, usage if asked, and [DONE] whatever
    happened. A failure after the first byte is one in-band error frame, never a finish_reason
    that reads as success."""

    def __init__(self, model: str, include_usage: bool):
        self.head_fields = {"id": new_id(), "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model, "system_fingerprint": None}
        self.include_usage = include_usage
        self.content_shown = False  # a file's link after content goes on a paragraph of its own

    def head(self) -> Iterable[str]:
        yield self._delta({"role": "assistant", "content": "", "refusal": None})

    def event(self, event) -> Iterable[str]:
        if isinstance(event, Delta):
            self.content_shown |= event.kind == TEXT
            yield self._delta({DELTA_KEYS[event.kind]: event.text})
        elif isinstance(event, FileOut):
            yield self._delta({"content": FILE_SEPARATOR * self.content_shown + file_markdown(event)})
            self.content_shown = True
        elif isinstance(event, Finish):
            yield self._delta({}, event.reason)
            if self.include_usage:
                yield sse.frame({**self.head_fields, "choices": [], "usage": usage_body(event.usage)})
        # part boundaries have no chunk of their own here

    def error(self, error: ApiError) -> str:
        return sse.frame(error.body())

    def tail(self) -> Iterable[str]:
        yield sse.DONE

    def _delta(self, delta: dict, finish_reason: str | None = None) -> str:
        chunk = {**self.head_fields, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                  "finish_reason": finish_reason}]}
        if self.include_usage:
            chunk["usage"] = None
        return sse.frame(chunk)
