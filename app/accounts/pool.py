"""Which account serves a request.

For now the pool holds the single account configured in the environment; cooldowns,
failover and sign-in build on this interface (acquire / get).
"""
from __future__ import annotations

from ..config import Config
from ..upstream import errors
from .account import Account


class AccountPool:
    def __init__(self, accounts: list[Account], email_only: bool = False):
        self.accounts = {account.id: account for account in accounts}
        self.email_only = email_only  # an email is configured but no cookies yet

    @classmethod
    def from_config(cls, config: Config) -> "AccountPool":
        if not config.has_credentials:
            return cls([], email_only=bool(config.account_email))
        account = Account(
            id=config.account_email or f"csesidx:{config.csesidx}",
            secure_c_ses=config.secure_c_ses,
            csesidx=config.csesidx,
            config_id=config.config_id,
            host_c_oses=config.host_c_oses,
        )
        return cls([account])

    def acquire(self) -> Account:
        """An account to serve a new conversation."""
        for account in self.accounts.values():
            return account
        if self.email_only:
            raise errors.AccountUnavailable(
                "ACCOUNT_EMAIL is set but the account has no cookies yet; set GEMINI_BUSINESS_SECURE_C_SES, "
                "GEMINI_BUSINESS_CSESIDX and GEMINI_BUSINESS_CONFIG_ID (see README)")
        raise errors.AccountUnavailable("no Gemini Business account is configured")

    def get(self, account_id: str) -> Account | None:
        """The account a native session is bound to, if it still exists."""
        return self.accounts.get(account_id)

    def __len__(self) -> int:
        return len(self.accounts)
