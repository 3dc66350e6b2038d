"""Stored responses of the Responses API: what `GET /v1/responses/{id}`, `DELETE`, `input_items`
and a follow-up's `previous_response_id` read.

A response created with `store` (the default) is kept in the store (namespace `responses`), so
any worker or host finds it, for `RESPONSES_TTL` seconds. A record holds:
- `response`: the Response object as it was rendered (what GET answers);
- `input_items`: the request's input as items with ids (what input_items lists);
- `messages`: the conversation so far as neutral messages, the answer last, without the
  request's `instructions` (the API does not carry them over to a follow-up): what a follow-up
  continues (`follow`).
Where that conversation lives upstream is not kept here: the answer of every Responses turn is
recorded in the conversation index like a chat's (app/conversations.py, app/continuation.py),
under the digest of the same messages. A follow-up therefore rebuilds the conversation from the
record, and the index finds its upstream session: only the new input goes there, or, when the
session is claimed, expired or gone, the whole transcript goes to a fresh one.

A record is bound to its caller (app/auth.py client_id): the caller is part of its key, so
another caller's id is simply not found (404), never told apart from an unknown one. A record
whose JSON would exceed `RESPONSES_MAX_MB` is not kept (the answer was still given); a follow-up
naming it gets 404 like an expired one.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

from ..errors import ApiError
from ..inputs import FileSource
from ..openai.render import FILE_SEPARATOR
from ..dialogue import Message
from ..store.base import Store, StoreUnavailable, encode
from ..tools.calls import Call

log = logging.getLogger("gbp.responses")
NAMESPACE = "responses"
MAX_ID = 128  # longer ids are none of ours: not looked up


@dataclass(frozen=True)
class Stored:
    response: dict
    input_items: tuple[dict, ...]
    messages: tuple[Message, ...]


class Responses:
    """The stored responses, in the store."""

    def __init__(self, store: Store, ttl: int, max_bytes: int, clock: Callable[[], float] = time.time):
        self.store = store
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def put(self, client: str, response: dict, input_items: Sequence[dict], messages: Sequence[Message]) -> bool:
        """Keep `response` (its `id`) for `client`; False when it was not kept (off, too large,
        the store down: the answer has been given anyway, only its later reading is lost)."""
        if not self.enabled:
            return False
        value = {"response": response, "input_items": list(input_items),
                 "messages": [_message_value(m) for m in messages]}
        size = len(encode(value).encode())
        if size > self.max_bytes:
            log.warning("response %s not stored: %d bytes over RESPONSES_MAX_MB", response.get("id"), size)
            return False
        try:
            self.store.put(NAMESPACE, _key(client, response["id"]), value, expires_at=self.clock() + self.ttl)
        except StoreUnavailable as exc:
            log.warning("could not store response %s: %s", response.get("id"), exc)
            return False
        return True

    def get(self, client: str, response_id: str) -> Stored | None:
        """The record of `response_id` if `client` stored it and it has not expired.
        StoreUnavailable propagates: a 503, not a misleading 404."""
        if not self.enabled or not response_id or len(response_id) > MAX_ID:
            return None
        value = self.store.get(NAMESPACE, _key(client, response_id))
        if value is None:
            return None
        return Stored(value["response"], tuple(value["input_items"]),
                      tuple(_message(m) for m in value["messages"]))

    def delete(self, client: str, response_id: str) -> bool:
        if not self.enabled or not response_id or len(response_id) > MAX_ID:
            return False
        return self.store.delete(NAMESPACE, _key(client, response_id))

    def find(self, client: str, response_id: str, param: str | None = None) -> Stored:
        """`get`, or the API's 404 (`param`: the body field that named it)."""
        stored = self.get(client, response_id)
        if stored is None:
            raise not_found(response_id, param)
        return stored


class Keeping:
    """What a request created with `store` keeps once its Response is rendered: the Response,
    its input items, and the conversation so far (`messages`, its own instructions left out)
    with the answer. Called with the Response body, it returns it (a whole answer's `whole`
    goes through it); `streamed` wraps a stream's renderer, which keeps its last Response
    (`renderer.response`: completed, incomplete or failed) as its tail is sent."""

    def __init__(self, responses: Responses, client: str, items: Sequence[dict], messages: Sequence[Message]):
        self.responses = responses
        self.client = client
        self.items = items
        self.messages = tuple(messages)

    def __call__(self, response: dict) -> dict:
        self.responses.put(self.client, response, self.items, (*self.messages, answer_of(response)))
        return response

    def streamed(self, renderer) -> "KeptStream":
        return KeptStream(renderer, self)


