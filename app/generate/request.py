"""A Gemini API generateContent body → the neutral Dialogue (app/dialogue.py).

Field names are taken as Google's JSON mapping of its protos writes them (camelCase, what the
google-genai SDK sends) or as the proto field names (snake_case), which the real API accepts too.
A wrong type is a 400 naming the field; what the gateway cannot honour (other tools than
functions, several candidates, log probabilities, audio out, cached content) is refused, never
silently dropped. Sampling knobs (temperature, topP, topK, seed, penalties) and safety settings
are checked and ignored: Gemini Business takes none of them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..dialogue import Dialogue, Message
from ..errors import bad_request
from ..inputs import FileSource
from ..openai.fields import expect
from ..openai.tooling import MAX_TOOLS, function_specs
from ..tools.calls import Call
from ..tools.spec import AUTO, NAMED, NO_TOOLS, NONE, REQUIRED, ToolChoice, ToolSpec, Tooling
from ..tools.structured import OutputFormat
from ..tools.validate import schema_problem

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")  # Gemini's rule for a function's name
MAX_STOP = 5
# The upstream's answer is text (or a generated image); JSON is held to a schema by the gateway
MIME_TYPES = ("text/plain", "application/json")
SAMPLING = ("temperature", "topP", "topK", "seed", "presencePenalty", "frequencyPenalty")
# Gemini's Schema (an OpenAPI 3.0 subset) → JSON Schema: these keys hold subschemas
_NESTED = {"properties": "map", "items": "one", "anyOf": "list"}
_DROPPED = ("nullable", "propertyOrdering", "example")  # no JSON Schema meaning (nullable: below)
_INTEGERS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_URL_SAFE = str.maketrans("-_", "+/")
_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")


@dataclass(frozen=True)
class GenerateRequest(Dialogue):
    include_thoughts: bool = False  # thinkingConfig.includeThoughts: thought parts in the answer


def get(container: dict, name: str):
    """The field `name` (camelCase) of a proto's JSON, or its snake_case spelling."""
    if name in container:
        return container[name]
    return container.get(re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), name))


def field(container: dict, name: str, kind: type, where: str):
    value = get(container, name)
    return None if value is None else expect(value, kind, f"{where}.{name}" if where else name)


def parse_generate(body: dict, model: str, stream: bool) -> GenerateRequest:
    _refuse_unsupported(body)
    config = field(body, "generationConfig", dict, "") or {}
    tooling = _tooling(body)
    thinking = field(config, "thinkingConfig", dict, "generationConfig") or {}
    return GenerateRequest(
        model=model,
        messages=_system(get(body, "systemInstruction")) + _contents(get(body, "contents")),
        stream=stream,
        max_tokens=_max_tokens(config),
        stop=_stop(config),
        tooling=tooling,
        output_format=_output_format(config),
        include_thoughts=bool(field(thinking, "includeThoughts", bool, "generationConfig.thinkingConfig")),
    )


def _system(value) -> tuple[Message, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # what a client means by a bare string; the SDK wraps it itself
        return (Message("system", value),)
    expect(value, dict, "systemInstruction")
    text, files, calls, results = _parts(value, "systemInstruction", "system")
    if files or calls or results:
        raise bad_request("systemInstruction takes text parts only", "systemInstruction.parts", "unsupported_value")
    return (Message("system", text),)


def _contents(value) -> tuple[Message, ...]:
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


def _tooling(body: dict) -> Tooling:
    declared: list[tuple[str, dict]] = []
    for k, tool in enumerate(field(body, "tools", list, "") or []):
        where = f"tools[{k}]"
        expect(tool, dict, where)
        other = [name for name, value in tool.items() if value is not None
                 and name not in ("functionDeclarations", "function_declarations")]
        if other:
            raise bad_request(f"{where}.{other[0]}: only functionDeclarations are supported (Gemini Business "
                              "answers with its own grounding)", f"{where}.{other[0]}", "unsupported_value")
        for j, declaration in enumerate(field(tool, "functionDeclarations", list, where) or []):
            here = f"{where}.functionDeclarations[{j}]"
            declared.append((here, _declaration(expect(declaration, dict, here), here)))
    if len(declared) > MAX_TOOLS:
        raise bad_request(f"at most {MAX_TOOLS} functions may be declared", "tools")
    # the checks every surface's functions go through (names, twice, schemas, their size in all)
    choice, specs = _choice(body, function_specs(declared, name_rule=NAME))
    return Tooling(specs, choice) if specs else NO_TOOLS


def _declaration(item: dict, where: str) -> dict:
    """A FunctionDeclaration as `{name, description, parameters}` with its parameters in JSON
    Schema: Gemini's schema (`parameters`) converted, or `parametersJsonSchema` as it is."""
    openapi, plain = get(item, "parameters"), get(item, "parametersJsonSchema")
    if openapi is not None and plain is not None:
        raise bad_request(f"{where}: send parameters or parametersJsonSchema, not both", f"{where}.parameters")
    if openapi is not None:
        plain = json_schema(openapi, f"{where}.parameters")
    return {"name": get(item, "name"), "description": get(item, "description"), "parameters": plain}


def json_schema(schema, where: str) -> dict:
    """Gemini's Schema (uppercase types, `nullable`, int64 bounds written as strings) as the
    JSON Schema the model is shown and the answer is validated against."""
    expect(schema, dict, where)
    out: dict = {}
    for key, value in schema.items():
        key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)  # any_of → anyOf
        if value is None or key in _DROPPED:
            continue
        here = f"{where}.{key}"
        if key == "type":
            kind = expect(value, str, here).lower()
            if kind == "type_unspecified":
                continue
            if kind not in _TYPES:
                raise bad_request(f"{here} must be one of {', '.join(t.upper() for t in _TYPES)}", here)
            out["type"] = kind
        elif _NESTED.get(key) == "map":
            out[key] = {name: json_schema(sub, f"{here}.{name}") for name, sub in expect(value, dict, here).items()}
        elif _NESTED.get(key) == "one":
            out[key] = json_schema(value, here)
        elif _NESTED.get(key) == "list":
            out[key] = [json_schema(sub, f"{here}[{n}]") for n, sub in enumerate(expect(value, list, here))]
        elif key in _INTEGERS and isinstance(value, str):
            if not value.isdigit():
                raise bad_request(f"{here} must be an integer", here, "invalid_type")
            out[key] = int(value)
        else:
            out[key] = value
    if get(schema, "nullable") is True and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _choice(body: dict, specs: tuple[ToolSpec, ...]) -> tuple[ToolChoice, tuple[ToolSpec, ...]]:
    """functionCallingConfig: AUTO (and VALIDATED: calls are always validated here), ANY
    (a call is required; allowedFunctionNames narrows the tools, one name forces it), NONE."""
    config = field(field(body, "toolConfig", dict, "") or {}, "functionCallingConfig", dict, "toolConfig") or {}
    where = "toolConfig.functionCallingConfig"
    mode = field(config, "mode", str, where) or "AUTO"
    if mode not in ("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"):
        raise bad_request(f"{where}.mode must be AUTO, ANY, NONE or VALIDATED", f"{where}.mode")
    allowed = field(config, "allowedFunctionNames", list, where)
    if allowed:
        for n, name in enumerate(allowed):
            if not isinstance(name, str) or not any(s.name == name for s in specs):
                raise bad_request(f"{where}.allowedFunctionNames[{n}] names no declared function",
                                  f"{where}.allowedFunctionNames[{n}]")
        if mode not in ("ANY", "VALIDATED"):
            raise bad_request(f"{where}.allowedFunctionNames is taken with mode ANY only", f"{where}.allowedFunctionNames")
        specs = tuple(s for s in specs if s.name in allowed)
    if mode == "NONE":
        return ToolChoice(NONE), specs
    if mode == "ANY":
        return (ToolChoice(NAMED, specs[0].name) if allowed and len(specs) == 1 else ToolChoice(REQUIRED)), specs
    return ToolChoice(AUTO), specs


