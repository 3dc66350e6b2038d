"""A Gemini API generateContent body → the neutral Dialogue (app/dialogue.py).

Field names are taken as Google's JSON mapping of its protos writes them (camelCase, what the
google-genai SDK sends) or as the proto field names (snake_case), which the real API accepts too.
A wrong type is a 400 naming the field; what the gateway cannot honour (other tools than
functions, several candidates, log probabilities, audio out, cached content) is refused, never
silently dropped. Sampling knobs (temperature, topP, topK, seed, penalties) and safety settings
are checked and ignored: Gemini Business takes none of them.

Here is the body's generationConfig (limits, stop sequences, the response's type and schema);
the conversation is contents.py's, the functions tools.py's, the field spellings fields.py's.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..dialogue import Dialogue
from ..errors import bad_request
from ..tools.structured import OutputFormat
from ..tools.validate import schema_problem
from .contents import contents_of, system_of
from .fields import field, get
from .schema import json_schema
from .tools import tooling_of

MAX_STOP = 5
# The upstream's answer is text (or a generated image); JSON is held to a schema by the gateway
MIME_TYPES = ("text/plain", "application/json")
SAMPLING = ("temperature", "topP", "topK", "seed", "presencePenalty", "frequencyPenalty")


@dataclass(frozen=True)
class GenerateRequest(Dialogue):
    include_thoughts: bool = False  # thinkingConfig.includeThoughts: thought parts in the answer


def parse_generate(body: dict, model: str, stream: bool) -> GenerateRequest:
    _refuse_unsupported(body)
    config = field(body, "generationConfig", dict, "") or {}
    tooling = tooling_of(body)
    thinking = field(config, "thinkingConfig", dict, "generationConfig") or {}
    return GenerateRequest(
        model=model,
        messages=system_of(get(body, "systemInstruction")) + contents_of(get(body, "contents")),
        stream=stream,
        max_tokens=_max_tokens(config),
        stop=_stop(config),
        tooling=tooling,
        output_format=_output_format(config),
        include_thoughts=bool(field(thinking, "includeThoughts", bool, "generationConfig.thinkingConfig")),
    )


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
