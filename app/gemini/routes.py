"""The native session API: /gemini/sessions and /gemini/chat.

A session is one upstream session on one account: each message sends only its own text and
the upstream keeps the history.
"""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify

from functools import partial

from .. import chat, exchange
from ..answer.driver import respond
from ..auth import require_client
from ..body import json_body
from ..errors import ApiError, bad_request
from ..store.base import StoreUnavailable
from ..accounts.pool import AccountGone
from ..upstream.errors import AccountRefused, SessionGone
from .request import parse_files
from .sessions import Session, Sessions, rfc3339
from .render import NativeRenderer, whole

log = logging.getLogger("gbp.gemini")
bp = Blueprint("gemini", __name__, url_prefix="/gemini")
bp.before_request(require_client)


def _services() -> chat.Services:
    return current_app.extensions["gbp"]


def _sessions() -> Sessions:
    services = _services()
    return Sessions(services.store, services.config.session_timeout)


def _session(session_id) -> Session:
    if not isinstance(session_id, str):
        raise bad_request("session_id must be a string", "session_id", "invalid_type")
    session = _sessions().get(session_id)
    if session is None:
        raise ApiError(404, f"No session '{session_id[:80]}' (unknown, deleted or expired); create one with "
                            "POST /gemini/sessions.", param="session_id", code="session_not_found")
    return session


@bp.post("/sessions")
def create_session():
    body = json_body(optional=True)
    services = _services()
    name = body.get("model")
    if name is None:
        model = services.catalogue.default
    elif not isinstance(name, str):
        raise bad_request("model must be a string", "model", "invalid_type")
    else:
        model = services.catalogue.choose(name)  # ModelUnavailable: a 404/400 naming the model
    # Made now, not taken from the spares: a native session must exist upstream for as long as
    # the client keeps it, and a spare could be one the upstream has already forgotten.
    account, upstream = chat.new_session(services)
    session = _sessions().create(upstream, account.id, model.id)
    response = jsonify(session.public())
    response.status_code = 201
    response.headers["Location"] = f"/gemini/sessions/{session.id}"
    return response


@bp.get("/sessions/<session_id>")
def get_session(session_id: str):
    return jsonify(_session(session_id).public())


@bp.delete("/sessions/<session_id>")
def delete_session(session_id: str):
    session = _session(session_id)
    _sessions().delete(session.id)
    record = _services().pool.accounts.get(session.account)
    if record is not None and record.has_cookies:
        account = record.account()
        try:
            _services().upstream.delete_session(account, session.upstream)
        except Exception as exc:  # ours is gone either way; the upstream one just lingers
            log.warning("could not delete the upstream session: %s", exc, extra={"account": session.account})
    return jsonify({"session_id": session.id, "deleted": True})


@bp.post("/chat")
def chat_message():
    exchange.note_metered()  # usage once its model is known (app/usage/)
    body = json_body()
    session = _session(body.get("session_id"))
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        raise bad_request("message must be a non-empty string", "message",
                          "missing_required_parameter" if message is None else "invalid_type")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("stream must be a boolean", "stream", "invalid_type")
    services = _services()
    # the model the session was made with; one the catalogue has dropped since is a clear 404, not a silent auto
    model = services.catalogue.choose(session.model)
    sources = parse_files(body.get("files"))  # loaded as the answer starts (app/answer/driver.py)
    sessions = _sessions()
    # Each use slides the expiry, but only a turn that goes ahead uses the session: a file that
    # cannot be loaded or that the upstream refuses is a 400 that leaves the expiry alone. The
    # head shows the expiry the turn sets once its answer has begun (chat.Turn.started).
    expires_at = sessions.clock() + sessions.timeout
    known = dict(session.files)  # chat adds the files this turn uploads
    turn = chat.Turn(text=message, model=model, sources=sources, account_id=session.account,
                     session=session.upstream, session_files=known,
                     started=partial(_touch, sessions, session, expires_at))
    head = _reply_head(session, expires_at)
    try:
        return respond(services, turn, stream, NativeRenderer(head), partial(whole, head), log)
    except (AccountGone, AccountRefused) as exc:  # disabled, or just now refused by the upstream (§9)
        raise ApiError(409, f"{exc.message[:1].upper()}{exc.message[1:]}.", param="session_id",
                       code="session_account_unavailable") from None
    except SessionGone:
        _sessions().delete(session.id)
        raise ApiError(404, "The upstream session no longer exists; create a new session.",
                       param="session_id", code="session_not_found") from None
    finally:  # uploads that went in stay in the session, even if the turn failed after them
        if known != session.files:
            _remember_files(session, {k: v for k, v in known.items() if k not in session.files})


def _touch(sessions: Sessions, session: Session, expires_at: float) -> None:
    try:
        sessions.touch(session, expires_at)
    except StoreUnavailable as exc:  # the answer is not lost for it: the session just expires sooner
        log.warning("could not slide the session's expiry: %s", exc)


def _remember_files(session: Session, files: dict[str, str]) -> None:
    try:
        _sessions().add_files(session, files)
    except StoreUnavailable as exc:  # the answer is not lost for it: the files are uploaded again next time
        log.warning("could not remember the session's files: %s", exc)


def _reply_head(session: Session, expires_at: float) -> dict:
    return {"session_id": session.id, "model": session.model, "expires_at": rfc3339(expires_at)}
