"""The model catalogue: public ids, what each means upstream, the kind of output each makes, and
the aliases clients hard-code.

The kind (text, image, video) is data here so that everything that counts or routes by kind
(daily quotas per kind, media output) asks one place: `Catalogue.resolve(name).kind`.
"""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from .. import exchange
from ..keys import model_refusal
from ..config import AUTO_MODEL, Config

CREATED = 1735689600  # a fixed date (2025-01-01) so model objects never change between calls

TEXT, IMAGE, VIDEO = "text", "image", "video"
KINDS = (TEXT, IMAGE, VIDEO)
# Kinds whose answers the gateway can hand to a client: text, and the files image and video
# models make (downloaded into the media store and shown as links, app/answer/stages.py). A kind
# left out here is known (its kind and upstream tool are data) but neither advertised nor sent.
SERVED_KINDS = frozenset({TEXT, IMAGE, VIDEO})
# The upstream tool that makes each media kind (§7.1): sent alone in toolsSpec, with no modelId.
MEDIA_TOOLS = {IMAGE: "imageGenerationSpec", VIDEO: "videoGenerationSpec"}
# Media names the projects of this niche expose (§7.2, §14); none of them is an upstream modelId.
MEDIA_MODELS = {
    "nano-banana-2": IMAGE,
    "gemini-3.1-flash-image": IMAGE,
    "veo-3.1-lite-generate": VIDEO,
}
# Ids the upstream dropped, and the id that took their place (§14). A client asking for one gets
# a 404 that names the successor rather than a silent substitute: the answer would come from a
# different model while the response echoes the retired name. MODELS can bring one back.
RETIRED_MODELS = {"gemini-3-pro-preview": "gemini-3.1-pro-preview"}


@dataclass(frozen=True)
class Model:
    id: str
    upstream_id: str | None  # None: send no modelId and let the service choose ("auto")
    kind: str = TEXT

    @property
    def tool(self) -> str | None:
        """The toolsSpec key that makes this model's media, or None for text."""
        return MEDIA_TOOLS.get(self.kind)

    def as_openai(self, name: str | None = None) -> dict:
        return {"id": name or self.id, "object": "model", "created": CREATED, "owned_by": "google"}


class ModelUnavailable(LookupError):
    """A requested name the gateway will not send upstream; the message says why and what to use."""

    def __init__(self, message: str, status: int, code: str):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class Catalogue:
    def __init__(self, config: Config):
        self.models = {AUTO_MODEL: Model(AUTO_MODEL, None)}
        self.models.update({name: Model(name, None, kind) for name, kind in MEDIA_MODELS.items()})
        # after the media names, so an operator's MODELS entry wins over a built-in one
        self.models.update({name: Model(name, name) for name in config.upstream_models})
        self.aliases = config.model_aliases
        self.default = self.models[config.default_model]

    def all(self) -> list[Model]:
        """What GET /v1/models advertises: the models this client can use now, text models first
        (a client that takes the first model gets a chat model, not an image generator)."""
        return sorted((m for m in self.models.values() if m.kind in SERVED_KINDS
                       and model_refusal(m.id, m.id) is None),  # a client key's models only
                      key=lambda m: m.kind != TEXT)

    def first(self, kind: str) -> Model | None:
        """The first served model of `kind` in catalogue order (the images endpoints' default)."""
        return next((m for m in self.models.values() if m.kind == kind and kind in SERVED_KINDS), None)

    def resolve(self, name: str) -> Model | None:
        """The model a requested name stands for: a catalogue id, else the first alias pattern matching it."""
        if name in self.models:
            return self.models[name]
        lowered = name.lower()
        for pattern, target in self.aliases:
            if fnmatchcase(lowered, pattern):
                return self.models[target]
        return None

    def choose(self, name: str) -> Model:
        """The model to serve `name` with, or ModelUnavailable saying why not."""
        model = self.resolve(name)
        if model is None:
            successor = RETIRED_MODELS.get(name)
            hint = (f" Gemini Business retired it; use '{successor}'." if successor and successor in self.models
                    else f" Available: {', '.join(m.id for m in self.all())}.")
            raise ModelUnavailable(f"The model '{name}' does not exist or you do not have access to it.{hint}",
                                   404, "model_not_found")
        if model.kind not in SERVED_KINDS:
            raise ModelUnavailable(f"The model '{name}' generates {model.kind}s, and this gateway cannot "
                                   f"deliver {model.kind} output yet; use a text model such as "
                                   f"'{self.default.id}'.", 400, "unsupported_value")
        refusal = model_refusal(name, model.id)  # a client key limited to some models
        if refusal:
            raise ModelUnavailable(refusal, 403, "model_not_allowed")
        exchange.note_model(model.id)  # the request's model in its access line and metrics: a catalogue id
        return model
