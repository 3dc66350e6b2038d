"""A turn's upstream calls on one account: the session it goes to (the turn's own, a spare or one
made now), its files uploaded there, the query sent, and the second chance after a 403 (§9).
app/chat.py `start` runs them on the account failover chose (app/failover.py).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .accounts.account import Account
from .inputs import InputFile
from .upstream import errors

if TYPE_CHECKING:
    from .chat import Services, Turn

log = logging.getLogger("gbp.chat")


def open_once(services: Services, turn: Turn, account: Account, fresh: bool):
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
    return tuple(file_ids), ask(services, turn, account, session, tuple(file_ids))


def _upload(services: Services, account: Account, session: str, file: InputFile) -> str:
    try:
        return services.upstream.upload_file(account, session, file.data, file.mime_type, file.name)
    except errors.UnsupportedFileType as exc:
        exc.error_param = file.param  # the client is told which content part it was
        raise


def ask(services: Services, turn: Turn, account: Account, session: str, file_ids: tuple[str, ...]):
    """widgetStreamAssist for the turn; a media model sends its tool (and no modelId)."""
    return services.upstream.stream_assist(account, session, turn.text, turn.model.upstream_id,
                                           file_ids=file_ids, tool=turn.model.tool)


def second_chance(services: Services, account: Account, call):
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
