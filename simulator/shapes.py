"""Answer shapes of the real service that a plain answer (elements.normal_elements) never has.

Each is a stream fault kind (faults.SHAPE_KINDS), so tests pick one the way they pick any
fault. They come from upstream-protocol.md §6 and issue 8 §6:

* `multi_reply`: several replies in one element (§6.3: "One element may carry several
  replies; handle each"). Thoughts and text deltas packed REPLIES_PER_ELEMENT to an element,
  so one element holds a thought followed by answer text.
* `skip_late`: the first `after` elements of the normal answer (so some text has streamed),
  then a `SKIPPED` element (§6.5) with `reason` (default CUSTOMER_POLICY_VIOLATION).
* `stream_401`: the first `after` elements, then an `UNAUTHENTICATED` error element inside
  the 200 body (§9 "Auth failure in a body"; `reason` default ACCESS_TOKEN_EXPIRED).
* `large`: after the normal deltas, ONE element carrying `size` bytes (default 512,000) of
  answer text, `large_block(query, size)`: the answer is reply.text + "\\n" + that block.
* `think_pause`: the normal answer with a silence of `seconds` after the first `after`
  elements (default: after the first thought), as a model that thinks for a long time;
  POST /__sim__/release ends the pause early.
* `rich`: the answer of `rich_text(query)` (a fenced code block with indentation, tabs,
  blank lines and backticks, plus a sentence with sources), cut so that deltas split the
  fence, with citations on the final reply. The citation shape is not in the protocol notes:
  it is the `textGroundingMetadata` of Discovery Engine's public v1alpha AssistAnswer
  (`segments[]` with UTF-8 byte `startIndex`/`endIndex` as int64 strings and
  `referenceIndices`; `references[]` with `documentMetadata` {uri, title, domain}) [L]. A
  reply holding only citations and no content comes too.
"""

from __future__ import annotations

from .elements import (SessionInfo, StreamPlan, answer_element, first_element, normal_elements,
                       skipped_elements, split_text, text_part, thought)
from .errors import unauthenticated
from .replies import UNICODE_LINE, Reply, filler_words

REPLIES_PER_ELEMENT = 3
DEFAULT_LARGE_SIZE = 512_000

# A code block whose bytes a client must keep exactly: language tag, 4-space and tab
# indentation, a blank line inside, backticks and a backslash inside the code.
CODE_BLOCK = (
    "```python\n"
    "def greet(name):\n"
    "    \"\"\"Say hello.\"\"\"\n"
    "\tif not name:\n"
    "\t\treturn 'nobody'  # a tab-indented line\n"
    "\n"
    "    return f\"hello, {name}\\n\" + `not python` + '```'\n"
    "```"
)
SOURCES = (
    {"uri": "https://example.com/greetings", "title": "On greetings", "domain": "example.com"},
    {"uri": "https://example.org/unicode?x=1&y=2", "title": "Unicode — a primer", "domain": "example.org"},
)
CITED = "Greetings are old [citation needed], and café is spelt with an é."


