"""A Chat Completions request -> the Turn (its messages as one upstream query, the files of its
content parts to load); the usage estimate in OpenAI's shape."""
from __future__ import annotations

from ..chat import Turn
from ..errors import ApiError
from ..answer.events import Usage
from ..output import estimate_usage
from ..tools.prompt import calls_text, result_text, tools_block
from ..tools.spec import NO_TOOLS, Tooling
from ..tools.structured import instructions
from ..upstream.models import Model
from .request import ChatRequest, Message

LABELS = {"user": "User", "assistant": "Assistant", "tool": "Tool result", "function": "Tool result"}


def turn_of(request: ChatRequest, model: Model) -> Turn:
    """The files of every message go with the query (the whole transcript is sent each time,
    so are its files); they are loaded as the answer starts (Turn.sources, app/answer/driver.py)."""
    prompt = render_query(request.messages, request.tooling)
    sources = tuple(source for m in request.messages for source in m.files)
    if not prompt.strip() and not sources:
        raise ApiError(400, "messages contain no text to send", param="messages", code="invalid_value")
    prompt += asked(request)
    return Turn(text=prompt, model=model, sources=sources, max_tokens=request.max_tokens, stop=request.stop,
                tooling=request.tooling, output_format=request.response_format)


def asked(request: ChatRequest) -> str:
    """What ends every query of `request`, whole or continued, after the tools: the JSON it asks for."""
    return instructions(request.response_format) if request.response_format else ""


def render_query(messages: tuple[Message, ...], tooling: Tooling = NO_TOOLS) -> str:
    """The whole conversation as the text of one upstream query.

    Each request opens a fresh upstream session, so the history must travel in the query:
    system/developer text first as instructions, then the turns as a labelled transcript.
    A lone user message goes as it is, exactly what the web app would send. An assistant
    turn's tool calls and the tools' results are written in the tool protocol's markers
    (app/tools/prompt.py), and the offered tools come last, on every turn that offers them.
    """
    system = [m.text for m in messages if m.role in ("system", "developer") and m.text.strip()]
    turns = [m for m in messages if m.role not in ("system", "developer")]
    parts = []
    if system:
        parts.append("<system>\n" + "\n\n".join(system) + "\n</system>")
    if len(turns) == 1 and turns[0].role == "user":
        parts.append(turns[0].text)
    else:
        parts.extend(f"{LABELS[m.role]}: {_turn_text(m)}" for m in turns)
    block = tools_block(tooling)
    if block:
        parts.append(block)
    return "\n\n".join(parts)


def _turn_text(message: Message) -> str:
    if message.role in ("tool", "function"):
        return result_text(message.call_id, message.name, message.text)
    if message.calls:
        return "\n".join([message.text] * bool(message.text) + [calls_text(message.calls)])
    return message.text


def usage(prompt: str, text: str, thoughts: str) -> dict:
    return usage_body(estimate_usage(prompt, text, thoughts))


def usage_body(estimate: Usage) -> dict:
    reasoning = estimate.reasoning_tokens
    completion = estimate.text_tokens + reasoning
    return {
        "prompt_tokens": estimate.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": estimate.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": estimate.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }

