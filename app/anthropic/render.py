"""An answer in Anthropic's Messages words: the streamed events and the whole Message; the error
envelope both use.

A stream: `message_start` (the Message with no content yet), `ping`, then per content block
`content_block_start` / `content_block_delta` (text_delta, thinking_delta then signature_delta,
input_json_delta for a tool_use's input) / `content_block_stop`, then `message_delta`
(stop_reason, stop_sequence, usage) and `message_stop`. `ping` is also the keep-alive while the
upstream is quiet; a failure after the first byte is one `error` event. Token counts are
estimates (app/output.py): Gemini Business reports none.
"""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from typing import Iterable

from .. import sse
from ..answer.events import THINKING, TOOL_CALL, Delta, FileOut, Finish, PartEnd, PartStart, Usage
from ..answer.reply import Reply
from ..dialogue import Message
from ..errors import ApiError
from ..openai.render import file_markdown
from ..tools.calls import Call
from ..upstream.models import CREATED, Model
from .request import OFF, OMITTED, SHOWN

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
# Anthropic's error types by status (https://docs.anthropic.com/en/api/errors)
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large",
               429: "rate_limit_error", 504: "timeout_error", 529: "overloaded_error"}
# No account can serve now (all busy, cooling or signing in) or the upstream is unavailable:
# Anthropic's "overloaded" (529), which its clients retry with back-off
OVERLOADED = {"account_unavailable", "upstream_unavailable"}


def anthropic_envelope(error: ApiError) -> tuple[int, dict]:
    """An error's status and body in Anthropic's words: {"type": "error", "error": {"type", "message"}}."""
    status = 529 if error.status == 503 and error.code in OVERLOADED else error.status
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    message = error.body()["error"]["message"]  # printable, as the OpenAI envelope writes it
    return status, {"type": "error", "error": {"type": kind, "message": message}}


def new_id() -> str:
    return "msg_" + secrets.token_hex(12)


def signature() -> str:
    """A thinking block's signature: opaque to clients, which send it back; nothing checks it here."""
    return "gbp_" + secrets.token_urlsafe(24)


