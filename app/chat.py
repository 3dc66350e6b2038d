"""The one pipeline both client surfaces share: a Turn goes upstream on an account, events come back.

The OpenAI and native blueprints differ only in how they build the Turn and render the
answer's events (app/answer/).
Until the first visible event nothing has reached the client, so a failure up to then may
still move the turn to another account (never a native session's: its history is upstream).
A continued chat conversation (app/conversations.py) is pinned to its session's account too,
but when it cannot go on there it is sent whole to a fresh session instead (`Turn.fallback`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable

from . import exchange, metrics, shutdown
from .accounts.account import Account
from .accounts.pool import AccountPool
from .accounts.quota import TEXT
from .answer.events import FileOut
from .answer.stages import answer_events
from .background import Job
from .config import Config
from .conversations import Transcript
from .inputs import FileSource, InputFile, load
from .output import estimate_tokens
from .pump import EventPump
from .store.base import Store, StoreUnavailable
from .tools.spec import NO_TOOLS, Tooling
from .tools.structured import OutputFormat
from .upstream import errors
from .upstream.client import GeminiBusiness
from .upstream.events import FileReply, Skipped, Text, Thought
from .upstream.models import Catalogue, Model
from .upstream.spares import SpareSessions

log = logging.getLogger("gbp.chat")
# How long the end of an answer waits for the store write that records how it went (normally a
# few ms); a store that stopped answering finishes it in the background.
RECORD_WAIT = 0.5


@dataclass
class Services:
    """Everything a request needs, built once per worker by create_app."""
    config: Config
    store: Store
    upstream: GeminiBusiness
    pool: AccountPool
    catalogue: Catalogue
    spares: SpareSessions


@dataclass(frozen=True)
class Turn:
    text: str                     # what goes into query.parts[0].text
    model: Model
    files: tuple[InputFile, ...] = ()  # uploaded into the turn's upstream session, sent as fileIds
    # files still to be loaded (a URL fetched, a data URL decoded) into `files`, in this order,
    # after them: by the driver, where a stream sends keep-alives meanwhile (answer/driver.py),
    # else by `start` (see `loaded`)
    sources: tuple[FileSource, ...] = ()
    account_id: str | None = None # a native session's or continued conversation's account: the turn stays on it
    session: str | None = None    # its upstream session; None: a fresh one
    # files already in `session` (sha256 → fileId): not uploaded again; chat adds what it uploads
    # there, so the owner of the session can keep the map for the next turn (a mutable dict)
    session_files: dict[str, str] | None = None
    max_tokens: int | None = None # limits on what the client is shown (app/output.py)
    stop: tuple[str, ...] = ()
    tooling: Tooling = NO_TOOLS   # tools offered: the answer's calls are read out of its text (app/tools/)
    prompt: str | None = None     # what the usage estimate counts as the prompt; None: `text`
    # after an answer the client saw whole: (account id, session, ((sha256, fileId), …) the
    # session holds, text, files shown, tool calls made), so its conversation can continue there
    # (app/conversations.py)
    conversation: Callable[[str, str, tuple, str, tuple, tuple], None] | None = None
    # a continued conversation: the whole transcript for a fresh session, if this one cannot go on
    fallback: Callable[[], "Turn"] | None = None
    # called once the turn's answer has begun upstream, not for a turn refused before (a file
    # that cannot be loaded or that the upstream refuses): a native session's expiry slides then
    started: Callable[[], None] | None = None
    # JSON the answer must be (response_format): its text is checked, and asked for again once
    # in the same session when it does not fit (app/tools/structured.py); `text` asks for it
    output_format: OutputFormat | None = None


# Failures that would be the same in a fresh session, so a continued turn does not fall back on them
SAME_ANYWHERE = (errors.ModelRejected, errors.UnsupportedFileType)


def loaded(turn: Turn, max_bytes: int) -> Turn:
    """The turn with its `sources` loaded into `files` (each at most `max_bytes`, MAX_FILE_MB);
    a file that cannot be had is a 400 naming its content part (app/inputs.py). Loading happens
    here, before any account is held: a slow URL costs no account its in-flight slot."""
    if not turn.sources:
        return turn
    files = tuple(load(source, max_bytes) for source in turn.sources)
    return replace(turn, files=turn.files + files, sources=())


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


def start(services: Services, turn: Turn, wait: float | None, publish: Publish,
          watch: Callable[[], None] | None = None) -> Answer:
    """Send the turn upstream and wait for its first visible event: at most `wait` seconds
    (a stream then starts with keep-alives), or as long as it takes (None).

    `watch` runs about once a second for as long as the answer is made: while the turn's files
    load, the upstream is awaited and read (see EventPump) and a generated file downloads; what
    it raises cancels that work (app/background.py) and the upstream call: a whole answer's
    hangup.watcher. `publish`
    turns a generated file's bytes into the link the client is given. Files the turn still
    has to load are loaded first (a whole answer's; a stream's driver has done it).

    A continued conversation (`turn.fallback`) that cannot go on in its session — its account
    gone, disabled, cooling or waiting for a sign-in, the session forgotten upstream, any other
    failure before the first byte but the request's own — is sent whole to a fresh session."""
    if turn.fallback is None:
        return _start(services, turn, wait, publish, watch)
    try:
        return _start(services, turn, wait, publish, watch)
    except SAME_ANYWHERE:
        raise
    except errors.UpstreamError as exc:
        log.info("the conversation cannot continue in its upstream session (%s); sending the whole transcript "
                 "to a fresh one", exc.public_message(), extra={"account": turn.account_id})
    return _start(services, turn.fallback(), wait, publish, watch)


