"""The OpenAI-compatible surface: /v1/chat/completions and /v1/models."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from .. import chat, hangup, sse
from ..output import OutputLimiter, collect
from ..auth import require_client
from ..body import json_body
from ..errors import ApiError
from ..upstream.models import Model
from .request import parse_chat
from .streaming import chat_stream
from .translate import ChunkWriter, completion, render_query

bp = Blueprint("openai", __name__, url_prefix="/v1")
bp.before_request(require_client)


def _services() -> chat.Services:
    return current_app.extensions["gbp"]


def _model(name: str) -> Model:
    return _services().catalogue.choose(name)  # ModelUnavailable: a 404/400 naming the model


@bp.post("/chat/completions")
def chat_completions():
    request = parse_chat(json_body())
    model = _model(request.model)
    prompt = render_query(request.messages)
    if not prompt.strip():
        raise ApiError(400, "messages contain no text to send", param="messages", code="invalid_value")
    services = _services()
    limiter = OutputLimiter(request.max_tokens, request.stop)
    turn = chat.Turn(text=prompt, model=model)
    if not request.stream:
        answer = chat.start(services, turn, wait=None, watch=hangup.watcher())
        return jsonify(completion(request.model, prompt, collect(answer, limiter)))
    answer = chat.start(services, turn, wait=services.config.keepalive_interval)
    writer = ChunkWriter(request.model, request.include_usage)
    return sse.response(chat_stream(answer, writer, limiter, prompt, services.config.keepalive_interval))


@bp.get("/models")
def list_models():
    return jsonify({"object": "list", "data": [m.as_openai() for m in _services().catalogue.all()]})


@bp.get("/models/<path:model_id>")
def get_model(model_id: str):
    return jsonify(_model(model_id).as_openai(model_id))
