"""Validate an Anthropic Messages request body (POST /v1/messages, /v1/messages/count_tokens)
into the neutral request: messages, tools, limits.

What Claude Code sends is taken as it comes (agent-clients.md): a `system` role inside
`messages`, `cache_control` on any block, `thinking: {type: "adaptive"}`, `context_management`,
`output_config`, `defer_loading` tools, `metadata`, the beta header. Fields that only tune a model
(temperature, top_p, top_k, effort) are checked for their type and otherwise have no effect:
Gemini Business takes none of them. A wrong type is a 400 naming the field, in Anthropic's
envelope (render.anthropic_envelope).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..dialogue import Dialogue, Message
from ..errors import bad_request
from ..inputs import FileSource
from ..openai.fields import expect, optional, required_text
from ..openai.tooling import function_specs
from ..tools import structured
from ..tools.calls import Call
from ..tools.spec import AUTO, NAMED, NO_TOOLS, NONE, REQUIRED, ToolChoice, ToolSpec, Tooling
from ..tools.structured import OutputFormat

ROLES = ("user", "assistant", "system")  # `system` inside messages: Claude Code sends one
NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")  # Anthropic's rule for a tool's name
MAX_TOOLS = 128  # each tool's schema is checked, and all of them go into every query
PDF = "application/pdf"
# A document fetched by URL: Anthropic's url source is a PDF
DOCUMENT_TYPES = (PDF,)
THINKING_TYPES = ("enabled", "adaptive", "disabled")
SHOWN, OMITTED, OFF = "shown", "omitted", "off"  # what thinking blocks hold (MessagesRequest.thinking)
FILE_BLOCKS = ("image", "document")
# Claude Code's first system block is metadata for Anthropic's billing, not words to the model
# (its version and entry point); it is left out of the query
BILLING_HEADER = "x-anthropic-billing-header:"
WEB_SEARCH = "web_search_"  # Anthropic's web search server tool: web_search_20250305, web_search_20260209…


@dataclass(frozen=True)
class MessagesRequest(Dialogue):
    thinking: str = OFF  # SHOWN: thinking blocks with the upstream's thoughts; OMITTED: empty ones; OFF: none


def parse_messages(body: dict, count_only: bool = False) -> MessagesRequest:
    """`count_only`: the body of count_tokens (no max_tokens, no stream)."""
    model = required_text(body, "model", "model: Field required")
    max_tokens = None
    if not count_only:
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise bad_request("max_tokens: Field required", "max_tokens", "missing_required_parameter")
        expect(max_tokens, int, "max_tokens")
        if max_tokens < 1:
            raise bad_request("max_tokens: must be greater than or equal to 1", "max_tokens")
    _tuning(body)
    optional(body, "metadata", dict)
    if optional(body, "mcp_servers", list):  # ignored, the answer would lack the tools the client counts on
        raise bad_request("mcp_servers: remote MCP servers are not available through this gateway (Gemini Business "
                          "calls no tools itself); offer their tools as custom tools and run them in the client",
                          "mcp_servers", "unsupported_value")
    tools, searches = _tools(body.get("tools"))
    messages = (*_system(body.get("system")), *_messages(body.get("messages")))
    return MessagesRequest(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        stream=False if count_only else bool(optional(body, "stream", bool)),
        stop=_stop(body.get("stop_sequences")),
        tooling=_tooling(tools, searches, body.get("tool_choice")),
        output_format=_output_format(body.get("output_config")),
        thinking=_thinking(body.get("thinking")),
    )


def _tuning(body: dict) -> None:
    """Sampling fields: their types are checked; Gemini Business takes none of them."""
    temperature = optional(body, "temperature", float)
    if temperature is not None and not 0 <= temperature <= 1:
        raise bad_request("temperature: must be between 0 and 1", "temperature")
    top_p = optional(body, "top_p", float)
    if top_p is not None and not 0 <= top_p <= 1:
        raise bad_request("top_p: must be between 0 and 1", "top_p")
    optional(body, "top_k", int)


def _thinking(value) -> str:
    if value is None:
        return OFF
    expect(value, dict, "thinking")
    kind = value.get("type")
    if kind not in THINKING_TYPES:
        raise bad_request(f"thinking.type must be one of {', '.join(THINKING_TYPES)}", "thinking.type")
    if kind == "disabled":
        return OFF
    if kind == "enabled":
        budget = value.get("budget_tokens")
        if budget is not None:
            expect(budget, int, "thinking.budget_tokens")
    display = optional(value, "display", str, "thinking.display")
    if display not in (None, "summarized", "omitted"):
        raise bad_request("thinking.display must be summarized or omitted", "thinking.display")
    return OMITTED if display == "omitted" else SHOWN


def _stop(value) -> tuple[str, ...]:
    if value is None:
        return ()
    expect(value, list, "stop_sequences")
    for k, item in enumerate(value):
        expect(item, str, f"stop_sequences[{k}]")
    return tuple(s for s in value if s)


def _output_format(value) -> OutputFormat | None:
    """output_config: `effort` is accepted (no upstream equivalent); `format` json_schema is
    structured output (app/tools/structured.py)."""
    if value is None:
        return None
    expect(value, dict, "output_config")
    optional(value, "effort", str, "output_config.effort")
    fmt = optional(value, "format", dict, "output_config.format")
    if fmt is None:
        return None
    if fmt.get("type") != "json_schema":
        raise bad_request("output_config.format.type must be json_schema", "output_config.format.type")
    schema = fmt.get("schema")
    if schema is None:
        raise bad_request("output_config.format.schema: Field required", "output_config.format.schema",
                          "missing_required_parameter")
    expect(schema, dict, "output_config.format.schema")
    return structured.json_schema(schema, "output", param="output_config.format")


# --- system and messages -----------------------------------------------------------------------
def _system(value) -> tuple[Message, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (Message("system", value),) if value.strip() else ()
    expect(value, list, "system")
    texts = []
    for k, block in enumerate(value):
        here = f"system[{k}]"
        expect(block, dict, here)
        if block.get("type") != "text":
            raise bad_request(f"{here}.type must be text", f"{here}.type")
        text = expect(block.get("text"), str, f"{here}.text")
        if not text.startswith(BILLING_HEADER):
            texts.append(text)
    text = "\n\n".join(t for t in texts if t.strip())
    return (Message("system", text),) if text else ()


def _messages(value) -> tuple[Message, ...]:
    if value is None:
        raise bad_request("messages: Field required", "messages", "missing_required_parameter")
    expect(value, list, "messages")
    if not value:
        raise bad_request("messages: at least one message is required", "messages")
    out: list[Message] = []
    called: dict[str, str] = {}  # tool_use id → tool name, so a result names the tool it came from
    for i, message in enumerate(value):
        where = f"messages[{i}]"
        expect(message, dict, where)
        role = message.get("role")
        if role not in ROLES:
            raise bad_request(f"{where}.role must be one of {', '.join(ROLES)}", f"{where}.role")
        content = message.get("content")
        if content is None:
            raise bad_request(f"{where}.content: Field required", f"{where}.content", "missing_required_parameter")
        if isinstance(content, str):
            out.append(Message(role, content))
            continue
        expect(content, list, f"{where}.content")
        out.extend(_blocks(content, f"{where}.content", role, called))
    return tuple(out)


def _blocks(blocks: list, where: str, role: str, called: dict[str, str]) -> list[Message]:
    """One message's blocks → Messages: a user message's tool results each become a `tool`
    message (they come first, as Anthropic requires), its other blocks one user message; an
    assistant message's text and tool uses one assistant message with calls."""
    texts: list[str] = []
    files: list[FileSource] = []
    calls: list[Call] = []
    results: list[Message] = []
    for j, block in enumerate(blocks):
        here = f"{where}[{j}]"
        expect(block, dict, here)
        kind = block.get("type")
        if kind == "text" or (kind in FILE_BLOCKS and role == "user"):
            _take(block, here, texts, files)
        elif kind in ("thinking", "redacted_thinking"):
            continue  # the model's earlier thoughts: not sent again (the upstream keeps none of them)
        elif kind == "tool_use" and role == "assistant":
            call = _call(block, here)
            called[call.id] = call.name
            calls.append(call)
        elif kind == "tool_result" and role == "user":
            results.append(_result(block, here, called))
        elif kind in ("tool_use", "tool_result", *FILE_BLOCKS):
            raise bad_request(f"{here}: {kind} blocks are taken in "
                              f"{'assistant' if kind == 'tool_use' else 'user'} messages only", f"{here}.type")
        else:
            raise bad_request(f"{here}.type must be one of text, image, document, tool_use, tool_result, "
                              "thinking", f"{here}.type")
    text = "\n".join(texts)
    rest = [Message(role, text, files=tuple(files), calls=tuple(calls))] if text or files or calls or not results else []
    return results + rest


