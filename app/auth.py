"""Who is calling: API keys (API_KEYS), client keys made by the operator (app/keys.py) or HS256
tokens signed with JWT_SECRET, in API_KEY_HEADER.

With neither configured the service is open (the seed README's curl examples send no key).
Keys are compared in constant time and never logged or echoed. Wrong keys count towards the
failed-authentication throttle (app/throttle.py).
"""
from __future__ import annotations

import hashlib
import hmac

from flask import current_app, g, request

from . import exchange, hs256
from .keys import ClientKeys, KeyLimit
from .config import Config
from .errors import ApiError
from .throttle import AuthThrottle


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, type="invalid_request_error", code="invalid_api_key")


def over_limit(exc: KeyLimit) -> ApiError:
    """A client key over its requests per minute, concurrent streams or daily tokens (app/keys/)."""
    return ApiError(429, exc.message, type="rate_limit_error", code="rate_limit_exceeded",
                    headers={"Retry-After": str(exc.retry_after)})


def open_stream():
    """Take a stream slot of this request's client key (app/answer/driver.py): the function
    that gives it back, or None (no key with a limit); a 429 when all are taken."""
    try:
        return current_app.extensions["gbp.keys"].open_stream(g.get("gbp_key"))
    except KeyLimit as exc:
        raise over_limit(exc) from None


class ClientAuth:
    def __init__(self, config: Config, throttle: AuthThrottle, client_keys: ClientKeys | None = None):
        self.throttle = throttle
        self.client_keys = client_keys
        self.header = config.api_key_header
        self.keys = [key.encode() for key in config.api_keys]
        self.jwt_key = config.jwt_secret.encode() if config.jwt_secret else None

    @property
    def enabled(self) -> bool:
        # Once the operator has made a client key, a keyless client is no longer let in.
        return bool(self.keys or self.jwt_key) or bool(self.client_keys and self.client_keys.exist())

    def check(self, also: tuple[str, ...] = (), query: str | None = None) -> None:
        """before_request hook for the client blueprints; `also`: more headers a surface's
        clients send the key in (Anthropic's x-api-key, Gemini's x-goog-api-key), read when
        API_KEY_HEADER is empty; `query`: a URL parameter read last (Gemini's `?key=`)."""
        if request.method == "OPTIONS" or not self.enabled:
            return
        address = self.throttle.before(request.environ)
        value = ""
        for header in (self.header, *also):
            value = request.headers.get(header, "").strip()
            if value[:7].lower() == "bearer ":
                value = value[7:].strip()
            if value:
                break
        if not value and query:
            value = request.args.get(query, "").strip()
        if not value:
            where = " or ".join((self.header, *also)) + " header"
            where += f" or the {query} query parameter" if query else ""
            raise _unauthorized(f"Missing API key: send it in the {where} "
                                f"({'Bearer <key>' if self.header.lower() == 'authorization' else '<key>'}).")
        subject = self._valid(value)
        if subject is None:
            self.throttle.failed(address)
            raise _unauthorized("Incorrect API key provided.")
        # Who the caller is, as a digest: conversations are only continued for the same caller
        # (app/conversations.py), and the key itself is never kept.
        g.gbp_client = hashlib.sha256(subject.encode()).hexdigest()
        current = exchange.current()
        if current is not None:
            current.caller = caller_label(subject, g.gbp_client)

    def _valid(self, value: str) -> str | None:
        """Who a valid key or token names (None: not valid): the key itself, or a token's `sub`
        claim (its holder's tokens are renewed, the subject stays), else the token."""
        given = value.encode()
        # Compare against every key so the time taken does not depend on which one matched.
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(given, key)
        if matched:
            return "key:" + value
        record = self.client_keys.lookup(value) if self.client_keys else None
        if record is not None:
            refusal = self.client_keys.refusal(record)
            if refusal:  # a real key past its time: not a guess, so not counted by the throttle
                raise _unauthorized(refusal)
            try:
                self.client_keys.check_budget(record)
                self.client_keys.count_request(record)
            except KeyLimit as exc:
                raise over_limit(exc) from None
            g.gbp_key = record  # its allowed models (app/upstream/models.py), its stream slots
            current = exchange.current()
            if current is not None and record.get("daily_tokens"):
                current.budget_key = record["id"]  # its tokens are counted as the request ends (app/usage/)
            return "ckey:" + record["id"]  # its conversations survive a rename
        if self.jwt_key and value.count(".") == 2:
            try:
                claims = hs256.verify(value, self.jwt_key, leeway=0)
            except hs256.InvalidToken:
                return None
            subject = claims.get("sub")
            return "sub:" + subject if isinstance(subject, str) and subject else "jwt:" + value
        return None


def caller_label(subject: str, digest: str) -> str:
    """Who called, as usage records name it (never a secret): a client key's id, else which kind
    of credential and 12 hex digits of the caller's digest (README: Usage)."""
    if subject.startswith("ckey:"):
        return subject[5:]
    return ("api_keys:" if subject.startswith("key:") else "jwt:") + digest[:12]


def client_id() -> str:
    """A digest naming the caller of this request ("open" when the service has no keys)."""
    return g.get("gbp_client", "open")


def require_client() -> None:
    """before_request hook of every client blueprint (/v1, /gemini)."""
    current_app.extensions["gbp.auth"].check()


def require_anthropic_client() -> None:
    """before_request hook of Anthropic's Messages API: its clients send the key as x-api-key
    (Claude Code, opencode) or as `Authorization: Bearer` (the anthropic SDKs); same keys, same throttle."""
    current_app.extensions["gbp.auth"].check(also=("x-api-key",))


def require_gemini_client() -> None:
    """before_request hook of Gemini's own API: its clients send the key as x-goog-api-key (the
    google-genai SDKs) or as `?key=`, or as on /v1; same keys, same throttle."""
    current_app.extensions["gbp.auth"].check(also=("x-goog-api-key",), query="key")
