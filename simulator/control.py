"""The control API under /__sim__/ (a path the real service never uses): knobs, faults,
accounts, keys, the request log, sign-in mail and reset, for tests. No authentication, by design: the
simulator only ever listens where tests run."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .accounts import AccountError, accounts_from_payload
from .errors import GoogleError
from .faults import FaultError
from .settings import SettingsError
from .state import current_state

bp = Blueprint("control", __name__, url_prefix="/__sim__")


def _json_body():
    body = request.get_json(silent=True)
    if body is None:
        raise GoogleError(400, "The request body must be JSON.")
    return body


@bp.get("/health")
def health():
    return jsonify({"ok": True})


@bp.get("/settings")
def get_settings():
    return jsonify(current_state().settings.to_json())


@bp.patch("/settings")
def patch_settings():
    state = current_state()
    try:
        state.settings = state.settings.updated(_json_body())
    except SettingsError as exc:
        raise GoogleError(400, str(exc)) from exc
    return jsonify(state.settings.to_json())


@bp.get("/faults")
def list_faults():
    return jsonify({"faults": [f.to_json() for f in current_state().faults.list()]})


@bp.post("/faults")
def add_fault():
    try:
        fault = current_state().faults.add(_json_body())
    except FaultError as exc:
        raise GoogleError(400, str(exc)) from exc
    return jsonify(fault.to_json()), 201


@bp.delete("/faults")
def clear_faults():
    current_state().faults.clear()
    return jsonify({"faults": []})


@bp.post("/release")
def release():
    return jsonify({"released": current_state().faults.release()})


@bp.post("/keys/expire")
def expire_keys():
    return jsonify({"expired": current_state().keys.expire_all()})


@bp.get("/accounts")
def list_accounts():
    state = current_state()
    now = state.now()
    return jsonify({"accounts": [a.to_json(now) for a in state.accounts.all()],
                    "quota": state.quota.usage(), "daily_quota": state.daily.usage()})


@bp.post("/accounts")
def add_accounts():
    state = current_state()
    try:
        added = accounts_from_payload(_json_body())
    except AccountError as exc:
        raise GoogleError(400, str(exc)) from exc
    state.accounts.add(added, state.now())
    now = state.now()
    return jsonify({"accounts": [a.to_json(now) for a in added]}), 201


@bp.post("/accounts/<csesidx>/expire")
def expire_account(csesidx: str):
    state = current_state()
    account = state.accounts.get(csesidx)
    if account is None:
        raise GoogleError(404, f"No account with csesidx {csesidx}.")
    account.signed_out = True
    state.keys.revoke_account(csesidx)
    return jsonify(account.to_json(state.now()))


@bp.post("/accounts/<csesidx>/ban")
def ban_account(csesidx: str):
    """Ban the account (403 on widget calls, "Access Restricted" at sign-in); the optional body
    {"banned": false} lifts the ban."""
    state = current_state()
    account = state.accounts.get(csesidx)
    if account is None:
        raise GoogleError(404, f"No account with csesidx {csesidx}.")
    banned = (request.get_json(silent=True) or {}).get("banned", True)
    if not isinstance(banned, bool):
        raise GoogleError(400, "banned must be true or false.")
    account.banned = banned
    return jsonify(account.to_json(state.now()))


@bp.post("/accounts/<csesidx>/age")
def age_account(csesidx: str):
    """Makes the account's current cookies `seconds` older (rotation and expiry come sooner)."""
    state = current_state()
    account = state.accounts.get(csesidx)
    if account is None:
        raise GoogleError(404, f"No account with csesidx {csesidx}.")
    seconds = _json_body().get("seconds") if isinstance(request.get_json(silent=True), dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise GoogleError(400, "seconds must be a number >= 0.")
    account.age(float(seconds))
    return jsonify(account.to_json(state.now()))


@bp.get("/requests")
def list_requests():
    since = request.args.get("since", "0")
    if not since.lstrip("-").isdigit():
        raise GoogleError(400, "since must be an integer.")
    return jsonify({"requests": current_state().log.since(int(since))})


@bp.delete("/requests")
def clear_requests():
    current_state().log.clear()
    return jsonify({"requests": []})


@bp.get("/sessions")
def list_sessions():
    sessions = current_state().sessions.all()
    return jsonify({"sessions": [{
        "name": s.name, "id": s.id, "owner": s.owner, "display_name": s.display_name,
        "turns": [{"query": t.query, "reply": t.reply, "thoughts": t.thoughts,
                   "query_id": t.query_id, "turn_id": t.turn_id, "file_ids": t.file_ids,
                   "model": t.model.to_json() if t.model is not None else None}
                  for t in s.turns],
        "files": [f.to_control_json() for f in s.files.values()],
    } for s in sessions]})


@bp.get("/mail")
def list_mail():
    """Every code the sign-in pages sent: email, code, time, status, delivered_at."""
    return jsonify({"mail": current_state().signin.outbox.list()})


@bp.delete("/mail")
def clear_mail():
    current_state().signin.outbox.clear()
    return jsonify({"mail": []})


@bp.post("/reset")
def reset():
    current_state().reset()
    return jsonify({"ok": True})