def large_block(query: str, size: int) -> str:
    """Lines of filler words and the Unicode line (escapes, multi-byte characters) cut to
    `size` UTF-8 bytes at most, at a character boundary. Depends on query and size only."""
    words = filler_words(query, 64)
    line = " ".join(words) + "\n" + UNICODE_LINE + "\n"
    block = (line * (size // len(line.encode("utf-8")) + 1)).encode("utf-8")[:size]
    return block.decode("utf-8", "ignore")


def rich_text(query: str) -> str:
    return f'Here is code for "{query}":\n\n{CODE_BLOCK}\n\n{CITED}'


def citations(text: str) -> dict:
    """textGroundingMetadata for the sentence CITED inside `text` (byte offsets, §module)."""
    start = len(text.encode("utf-8")) - len(CITED.encode("utf-8"))
    return {
        "segments": [{"startIndex": str(start), "endIndex": str(start + len(CITED.encode("utf-8"))),
                      "referenceIndices": [0, 1], "groundingScore": 0.93, "text": CITED}],
        "references": [{"content": f"Snippet {i}: {s['title']}", "documentMetadata": dict(s)}
                       for i, s in enumerate(SOURCES)],
    }


def _fence_cuts(text: str) -> list[str]:
    """Deltas of `text` with a cut inside the opening and closing fences ("``" | "`")."""
    opening = text.index("```")
    closing = text.index("\n```", opening + 3) + 1
    cuts = [0, opening + 2, closing + 1, len(text)]
    deltas = []
    for a, b in zip(cuts, cuts[1:]):
        deltas += split_text(text[a:b]) if b - a >= 3 else [text[a:b]]
    return [d for d in deltas if d]


# The shapes that only cut or hold an answer, so they apply to a file answer (§6.4) too;
# the others reshape answer text, which an image or video answer does not have.
ANY_ANSWER_SHAPES = ("skip_late", "stream_401", "think_pause")


def plan_shape(kind: str, fault, reply: Reply, info: SessionInfo, query: str,
               normal: list[dict] | None = None) -> StreamPlan:
    """`normal`: the answer to cut or hold when it is not the text answer (a file answer);
    only ANY_ANSWER_SHAPES take one."""
    normal = normal or normal_elements(reply, info)
    after = min(fault.after, len(normal) - 1)
    if kind == "multi_reply":
        return StreamPlan(_packed(reply, info))
    if kind == "skip_late":
        skipped = skipped_elements(info, fault.reason or "CUSTOMER_POLICY_VIOLATION")[-1]
        return StreamPlan(normal[:after] + [skipped], keeps=())
    if kind == "stream_401":
        error = unauthenticated(fault.reason or "ACCESS_TOKEN_EXPIRED").body()
        return StreamPlan(normal[:after] + [error], records_turn=False)
    if kind == "large":
        block = "\n" + large_block(query, fault.size or DEFAULT_LARGE_SIZE)
        last = normal[-1]["streamAssistResponse"]["answer"]["replies"]
        # the normal deltas, then the block as one element of its own, then the end
        elements = normal[:-1] + [answer_element("IN_PROGRESS", last),
                                  answer_element("IN_PROGRESS", [text_part(block)]),
                                  answer_element("SUCCEEDED", [], info.to_json())]
        return StreamPlan(elements, keeps=("thoughts",))
    if kind == "think_pause":
        return StreamPlan(normal, "gate", min(fault.after, len(normal) - 1),
                          hold_seconds=fault.seconds, hold_event=fault.released)
    if kind == "rich":
        return StreamPlan(_rich(reply, info, rich_text(query)), keeps=("thoughts",))
    raise ValueError(f"not an answer shape: {kind}")


def _packed(reply: Reply, info: SessionInfo) -> list[dict]:
    replies = [thought(t) for t in reply.thoughts] + [text_part(d) for d in split_text(reply.text)]
    groups = [replies[i:i + REPLIES_PER_ELEMENT] for i in range(0, len(replies), REPLIES_PER_ELEMENT)]
    middle = [answer_element("IN_PROGRESS", group) for group in groups[1:-1]]
    return [first_element(groups[0]), *middle, answer_element("SUCCEEDED", groups[-1], info.to_json())]


def _rich(reply: Reply, info: SessionInfo, text: str) -> list[dict]:
    deltas = _fence_cuts(text)
    elements = [first_element([thought(reply.thoughts[0])])]
    elements += [answer_element("IN_PROGRESS", [text_part(d)]) for d in deltas[:-1]]
    final = text_part(deltas[-1])
    final["groundedContent"]["textGroundingMetadata"] = citations(text)
    only_citations = {"groundedContent": {"textGroundingMetadata": citations(text)}}
    elements.append(answer_element("SUCCEEDED", [final, only_citations], info.to_json()))
    return elements
