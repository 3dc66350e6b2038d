"""Images the upstream does not take, turned into PNG before they are uploaded.

Gemini Business takes PNG and JPEG images (and PDF and plain text); anything else is `400
Unsupported file type` (§5.3). WebP, GIF, BMP and TIFF are common in chat UIs and on the web, so
the gateway converts those to PNG rather than refuse them. Decoding images a client sends is
work for a well-kept library (Pillow), not hand-written code: formats are many, and the
decoders see hostile input.

- An animated GIF or WebP becomes its first frame (the upstream takes one still image).
- An EXIF orientation is applied, since the PNG carries no EXIF and a photo must not turn.
- A decompression bomb (a small file that decodes to a huge bitmap) is refused from its
  header, before any pixel is decoded: more than MAX_PIXELS is `400 image_too_large`.
- A file that does not decode is `400 invalid_image`, naming the content part.
- Only the decoders of the types converted here (and PNG/JPEG, for a mislabelled file) are
  used, whatever the bytes claim to be.
- The work runs in one thread per worker when gevent patches threading (Pillow releases the
  GIL while it decodes and encodes): the worker's other requests and keep-alives go on, and
  one worker holds at most one decoded bitmap at a time.
"""
from __future__ import annotations

import io
import threading
import warnings

from PIL import Image, ImageOps

from .errors import ApiError

# MIME type → Pillow's format name, for the types the upstream refuses and Pillow reads
CONVERTED = {"image/webp": "WEBP", "image/gif": "GIF", "image/bmp": "BMP", "image/x-ms-bmp": "BMP",
             "image/tiff": "TIFF"}
_DECODERS = sorted(set(CONVERTED.values()) | {"PNG", "JPEG"})
MAX_PIXELS = 25_000_000  # e.g. 5000 x 5000: an RGBA bitmap of at most 100 MB while it is converted
_PNG_MODES = {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"}  # saved as they are

_pool_lock = threading.Lock()
_pool = None


def needs_converting(mime_type: str) -> bool:
    return mime_type in CONVERTED


def to_png(data: bytes, mime_type: str, param: str) -> bytes:
    """The image as PNG (its first frame); ApiError 400 for a bomb or an image that does not decode."""
    pool = _thread_pool()
    if pool is None:
        return _to_png(data, mime_type, param)
    # gevent's pool prints the traceback of an exception its task raises (to stderr, as for a
    # crash), so the client's bad image comes back as a value and is raised here, in the request
    png, refusal = pool.apply(_outcome, (data, mime_type, param))
    if refusal is not None:
        raise refusal
    return png


def _outcome(data: bytes, mime_type: str, param: str) -> tuple[bytes | None, ApiError | None]:
    try:
        return _to_png(data, mime_type, param), None
    except ApiError as exc:
        return None, exc


def _to_png(data: bytes, mime_type: str, param: str) -> bytes:
    kind = mime_type.split("/")[-1].upper()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_DECODERS) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise _too_large(param, width, height)
                image.seek(0)  # the first frame of an animation
                image.load()
                still = ImageOps.exif_transpose(image)
                if still.mode not in _PNG_MODES:
                    has_alpha = "A" in still.mode or "transparency" in still.info
                    still = still.convert("RGBA" if has_alpha else "RGB")
                out = io.BytesIO()
                still.save(out, format="PNG", compress_level=1)  # 5x faster than the default 6, about as small
                return out.getvalue()
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(param) from None
    except Exception as exc:  # what a broken or hostile file makes a decoder raise is open-ended
        raise ApiError(400, f"{param} is not a valid {kind} image ({type(exc).__name__})", param=param,
                       code="invalid_image") from None


def _too_large(param: str, width: int = 0, height: int = 0) -> ApiError:
    size = f"is {width} x {height} pixels," if width else "has"
    return ApiError(400, f"The image in {param} {size} more than the {MAX_PIXELS:,} pixels the gateway "
                         "converts", param=param, code="image_too_large")


def _thread_pool():
    """One conversion thread per worker under gevent (see the module's docstring), else None."""
    global _pool
    try:
        from gevent import monkey
    except ImportError:
        return None
    if not monkey.is_module_patched("threading"):
        return None
    with _pool_lock:
        if _pool is None:
            from gevent.threadpool import ThreadPool
            _pool = ThreadPool(1)
        return _pool