def _max_tokens(config: dict) -> int | None:
    value = field(config, "maxOutputTokens", int, "generationConfig")
    if value is not None and value < 1:
        raise bad_request("generationConfig.maxOutputTokens must be at least 1", "generationConfig.maxOutputTokens")
    return value


def _stop(config: dict) -> tuple[str, ...]:
    stop = field(config, "stopSequences", list, "generationConfig") or []
    if len(stop) > MAX_STOP or not all(isinstance(s, str) and s for s in stop):
        raise bad_request(f"generationConfig.stopSequences must be at most {MAX_STOP} non-empty strings",
                          "generationConfig.stopSequences")
    return tuple(stop)


def _output_format(config: dict) -> OutputFormat | None:
    """responseMimeType application/json: any JSON value, or one that matches responseSchema
    (Gemini's Schema) or responseJsonSchema (JSON Schema), checked by app/tools/structured.py."""
    mime = field(config, "responseMimeType", str, "generationConfig") or "text/plain"
    if mime not in MIME_TYPES:
        raise bad_request(f"generationConfig.responseMimeType must be one of {', '.join(MIME_TYPES)}",
                          "generationConfig.responseMimeType", "unsupported_value")
    openapi = get(config, "responseSchema")
    plain = get(config, "responseJsonSchema")
    if plain is None:
        plain = config.get("_responseJsonSchema")
    if openapi is not None and plain is not None:
        raise bad_request("send responseSchema or responseJsonSchema, not both", "generationConfig.responseSchema")
    if mime != "application/json":
        if openapi is not None or plain is not None:
            raise bad_request("a response schema needs responseMimeType application/json",
                              "generationConfig.responseMimeType")
        return None
    if openapi is not None:
        schema, param = json_schema(openapi, "generationConfig.responseSchema"), "generationConfig.responseSchema"
    else:
        schema, param = ({} if plain is None else plain), "generationConfig.responseJsonSchema"
    problem = schema_problem(schema)
    if problem:
        raise bad_request(f"{param} is not a valid schema: {problem}", param)
    return OutputFormat(schema)


def _refuse_unsupported(body: dict) -> None:
    if get(body, "cachedContent") is not None:
        raise bad_request("cachedContent is not available through this gateway", "cachedContent", "unsupported_value")
    field(body, "safetySettings", list, "")  # accepted: Gemini Business applies its own
    config = field(body, "generationConfig", dict, "") or {}
    where = "generationConfig"
    for name in SAMPLING:
        field(config, name, float, where)
    count = field(config, "candidateCount", int, where)
    if count is not None and count != 1:
        raise bad_request("only candidateCount 1 is supported", f"{where}.candidateCount", "unsupported_value")
    if field(config, "responseLogprobs", bool, where) or get(config, "logprobs") is not None:
        raise bad_request("log probabilities are not available from Gemini Business", f"{where}.responseLogprobs",
                          "unsupported_value")
    for n, modality in enumerate(field(config, "responseModalities", list, where) or []):
        if modality not in ("TEXT", "IMAGE"):
            raise bad_request("responseModalities may hold TEXT and IMAGE (an image model's answer)",
                              f"{where}.responseModalities[{n}]", "unsupported_value")
