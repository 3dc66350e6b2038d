"""Run-time knobs of the simulator: defaults, validation and partial updates.

Every knob can be set on the command line and changed later through
PATCH /__sim__/settings, so both paths go through `Settings.updated`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from .model.drift import DRIFTS

# The modelIds the real service accepts today, from the protocol notes (§7.1, §14), kept apart
# from the gateway's list on purpose: a copy could never catch the gateway advertising a model
# the service has dropped. gemini-3-pro-preview left the service in 2026-03/04.
DEFAULT_MODELS = (
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-3-flash-preview",
    "gemini-3.1-pro-preview",
)
# How an unknown modelId is refused is not documented (§13 Q18). The one field report is a 404
# for dropped models (§14: gemini-3-pro for B's users); a 400 INVALID_ARGUMENT is the other
# plausible answer. Both name the model.
UNKNOWN_MODEL_STATUSES = (404, 400)
LAYOUTS = ("lines", "pretty", "crlf")
COMPRESSIONS = ("auto", "identity", "gzip", "br")
STRICT_CHECKS = ("strict_jwt", "strict_envelope", "strict_assist", "strict_headers")
# The real reaction to a wrong configId is unknown (§12); these are the plausible ones.
CONFIG_MISMATCH_STATUSES = (400, 401, 403, 404)
FOREIGN_SESSION_STATUSES = (403, 404)
# What widgetAddContextFile takes (§5.3): A tells users to convert to "PDF, an image or plain
# text" and B converts every image that is not JPEG or PNG to PNG before uploading [M]. A's list
# of 100+ types was never verified [L], so only these four are known to work.
UPLOAD_MIME_TYPES = ("image/png", "image/jpeg", "application/pdf", "text/plain")
MODEL_DRIFTS = ("none", *DRIFTS, "random")
# downloadFile bodies (§5.5, Q7): auto = raw unless the client sends
# x-goog-encode-response-if-executable: base64; raw = always raw; base64 = always base64.
DOWNLOAD_ENCODINGS = ("auto", "raw", "base64")


class SettingsError(ValueError):
    """A knob got a value it cannot take; the message names the knob."""


@dataclass(frozen=True)
class Settings:
    ttfb: float = 0.05  # seconds before the first array element
    chunk_delay: float = 0.02  # seconds between array elements
    piece_delay: float = 0.001  # pause between the byte pieces of one element
    reply_words: int = 40
    layout: str = "lines"
    key_lifetime: float = 3600.0  # seconds a getoxsrf key signs valid JWTs
    require_oses: bool = False
    models: tuple[str, ...] = field(default=DEFAULT_MODELS)
    unknown_model_status: int = 404
    config_mismatch_status: int = 400
    foreign_session_status: int = 404
    quota: int | None = None  # widgetStreamAssist calls per window per account
    quota_window: float = 60.0
    daily_quota_text: int | None = None  # widgetStreamAssist calls per account per quota day
    daily_quota_image: int | None = None  # ... with toolsSpec.imageGenerationSpec
    daily_quota_video: int | None = None  # ... with toolsSpec.videoGenerationSpec
    quota_reset_tz: str = "America/Los_Angeles"  # the daily budgets reset at quota_reset_hour:00 here
    quota_reset_hour: int = 0
    quota_in_stream: bool = False  # a spent budget answers 200 with an error element, not HTTP 429 (Q2)
    project_number: str = "987654321098"
    cookie_lifetime: float = 86400.0  # seconds the cookies of a sign-in work (§10.1: ~24 h)
    # Rotation (§3.2, §13 Q12): after this age getoxsrf answers 302 to refreshcookies (None: never).
    cookie_rotate_after: float | None = 3600.0
    cookie_rotation_grace: float = 60.0  # seconds a rotated-away pair still works
    cookie_expiry_slides: bool = True  # a rotated pair lives cookie_lifetime from its rotation
    maildir: str | None = None  # where sign-in codes are delivered as mail (Maildir)
    login_form: bool = True  # the login page has the email form (else only the xsrf token)
    send_code_button: bool = False  # the code page first asks for a click to send the code
    # Who the service is (JWT iss = origin/referer, JWT aud); the vertexaisearch pair also exists.
    issuer: str = "https://business.gemini.google"
    audience: str = "https://biz-discoveryengine.googleapis.com"
    # Strict checks of the client's requests (footprint.py), each relaxable for tolerance tests.
    strict_jwt: bool = True
    strict_envelope: bool = True
    strict_assist: bool = True
    strict_headers: bool = True
    keys_die_on_sign_out: bool = True
    compression: str = "auto"  # auto: br, else gzip, as the client's accept-encoding allows
    upload_mime_types: tuple[str, ...] = field(default=UPLOAD_MIME_TYPES)
    download_redirect: bool = False  # form 1 of downloadFile answers 302 to form 2 (Q7)
    download_encoding: str = "auto"
    image_seconds: float = 0.0  # silence before the file reply of an image answer (generation time)
    video_seconds: float = 0.0  # ... of a video answer (§12: video is slower)
    media_text: bool = False  # an image or video answer has the text answer before its files (§6.4: often none)
    video_bytes: int = 2048  # the generated MP4's mdat payload (media.VIDEO_PAYLOAD); real ones are MBs
    # The model's drift from the tool-call / JSON answer format (simulator/model/drift.py):
    # none, one of DRIFTS, or random (one per answer, from model_drift_seed and the query).
    model_drift: str = "none"
    model_drift_seed: int = 0
    model_drift_stubborn: bool = False  # a <correction> gets the same drifted answer again

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data["models"] = list(self.models)
        data["upload_mime_types"] = list(self.upload_mime_types)
        return data

    def updated(self, patch: dict) -> "Settings":
        """A copy with `patch` applied; raises SettingsError naming the first bad key."""
        if not isinstance(patch, dict):
            raise SettingsError("settings must be a JSON object")
        known = {f.name for f in dataclasses.fields(self)}
        changes = {}
        for key, value in patch.items():
            if key not in known:
                raise SettingsError(f"unknown setting: {key}")
            changes[key] = _VALIDATORS[key](key, value)
        return dataclasses.replace(self, **changes)


def _number(key, value, minimum=0.0):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise SettingsError(f"{key} must be a number >= {minimum}")
    return float(value)


def _count(key, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsError(f"{key} must be an integer >= 0")
    return value


def _one_of(choices):
    def check(key, value):
        if value not in choices or isinstance(value, bool):
            raise SettingsError(f"{key} must be one of {list(choices)}")
        return value
    return check


def _flag(key, value):
    if not isinstance(value, bool):
        raise SettingsError(f"{key} must be true or false")
    return value


def _models(key, value):
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(m, str) and m for m in value
    ):
        raise SettingsError(f"{key} must be a list of non-empty model ids")
    return tuple(value)


def _mime_types(key, value):
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(m, str) and re.fullmatch(r"[\w.+-]+/[\w.+-]+", m) for m in value
    ):
        raise SettingsError(f"{key} must be a list of MIME types such as image/png")
    return tuple(value)


def _quota(key, value):
    return None if value is None else _count(key, value)


def _zone(key, value):
    try:
        ZoneInfo(value)
    except Exception:
        raise SettingsError(f"{key} must be an IANA time zone name") from None
    return value


def _hour(key, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 23:
        raise SettingsError(f"{key} must be an integer from 0 to 23")
    return value


def _path(key, value):
    if value is not None and (not isinstance(value, str) or not value):
        raise SettingsError(f"{key} must be a directory path or null")
    return value


def _digits(key, value):
    if not isinstance(value, str) or not value.isdigit():
        raise SettingsError(f"{key} must be a string of digits")
    return value


def _origin(key, value):
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^/\s]+", value):
        raise SettingsError(f"{key} must be an origin such as https://example.com")
    return value


_VALIDATORS = {
    "ttfb": _number,
    "chunk_delay": _number,
    "piece_delay": _number,
    "reply_words": _count,
    "layout": _one_of(LAYOUTS),
    "key_lifetime": _number,
    "require_oses": _flag,
    "models": _models,
    "unknown_model_status": _one_of(UNKNOWN_MODEL_STATUSES),
    "config_mismatch_status": _one_of(CONFIG_MISMATCH_STATUSES),
    "foreign_session_status": _one_of(FOREIGN_SESSION_STATUSES),
    "quota": _quota,
    "quota_window": lambda key, value: _number(key, value, minimum=0.001),
    "daily_quota_text": _quota,
    "daily_quota_image": _quota,
    "daily_quota_video": _quota,
    "quota_reset_tz": _zone,
    "quota_reset_hour": _hour,
    "quota_in_stream": _flag,
    "project_number": _digits,
    "cookie_lifetime": lambda key, value: _number(key, value, minimum=1.0),
    "cookie_rotate_after": lambda key, value: None if value is None else _number(key, value),
    "cookie_rotation_grace": _number,
    "cookie_expiry_slides": _flag,
    "maildir": _path,
    "login_form": _flag,
    "send_code_button": _flag,
    "issuer": _origin,
    "audience": _origin,
    "strict_jwt": _flag,
    "strict_envelope": _flag,
    "strict_assist": _flag,
    "strict_headers": _flag,
    "keys_die_on_sign_out": _flag,
    "compression": _one_of(COMPRESSIONS),
    "upload_mime_types": _mime_types,
    "download_redirect": _flag,
    "download_encoding": _one_of(DOWNLOAD_ENCODINGS),
    "image_seconds": _number,
    "video_bytes": _count,
    "media_text": _flag,
    "video_seconds": _number,
    "model_drift": _one_of(MODEL_DRIFTS),
    "model_drift_seed": _count,
    "model_drift_stubborn": _flag,
}
