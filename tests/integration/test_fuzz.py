"""Property-based fuzzing of every POST/PATCH endpoint of a real server (issue 7 §2).

One gunicorn (one gevent worker) in front of the simulator gets generated JSON: realistic
shapes near each endpoint's schema with any field replaced by anything, plus lone surrogates,
NaN/Infinity written as raw JSON tokens, numbers past a float, huge integers, deep nesting,
bodies that are not JSON at all. The Images API's edits also get multipart/form-data bodies
near what the openai SDKs send (image files valid or not, hostile form fields, broken framing).
Whatever arrives, the gateway answers it: never a 5xx, every error in the envelope, the same
worker process all along, no traceback in its log.

Keys are always valid, so the failed-authentication throttle (AUTH_FAILURE_LIMIT) never
answers in the gateway's place. FUZZ_EXAMPLES (default 120 per endpoint, about 30 s in all)
runs more, e.g. FUZZ_EXAMPLES=2000 for a long hunt.
"""
import base64
import io
import json
import os
import struct
import zlib
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from app import create_app
from app.config import Config
from tests.integration.conftest import ADMIN_KEY, API_KEY, CANARY, proxy_env
from tests.integration.helpers import data_url, tiny_png
from tests.servers import Gunicorn

CLIENT = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
ANTHROPIC = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01", "Content-Type": "application/json"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
TARGET = "fuzz@example.com"  # the account the per-account admin endpoints are driven against
NO_EMAIL = "fuzz-no-email"   # one that cannot sign in: /login answers without starting a browser
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "120")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
MAX_FILE_MB = 1     # the fuzzed gateway's limits, small so that bodies past them are cheap to send
MAX_REQUEST_MB = 2

# --- JSON text with the values Python's json module would not write ---------------------------
# A placeholder string in the value becomes a raw JSON fragment in the text: numbers past a
# float, integers near Python's digit limit, nesting deeper than the parser's recursion limit.
RAW = "\x00raw:"


def raw(fragment: str) -> str:
    return f"{RAW}{fragment}\x00"


def to_text(value) -> str:
    # allow_nan writes float('nan')/inf as the raw tokens NaN, Infinity, -Infinity; ensure_ascii
    # writes lone surrogates as \udXXX escapes, as a hostile client would send them.
    text = json.dumps(value, allow_nan=True, ensure_ascii=True)
    while (start := text.find('"\\u0000raw:')) != -1:
        end = text.index('\\u0000"', start)
        text = text[:start] + json.loads(text[start:end + 7])[len(RAW):-1] + text[end + 7:]
    return text


