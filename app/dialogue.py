"""A conversation a client asks the gateway to answer, in no client's words.

Every client surface's request parser (OpenAI chat completions, the Responses API, Anthropic's
Messages, Gemini's generateContent) builds a `Dialogue`: the messages with their files, tool
calls and tool results, the limits, the tools offered and the JSON asked for. From here on
nothing depends on the surface: `turn_of` writes the whole conversation as one upstream query
(a fresh upstream session knows nothing of it), `app/continuation.py` sends only the new
messages into the session that already holds the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

from .chat import Turn
from .errors import ApiError, bad_request
from .inputs import FileSource
from .tools.calls import Call
from .tools.prompt import calls_text, result_text, tools_block
from .tools.spec import NO_TOOLS, Tooling
from .tools.structured import OutputFormat, instructions
from .upstream.models import TEXT, Model

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
LABELS = {"user": "User", "assistant": "Assistant", "tool": "Tool result", "function": "Tool result"}


@dataclass(frozen=True)
class Message:
    role: str
    text: str
    name: str = ""
    files: tuple[FileSource, ...] = ()  # image_url / file parts, in their order (app/inputs.py)
    calls: tuple[Call, ...] = ()  # an assistant message's tool calls
    call_id: str = ""             # a tool result's tool_call_id (`name`: the tool it came from)


@dataclass(frozen=True)
class Dialogue:
    model: str                    # the name the client asked for (the catalogue resolves it)
    messages: tuple[Message, ...]
    stream: bool = False
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    tooling: Tooling = NO_TOOLS
    output_format: OutputFormat | None = None  # JSON the answer must be (app/tools/structured.py)


def turn_of(request: Dialogue, model: Model) -> Turn:
    """The files of every message go with the query (the whole transcript is sent each time,
    so are its files); they are loaded as the answer starts (Turn.sources, app/answer/driver.py)."""
    prompt = render_query(request.messages, request.tooling)
    sources = tuple(source for m in request.messages for source in m.files)
    if not prompt.strip() and not sources:
        raise ApiError(400, "messages contain no text to send", param="messages", code="invalid_value")
    prompt += asked(request)
    return Turn(text=prompt, model=model, sources=sources, max_tokens=request.max_tokens, stop=request.stop,
                tooling=request.tooling, output_format=request.output_format)


def asked(request: Dialogue) -> str:
    """What ends every query of `request`, whole or continued, after the tools: the JSON it asks for."""
    return instructions(request.output_format) if request.output_format else ""


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


def refuse_format_for_media(request: Dialogue, model: Model, param: str) -> None:
    """JSON output needs a text model: an image or video model's answer is a file (`param`: the
    field the surface's client set the format in)."""
    if request.output_format is not None and model.kind != TEXT:
        raise bad_request(f"{param} needs a text model; {request.model} makes {model.kind}s", param,
                          "unsupported_value")
