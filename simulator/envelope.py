"""What every widget call shares: the bearer check (§3, §12), the common envelope (§5.0)
and finding the caller's session by any of its names (§1)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from . import footprint
from .accounts import Account
from .errors import GoogleError, unauthenticated
from .sessions import Session, session_id_from_name
from .state import SimState, note
from .tokens import AuthFailure, kid_of, verify_bearer


@dataclass
class Call:
    """One authenticated widget call: who made it and the inner `<verb>Request` object."""

    state: SimState
    account: Account
    request: dict
    now: float


def request_key(verb: str) -> str:
    """widgetStreamAssist -> streamAssistRequest (§5.0)."""
    bare = verb[len("widget"):]
    return bare[:1].lower() + bare[1:] + "Request"


def authenticate(state: SimState, verb: str) -> Account:
    settings = state.settings
    authorization = request.headers.get("authorization")
    claimed = state.keys.get(kid_of(authorization))
    if claimed is not None:
        note(csesidx=claimed.csesidx)
    try:
        key = verify_bearer(authorization, state.keys, state.now(), settings.issuer,
                            settings.audience, strict=settings.strict_jwt)
        if key.revoked and settings.keys_die_on_sign_out:
            raise AuthFailure("ACCESS_TOKEN_EXPIRED", "the key's account signed out")
    except AuthFailure as failure:
        note(auth_failure=str(failure))
        raise unauthenticated(failure.reason) from failure
    account = state.accounts.get(key.csesidx)
    if account is None:  # the account was removed (reset) after the key was issued
        raise unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED")
    if settings.strict_headers:
        footprint.check_headers(request.headers, settings.issuer, verb)
    return account


def open_envelope(verb: str, account: Account, state: SimState) -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise GoogleError(400, "Invalid JSON payload received.")
    if state.settings.strict_envelope:
        footprint.check_envelope(body)
    if body.get("configId") != account.config_id:
        raise GoogleError(state.settings.config_mismatch_status,
                          f"Invalid configId: {body.get('configId')!r}")
    inner = body.get(request_key(verb))
    if not isinstance(inner, dict):
        raise GoogleError(400, f"Missing or invalid field: {request_key(verb)}")
    return inner


def owned_session(call: Call, name, allow_bare: bool = False) -> Session:
    """The caller's session by any accepted name form; 404/403 otherwise."""
    if not isinstance(name, str) or not name:
        raise GoogleError(400, "A session name is required.")
    settings = call.state.settings
    session = call.state.sessions.get(
        session_id_from_name(name, settings.project_number, allow_bare))
    if session is None:
        raise GoogleError(404, f"Session {name} not found.")
    if session.owner != call.account.csesidx:
        status = settings.foreign_session_status
        raise GoogleError(status, f"Session {name} not found." if status == 404 else
                          f"Permission denied on session {name}.")
    return session
