"""An answer in Chat Completions' words: the streamed chunks (openai-wire.md §5) and the whole completion."""
from __future__ import annotations

import secrets
import time
from typing import Iterable

from .. import sse
from ..answer.events import REFUSAL, TEXT, THINKING, TOOL_CALL, Delta, FileOut, Finish, PartStart
from ..answer.reply import Reply
from ..dialogue import Message
from ..errors import ApiError
from ..tools.calls import Call
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


def answer_message(legacy: bool, text: str, files: tuple, calls: tuple) -> Message:
    """The assistant message a client sends back in its next request for the answer it was
    given (app/continuation.py): the content with its files' Markdown, and its tool calls; a
    legacy `function_call` comes back with no id."""
    return Message("assistant", content_of(text, files),
                   calls=tuple(Call("" if legacy else call_id, name, arguments) for call_id, name, arguments in calls))


def finish_reason(reason: str, legacy: bool) -> str:
    """Calls to tools offered as the deprecated `functions` finish as `function_call`."""
    return "function_call" if legacy and reason == "tool_calls" else reason


def completion(model: str, reply: Reply, legacy: bool = False) -> dict:
    """The whole completion; its tool calls in `message.tool_calls` (content: the text the model
    wrote before them, or null), or one `function_call` when the tools came as `functions`."""
    content = content_of(reply.text, reply.files)
    message = {"role": "assistant", "content": content or (None if reply.calls else ""), "refusal": reply.refusal,
               "annotations": []}
    if reply.calls and legacy:
        message["function_call"] = {"name": reply.calls[0].name, "arguments": reply.calls[0].arguments}
    elif reply.calls:
        message["tool_calls"] = [{"id": call.id, "type": "function",
                                  "function": {"name": call.name, "arguments": call.arguments}}
                                 for call in reply.calls]
    if reply.thinking:
        message["reasoning_content"] = reply.thinking
    return {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": finish_reason(reply.finish_reason, legacy)}],
        "usage": usage_body(reply.usage),
        "system_fingerprint": None,
        "service_tier": None,
    }


class ChunkRenderer:
    """The chunks of one streamed completion (same id/created/model on each): the role first,
    reasoning/content/refusal deltas, tool calls (the first delta of each: its `index`, `id`,
    `type` and `function.name` with `arguments` ""; then fragments of the arguments), one finish
    chunk, usage if asked, and [DONE] whatever happened. A failure after the first byte is one
    in-band error frame, never a finish_reason that reads as success. `legacy`: the tools came
    as `functions`, so the call is a `function_call` delta."""

    def __init__(self, model: str, include_usage: bool, legacy: bool = False):
        self.head_fields = {"id": new_id(), "object": "chat.completion.chunk", "created": int(time.time()),
                            "model": model, "system_fingerprint": None}
        self.include_usage = include_usage
        self.legacy = legacy
        self.content_shown = False  # a file's link after content goes on a paragraph of its own
        self.calls = 0              # tool calls started: the next one's index

    def head(self) -> Iterable[str]:
        yield self._delta({"role": "assistant", "content": "", "refusal": None})

    def event(self, event) -> Iterable[str]:
        if isinstance(event, PartStart) and event.call is not None:
            self.calls += 1
            yield self._call({"name": event.call.name, "arguments": ""}, id=event.call.id, type="function")
        elif isinstance(event, Delta) and event.kind == TOOL_CALL:
            yield self._call({"arguments": event.text})
        elif isinstance(event, Delta):
            self.content_shown |= event.kind == TEXT
            yield self._delta({DELTA_KEYS[event.kind]: event.text})
        elif isinstance(event, FileOut):
            yield self._delta({"content": FILE_SEPARATOR * self.content_shown + file_markdown(event)})
            self.content_shown = True
        elif isinstance(event, Finish):
            yield self._delta({}, finish_reason(event.reason, self.legacy))
            if self.include_usage:
                yield sse.frame({**self.head_fields, "choices": [], "usage": usage_body(event.usage)})
        # part boundaries have no chunk of their own here

    def error(self, error: ApiError) -> str:
        return sse.frame(error.body())

    def tail(self) -> Iterable[str]:
        yield sse.DONE

    def _call(self, function: dict, **head) -> str:
        if self.legacy:
            return self._delta({"function_call": function})
        return self._delta({"tool_calls": [{"index": self.calls - 1, **head, "function": function}]})

    def _delta(self, delta: dict, reason: str | None = None) -> str:
        chunk = {**self.head_fields, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                  "finish_reason": reason}]}
        if self.include_usage:
            chunk["usage"] = None
        return sse.frame(chunk)
