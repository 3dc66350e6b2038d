"""Validate an OpenAI Responses API body (`POST /v1/responses`) into a ResponsesRequest: the
neutral conversation (the same ChatRequest the chat surface builds: messages, tools, output
format, limits) plus the fields the Response object echoes back.

`input` is a string (one user message) or items: messages (`input_text`, `input_image`,
`input_file` parts; an assistant's `output_text` / `refusal`), `function_call` items (joined to
the assistant message before them, as a chat assistant message holds its tool_calls) and
`function_call_output` items (tool results), `reasoning` items (the model's earlier thoughts:
not part of the transcript the model is shown, so skipped). `instructions` goes first as
system text. Function tools (flat, or grouped in a `namespace`) become a Tooling; `web_search`
is the upstream's own Google Search grounding, always on for text models, so it is accepted;
other built-in tools the upstream has no equivalent of are refused naming them. Wrong types
are a 400 naming the `param`; unknown fields are ignored.
"""
from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field

from ..errors import bad_request
from ..inputs import FileSource
from ..openai.fields import expect, optional
from ..dialogue import Dialogue, Message
from ..openai.render import FILE_SEPARATOR
from ..openai.request import model_of, output_format
from ..openai.tooling import MAX_TOOLS, function_specs, tool_choice
from ..tools.calls import Call
from ..tools.spec import AUTO, NO_TOOLS, ToolChoice, Tooling
from ..tools.structured import OutputFormat

ROLES = ("user", "assistant", "system", "developer")
# the upstream searches the web by itself (webGroundingSpec on every text query): these are honoured
SEARCH_TOOLS = ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11")
TEXT_PARTS = ("input_text", "output_text", "text")
MAX_METADATA = 16


@dataclass(frozen=True)
class ResponsesRequest:
    dialogue: Dialogue                    # the conversation, in the neutral shape every surface builds
    echo: dict = field(default_factory=dict)  # request fields the Response object repeats
    namespaces: dict = field(default_factory=dict)  # tool name → its namespace (a namespaced call says it)
    previous_response_id: str | None = None
    store: bool = True


def parse_responses(body: dict) -> ResponsesRequest:
    model = model_of(body)
    stream = optional(body, "stream", bool) or False
    store = optional(body, "store", bool)
    previous = optional(body, "previous_response_id", str)
    _refuse_unsupported(body)
    instructions = optional(body, "instructions", str)
    messages = _messages(body.get("input"), previous is not None)
    if instructions:
        messages = (Message("system", instructions), *messages)
    tooling, namespaces = _tooling(body)
    output_format = _output_format(body)
    max_tokens = optional(body, "max_output_tokens", int)
    if max_tokens is not None and max_tokens < 1:
        raise bad_request("max_output_tokens must be at least 1", "max_output_tokens")
    dialogue = Dialogue(model=model, messages=messages, stream=stream, max_tokens=max_tokens,
                        tooling=tooling, output_format=output_format)
    return ResponsesRequest(dialogue, _echo(body, instructions, max_tokens), namespaces, previous,
                            store is not False)


def _messages(value, continued: bool) -> tuple[Message, ...]:
    if value is None:
        if continued:
            return ()
        raise bad_request("you must provide an input parameter", "input", "missing_required_parameter")
    if isinstance(value, str):
        return (Message("user", value),)
    if not isinstance(value, list):
        raise bad_request("input must be a string or an array of input items", "input", "invalid_type")
    out: list[Message] = []
    called: dict[str, str] = {}  # call id → tool name, so a result names the tool it came from
    for i, item in enumerate(value):
        where = f"input[{i}]"
        expect(item, dict, where)
        kind = item.get("type", "message")
        if kind == "message":
            message = _message(item, where)
            last = out[-1] if out else None
            if message.role == "assistant" and last is not None and last.role == "assistant" and not last.calls:
                # one answer's messages (its text, then each generated file's link): one assistant
                # turn, as the answer it was given is recorded (app/continuation.py)
                out[-1] = Message("assistant", FILE_SEPARATOR.join(t for t in (last.text, message.text) if t))
            else:
                out.append(message)
        elif kind == "function_call":
            call = _call(item, where)
            called[call.id] = call.name
            last = out[-1] if out else None
            if last is not None and last.role == "assistant":  # the calls of the answer whose text came before
                out[-1] = Message("assistant", last.text, last.name, last.files, (*last.calls, call))
            else:
                out.append(Message("assistant", "", calls=(call,)))
        elif kind == "function_call_output":
            # Codex also sends outputs of its own making, with a `name` and no call_id
            call_id = optional(item, "call_id", str, f"{where}.call_id") or ""
            name = called.get(call_id) or optional(item, "name", str, f"{where}.name") or ""
            text, files = _output(item.get("output"), f"{where}.output")
            out.append(Message("tool", text, name, files, call_id=call_id))
        elif kind == "reasoning":
            continue  # the model's earlier thoughts: it is never shown them again
        elif kind == "item_reference":
            raise bad_request(f"{where}: item references need stored responses; send the item itself",
                              f"{where}.type", "unsupported_value")
        else:
            raise bad_request(f"{where}.type {kind!r} is not supported: send message, function_call, "
                              "function_call_output or reasoning items", f"{where}.type", "unsupported_value")
    if not out and not continued:
        raise bad_request("input must contain at least one item", "input")
    return tuple(out)