def _start(services: Services, turn: Turn, wait: float | None, publish: Publish,
           watch: Callable[[], None] | None) -> Answer:
    if turn.sources:  # a fallback's files too; in a Job, so that `watch` runs (and stops it) meanwhile
        turn = Job(partial(loaded, turn, services.config.max_file_bytes), name="load-files").result(watch)

    def answer(account: Account, session: str, stream, files: dict[str, str]) -> Answer:
        pump = EventPump(stream, closer=stream.abort, watch=watch)
        shutdown.track(pump)  # a stopping worker ends it before it is killed
        try:
            pump.prefetch(wait, is_visible)
        except BaseException:
            pump.close()
            raise
        return Answer(account, session, pump, services.pool, turn, services.upstream, publish, files, watch)

    def attempt(account: Account) -> Answer:
        # A 403 in the answer's first elements (§6.6) is the refusal an HTTP 403 is, before the
        # first byte as well: the same second chance, then AccountRefused (§9).
        return _second_chance(services, account, lambda fresh: begun(account, fresh))

    def begun(account: Account, fresh: bool) -> Answer:
        if fresh and turn.session:  # the account must prove it can still make a session; the turn keeps its own
            services.spares.offer(account, services.upstream.create_session(account))
        try:
            return asked(account, *_open_once(services, turn, account, fresh))
        except errors.Forbidden as exc:
            if fresh and turn.session:  # this one session is refused, not the account
                raise errors.SessionRefused("Gemini Business refused this session (403) though the account "
                                            "works; start a new session", status=403, reason=exc.reason) from None
            raise

    def asked(account: Account, session: str, file_ids: tuple[str, ...], stream, files: dict[str, str]) -> Answer:
        try:
            return answer(account, session, stream, files)
        except errors.TokenRefused as exc:  # §9: as a 401: the JWT is dropped, ask once more with a new one
            log.info("the upstream refused the token in its answer; retrying with a new one: %s",
                     exc.public_message(), extra={"account": account.id})
        stream = _ask(services, turn, account, session, file_ids)
        try:
            return answer(account, session, stream, files)
        except errors.TokenRefused as exc:  # refused twice: the account's sign-in, not its token
            raise errors.Unauthorized(exc.message, reason=exc.reason) from exc

    begun = on_an_account(services, attempt, pinned=turn.account_id, kind=turn.model.kind)
    if turn.started is not None:
        try:
            turn.started()
        except BaseException:
            begun.close()
            raise
    return begun


def new_session(services: Services) -> tuple[Account, str]:
    """An empty upstream session for a native session, on the first account that can make one."""

    def attempt(account: Account) -> tuple[Account, str]:
        return account, _second_chance(services, account, lambda fresh: services.upstream.create_session(account))

    account, session = on_an_account(services, attempt)
    services.pool.release(account)
    return account, session


def on_an_account(services: Services, attempt, pinned: str | None = None, kind: str = TEXT):
    """attempt(account) on a chosen account that can serve `kind` (held in flight when it
    returns), moving to another account after a failure whose class says it may
    (UpstreamError.may_failover), up to FAILOVER_ATTEMPTS; a pinned account never moves."""
    pool = services.pool
    tried: set[str] = set()
    last: errors.UpstreamError | None = None
    while True:
        try:
            account = pool.pinned(pinned, kind) if pinned else pool.acquire(tried, kind)
        except errors.AccountUnavailable:
            if last is not None:
                raise last from None  # the real reason the accounts tried so far failed
            raise
        exchange.note_account(account.id)
        try:
            return attempt(account)
        except errors.UpstreamError as exc:
            exc.kind = kind  # a client told to wait is told when an account of this kind is back
            pool.release(account)
            pool.failed(account, exc, kind)
            tried.add(account.id)
            last = exc
            if pinned or not exc.may_failover or len(tried) >= services.config.failover_attempts:
                raise
            metrics.FAILOVERS.labels(type(exc).__name__).inc()  # a class of app/upstream/errors.py: bounded
            log.warning("trying another account: %s", exc.public_message(), extra={"account": account.id})
        except BaseException:
            pool.release(account)
            raise


