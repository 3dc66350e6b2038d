"""The OpenAI-compatible surface: /v1/chat/completions, /v1/images/generations and /edits, /v1/models."""
from __future__ import annotations

import logging
from functools import partial

from flask import Blueprint, current_app, jsonify, request as http_request

from .. import chat, exchange, hangup
from ..background import Job
from ..answer.driver import respond
from ..auth import client_id, require_client
from ..body import form_body, json_body
from ..continuation import plan
from ..dialogue import refuse_format_for_media
from ..anthropic import render as anthropic_render
from ..upstream.models import Model
from . import images
from .images_request import parse_edit, parse_edit_json, parse_generation
from .request import parse_chat
from .render import ChunkRenderer, answer_message, completion

log = logging.getLogger("gbp.openai")
bp = Blueprint("openai", __name__, url_prefix="/v1")
bp.before_request(require_client)


def _services() -> chat.Services:
    return current_app.extensions["gbp"]


def _model(name: str) -> Model:
    return _services().catalogue.choose(name)  # ModelUnavailable: a 404/400 naming the model


@bp.post("/chat/completions")
def chat_completions():
    exchange.note_metered()  # usage once its model is known (app/usage/)
    request = parse_chat(json_body())
    model = _model(request.model)
    refuse_format_for_media(request, model, "response_format")
    legacy = request.tooling.legacy  # tools offered as `functions`: answered as a `function_call`
    turn = plan(request, model, current_app.extensions["gbp.conversations"], client_id(),
                partial(answer_message, legacy))
    return respond(_services(), turn, request.stream, ChunkRenderer(request.model, request.include_usage, legacy),
                   partial(completion, request.model, legacy=legacy), log)


@bp.post("/images/generations")
def images_generations():
    exchange.note_metered()
    return jsonify(images.answer(_services(), parse_generation(json_body())))


@bp.post("/images/edits")
def images_edits():
    exchange.note_metered()
    max_file_bytes = _services().config.max_file_bytes
    if http_request.mimetype == "application/json":  # images as URLs; else the SDKs' multipart uploads
        # its http(s) URLs are fetched while the client's socket is watched, as a whole chat's
        # files are (app/chat.py): a client that leaves stops the fetch
        body = json_body()
        loaded = Job(partial(parse_edit_json, body, max_file_bytes), name="load-files").result(hangup.watcher())
        return jsonify(images.answer(_services(), loaded))
    form, files = form_body()
    return jsonify(images.answer(_services(), parse_edit(form, files, max_file_bytes)))


@bp.get("/models")
def list_models():
    models = _services().catalogue.all()
    if _anthropic_client():
        return jsonify(anthropic_render.model_list(models))
    return jsonify({"object": "list", "data": [m.as_openai() for m in models]})


@bp.get("/models/<path:model_id>")
def get_model(model_id: str):
    if _anthropic_client():
        return jsonify(anthropic_render.model_info(_model(model_id), model_id))
    return jsonify(_model(model_id).as_openai(model_id))


def _anthropic_client() -> bool:
    """The anthropic SDKs list models at the same URL, always sending anthropic-version: they
    get Anthropic's shape."""
    return "anthropic-version" in http_request.headers