def _take(block: dict, here: str, texts: list[str], files: list[FileSource]) -> None:
    """A text, image or document block into the message's text and files."""
    if block.get("type") == "text":
        texts.append(expect(block.get("text"), str, f"{here}.text"))
        return
    text, source = _file(block, here)
    texts.extend([text] * bool(text))
    files.extend([source] * bool(source))


def _call(block: dict, here: str) -> Call:
    call_id = expect(block.get("id"), str, f"{here}.id")
    name = expect(block.get("name"), str, f"{here}.name")
    arguments = block.get("input")
    arguments = {} if arguments is None else expect(arguments, dict, f"{here}.input")
    try:
        text = json.dumps(arguments, ensure_ascii=False)
    except (ValueError, RecursionError):
        raise bad_request(f"{here}.input cannot be written as JSON", f"{here}.input")
    return Call(call_id, name, text)


def _result(block: dict, here: str, called: dict[str, str]) -> Message:
    call_id = expect(block.get("tool_use_id"), str, f"{here}.tool_use_id")
    content = block.get("content")
    texts: list[str] = []
    files: list[FileSource] = []
    if isinstance(content, str):
        texts.append(content)
    elif content is not None:
        expect(content, list, f"{here}.content")
        for k, part in enumerate(content):
            there = f"{here}.content[{k}]"
            expect(part, dict, there)
            kind = part.get("type")
            if kind in ("text", *FILE_BLOCKS):
                _take(part, there, texts, files)
            elif kind == "search_result":
                texts.append(_search_result(part, there))
            elif kind == "tool_reference":  # a tool search's find (Claude Code's ToolSearch)
                texts.append(f"(tool: {expect(part.get('tool_name'), str, f'{there}.tool_name')})")
            else:
                raise bad_request(f"{there}.type must be one of text, image, document, search_result, "
                                  "tool_reference", f"{there}.type")
    text = "\n".join(texts)
    if optional(block, "is_error", bool, f"{here}.is_error"):
        text = "Error: " + text  # the tool failed; its message follows
    return Message("tool", text, called.get(call_id, ""), tuple(files), call_id=call_id)


