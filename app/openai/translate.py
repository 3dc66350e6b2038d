"""OpenAI shapes in and out: messages -> one upstream query; answers -> completions and chunks."""
from __future__ import annotations

import secrets
import time

from .. import sse
from ..output import Collected, estimate_tokens
from .request import Message

LABELS = {"user": "User", "assistant": "Assistant", "tool": "Tool result", "function": "Tool result"}


def render_query(messages: tuple[Message, ...]) -> str:
    """The whole conversation as the text of one upstream query.

    Each request opens a fresh upstream session, so the history must travel in the query:
    system/developer text first as instructions, then the turns as a labelled transcript.
    A lone user message goes as it is, exactly what the web app would send.
    """
    system = [m.text for m in messages if m.role in ("system", "developer") and m.text.strip()]
    turns = [m for m in messages if m.role not in ("system", "developer")]
    parts = []
    if system:
        parts.append("<system>\n" + "\n\n".join(system) + "\n</system>")
    if len(turns) == 1 and turns[0].role == "user":
        parts.append(turns[0].text)
    else:
        for m in turns:
            label = LABELS[m.role] + (f" ({m.name})" if m.role in ("tool", "function") and m.name else "")
            parts.append(f"{label}: {m.text}")
    return "\n\n".join(parts)


def usage(prompt: str, text: str, thoughts: str) -> dict:
    prompt_tokens = estimate_tokens(prompt)
    reasoning = estimate_tokens(thoughts)
    completion = estimate_tokens(text) + reasoning
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def new_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def completion(model: str, prompt: str, result: Collected) -> dict:
    message = {"role": "assistant", "content": result.text, "refusal": result.refusal, "annotations": []}
    if result.thoughts:
        message["reasoning_content"] = result.thoughts
    return {
        "id": new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": result.finish_reason}],
        "usage": usage(prompt, result.text, result.thoughts),
        "system_fingerprint": None,
        "service_tier": None,
    }


class ChunkWriter:
    """SSE frames of one streamed completion: same id/created/model on every chunk."""

    def __init__(self, model: str, include_usage: bool):
        self.head = {"id": new_id(), "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": model, "system_fingerprint": None}
        self.include_usage = include_usage

    def delta(self, delta: dict, finish_reason: str | None = None) -> str:
        chunk = {**self.head, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                           "finish_reason": finish_reason}]}
        if self.include_usage:
            chunk["usage"] = None
        return sse.frame(chunk)

    def usage(self, prompt: str, text: str, thoughts: str) -> str:
        return sse.frame({**self.head, "choices": [], "usage": usage(prompt, text, thoughts)})
