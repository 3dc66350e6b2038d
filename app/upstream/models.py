"""The model catalogue: public ids, what each means upstream, and the aliases clients hard-code."""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..config import AUTO_MODEL, Config

CREATED = 1735689600  # a fixed date (2025-01-01) so model objects never change between calls


@dataclass(frozen=True)
class Model:
    id: str
    upstream_id: str | None  # None: send no modelId and let the service choose ("auto")

    def as_openai(self, name: str | None = None) -> dict:
        return {"id": name or self.id, "object": "model", "created": CREATED, "owned_by": "google"}


class Catalogue:
    def __init__(self, config: Config):
        self.models = {AUTO_MODEL: Model(AUTO_MODEL, None)}
        self.models.update({name: Model(name, name) for name in config.upstream_models})
        self.aliases = config.model_aliases
        self.default = self.models[config.default_model]

    def all(self) -> list[Model]:
        return list(self.models.values())

    def resolve(self, name: str) -> Model | None:
        """The model a requested name stands for: a catalogue id, else the first alias pattern matching it."""
        if name in self.models:
            return self.models[name]
        lowered = name.lower()
        for pattern, target in self.aliases:
            if fnmatchcase(lowered, pattern):
                return self.models[target]
        return None