def _search_result(part: dict, here: str) -> str:
    title = optional(part, "title", str, f"{here}.title") or ""
    source = optional(part, "source", str, f"{here}.source") or ""
    content = expect(part.get("content"), list, f"{here}.content")
    texts = [expect(expect(item, dict, f"{here}.content[{k}]").get("text"), str, f"{here}.content[{k}].text")
             for k, item in enumerate(content)]
    return "\n".join([f"{title} ({source})".strip()] + texts)


def _file(block: dict, here: str) -> tuple[str, FileSource | None]:
    """An image or document block: (text to put in the message, the file to upload)."""
    image = block.get("type") == "image"
    source = expect(block.get("source"), dict, f"{here}.source")
    kind = source.get("type")
    param = f"{here}.source"
    if kind == "base64":
        data = expect(source.get("data"), str, f"{param}.data")
        mime = expect(source.get("media_type"), str, f"{param}.media_type")
        if image and not mime.lower().startswith("image/"):
            raise bad_request(f"{param}.media_type must be an image type", f"{param}.media_type")
        return "", FileSource("", f"{param}.data", name=_title(block, here), image=image, encoded=data,
                              mime_type=mime, mime_param=f"{param}.media_type")
    if kind == "url":
        url = expect(source.get("url"), str, f"{param}.url")
        return "", FileSource(url, f"{param}.url", name=_title(block, here), image=image, remote=True,
                              remote_types=() if image else DOCUMENT_TYPES)
    if kind == "text" and not image:  # a plain-text document: its text goes in the query
        data = expect(source.get("data"), str, f"{param}.data")
        return _document(block, here, data), None
    if kind == "content" and not image:
        content = source.get("content")
        if isinstance(content, str):
            return _document(block, here, content), None
        expect(content, list, f"{param}.content")
        texts = []
        for k, part in enumerate(content):
            there = f"{param}.content[{k}]"
            expect(part, dict, there)
            if part.get("type") == "text":
                texts.append(expect(part.get("text"), str, f"{there}.text"))
            elif part.get("type") != "image":
                raise bad_request(f"{there}.type must be text or image", f"{there}.type")
        return _document(block, here, "\n".join(texts)), None
    if kind == "file":
        raise bad_request(f"{param}: files uploaded through the Files API are not supported; send the file as "
                          "base64 or a URL", f"{param}.type", "unsupported_value")
    kinds = "base64, url" if image else "base64, url, text, content"
    raise bad_request(f"{param}.type must be one of {kinds}", f"{param}.type")


