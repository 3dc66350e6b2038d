"""Anthropic's Messages API: POST /v1/messages (Claude Code, the anthropic SDKs) and
POST /v1/messages/count_tokens (an estimate).

The key comes as x-api-key or `Authorization: Bearer`; `anthropic-version` and `anthropic-beta`
are read by nobody (every version's shapes are taken), nor is `?beta=true`. Every error is in
Anthropic's envelope (render.anthropic_envelope), before the first byte and in-band.
"""
from __future__ import annotations

import logging
from functools import partial

from flask import Blueprint, current_app, jsonify

from .. import chat, exchange
from ..answer.driver import respond
from ..answer.events import Usage
from ..auth import client_id, require_anthropic_client
from ..body import json_body
from ..errors import use_envelope
from ..continuation import plan
from ..dialogue import refuse_format_for_media, turn_of
from ..output import estimate_tokens, estimate_usage
from .render import MessageRenderer, anthropic_envelope, answer_message, message
from .request import parse_messages

log = logging.getLogger("gbp.anthropic")
bp = Blueprint("anthropic", __name__, url_prefix="/v1")
bp.before_request(require_anthropic_client)
use_envelope(bp, anthropic_envelope, paths=("/v1/messages",))


def _services() -> chat.Services:
    return current_app.extensions["gbp"]


@bp.post("/messages")
def messages():
    exchange.note_metered()  # usage once its model is known (app/usage/)
    request = parse_messages(json_body())
    model = _services().catalogue.choose(request.model)  # ModelUnavailable: a 404/400 naming the model
    refuse_format_for_media(request, model, "output_config.format")
    turn = plan(request, model, current_app.extensions["gbp.conversations"], client_id(), answer_message)
    renderer = MessageRenderer(request.model, prompt_usage(turn), request.thinking)
    return respond(_services(), turn, request.stream, renderer,
                   partial(message, request.model, thinking=request.thinking), log)


@bp.post("/messages/count_tokens")
def count_tokens():
    """The estimate the usage of an answer to this request would report as its input (the
    query's text, ~4 characters a token; files are not counted): Gemini Business counts nothing."""
    request = parse_messages(json_body(), count_only=True)
    turn = turn_of(request, _services().catalogue.choose(request.model))
    return jsonify({"input_tokens": estimate_tokens(turn.text)})


def prompt_usage(turn: chat.Turn) -> Usage:
    """What message_start reports before anything is answered: the prompt's estimate, and of it
    what a continued upstream session already holds (as chat.Answer.events counts them)."""
    if turn.prompt is None:
        return estimate_usage(turn.text, "", "")
    return estimate_usage(turn.prompt, "", "", max(0, estimate_tokens(turn.prompt) - estimate_tokens(turn.text)))
