"""The Responses API surface: POST /v1/responses (streamed or whole)."""
from __future__ import annotations

import logging
from functools import partial

from flask import Blueprint, current_app

from .. import chat
from ..answer.driver import respond
from ..auth import client_id, require_client
from ..body import json_body
from ..continuation import plan
from ..dialogue import refuse_format_for_media
from ..errors import bad_request
from ..openai.render import answer_message
from .render import EventRenderer, ResponseShape, whole
from .request import parse_responses

log = logging.getLogger("gbp.responses")
bp = Blueprint("responses", __name__, url_prefix="/v1")
bp.before_request(require_client)


def _services() -> chat.Services:
    return current_app.extensions["gbp"]


@bp.post("/responses")
def create_response():
    request = parse_responses(json_body())
    if request.previous_response_id is not None:
        raise bad_request("previous_response_id: stored responses are not available; send the whole input",
                          "previous_response_id", "previous_response_not_found")
    services = _services()
    dialogue = request.dialogue
    model = services.catalogue.choose(dialogue.model)  # ModelUnavailable: a 404/400 naming the model
    refuse_format_for_media(dialogue, model, "text.format")
    # the client sends an answer back as output items: the message (text, then each file's link)
    # and the function calls, which the parser reads as one assistant message, as chat's
    turn = plan(dialogue, model, current_app.extensions["gbp.conversations"], client_id(),
                partial(answer_message, False))
    shape = ResponseShape(dialogue.model, request.echo)
    return respond(services, turn, dialogue.stream, EventRenderer(shape, request.namespaces),
                   partial(whole, shape, request.namespaces), log)
