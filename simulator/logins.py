"""Sign-in attempts in flight: who asked for a code, which codes were sent, and verified
emails that still have to create their account at /admin/create (§11.1 steps 3-7)."""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field

from .accounts import Cookies
from .mail import Outbox

CODE_ALPHABET = string.ascii_uppercase + string.digits  # e.g. HE9F6Z, SHCNXF (§11.1)
CODE_LIFETIME = 600.0  # seconds a mailed code is accepted
MAX_SENDS = 3  # codes one sign-in may ask for: the first and two resends


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


def new_csesidx() -> str:
    return str(10**9 + secrets.randbelow(9 * 10**9))


def new_cookies(now: float, lifetime: float) -> Cookies:
    return Cookies(secrets.token_urlsafe(48), secrets.token_urlsafe(32), now + lifetime, now)


@dataclass
class Login:
    """One sign-in from the email form to the right code; `id` travels as `ip_azr`."""

    id: str
    email: str
    continue_url: str
    created_at: float
    codes: list[tuple[str, float]] = field(default_factory=list)  # (code, sent at)
    sends: int = 0
    done: bool = False

    def accepts(self, code: str, now: float) -> bool:
        """Every code sent for this sign-in works until it is used or too old, so a
        delayed first mail that arrives after a Resend is not a trap."""
        return not self.done and any(
            secrets.compare_digest(code, sent) and now < at + CODE_LIFETIME
            for sent, at in self.codes)


@dataclass
class Signup:
    """A verified email with no account yet; it holds the cookie it was given."""

    csesidx: str
    email: str
    cookies: Cookies


class SigninBook:
    def __init__(self):
        self._lock = threading.Lock()
        self._logins: dict[str, Login] = {}
        self._signups: dict[str, Signup] = {}
        self.outbox = Outbox()

    def start(self, email: str, continue_url: str, now: float) -> Login:
        login = Login(secrets.token_urlsafe(96), email, continue_url, now)
        with self._lock:
            self._logins[login.id] = login
        return login

    def login(self, login_id: str | None) -> Login | None:
        return self._logins.get(login_id or "")

    def add_signup(self, signup: Signup) -> None:
        with self._lock:
            self._signups[signup.csesidx] = signup

    def signup(self, csesidx: str | None, secure_c_ses: str | None) -> Signup | None:
        """The pending signup of `csesidx`, if this browser holds its cookie."""
        signup = self._signups.get(csesidx or "")
        if signup is None or not secure_c_ses or not secrets.compare_digest(
                signup.cookies.secure_c_ses, secure_c_ses):
            return None
        return signup

    def finish_signup(self, csesidx: str) -> None:
        with self._lock:
            self._signups.pop(csesidx, None)

    def clear(self) -> None:
        with self._lock:
            self._logins.clear()
            self._signups.clear()
        self.outbox.clear()
