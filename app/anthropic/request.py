"""Validate an Anthropic Messages request body (POST /v1/messages, /v1/messages/count_tokens)
into the neutral request: messages, tools, limits.

What Claude Code sends is taken as it comes (agent-clients.md): a `system` role inside
`messages`, `cache_control` on any block, `thinking: {type: "adaptive"}`, `context_management`,
`output_config`, `defer_loading` tools, `metadata`, the beta header. Fields that only tune a model
(temperature, top_p, top_k, effort) are checked for their type and otherwise have no effect:
Gemini Business takes none of them. A wrong type is a 400 naming the field, in Anthropic's
envelope (render.anthropic_envelope).

Here are the body's own fields (limits, thinking, sampling, output_config); the messages are
messages.py's (their files documents.py's), the tools tools.py's.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..dialogue import Dialogue
from ..errors import bad_request
from ..openai.fields import expect, optional, required_text
from ..tools import structured
from ..tools.structured import OutputFormat
from .messages import messages_of, system_messages
from .tools import tooling_of, tools_of

THINKING_TYPES = ("enabled", "adaptive", "disabled")
SHOWN, OMITTED, OFF = "shown", "omitted", "off"  # what thinking blocks hold (MessagesRequest.thinking)


@dataclass(frozen=True)
class MessagesRequest(Dialogue):
    thinking: str = OFF  # SHOWN: thinking blocks with the upstream's thoughts; OMITTED: empty ones; OFF: none


def parse_messages(body: dict, count_only: bool = False) -> MessagesRequest:
    """`count_only`: the body of count_tokens (no max_tokens, no stream)."""
    model = required_text(body, "model", "model: Field required")
    max_tokens = None
    if not count_only:
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise bad_request("max_tokens: Field required", "max_tokens", "missing_required_parameter")
        expect(max_tokens, int, "max_tokens")
        if max_tokens < 1:
            raise bad_request("max_tokens: must be greater than or equal to 1", "max_tokens")
    _tuning(body)
    optional(body, "metadata", dict)
    if optional(body, "mcp_servers", list):  # ignored, the answer would lack the tools the client counts on
        raise bad_request("mcp_servers: remote MCP servers are not available through this gateway (Gemini Business "
                          "calls no tools itself); offer their tools as custom tools and run them in the client",
                          "mcp_servers", "unsupported_value")
    tools, searches = tools_of(body.get("tools"))
    messages = (*system_messages(body.get("system")), *messages_of(body.get("messages")))
    return MessagesRequest(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        stream=False if count_only else bool(optional(body, "stream", bool)),
        stop=_stop(body.get("stop_sequences")),
        tooling=tooling_of(tools, searches, body.get("tool_choice")),
        output_format=_output_format(body.get("output_config")),
        thinking=_thinking(body.get("thinking")),
    )


def _tuning(body: dict) -> None:
    """Sampling fields: their types are checked; Gemini Business takes none of them."""
    temperature = optional(body, "temperature", float)
    if temperature is not None and not 0 <= temperature <= 1:
        raise bad_request("temperature: must be between 0 and 1", "temperature")
    top_p = optional(body, "top_p", float)
    if top_p is not None and not 0 <= top_p <= 1:
        raise bad_request("top_p: must be between 0 and 1", "top_p")
    optional(body, "top_k", int)


def _thinking(value) -> str:
    if value is None:
        return OFF
    expect(value, dict, "thinking")
    kind = value.get("type")
    if kind not in THINKING_TYPES:
        raise bad_request(f"thinking.type must be one of {', '.join(THINKING_TYPES)}", "thinking.type")
    if kind == "disabled":
        return OFF
    if kind == "enabled":
        budget = value.get("budget_tokens")
        if budget is not None:
            expect(budget, int, "thinking.budget_tokens")
    display = optional(value, "display", str, "thinking.display")
    if display not in (None, "summarized", "omitted"):
        raise bad_request("thinking.display must be summarized or omitted", "thinking.display")
    return OMITTED if display == "omitted" else SHOWN


def _stop(value) -> tuple[str, ...]:
    if value is None:
        return ()
    expect(value, list, "stop_sequences")
    for k, item in enumerate(value):
        expect(item, str, f"stop_sequences[{k}]")
    return tuple(s for s in value if s)


def _output_format(value) -> OutputFormat | None:
    """output_config: `effort` is accepted (no upstream equivalent); `format` json_schema is
    structured output (app/tools/structured.py)."""
    if value is None:
        return None
    expect(value, dict, "output_config")
    optional(value, "effort", str, "output_config.effort")
    fmt = optional(value, "format", dict, "output_config.format")
    if fmt is None:
        return None
    if fmt.get("type") != "json_schema":
        raise bad_request("output_config.format.type must be json_schema", "output_config.format.type")
    schema = fmt.get("schema")
    if schema is None:
        raise bad_request("output_config.format.schema: Field required", "output_config.format.schema",
                          "missing_required_parameter")
    expect(schema, dict, "output_config.format.schema")
    return structured.json_schema(schema, "output", param="output_config.format")
