"""One Gemini Business account: the four values a signed-in browser holds (upstream-protocol.md §2)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Account:
    id: str               # the email when known, else "csesidx:<n>"; stable across restarts
    secure_c_ses: str     # cookie __Secure-C_SES
    csesidx: str          # decimal string, also the JWT subject
    config_id: str        # the UUID after /cid/ in the web app URL
    host_c_oses: str = "" # cookie __Host-C_OSES, sent only when known

    def cookie_header(self) -> str:
        cookie = f"__Secure-C_SES={self.secure_c_ses}"
        if self.host_c_oses:
            cookie += f"; __Host-C_OSES={self.host_c_oses}"
        return cookie

    def __repr__(self) -> str:  # never print the cookies
        return f"Account(id={self.id!r}, csesidx={self.csesidx!r})"
