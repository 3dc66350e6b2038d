"""Compact HS256 JSON Web Tokens, byte-exact.

Gemini Business wants a JWT whose header and payload keys are in a fixed order with no
spaces (upstream-protocol.md §3.3); general JWT libraries choose their own order, so the few
lines it takes live here. Client tokens signed with JWT_SECRET are verified with the same code.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from . import strict_json


class InvalidToken(ValueError):
    pass


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise InvalidToken("bad base64url") from exc


def _compact(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign(header: dict, payload: dict, key: bytes) -> str:
    """Token for `header` and `payload`, keys kept in the order the dicts hold them."""
    signing_input = f"{b64url_encode(_compact(header))}.{b64url_encode(_compact(payload))}"
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(signature)}"


def verify(token: str, key: bytes, now: float | None = None, leeway: float = 30) -> dict:
    """Payload of a valid HS256 token; InvalidToken otherwise (bad shape, signature, exp, nbf)."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        raise InvalidToken("not a JWT")
    try:
        header = strict_json.loads(b64url_decode(parts[0]))
        payload = strict_json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("undecodable JWT") from exc
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(payload, dict):
        raise InvalidToken("only HS256 tokens are accepted")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, b64url_decode(parts[2])):
        raise InvalidToken("bad signature")
    now = time.time() if now is None else now
    for claim, late in (("exp", True), ("nbf", False)):
        value = payload.get(claim)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InvalidToken(f"{claim} is not a number")
        if late and now >= value + leeway:
            raise InvalidToken("token expired")
        if not late and now + leeway < value:
            raise InvalidToken("token not valid yet")
    return payload
