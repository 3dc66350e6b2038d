"""A tool call as every surface carries it, and the written form the model is asked to call in.

`Call` is what a client is given and what its transcript sends back: an id, the tool's name and
the arguments as a JSON object's text. The model is asked to answer with a <tool_calls> block
holding a JSON array (prompt.py writes the request, scan.py reads what the model writes); the
tags and endings are here because those modules and the conversation index
(app/conversations.py) must agree on them.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

OPEN, CLOSE, FENCE = "<tool_calls>", "</tool_calls>", "```"
# the block as asked for, and the singular one models trained on other formats write
TAGS = ((OPEN, CLOSE), ("<tool_call>", "</tool_call>"))
OPENS = tuple(open_tag for open_tag, _ in TAGS)
# how an answer whose calls were its last words ends (a block, a fence, bare JSON)
CALL_ENDINGS = (*(close_tag for _, close_tag in TAGS), FENCE, "]", "}")


@dataclass(frozen=True)
class Call:
    id: str
    name: str
    arguments: str                # a JSON object, as a string: validated against the tool's schema

    @staticmethod
    def new(name: str, arguments: dict) -> "Call":
        return Call(new_call_id(), name, json.dumps(arguments, ensure_ascii=False))


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)