def _message(item: dict, where: str) -> Message:
    role = item.get("role")
    if role not in ROLES:
        raise bad_request(f"{where}.role must be one of {', '.join(ROLES)}", f"{where}.role")
    content = item.get("content")
    if isinstance(content, str):
        return Message(role, content)
    if content is None:
        raise bad_request(f"{where}.content is required", f"{where}.content", "missing_required_parameter")
    if not isinstance(content, list):
        raise bad_request(f"{where}.content must be a string or an array of content parts", f"{where}.content",
                          "invalid_type")
    text, files = _parts(content, f"{where}.content", role)
    return Message(role, text, files=files)


def _parts(parts: list, where: str, role: str) -> tuple[str, tuple[FileSource, ...]]:
    texts, files = [], []
    for j, part in enumerate(parts):
        here = f"{where}[{j}]"
        expect(part, dict, here)
        kind = part.get("type")
        if kind in TEXT_PARTS:
            texts.append(expect(part.get("text"), str, f"{here}.text"))
        elif kind == "refusal" and role == "assistant":
            texts.append(expect(part.get("refusal"), str, f"{here}.refusal"))
        elif kind in ("input_image", "input_file") and role in ("assistant", "system", "developer"):
            raise bad_request(f"{here}: {kind} parts are taken in user messages and tool outputs only", here,
                              "unsupported_value")
        elif kind == "input_image":
            files.append(_image(part, here))
        elif kind == "input_file":
            files.append(_file(part, here))
        else:
            raise bad_request(f"{here}.type must be one of input_text, input_image, input_file"
                              + (", output_text, refusal" if role == "assistant" else ""), f"{here}.type",
                              "unsupported_value" if kind == "input_audio" else "invalid_value")
    return "\n".join(texts), tuple(files)


def _image(part: dict, here: str) -> FileSource:
    url = part.get("image_url")
    if url is None:
        if part.get("file_id") is not None:
            raise bad_request(f"{here}.file_id: uploaded files are not supported; send image_url as a data URL "
                              "or an http(s) URL", f"{here}.file_id", "unsupported_value")
        raise bad_request(f"{here}.image_url is required", f"{here}.image_url", "missing_required_parameter")
    return FileSource(expect(url, str, f"{here}.image_url"), f"{here}.image_url", image=True, remote=True)


def _file(part: dict, here: str) -> FileSource:
    name = optional(part, "filename", str, f"{here}.filename") or ""
    data = part.get("file_data")
    if data is None:
        which = "file_id" if part.get("file_id") is not None else "file_url" if part.get("file_url") is not None else None
        if which:
            raise bad_request(f"{here}.{which}: only files sent inline are supported; send file_data "
                              "(a data URL, or base64 with a filename)", f"{here}.{which}", "unsupported_value")
        raise bad_request(f"{here}.file_data is required", f"{here}.file_data", "missing_required_parameter")
    expect(data, str, f"{here}.file_data")
    if data[:5].lower() == "data:":
        return FileSource(data, f"{here}.file_data", name=name)
    mime = mimetypes.guess_type(name)[0] if name else None
    if not mime:  # bare base64 says nothing of its type: the filename must
        raise bad_request(f"{here}.file_data: send a data URL (data:<type>;base64,…), or base64 with a "
                          "filename whose extension gives its type", f"{here}.file_data")
    return FileSource("", f"{here}.file_data", name=name, encoded=data, mime_type=mime,
                      mime_param=f"{here}.filename")


