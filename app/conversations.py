"""Chat conversations that continue in their upstream session instead of being sent again.

A Chat Completions client sends the whole transcript with every turn. When a request's
messages are a conversation this gateway already answered — same caller, same model, the
earlier messages exactly what was sent then plus the answer the gateway gave — followed by
new user (or tool) messages, the upstream session that gave the answer still holds that
history: only the new turn goes there, on the same account (app/chat.py sends it, and falls
back to the whole transcript in a fresh session when it cannot).

The index lives in the store (namespace `conversations`), so any worker or host continues a
conversation. Its key is a digest of (caller, model, the messages so far including the
gateway's answer); its value says where the conversation lives upstream: the account, the
upstream session, the files uploaded into that session (by the sha256 of their bytes, so a
file sent again is referenced, not uploaded again) and when it was last used. Neither keys nor
messages are stored: only digests. An entry lives `CONVERSATION_TTL` seconds after its answer.

Claiming. A request that continues a conversation takes its entry out of the index (one
atomic read-and-delete), and only an answer that completed cleanly (not cut by max_tokens or a
stop sequence, not refused, not failed) records the next one. So:
- two requests continuing the same conversation at once never share the session: the first
  takes the entry, the second finds none and sends its whole transcript to a fresh session;
- a "regenerate" (the same messages sent again) cannot reach a session that now holds an
  answer the client threw away: the entry was consumed, so it goes to a fresh session;
- a session holding a turn the client did not see whole is never continued.
The index therefore holds at most one entry per conversation branch, each bounded
(`MAX_FILES`), and the store's expiry removes them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from .answer.events import TEXT, TOOL_CALL, Delta, FileOut, Finish, PartStart
from .tools.calls import CALL_ENDINGS
from .store.base import Store, StoreUnavailable
from .upstream.events import Text

log = logging.getLogger("gbp.conversations")
NAMESPACE = "conversations"
MAX_FILES = 64  # file ids kept per entry (the most recent); an older file is simply uploaded again
CONTINUING = ("user", "tool", "function")  # what a new turn may hold; anything else starts afresh
VERSION = b"gbp-conversation-1"  # change it when the canonical form changes: old entries stop matching


@dataclass(frozen=True)
class Place:
    """Where a conversation lives upstream."""
    account_id: str
    session: str
    files: tuple[tuple[str, str], ...] = ()  # (sha256 of the bytes, fileId in `session`)


def message_digest(message) -> bytes:
    """The canonical digest of one message: role, name, text (surrounding whitespace aside, as
    chat clients trim what they show) and each attached file's URL (a data: URL is its bytes);
    an assistant's tool calls (id, name, arguments as JSON, however spaced) and a tool result's
    call id, when it has them."""
    files = [[hashlib.sha256(source.url.encode()).hexdigest(), source.name] for source in message.files]
    fields = [message.role, message.name, message.text.strip(), files]
    calls = getattr(message, "calls", ())
    if calls or getattr(message, "call_id", ""):
        fields += [[[c.id, c.name, _canonical_json(c.arguments)] for c in calls], message.call_id]
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def _canonical_json(text: str) -> str:
    """Arguments a client parsed and wrote again (spacing, key order) are the same arguments."""
    try:
        return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):  # not JSON, or nested deeper than json reads: as sent
        return text


def conversation_key(client: str, model: str, messages: Iterable, context: str = "") -> str:
    """The index key of a conversation so far: a chain of message digests, seeded with the
    caller, the model and the `context` the turns are asked in (the tools offered), so a
    different caller, model, tool list, or any changed, added, removed or reordered message
    gives another key."""
    seed = VERSION + b"\0" + client.encode() + b"\0" + model.encode()
    digest = hashlib.sha256(seed + (b"\0" + context.encode() if context else b"")).digest()
    for message in messages:
        digest = hashlib.sha256(digest + message_digest(message)).digest()
    return digest.hex()


def split(messages: Sequence) -> tuple[Sequence, Sequence] | None:
    """(the conversation the gateway may have answered, the new turn): cut after the last
    assistant message. None when there is none, or the new turn is empty or holds something a
    continued session could not take in its place (a new or changed system message)."""
    last = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=None)
    if last is None:
        return None
    earlier, new = messages[:last + 1], messages[last + 1:]
    if not new or any(m.role not in CONTINUING for m in new):
        return None
    return earlier, new


class Conversations:
    """The conversation index in the store."""

    def __init__(self, store: Store, ttl: int, clock: Callable[[], float] = time.time):
        self.store = store
        self.ttl = ttl
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def take(self, client: str, model: str, messages: Sequence, context: str = "") -> Place | None:
        """Claim the conversation `messages` ends (its last message the gateway's answer): its
        place, now out of the index, or None (unknown, expired, claimed by another request)."""
        if not self.enabled:
            return None
        taken: list[dict | None] = [None]

        def take_it(current):  # may run more than once: the last run is the one that counted
            taken[0] = current
            return None

        key = conversation_key(client, model, messages, context)
        try:
            if self.store.get(NAMESPACE, key) is None:
                return None  # the common miss costs a read, not a write
            self.store.update(NAMESPACE, key, take_it)
        except StoreUnavailable as exc:  # the whole transcript still works
            log.warning("could not look up the conversation: %s", exc)
            return None
        return _place(taken[0])

    def keep(self, client: str, model: str, messages: Sequence, place: Place, context: str = "") -> None:
        """Record that `messages` (ending with the gateway's answer) live at `place`."""
        if not self.enabled:
            return
        now = self.clock()
        value = {"account": place.account_id, "session": place.session,
                 "files": dict(place.files[-MAX_FILES:]), "used_at": now}
        try:
            self.store.put(NAMESPACE, conversation_key(client, model, messages, context), value,
                           expires_at=now + self.ttl)
        except StoreUnavailable as exc:  # the next turn sends its whole transcript
            log.warning("could not record the conversation: %s", exc)


def _place(value: dict | None) -> Place | None:
    if not value or not isinstance(value.get("account"), str) or not isinstance(value.get("session"), str):
        return None
    files = value.get("files") if isinstance(value.get("files"), dict) else {}
    return Place(value["account"], value["session"],
                 tuple((sha, fid) for sha, fid in files.items() if isinstance(fid, str)))


class Transcript:
    """What an answer showed its client, watched on its way (app/chat.py `Answer.events`): the
    upstream's own text, then the text, files and finish the client was given. `whole` says
    whether the client saw exactly what the upstream session now holds, so the conversation
    may continue there."""

    def __init__(self):
        self.upstream_text: list[str] = []
        self.text: list[str] = []
        self.files: list[FileOut] = []
        self.reason: str | None = None
        self.call_parts: list[tuple[str, str, list[str]]] = []  # (id, name, argument fragments)

    def upstream(self, events: Iterable) -> Iterator:
        for event in events:
            if isinstance(event, Text):
                self.upstream_text.append(event.text)
            yield event

    def shown(self, events: Iterable) -> Iterator:
        for event in events:
            if isinstance(event, Delta) and event.kind == TEXT:
                self.text.append(event.text)
            elif isinstance(event, PartStart) and event.call is not None:
                self.call_parts.append((event.call.id, event.call.name, []))
            elif isinstance(event, Delta) and event.kind == TOOL_CALL and self.call_parts:
                self.call_parts[-1][2].append(event.text)
            elif isinstance(event, FileOut):
                self.files.append(event)
            elif isinstance(event, Finish):
                self.reason = event.reason
            yield event

    def calls(self) -> tuple:
        """The tool calls the client was given, as (id, name, arguments) each."""
        return tuple((call_id, name, "".join(arguments)) for call_id, name, arguments in self.call_parts)

    @property
    def whole(self) -> bool:
        """A clean finish, nothing held back by max_tokens or a stop sequence; or calls the
        client was given (the session holds the model's text they were read from, and the
        next turn brings their results) — unless the model wrote on after its calls (made-up
        results, most often), which the client never saw: the next turn then goes whole, so
        the model is not misled by them."""
        if self.reason == "tool_calls":
            return "".join(self.upstream_text).rstrip().endswith(CALL_ENDINGS)
        return self.reason == "stop" and "".join(self.text) == "".join(self.upstream_text)
