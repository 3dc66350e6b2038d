"""A Gemini API body's `systemInstruction` and `contents` → the neutral messages (app/dialogue.py).

A user turn's text and files (`inlineData`, `fileData` of an http(s) image) are one user message,
its `functionResponse` parts each a tool message; a model turn's text and `functionCall` parts
one assistant message with `Call`s. What the model made (its thoughts, its generated files) is
not part of the conversation the upstream is told; code execution parts are refused.
"""
from __future__ import annotations

import json
import re

from ..dialogue import Message
from ..errors import bad_request
from ..inputs import FileSource
from ..openai.fields import expect
from ..tools.calls import Call
from .fields import field, get

_URL_SAFE = str.maketrans("-_", "+/")


def system_of(value) -> tuple[Message, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # what a client means by a bare string; the SDK wraps it itself
        return (Message("system", value),)
    expect(value, dict, "systemInstruction")
    text, files, calls, results = _parts(value, "systemInstruction", "system")
    if files or calls or results:
        raise bad_request("systemInstruction takes text parts only", "systemInstruction.parts", "unsupported_value")
    return (Message("system", text),)


def contents_of(value) -> tuple[Message, ...]:
    if value is None:
        raise bad_request("contents is required", "contents", "missing_required_parameter")
    if isinstance(value, dict):  # one Content: the API takes it for a one-turn request
        value = [value]
    expect(value, list, "contents")
    if not value:
        raise bad_request("contents must not be empty", "contents")
    out: list[Message] = []
    for i, content in enumerate(value):
        where = f"contents[{i}]"
        expect(content, dict, where)
        role = get(content, "role") or "user"
        if role not in ("user", "model", "function"):
            raise bad_request(f"{where}.role must be user or model", f"{where}.role")
        text, files, calls, results = _parts(content, where, role)
        if role == "model":
            if out and out[-1].role == "assistant":  # one answer in several Contents: the SDK's
                earlier = out.pop()                   # streamed chat keeps each chunk as one
                text, calls = earlier.text + text, earlier.calls + calls
            out.append(Message("assistant", text, calls=calls))
            continue
        out.extend(_answering(results, out))
        if text or files or not results:
            out.append(Message("user", text, files=files))
    return tuple(out)


def _answering(results: list[tuple[str, str, str]], earlier: list[Message]) -> list[Message]:
    """Tool results (name, id, text) as tool messages. A result without an id (the SDK's
    Part.from_function_response) answers the first call of its name in the model's last turn that
    no result has answered yet, so it names the call the model made."""
    calls = next((m.calls for m in reversed(earlier) if m.role == "assistant"), ())
    answered = {m.call_id for m in earlier if m.role == "tool"}
    out = []
    for name, call_id, text in results:
        if not call_id:
            call_id = next((c.id for c in calls if c.name == name and c.id and c.id not in answered), "")
        answered.add(call_id)
        out.append(Message("tool", text, name=name, call_id=call_id))
    return out


def _parts(content: dict, where: str, role: str):
    """(text, files, calls, results) of a Content; a model's thoughts and the files it made
    are not part of the conversation the upstream is told."""
    parts = get(content, "parts")
    if parts is None:
        raise bad_request(f"{where}.parts is required", f"{where}.parts", "missing_required_parameter")
    expect(parts, list, f"{where}.parts")
    texts, files, calls, results = [], [], [], []
    for j, part in enumerate(parts):
        here = f"{where}.parts[{j}]"
        expect(part, dict, here)
        thought = field(part, "thought", bool, here)
        if get(part, "text") is not None:
            text = expect(get(part, "text"), str, f"{here}.text")
            if not thought:
                texts.append(text)
        elif get(part, "inlineData") is not None:
            if role != "model":
                files.append(_inline(expect(get(part, "inlineData"), dict, f"{here}.inlineData"), f"{here}.inlineData"))
        elif get(part, "fileData") is not None:
            if role != "model":
                files.append(_file_data(expect(get(part, "fileData"), dict, f"{here}.fileData"), f"{here}.fileData"))
        elif get(part, "functionCall") is not None:
            if role != "model":
                raise bad_request(f"{here}.functionCall: only the model's turns hold calls", here)
            calls.append(_call(expect(get(part, "functionCall"), dict, f"{here}.functionCall"), f"{here}.functionCall"))
        elif get(part, "functionResponse") is not None:
            if role == "model":
                raise bad_request(f"{here}.functionResponse: a result goes in a user turn", here)
            results.append(_result(expect(get(part, "functionResponse"), dict, f"{here}.functionResponse"),
                                   f"{here}.functionResponse"))
        elif get(part, "executableCode") is not None or get(part, "codeExecutionResult") is not None:
            raise bad_request(f"{here}: code execution is not available through this gateway", here,
                              "unsupported_value")
        elif not thought and get(part, "thoughtSignature") is None:
            raise bad_request(f"{here} must hold text, inlineData, fileData, functionCall or functionResponse",
                              here)
    return "".join(texts), tuple(files), tuple(calls), results


def _inline(blob: dict, where: str) -> FileSource:
    mime = get(blob, "mimeType")
    data = get(blob, "data")
    if mime is None or data is None:
        raise bad_request(f"{where} needs mimeType and data", where, "missing_required_parameter")
    expect(mime, str, f"{where}.mimeType")
    expect(data, str, f"{where}.data")
    name = field(blob, "displayName", str, where) or ""
    return FileSource("", f"{where}.data", name=name, encoded=standard_base64(data), mime_type=mime,
                      mime_param=f"{where}.mimeType")


def standard_base64(text: str) -> str:
    """Proto JSON's bytes are base64 in either alphabet, padding optional (the google-genai SDK
    writes the URL-safe one): the standard alphabet, padded, which app/inputs.py decodes."""
    text = re.sub(r"\s+", "", text).translate(_URL_SAFE)
    return text + "=" * (-len(text) % 4)


def _file_data(ref: dict, where: str) -> FileSource:
    uri = get(ref, "fileUri")
    if uri is None:
        raise bad_request(f"{where}.fileUri is required", f"{where}.fileUri", "missing_required_parameter")
    expect(uri, str, f"{where}.fileUri")
    if not re.match(r"(?i)https?://", uri):
        raise bad_request(f"{where}.fileUri must be an http(s) URL of an image: the Files API and gs:// "
                          "are not available through this gateway; send other files as inlineData",
                          f"{where}.fileUri", "unsupported_value")
    return FileSource(uri, f"{where}.fileUri", image=True, remote=True)


def _call(call: dict, where: str) -> Call:
    name = expect(get(call, "name"), str, f"{where}.name")
    args = get(call, "args")
    args = {} if args is None else expect(args, dict, f"{where}.args")
    return Call(field(call, "id", str, where) or "", name, json.dumps(args, ensure_ascii=False))


def _result(result: dict, where: str) -> tuple[str, str, str]:
    name = expect(get(result, "name"), str, f"{where}.name")
    response = get(result, "response")
    response = {} if response is None else expect(response, dict, f"{where}.response")
    return name, field(result, "id", str, where) or "", json.dumps(response, ensure_ascii=False)
