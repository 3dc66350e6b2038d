"""Values a JSON Schema accepts, made from the user's words the way a model fills arguments.

`value_for(schema, words)` walks the schema: local `$ref`s (`#/$defs/X`, `#/definitions/X`,
as Pydantic writes them), `anyOf`/`oneOf` (the first option that is not null), `allOf`
(merged), type lists (the first type that is not null), `const`, `enum` (its first value),
`default`. Objects get their required properties, and the optional ones whose name the user
wrote; arrays get `minItems` items (at least one); numbers come from the user's words in
order (else the minimum, else 1); booleans are true; strings, by what the property is for:

* named with `key: value`, `key = value`, `key "value"` or `key is value` in the user's words
  → that value;
* a `format` (date, date-time, time, email, uri/url, uuid, hostname, ipv4, ipv6) → a fixed
  example of it;
* a path or file name (`path`, `file`, `dir` in the property name) → the first word that looks
  like a path (has a `/`, or a name.ext), else `notes.txt`;
* free text (`query`, `text`, `content`, `command`, …) → the next quoted (`"…"`, `` `…` ``)
  string, else the user's request;
* anything else (a city, a name…) → the next proper noun (capitalised words not starting a
  sentence), else the next quoted string, else the user's request.

`minLength`/`maxLength` are respected by padding with "x" or cutting. Deterministic: the same
schema and words give the same value.
"""

from __future__ import annotations

import json
import re

FORMATS = {
    "date": "2026-12-05", "date-time": "2026-12-05T12:00:00Z", "time": "12:00:00",
    "email": "user@example.com", "uri": "https://example.com/", "url": "https://example.com/",
    "uri-reference": "https://example.com/", "iri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000", "hostname": "example.com",
    "ipv4": "192.0.2.1", "ipv6": "2001:db8::1", "duration": "P1D",
}
PATHY = ("path", "file", "dir", "folder")
TEXTY = ("query", "text", "content", "command", "prompt", "question", "message", "input",
         "body", "code", "search", "keyword", "term", "topic", "description", "summary",
         "answer", "reason", "note", "comment", "instruction", "string", "pattern", "q")
_QUOTED = re.compile(r'"([^"\n]+)"|`([^`\n]+)`|“([^”\n]+)”')
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*[A-Za-z/])")
_PATHLIKE = re.compile(r"(?<![\w@])(?:[\w.~-]*/[\w./~-]+|[\w-]+\.[A-Za-z0-9]{1,5})(?![\w/])")
_CAPITAL = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*)$")
MAX_DEPTH = 8


