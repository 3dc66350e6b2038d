"""Accounts the fake service knows: the four credentials of §2.1 plus an expiry.

Records come in the import format of upstream-protocol.md §2.3. `expires_at` is treated
as the moment the cookie stops working at getoxsrf (the simplest thing tests can steer);
a naive "YYYY-MM-DD HH:MM:SS" is Beijing time (UTC+8), as in the projects that write it.

A sign-in (signin.py) gives an account new cookies; the ones it had keep working until
their own expiry, as a browser that signed in elsewhere does not log the others out.

A banned account (§9 "Forbidden", §11.1 step 8) keeps its cookies and still gets signing keys
at getoxsrf (the notes record no other answer there), but every widget call answers 403
PERMISSION_DENIED and a sign-in of its email ends on the "Access Restricted" page.

Cookie rotation (oxsrf.py, §3.2, §13 Q12): a pair older than `cookie_rotate_after` gets a
302 to `refreshcookies` at getoxsrf; following it hands out a new pair and retires the old
one, which keeps working `cookie_rotation_grace` seconds more (a request already under way
finishes), then is refused like an expired cookie. A pair nobody rotates dies at its own
expiry; from then on only a browser sign-in helps.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8))
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")


class AccountError(ValueError):
    """An import record is unusable; the message says which field."""


@dataclass
class Cookies:
    """One cookie pair an account was given, with its own expiry."""

    secure_c_ses: str
    host_c_oses: str | None
    expires_at: float | None  # unix seconds; None = never
    issued_at: float | None = None  # when it was handed out (sign-in, rotation or import)
    retired_until: float | None = None  # rotated away: works until then (the grace)

    def works(self, now: float) -> bool:
        return ((self.expires_at is None or now < self.expires_at)
                and (self.retired_until is None or now < self.retired_until))


@dataclass
class Account:
    email: str
    secure_c_ses: str
    csesidx: str
    config_id: str
    host_c_oses: str | None = None
    expires_at: float | None = None  # unix seconds; None = never
    signed_out: bool = False  # set by POST /__sim__/accounts/<csesidx>/expire
    banned: bool = False  # POST /__sim__/accounts/<csesidx>/ban: 403 on widget calls, no sign-in
    earlier: list[Cookies] = field(default_factory=list)  # replaced by a sign-in or rotation
    issued_at: float | None = None  # when the current pair was handed out
    rotations: int = 0  # refreshcookies that handed out a new pair

    def is_expired(self, now: float) -> bool:
        return self.signed_out or (self.expires_at is not None and now >= self.expires_at)

    def current(self) -> Cookies:
        return Cookies(self.secure_c_ses, self.host_c_oses, self.expires_at, self.issued_at)

    def cookies_for(self, secure_c_ses: str) -> Cookies | None:
        """The pair this `__Secure-C_SES` value belongs to, current or earlier."""
        for cookies in [self.current(), *self.earlier]:
            if cookies.secure_c_ses == secure_c_ses:
                return cookies
        return None

    def is_current(self, cookies: Cookies) -> bool:
        return cookies.secure_c_ses == self.secure_c_ses

    def renew(self, cookies: Cookies) -> None:
        """A fresh sign-in: new current cookies; a signed-out account's old ones stay dead."""
        self.earlier = [] if self.signed_out else [self.current(), *self.earlier]
        self.signed_out = False
        self._take(cookies)

    def rotate(self, cookies: Cookies, now: float, grace: float) -> None:
        """refreshcookies: new current cookies; the old pair works `grace` seconds more."""
        old = self.current()
        old.retired_until = now + grace
        self.earlier = [old, *self.earlier]
        self.rotations += 1
        self._take(cookies)

    def rotation_due(self, now: float, rotate_after: float | None) -> bool:
        return rotate_after is not None and now >= (self.issued_at or 0.0) + rotate_after

    def age(self, seconds: float) -> None:
        """The current pair was handed out `seconds` earlier than it was (tests move time)."""
        self.issued_at = (self.issued_at or 0.0) - seconds
        if self.expires_at is not None:
            self.expires_at -= seconds

    def _take(self, cookies: Cookies) -> None:
        self.secure_c_ses, self.host_c_oses = cookies.secure_c_ses, cookies.host_c_oses
        self.expires_at, self.issued_at = cookies.expires_at, cookies.issued_at

    def to_json(self, now: float) -> dict:
        return {
            "id": self.email, "secure_c_ses": self.secure_c_ses,
            "host_c_oses": self.host_c_oses, "csesidx": self.csesidx,
            "config_id": self.config_id, "expires_at": self.expires_at,
            "expired": self.is_expired(now), "earlier_cookies": len(self.earlier),
            "banned": self.banned,
            "issued_at": self.issued_at, "rotations": self.rotations,
        }


