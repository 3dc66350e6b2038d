"""Validate an Images API request into an ImageRequest: `POST /v1/images/generations` (a JSON
body) and `POST /v1/images/edits` (multipart/form-data, as the openai SDKs send it, or JSON with
`images: [{"image_url"}]`).

What Gemini Business can do decides what is taken. An image model makes one image per answer,
of the size, quality and format it chooses, from a prompt and the files uploaded with it, so:
- `n` is 1 to MAX_IMAGES, each image one upstream answer (app/openai/images.py runs them at once);
- `size`, `quality`, `background` and `moderation` are taken as "auto" (their default; for
  `quality` also "standard", DALL·E's default) and refused otherwise, `output_format` only as
  "png", what the upstream makes (checked on the answer): a client that asks for 512x512 is
  told it cannot have it rather than handed an image of another size;
- parameters with no upstream counterpart that would change the image (`style`, `mask`,
  `output_compression`, `input_fidelity`, …) are a 400 naming them, never silently dropped;
- `user` and `safety_identifier` only label the request for the provider's abuse monitoring:
  type-checked, not sent; unknown fields are ignored, as in chat;
- these endpoints do not stream: `stream: true` (and `partial_images`) is a 400.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from ..errors import ApiError, bad_request
from ..fetch_url import FileTooLarge
from ..inputs import FileSource, InputFile, for_upstream, image_type, load
from ..media import safe_name
from .fields import expect, optional, required_text

MAX_IMAGES = 4        # images per request: one upstream answer each, all at once (images.py)
MAX_EDIT_IMAGES = 16  # input images of one edit, as OpenAI allows (each at most MAX_FILE_MB)
RESPONSE_FORMATS = ("url", "b64_json")
# OpenAI's own image model names, hard-coded by clients (Open WebUI's default is dall-e-2): they
# mean the default image model (images.py), as gpt-4* means DEFAULT_MODEL in chat. GPT image
# models answer b64_json when no response_format is given (DALL·E: url), and clients written
# for them read data[0].b64_json, so that default follows the name too.
GPT_IMAGE_MODELS = ("gpt-image-*", "chatgpt-image*")
OPENAI_IMAGE_MODELS = ("dall-e-*", *GPT_IMAGE_MODELS)
OUTPUT_FORMATS = ("png",)
# Parameters taken only at the value that means "whatever the model does" (None: left out).
AUTO_ONLY = {
    "size": (("auto",), "Gemini Business chooses the image size itself"),
    "quality": (("auto", "standard"), "Gemini Business has one image quality"),
    "background": (("auto",), "Gemini Business chooses the background itself"),
    "moderation": (("auto",), "Gemini Business applies its own moderation"),
}
# Known OpenAI parameters with no upstream counterpart: any value but null is refused.
REFUSED = {
    "style": "Gemini Business has no image styles; describe the style in the prompt",
    "output_compression": "Gemini Business makes PNG images, which have no compression level",
    "input_fidelity": "Gemini Business has no input fidelity setting",
    "svg": "Gemini Business makes no SVG images",
    "markup": "Gemini Business takes no markup image; describe the change in the prompt",
    "complexity": "Gemini Business has no complexity setting",
    "frame_count": "Gemini Business makes still images only",
    "frame_duration_ms": "Gemini Business makes still images only",
}
FORM_INTEGERS = ("n", "partial_images", "output_compression", "frame_count", "frame_duration_ms")


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    model: str | None = None        # None: the catalogue's first image model
    n: int = 1
    response_format: str = "url"    # left out: url, or b64_json for a GPT image model's name
    output_format: str | None = None  # "png": the answer is checked to be one
    images: tuple[InputFile, ...] = ()  # an edit's input images, in the order sent

    @property
    def edit(self) -> bool:
        return bool(self.images)


def parse_generation(body: dict) -> ImageRequest:
    return _request(body)


def parse_edit(form, files, max_file_bytes: int) -> ImageRequest:
    """`form` and `files` are the request's multipart fields (Werkzeug MultiDicts): `image`
    (once or repeated) or `image[]` as files, the rest as text."""
    if "mask" in files or "mask" in form:
        raise _no_mask()
    if "image" in form or "image[]" in form:
        raise bad_request("image must be sent as a file (multipart/form-data file part)", "image", "invalid_type")
    parts = files.getlist("image") + files.getlist("image[]")
    if not parts:
        raise bad_request("you must provide an image to edit (the multipart file field 'image')", "image",
                          "missing_required_parameter")
    if len(parts) > MAX_EDIT_IMAGES:
        raise bad_request(f"at most {MAX_EDIT_IMAGES} images can be edited at once", "image")
    images = tuple(_image(part, "image" if len(parts) == 1 else f"image[{i}]", max_file_bytes)
                   for i, part in enumerate(parts))
    return _request(_form_fields(form), images)


def parse_edit_json(body: dict, max_file_bytes: int) -> ImageRequest:
    """The JSON form of an edit (OpenAI's for GPT image models): `images` is a list of
    `{"image_url": <a data: URL or an http(s) URL>}`, loaded as a chat's image_url parts are
    (app/inputs.py: decoded, or fetched behind the SSRF guard; converted where needed), once
    every other field is known to be good."""
    if body.get("mask") is not None:
        raise _no_mask()
    refs = body.get("images")
    if refs is None:
        raise bad_request("you must provide images to edit: [{\"image_url\": \"data:image/png;base64,...\"}]",
                          "images", "missing_required_parameter")
    expect(refs, list, "images")
    if not 1 <= len(refs) <= MAX_EDIT_IMAGES:
        raise bad_request(f"images must hold 1 to {MAX_EDIT_IMAGES} images", "images")
    sources = []
    for i, ref in enumerate(refs):
        where = f"images[{i}]"
        expect(ref, dict, where)
        if ref.get("image_url") is None:
            if ref.get("file_id") is not None:
                raise bad_request(f"{where}.file_id: uploaded files (OpenAI's Files API) are not supported; send "
                                  "image_url", f"{where}.file_id", "unsupported_value")
            raise bad_request(f"{where}.image_url is required", f"{where}.image_url", "missing_required_parameter")
        sources.append(FileSource(expect(ref["image_url"], str, f"{where}.image_url"), f"{where}.image_url",
                                  image=True, remote=True))
    request = _request(body)
    return replace(request, images=tuple(_typed(load(source, max_file_bytes)) for source in sources))


def _typed(file: InputFile) -> InputFile:
    """An image by its bytes too, as an upload is (a data: URL may claim image/png for anything)."""
    if image_type(file.data) is None:
        raise ApiError(400, f"{file.param} is not a PNG, JPEG, WEBP, GIF, BMP or TIFF image", param=file.param,
                       code="unsupported_file_type")
    return file


def _no_mask() -> ApiError:
    return bad_request("mask is not supported: Gemini Business edits from the prompt alone and takes no mask; "
                       "describe the area to change in the prompt", "mask", "unsupported_value")


def _request(fields: dict, images: tuple[InputFile, ...] = ()) -> ImageRequest:
    prompt = required_text(fields, "prompt", "you must provide a prompt")
    model = optional(fields, "model", str)
    if model is not None and not model.strip():
        raise bad_request("model must not be empty", "model")
    n = optional(fields, "n", int)
    if n is not None and not 1 <= n <= MAX_IMAGES:
        raise bad_request(f"n must be between 1 and {MAX_IMAGES} (each image is one Gemini Business answer)", "n")
    if optional(fields, "stream", bool):
        raise bad_request("this endpoint does not stream; leave stream out or set it to false", "stream",
                          "unsupported_value")
    if optional(fields, "partial_images", int):
        raise bad_request("partial images need streaming, which this endpoint does not do", "partial_images",
                          "unsupported_value")
    response_format = _choice(fields, "response_format", RESPONSE_FORMATS) or (
        "b64_json" if model is not None and named(model, GPT_IMAGE_MODELS) else "url")
    output_format = _choice(fields, "output_format", OUTPUT_FORMATS,
                            "Gemini Business makes PNG images: output_format can only be 'png'")
    for name, (allowed, why) in AUTO_ONLY.items():
        _choice(fields, name, allowed, f"{why}: {name} can only be {' or '.join(repr(a) for a in allowed)}, "
                                       "or left out")
    for name, why in REFUSED.items():
        if fields.get(name) is not None:
            raise bad_request(f"{name} is not supported: {why}", name, "unsupported_parameter")
    for name in ("user", "safety_identifier"):
        optional(fields, name, str)
    return ImageRequest(prompt, model, n or 1, response_format, output_format, images)


def named(model: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(model.lower(), pattern) for pattern in patterns)


def _choice(fields: dict, name: str, allowed: tuple[str, ...], refusal: str | None = None) -> str | None:
    value = optional(fields, name, str)
    if value is None or value in allowed:
        return value
    if refusal:
        raise bad_request(f"{refusal} (got {value!r})", name, "unsupported_value")
    raise bad_request(f"{name} must be one of {', '.join(allowed)} (got {value!r})", name)


def _form_fields(form) -> dict:
    """The text fields of a multipart body, with the types their JSON twins have: integers
    and booleans arrive as text. A field sent twice counts once (its first value)."""
    fields: dict = {key: form.get(key) for key in form}
    for name in FORM_INTEGERS:
        if name in fields:
            text = fields[name].strip()
            if not (text.isascii() and text.lstrip("-").isdigit()):
                raise bad_request(f"{name} must be an integer", name, "invalid_type")
            try:
                fields[name] = int(text)
            except ValueError:  # longer than Python converts (as JSON's numbers, app/strict_json.py)
                raise bad_request(f"{name} has more than {sys.get_int_max_str_digits()} digits", name) from None
    if "stream" in fields:
        value = fields["stream"].strip().lower()
        if value not in ("true", "false"):
            raise bad_request("stream must be a boolean (true or false)", "stream", "invalid_type")
        fields["stream"] = value == "true"
    return fields


def _image(part, param: str, max_file_bytes: int) -> InputFile:
    """One uploaded image: read up to the cap (never more), typed by its bytes, not by the
    Content-Type the client declared (SDKs guess it from the file name, or send none), and
    converted to PNG where the upstream takes no such type (app/image_convert.py)."""
    data = part.stream.read(max_file_bytes + 1)
    if len(data) > max_file_bytes:
        raise FileTooLarge(f"the file in {param} is larger than MAX_FILE_MB ({max_file_bytes // (1024 * 1024)} MB)",
                           param=param)
    if not data:
        raise bad_request(f"{param} is an empty file", param)
    mime_type = image_type(data)
    if mime_type is None:
        raise ApiError(400, f"{param} must be a PNG, JPEG, WEBP, GIF, BMP or TIFF image (the file's bytes are "
                            "none of these)", param=param, code="unsupported_file_type")
    # a type the upstream refuses (WebP, GIF, …) goes as PNG, as a chat's image does
    return for_upstream(InputFile(data, mime_type, safe_name(part.filename or "", mime_type), param), max_file_bytes)
