"""The model's text → the text before its calls, and the calls.

The model is asked to answer with a <tool_calls> block holding a JSON array (prompt.py), and
drifts from it: the JSON fenced (```json) or bare, prose around it, several blocks, trailing
commas, single quotes, the arguments as a string, OpenAI's own {"function": {...}} shape, a
call followed by made-up text. `Scanner` reads a text as it streams and says, as early as it
can, what is answer text and what is a call; it holds text back only while it may still be the
start of a call: a `<tool_calls>` tag (or the start of one), a fence whose content opens with
`{`/`[`, or JSON at the very start of the answer. `parse` is the same on a whole text.

Here is where a segment starts and ends and what it is meant as (text, or calls in one of the
shapes call_shapes.py reads); which calls the client is given is admit.py's: anything that reads
as an attempt at a call but is not a valid one is a `problem` (a sentence the corrective retry
hands back to the model); text after the first call is dropped (a model that goes on after
calling invents the result).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import tool_code
from .admit import Problem, admitted
from .call_shapes import ARGUMENT_KEYS, call_objects, loads
from .calls import FENCE, OPENS, TAGS, Call
from .spec import Tooling
from .streamtext import Brackets, partial


@dataclass(frozen=True)
class Parsed:
    text: str                     # the answer text the client is shown (before the calls)
    calls: tuple[Call, ...]
    problem: str | None           # set when there are no calls and the answer tried to make one


def parse(text: str, tooling: Tooling) -> Parsed:
    """A whole answer read as `Scanner` reads a stream."""
    scanner = Scanner(tooling)
    out = scanner.feed(text) + scanner.end()
    return Parsed("".join(o for o in out if isinstance(o, str)), tuple(o for o in out if isinstance(o, Call)),
                  scanner.problem)


class Scanner:
    """feed(text) / end() → what may be shown now, in order: str (answer text) and Call.

    After the first call, text is dropped and further calls are kept only when the request
    allows parallel calls; a call the same as an earlier one (name and arguments) is made once.
    A problem (a broken call, before any call was made) ends the answer: everything after it
    is dropped and `problem` says what was wrong."""

    def __init__(self, tooling: Tooling):
        self.tooling = tooling
        self.buf = ""
        self.started = False      # past the answer's start (where bare JSON may be a call)
        self.in_code = False      # inside a fenced block that is not a call: shown as it is
        self.calls: list[Call] = []
        self.problem: str | None = None
        self.blank = ""           # blank text not shown yet: nothing, if a call comes next
        # a segment held at the start of buf: where the search for its end goes on
        self.seek = 0
        self.brackets: Brackets | None = None

    def feed(self, text: str) -> list:
        self.buf += text
        return self._scan(final=False)

    def end(self) -> list:
        return self._scan(final=True)

    # -- the scan ------------------------------------------------------------------------------
    def _scan(self, final: bool) -> list:
        out: list = []
        while self.buf and self.problem is None:
            if not self._step(out, final):
                break
        if self.problem is not None:
            self.buf = ""
        if final and self.buf:
            self._text(out, self.buf)
            self.buf = ""
        if final and self.blank and not self.calls and self.problem is None:
            out.append(self.blank)
            self.blank = ""
        return out

    def _step(self, out: list, final: bool) -> bool:
        """Consume what can be decided now; False when the rest must wait for more text."""
        if self.in_code:
            return self._code_text(out, final)
        if not self.started:
            body = self.buf.lstrip()
            if not body:
                return False  # only blank so far: it may precede JSON
            self.started = body[0] not in "{["
            if not self.started:
                return self._bare(out, len(self.buf) - len(body), final)
        buf = self.buf
        fence = buf.find(FENCE)
        hits = [k for k in (*(buf.find(o) for o in OPENS), fence) if k >= 0]
        if not hits:
            keep = 0 if final else partial(buf, (*OPENS, FENCE))
            self._text(out, buf[:len(buf) - keep])
            self.buf = buf[len(buf) - keep:]
            return False
        at = min(hits)
        self._text(out, buf[:at])
        self.buf = buf[at:]
        return self._fence(out, final) if at == fence else self._tag(out, final)

    def _code_text(self, out: list, final: bool) -> bool:
        """Inside a fenced block that is not a call: shown as it comes, up to its closing fence."""
        buf = self.buf
        close = buf.find(FENCE)
        if close < 0:
            keep = 0 if final else partial(buf, (FENCE,))
            self._text(out, buf[:len(buf) - keep])
            self.buf = buf[len(buf) - keep:]
            return False
        self._text(out, buf[:close + len(FENCE)])
        self.buf, self.in_code = buf[close + len(FENCE):], False
        return True

    def _bare(self, out: list, at: int, final: bool) -> bool:
        """JSON at the very start of the answer (after blank): held until it closes."""
        buf = self.buf
        self.brackets = self.brackets or Brackets(at)
        end = self.brackets.end(buf)
        if end is None and not final:
            return False
        self.started, self.brackets = True, None
        end = end or len(buf)
        self._text(out, buf[:at])
        self._loose(out, buf[at:end], buf[at:end])
        self.buf = buf[end:]
        return True

    def _tag(self, out: list, final: bool) -> bool:
        """A <tool_calls> (or <tool_call>) tag at the start of buf: a block up to its closing
        tag (or the end: a model may stop without it), or, followed by prose, text."""
        buf = self.buf
        open_tag, close_tag = next(t for t in TAGS if buf.startswith(t[0]))
        rest = buf[len(open_tag):].lstrip()
        if not rest and not final:
            return False  # what follows the tag decides
        if rest and rest[0] not in "[{`<":  # the tag named in prose, not a block
            self._text(out, open_tag)
            self.buf = buf[len(open_tag):]
            return True
        return self._held(out, final, len(open_tag), close_tag, self._block)

    def _fence(self, out: list, final: bool) -> bool:
        """A fence at the start of buf: its info word and first character decide what it is —
        a wrapped <tool_calls> block, Gemini's tool_code, JSON (held to its closing fence), or
        code (shown at once)."""
        buf = self.buf
        newline = buf.find("\n")
        body = buf[newline + 1:].lstrip() if newline >= 0 else ""
        if not body and not final:
            return False
        if body.startswith(OPENS):  # the fence only wraps a block
            self.buf = body
            return True
        if buf[len(FENCE):newline].strip().lower() == "tool_code":  # Gemini's Python calls (tool_code.py)
            return self._held(out, final, newline + 1, FENCE, self._code)
        if not final and any(o.startswith(body) for o in OPENS):
            return False  # perhaps the start of a block
        if body[:1] not in ("{", "["):
            self._text(out, buf[:newline + 1] if newline >= 0 else buf[:len(FENCE)])
            self.buf = buf[newline + 1:] if newline >= 0 else buf[len(FENCE):]
            self.in_code = True
            return True
        return self._held(out, final, newline + 1, FENCE, self._loose)

    def _held(self, out: list, final: bool, start: int, closing: str, read) -> bool:
        """The block at the start of buf (a <tool_calls> block, a fence) whose content begins at
        `start`, once its `closing` marker is there (or the text ends): read(out, its content,
        the block as written)."""
        buf = self.buf
        close = buf.find(closing, max(start, self.seek))
        if close < 0 and not final:
            self.seek = len(buf) - len(closing)  # the next delta's search starts about here
            return False
        self.seek = 0
        end = close + len(closing) if close >= 0 else len(buf)
        read(out, buf[start:close if close >= 0 else len(buf)], buf[:end])
        self.buf = buf[end:]
        return True

    # -- what a segment is ---------------------------------------------------------------------
    def _text(self, out: list, text: str) -> None:
        if not text or self.calls:
            return
        body = text.rstrip()
        if body:  # blank at the end waits: before a call it is not content
            out.append(self.blank + body)
            self.blank = ""
        self.blank += text[len(body):]

    def _block(self, out: list, inner: str, written: str) -> None:
        """A <tool_calls> (or <tool_call>) block: whatever JSON it holds is meant as calls. One
        with no JSON at all is the tag named in prose ("I would answer with <tool_calls>…"):
        text, as written."""
        start = min((k for k in (inner.find("["), inner.find("{")) if k >= 0), default=-1)
        if start < 0:
            return self._text(out, written)
        if self.calls and not self.tooling.parallel:
            return
        end = Brackets(start).end(inner) or len(inner.rstrip().rstrip("`").rstrip())
        try:
            value = loads(inner[start:end])
        except ValueError as exc:
            return self._fail(f"the JSON in the <tool_calls> block is not valid: {exc}")
        found = call_objects(value, named_only=True)
        if found is None:
            return self._fail('the <tool_calls> block must hold a JSON array of {"name": …, "arguments": {…}} '
                              "objects")
        self._accept(out, found)

    def _loose(self, out: list, json_text: str, written: str) -> None:
        """Fenced or bare JSON: calls when it reads as calls, else answer text as written."""
        try:
            value = loads(json_text.strip())
        except ValueError:
            if not self.calls and self._names_a_tool(json_text):
                return self._fail("the JSON of the call is not valid")
            return self._text(out, written)
        found = call_objects(value)
        if found is None:
            return self._text(out, written)
        if self.calls and not self.tooling.parallel:
            return
        self._accept(out, found)

    def _code(self, out: list, code: str, written: str) -> None:
        """A tool_code block: calls of offered tools, else code shown as written."""
        try:
            found = tool_code.calls_in(code, {t.name for t in self.tooling.tools})
        except ValueError as exc:
            return self._fail(str(exc))
        if found is None:
            return self._text(out, written)
        if self.calls and not self.tooling.parallel:
            return
        self._accept(out, found)

    def _names_a_tool(self, text: str) -> bool:
        return any(f'"{t.name}"' in text for t in self.tooling.tools) and any(k in text for k in ARGUMENT_KEYS)

    def _accept(self, out: list, found: list[dict]) -> None:
        try:
            calls = admitted(found, self.calls, self.tooling)
        except Problem as exc:
            return self._fail(str(exc))
        self.calls.extend(calls)
        out.extend(calls)

    def _fail(self, message: str) -> None:
        if not self.calls:
            self.problem = message
