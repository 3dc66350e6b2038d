"""A Dialogue whose conversation the gateway already sent upstream → a Turn with only the new
messages, on that conversation's account and session (app/conversations.py).

Otherwise the Turn of the whole transcript (dialogue.turn_of), as when the feature is off.
Either way the Turn records, once its answer completed whole, where the conversation now lives,
so its next turn can continue there. What the client will send back as the answer it was given
depends on the surface (OpenAI: the content with its Markdown links and tool_calls), so the
surface says it: `Answered`.
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Callable

from .chat import Turn
from .conversations import Conversations, Place, split
from .dialogue import Dialogue, Message, asked, render_query, turn_of
from .upstream.models import Model

# (text, files shown, calls as (id, name, arguments)) → the assistant Message the client will
# send back in its next request for the answer it was given
Answered = Callable[[str, tuple, tuple], Message]


def plan(request: Dialogue, model: Model, index: Conversations, client: str, answered: Answered) -> Turn:
    """The Turn to send for `request` from the caller `client` (app/auth.py client_id)."""
    if not index.enabled:
        return turn_of(request, model)
    context = request.tooling.digest()  # a changed tool list or choice is another conversation
    record = partial(_record, index, client, model.id, request.messages, context, answered)

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
                fallback=whole, output_format=request.output_format)


def _record(index: Conversations, client: str, model: str, messages: tuple[Message, ...], context: str,
            answered: Answered, account_id: str, session: str, files: tuple, text: str, shown: tuple,
            calls: tuple) -> None:
    """The conversation with the answer the client was given is at (account, session)."""
    index.keep(client, model, (*messages, answered(text, shown, calls)), Place(account_id, session, files), context)
