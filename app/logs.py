"""Logging: JSON or text lines on stderr, a request id on every line, secrets scrubbed.

Redaction happens on the final formatted line, so nothing (messages, extra fields,
tracebacks) can carry a cookie, key or token out, however it got there.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import time

from . import exchange
from .secretset import SecretSet

_PATTERNS = [
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+"), "[redacted-jwt]"),
    (re.compile(r"(__(?:Secure|Host)-[A-Za-z0-9_]+)=[^;\s\"',]+"), r"\1=[redacted]"),
    (re.compile(r"(?i)(\"?(?:xsrfToken|keyId|secure_c_ses|host_c_oses|api_key|password)\"?\s*[:=]\s*\"?)"
                r"[^\"\s,}]+"), r"\1[redacted]"),
    # a URL's password (an outbound proxy's: http://user:pass@host:port), however short
    (re.compile(r"(?i)\b((?:https?|socks5h?)://[^:/@\s\"']*:)[^@/\s\"']+@"), r"\1[redacted]@"),
    # a URL's key parameter (Gemini's clients may send theirs as ?key=)
    (re.compile(r"([?&](?:key|api_key)=)[^&#\s\"']+"), r"\1[redacted]"),
]
_SECRETS = SecretSet()
_STANDARD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def add_secret(value: str | None, slot: object = None) -> None:
    """Register a literal value (cookie, key, token) that must never be printed.

    Without a slot it stays registered for good (configuration). With one, it replaces what
    the slot held (an account's cookie, an account's token), so the set stays bounded."""
    if slot is None:
        _SECRETS.pin(value)
    else:
        _SECRETS.put(slot, value)


def redact(text: str) -> str:
    text = _SECRETS.redact(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_FIELDS and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": os.getpid(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{stamp} {record.levelname:<7} [{os.getpid()}] {record.name}: {record.getMessage()} {fields}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class RequestIdFilter(logging.Filter):
    """The current request's id on every line logged for it: in the view, in a stream's body,
    and in the greenlets working for it (app/exchange.py `carried`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            current = exchange.current()
            if current is not None:
                record.request_id = current.request_id
        return True


def setup(level: str, fmt: str, secrets: list[str]) -> None:
    for secret in secrets:
        add_secret(secret)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("gbp")  # the tree every module of ours logs through ("gbp.<area>")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    # Anything else (a library's warning) still comes out as a formatted, redacted line
    # rather than through logging's bare last-resort printer.
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