def _title(block: dict, here: str) -> str:
    return optional(block, "title", str, f"{here}.title") or ""


def _document(block: dict, here: str, text: str) -> str:
    title = _title(block, here)
    context = optional(block, "context", str, f"{here}.context") or ""
    head = "<document" + (f' title="{title}"' if title else "") + ">"
    return "\n".join([head] + [context] * bool(context) + [text, "</document>"])


# --- tools ----------------------------------------------------------------------------------------
def _tools(value) -> tuple[tuple[ToolSpec, ...], frozenset[str]]:
    """Custom tools (`input_schema`), and the names of the web search server tools, which are
    honoured as they are: Gemini Business grounds its text answers in Google Search by itself
    (as the Responses API's web_search). Any other server tool (code execution, web fetch, bash,
    text editor, …) is a 400 naming it: Gemini Business runs none of them."""
    if value is None:
        return (), frozenset()
    expect(value, list, "tools")
    if len(value) > MAX_TOOLS:
        raise bad_request(f"tools may hold at most {MAX_TOOLS} tools", "tools")
    tools, searches = [], set()
    for k, item in enumerate(value):
        here = f"tools[{k}]"
        expect(item, dict, here)
        kind = item.get("type")
        if isinstance(kind, str) and kind.startswith(WEB_SEARCH):
            searches.add(optional(item, "name", str, f"{here}.name") or "web_search")
            continue
        if kind not in (None, "custom"):
            raise bad_request(f"{here}.type: the server tool {kind!r} is not available through this gateway "
                              "(Gemini Business runs none of Anthropic's server tools but its own web search); "
                              "offer a custom tool with an input_schema instead", f"{here}.type", "unsupported_value")
        optional(item, "defer_loading", bool, f"{here}.defer_loading")  # offered like the others: no tool search
        tools.append((here, item))
    specs = function_specs(tools, "input_schema", required=True, name_rule=NAME, longest=128)
    return specs, frozenset(searches)


CHOICES = {"auto": AUTO, "any": REQUIRED, "none": NONE, "tool": NAMED}


def _tooling(specs: tuple[ToolSpec, ...], searches: frozenset[str], value) -> Tooling:
    """`searches`: the web search tools offered, which the upstream runs by itself: a choice
    that forces one of them (or `any` with no other tool) forces nothing."""
    choice, parallel = ToolChoice(AUTO), True
    if value is not None:
        expect(value, dict, "tool_choice")
        kind = value.get("type")
        if kind not in CHOICES:
            raise bad_request("tool_choice.type must be one of auto, any, tool, none", "tool_choice.type")
        parallel = not optional(value, "disable_parallel_tool_use", bool, "tool_choice.disable_parallel_tool_use")
        if kind == "tool":
            name = expect(value.get("name"), str, "tool_choice.name")
            if name not in searches and not any(s.name == name for s in specs):
                raise bad_request(f"tool_choice.name: no tool named {name!r} was given", "tool_choice.name")
            choice = ToolChoice(AUTO) if name in searches else ToolChoice(NAMED, name)
        elif kind == "any" and not specs:
            if not searches:
                raise bad_request("tool_choice 'any' needs tools", "tool_choice")
        else:
            choice = ToolChoice(CHOICES[kind])
    if not specs:
        return NO_TOOLS
    return Tooling(specs, choice, parallel=parallel)
