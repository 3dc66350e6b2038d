"""The usage estimate in OpenAI's shape (the estimate itself: app/output.py)."""
from __future__ import annotations

from ..answer.events import Usage
from ..output import estimate_usage


def usage(prompt: str, text: str, thoughts: str) -> dict:
    return usage_body(estimate_usage(prompt, text, thoughts))


def usage_body(estimate: Usage) -> dict:
    reasoning = estimate.reasoning_tokens
    completion = estimate.text_tokens + reasoning
    return {
        "prompt_tokens": estimate.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": estimate.prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": estimate.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }

