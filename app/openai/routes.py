"""The OpenAI-compatible surface: /v1/chat/completions and /v1/models."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

import logging

from .. import chat, hangup
from ..answer.driver import drive
from ..answer.reply import reply
from ..auth import require_client
from ..body import json_body
from ..errors import ApiError
from ..upstream.models import Model
from .request import parse_chat
from .render import ChunkRenderer, completion
from .translate import render_query

log = logging.getLogger("gbp.openai")
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
    turn = chat.Turn(text=prompt, model=model, max_tokens=request.max_tokens, stop=request.stop)
    if not request.stream:
        answer = chat.start(services, turn, wait=None, watch=hangup.watcher())
        return jsonify(completion(request.model, reply(answer)))
    answer = chat.start(services, turn, wait=services.config.keepalive_interval)
    return drive(answer, ChunkRenderer(request.model, request.include_usage), services.config.keepalive_interval, log)


@bp.get("/models")
def list_models():
    return jsonify({"object": "list", "data": [m.as_openai() for m in _services().catalogue.all()]})


@bp.get("/models/<path:model_id>")
def get_model(model_id: str):
    return jsonify(_model(model_id).as_openai(model_id))
