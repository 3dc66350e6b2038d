"""What an operator can do with accounts; the admin API and the CLI are two faces of this."""
from __future__ import annotations

import re
import time

from . import sources
from .handoff import submit_code
from .quota import ResetClock
from .records import OPERATOR, Accounts, Record, can_sign_in, public, register_proxy
from .refresh import Refresher

CODE = re.compile(r"[A-Za-z0-9]{6}")
# Accounts one admin API call may import: one request stays a bounded amount of work for the
# worker that serves it. More go in several calls (or with the CLI, which has no such limit).
IMPORT_LIMIT = 1000
EDITABLE = {"secure_c_ses": str, "host_c_oses": str, "csesidx": str, "config_id": str, "email": str,
            "disabled": bool}


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    pass


class AccountAdmin:
    def __init__(self, accounts: Accounts, refresher: Refresher, clock=time.time, resets: ResetClock | None = None):
        self.accounts = accounts
        self.resets = resets or ResetClock()  # cooldowns are shown in the quota's reset zone
        self.refresher = refresher
        self.clock = clock

    def list(self) -> list[dict]:
        now = self.clock()
        return [self._public(record, state, now) for record, state in self.accounts.all()]

    def show(self, account_id: str) -> dict:
        record = self._get(account_id)
        return self._public(record, self.accounts.state(account_id), self.clock())

    def add(self, payload) -> dict:
        """Import one account or a list (formats in sources.py); ValueError names a bad field."""
        outcome: dict[str, list[str]] = {"added": [], "updated": []}
        for record in sources.parse(payload):
            record.source = "admin"
            result = self.accounts.upsert(record)
            outcome[result if result in outcome else "updated"].append(record.id)
        return outcome

    def update(self, account_id: str, changes: dict) -> dict:
        self._get(account_id)
        if not isinstance(changes, dict) or not changes:
            raise ValueError("send a JSON object with the fields to change")
        fields, state_changes = {}, {}
        for name, value in changes.items():
            if name == "clear_cooldown":
                if value is True:
                    state_changes.update(cooldown_until=0, cooldown_level=0, kind_cooldowns={}, cooldown_causes={})
                continue
            if name == "needs_login":  # an operator vouches for the cookies (or asks for a sign-in)
                if not isinstance(value, bool):
                    raise ValueError("needs_login must be a boolean")
                state_changes.update(needs_login=value, needs_login_reason="marked by an operator" if value else "")
                continue
            if name == "proxy":  # its own outbound proxy; "" back to UPSTREAM_PROXY, "none" direct
                fields["proxy"] = sources.parse_proxy(value, "proxy")
                continue
            if name in ("expires_at", "cookie_expires_at"):
                fields["cookie_expires_at"] = sources.parse_expiry(value, name)
                continue
            kind = EDITABLE.get(name)
            if kind is None:
                raise ValueError(f"{name} cannot be changed (editable: "
                                 f"{', '.join([*EDITABLE, 'proxy', 'expires_at', 'clear_cooldown', 'needs_login'])})")
            if not isinstance(value, kind):
                raise ValueError(f"{name} must be a {'boolean' if kind is bool else 'string'}")
            fields[name] = value.strip() if isinstance(value, str) else value
        if fields.get("csesidx") and not fields["csesidx"].isdigit():
            raise ValueError("csesidx must be digits")
        if {"secure_c_ses", "host_c_oses", "csesidx", "config_id"} & fields.keys():
            fields["source"] = "admin"  # new cookies: whatever was wrong with the old ones is past
            state_changes.update(needs_login=False, needs_login_reason="")
        if fields.get("proxy"):
            register_proxy(account_id, fields["proxy"])
        disabled = fields.pop("disabled", None)
        if fields:
            self.accounts.change(account_id, **fields)
        if disabled is True:
            self.accounts.disable(account_id, "disabled by an operator", by=OPERATOR)
        elif disabled is False:  # also clears why it was disabled (an upstream refusal included)
            self.accounts.enable(account_id)
        if state_changes:
            self.accounts.change_state(account_id, **state_changes)
        return self.show(account_id)

    def delete(self, account_id: str) -> None:
        if not self.accounts.delete(account_id):
            raise NotFound(account_id)

    def start_login(self, account_id: str) -> dict:
        record = self._get(account_id)
        if not can_sign_in(record):
            raise ValueError("this account has no email address to sign in with; set one with PATCH {\"email\": …}")
        if not self.refresher.start_login(account_id, "started by an operator"):
            if self.refresher.running(account_id):
                raise Conflict(f"A sign-in is already running for {account_id}.")
            raise Conflict(f"{self.refresher.config.login_concurrency} sign-in(s) already running, as many as "
                           "LOGIN_CONCURRENCY allows; try again when one ends.")
        return self.show(account_id)

    def submit_code(self, account_id: str, code) -> dict:
        self._get(account_id)
        if not isinstance(code, str) or not CODE.fullmatch(code.strip()):
            raise ValueError("code must be the 6 letters and digits from the email")
        submit_code(self.accounts.store, account_id, code.strip().upper(), self.clock())
        shown = self.show(account_id)
        shown["code_accepted_by_running_login"] = self.refresher.running(account_id)
        return shown

    def _get(self, account_id: str) -> Record:
        record = self.accounts.get(account_id)
        if record is None:
            raise NotFound(account_id)
        return record

    def _public(self, record, state, now) -> dict:
        shown = public(record, state, now, self.resets)
        shown["login"]["running"] = self.refresher.running(record.id)
        return shown
