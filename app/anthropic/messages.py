"""Anthropic's `system` and `messages` → the neutral messages (app/dialogue.py).

`system` is a string or text blocks (Claude Code's billing header block, metadata for
Anthropic's billing, is left out); Claude Code also sends a `system` role inside `messages`. A
user message's text, image and document blocks are one user message (documents.py), its tool
results each a `tool` message naming the tool its call used; an assistant message's text and
tool uses one assistant message with `Call`s. Earlier thinking blocks are dropped: the upstream
keeps none of them.
"""
from __future__ import annotations

import json

from ..dialogue import Message
from ..errors import bad_request
from ..inputs import FileSource
from ..openai.fields import expect, messages_array, optional
from ..tools.calls import Call
from .documents import FILE_BLOCKS, file_block

ROLES = ("user", "assistant", "system")  # `system` inside messages: Claude Code sends one
# Claude Code's first system block is metadata for Anthropic's billing, not words to the model
# (its version and entry point); it is left out of the query
BILLING_HEADER = "x-anthropic-billing-header:"


def system_messages(value) -> tuple[Message, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (Message("system", value),) if value.strip() else ()
    expect(value, list, "system")
    texts = []
    for k, block in enumerate(value):
        here = f"system[{k}]"
        expect(block, dict, here)
        if block.get("type") != "text":
            raise bad_request(f"{here}.type must be text", f"{here}.type")
        text = expect(block.get("text"), str, f"{here}.text")
        if not text.startswith(BILLING_HEADER):
            texts.append(text)
    text = "\n\n".join(t for t in texts if t.strip())
    return (Message("system", text),) if text else ()


def messages_of(value) -> tuple[Message, ...]:
    out: list[Message] = []
    called: dict[str, str] = {}  # tool_use id → tool name, so a result names the tool it came from
    for where, message, role in messages_array(value, ROLES, "messages: Field required",
                                               "messages: at least one message is required"):
        content = message.get("content")
        if content is None:
            raise bad_request(f"{where}.content: Field required", f"{where}.content", "missing_required_parameter")
        if isinstance(content, str):
            out.append(Message(role, content))
            continue
        expect(content, list, f"{where}.content")
        out.extend(_blocks(content, f"{where}.content", role, called))
    return tuple(out)


def _blocks(blocks: list, where: str, role: str, called: dict[str, str]) -> list[Message]:
    """One message's blocks → Messages: a user message's tool results each become a `tool`
    message (they come first, as Anthropic requires), its other blocks one user message; an
    assistant message's text and tool uses one assistant message with calls."""
    texts: list[str] = []
    files: list[FileSource] = []
    calls: list[Call] = []
    results: list[Message] = []
    for j, block in enumerate(blocks):
        here = f"{where}[{j}]"
        expect(block, dict, here)
        kind = block.get("type")
        if kind == "text" or (kind in FILE_BLOCKS and role == "user"):
            _take(block, here, texts, files)
        elif kind in ("thinking", "redacted_thinking"):
            continue  # the model's earlier thoughts: not sent again (the upstream keeps none of them)
        elif kind == "tool_use" and role == "assistant":
            call = _call(block, here)
            called[call.id] = call.name
            calls.append(call)
        elif kind == "tool_result" and role == "user":
            results.append(_result(block, here, called))
        elif kind in ("tool_use", "tool_result", *FILE_BLOCKS):
            raise bad_request(f"{here}: {kind} blocks are taken in "
                              f"{'assistant' if kind == 'tool_use' else 'user'} messages only", f"{here}.type")
        else:
            raise bad_request(f"{here}.type must be one of text, image, document, tool_use, tool_result, "
                              "thinking", f"{here}.type")
    text = "\n".join(texts)
    rest = [Message(role, text, files=tuple(files), calls=tuple(calls))] if text or files or calls or not results else []
    return results + rest


def _take(block: dict, here: str, texts: list[str], files: list[FileSource]) -> None:
    """A text, image or document block into the message's text and files."""
    if block.get("type") == "text":
        texts.append(expect(block.get("text"), str, f"{here}.text"))
        return
    text, source = file_block(block, here)
    texts.extend([text] * bool(text))
    files.extend([source] * bool(source))


def _call(block: dict, here: str) -> Call:
    call_id = expect(block.get("id"), str, f"{here}.id")
    name = expect(block.get("name"), str, f"{here}.name")
    arguments = block.get("input")
    arguments = {} if arguments is None else expect(arguments, dict, f"{here}.input")
    try:
        text = json.dumps(arguments, ensure_ascii=False)
    except (ValueError, RecursionError):
        raise bad_request(f"{here}.input cannot be written as JSON", f"{here}.input")
    return Call(call_id, name, text)


def _result(block: dict, here: str, called: dict[str, str]) -> Message:
    call_id = expect(block.get("tool_use_id"), str, f"{here}.tool_use_id")
    content = block.get("content")
    texts: list[str] = []
    files: list[FileSource] = []
    if isinstance(content, str):
        texts.append(content)
    elif content is not None:
        expect(content, list, f"{here}.content")
        for k, part in enumerate(content):
            there = f"{here}.content[{k}]"
            expect(part, dict, there)
            kind = part.get("type")
            if kind in ("text", *FILE_BLOCKS):
                _take(part, there, texts, files)
            elif kind == "search_result":
                texts.append(_search_result(part, there))
            elif kind == "tool_reference":  # a tool search's find (Claude Code's ToolSearch)
                texts.append(f"(tool: {expect(part.get('tool_name'), str, f'{there}.tool_name')})")
            else:
                raise bad_request(f"{there}.type must be one of text, image, document, search_result, "
                                  "tool_reference", f"{there}.type")
    text = "\n".join(texts)
    if optional(block, "is_error", bool, f"{here}.is_error"):
        text = "Error: " + text  # the tool failed; its message follows
    return Message("tool", text, called.get(call_id, ""), tuple(files), call_id=call_id)


def _search_result(part: dict, here: str) -> str:
    title = optional(part, "title", str, f"{here}.title") or ""
    source = optional(part, "source", str, f"{here}.source") or ""
    content = expect(part.get("content"), list, f"{here}.content")
    texts = [expect(expect(item, dict, f"{here}.content[{k}]").get("text"), str, f"{here}.content[{k}].text")
             for k, item in enumerate(content)]
    return "\n".join([f"{title} ({source})".strip()] + texts)
