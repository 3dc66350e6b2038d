r"""The simulator's deterministic "model": what it answers to a query.

Tests of the proxy import `reply_for` to compute the exact text they must receive, so the
format below is a contract. For a query Q sent as turn N of an upstream session whose
earlier queries are H (oldest first), with W = the `reply_words` setting:

    Turn N — you said: "<last non-empty line of Q, verbatim>"
    <memory line>
    Unicode check: café, 你好, 🙂 — escapes: a backslash \ and a "quote".
    <W filler words separated by single spaces, then ".">

* The memory line is `Your first message in this session was: "<H[0], verbatim>"` when H
  is non-empty, else `This is the first turn of this session.` So a test can see whether
  the proxy continued an upstream session (N > 1) or started a new one.
* Lines are joined with "\n"; there is no trailing newline. With W == 0 the filler line is
  left out.
* With files attached (the fileIds of the request, in their order), one line per file
  follows the memory line: `Attached file K: <MIME type>, <size> bytes, sha256 <hex>.`
  (K from 1); a text/plain file's line ends instead with `, text: <its UTF-8 text as a JSON
  string, non-ASCII kept>.` So a test can prove the bytes it sent arrived intact. The file
  name is left out: the uploader chooses it (§5.3), not the client of the gateway.
* A "non-empty line" is a line with something other than whitespace in it (lines are split
  with str.splitlines). A query with no such line is quoted as "".
* Filler words come from FILLER, chosen by the bytes of sha256("<block>:<Q>") for block
  0, 1, 2, ... (each byte modulo 32 picks one word), so they depend on Q only.
* The third line holds non-ASCII text (an em dash, "é", "你好", an emoji), a backslash and
  double quotes on purpose: every answer exercises UTF-8 splitting and JSON escapes.

The two thoughts are short sentences (with an em dash and "\n" in them, so the thought
elements exercise UTF-8 splitting and escapes too); tests should compare them with
`reply.thoughts` rather than rely on their wording.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

FILLER = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
    "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray",
    "yankee", "zulu", "amber", "cobalt", "ember", "indigo", "jade", "onyx",
)  # 32 words: a byte modulo 32 picks one without bias

UNICODE_LINE = 'Unicode check: café, 你好, 🙂 — escapes: a backslash \\ and a "quote".'


@dataclass(frozen=True)
class Reply:
    thoughts: list[str]
    text: str


def last_nonempty_line(query: str) -> str:
    lines = [line for line in query.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def filler_words(query: str, count: int) -> list[str]:
    words: list[str] = []
    block = 0
    while len(words) < count:
        digest = hashlib.sha256(f"{block}:{query}".encode("utf-8")).digest()
        words.extend(FILLER[byte % len(FILLER)] for byte in digest)
        block += 1
    return words[:count]


def file_line(number: int, mime_type: str, data: bytes) -> str:
    line = f"Attached file {number}: {mime_type}, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"
    if mime_type == "text/plain":
        text = data.decode("utf-8", "replace")
        return f"{line}, text: {json.dumps(text, ensure_ascii=False)}."
    return line + "."


def reply_for(query: str, history: list[str], words: int,
              files: list[tuple[str, bytes]] = ()) -> Reply:
    """The reply to `query` as turn len(history)+1 of a session; see the module docstring.
    files: (MIME type, bytes) of each attached file, in the order of the request's fileIds."""
    turn = len(history) + 1
    lines = [f'Turn {turn} — you said: "{last_nonempty_line(query)}"']
    if history:
        lines.append(f'Your first message in this session was: "{history[0]}"')
    else:
        lines.append("This is the first turn of this session.")
    lines += [file_line(n, mime, data) for n, (mime, data) in enumerate(files, 1)]
    lines.append(UNICODE_LINE)
    if words > 0:
        lines.append(" ".join(filler_words(query, words)) + ".")
    thoughts = [
        f"**Reading turn {turn}**\n\nThe message is {len(query)} characters long — fine.",
        "**Drafting the answer**\n\nQuote the last line, recall the session — then pad.",
    ]
    return Reply(thoughts=thoughts, text="\n".join(lines))
