"""Where accounts come from: the environment, ACCOUNTS_FILE, and what operators import.

Accepted shapes (one object or a list of them):
  * the import format other tools of this niche export (upstream-protocol.md §2.3):
    {"id": "<email>", "secure_c_ses", "csesidx", "config_id", "host_c_oses"?, "expires_at"?}
  * a browser cookie export: {"email"/"id", "csesidx", "config_id", "cookies": [{"name", "value",
    "expirationDate" | "expires"}, ...]} or {"cookie": "__Secure-C_SES=…; __Host-C_OSES=…"}
  * an email alone ({"id": "<email>"} or {"email": …}): the proxy signs it in by itself.
Any of them may name the account's outbound proxy: "proxy": "http://user:pass@host:port"
(https, socks5, socks5h too), "none" for direct; without it the account keeps the one it has.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime, timedelta, timezone

from .. import account_ids, logs, strict_json
from ..config import Config, ConfigError
from ..upstream import proxies
from .records import Accounts, Record, register_proxy

BEIJING = timezone(timedelta(hours=8))  # the import format writes naive times in UTC+8 (§2.2)
SECURE, HOST = "__Secure-C_SES", "__Host-C_OSES"
LATEST = 253402300799.0  # 9999-12-31T23:59:59Z, the last time datetime can show


class InvalidAccount(ValueError):
    """A record cannot be imported; the message names the field."""


def parse(payload) -> list[Record]:
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        raise InvalidAccount("nothing to import: send an account object or a list of them")
    records = [_record(item, f"[{i}]" if isinstance(payload, list) else "") for i, item in enumerate(items)]
    for record in records:
        logs.add_secret(record.secure_c_ses, slot=(record.id, "secure_c_ses"))
        logs.add_secret(record.host_c_oses, slot=(record.id, "host_c_oses"))
        register_proxy(record.id, record.proxy or "")
    return records


def parse_proxy(value, where: str) -> str:
    """An account's proxy setting, checked (proxies.parse); InvalidAccount names the field."""
    if not isinstance(value, str):
        raise InvalidAccount(f"{where} must be a string: a proxy URL, or 'none' for direct")
    try:
        return proxies.parse(value)
    except proxies.InvalidProxy as exc:
        raise InvalidAccount(f"{where}: {exc}") from None


def _record(item, where: str) -> Record:
    if not isinstance(item, dict):
        raise InvalidAccount(f"account{where} must be a JSON object")
    cookies = _cookies(item, where)
    secure = _text(item, "secure_c_ses", where) or cookies.get(SECURE, ("", None))[0]
    host = _text(item, "host_c_oses", where) or cookies.get(HOST, ("", None))[0]
    csesidx = _text(item, "csesidx", where)
    config_id = _text(item, "config_id", where) or _text(item, "team_id", where)
    email = _text(item, "email", where) or (_text(item, "id", where) if "@" in _text(item, "id", where) else "")
    account_id = _text(item, "id", where) or email or (f"csesidx:{csesidx}" if csesidx else "")
    if not account_id:
        raise InvalidAccount(f"account{where} needs an id (its email) or a csesidx")
    if (problem := account_ids.problem(account_id)) is not None:
        raise InvalidAccount(f"account{where}.id: {problem}")
    if secure or csesidx or config_id:  # credentials given: they must be whole
        for name, value in (("secure_c_ses", secure), ("csesidx", csesidx), ("config_id", config_id)):
            if not value:
                raise InvalidAccount(f"account{where}.{name} is required with cookies")
        if not csesidx.isdigit():
            raise InvalidAccount(f"account{where}.csesidx must be digits")
        if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", config_id):
            raise InvalidAccount(f"account{where}.config_id must be the UUID after /cid/")
    expires = parse_expiry(item.get("expires_at"), f"account{where}.expires_at")
    if expires is None:
        expires = cookies.get(SECURE, ("", None))[1]
    proxy = parse_proxy(item["proxy"], f"account{where}.proxy") if item.get("proxy") is not None else None
    return Record(id=account_id, email=email, secure_c_ses=secure, host_c_oses=host, csesidx=csesidx,
                  config_id=config_id, cookie_expires_at=expires, proxy=proxy)


