"""Files a client sends with a turn: a `data:` URL or base64 decoded here, an http(s) URL
fetched behind the SSRF guard (app/fetch_url.py). Surface-neutral: a parser (OpenAI's content
parts, the native API's `files`) records where a file is (`FileSource`), the route turns it into bytes (`load`) with the configured cap, and the Turn
carries `InputFile`s that app/chat.py uploads into the conversation's upstream session.

Which types the upstream takes is the upstream's call (§5.3): a type it refuses comes back as
UnsupportedFileType, a 400 naming the type. Images it is known to refuse (WebP, GIF, BMP, TIFF)
are converted to PNG here, for both surfaces (app/image_convert.py).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from . import fetch_url, image_convert
from .errors import ApiError

# What an `image_url` fetched by URL may be: any image; the upstream decides which it takes.
IMAGE_TYPES = ("image/*",)
_DATA_URL = re.compile(r"data:(?P<mime>[^;,]*)(?P<params>(;[^;,]*)*),(?P<payload>.*)", re.DOTALL)
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp",
               "application/pdf": "pdf", "text/plain": "txt"}


@dataclass(frozen=True)
class FileSource:
    """Where a content part's file is, as the client gave it; `param` names the part.

    `url` is a `data:` URL, or an http(s) URL when `remote` (fetched: images, or `remote_types`). Or the
    file is given `encoded` (base64) with its `mime_type` (the native API's `data`), `url` empty."""
    url: str
    param: str
    name: str = ""  # a `file` part's filename
    image: bool = False  # an image_url part: only image types
    remote: bool = False  # an http(s) URL may be given (fetched behind the SSRF guard)
    encoded: str = ""  # base64 text
    mime_type: str = ""
    mime_param: str = ""  # the parameter that gave mime_type, for errors about it
    remote_types: tuple[str, ...] = ()  # what a remote URL may answer with; () = IMAGE_TYPES


@dataclass(frozen=True)
class InputFile:
    data: bytes
    mime_type: str
    name: str
    param: str  # the content part it came from, for errors about it

    @cached_property
    def sha256(self) -> str:
        """What tells a file already in a session from a new one (app/chat.py)."""
        return hashlib.sha256(self.data).hexdigest()


def load(source: FileSource, max_bytes: int, timeout: float = fetch_url.DEFAULT_TIMEOUT) -> InputFile:
    """The file's bytes: a data URL or base64 decoded, an http(s) URL fetched (images only)."""
    if source.encoded:
        mime = media_type(source.mime_type, source.mime_param)
        return _file(source, mime, decode_base64(source.encoded, source.param, max_bytes), max_bytes)
    if source.url[:5].lower() == "data:":
        mime, data = decode_data_url(source.url, source.param, max_bytes)
        if source.image and not mime.startswith("image/"):
            raise ApiError(400, f"{source.param} must be an image, not '{mime}'", param=source.param,
                           code="unsupported_file_type")
        return _file(source, mime, data, max_bytes)
    if not source.remote:
        raise ApiError(400, f"{source.param} must be a data: URL (data:<type>;base64,<data>)",
                       param=source.param, code="invalid_value")
    try:
        remote = fetch_url.fetch(source.url, source.remote_types or IMAGE_TYPES, max_bytes=max_bytes, timeout=timeout)
    except fetch_url.FetchError as exc:
        exc.param = source.param
        raise
    return for_upstream(InputFile(remote.data, remote.content_type,
                                   remote.name or _default_name(remote.content_type), source.param), max_bytes)


def _file(source: FileSource, mime: str, data: bytes, max_bytes: int) -> InputFile:
    return for_upstream(InputFile(data, mime, source.name or _default_name(mime), source.param), max_bytes)


def for_upstream(file: InputFile, max_bytes: int) -> InputFile:
    """An image type the upstream refuses as PNG (renamed .png), within the same cap. Every
    file a client sends goes through here (load does it; a surface that reads files itself,
    such as /v1/images/edits, calls it)."""
    if not image_convert.needs_converting(file.mime_type):
        return file
    png = image_convert.to_png(file.data, file.mime_type, file.param)
    if len(png) > max_bytes:
        raise _too_large(file.param, max_bytes, " once converted to PNG")
    return InputFile(png, "image/png", file.name.rsplit(".", 1)[0] + ".png", file.param)


def decode_data_url(url: str, param: str, max_bytes: int) -> tuple[str, bytes]:
    """(MIME type, bytes) of a base64 `data:` URL; a 400 naming `param` for anything else."""
    match = _DATA_URL.fullmatch(url)
    params = [p.strip().lower() for p in (match.group("params") if match else "").split(";") if p.strip()]
    if not match or "base64" not in params:
        raise ApiError(400, f"{param} must be a base64 data URL (data:<type>;base64,<data>)",
                       param=param, code="invalid_value")
    mime = media_type(match.group("mime") or "application/octet-stream", param)
    return mime, decode_base64(match.group("payload"), param, max_bytes)


def media_type(value: str, param: str) -> str:
    mime = value.strip().lower()
    if not _MIME.fullmatch(mime):
        raise ApiError(400, f"{param} names no valid media type", param=param, code="invalid_value")
    return mime


def decode_base64(text: str, param: str, max_bytes: int) -> bytes:
    """Standard base64 (whitespace ignored), at most `max_bytes` decoded and never empty."""
    payload = re.sub(r"\s+", "", text)
    if len(payload) // 4 * 3 > max_bytes + 2:  # before decoding: never hold more than the cap
        raise _too_large(param, max_bytes)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{param} is not valid base64", param=param, code="invalid_value") from None
    if len(data) > max_bytes:
        raise _too_large(param, max_bytes)
    if not data:
        raise ApiError(400, f"{param} holds an empty file", param=param, code="invalid_value")
    return data


def _too_large(param: str, max_bytes: int, how: str = "") -> fetch_url.FileTooLarge:
    return fetch_url.FileTooLarge(f"the file in {param} is larger{how} than MAX_FILE_MB "
                                  f"({max_bytes // (1024 * 1024)} MB)", param=param)


def _default_name(mime: str) -> str:
    return "file." + _EXTENSIONS.get(mime, "bin")


# The image types the Images API takes, by their first bytes (what a file is, whatever its name
# or declared Content-Type says): the upstream's PNG and JPEG and those app/image_convert.py turns
# into PNG.
_IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
                     (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"BM", "image/bmp"),
                     (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"))


def image_type(data: bytes) -> str | None:
    """The MIME type of a PNG, JPEG, GIF, WEBP, BMP or TIFF image by its signature, else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for signature, mime in _IMAGE_SIGNATURES if data.startswith(signature)), None)