def _call(item: dict, where: str) -> Call:
    call_id = expect(item.get("call_id"), str, f"{where}.call_id")
    name = expect(item.get("name"), str, f"{where}.name")
    arguments = item.get("arguments")
    return Call(call_id, name, "{}" if arguments is None else expect(arguments, str, f"{where}.arguments"))


def _output(value, where: str) -> tuple[str, tuple[FileSource, ...]]:
    """A tool's output: a string, or content parts (text, images, files)."""
    if value is None:
        raise bad_request(f"{where} is required", where, "missing_required_parameter")
    if isinstance(value, str):
        return value, ()
    if not isinstance(value, list):
        raise bad_request(f"{where} must be a string or an array of content parts", where, "invalid_type")
    return _parts(value, where, "tool")


def _tooling(body: dict) -> tuple[Tooling, dict]:
    tools = optional(body, "tools", list) or []
    if len(tools) > MAX_TOOLS:
        raise bad_request(f"tools may hold at most {MAX_TOOLS} tools", "tools")
    functions: list[tuple[str, dict]] = []
    namespaces: dict[str, str] = {}
    for k, tool in enumerate(tools):
        here = f"tools[{k}]"
        expect(tool, dict, here)
        kind = tool.get("type")
        if kind == "function":
            functions.append((here, tool))
        elif kind == "namespace":  # a group of function tools: each offered by its name, the call says its namespace
            space = expect(tool.get("name"), str, f"{here}.name")
            for j, inner in enumerate(expect(tool.get("tools"), list, f"{here}.tools")):
                there = f"{here}.tools[{j}]"
                expect(inner, dict, there)
                if inner.get("type") != "function":
                    raise bad_request(f"{there}.type: only function tools are supported in a namespace",
                                      f"{there}.type", "unsupported_value")
                functions.append((there, inner))
                namespaces[inner.get("name")] = space
        elif kind in SEARCH_TOOLS:
            continue
        else:
            raise bad_request(f"{here}.type: the built-in tool {kind!r} is not available on Gemini Business; "
                              "function tools and web_search are", f"{here}.type", "unsupported_value")
    specs = function_specs(functions)
    choice = _tool_choice(body.get("tool_choice"), specs)
    parallel = optional(body, "parallel_tool_calls", bool)
    if not specs:
        return NO_TOOLS, {}
    return Tooling(specs, choice, parallel=parallel is not False), namespaces


def _tool_choice(value, specs) -> ToolChoice:
    if isinstance(value, dict) and value.get("type") in SEARCH_TOOLS:  # the upstream decides when it searches
        return ToolChoice(AUTO)
    return tool_choice(value, specs, flat=True)


def _output_format(body: dict) -> OutputFormat | None:
    text = optional(body, "text", dict)
    return output_format(optional(text, "format", dict, "text.format") if text else None, "text.format", flat=True)


def _refuse_unsupported(body: dict) -> None:
    for name in ("temperature", "top_p"):
        optional(body, name, float)
    for name in ("reasoning", "stream_options", "client_metadata", "prompt_cache_options"):
        optional(body, name, dict)
    for name in ("user", "prompt_cache_key", "safety_identifier", "service_tier", "truncation"):
        optional(body, name, str)
    optional(body, "include", list)
    metadata = optional(body, "metadata", dict)
    if metadata is not None and (len(metadata) > MAX_METADATA or not all(isinstance(v, str) for v in metadata.values())):
        raise bad_request(f"metadata may hold at most {MAX_METADATA} string values", "metadata")
    if optional(body, "background", bool):
        raise bad_request("background responses are not supported", "background", "unsupported_parameter")
    if body.get("conversation") is not None:
        raise bad_request("conversations are not supported; send previous_response_id or the whole input",
                          "conversation", "unsupported_parameter")
    if body.get("prompt") is not None:
        raise bad_request("prompt templates are not supported; send input", "prompt", "unsupported_parameter")
    if optional(body, "top_logprobs", int):
        raise bad_request("logprobs are not available from Gemini Business", "top_logprobs", "unsupported_parameter")


def _echo(body: dict, instructions: str | None, max_tokens: int | None) -> dict:
    """What the Response object says of its request (the SDK's Response type requires some)."""
    text = body.get("text") if isinstance(body.get("text"), dict) else {}
    return {
        "instructions": instructions,
        "max_output_tokens": max_tokens,
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None, **(body.get("reasoning") or {})},
        "store": body.get("store") is not False,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, **text},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation") or "disabled",
        "user": body.get("user"),
    }
