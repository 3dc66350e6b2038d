"""Where the one-time code of a sign-in comes from (upstream-protocol.md §11.1 step 5).

A code source answers one question: "which code arrived after `since`?", waiting up to a
deadline. ImapCodeSource reads a mailbox (stdlib imaplib), CallbackCodeSource asks a
function (the store, where a person types the code into the admin page), and
AnyCodeSource asks several at once and takes the first code.

The IMAP password is never logged, and neither are codes.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import email
import email.policy
import html
import imaplib
import logging
import re
import ssl as ssl_module
import time
from datetime import datetime, timezone
from typing import Callable, Iterable, Protocol

log = logging.getLogger("gbp.accounts.mailbox")

# §11.1: <span class="verification-code">; Outlook's web copies prefix classes with x_.
_SPAN = re.compile(r'class="(?:[^"]*\s)?(?i:x_)?(?i:verification-code)(?:\s[^"]*)?"[^>]*>'
                   r"\s*([A-Z0-9]{6})\s*<")
_KEYWORD = re.compile(r"(?i:code|验证码)(?:\s+(?i:is))?\s*[:：]\s*([A-Z0-9]{6})(?![A-Za-z0-9])")
_TOKEN = re.compile(r"(?<![A-Za-z0-9])[A-Z0-9]{6}(?![A-Za-z0-9])")
_CODE_WORD = re.compile(r"(?i:code|验证码)")
_NEAR = 80  # characters between an all-letter token and the word "code"
_INVISIBLE = re.compile(r"(?is)<(style|script|head)\b.*?</\1\s*>")
_TAG = re.compile(r"(?s)<[^>]+>")


class CodeSource(Protocol):
    def wait_for_code(self, since: float, deadline: float) -> str | None:
        """A code that arrived after `since` (unix time), or None at `deadline`."""


def extract_code(subject: str, texts: Iterable[str], htmls: Iterable[str]) -> str | None:
    """The code in a mail: the verification-code span, then "code: XXXXXX", then a lone
    6-character token with a digit, or of capitals only near the word "code"."""
    htmls = list(htmls)
    for part in htmls:
        match = _SPAN.search(part)
        if match:
            return match.group(1)
    plain = "\n".join([subject, *texts, *(_visible_text(h) for h in htmls)])
    match = _KEYWORD.search(plain)
    if match:
        return match.group(1)
    for token in _TOKEN.finditer(plain):
        if any(c.isdigit() for c in token.group()):
            return token.group()
    for token in _TOKEN.finditer(plain):
        window = plain[max(0, token.start() - _NEAR):token.end() + _NEAR]
        if _CODE_WORD.search(window):
            return token.group()
    return None


def _visible_text(markup: str) -> str:
    return html.unescape(_TAG.sub(" ", _INVISIBLE.sub(" ", markup)))


def code_of_message(raw: bytes) -> str | None:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    texts, htmls = [], []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        try:
            content = part.get_content()
        except (LookupError, ValueError):  # an unknown charset or a broken encoding
            content = part.get_payload(decode=True).decode("utf-8", "replace")
        (htmls if part.get_content_subtype() == "html" else texts).append(content)
    return extract_code(str(message.get("Subject", "")), texts, htmls)


class PollingSource(ABC):
    """A source that looks once per `poll_interval` until the deadline."""

    poll_interval: float = 2.0
    deadline: float | None = None  # of the wait in progress: a poll may bound its I/O by it

    @abstractmethod
    def poll(self, since: float) -> str | None:
        """One look; None when there is no code yet."""

    def close(self) -> None:
        """Drop whatever a poll opened (connections)."""

    def wait_for_code(self, since: float, deadline: float) -> str | None:
        self.deadline = deadline
        try:
            while True:
                code = self.poll(since)
                if code is not None:
                    return code
                pause = min(self.poll_interval, deadline - time.time())
                if pause <= 0:
                    return None
                time.sleep(pause)
        finally:
            self.close()


class CallbackCodeSource(PollingSource):
    """Polls `fetch()` (e.g. a code a person typed into the admin page, via the store).
    A code it already handed out is not handed out again: it was tried."""

    def __init__(self, fetch: Callable[[], str | None], poll_interval: float = 0.5):
        self.fetch, self.poll_interval = fetch, poll_interval
        self._given: set[str] = set()

    def poll(self, since: float) -> str | None:
        code = (self.fetch() or "").strip().upper()
        if not code or code in self._given:
            return None
        self._given.add(code)
        return code


class AnyCodeSource(PollingSource):
    """The first code any of `sources` has; each polling source keeps its own pace."""

    def __init__(self, sources: Iterable[CodeSource]):
        self.sources = list(sources)
        intervals = [getattr(s, "poll_interval", 0.5) for s in self.sources]
        self.poll_interval = min(intervals, default=0.5)
        self._due: dict[int, float] = {}

    def poll(self, since: float) -> str | None:
        now = time.time()
        for index, source in enumerate(self.sources):
            if self._due.get(index, 0.0) > now:
                continue
            self._due[index] = now + getattr(source, "poll_interval", 0.0)
            if isinstance(source, PollingSource):
                code = source.poll(since)
            else:  # any other CodeSource: a deadline of now means one look
                code = source.wait_for_code(since, now)
            if code is not None:
                return code
        return None

    def wait_for_code(self, since: float, deadline: float) -> str | None:
        self._due.clear()
        return super().wait_for_code(since, deadline)

    def close(self) -> None:
        for source in self.sources:
            if isinstance(source, PollingSource):
                source.close()


class ImapCodeSource(PollingSource):
    """Codes from an IMAP mailbox (INBOX), e.g. the catch-all box of the operator's domain.

    A message counts when its From contains `sender` (empty: any sender), its To,
    Delivered-To or X-Original-To contains `recipient` (when given) and the server
    received it after `since` less `clock_skew` seconds (INTERNALDATE has whole seconds,
    and the server's clock is not ours). Of several, the newest wins. A message looked at
    is never looked at again by this source, so a code is never handed out twice.
    """

    MAX_NEW = 30  # messages looked at per poll, newest first

    def __init__(self, host: str, port: int = 993, user: str = "", password: str = "",
                 ssl: bool = True, sender: str = "noreply-googlecloud@google.com",
                 recipient: str | None = None, poll_interval: float = 2.0,
                 mailbox: str = "INBOX", clock_skew: float = 3.0, timeout: float = 20.0):
        self.host, self.port, self.user, self._password = host, port, user, password
        self.ssl, self.mailbox, self.timeout = ssl, mailbox, timeout
        self.sender, self.recipient = (sender or "").lower(), (recipient or "").lower()
        self.poll_interval, self.clock_skew = poll_interval, clock_skew
        self._imap: imaplib.IMAP4 | None = None
        self._seen: set[tuple[str, bytes]] = set()
        self._failures = 0

    def __repr__(self) -> str:  # never the password
        return f"ImapCodeSource({self.user}@{self.host}:{self.port})"

    def poll(self, since: float) -> str | None:
        try:
            code = self._look(since)
            self._failures = 0
            return code
        except (imaplib.IMAP4.error, OSError, EOFError) as exc:
            self._failures += 1
            reason = str(exc)
            if self._password:  # servers do not echo it, but make sure
                reason = reason.replace(self._password, "[redacted]")
            log.warning("IMAP %s:%s as %s failed (attempt %d, retrying): %s: %s", self.host,
                        self.port, self.user, self._failures, type(exc).__name__, reason)
            self.close()
            return None

    def close(self) -> None:
        imap, self._imap = self._imap, None
        if imap is not None:
            try:
                imap.logout()
            except (imaplib.IMAP4.error, OSError, EOFError):
                pass

    def _connect(self) -> imaplib.IMAP4:
        if self._imap is None:
            timeout = self.timeout  # a slow server may not hold the wait much past its end
            if self.deadline is not None:
                timeout = max(1.0, min(timeout, self.deadline - time.time()))
            if self.ssl:
                context = ssl_module.create_default_context()
                imap = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=context,
                                         timeout=timeout)
            else:
                imap = imaplib.IMAP4(self.host, self.port, timeout=timeout)
            try:
                imap.login(self.user, self._password)
            except BaseException:
                imap.shutdown()
                raise
            self._imap = imap
        return self._imap

    def _look(self, since: float) -> str | None:
        imap = self._connect()
        status, _ = imap.select(self.mailbox, readonly=True)  # also picks up new mail
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open mailbox {self.mailbox}")
        validity = (imap.response("UIDVALIDITY")[1] or [b""])[0] or b""
        day = datetime.fromtimestamp(since - 86400, timezone.utc).strftime("%d-%b-%Y")
        criteria = ["SINCE", day]
        if self.sender:
            criteria += ["FROM", '"' + re.sub(r'["\\]', "", self.sender) + '"']
        _, data = imap.uid("SEARCH", None, *criteria)
        uids = [u for u in (data[0] or b"").split() if (validity.decode(), u) not in self._seen]
        uids = sorted(uids, key=int)[-self.MAX_NEW:]
        if not uids:
            return None
        candidates = self._matching(imap, uids, since)
        self._seen.update((validity.decode(), u) for u in uids)
        for uid in candidates:  # newest first
            _, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
            code = code_of_message(raw) if raw else None
            if code is not None:
                log.info("sign-in code found in mail uid %s", uid.decode())
                return code
        return None

    def _matching(self, imap: imaplib.IMAP4, uids: list[bytes], since: float) -> list[bytes]:
        """Of `uids`, those from the sender to the recipient received after `since`,
        newest first."""
        fields = "FROM TO DELIVERED-TO X-ORIGINAL-TO"
        _, parts = imap.uid("FETCH", b",".join(uids),
                            f"(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS ({fields})])")
        found = []
        for part in parts:
            if not isinstance(part, tuple):
                continue
            meta = part[0].decode("ascii", "replace")
            uid, received = re.search(r"UID (\d+)", meta), re.search(r'INTERNALDATE "([^"]+)"', meta)
            if not uid or not received:
                continue
            headers = email.message_from_bytes(part[1], policy=email.policy.default)
            when = datetime.strptime(received.group(1).strip(), "%d-%b-%Y %H:%M:%S %z").timestamp()
            if when < since - self.clock_skew or not self._addressed(headers):
                continue
            found.append((when, int(uid.group(1)), uid.group(1).encode()))
        return [uid for _, _, uid in sorted(found, reverse=True)]

    def _addressed(self, headers) -> bool:
        if self.sender and self.sender not in str(headers.get("From", "")).lower():
            return False
        if not self.recipient:
            return True
        to = " ".join(str(v) for name in ("To", "Delivered-To", "X-Original-To")
                      for v in headers.get_all(name, []))
        return self.recipient in to.lower()
