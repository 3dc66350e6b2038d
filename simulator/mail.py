"""The one-time-code mail of the sign-in (upstream-protocol.md §11.1 step 5).

Every code the sign-in pages send is recorded (GET /__sim__/mail). With the `maildir`
setting it is also delivered as a real message into a Maildir, as a catch-all mailbox of
an operator's own domain would receive it, so an IMAP server (dovecot in the tests) can
serve it to the proxy. Delivery is atomic the Maildir way: write into tmp/, rename into
new/. A `mail_delay` fault delivers later, from a timer; `no_mail` records and drops.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SENDER = "Gemini Business <noreply-googlecloud@google.com>"
SUBJECT = "Your Gemini Business verification code"

_TEXT = """Gemini Business

Your one-time verification code is: {code}

Enter this code on the sign-in page to continue. It expires in 10 minutes.
If you didn't request it, you can ignore this email.
"""

_HTML = """<!doctype html>
<html><body style="font-family: Arial, sans-serif">
<p>Gemini Business</p>
<p>Your one-time verification code is:</p>
<p style="font-size: 24px; letter-spacing: 4px"><span class="verification-code">{code}</span></p>
<p>Enter this code on the sign-in page to continue. It expires in 10 minutes.</p>
<p style="color: #5f6368">If you didn't request it, you can ignore this email.</p>
</body></html>
"""


def code_message(email: str, code: str, sent_at: float) -> EmailMessage:
    """The RFC 5322 message carrying `code`: text and HTML alternatives."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = email
    message["Delivered-To"] = email  # what the receiving MTA adds for a catch-all box
    message["Subject"] = SUBJECT
    message["Date"] = formatdate(sent_at, localtime=True)
    message["Message-ID"] = make_msgid(domain="google.com")
    message.set_content(_TEXT.format(code=code))
    message.add_alternative(_HTML.format(code=code), subtype="html")
    return message


_unique = itertools.count(1)


def deliver_to_maildir(maildir: str, message: EmailMessage | bytes,
                       received_at: float | None = None) -> str:
    """Writes one message into `maildir`/new (creating the Maildir); returns its path.
    `received_at` backdates the file, which IMAP servers report as the arrival time."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    now = time.time()
    name = (f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}Q{next(_unique)}"
            f".{socket.gethostname().replace('/', '_').replace(':', '_')}")
    data = message if isinstance(message, bytes) else message.as_bytes()
    temporary = os.path.join(maildir, "tmp", name)
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if received_at is not None:
        os.utime(temporary, (received_at, received_at))
    final = os.path.join(maildir, "new", name)
    os.rename(temporary, final)
    return final


class Outbox:
    """Codes sent so far, delivered now, later or never."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sent: list[dict] = []
        self._timers: list[threading.Timer] = []

    def send(self, email: str, code: str, now: float, maildir: str | None,
             delay: float | None = None, drop: bool = False) -> dict:
        record = {"email": email, "code": code, "time": now, "status": "pending",
                  "delivered_at": None}
        with self._lock:
            self._sent.append(record)
        if drop:
            record["status"] = "dropped"
        elif delay:
            timer = threading.Timer(delay, self._deliver, (record, maildir))
            timer.daemon = True
            with self._lock:
                self._timers.append(timer)
            timer.start()
        else:
            self._deliver(record, maildir)
        return record

    def _deliver(self, record: dict, maildir: str | None) -> None:
        if maildir:
            deliver_to_maildir(maildir, code_message(record["email"], record["code"],
                                                     record["time"]))
        record["status"], record["delivered_at"] = "delivered", time.time()

    def list(self) -> list[dict]:
        with self._lock:
            return [dict(r) for r in self._sent]

    def clear(self) -> None:
        """Forget what was sent and cancel what is still waiting to be delivered."""
        with self._lock:
            timers, self._timers, self._sent = self._timers, [], []
        for timer in timers:
            timer.cancel()