def _variants(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    return list(dict.fromkeys([name, spaced.lower()]))


def _unquoted(text: str) -> str:
    """A request that is one JSON string literal, read as the string it holds: `opencode run
    "create x with content \\"hi\\""` sends the task so, and a model reads the inner quotes."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        try:
            value = json.loads(stripped)
        except ValueError:
            return text
        return value if isinstance(value, str) else text
    return text


class Words:
    """The user's words and what was already taken from them (each value used once)."""

    def __init__(self, text: str):
        text = _unquoted(text)
        self.text = text
        self.request = " ".join(text.split())[:200] or "hello"
        self.where: dict[str, int] = {}  # where each value below is first written
        self.quoted = self._found(_QUOTED.finditer(text), lambda m: next(g for g in m.groups() if g))
        blanked = _QUOTED.sub(lambda m: " " * len(m.group()), text)  # numbers outside quotes, same offsets
        self.numbers = self._found(_NUMBER.finditer(blanked), lambda m: m.group())
        self.paths = self._found(_PATHLIKE.finditer(text), lambda m: m.group().rstrip("."))
        self.nouns = self._found(_CAPITAL.finditer(text), self._noun)
        self.used: set[str] = set()
        # Values written from here on are taken first: the words that follow the mention of the
        # tool being called ("the weather in Paris and the time in Tokyo": get_time → Tokyo,
        # also when it is called alone, in a later step of an agent loop).
        self.start = 0

    def _found(self, matches, value) -> list[str]:
        found = []
        for match in matches:
            text = value(match)
            if text:
                found.append(text)
                self.where.setdefault(text, match.start())
        return found

    def _noun(self, match) -> str:
        """The proper noun in a run of capitalised words; a sentence's first word is not one."""
        words = match.group().split()
        if _SENTENCE_START.search(self.text[:match.start()]):
            words = words[1:]
        return " ".join(words) if words != ["I"] else ""

    def take(self, options: list[str]) -> str | None:
        ahead = [o for o in options if self.where.get(o, 0) >= self.start]
        for option in ahead + [o for o in options if o not in ahead]:
            if option not in self.used:
                self.used.add(option)
                return option
        return None

    def named(self, name: str) -> str | None:
        """The value written right after the property's name, if the user named it."""
        for variant in _variants(name):
            key = re.escape(variant)
            match = re.search(
                rf"(?i)(?<!\w){key}(?!\w)\s*(?:[:=]\s*|\s(?:is|of|to|as|named|called)\s+|(?=[\"`]))"
                rf"(?:\"(?P<q>[^\"\n]*)\"|`(?P<b>[^`\n]*)`|(?P<w>[^\s,;!?]+))", self.text)
            if match:
                value = next(v for v in (match["q"], match["b"], match["w"]) if v is not None)
                self.used.add(value)
                return value.rstrip(".") if match["w"] is not None else value

    def mentions(self, name: str) -> bool:
        return any(re.search(rf"(?i)(?<!\w){re.escape(v)}(?!\w)", self.text) for v in _variants(name))


def value_for(schema, words: Words, root=None, name: str = "", depth: int = 0):
    root = schema if root is None else root
    schema = _resolved(schema, root)
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return words.request
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            options = [_resolved(s, root) for s in schema[key]]
            chosen = next((s for s in options if not (isinstance(s, dict) and s.get("type") == "null")),
                          options[0])
            return value_for(chosen, words, root, name, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolved(part, root)
            if isinstance(part, dict):
                merged.setdefault("properties", {}).update(part.get("properties", {}))
                merged["required"] = list(merged.get("required", [])) + list(part.get("required", []))
                merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
        return value_for(merged, words, root, name, depth + 1)
    kind = _type(schema)
    if kind == "object":
        return _object(schema, words, root, depth)
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), (dict, bool)) else {}
        count = max(1, schema.get("minItems", 1) if isinstance(schema.get("minItems"), int) else 1)
        return [value_for(items if isinstance(items, dict) else {}, words, root, name, depth + 1)
                for _ in range(count)]
    if kind in ("integer", "number"):
        return _number(schema, words, name, kind)
    if kind == "boolean":
        return schema.get("default") if isinstance(schema.get("default"), bool) else True
    if kind == "null":
        return None
    return _string(schema, words, name)


def _resolved(schema, root, seen: int = 0):
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < MAX_DEPTH:
        target = root
        for part in schema["$ref"].lstrip("#").strip("/").split("/"):
            target = target.get(part) if isinstance(target, dict) and part else target
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest} if isinstance(target, dict) else rest
        seen += 1
    return schema


def _type(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _object(schema: dict, words: Words, root, depth: int) -> dict:
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = [r for r in schema.get("required", []) if isinstance(r, str)] \
        if isinstance(schema.get("required"), list) else []
    chosen = [n for n in properties if n in required or words.mentions(n)]
    chosen += [n for n in required if n not in properties]  # required but not described: a string
    return {n: value_for(properties.get(n, {}), words, root, n, depth + 1) for n in chosen}


def _number(schema: dict, words: Words, name: str, kind: str):
    written = words.named(name) if name else None
    text = written if written is not None and _NUMBER.fullmatch(written) else words.take(words.numbers)
    value = float(text) if text is not None else None
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    if value is None:
        value = low if isinstance(low, (int, float)) and not isinstance(low, bool) else 1
        if "exclusiveMinimum" in schema and "minimum" not in schema:
            value += 1
    if isinstance(low, (int, float)) and value < low:
        value = low
    if isinstance(high, (int, float)) and value > high:
        value = high
    if kind == "integer":
        return int(value)
    return int(value) if float(value).is_integer() else value


def _string(schema: dict, words: Words, name: str) -> str:
    value = words.named(name) if name else None
    lowered = name.lower()
    if value is None and schema.get("format") in FORMATS:
        value = FORMATS[schema["format"]]
    if value is None and any(p in lowered for p in PATHY):
        value = words.take(words.paths) or "notes.txt"
    if value is None and (lowered in TEXTY or any(t in lowered for t in TEXTY if len(t) > 2)):
        value = words.take(words.quoted) or words.request
    if value is None:
        value = words.take(words.nouns) or words.take(words.quoted) or (
            words.nouns[0] if words.nouns else words.request)
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(value) < low:
        value += "x" * (low - len(value))
    if isinstance(high, int) and len(value) > high:
        value = value[:high]
    return value
