"""The one pipeline both client surfaces share: a Turn goes upstream, events come back.

The OpenAI and native blueprints differ only in how they build the Turn and render events.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from .accounts.account import Account
from .accounts.pool import AccountPool
from .config import Config
from .pump import KEEPALIVE, EventPump
from .store.sqlite import SqliteStore
from .upstream.client import AssistStream, GeminiBusiness
from .upstream.errors import SessionGone
from .upstream.events import FileReply, Skipped, Text, Thought
from .upstream.models import Catalogue, Model
from .upstream.spares import SpareSessions


@dataclass
class Services:
    """Everything a request needs, built once per worker by create_app."""
    config: Config
    store: SqliteStore
    upstream: GeminiBusiness
    pool: AccountPool
    catalogue: Catalogue
    spares: SpareSessions


@dataclass(frozen=True)
class Turn:
    text: str                      # what goes into query.parts[0].text
    model: Model
    account: Account | None = None # set when a native session pins the account
    session: str | None = None     # upstream session name; None: a fresh session


@dataclass
class Answer:
    account: Account
    session: str
    stream: AssistStream


def start(services: Services, turn: Turn) -> Answer:
    """Send the turn upstream; returns once the answer stream is open (HTTP errors raise here)."""
    account = turn.account or services.pool.acquire()
    if turn.session:  # a native session: its history is upstream, never switch it silently
        stream = services.upstream.stream_assist(account, turn.session, turn.text, turn.model.upstream_id)
        return Answer(account, turn.session, stream)
    session = services.spares.take(account)
    try:
        stream = services.upstream.stream_assist(account, session, turn.text, turn.model.upstream_id)
    except SessionGone:  # a ready-made session the upstream has forgotten: make one now, ask again
        session = services.upstream.create_session(account)
        stream = services.upstream.stream_assist(account, session, turn.text, turn.model.upstream_id)
    services.spares.refill(account)  # while the upstream thinks, not before the query went out
    return Answer(account, session, stream)


def start_streaming(services: Services, turn: Turn) -> tuple[Answer, EventPump]:
    """Start the turn and wait (up to one keep-alive interval) for the first visible event.

    Until that event the client has received nothing, so failures up to here still become
    real HTTP statuses; after it they can only be reported in-band.
    """
    answer = start(services, turn)
    pump = EventPump(answer.stream, closer=answer.stream.abort)
    try:
        pump.prefetch(services.config.keepalive_interval, is_visible)
    except BaseException:
        pump.close()
        raise
    return answer, pump


def is_visible(event) -> bool:
    """Events a client sees (as opposed to bookkeeping such as SessionInfo)."""
    return isinstance(event, (Thought, Text, FileReply, Skipped))


def estimate_tokens(text: str) -> int:
    """Gemini Business reports no token counts; estimate ~4 ASCII characters or 1 other character a token."""
    if not text:
        return 0
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return (ascii_chars + 3) // 4 + (len(text) - ascii_chars)


class OutputLimiter:
    """Applies max_tokens and stop sequences to answer text as it streams.

    feed() returns the text that may be shown now and, once the output must end, the
    finish_reason ("length" or "stop"). A stop sequence may straddle deltas, so up to
    len(longest stop) - 1 characters are held back until the next delta or flush().
    """

    def __init__(self, max_tokens: int | None = None, stop: tuple[str, ...] = ()):
        self.budget = max_tokens
        self.stop = tuple(s for s in stop if s)
        self.hold = max((len(s) for s in self.stop), default=1) - 1
        self.pending = ""
        self.used = 0

    def feed(self, text: str) -> tuple[str, str | None]:
        self.pending += text
        reason = None
        if self.stop:
            cut = min((i for i in (self.pending.find(s) for s in self.stop) if i >= 0), default=-1)
            if cut >= 0:
                self.pending, reason = self.pending[:cut], "stop"
        ready = self.pending if reason else self.pending[:max(0, len(self.pending) - self.hold)]
        self.pending = "" if reason else self.pending[len(ready):]
        ready, cut_short = self._spend(ready)
        if cut_short:
            return ready, "length"
        return ready, reason

    def flush(self) -> tuple[str, str | None]:
        ready, self.pending = self.pending, ""
        ready, cut_short = self._spend(ready)
        return ready, "length" if cut_short else None

    def _spend(self, text: str) -> tuple[str, bool]:
        if self.budget is None:
            return text, False
        for i, ch in enumerate(text):
            cost = 0.25 if ord(ch) < 128 else 1
            if self.used + cost > self.budget:
                return text[:i], True
            self.used += cost
        return text, False


def output(events: Iterable, limiter: OutputLimiter) -> Iterator[tuple[str, str | None]]:
    """What the client is shown, with output limits applied, as (kind, value) pairs:
    ("keepalive", None), ("thought", text), ("text", text), ("refusal", text), then one
    ("finish", reason). Upstream errors propagate from the iteration."""
    finish = None
    for event in events:
        if event is KEEPALIVE:
            yield "keepalive", None
        elif isinstance(event, Thought):
            yield "thought", event.text
        elif isinstance(event, Text):
            shown, finish = limiter.feed(event.text)
            if shown:
                yield "text", shown
            if finish:
                break
        elif isinstance(event, Skipped):
            finish = "content_filter"
            yield "refusal", event.explanation()
            break
    if finish is None:
        shown, finish = limiter.flush()
        if shown:
            yield "text", shown
    yield "finish", finish or "stop"


@dataclass
class Collected:
    text: str = ""
    thoughts: str = ""
    finish_reason: str = "stop"
    refusal: str | None = None


def collect(stream: AssistStream, limiter: OutputLimiter) -> Collected:
    """Read a whole answer (non-streaming responses); stops reading upstream once the output ends."""
    parts: dict[str, list[str]] = {"text": [], "thought": [], "refusal": []}
    result = Collected()
    try:
        for kind, value in output(stream, limiter):
            if kind == "finish":
                result.finish_reason = value
            else:
                parts[kind].append(value)
    finally:
        stream.close()
    result.text, result.thoughts = "".join(parts["text"]), "".join(parts["thought"])
    result.refusal = "".join(parts["refusal"]) or None
    return result