def usage_body(usage: Usage) -> dict:
    return {"input_tokens": usage.prompt_tokens - usage.cached_tokens, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": usage.cached_tokens, "output_tokens": usage.text_tokens + usage.reasoning_tokens}


def stop_reason(finish_reason: str, stop_sequence: str | None) -> str:
    return "stop_sequence" if stop_sequence else STOP_REASONS.get(finish_reason, "end_turn")


def answer_message(text: str, files: tuple, calls: tuple) -> Message:
    """The assistant message a client sends back in its next request for the answer it was
    given (app/continuation.py): its text blocks (the text, each file's link) as the parser joins
    them, and its tool_use blocks; thinking blocks are not read back."""
    return Message("assistant", "\n".join([text] * bool(text) + [file_markdown(f) for f in files]),
                   calls=tuple(Call(call_id, name, arguments) for call_id, name, arguments in calls))


def message(model: str, reply: Reply, thinking: str) -> dict:
    """The whole Message: thinking (when asked for), the text, a text block per generated file
    (its link, as the stream has it), then the tool_use blocks."""
    content: list[dict] = []
    if reply.thinking and thinking != OFF:
        content.append({"type": "thinking", "thinking": reply.thinking if thinking == SHOWN else "",
                        "signature": signature()})
    text = reply.text + (reply.refusal or "")
    content.extend({"type": "text", "text": t} for t in [text] * bool(text) + [file_markdown(f) for f in reply.files])
    content.extend({"type": "tool_use", "id": call.id, "name": call.name, "input": _input(call.arguments)}
                   for call in reply.calls)
    return {"id": new_id(), "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop_reason(reply.finish_reason, reply.stop_sequence),
            "stop_sequence": reply.stop_sequence, "usage": usage_body(reply.usage)}


def _input(arguments: str) -> dict:
    """A call's arguments as the `input` object (app/tools/calls.py gives a JSON object's text)."""
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class MessageRenderer:
    """The events of one streamed Message. The answer's parts become content blocks, numbered
    from 0 in the order sent; thinking parts are left out when thinking was not asked for."""

    keepalive = sse.frame({"type": "ping"}, "ping")  # what the driver sends while the upstream is quiet

    def __init__(self, model: str, prompt_usage: Usage, thinking: str):
        self.model = model
        self.prompt_usage = prompt_usage
        self.thinking = thinking
        self.blocks: dict[int, int] = {}  # the answer's part → its block index
        self.dropped: set[int] = set()    # parts not shown (thinking, unasked)
        self.next = 0                     # the next block's index

    def head(self) -> Iterable[str]:
        start = {"id": new_id(), "type": "message", "role": "assistant", "model": self.model, "content": [],
                 "stop_reason": None, "stop_sequence": None, "usage": usage_body(self.prompt_usage)}
        yield self._event("message_start", message=start)
        yield self.keepalive

    def event(self, event) -> Iterable[str]:
        if isinstance(event, PartStart):
            if event.kind == THINKING and self.thinking == OFF:
                self.dropped.add(event.part)
                return
            yield self._event("content_block_start", index=self._open(event.part), content_block=self._block(event))
        elif isinstance(event, Delta) and event.part not in self.dropped:
            if event.kind == THINKING and self.thinking == OMITTED:
                return
            yield self._event("content_block_delta", index=self.blocks[event.part], delta=self._delta(event))
        elif isinstance(event, PartEnd) and event.part not in self.dropped:
            index = self.blocks[event.part]
            if event.kind == THINKING:
                yield self._event("content_block_delta", index=index,
                                  delta={"type": "signature_delta", "signature": signature()})
            yield self._event("content_block_stop", index=index)
        elif isinstance(event, FileOut):  # a generated file: a text block with its link
            index = self._open(None)
            yield self._event("content_block_start", index=index, content_block={"type": "text", "text": ""})
            yield self._event("content_block_delta", index=index,
                              delta={"type": "text_delta", "text": file_markdown(event)})
            yield self._event("content_block_stop", index=index)
        elif isinstance(event, Finish):
            usage = usage_body(event.usage)
            yield self._event("message_delta", delta={"stop_reason": stop_reason(event.reason, event.stop_sequence),
                                                      "stop_sequence": event.stop_sequence}, usage=usage)
            yield self._event("message_stop")

    def error(self, error: ApiError) -> str:
        return sse.frame(anthropic_envelope(error)[1], "error")

    def tail(self) -> Iterable[str]:
        return ()  # message_stop ended a complete answer; after an error event nothing follows

    def _open(self, part: int | None) -> int:
        index, self.next = self.next, self.next + 1
        if part is not None:
            self.blocks[part] = index
        return index

    @staticmethod
    def _block(start: PartStart) -> dict:
        if start.kind == THINKING:
            return {"type": "thinking", "thinking": "", "signature": ""}
        if start.kind == TOOL_CALL:
            return {"type": "tool_use", "id": start.call.id, "name": start.call.name, "input": {}}
        return {"type": "text", "text": ""}  # text, or a refusal's words

    @staticmethod
    def _delta(delta: Delta) -> dict:
        if delta.kind == THINKING:
            return {"type": "thinking_delta", "thinking": delta.text}
        if delta.kind == TOOL_CALL:
            return {"type": "input_json_delta", "partial_json": delta.text}
        return {"type": "text_delta", "text": delta.text}  # TEXT or REFUSAL

    @staticmethod
    def _event(kind: str, **fields) -> str:
        return sse.frame({"type": kind, **fields}, kind)



def model_info(model: Model, name: str | None = None) -> dict:
    """A model as Anthropic's Models API lists it (GET /v1/models with anthropic-version)."""
    created = datetime.fromtimestamp(CREATED, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "model", "id": name or model.id, "display_name": name or model.id, "created_at": created}


def model_list(models: list[Model]) -> dict:
    data = [model_info(m) for m in models]
    return {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}