def weighted(*choices):
    """One of the strategies, each as often as its weight (st.one_of would merge repeats)."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(lambda s: s)


# --- values: valid ones (most bodies get past the JSON boundary and reach the endpoint's own
# checks), and hostile ones (a body holding one must be stopped at the boundary) ----------------
clean_text = st.text(max_size=30)  # any code point but a surrogate
clean_numbers = st.one_of(
    st.integers(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
    st.sampled_from([10 ** 100, -(10 ** 300), 10 ** 400, 2 ** 63, 2 ** 64 + 1, -1, 0, 1e308, -0.0]),
    st.floats(allow_nan=False, allow_infinity=False),
)
hostile_text = st.one_of(
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.builds(lambda a, s, b: a + s + b, clean_text, st.sampled_from(["\ud800", "\udfff", "\udc00\ud83d"]), clean_text),
)
hostile_numbers = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.sampled_from(["1e400", "-1e400", "1E+309", "9" * 4301]).map(raw),
)
deep = st.one_of(st.integers(500, 5000).map(lambda n: "[" * n + "]" * n),
                 st.integers(500, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n)).map(raw)


# --- image files: valid, converted (WebP), lying, broken, bombs, past the size limit -----------
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _webp(size=(3, 2)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format="WEBP")
    return out.getvalue()


PNG = tiny_png()
WEBP = _webp()
# Headers that declare a huge bitmap in a few bytes (a decompression bomb, or a lie)
HUGE_PNG = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))
HUGE_WEBP = (lambda vp8x: b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x)(
    b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (16383 - 1).to_bytes(3, "little") * 2)
image_bytes = weighted(
    (6, st.just(PNG)), (2, st.just(WEBP)), (1, st.sampled_from([HUGE_PNG, HUGE_WEBP])),
    (1, st.binary(max_size=64)), (1, st.binary(max_size=64).map(lambda b: PNG[:16] + b)),  # random, a PNG head on junk
    (1, st.binary(max_size=64).map(lambda b: WEBP[:12] + b)),
    (1, st.sampled_from([b"", PNG[:30], WEBP[:20], b"GIF89a", b"BM", b"%PDF-1.4\n", b"\xff\xd8\xff",
                         PNG + b"\0" * (MAX_FILE_MB * 1024 * 1024)])),  # empty, cut, bare signatures, too large
)


def values(text, numbers):
    scalars = st.one_of(st.none(), st.booleans(), numbers, text)
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)), max_leaves=10)


clean_anything = values(clean_text, clean_numbers)
hostile_anything = st.one_of(hostile_text, hostile_numbers, deep,
                             values(st.one_of(clean_text, hostile_text), st.one_of(clean_numbers, hostile_numbers)))


def schemas(text, numbers, anything):
    """Objects near each endpoint's schema, built from the given leaves; any field may be of
    the wrong type, absent, or joined by unknown ones."""

    def field(realistic):
        return weighted((8, realistic), (1, anything))  # mostly right, so requests get past the first check

    def shaped(required: dict, optional: dict):
        return st.builds(lambda known, extra: {**extra, **known},
                         st.fixed_dictionaries({k: field(v) for k, v in required.items()},
                                               optional={k: field(v) for k, v in optional.items()}),
                         weighted((2, st.just({})), (1, st.dictionaries(text, anything, max_size=2))))

    models = weighted((4, st.sampled_from(["gpt-4o", "gemini-2.5-pro", "gemini-business", "gpt-3.5-turbo"])),
                      (1, st.just("nope")), (1, text))
    words = weighted((4, st.text(min_size=1, max_size=30).filter(str.strip)), (1, text))
    text_part = shaped({"type": st.just("text"), "text": words}, {})
    content = weighted((3, words), (2, st.lists(text_part, min_size=1, max_size=3)), (1, st.lists(st.one_of(text_part, shaped(
        {"type": st.sampled_from(["image_url", "refusal", "video"])}, {"refusal": text})), max_size=3)))
    message = shaped({"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "robot"]),
                      "content": content},
                     {"name": text, "tool_call_id": text,
                      "tool_calls": st.lists(shaped({"function": shaped({"name": text}, {"arguments": text})}, {}),
                                             max_size=2)})
    source = st.one_of(
        shaped({"type": st.just("base64"), "media_type": st.sampled_from(["image/png", "application/pdf", "text/x"]),
                "data": st.one_of(st.just(base64.b64encode(PNG).decode()), text)}, {}),
        shaped({"type": st.sampled_from(["url", "text", "content", "file"])},
               {"url": st.sampled_from(["http://127.0.0.1:1/a.png", "file:///etc/passwd"]), "data": text,
                "content": anything, "media_type": text}))
    anthropic_block = st.one_of(
        text_part,
        shaped({"type": st.sampled_from(["image", "document"]), "source": source}, {"title": text}),
        shaped({"type": st.just("tool_use"), "id": text, "name": text}, {"input": anything}),
        shaped({"type": st.just("tool_result"), "tool_use_id": text},
               {"content": st.one_of(text, st.lists(text_part, max_size=2), anything), "is_error": st.booleans()}),
        shaped({"type": st.sampled_from(["thinking", "redacted_thinking", "server_tool_use", "video"])},
               {"thinking": text, "signature": text}))
    expiry = st.one_of(numbers, st.sampled_from(["2026-12-01 08:00:00", "2026-12-01T08:00:00Z", "soon"]), text)
    account = shaped({
        "id": weighted((3, st.emails()), (1, st.sampled_from(["fuzz-new@example.com", "a/b@example.com", "..", "x?y"])),
                       (1, text))}, {
        "email": st.one_of(st.just("fuzz-mail@example.com"), text),
        "secure_c_ses": text, "host_c_oses": text, "team_id": text,
        "csesidx": st.one_of(numbers, st.sampled_from(["123", "12a"]), text),
        "config_id": st.one_of(st.just("0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"), text),
        "expires_at": expiry,
        "cookie": text.map(lambda v: f"__Secure-C_SES={v}; __Host-C_OSES=x"),
        "cookies": st.lists(shaped({"name": st.sampled_from(["__Secure-C_SES", "__Host-C_OSES", "NID"]),
                                    "value": text}, {"expirationDate": numbers, "expires": numbers}), max_size=3),
    })
    def mostly(valid, other):
        return weighted((4, valid), (1, other))

    image_models = weighted((4, st.sampled_from(["dall-e-3", "dall-e-2", "gpt-image-1", "gemini-3.1-flash-image",
                                                 "nano-banana-2"])),
                            (1, st.sampled_from(["gemini-2.5-pro", "veo-3.1-lite-generate", "nope", " ", "DALL-E-3"])),
                            (1, text))
    image_options = {  # OpenAI's parameters, mostly at values the gateway takes, so many requests make images
        "model": image_models, "n": weighted((6, st.just(1)), (2, st.integers(-1, 5)), (1, numbers)),
        "response_format": mostly(st.sampled_from(["url", "b64_json"]), st.sampled_from(["json", "URL", ""])),
        "output_format": mostly(st.just("png"), st.sampled_from(["jpeg", "webp", "PNG"])),
        "size": mostly(st.just("auto"), st.sampled_from(["1024x1024", "256x256", "1x1", "0x0", "1024"])),
        "quality": mostly(st.sampled_from(["auto", "standard"]), st.sampled_from(["hd", "high", "low"])),
        "background": mostly(st.just("auto"), st.just("transparent")),
        "moderation": mostly(st.just("auto"), st.just("low")),
        "style": mostly(st.none(), st.sampled_from(["vivid", "natural"])),
        "output_compression": mostly(st.none(), st.integers(-1, 101)),
        "stream": mostly(st.just(False), st.just(True)), "partial_images": mostly(st.just(0), st.integers(1, 3)),
        "user": text, "safety_identifier": text,
    }
    image_urls = weighted(
        (6, image_bytes.map(lambda b: data_url("image/png", b))),
        (1, st.tuples(st.sampled_from(["image/webp", "image/jpeg", "application/octet-stream", "text/plain", "x"]),
                      image_bytes).map(lambda t: data_url(*t))),
        (1, st.sampled_from([  # private, local, metadata and non-http URLs: refused without a connection
            "http://127.0.0.1:1/a.png", "http://localhost/a.png", "http://169.254.169.254/latest/meta-data",
            "http://[::1]/a.png", "http://10.0.0.1/a.png", "file:///etc/passwd", "ftp://example.com/a.png",
            "data:image/png;base64,!!!", "data:,hello", "data:image/png,raw", "data:image/png;base64,", "http://",
            "https://user:pass@127.0.0.1/x"])),
        (1, text))
    # Gemini's generateContent: parts of every kind, Gemini's schema (uppercase types, nullable,
    # int64 bounds as strings), the tools, modes and generationConfig fields the parser knows
    gemini_part = weighted(
        (8, shaped({"text": words}, {"thought": st.booleans()})),
        (1, shaped({"inlineData": shaped({"mimeType": st.sampled_from(["image/png", "image/webp", "text/plain", "x"]),
                                          "data": weighted((3, image_bytes.map(lambda b: base64.urlsafe_b64encode(b)
                                                                               .decode())), (1, text))}, {})}, {})),
        (1, shaped({"fileData": shaped({"fileUri": weighted((3, image_urls), (1, st.just("gs://bucket/a.png")))},
                                       {"mimeType": text})}, {})),
        (1, shaped({"functionCall": shaped({"name": st.one_of(st.just("get_weather"), text)},
                                           {"args": anything, "id": text})}, {})),
        (1, shaped({"functionResponse": shaped({"name": st.one_of(st.just("get_weather"), text)},
                                               {"response": anything, "id": text})}, {})),
        (1, shaped({"executableCode": anything}, {})))
    gemini_schema = st.recursive(
        shaped({"type": st.sampled_from(["OBJECT", "STRING", "INTEGER", "NUMBER", "BOOLEAN", "ARRAY", "object", "TEXT"])},
               {"nullable": st.booleans(), "minItems": st.one_of(numbers, st.just("2"), text), "enum": anything,
                "format": text, "description": text, "propertyOrdering": anything}),
        lambda inner: shaped({"type": st.sampled_from(["OBJECT", "ARRAY"])},
                             {"properties": st.dictionaries(text, inner, max_size=2), "items": inner,
                              "anyOf": st.lists(inner, max_size=2), "required": st.lists(text, max_size=2)}),
        max_leaves=4)
    declaration = shaped({"name": st.one_of(st.sampled_from(["get_weather", "get_time"]), text)},
                         {"description": text, "parameters": gemini_schema, "parametersJsonSchema": anything})
    return {
        "generate": shaped({"contents": st.lists(shaped({"parts": st.lists(gemini_part, max_size=3)}, {
            "role": weighted((4, st.just("user")), (1, st.sampled_from(["model", "function", "tool"])))}),
            min_size=1, max_size=3)}, {
            "systemInstruction": st.one_of(shaped({"parts": st.lists(gemini_part, max_size=2)}, {}), words),
            "tools": st.lists(shaped({}, {"functionDeclarations": st.lists(declaration, max_size=2),
                                          "googleSearch": anything}), max_size=2),
            "toolConfig": shaped({}, {"functionCallingConfig": shaped(
                {"mode": st.sampled_from(["AUTO", "ANY", "NONE", "VALIDATED", "auto"])},
                {"allowedFunctionNames": st.lists(st.one_of(st.just("get_weather"), text), max_size=2)})}),
            "generationConfig": shaped({}, {
                "maxOutputTokens": st.one_of(st.integers(-1, 50), numbers),
                "stopSequences": st.lists(text, max_size=6), "candidateCount": st.integers(0, 3),
                "temperature": numbers, "topK": numbers, "seed": numbers,
                "responseMimeType": st.sampled_from(["application/json", "text/plain", "text/x.enum"]),
                "responseSchema": gemini_schema, "responseJsonSchema": anything,
                "thinkingConfig": shaped({}, {"includeThoughts": st.booleans(), "thinkingBudget": numbers}),
                "responseModalities": st.lists(st.sampled_from(["TEXT", "IMAGE", "AUDIO"]), max_size=2),
                "responseLogprobs": st.booleans()}),
            "safetySettings": anything, "cachedContent": text}),
        "image_generation": shaped({"prompt": words}, image_options),
        "image_edit": shaped({"prompt": words, "images": weighted(
            (6, st.lists(shaped({"image_url": image_urls}, {"file_id": mostly(st.none(), text)}), min_size=1,
                         max_size=2)),
            (1, st.lists(anything, max_size=3)))},
            {**image_options, "mask": mostly(st.none(), st.one_of(image_urls, anything))}),
        "chat": shaped(
            {"model": models, "messages": st.lists(message, min_size=1, max_size=3)},
            {"stream": st.booleans(), "stream_options": shaped({}, {"include_usage": st.booleans()}),
             "temperature": numbers, "top_p": numbers, "presence_penalty": numbers, "frequency_penalty": numbers,
             "n": st.integers(0, 3), "max_tokens": st.one_of(st.integers(), numbers),
             "max_completion_tokens": st.one_of(st.integers(), numbers),
             "stop": st.one_of(text, st.lists(text, max_size=5)), "logprobs": st.booleans(),
             "modalities": st.lists(st.sampled_from(["text", "audio"]), max_size=2),
             "response_format": shaped({"type": st.sampled_from(["text", "json_object", "json_schema"])}, {
                 "json_schema": shaped({"name": st.one_of(st.just("answer"), text)},
                                       {"schema": st.one_of(st.just({"type": "object"}), anything),
                                        "strict": st.booleans(), "description": text})}),
             "tools": st.lists(shaped({"type": st.sampled_from(["function", "custom"]),
                                       "function": shaped({"name": text}, {})}, {}), max_size=2),
             "tool_choice": st.one_of(st.sampled_from(["auto", "none", "required"]), anything),
             "user": text, "seed": numbers, "metadata": anything}),
        "responses": shaped(
            {"model": models, "input": weighted((2, words), (3, st.lists(weighted(
                (4, shaped({"role": st.sampled_from(["user", "assistant", "system", "developer", "tool"]),
                            "content": weighted((2, words), (2, st.lists(weighted(
                                (4, shaped({"type": st.sampled_from(["input_text", "output_text"]), "text": words}, {})),
                                (1, shaped({"type": st.just("input_image")}, {"image_url": image_urls, "file_id": text})),
                                (1, shaped({"type": st.sampled_from(["input_file", "refusal", "input_audio"])},
                                           {"file_data": st.one_of(image_urls, text), "filename": text,
                                            "refusal": text}))), max_size=3)))},
                           {"type": st.just("message"), "id": text})),
                (1, shaped({"type": st.just("function_call"), "call_id": text, "name": text},
                           {"arguments": text, "id": text, "namespace": text})),
                (1, shaped({"type": st.just("function_call_output"), "call_id": text},
                           {"output": st.one_of(words, st.lists(text_part, max_size=2))})),
                (1, shaped({"type": st.sampled_from(["reasoning", "item_reference", "web_search_call"])},
                           {"summary": anything, "id": text}))), min_size=1, max_size=4)))},
            {"stream": st.booleans(), "instructions": words, "store": st.booleans(), "metadata": anything,
             "temperature": numbers, "top_p": numbers, "max_output_tokens": st.one_of(st.integers(), numbers),
             "parallel_tool_calls": st.booleans(), "reasoning": shaped({}, {"effort": text, "summary": text}),
             "include": st.lists(text, max_size=2), "prompt_cache_key": text, "previous_response_id": text,
             "text": shaped({}, {"format": shaped({"type": st.sampled_from(["text", "json_object", "json_schema"])}, {
                 "name": st.one_of(st.just("answer"), text), "schema": st.one_of(st.just({"type": "object"}), anything),
                 "strict": st.booleans()})}),
             "tools": st.lists(weighted(
                 (4, shaped({"type": st.just("function"), "name": st.one_of(st.just("get_weather"), text)},
                            {"parameters": st.one_of(st.just({"type": "object"}), anything), "strict": st.booleans()})),
                 (1, shaped({"type": st.sampled_from(["web_search", "namespace", "file_search", "custom"])},
                            {"name": text, "tools": st.lists(anything, max_size=2)}))), max_size=2),
             "tool_choice": st.one_of(st.sampled_from(["auto", "none", "required"]), anything)}),
        "messages": shaped(  # Anthropic's Messages API, as Claude Code and the SDKs send it
            {"model": weighted((4, st.sampled_from(["claude-opus-5-5", "claude-sonnet-4-5", "claude-3-5-haiku-latest",
                                                    "gemini-2.5-flash"])), (1, text)),
             "max_tokens": weighted((4, st.integers(1, 64000)), (1, numbers)),
             "messages": st.lists(shaped({"role": st.sampled_from(["user", "assistant", "system", "tool"]),
                                          "content": weighted((3, words), (3, st.lists(anthropic_block, max_size=3)),
                                                              (1, anything))}, {}), min_size=1, max_size=3)},
            {"system": st.one_of(words, st.lists(text_part, max_size=2)), "stream": st.booleans(),
             "stop_sequences": st.lists(text, max_size=3), "temperature": numbers, "top_p": numbers, "top_k": numbers,
             "thinking": shaped({"type": st.sampled_from(["enabled", "adaptive", "disabled", "on"])},
                                {"budget_tokens": numbers, "display": st.sampled_from(["summarized", "omitted", "x"])}),
             "tools": st.lists(shaped({"name": st.one_of(st.sampled_from(["get_weather", "Bash"]), text),
                                       "input_schema": st.one_of(st.just({"type": "object"}), anything)},
                                      {"type": st.sampled_from(["custom", "web_search_20250305"]),
                                       "description": text, "defer_loading": st.booleans()}), max_size=2),
             "tool_choice": shaped({"type": st.sampled_from(["auto", "any", "tool", "none", "function"])},
                                   {"name": text, "disable_parallel_tool_use": st.booleans()}),
             "metadata": shaped({}, {"user_id": text}), "output_config": shaped({}, {
                 "effort": text, "format": shaped({"type": st.just("json_schema")}, {"schema": anything})}),
             "context_management": anything}),
        "session": shaped({}, {"model": models}),
        "native_chat": lambda session_id: shaped(
            {"session_id": weighted((3, st.just(session_id)), (1, text)), "message": words},
            {"stream": st.booleans()}),
        "accounts": st.one_of(account, st.lists(account, max_size=3)),
        "patch": shaped({}, {"disabled": st.booleans(), "email": text, "secure_c_ses": text, "host_c_oses": text,
                             "csesidx": text, "config_id": text, "expires_at": expiry, "cookie_expires_at": numbers,
                             "clear_cooldown": st.booleans(), "needs_login": st.booleans(), "id": text}),
        "code": shaped({"code": st.one_of(st.sampled_from(["ABC123", "abc12", "ÄBC123"]), text)}, {}),
        "key": shaped({}, {"name": text, "models": st.one_of(st.none(), st.lists(models, max_size=3), anything),
                           "expires_at": st.one_of(st.none(), numbers), "rpm": st.one_of(st.none(), numbers),
                           "concurrent_streams": st.one_of(st.none(), numbers)}),
    }


CLEAN = schemas(clean_text, clean_numbers, clean_anything)
HOSTILE = schemas(st.one_of(clean_text, hostile_text), st.one_of(clean_numbers, hostile_numbers), hostile_anything)


def bodies(name: str, *args):
    """A request body: mostly JSON near the endpoint's schema (valid JSON, or holding hostile
    values), sometimes anything at all, or not JSON."""
    clean, hostile = (CLEAN[name](*args), HOSTILE[name](*args)) if args else (CLEAN[name], HOSTILE[name])
    return weighted(
        (6, clean.map(to_text)), (3, hostile.map(to_text)),
        (1, st.one_of(clean_anything, hostile_anything).map(to_text)),
        (1, st.one_of(st.binary(max_size=60), st.sampled_from(
            ["", " ", "{", '{"a": NaN}', "[Infinity]", '"\\ud800"', '{"a": "\\udfff"}', "null", "[]", "\ufeff{}",
             "1e400"]))),
    )


# --- multipart/form-data, near what the openai SDKs send for images.edit --------------------------
# The SDKs send each field as a part, each image as a file part named `image` (one) or `image[]`
# (several), with a file name and a Content-Type guessed from it. Here any field may be any
# value, as text, non-UTF-8 bytes or twice; image parts hold any of image_bytes; and the body as
# a whole may be cut, framed by another boundary or none, chunked, or sent as another type.
def form_value(value) -> bytes:
    if isinstance(value, str) and not value.startswith(RAW):  # as typed; a raw() number as its digits
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return b"" if value is None else to_text(value).encode("utf-8", "surrogatepass")


non_utf8 = st.sampled_from([b"\xff\xfe", b"caf\xe9", b"\xc3", b"\xed\xa0\x80", b"\x00"])
part_names = weighted((6, st.sampled_from([b"image", b"image[]"])), (1, st.just(b"mask")),
                      (1, st.sampled_from([b"prompt", b"n", b"image[0]", b"", b'im"age', b"IMAGE"])), (1, non_utf8),
                      (1, clean_text.map(str.encode)))
file_names = weighted((4, st.sampled_from([b"image.png", b"photo.webp", b"a.jpg", b"image"])),
                      (1, st.sampled_from([None, b"", b"../../etc/passwd", b'a"b.png', b"a\\b.png", b"x" * 300])),
                      (1, non_utf8.map(lambda b: b + b".png")))
part_types = weighted((4, st.sampled_from([b"image/png", b"image/webp", b"application/octet-stream"])),
                      (1, st.sampled_from([None, b"text/plain", b"image/png; charset=x", b"", b"\xff/\xfe"])))


def image_part(name=part_names):
    return st.builds(lambda n, f, t, data, declared: (n, f, t, data, declared), name, file_names, part_types,
                     image_bytes, weighted((6, st.just(None)), (1, st.sampled_from([0, 10 ** 12, -1]))))


def serialize(parts, boundary: bytes) -> bytes:
    out = b""
    for name, filename, ctype, data, declared in parts:
        out += b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + name + b"\""
        if filename is not None:
            out += b"; filename=\"" + filename + b"\""
        out += b"\r\n"
        if ctype is not None:
            out += b"Content-Type: " + ctype + b"\r\n"
        if declared is not None:  # a part's own length, which multipart has no use for
            out += b"Content-Length: " + str(declared).encode() + b"\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


@st.composite
def multipart(draw, schema):
    """(Content-Type, body bytes, chunked?) of an edit sent as a form."""
    fields = draw(schema)
    fields.pop("images", None)  # the JSON form's list: a form carries files instead
    parts = [(name.encode("utf-8", "surrogatepass"), None, None, form_value(value), None)
             for name, value in fields.items()]
    parts += draw(weighted((6, st.lists(image_part(st.just(b"image")), min_size=1, max_size=1)),
                           (2, st.lists(image_part(st.just(b"image[]")), min_size=1, max_size=3)),
                           (2, st.lists(image_part(), max_size=3))))
    if parts and draw(st.integers(0, 9)) == 0:  # a field or a file twice
        parts.append(draw(st.sampled_from(parts)))
    if draw(st.integers(0, 9)) == 0:  # an integer field as text no JSON number would be
        parts.append((draw(st.sampled_from([b"n", b"output_compression", b"partial_images"])), None, None,
                      draw(st.sampled_from([b"9" * 4301, b"0" * 5000 + b"1", b"-" + b"1" * 4400, b"\xd9\xa3", b"+1",
                                            b" 2 ", b"1e3", b"0x10", b"1_000"])), None))
    if draw(st.integers(0, 9)) == 0:  # a name or value that is not UTF-8
        parts.append((draw(non_utf8), None, None, draw(st.one_of(non_utf8, st.just(b"x"))), None))
    parts = draw(st.permutations(parts))
    boundary = draw(weighted((6, st.just(b"----OpenAIBoundary0123abcd")), (1, st.sampled_from(
        [b"a", b"x" * 70, b"x" * 200, b"b o u", b"\xff\xfe", b"--", b"=?"]))))
    body = serialize(parts, boundary)
    content_type = b"multipart/form-data; boundary=" + boundary
    broken = draw(weighted((12, st.none()), (1, st.sampled_from(
        ["cut", "other boundary", "no boundary", "quoted boundary", "empty boundary", "no final boundary",
         "text/plain", "untyped", "urlencoded", "junk", "too large", "mixed", "charset"]))))
    if broken == "cut":
        body = body[:draw(st.integers(0, max(0, len(body) - 1)))]
    elif broken == "other boundary":
        content_type = b"multipart/form-data; boundary=not-the-one"
    elif broken == "no boundary":
        content_type = b"multipart/form-data"
    elif broken == "quoted boundary":
        content_type = b'multipart/form-data; boundary="' + boundary + b'"'
    elif broken == "empty boundary":
        content_type = b"multipart/form-data; boundary="
    elif broken == "no final boundary":
        body = body[:body.rindex(b"--" + boundary)]
    elif broken in ("text/plain", "untyped"):
        content_type = b"text/plain" if broken == "text/plain" else None
    elif broken == "urlencoded":
        content_type = b"application/x-www-form-urlencoded"
        body = b"&".join(quote(p[0], safe="").encode() + b"=" + quote(p[3][:100], safe="").encode() for p in parts)
    elif broken == "junk":
        body = draw(st.binary(max_size=200))
    elif broken == "too large":  # past MAX_REQUEST_MB
        body = serialize([(b"image", b"big.png", b"image/png", PNG + b"\0" * (MAX_REQUEST_MB * 1024 * 1024), None)],
                         boundary)
    elif broken == "mixed":
        content_type = b"multipart/mixed; boundary=" + boundary
    elif broken == "charset":
        content_type += b"; charset=latin-1"
    return content_type, body, draw(weighted((5, st.just(False)), (1, st.just(True))))


# A per-account URL: the fuzz account, or any text (quoted as a browser would) naming none.
account_ids = weighted((2, st.just(TARGET)), (1, st.one_of(clean_text, hostile_text).map(
    lambda t: quote(t.encode("utf-8", "surrogatepass"), safe="")).filter(lambda t: t not in ("", ".", ".."))))

ANTHROPIC_TYPES = {400: ("invalid_request_error",), 404: ("not_found_error",), 413: ("request_too_large",),
                   429: ("rate_limit_error",)}  # what a client's body may get from /v1/messages

ENDPOINTS = {  # every POST/PATCH route (test_every_write_endpoint_is_fuzzed keeps this complete)
    ("POST", "/v1/chat/completions"), ("POST", "/v1/images/generations"), ("POST", "/v1/images/edits"),
    ("POST", "/v1/responses"),
    ("POST", "/v1/messages"), ("POST", "/v1/messages/count_tokens"),
    ("POST", "/gemini/sessions"), ("POST", "/gemini/chat"),
    ("POST", "/v1beta/models/<path:target>"), ("POST", "/v1/models/<path:target>"),
    ("POST", "/admin/accounts"), ("PATCH", "/admin/accounts/<account_id>"),
    ("POST", "/admin/accounts/<account_id>/login"), ("POST", "/admin/accounts/<account_id>/code"),
    ("POST", "/admin/keys"), ("PATCH", "/admin/keys/<key_id>"),
}


# --- the server and what is checked after each request --------------------------------------
class Fuzzed:
    def __init__(self, server: Gunicorn):
        self.server = server
        self.http = requests.Session()
        self.worker = self._workers()
        assert len(self.worker) == 1, self.worker
        self.session_id = None
        self.key_id = None  # a client key the PATCHes change

    def session(self) -> str:
        """A native session, made once the test runs (each test starts with a fresh simulator,
        which forgets the upstream sessions of earlier tests)."""
        if self.session_id is None:
            made = self.http.post(f"{self.server.url}/gemini/sessions", headers=CLIENT, json={}, timeout=20)
            assert made.status_code == 201, made.text
            self.session_id = made.json()["session_id"]
        return self.session_id

    def _workers(self) -> set[int]:
        children = Path(f"/proc/{self.server.proc.pid}/task/{self.server.proc.pid}/children").read_text().split()
        return {int(pid) for pid in children}

    def send(self, method: str, path: str, body, headers=CLIENT, chunked=False, anthropic=False, google=False):
        """`anthropic`, `google`: a surface with its own error envelope and streams (Anthropic's
        Messages; Gemini's API, whose streams are GenerateContentResponses, SSE or one JSON array)."""
        data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        if chunked:
            data = iter([data[:len(data) // 2], data[len(data) // 2:]])  # no Content-Length
        response = self.http.request(method, self.server.url + path, data=data, headers=headers, timeout=30,
                                     stream=True)
        text = response.raw.read(decode_content=True).decode("utf-8")  # also fails on invalid UTF-8
        status = response.status_code
        assert status < 500, f"{method} {path} -> {status}: {text[:500]}"
        if status >= 400 and anthropic:  # Anthropic's envelope: {"type": "error", "error": {"type", "message"}}
            assert response.headers["Content-Type"].startswith("application/json"), text[:300]
            answer = json.loads(text)
            assert set(answer) == {"type", "error"} and answer["type"] == "error", answer
            assert set(answer["error"]) == {"type", "message"}, answer
            assert answer["error"]["type"] in ANTHROPIC_TYPES.get(status, ()), (status, answer)
            assert isinstance(answer["error"]["message"], str) and answer["error"]["message"], answer
        elif status >= 400 and google:  # Google's envelope: {"error": {"code", "message", "status", "details"?}}
            assert response.headers["Content-Type"].startswith("application/json"), text[:300]
            error = json.loads(text)["error"]
            assert set(error) - {"details"} == {"code", "message", "status"} and error["code"] == status, error
            assert isinstance(error["message"], str) and error["message"] and error["status"].isupper(), error
        elif status >= 400:
            assert response.headers["Content-Type"].startswith("application/json"), text[:300]
            error = json.loads(text)["error"]
            assert set(error) == {"message", "type", "param", "code"}, error
            assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
            assert all(value is None or isinstance(value, str) for value in (error["param"], error["code"])), error
        elif response.headers.get("Content-Type", "").startswith("text/event-stream") and anthropic:
            self._check_anthropic_stream(text)
        elif google:
            self._check_gemini(text, response.headers.get("Content-Type", ""))
        elif response.headers.get("Content-Type", "").startswith("text/event-stream"):
            self._check_stream(text)
        else:
            json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in a response"))
        return status, text

    @staticmethod
    def _check_gemini(text: str, content_type: str) -> None:
        """One GenerateContentResponse, or a stream of them ending with the finishReason."""
        if content_type.startswith("text/event-stream"):
            answers = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
        else:
            answers = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in a response"))
            answers = answers if isinstance(answers, list) else [answers]
        assert answers and not any("error" in answer for answer in answers), text[-500:]
        if "totalTokens" in answers[-1]:  # countTokens
            assert type(answers[-1]["totalTokens"]) is int and answers[-1]["totalTokens"] >= 0, answers
            return
        assert answers[-1]["candidates"][0]["finishReason"] in ("STOP", "MAX_TOKENS", "SAFETY"), text[-500:]

    @staticmethod
    def _check_stream(text: str) -> None:
        events = [line for line in text.splitlines() if line.startswith(("data: ", "event: "))]
        assert "event: error" not in events, text[-500:]
        payloads = [line[6:] for line in events if line.startswith("data: ")]
        assert payloads, text[-500:]
        for payload in payloads:
            if payload != "[DONE]":
                assert "error" not in json.loads(payload), payload
        assert payloads[-1] == "[DONE]" or "event: done" in events or events[-2] in (
            "event: response.completed", "event: response.incomplete"), text[-500:]

    @staticmethod
    def _check_anthropic_stream(text: str) -> None:
        """Named events whose data's type is the name, from message_start to message_stop, no error."""
        names = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
        payloads = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
        assert [p["type"] for p in payloads] == names, text[-500:]
        assert names[0] == "message_start" and names[-1] == "message_stop" and "error" not in names, text[-500:]

    def reset_accounts(self) -> None:
        """Only the simulator's account stays usable: an account the fuzzer made up must never
        serve a chat request (the simulator would refuse its cookies, a legitimate 503)."""
        response = self.http.get(f"{self.server.url}/admin/accounts", headers=ADMIN, timeout=10)
        listing = response.text
        assert response.status_code == 200, listing
        # Strictly: a NaN or Infinity stored by an earlier request would make it invalid JSON.
        for shown in json.loads(listing, parse_constant=lambda name: pytest.fail(f"{name} in {listing}"))["accounts"]:
            if shown["id"] != CANARY["id"]:
                url = f"{self.server.url}/admin/accounts/{quote(shown['id'], safe='')}"
                assert self.http.delete(url, headers=ADMIN, timeout=10).status_code == 200
        for made in ({"id": TARGET}, {"id": NO_EMAIL}):
            assert self.http.post(f"{self.server.url}/admin/accounts", headers=ADMIN, json=made, timeout=10).ok
        self.http.patch(f"{self.server.url}/admin/accounts/{quote(CANARY['id'])}", headers=ADMIN, timeout=10,
                        json={"clear_cooldown": True, "needs_login": False, "disabled": False}).raise_for_status()


@pytest.fixture(scope="module")
def fuzzed(simulator, tmp_path_factory):
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, KEEPALIVE_INTERVAL="5",
                                MAX_FILE_MB=str(MAX_FILE_MB), MAX_REQUEST_MB=str(MAX_REQUEST_MB)), workers=1)
    target = Fuzzed(server)
    target.reset_accounts()
    yield target
    server.stop()


@pytest.fixture(autouse=True)
def same_worker_and_a_clean_log(fuzzed):
    fuzzed.session_id = None  # the simulator was reset for this test
    seen = len(fuzzed.server.output())
    yield
    new = fuzzed.server.output()[seen:]
    tracebacks = [i for i, line in enumerate(new) if "Traceback" in line]
    assert not tracebacks, "\n".join(new[tracebacks[0] - 5:tracebacks[0] + 40] if tracebacks else [])
    assert fuzzed._workers() == fuzzed.worker, "the gunicorn worker was replaced (it crashed or was killed)"
    pids = {entry["pid"] for entry in fuzzed.server.json_logs() if entry.get("message") == "request done"}
    assert pids == fuzzed.worker, pids


# --- the properties ---------------------------------------------------------------------------
@FUZZ
@given(body=bodies("chat"))
def test_chat_completions(fuzzed, body):
    fuzzed.send("POST", "/v1/chat/completions", body)


@FUZZ
@given(body=bodies("responses"))
def test_responses(fuzzed, body):
    fuzzed.send("POST", "/v1/responses", body)


@FUZZ
@given(body=bodies("generate"), root=st.sampled_from(["/v1beta", "/v1"]),
       model=weighted((4, st.sampled_from(["gemini-2.5-flash", "gemini-business", "gpt-4o"])),
                      (1, st.sampled_from(["nano-banana-2", "nope", "models/x", "a:b", ""]))),
       action=weighted((2, st.sampled_from(["generateContent", "streamGenerateContent?alt=sse"])),
                       (1, st.sampled_from(["streamGenerateContent", "countTokens", "", "generateContent?alt=sse",
                                            "embedContent"]))),
       key=st.sampled_from(["x-goog-api-key", "query", "bearer"]))
def test_generate_content(fuzzed, body, root, model, action, key):
    headers = {"Content-Type": "application/json"}
    path = f"{root}/models/{quote(model, safe='/:')}:{action}"
    if key == "query":
        path += ("&" if "?" in path else "?") + f"key={API_KEY}"
    elif key == "x-goog-api-key":
        headers["x-goog-api-key"] = API_KEY
    else:
        headers = CLIENT
    fuzzed.send("POST", path, body, headers, google=True)


@FUZZ
@given(body=bodies("image_generation"))
def test_image_generations(fuzzed, body):
    status, answer = fuzzed.send("POST", "/v1/images/generations", body)
    if status == 200:
        check_images(fuzzed, answer, json.loads(body))


@FUZZ
@given(body=bodies("image_edit"))
def test_image_edits_json(fuzzed, body):
    status, answer = fuzzed.send("POST", "/v1/images/edits", body)
    if status == 200:
        check_images(fuzzed, answer, json.loads(body))


@FUZZ
@given(form=st.one_of(multipart(CLEAN["image_edit"]), multipart(HOSTILE["image_edit"])))
def test_image_edits_multipart(fuzzed, form):
    content_type, body, chunked = form
    headers = {"Authorization": CLIENT["Authorization"]}
    if content_type is not None:
        headers["Content-Type"] = content_type
    status, answer = fuzzed.send("POST", "/v1/images/edits", body, headers, chunked)
    if status == 200:
        check_images(fuzzed, answer)


def check_images(fuzzed, answer: str, sent: dict | None = None) -> None:
    """An ImagesResponse holds PNG images (the simulator makes PNG), as many as `n` asked for,
    in the response_format asked for (left out: url, or b64_json for a GPT image model's name);
    a url is fetchable without the API key. `sent`: the JSON body (a form's is not rebuilt here)."""
    answer = json.loads(answer)
    assert set(answer) == {"created", "data", "usage"} and isinstance(answer["created"], int), answer
    usage = answer["usage"]  # the estimate the usage record counts (app/openai/images.py)
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] and usage["input_tokens"] > 0, usage
    if sent is not None:
        model = sent.get("model") or ""
        assert len(answer["data"]) == (sent.get("n") or 1), (sent, answer)
        expected = sent.get("response_format") or (
            "b64_json" if model.lower().startswith(("gpt-image-", "chatgpt-image")) else "url")
    assert 1 <= len(answer["data"]) <= 4, answer
    for item in answer["data"]:
        [(kind, value)] = item.items()
        if sent is not None:
            assert kind == expected, (sent, item)
        if kind == "url":
            fetched = fuzzed.http.get(value, timeout=10)
            assert fetched.status_code == 200 and fetched.headers["Content-Type"] == "image/png", fetched.text[:300]
            image = fetched.content
        else:
            assert kind == "b64_json", item
            image = base64.b64decode(value, validate=True)
        assert image.startswith(b"\x89PNG\r\n\x1a\n"), image[:20]


@FUZZ
@given(body=bodies("messages"))
def test_anthropic_messages(fuzzed, body):
    fuzzed.send("POST", "/v1/messages?beta=true", body, ANTHROPIC, anthropic=True)


@FUZZ
@given(body=bodies("messages"))
def test_anthropic_count_tokens(fuzzed, body):
    status, answer = fuzzed.send("POST", "/v1/messages/count_tokens", body, ANTHROPIC, anthropic=True)
    if status == 200:
        assert set(json.loads(answer)) == {"input_tokens"}, answer


@FUZZ
@given(body=bodies("session"))
def test_native_sessions(fuzzed, body):
    fuzzed.send("POST", "/gemini/sessions", body)


@FUZZ
@given(data=st.data())
def test_native_chat(fuzzed, data):
    fuzzed.send("POST", "/gemini/chat", data.draw(bodies("native_chat", fuzzed.session())))


@FUZZ
@given(body=bodies("accounts"))
def test_admin_add_accounts(fuzzed, body):
    try:
        fuzzed.send("POST", "/admin/accounts", body, ADMIN)
    finally:
        fuzzed.reset_accounts()


@FUZZ
@given(account_id=account_ids, body=bodies("patch"))
def test_admin_change_account(fuzzed, account_id, body):
    try:
        fuzzed.send("PATCH", f"/admin/accounts/{account_id}", body, ADMIN)
    finally:
        fuzzed.reset_accounts()


@FUZZ
@given(account_id=st.one_of(st.just(NO_EMAIL), account_ids.filter(lambda a: a != TARGET)), body=bodies("code"),
       action=st.sampled_from(["login", "code"]))
def test_admin_sign_in_and_code(fuzzed, account_id, body, action):
    # Never /login on an account with an email: that would start a real browser sign-in.
    fuzzed.send("POST", f"/admin/accounts/{account_id}/{action}", body, ADMIN)


@FUZZ
@given(body=bodies("key"), data=st.data())
def test_admin_client_keys(fuzzed, body, data):
    """Made with any body, then changed with another, on a key that exists or on any id."""
    fuzzed.send("POST", "/admin/keys", body, ADMIN)
    if fuzzed.key_id is None:
        made = fuzzed.http.post(f"{fuzzed.server.url}/admin/keys", headers=ADMIN, json={}, timeout=10)
        fuzzed.key_id = made.json()["id"]
    key_id = data.draw(weighted((3, st.just(fuzzed.key_id)), (1, account_ids)))
    fuzzed.send("PATCH", f"/admin/keys/{key_id}", data.draw(bodies("key")), ADMIN)


def test_every_write_endpoint_is_fuzzed(tmp_path):
    """A route added later gets no fuzzing by accident: this list must name it."""
    app = create_app(Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", "ADMIN_KEY": "k"}))
    routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
              for method in rule.methods & {"POST", "PUT", "PATCH"}}
    assert routes == ENDPOINTS
