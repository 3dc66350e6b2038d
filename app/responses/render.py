"""An answer in the Responses API's words: the streamed events and the whole Response object.

Each part of the answer (app/answer/events.py) is one output item: thinking a `reasoning` item
(its text as a summary), text a `message` item with one `output_text` content part, a refusal
a `message` item with one `refusal` part, a tool call a `function_call` item; a generated file
a `message` item of its own whose text is the file's Markdown link (as on chat completions).
Every event carries its `type` and a `sequence_number` counting from 0, and goes out with an
`event:` line of the same name; no `[DONE]`. A failure after the first byte is an `error`
event, then `response.failed`.
"""
from __future__ import annotations

import secrets
import time
from typing import Iterable

from .. import sse
from ..answer.events import REFUSAL, TEXT, THINKING, TOOL_CALL, Delta, FileOut, Finish, PartEnd, PartStart, Usage
from ..answer.reply import Reply
from ..errors import ApiError
from ..openai.render import content_of, file_markdown

# ResponseError.code's values in the SDK; any other failure is told as one of these
RESPONSE_ERROR_CODES = {"server_error", "rate_limit_exceeded", "invalid_prompt", "invalid_image",
                        "invalid_image_format", "invalid_base64_image", "invalid_image_url", "image_too_large",
                        "unsupported_image_media_type", "failed_to_download_image"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def usage_body(usage: Usage | None) -> dict | None:
    if usage is None:
        return None
    output = usage.text_tokens + usage.reasoning_tokens
    # cache_write_tokens: the newest SDK requires it; nothing is ever written to a cache here
    return {"input_tokens": usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
            "output_tokens": output, "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
            "total_tokens": usage.prompt_tokens + output}


def status_of(reason: str) -> tuple[str, dict | None]:
    """The Response's status and incomplete_details for an answer's finish reason."""
    if reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


# The output items, the same streamed (their done form) and whole.

def text_part(text: str) -> dict:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(text: str) -> dict:
    return {"type": "refusal", "refusal": text}


def message_item(item_id: str, content: list, status: str = "completed") -> dict:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def reasoning_item(item_id: str, summary: str | None) -> dict:
    return {"id": item_id, "type": "reasoning",
            "summary": [] if summary is None else [{"type": "summary_text", "text": summary}]}


def call_item(item_id: str, call_id: str, name: str, arguments: str, namespaces: dict,
              status: str = "completed") -> dict:
    item = {"id": item_id, "type": "function_call", "status": status, "call_id": call_id, "name": name,
            "arguments": arguments}
    if name in namespaces:
        item["namespace"] = namespaces[name]
    return item


def call_item_id(call_id: str) -> str:
    """A function_call item's id, from its call's (one per call, no table to keep)."""
    return "fc_" + call_id.removeprefix("call_")


class ResponseShape:
    """The Response object of one request: its id, creation time, model and the request's
    echoed fields, in any state (in progress, completed, incomplete, failed)."""

    def __init__(self, model: str, echo: dict):
        self.id = new_id("resp")
        self.created_at = int(time.time())
        self.model = model
        self.echo = echo

    def body(self, status: str, output: list, usage: Usage | None = None, error: dict | None = None,
             incomplete: dict | None = None) -> dict:
        return {"id": self.id, "object": "response", "created_at": self.created_at, "status": status,
                "background": False, "error": error, "incomplete_details": incomplete, "model": self.model,
                "output": output, "usage": usage_body(usage), **self.echo}


def whole(shape: ResponseShape, namespaces: dict, reply: Reply) -> dict:
    """The whole Response of a non-streamed answer: reasoning, the message, the calls, in that order."""
    status, incomplete = status_of(reply.finish_reason)
    output = []
    if reply.thinking:
        output.append(reasoning_item(new_id("rs"), reply.thinking))
    content = []
    text = content_of(reply.text, reply.files)
    if text:
        content.append(text_part(text))
    if reply.refusal:
        content.append(refusal_part(reply.refusal))
    if not content and not reply.calls:  # an empty answer is still one message
        content.append(text_part(""))
    if content:
        output.append(message_item(new_id("msg"), content, "incomplete" if status == "incomplete" else "completed"))
    output.extend(call_item(call_item_id(call.id), call.id, call.name, call.arguments, namespaces)
                  for call in reply.calls)
    return shape.body(status, output, reply.usage, incomplete=incomplete)


class EventRenderer:
    """The events of one streamed Response, one answer event at a time. Counters only: the
    sequence number, the output index, the open item (its id and the text it has so far, which
    its `done` events repeat), the items finished (which response.completed lists), and a
    message's output_item.done held until the next event says whether it was cut short."""

    def __init__(self, shape: ResponseShape, namespaces: dict):
        self.shape = shape
        self.namespaces = namespaces
        self.sequence = 0
        self.output: list[dict] = []   # finished items
        self.item_id = ""              # the open item's
        self.call = None               # the open function_call's CallHead
        self.text: list[str] = []      # the open item's text so far
        # a finished message whose output_item.done waits for the next event: cut by
        # max_output_tokens (the Finish after it says so), its status is "incomplete"
        self.held: dict | None = None
        self.response: dict | None = None  # the last Response sent: completed, incomplete or failed

    def head(self) -> Iterable[str]:
        yield self._event("response.created", response=self.shape.body("in_progress", []))
        yield self._event("response.in_progress", response=self.shape.body("in_progress", []))

    def event(self, event) -> Iterable[str]:
        if isinstance(event, (PartStart, FileOut, Finish)):
            cut = isinstance(event, Finish) and status_of(event.reason)[0] == "incomplete"
            yield from self._release("incomplete" if cut else "completed")
        if isinstance(event, PartStart):
            yield from self._start(event)
        elif isinstance(event, Delta):
            self.text.append(event.text)
            yield from self._delta(event.kind, event.text)
        elif isinstance(event, PartEnd):
            yield from self._end(event.kind)
        elif isinstance(event, FileOut):  # a message of its own: its text is the file's link
            yield from self._start(PartStart(TEXT))
            self.text.append(file_markdown(event))
            yield from self._delta(TEXT, self.text[0])
            yield from self._end(TEXT)
            yield from self._release("completed")
        elif isinstance(event, Finish):
            status, incomplete = status_of(event.reason)
            kind = "response.completed" if status == "completed" else "response.incomplete"
            self.response = self.shape.body(status, self.output, event.usage, incomplete=incomplete)
            yield self._event(kind, response=self.response)

    def error(self, error: ApiError) -> str:
        body = error.body()["error"]
        code = body["code"] if body["code"] in RESPONSE_ERROR_CODES else (
            "rate_limit_exceeded" if error.status == 429 else "server_error")
        released = "".join(self._release("incomplete"))
        self.response = self.shape.body("failed", self.output, error={"code": code, "message": body["message"]})
        return released + (self._event("error", code=body["code"], message=body["message"], param=body["param"])
                + self._event("response.failed", response=self.response))

    def tail(self) -> Iterable[str]:
        return ()  # the Responses stream has no [DONE]

    def _start(self, event: PartStart) -> Iterable[str]:
        self.text = []
        self.call = event.call
        if event.kind == TOOL_CALL:
            self.item_id = call_item_id(event.call.id)
            yield self._item("added", call_item(self.item_id, event.call.id, event.call.name, "", self.namespaces,
                                                "in_progress"))
        elif event.kind == THINKING:
            self.item_id = new_id("rs")
            yield self._item("added", reasoning_item(self.item_id, None))
            yield self._event("response.reasoning_summary_part.added", **self._at(), summary_index=0,
                              part={"type": "summary_text", "text": ""})
        else:
            self.item_id = new_id("msg")
            yield self._item("added", message_item(self.item_id, [], "in_progress"))
            yield self._event("response.content_part.added", **self._at(), content_index=0,
                              part=self._part(event.kind, ""))

    def _delta(self, kind: str, text: str) -> Iterable[str]:
        if kind == TOOL_CALL:
            yield self._event("response.function_call_arguments.delta", **self._at(), delta=text)
        elif kind == THINKING:
            yield self._event("response.reasoning_summary_text.delta", **self._at(), summary_index=0, delta=text)
        elif kind == REFUSAL:
            yield self._event("response.refusal.delta", **self._at(), content_index=0, delta=text)
        else:
            yield self._event("response.output_text.delta", **self._at(), content_index=0, delta=text, logprobs=[])

    def _end(self, kind: str) -> Iterable[str]:
        text = "".join(self.text)
        if kind == TOOL_CALL:
            yield self._event("response.function_call_arguments.done", **self._at(), arguments=text)
            item = call_item(self.item_id, self.call.id, self.call.name, text, self.namespaces)
        elif kind == THINKING:
            yield self._event("response.reasoning_summary_text.done", **self._at(), summary_index=0, text=text)
            yield self._event("response.reasoning_summary_part.done", **self._at(), summary_index=0,
                              part={"type": "summary_text", "text": text})
            item = reasoning_item(self.item_id, text)
        else:
            if kind == REFUSAL:
                yield self._event("response.refusal.done", **self._at(), content_index=0, refusal=text)
            else:
                yield self._event("response.output_text.done", **self._at(), content_index=0, text=text, logprobs=[])
            yield self._event("response.content_part.done", **self._at(), content_index=0, part=self._part(kind, text))
            self.held = message_item(self.item_id, [self._part(kind, text)])
            return
        yield self._item("done", item)
        self.output.append(item)

    def _release(self, status: str) -> Iterable[str]:
        """The held message's output_item.done, with its status now known."""
        if self.held is not None:
            item, self.held = {**self.held, "status": status}, None
            yield self._item("done", item)
            self.output.append(item)

    @staticmethod
    def _part(kind: str, text: str) -> dict:
        return refusal_part(text) if kind == REFUSAL else text_part(text)

    def _at(self) -> dict:
        return {"item_id": self.item_id, "output_index": len(self.output)}

    def _item(self, verb: str, item: dict) -> str:
        return self._event(f"response.output_item.{verb}", output_index=len(self.output), item=item)

    def _event(self, kind: str, **fields) -> str:
        frame = sse.frame({"type": kind, "sequence_number": self.sequence, **fields}, event=kind)
        self.sequence += 1
        return frame
