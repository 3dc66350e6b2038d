"""An answer being read: the upstream's events for one turn, with its account held (in flight)
until close(), which records how it went (app/chat.py `start` makes it).

What the client is shown goes through answer_events (app/answer/stages.py) and is kept in the
transcript, so a conversation the client saw whole can continue in its session
(app/conversations.py); `again` asks once more in the same session (a corrective retry).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from . import metrics, shutdown
from .accounts.account import Account
from .accounts.pool import AccountPool
from .accounts.quota import TEXT
from .answer.events import FileOut
from .answer.stages import answer_events
from .background import Job
from .conversations import Transcript
from .output import estimate_tokens
from .pump import EventPump
from .store.base import StoreUnavailable
from .upstream import errors
from .upstream.client import GeminiBusiness
from .upstream.events import FileReply

if TYPE_CHECKING:
    from .chat import Turn

log = logging.getLogger("gbp.chat")
# How long the end of an answer waits for the store write that records how it went (normally a
# few ms); a store that stopped answering finishes it in the background.
RECORD_WAIT = 0.5


Publish = Callable[[bytes, str, str], str]  # (bytes, MIME type, name) -> the link a client reads them at



@dataclass
class Answer:
    """An answer being read: its account is held (in flight) until close()."""
    account: Account
    session: str
    pump: EventPump
    pool: AccountPool
    turn: Turn
    upstream: GeminiBusiness
    publish: Publish
    files: dict[str, str] = field(default_factory=dict)  # sha256 → fileId of the files the session holds
    watch: Callable[[], None] | None = None  # see start(); watches a second query's pump and a download too
    transcript: Transcript = field(default_factory=Transcript, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def kind(self) -> str:
        """The quota the answer uses (its model's kind)."""
        return self.turn.model.kind

    def events(self, interval: float):
        """The answer's event stream (app/answer/events.py), limits applied; KEEPALIVE after
        `interval` quiet seconds. Read it once."""
        prompt, held = self.turn.text, 0
        if self.turn.prompt is not None:  # a continued conversation: its history is in the session
            prompt, held = self.turn.prompt, max(0, estimate_tokens(self.turn.prompt) - estimate_tokens(self.turn.text))
        upstream = self.transcript.upstream(self.pump.events(interval))
        return self.transcript.shown(answer_events(upstream, prompt, self.fetch, self.turn.max_tokens,
                                                   self.turn.stop, held, keepalive=interval,
                                                   files_follow=self.kind != TEXT, tooling=self.turn.tooling,
                                                   output_format=self.turn.output_format,
                                                   again=lambda text: self.again(text, interval), watch=self.watch))

    def again(self, text: str, interval: float):
        """A further query into this answer's session, once its answer has ended (the corrective
        retry of a tool call, app/tools/stage.py, or of JSON, app/tools/structured.py): its
        upstream events. The session holds the answer being corrected, so only the correction
        goes; no files (the session has them)."""
        self.pump.close()
        metrics.RETRIES.inc()
        self.pool.also_asked(self.account, self.kind)  # a query the account's daily limit counts
        stream = self.upstream.stream_assist(self.account, self.session, text, self.turn.model.upstream_id,
                                             tool=self.turn.model.tool)
        self.pump = EventPump(stream, closer=stream.abort, watch=self.watch)
        shutdown.track(self.pump)
        return self.transcript.upstream(self.pump.events(interval))

    def fetch(self, file: FileReply) -> FileOut:
        """A generated file, downloaded with this answer's account from its session and
        published (app/media.py publisher). A failed download raises (an upstream error the
        client is told of in-band), never a reply that silently lacks the file."""
        data, mime_type = self.upstream.download_file(self.account, self.session, file.file_id)
        mime_type = mime_type or file.mime_type
        metrics.generated_file(mime_type)
        return FileOut(self.publish(data, mime_type, file.name), mime_type, file.name)

    def close(self, error: BaseException | None = None, completed: bool = False) -> None:
        """Stop reading upstream, free the account and record how it went (safe to call twice).

        Never raises: it runs as the answer ends (a stream's last frames, a whole answer about
        to be sent), and book-keeping that fails must not cost the client an answer it has.
        The record is a store write: it is waited for at most RECORD_WAIT, then finishes on its
        own, so a store that stopped answering does not hold back the end of the answer.
        """
        self.pump.close()
        if self._closed:
            return
        self._closed = True
        self.pool.release(self.account)
        Job(lambda: self._record(error, completed), name="record-answer").wait(RECORD_WAIT)

    def _record(self, error: BaseException | None, completed: bool) -> None:
        try:
            if isinstance(error, errors.UpstreamError):
                self.pool.failed(self.account, error, self.kind)
            elif completed:
                self.pool.succeeded(self.account, self.kind)
                if self.turn.conversation and self.transcript.whole:
                    self.turn.conversation(self.account.id, self.session, tuple(self.files.items()),
                                           "".join(self.transcript.text), tuple(self.transcript.files),
                                           self.transcript.calls())
        except StoreUnavailable as exc:  # the account's counters miss one answer; nothing else is lost
            log.error("could not record how the answer went: %s", exc, extra={"account": self.account.id})
        except Exception:
            log.exception("could not record how the answer went", extra={"account": self.account.id})