def parse_expiry(value) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise AccountError("expires_at must be a date string")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise AccountError(f"expires_at is not a date: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return moment.timestamp()


def account_from_record(record) -> Account:
    if not isinstance(record, dict):
        raise AccountError("an account must be a JSON object")
    for name in ("secure_c_ses", "csesidx", "config_id"):
        if not isinstance(record.get(name), str) or not record[name]:
            raise AccountError(f"{name} is required and must be a non-empty string")
    if not record["csesidx"].isdigit():
        raise AccountError("csesidx must be a string of digits")
    if not _UUID.match(record["config_id"]):
        raise AccountError("config_id must be a UUID")
    oses = record.get("host_c_oses")
    if oses is not None and not isinstance(oses, str):
        raise AccountError("host_c_oses must be a string")
    return Account(
        email=str(record.get("id") or f"{record['csesidx']}@example.com"),
        secure_c_ses=record["secure_c_ses"], csesidx=record["csesidx"],
        config_id=record["config_id"], host_c_oses=oses or None,
        expires_at=parse_expiry(record.get("expires_at")),
    )


def accounts_from_payload(payload) -> list[Account]:
    """One record or a list of them, all validated before any is used."""
    records = payload if isinstance(payload, list) else [payload]
    return [account_from_record(r) for r in records]


class AccountBook:
    """Accounts by csesidx; a newer record for the same csesidx replaces the older."""

    def __init__(self, accounts: list[Account] = (), now: float | None = None):
        self._lock = threading.Lock()
        self._by_csesidx: dict[str, Account] = {}
        self.add(accounts, now)

    def add(self, accounts: list[Account], now: float | None = None) -> None:
        """`now`: when the cookies of records that do not say were handed out."""
        with self._lock:
            for account in accounts:
                if account.issued_at is None:
                    account.issued_at = time.time() if now is None else now
                self._by_csesidx[account.csesidx] = account

    def get(self, csesidx: str | None) -> Account | None:
        return self._by_csesidx.get(csesidx or "")

    def by_cookie(self, secure_c_ses: str | None) -> tuple[Account, Cookies] | None:
        """The account a `__Secure-C_SES` value signs in, and the pair it belongs to."""
        if not secure_c_ses:
            return None
        for account in list(self._by_csesidx.values()):
            cookies = account.cookies_for(secure_c_ses)
            if cookies is not None:
                return account, cookies
        return None

    def by_email(self, email: str) -> Account | None:
        wanted = email.strip().lower()
        return next((a for a in list(self._by_csesidx.values())
                     if a.email.lower() == wanted), None)

    def signed_in(self, secure_c_ses: str | None, now: float) -> tuple[Account, Cookies] | None:
        """As by_cookie, but only while that pair works (not expired, not signed out)."""
        found = self.by_cookie(secure_c_ses)
        if found is None:
            return None
        account, cookies = found
        if account.signed_out or not cookies.works(now):
            return None
        return found

    def all(self) -> list[Account]:
        return list(self._by_csesidx.values())
