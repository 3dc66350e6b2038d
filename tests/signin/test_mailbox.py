"""Code sources: ImapCodeSource against a real dovecot, the code extraction rules, and
the callback and any-of sources."""
from __future__ import annotations

import logging
import threading
import time
import uuid
from email.message import EmailMessage

import pytest

from app.accounts.mailbox import (AnyCodeSource, CallbackCodeSource, ImapCodeSource,
                                  extract_code)
from simulator.mail import code_message, deliver_to_maildir


def address() -> str:
    return f"user-{uuid.uuid4().hex[:8]}@example.org"


def source(dovecot, recipient=None, **kw) -> ImapCodeSource:
    return ImapCodeSource(dovecot.host, dovecot.port, dovecot.user, dovecot.password,
                          ssl=False, recipient=recipient, poll_interval=0.1, **kw)


def plain_mail(sender: str, to: str, body: str, subject="Hello") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(body)
    return message


def test_finds_the_code_of_a_new_mail_once(dovecot):
    to = address()
    since = time.time()
    deliver_to_maildir(dovecot.maildir, code_message(to, "HE9F6Z", time.time()))
    imap = source(dovecot, to)
    assert imap.wait_for_code(since, time.time() + 5) == "HE9F6Z"
    assert imap._imap is None  # closed after the wait
    started = time.time()
    assert imap.wait_for_code(since, time.time() + 0.5) is None  # never the same mail twice
    assert time.time() - started < 30  # returned at its deadline (a hang guard, not a measurement)


def test_ignores_old_mail_other_senders_and_other_recipients(dovecot):
    to = address()
    since = time.time()
    deliver_to_maildir(dovecot.maildir, code_message(to, "OLD111", since - 60), since - 60)
    deliver_to_maildir(dovecot.maildir, code_message(address(), "OTHER2", since))
    deliver_to_maildir(dovecot.maildir, plain_mail("spam@example.net", to, "code: SPAM33"))
    imap = source(dovecot, to)
    started = time.time()
    assert imap.wait_for_code(since, time.time() + 1.0) is None  # times out with None
    assert 0.9 < time.time() - started < 30  # waited until the deadline; the upper bound is a hang guard
    # the newest of two good mails wins
    deliver_to_maildir(dovecot.maildir, code_message(to, "FIRST4", time.time()), time.time() - 1)
    deliver_to_maildir(dovecot.maildir, code_message(to, "NEWER5", time.time()))
    assert imap.wait_for_code(since, time.time() + 5) == "NEWER5"
    assert imap.wait_for_code(since, time.time() + 0.3) is None  # the older one is spent


def test_any_sender_and_any_recipient(dovecot):
    to = address()
    since = time.time()
    deliver_to_maildir(dovecot.maildir, plain_mail("it@corp.example", to, "Your code: AB12CD"))
    assert source(dovecot, to, sender="").wait_for_code(since, time.time() + 5) == "AB12CD"


def test_waits_for_mail_that_comes_later(dovecot):
    to = address()
    since = time.time()
    timer = threading.Timer(0.5, lambda: deliver_to_maildir(
        dovecot.maildir, code_message(to, "LATE77", time.time())))
    timer.start()
    assert source(dovecot, to).wait_for_code(since, time.time() + 5) == "LATE77"


def test_imap_errors_are_retried_and_logged_without_the_password(dovecot, caplog):
    caplog.set_level(logging.WARNING, logger="gbp.accounts.mailbox")
    bad = ImapCodeSource(dovecot.host, dovecot.port, dovecot.user, "not-the-password-xyz",
                         ssl=False, poll_interval=0.1)
    assert bad.wait_for_code(time.time(), time.time() + 0.5) is None
    assert "AUTHENTICATIONFAILED" in caplog.text
    assert "not-the-password-xyz" not in caplog.text + repr(bad)
    caplog.clear()
    refused = ImapCodeSource("127.0.0.1", 1, "u", "pw-4711", ssl=False, poll_interval=0.05)
    assert refused.wait_for_code(time.time(), time.time() + 0.5) is None
    assert len(caplog.records) >= 3 and "attempt 3" in caplog.text
    assert "pw-4711" not in caplog.text


@pytest.mark.parametrize("subject, texts, htmls, code", [
    ("", [], ['<p>Code</p><span class="verification-code">HE9F6Z</span>'], "HE9F6Z"),
    ("", [], ['<td><span class="x_verification-code">SHCNXF</span></td>'], "SHCNXF"),
    ("", [], ['<span class="big verification-code" style="x">Q1W2E3</span>'], "Q1W2E3"),
    ("", ["Your verification code: ABCDEF. HE9F6Z"], [], "ABCDEF"),
    ("", ["验证码：ZX81CV"], [], "ZX81CV"),
    ("Sign-in", ["GOOGLE says hello, use 7K3M9P"], [], "7K3M9P"),
    ("", ["Here is the code you asked for\n\nQWERTY\n"], [], "QWERTY"),
    ("", ["GOOGLE LLC, Mountain View"], ['<style>.a{color:#1A73E8}</style><p>Hi</p>'], None),
    ("", ["lowercase abc123 and ABCDEFG are not codes"], [], None),
])
def test_extract_code(subject, texts, htmls, code):
    assert extract_code(subject, texts, htmls) == code


def test_callback_source_polls_and_hands_each_code_out_once():
    typed = iter([None, None, " he9f6z ", "HE9F6Z", "HE9F6Z", "Q1W2E3"])
    callback = CallbackCodeSource(lambda: next(typed, None), poll_interval=0.01)
    assert callback.wait_for_code(0, time.time() + 2) == "HE9F6Z"
    assert callback.wait_for_code(0, time.time() + 2) == "Q1W2E3"
    assert callback.wait_for_code(0, time.time() + 0.1) is None


def test_any_source_returns_the_first_code(dovecot):
    to = address()
    since = time.time()
    typed: list[str] = []
    both = AnyCodeSource([source(dovecot, to), CallbackCodeSource(
        lambda: typed[-1] if typed else None, poll_interval=0.05)])
    threading.Timer(0.3, typed.append, ("TYPED1",)).start()
    assert both.wait_for_code(since, time.time() + 5) == "TYPED1"
    deliver_to_maildir(dovecot.maildir, code_message(to, "MAILED", time.time()))
    assert both.wait_for_code(since, time.time() + 5) == "MAILED"
    assert both.wait_for_code(since, time.time() + 0.3) is None
