"""POST /v1alpha/locations/global/<verb>: dispatch, and the session verbs (§5.1,
§5.6-§5.9). widgetStreamAssist lives in assist.py, the file verbs in files.py, the shared
checks in envelope.py."""

from __future__ import annotations

from flask import Blueprint, jsonify

from .assist import stream_assist
from .elements import file_part, text_part, thought
from .envelope import Call, authenticate, open_envelope, owned_session
from .errors import GoogleError
from .faults import fault_error
from .files import add_context_file, list_file_metadata
from .sessions import Session, rfc3339
from .state import current_state, note

bp = Blueprint("widgets", __name__)
IMMEDIATE_KINDS = ("jwt_expired", "http_429", "http_error")


def session_json(session: Session, with_turns: bool) -> dict:
    data = {"name": session.name, "displayName": session.display_name,
            "startTime": rfc3339(session.created_at), "endTime": rfc3339(session.updated_at)}
    if with_turns:
        data["turns"] = [turn_json(t) for t in session.turns]
    return data


def turn_json(turn) -> dict:
    replies = [thought(t) for t in turn.thoughts]
    if turn.reply:
        replies.append(text_part(turn.reply))
    replies += [file_part(f) for f in turn.generated]
    query = {"parts": [{"text": turn.query}]}
    if turn.file_ids:
        query["contextFiles"] = [{"sessionContextFileId": i} for i in turn.file_ids]
    return {"createdAt": rfc3339(turn.created_at), "query": query,
            "detailedAssistAnswer": {"replies": replies}}


def create_session(call: Call):
    # Every body variant of §5.1 is fine; a client-chosen name is ignored (§13 Q6).
    asked = call.request.get("session") or {}
    display = asked.get("displayName") if isinstance(asked, dict) else ""
    session = call.state.sessions.create(call.account.csesidx, call.now,
                                         display if isinstance(display, str) else "")
    return jsonify({"session": session_json(session, with_turns=False)})


def list_sessions(call: Call):
    sessions = call.state.sessions.owned_by(call.account.csesidx)
    size = call.request.get("pageSize")
    size = size if isinstance(size, int) and 0 < size <= 200 else 200
    token = call.request.get("pageToken") or "0"
    start = int(token) if isinstance(token, str) and token.isdigit() else 0
    page = sessions[start:start + size]
    next_token = str(start + size) if start + size < len(sessions) else ""
    return jsonify({"listSessionsResponse": {
        "sessions": [session_json(s, with_turns=False) for s in page],
        "nextPageToken": next_token}})


def get_session(call: Call):
    session = owned_session(call, call.request.get("name"), allow_bare=True)
    return jsonify({"session": session_json(session, with_turns=True)})


def delete_session(call: Call):
    session = owned_session(call, call.request.get("name"))
    call.state.sessions.delete(session.id)
    return jsonify({})


def get_engine_user_data(call: Call):
    engine = (f"projects/{call.state.settings.project_number}/locations/global/"
              "collections/default_collection/engines/agentspace-engine")
    return jsonify({"engineUserData": {
        "name": f"{engine}/userData/{call.account.csesidx}",
        "engine": engine, "userEmail": call.account.email}})


HANDLERS = {
    "widgetCreateSession": create_session, "widgetStreamAssist": stream_assist,
    "widgetListSessions": list_sessions, "widgetGetSession": get_session,
    "widgetDeleteSession": delete_session, "widgetGetEngineUserData": get_engine_user_data,
    "widgetAddContextFile": add_context_file,
    "widgetListSessionFileMetadata": list_file_metadata,
}


@bp.post("/v1alpha/locations/global/<verb>")
def widget(verb: str):
    handler = HANDLERS.get(verb)
    if handler is None:
        raise GoogleError(404, f"Method not found: {verb}")
    note(verb=verb)
    state = current_state()
    account = authenticate(state, verb)
    if account.banned:  # Google's stock 403 body (§9): nothing says more than "no permission"
        note(refused="banned")
        raise GoogleError(403)
    fault = state.faults.take(verb, account.csesidx, kinds=IMMEDIATE_KINDS)
    if fault is not None:
        note(fault=fault.kind)
        raise fault_error(fault)
    inner = open_envelope(verb, account, state)
    return handler(Call(state, account, inner, state.now()))
