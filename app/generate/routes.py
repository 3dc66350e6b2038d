"""Gemini's own API, for Gemini-native clients (the google-genai SDKs): models/{model}
:generateContent and :streamGenerateContent (server-sent events with `?alt=sse`, which the SDK
asks for; a JSON array otherwise) and :countTokens (an estimate) under /v1beta and under /v1 (the Python SDK's default version
since 3.0; no path of OpenAI's API takes a POST there); the catalogue in Gemini's shape at
/v1beta/models and /v1beta/models/{model} (/v1/models is OpenAI's).

The key comes as Gemini's clients send it (`x-goog-api-key`, or `?key=`) or as on /v1; it is one
of the same client keys. Errors are Google's envelope (render.error_body).
"""
from __future__ import annotations

import logging
from functools import partial

from flask import Blueprint, current_app, jsonify, request as http_request

from .. import chat, exchange
from ..answer.driver import respond
from ..auth import client_id, require_gemini_client
from ..body import json_body
from ..continuation import plan
from ..dialogue import Message, refuse_format_for_media, turn_of
from ..errors import ApiError, use_envelope
from ..openai.fields import expect
from ..output import estimate_tokens
from ..tools.calls import Call
from ..upstream.models import Model
from .render import StreamRenderer, envelope, whole
from .request import parse_generate

log = logging.getLogger("gbp.generate")
bp = Blueprint("generate", __name__)
bp.before_request(require_gemini_client)
use_envelope(bp, envelope, paths=("/v1beta/",))

ACTIONS = ("generateContent", "streamGenerateContent", "countTokens")



def _services() -> chat.Services:
    return current_app.extensions["gbp"]


def _model(name: str) -> Model:
    return _services().catalogue.choose(name)  # ModelUnavailable: a 404/400 naming the model


def answered(text: str, shown: tuple, calls: tuple) -> Message:
    """The model's turn as the client sends it back: its text parts (a thought part is not part
    of the conversation) and its function calls; the files it made are not sent upstream again."""
    return Message("assistant", text, calls=tuple(Call(call_id, name, arguments) for call_id, name, arguments in calls))


@bp.post("/v1beta/models/<path:target>")
@bp.post("/v1/models/<path:target>")
def generate(target: str):
    name, _, action = target.rpartition(":")
    if action not in ACTIONS or not name:
        raise ApiError(404, f"Unknown method '{action or target}': this gateway serves "
                            f"models/{{model}}:{', :'.join(ACTIONS)}.", code="unknown_url")
    if action == "countTokens":
        return count_tokens(name)
    exchange.note_metered()  # usage once its model is known (app/usage/)
    stream = action == "streamGenerateContent"
    request = parse_generate(json_body(), name, stream)
    model = _model(request.model)
    refuse_format_for_media(request, model, "generationConfig.responseMimeType")
    turn = plan(request, model, current_app.extensions["gbp.conversations"], client_id(), answered)
    renderer = StreamRenderer(request.model, request.include_thoughts, http_request.args.get("alt") == "sse")
    return respond(_services(), turn, stream, renderer, partial(whole, request.model, request.include_thoughts), log)


def count_tokens(name: str):
    """An estimate of the query this request would send (~4 characters a token; files are not
    counted), as the usage of an answer reports it: Gemini Business counts nothing. The body is
    `{"contents", ...}` (the SDK's) or `{"generateContentRequest": {...}}`."""
    body = json_body()
    inner = body.get("generateContentRequest")
    if inner is not None:
        body = expect(inner, dict, "generateContentRequest")
    request = parse_generate(body, name, False)
    turn = turn_of(request, _model(request.model))
    return jsonify({"totalTokens": estimate_tokens(turn.text)})


def _model_body(model: Model, name: str | None = None) -> dict:
    shown = name or model.id
    return {"name": f"models/{shown}", "baseModelId": shown, "version": model.id, "displayName": shown,
            "description": f"Gemini Business {model.kind} model {model.id}, through gemini-business-proxy",
            "supportedGenerationMethods": list(ACTIONS)}


@bp.get("/v1beta/models")
def list_models():
    return jsonify({"models": [_model_body(m) for m in _services().catalogue.all()]})


@bp.get("/v1beta/models/<path:name>")
def get_model(name: str):
    return jsonify(_model_body(_model(name), name))
