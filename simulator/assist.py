"""widgetStreamAssist: validate the request (§5.2), pick the reply and any stream fault,
then stream the array (§6) and keep the turn in the session when the answer finished."""

from __future__ import annotations

from flask import request

from .elements import SessionInfo, media_elements, plan_for
from .envelope import Call, owned_session
from .footprint import check_assist
from .errors import GoogleError, resource_exhausted
from .faults import SHAPE_KINDS, STREAM_KINDS, Fault
from .files import AI_GENERATED, files_of_request, new_file
from .media import generated
from .quota import QUOTA_REASON, RATE_REASON, quota_day, request_kind
from .model import model_reply
from .replies import Reply
from .sessions import Turn, new_numeric_id
from .shapes import ANY_ANSWER_SHAPES, plan_shape
from .state import current_entry, note
from .streaming import SOCKET_KEY, ClientWatch, StreamRun, stream_response


def query_text(body: dict) -> str:
    query = body.get("query")
    parts = query.get("parts") if isinstance(query, dict) else None
    first = parts[0] if isinstance(parts, list) and parts else None
    text = first.get("text") if isinstance(first, dict) else None
    if not isinstance(text, str):
        raise GoogleError(400, "query.parts[0].text is required.")
    return text


def check_model(body: dict, settings) -> None:
    config = body.get("assistGenerationConfig")
    if config is None:
        return  # "auto": the server picks (§7.1)
    if not isinstance(config, dict):
        raise GoogleError(400, "assistGenerationConfig must be an object.")
    model = config.get("modelId")
    if model is not None and model not in settings.models:
        if settings.unknown_model_status == 404:
            raise GoogleError(404, f"Model {model} not found.")
        raise GoogleError(400, f"Model {model} is not supported.")


def generate(kind: str, prompt: str, now: float, video_bytes: int) -> list:
    """The files an image or video request makes (media.py); [] for text."""
    if kind == "text":
        return []
    name, mime_type, data, size = generated(kind, prompt, video_bytes)
    return [new_file(name, mime_type, data, AI_GENERATED, now, **size)]


def file_reply(file) -> dict:
    return {"fileId": file.file_id, "mimeType": file.mime_type, "name": file.name}


def plan_answer(fault, reply, info, query: str, media: list[dict], media_seconds: float):
    """The stream plan: the text answer or, for a generation, the file answer (`media`),
    with what the fault (or None) does to it."""
    shape = fault is not None and fault.kind in SHAPE_KINDS
    if shape and not media:
        return plan_shape(fault.kind, fault, reply, info, query)
    if shape and fault.kind in ANY_ANSWER_SHAPES:
        return plan_shape(fault.kind, fault, reply, info, query, media_elements(media, info, reply.text))
    if shape:  # it reshapes answer text, which a file answer has none of: the answer as it is
        fault = None
    return plan_for(reply, info, fault, media, media_seconds)


def spend_daily(state, csesidx: str, body: dict, now: float):
    """Count the call against its kind's daily budget; spent, raise the HTTP 429 or return
    the in-stream error as a fault (quota_in_stream)."""
    settings = state.settings
    kind = request_kind(body)
    day = quota_day(now, settings.quota_reset_tz, settings.quota_reset_hour)
    if state.daily.try_spend(csesidx, kind, day, getattr(settings, f"daily_quota_{kind}")):
        return None
    note(quota=f"{kind} spent")
    if settings.quota_in_stream:
        return Fault(id=0, kind="stream_429", reason=QUOTA_REASON, after=0)
    raise resource_exhausted(QUOTA_REASON)


def stream_assist(call: Call):
    state, body, csesidx = call.state, call.request, call.account.csesidx
    session = owned_session(call, body.get("session"))
    if state.settings.strict_assist:
        check_assist(body)
    text = query_text(body)
    check_model(body, state.settings)
    files = files_of_request(session, body)
    if not state.quota.try_spend(csesidx, call.now, state.settings.quota,
                                 state.settings.quota_window):
        note(quota="exhausted")
        raise resource_exhausted(RATE_REASON)
    fault = spend_daily(state, csesidx, body, call.now)
    if fault is None:
        fault = state.faults.take("widgetStreamAssist", csesidx, kinds=STREAM_KINDS)
    if fault is not None:
        note(fault=fault.kind)
    reply, memo = model_reply(text, list(session.turns), state.settings,
                              [(f.mime_type, f.data) for f in files])
    made = generate(request_kind(body), text, call.now, state.settings.video_bytes)
    if made:  # an image or video answer has no thoughts and no text (§6.4), or with media_text its text
        reply = Reply(thoughts=[], text=reply.text if state.settings.media_text else "")
    info = SessionInfo(session.name, new_numeric_id(), new_numeric_id())
    plan = plan_answer(fault, reply, info, text, [file_reply(f) for f in made],
                       getattr(state.settings, f"{request_kind(body)}_seconds", 0.0))
    finished = "text" in plan.keeps  # the answer (text or files) came to its end
    turn = Turn(text, reply.thoughts if "thoughts" in plan.keeps else [],
                reply.text if finished else "", call.now,
                info.query_id, info.turn_id, [f.file_id for f in files],
                [file_reply(f) for f in made] if finished else [], memo)

    entry = current_entry()

    def keep_turn():
        for file in made if finished else []:  # downloadable once the client can see it
            state.sessions.add_file(session, file)
        state.sessions.add_turn(session, turn)

    def log_outcome(outcome: str):
        if entry is not None:
            state.log.finish(entry, outcome)

    run = StreamRun(
        plan, state.settings, seed=text, watch=ClientWatch(request.environ.get(SOCKET_KEY)),
        faults=state.faults, on_last_piece=keep_turn if plan.records_turn else None,
        on_end=log_outcome)
    return stream_response(run)
