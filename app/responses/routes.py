"""The Responses API surface: POST /v1/responses (streamed or whole)."""
from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial

from flask import Blueprint, current_app

from .. import chat, exchange
from ..answer.driver import respond
from ..auth import client_id, require_client
from ..body import json_body
from ..continuation import plan
from ..dialogue import refuse_format_for_media
from ..openai.render import answer_message
from .render import EventRenderer, ResponseShape, whole
from .request import parse_responses
from .store import Keeping, follow, input_items

log = logging.getLogger("gbp.responses")
bp = Blueprint("responses", __name__, url_prefix="/v1")
bp.before_request(require_client)


def _services() -> chat.Services:
    return current_app.extensions["gbp"]


@bp.post("/responses")
def create_response():
    exchange.note_metered()  # usage once its model is known (app/usage/)
    body = json_body()
    request = parse_responses(body)
    client, stored = client_id(), current_app.extensions["gbp.responses"]
    dialogue = request.dialogue
    lead = 1 if request.echo["instructions"] else 0  # the instructions, first: never carried over
    if request.previous_response_id is not None:  # its conversation, then this request's input
        earlier = stored.find(client, request.previous_response_id, "previous_response_id").messages
        dialogue = replace(dialogue, messages=follow(dialogue.messages, earlier, lead))
    services = _services()
    model = services.catalogue.choose(dialogue.model)  # ModelUnavailable: a 404/400 naming the model
    refuse_format_for_media(dialogue, model, "text.format")
    # the client sends an answer back as output items: the message (text, then each file's link)
    # and the function calls, which the parser reads as one assistant message, as chat's
    turn = plan(dialogue, model, current_app.extensions["gbp.conversations"], client,
                partial(answer_message, False))
    shape = ResponseShape(dialogue.model, request.echo)
    renderer, render_whole = EventRenderer(shape, request.namespaces), partial(whole, shape, request.namespaces)
    if request.store:  # kept for GET, input_items and a follow-up (app/responses/store.py)
        keep = Keeping(stored, client, input_items(body.get("input")), dialogue.messages[lead:])
        renderer, render_whole = keep.streamed(renderer), _then(render_whole, keep)
    return respond(services, turn, dialogue.stream, renderer, render_whole, log)


def _then(first, second):
    return lambda value: second(first(value))
