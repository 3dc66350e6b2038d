"""getoxsrf signing keys and the bearer check of every widget call (§3, §12).

The client signs its own HS256 JWT with the key getoxsrf handed out; the server's job is
to find that key by `kid` and check the token exactly as the real service is believed to.
Only the standard library is used, on purpose: the simulator must not share code with
the proxy it tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass

ISSUER = "https://business.gemini.google"
AUDIENCE = "https://biz-discoveryengine.googleapis.com"
# A real browser's kid is 507 characters starting with "WAA." (X2); 503 + 4 = 507.
_KID_RANDOM_CHARS = 503

JWT_LIFETIME = 300  # exp - iat of every real token (§3.4)

EXPIRED = "ACCESS_TOKEN_EXPIRED"
INVALID = "ACCESS_TOKEN_TYPE_UNSUPPORTED"
MISSING = "CREDENTIALS_MISSING"


class AuthFailure(Exception):
    """The bearer is unusable; `reason` goes into the ErrorInfo of the 401."""

    def __init__(self, reason: str, why: str):
        super().__init__(why)
        self.reason = reason


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Key:
    kid: str
    secret: bytes
    csesidx: str
    issued_at: float
    expires_at: float
    revoked: bool = False  # its account signed out (§12: a key dies with its sign-in)
    cut_short: bool = False  # POST keys/expire ended it before its lifetime; a reset undoes that

    @property
    def xsrf_token(self) -> str:
        return b64url_encode(self.secret)


class KeyRing:
    """Every key ever issued (until reset), so old tokens can be told apart from forged."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keys: dict[str, Key] = {}

    def issue(self, csesidx: str, now: float, lifetime: float) -> Key:
        kid = "WAA." + secrets.token_urlsafe(400)[:_KID_RANDOM_CHARS]
        key = Key(kid, secrets.token_bytes(32), csesidx, now, now + lifetime)
        with self._lock:
            self._keys[kid] = key
        return key

    def get(self, kid) -> Key | None:
        return self._keys.get(kid) if isinstance(kid, str) else None

    def expire_all(self) -> int:
        """Every key issued so far is past its lifetime until a reset (revive_all)."""
        with self._lock:
            for key in self._keys.values():
                key.cut_short = True
            return len(self._keys)

    def revoke_account(self, csesidx: str) -> None:
        """Every key issued so far to `csesidx` stops working (the account signed out)."""
        with self._lock:
            for key in self._keys.values():
                if key.csesidx == csesidx:
                    key.revoked = True

    def revive_all(self) -> None:
        """Undoes revoke_account and expire_all: a key works again until its own expiry. A
        control command's effect must not outlive the test that sent it, as a reset ends it."""
        with self._lock:
            for key in self._keys.values():
                key.revoked = key.cut_short = False

    def forget_accounts_except(self, csesidxs: set[str]) -> None:
        with self._lock:
            self._keys = {k: v for k, v in self._keys.items() if v.csesidx in csesidxs}


def split_bearer(authorization: str | None) -> list[str]:
    if not authorization or not authorization.startswith("Bearer "):
        raise AuthFailure(MISSING, "no bearer token")
    token = authorization[len("Bearer "):].strip()
    parts = token.split(".")
    if not token.isascii() or len(parts) != 3 or not all(parts):
        raise AuthFailure(INVALID, "not a three-part JWT")
    return parts


def _decode_json(segment: str, what: str) -> dict:
    try:
        value = json.loads(b64url_decode(segment))
    except (binascii.Error, ValueError) as exc:
        raise AuthFailure(INVALID, f"{what} is not base64url JSON") from exc
    if not isinstance(value, dict):
        raise AuthFailure(INVALID, f"{what} is not a JSON object")
    return value


def kid_of(authorization: str | None) -> str | None:
    """The kid of a bearer without checking anything (to log which account called)."""
    try:
        return _decode_json(split_bearer(authorization)[0], "header").get("kid")
    except AuthFailure:
        return None


def _check_signature(key: Key, parts: list[str]) -> None:
    signed = f"{parts[0]}.{parts[1]}".encode("ascii")
    expected = hmac.new(key.secret, signed, hashlib.sha256).digest()
    try:
        given = b64url_decode(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise AuthFailure(INVALID, "signature is not base64url") from exc
    if not hmac.compare_digest(expected, given):
        raise AuthFailure(INVALID, "bad signature")


def _compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def jwt_problem(header_bytes: bytes, payload_bytes: bytes) -> str | None:
    """What is wrong with the decoded JWT segments, or None (the strict_jwt setting)."""
    try:
        header, payload = json.loads(header_bytes), json.loads(payload_bytes)
    except ValueError:
        return "JWT segments are not JSON"
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return "JWT segments are not objects"
    if header.get("typ") != "JWT":
        return 'JWT header typ must be "JWT"'
    if header_bytes != _compact({"alg": header.get("alg"), "typ": "JWT", "kid": header.get("kid")}):
        return "JWT header must be compact JSON with keys alg, typ, kid in that order"
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        return "iat must be an integer"
    if payload.get("exp") != iat + JWT_LIFETIME:
        return "exp - iat must be 300"
    if payload.get("nbf") != iat:
        return "nbf must equal iat"
    order = ("iss", "aud", "sub", "iat", "exp", "nbf")
    if payload_bytes != _compact({k: payload.get(k) for k in order}):
        return "JWT payload must be compact JSON with keys iss, aud, sub, iat, exp, nbf in that order"
    return None


def _is_time(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_claims(claims: dict, key: Key, now: float, issuer: str, audience: str) -> None:
    if claims.get("iss") != issuer:
        raise AuthFailure(INVALID, "wrong iss")
    if claims.get("aud") != audience:
        raise AuthFailure(INVALID, "wrong aud")
    if claims.get("sub") != f"csesidx/{key.csesidx}":
        raise AuthFailure(INVALID, "wrong sub")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not _is_time(exp) or not _is_time(nbf):
        raise AuthFailure(INVALID, "exp and nbf must be numbers")
    if now >= exp:
        raise AuthFailure(EXPIRED, "token expired")
    if nbf > now:
        raise AuthFailure(INVALID, "token not valid yet")


def verify_bearer(authorization: str | None, keys: KeyRing, now: float, issuer: str = ISSUER,
                  audience: str = AUDIENCE, strict: bool = False) -> Key:
    """The key (and so the account) behind a valid bearer, else AuthFailure.

    strict: also the exact bytes of §3.3 (jwt_problem)."""
    parts = split_bearer(authorization)
    header = _decode_json(parts[0], "header")
    if header.get("alg") != "HS256":
        raise AuthFailure(INVALID, "alg must be HS256")
    key = keys.get(header.get("kid"))
    if key is None:
        raise AuthFailure(INVALID, "unknown kid")
    _check_signature(key, parts)
    _check_claims(_decode_json(parts[1], "payload"), key, now, issuer, audience)
    if strict:
        problem = jwt_problem(b64url_decode(parts[0]), b64url_decode(parts[1]))
        if problem is not None:
            raise AuthFailure(INVALID, problem)
    if now >= key.expires_at or key.cut_short:
        raise AuthFailure(EXPIRED, "signing key past its lifetime")
    return key
