"""The native session API: /gemini/sessions and /gemini/chat.

A session is one upstream session on one account: each message sends only its own text and
the upstream keeps the history.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from .. import chat, sse
from ..auth import require_client
from ..body import json_body
from ..errors import ApiError, bad_request
from ..upstream.errors import SessionGone
from .sessions import Session, Sessions
from .streaming import native_stream

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
    elif not isinstance(name, str) or (model := services.catalogue.resolve(name)) is None:
        raise ApiError(404, f"The model {name!r} does not exist.", param="model", code="model_not_found")
    account = services.pool.acquire()
    # Made now, not taken from the spares: a native session must exist upstream for as long as
    # the client keeps it, and a spare could be one the upstream has already forgotten.
    upstream = services.upstream.create_session(account)
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
    account = _services().pool.get(session.account)
    if account is not None:
        try:
            _services().upstream.delete_session(account, session.upstream)
        except Exception as exc:  # ours is gone either way; the upstream one just lingers
            current_app.logger.warning("could not delete the upstream session: %s", exc)
    return jsonify({"session_id": session.id, "deleted": True})


@bp.post("/chat")
def chat_message():
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
    account = services.pool.get(session.account)
    if account is None:
        raise ApiError(409, "The account that owns this session is no longer available; create a new session.",
                       param="session_id", code="session_account_unavailable")
    model = services.catalogue.resolve(session.model) or services.catalogue.default
    _sessions().touch(session)
    turn = chat.Turn(text=message, model=model, account=account, session=session.upstream)
    try:
        if not stream:
            result = chat.collect(chat.start(services, turn).stream, chat.OutputLimiter())
            return jsonify({**_reply_head(session), "reply": result.text, "thinking": result.thoughts,
                            "finish_reason": result.finish_reason, "refusal": result.refusal})
        _, pump = chat.start_streaming(services, turn)
    except SessionGone:
        _sessions().delete(session.id)
        raise ApiError(404, "The upstream session no longer exists; create a new session.",
                       param="session_id", code="session_not_found") from None
    return sse.response(native_stream(pump, _reply_head(session), services.config.keepalive_interval))


def _reply_head(session: Session) -> dict:
    public = session.public()
    return {"session_id": session.id, "model": session.model, "expires_at": public["expires_at"]}