def _open_once(services: Services, turn: Turn, account: Account, fresh: bool):
    """The turn's first upstream calls: (session, file ids, stream, sha256 → fileId of the files
    the session holds); `fresh`: after a 403, so on a session made now (a native session's turn
    keeps its own). The turn's files are uploaded into the session the query goes to (a fileId
    is good in its own session only, §5.3), so a session made again, a fresh one after a 403 or
    another account after a failover gets them uploaded again."""
    if turn.session:
        known = turn.session_files if turn.session_files is not None else {}
        return (turn.session, *_upload_and_ask(services, turn, account, turn.session, known), known)
    session = services.upstream.create_session(account) if fresh else services.spares.take(account)
    known = {}
    try:
        file_ids, stream = _into_new_session(services, turn, account, session, known)
    except errors.SessionGone:  # a ready-made session the upstream has forgotten: make one now, ask again
        session, known = services.upstream.create_session(account), {}
        try:
            file_ids, stream = _into_new_session(services, turn, account, session, known)
        except errors.SessionGone as exc:
            if not turn.model.upstream_id:
                raise
            # a session made a moment ago is not what the upstream lost: it is the model
            raise errors.ModelRejected(turn.model.upstream_id, exc) from exc
    services.spares.refill(account)  # while the upstream thinks, not before the query went out
    return session, file_ids, stream, known


def _into_new_session(services: Services, turn: Turn, account: Account, session: str, known: dict[str, str]):
    """_upload_and_ask into a session made for this turn. A file the upstream refuses ends the
    turn before its query went out: a session still empty is given back as the account's spare
    (it was taken from there, or made, for nothing), and one that already holds the turn's
    other uploads is deleted, since no later chat may see them. `known` (empty) gets the uploads."""
    try:
        return _upload_and_ask(services, turn, account, session, known)
    except errors.UnsupportedFileType:
        if not known:
            services.spares.offer(account, session)
        else:
            _forget(services, account, session)
        raise


def _forget(services: Services, account: Account, session: str) -> None:
    try:
        services.upstream.delete_session(account, session)
    except Exception as exc:  # it only lingers upstream; the client's error is the one that matters
        log.warning("could not delete an unused upstream session: %s", exc, extra={"account": account.id})
    services.spares.refill(account)


def _upload_and_ask(services: Services, turn: Turn, account: Account, session: str, known: dict[str, str]):
    """Upload the turn's files into `session` (widgetAddContextFile), then send the query with
    their ids: (file ids, stream). `known` maps the sha256 of files already in `session` to
    their fileIds: those are not uploaded again (a file sent twice, or again in a later turn of
    a kept session), and each upload is added to it."""
    file_ids: dict[str, None] = {}  # in the turn's order, each once
    for file in turn.files:
        if file.sha256 not in known:
            known[file.sha256] = _upload(services, account, session, file)
        file_ids[known[file.sha256]] = None
    return tuple(file_ids), _ask(services, turn, account, session, tuple(file_ids))


def _upload(services: Services, account: Account, session: str, file: InputFile) -> str:
    try:
        return services.upstream.upload_file(account, session, file.data, file.mime_type, file.name)
    except errors.UnsupportedFileType as exc:
        exc.error_param = file.param  # the client is told which content part it was
        raise


def _ask(services: Services, turn: Turn, account: Account, session: str, file_ids: tuple[str, ...]):
    """widgetStreamAssist for the turn; a media model sends its tool (and no modelId)."""
    return services.upstream.stream_assist(account, session, turn.text, turn.model.upstream_id,
                                           file_ids=file_ids, tool=turn.model.tool)


def _second_chance(services: Services, account: Account, call):
    """call(fresh=False); after a 403, once more with fresh=True (§9).

    A 403 may mean a stale token or session (one project's reading) or a banned account
    (another's). So the first drops the account's JWT and spare session on this worker and the
    call is made again on a session made now; a second 403 is AccountRefused, which takes the
    account out of rotation (pool.failed) instead of costing an upstream call on every request."""
    try:
        return call(False)
    except errors.Forbidden as exc:
        log.info("upstream refused the account (403: %s); retrying once with a fresh token and session",
                 exc.public_message(), extra={"account": account.id})
    services.upstream.tokens.invalidate(account)
    services.spares.discard(account)
    try:
        return call(True)
    except errors.Forbidden as exc:
        raise errors.AccountRefused("upstream refused access (403) twice, the second time with a fresh token and "
                                    "session: the account may be banned", status=403, reason=exc.reason) from None


def is_visible(event) -> bool:
    """Events a client sees (as opposed to bookkeeping such as SessionInfo)."""
    return isinstance(event, (Thought, Text, FileReply, Skipped))
