"""What a request offers the model: its tools, the choice, parallel calls — in no surface's words.

A surface's parser (app/openai/request.py today; /v1/responses and /v1/messages later) builds
a Tooling from its own shapes; everything downstream (the prompt, the parser of the model's
answer, the stage over the event stream) reads only these types.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

AUTO, NONE, REQUIRED, NAMED = "auto", "none", "required", "named"


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str = ""
    parameters: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool = False

    def as_json(self) -> dict:
        """The tool as the model is shown it (one line of the <tools> block)."""
        out = {"name": self.name}
        if self.description:
            out["description"] = self.description
        out["parameters"] = self.parameters
        return out


@dataclass(frozen=True)
class ToolChoice:
    mode: str = AUTO              # AUTO, NONE, REQUIRED or NAMED
    name: str | None = None       # the tool a NAMED choice forces


@dataclass(frozen=True)
class Tooling:
    tools: tuple[ToolSpec, ...] = ()
    choice: ToolChoice = ToolChoice()
    parallel: bool = True          # several calls in one answer (parallel_tool_calls)
    legacy: bool = False           # offered as `functions`: answered as one `function_call`

    @property
    def offered(self) -> bool:
        """Whether the model is told of tools at all (`none` offers none)."""
        return bool(self.tools) and self.choice.mode != NONE

    @property
    def must_call(self) -> bool:
        return self.offered and self.choice.mode in (REQUIRED, NAMED)

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)

    def callable(self, name: str) -> bool:
        """Whether a call of `name` answers this request."""
        if self.choice.mode == NAMED:
            return name == self.choice.name
        return self.tool(name) is not None

    def digest(self) -> str:
        """A digest of everything here, for keys that must change when the tools do (a
        continued conversation's, app/conversations.py); "" when no tools are offered."""
        if not self.offered:
            return ""
        canonical = json.dumps([[t.as_json() for t in self.tools], self.choice.mode, self.choice.name,
                                self.parallel, self.legacy], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


NO_TOOLS = Tooling()
