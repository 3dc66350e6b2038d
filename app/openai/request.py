"""Validate a Chat Completions request body into a ChatRequest.

Wrong types are a 400 naming the `param`; unknown fields are ignored; parameters whose
silent omission would change the answer (n>1, logprobs, audio parts) are refused with
`unsupported_value`/`unsupported_parameter` until they are built.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import bad_request
from ..dialogue import ROLES, Dialogue, Message
from ..inputs import FileSource
from ..tools import structured
from ..tools.structured import OutputFormat
from .fields import expect, messages_array, optional, required_text
from .tooling import calls_of, tooling_of

@dataclass(frozen=True)
class ChatRequest(Dialogue):
    include_usage: bool = False   # stream_options.include_usage: a last chunk with the usage


def parse_chat(body: dict) -> ChatRequest:
    model = model_of(body)
    stream = optional(body, "stream", bool) or False
    options = optional(body, "stream_options", dict) or {}
    include_usage = optional(options, "include_usage", bool, "stream_options.include_usage") or False
    _refuse_unsupported(body)
    return ChatRequest(
        model=model,
        messages=_messages(body.get("messages")),
        stream=stream,
        include_usage=include_usage and stream,
        max_tokens=_max_tokens(body),
        stop=_stop(body.get("stop")),
        tooling=tooling_of(body),
        output_format=_response_format(body),
    )


def model_of(body: dict) -> str:
    """The `model` a request body names (required, a non-empty string)."""
    return required_text(body, "model")


def _messages(value) -> tuple[Message, ...]:
    out = []
    called: dict[str, str] = {}  # call id → tool name, so a result names the tool it came from
    for where, message, role in messages_array(value, ROLES, "you must provide a messages parameter",
                                               "messages must contain at least one message"):
        name = message.get("name") if isinstance(message.get("name"), str) else ""
        text, files = _content(message.get("content"), f"{where}.content", role)
        calls, call_id = (), ""
        if role == "assistant":
            calls = calls_of(message, where)
            called.update((call.id, call.name) for call in calls if call.id)
        if role == "tool":
            call_id = optional(message, "tool_call_id", str, f"{where}.tool_call_id") or ""
            name = called.get(call_id, name)
        out.append(Message(role, text, name, files, calls, call_id))
    return tuple(out)


def _content(value, where: str, role: str) -> tuple[str, tuple[FileSource, ...]]:
    if value is None:
        if role in ("assistant", "function"):
            return "", ()
        raise bad_request(f"{where} is required for {role} messages", where, "missing_required_parameter")
    if isinstance(value, str):
        return value, ()
    if not isinstance(value, list):
        raise bad_request(f"{where} must be a string or an array of content parts", where, "invalid_type")
    texts, files = [], []
    for j, part in enumerate(value):
        here = f"{where}[{j}]"
        expect(part, dict, here)
        kind = part.get("type")
        if kind == "text":
            texts.append(expect(part.get("text"), str, f"{here}.text"))
        elif kind == "refusal" and role == "assistant":
            texts.append(expect(part.get("refusal"), str, f"{here}.refusal"))
        elif kind == "image_url" and role == "user":
            image = expect(part.get("image_url"), dict, f"{here}.image_url")
            files.append(FileSource(expect(image.get("url"), str, f"{here}.image_url.url"),
                                    f"{here}.image_url.url", image=True, remote=True))
        elif kind == "file" and role == "user":
            files.append(_file_part(part, here))
        elif kind in ("image_url", "file"):
            raise bad_request(f"{here}: {kind} parts are taken in user messages only", here, "unsupported_value")
        elif kind == "input_audio":
            raise bad_request(f"{here}: content parts of type 'input_audio' are not supported "
                              "(Gemini Business takes no audio); send text, images or files", here,
                              "unsupported_value")
        else:
            raise bad_request(f"{here}.type must be one of text, image_url, file", f"{here}.type")
    return "\n".join(texts), tuple(files)


def _file_part(part: dict, here: str) -> FileSource:
    file = expect(part.get("file"), dict, f"{here}.file")
    if file.get("file_id") is not None and file.get("file_data") is None:
        raise bad_request(f"{here}.file.file_id: uploaded files are not supported; send file_data "
                          "as a data URL", f"{here}.file.file_id", "unsupported_value")
    data = file.get("file_data")
    if data is None:
        raise bad_request(f"{here}.file.file_data is required", f"{here}.file.file_data",
                          "missing_required_parameter")
    expect(data, str, f"{here}.file.file_data")
    name = file.get("filename")
    name = expect(name, str, f"{here}.file.filename") if name is not None else ""
    return FileSource(data, f"{here}.file.file_data", name=name)


def _max_tokens(body: dict) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):  # the newer name wins when both are sent
        value = optional(body, name, int)
        if value is not None:
            if value < 1:
                raise bad_request(f"{name} must be at least 1", name)
            return value
    return None


def _stop(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        if len(value) > 4:
            raise bad_request("stop may hold at most 4 sequences", "stop")
        return tuple(value)
    raise bad_request("stop must be a string or an array of strings", "stop", "invalid_type")


def _response_format(body: dict) -> OutputFormat | None:
    return output_format(optional(body, "response_format", dict), "response_format", flat=False)


def output_format(fmt: dict | None, param: str, flat: bool) -> OutputFormat | None:
    """A format object (`{"type": "text"}` or none: None; json_object; json_schema with `name`,
    `schema`, `strict`, `description`) → OutputFormat. Chat's `response_format` holds them in
    `json_schema`; the Responses API's `text.format` (`flat`) holds them beside `type`."""
    if fmt is None:
        return None
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return structured.json_object()
    if kind != "json_schema":
        raise bad_request(f"{param}.type must be one of text, json_object, json_schema", f"{param}.type")
    where = param if flat else f"{param}.json_schema"
    spec = fmt if flat else fmt.get("json_schema")
    if spec is None:
        raise bad_request(f"{where} is required for type json_schema", where, "missing_required_parameter")
    expect(spec, dict, where)
    name = spec.get("name")
    if name is None:
        raise bad_request(f"{where}.name is required", f"{where}.name", "missing_required_parameter")
    expect(name, str, f"{where}.name")
    schema = spec.get("schema")
    return structured.json_schema(structured.OBJECT if schema is None else schema, name,
                                  optional(spec, "description", str, f"{where}.description") or "",
                                  optional(spec, "strict", bool, f"{where}.strict") or False, where)


def _refuse_unsupported(body: dict) -> None:
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        optional(body, name, float)
    n = optional(body, "n", int)
    if n is not None and n != 1:
        raise bad_request("only n=1 is supported", "n", "unsupported_value")
    if optional(body, "logprobs", bool):
        raise bad_request("logprobs are not available from Gemini Business", "logprobs", "unsupported_parameter")
    modalities = optional(body, "modalities", list) or []
    if any(m != "text" for m in modalities):
        raise bad_request("only text output is supported", "modalities", "unsupported_value")