def _text(item: dict, name: str, where: str) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if name == "csesidx" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # digits written as a JSON number
    if not isinstance(value, str):
        raise InvalidAccount(f"account{where}.{name} must be a string")
    return value.strip()


def _cookies(item: dict, where: str) -> dict[str, tuple[str, float | None]]:
    """name -> (value, expiry) from a cookie list or a Cookie header string."""
    found: dict[str, tuple[str, float | None]] = {}
    header = item.get("cookie")
    if isinstance(header, str):
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name in (SECURE, HOST):
                found[name] = (value.strip(), None)
    cookies = item.get("cookies")
    if cookies is not None:
        if not isinstance(cookies, list):
            raise InvalidAccount(f"account{where}.cookies must be a list of browser cookies")
        for i, cookie in enumerate(cookies):
            if isinstance(cookie, dict) and cookie.get("name") in (SECURE, HOST) and isinstance(cookie.get("value"), str):
                expiry = cookie.get("expirationDate", cookie.get("expires"))
                if isinstance(expiry, (int, float)) and expiry > 0:  # else a session cookie
                    expiry = parse_expiry(expiry, f"account{where}.cookies[{i}].expirationDate")
                else:
                    expiry = None
                found[cookie["name"]] = (cookie["value"], expiry)
    return found


def parse_expiry(value, where: str) -> float | None:
    """Unix seconds from a number or a date text. Only a time a cookie can expire at is kept:
    the value is stored, shown and compared with the clock, so a number that is not finite,
    or too large to be a float (10^400), must stop here, not in a later comparison or a
    listing that can no longer be written as JSON."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value) if -LATEST <= value <= LATEST else math.nan  # a huge int has no float
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidAccount(f"{where} must be 'YYYY-MM-DD HH:MM:SS' (UTC+8), ISO 8601 or Unix seconds") from None
        seconds = (parsed if parsed.tzinfo else parsed.replace(tzinfo=BEIJING)).timestamp()
    else:
        raise InvalidAccount(f"{where} must be a time")
    if not 0 <= seconds <= LATEST:  # also false for NaN
        raise InvalidAccount(f"{where} must be a time between 1970 and 9999 (Unix seconds 0 to {LATEST:.0f})")
    return seconds


def fingerprint(record: Record) -> str:
    # The proxy only when set: the fingerprints of records without one stay what they were.
    basis = json.dumps([record.secure_c_ses, record.host_c_oses, record.csesidx, record.config_id, record.email,
                        *([record.proxy] if record.proxy else [])])
    return hashlib.sha256(basis.encode()).hexdigest()


def from_config(config: Config) -> list[Record]:
    """The environment's account and the records of ACCOUNTS_FILE (ConfigError if it is unusable)."""
    records = []
    if config.has_credentials or config.account_email:
        records.append(Record(id=config.account_email or f"csesidx:{config.csesidx}", email=config.account_email,
                              secure_c_ses=config.secure_c_ses, host_c_oses=config.host_c_oses,
                              csesidx=config.csesidx, config_id=config.config_id, source="env"))
    if config.accounts_file:
        try:
            with open(config.accounts_file, "rb") as handle:
                payload = strict_json.loads(handle.read())
            for record in parse(payload):
                record.source = "file"
                records.append(record)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"ACCOUNTS_FILE {config.accounts_file!r} cannot be used: {exc}") from None
    return records


def sync(accounts: Accounts, records: list[Record]) -> dict[str, str]:
    """Apply env/file records (at start-up, and again when the store lost them: upkeep.py). A record whose source did not change since it was last
    applied is left alone, so a restart never replaces cookies a sign-in renewed since."""
    outcome = {}
    for record in records:
        record.source_fingerprint = fingerprint(record)
        outcome[record.id] = accounts.upsert(record, only_if_source_changed=True)
    return outcome
