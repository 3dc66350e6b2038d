"""A Chat Completions request whose conversation the gateway already sent upstream → a Turn
with only the new messages, on that conversation's account and session (app/conversations.py).

Otherwise the Turn of the whole transcript (translate.turn_of), as when the feature is off.
Either way the Turn records, once its answer completed whole, where the conversation now lives,
so its next turn can continue there.
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial

from ..chat import Turn
from ..conversations import Conversations, Place, split
from ..errors import bad_request
from ..upstream.models import TEXT, Model
from ..tools.calls import Call
from .render import content_of
from .request import ChatRequest, Message
from .translate import asked, render_query, turn_of


def plan(request: ChatRequest, model: Model, index: Conversations, client: str) -> Turn:
    """The Turn to send for `request` from the caller `client` (app/auth.py client_id)."""
    if request.response_format is not None and model.kind != TEXT:  # its answer is a file, not JSON
        raise bad_request(f"response_format needs a text model; {request.model} makes {model.kind}s",
                          "response_format", "unsupported_value")
    if not index.enabled:
        return turn_of(request, model)
    context = request.tooling.digest()  # a changed tool list or choice is another conversation
    record = partial(_record, index, client, model.id, request.messages, context, request.tooling.legacy)

    def whole() -> Turn:
        return replace(turn_of(request, model), conversation=record)

    parts = split(request.messages)
    if parts is None:
        return whole()
    earlier, new = parts
    text = render_query(new, request.tooling)  # the tools block again: every turn carries it
    if not text.strip() and not any(m.files for m in new):
        return whole()  # nothing to send on its own: the transcript decides (and refuses an empty one)
    place = index.take(client, model.id, earlier, context)
    if place is None:
        return whole()
    sources = tuple(source for m in new for source in m.files)  # loaded as the answer starts (chat.loaded)
    return Turn(text=text + asked(request), model=model, sources=sources, account_id=place.account_id,
                session=place.session,
                max_tokens=request.max_tokens, stop=request.stop, session_files=dict(place.files),
                tooling=request.tooling,
                # the model reads the whole conversation (its session holds the rest): the usage
                # estimate counts what the client sent, not the bytes that went upstream
                prompt=render_query(request.messages, request.tooling) + asked(request), conversation=record,
                fallback=whole, output_format=request.response_format)


def _record(index: Conversations, client: str, model: str, messages: tuple[Message, ...], context: str,
            legacy: bool, account_id: str, session: str, files: tuple, text: str, shown: tuple,
            calls: tuple) -> None:
    """The conversation with the answer the client was given is at (account, session). A
    legacy `function_call` comes back with no id: it is recorded as the client will send it."""
    answer = Message("assistant", content_of(text, shown),
                     calls=tuple(Call("" if legacy else call_id, name, arguments) for call_id, name, arguments in calls))
    index.keep(client, model, (*messages, answer), Place(account_id, session, files), context)