class KeptStream:
    """A stream renderer (app/answer/driver.py Renderer) whose last Response is kept before the
    stream ends: a client that reads to the end can follow it up at once."""

    def __init__(self, renderer, keep: Keeping):
        self.renderer = renderer
        self.keep = keep

    def head(self):
        return self.renderer.head()

    def event(self, event):
        return self.renderer.event(event)

    def error(self, error):
        return self.renderer.error(error)

    def tail(self):
        if self.renderer.response is not None:  # None: the client left before the answer ended
            self.keep(self.renderer.response)
        return self.renderer.tail()


def not_found(response_id: str, param: str | None = None) -> ApiError:
    """The API's 404 for an id that is unknown, expired, deleted, not stored or another caller's."""
    if param == "previous_response_id":
        return ApiError(404, f"Previous response with id '{response_id[:MAX_ID]}' not found.",
                        param=param, code="previous_response_not_found")
    return ApiError(404, f"Response with id '{response_id[:MAX_ID]}' not found.", param=param, code="not_found")


def follow(messages: Sequence[Message], earlier: Sequence[Message], lead: int) -> tuple[Message, ...]:
    """A follow-up's messages: its first `lead` messages (its `instructions`), then the
    conversation of the response it follows, then the rest of its own. A tool result answering
    a call of the earlier conversation gets that call's name (the follow-up's input names only
    its call id)."""
    names = {call.id: call.name for m in earlier for call in m.calls}
    rest = tuple(_named(m, names) for m in messages[lead:])
    return (*messages[:lead], *earlier, *rest)


def _named(message: Message, names: dict[str, str]) -> Message:
    if message.role in ("tool", "function") and not message.name and message.call_id in names:
        return Message(message.role, message.text, names[message.call_id], message.files, message.calls,
                       message.call_id)
    return message


def answer_of(response: dict) -> Message:
    """The assistant message a response's output is, as the conversation index records its
    answer (the chat's `content_of`: the text, then each generated file's link, whether they
    came as one message item or, streamed, one item each), with its function calls."""
    text, calls = [], []
    for item in response.get("output") or ():
        if item.get("type") == "message":
            text += [part.get("text", "") for part in item.get("content") or () if part.get("type") == "output_text"]
        elif item.get("type") == "function_call":
            calls.append(Call(item.get("call_id", ""), item.get("name", ""), item.get("arguments", "")))
    return Message("assistant", FILE_SEPARATOR.join(t for t in text if t), calls=tuple(calls))


ITEM_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}


def input_items(value) -> list[dict]:
    """A request's (already validated) `input` as input_items lists it: a string is one user
    message, a message's string content one text part, and an item without an id gets one."""
    if isinstance(value, str):
        value = [{"type": "message", "role": "user", "content": value}]
    items = []
    for given in value or ():
        item = {"type": "message", **given}
        if item["type"] == "message" and isinstance(item.get("content"), str):
            kind = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": kind, "text": item["content"]}]
        if not item.get("id"):
            item["id"] = f"{ITEM_PREFIXES.get(item['type'], 'item')}_{secrets.token_hex(24)}"
        items.append(item)
    return items


def _key(client: str, response_id: str) -> str:
    return f"{client}:{response_id}"


def _message_value(message: Message) -> dict:
    return {"role": message.role, "text": message.text, "name": message.name, "call_id": message.call_id,
            "files": [asdict(f) for f in message.files], "calls": [asdict(c) for c in message.calls]}


def _file_source(value: dict) -> FileSource:
    # JSON has no tuples: the list read back would make the Message unequal to the one stored
    # (and its digest another conversation's)
    return FileSource(**{**value, "remote_types": tuple(value.get("remote_types", ()))})


def _message(value: dict) -> Message:
    return Message(value["role"], value["text"], value.get("name", ""),
                   tuple(_file_source(f) for f in value.get("files", ())),
                   tuple(Call(**c) for c in value.get("calls", ())), value.get("call_id", ""))
