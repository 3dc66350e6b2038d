"""The one pipeline both client surfaces share: a Turn goes upstream on an account, events come back.

The OpenAI and native blueprints differ only in how they build the Turn and render the
answer's events (app/answer/).
Until the first visible event nothing has reached the client, so a failure up to then may
still move the turn to another account (never a native session's: its history is upstream).
A continued chat conversation (app/conversations.py) is pinned to its session's account too,
but when it cannot go on there it is sent whole to a fresh session instead (`Turn.fallback`).

The parts: the answer being read (app/answer_reading.py), the move to another account
(app/failover.py) and a turn's upstream calls on one account (app/turn_upstream.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

from . import shutdown
from .accounts.account import Account
from .accounts.pool import AccountPool
from .answer_reading import Answer, Publish
from .background import Job
from .config import Config
from .failover import on_an_account
from .inputs import FileSource, InputFile, load
from .pump import EventPump
from .store.base import Store
from .tools.spec import NO_TOOLS, Tooling
from .tools.structured import OutputFormat
from .turn_upstream import ask, open_once, second_chance
from .upstream import errors
from .upstream.client import GeminiBusiness
from .upstream.events import FileReply, Skipped, Text, Thought
from .upstream.models import Catalogue, Model
from .upstream.spares import SpareSessions

log = logging.getLogger("gbp.chat")


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
        return second_chance(services, account, lambda fresh: begun(account, fresh))

    def begun(account: Account, fresh: bool) -> Answer:
        if fresh and turn.session:  # the account must prove it can still make a session; the turn keeps its own
            services.spares.offer(account, services.upstream.create_session(account))
        try:
            return asked(account, *open_once(services, turn, account, fresh))
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
        stream = ask(services, turn, account, session, file_ids)
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
        return account, second_chance(services, account, lambda fresh: services.upstream.create_session(account))

    account, session = on_an_account(services, attempt)
    services.pool.release(account)
    return account, session



def is_visible(event) -> bool:
    """Events a client sees (as opposed to bookkeeping such as SessionInfo)."""
    return isinstance(event, (Thought, Text, FileReply, Skipped))
