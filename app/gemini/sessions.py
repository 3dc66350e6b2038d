"""Native sessions: one client session is one upstream session, kept in the shared store.

Any worker can read, extend or delete a session at once, because nothing about it lives in
one worker's memory. Each use slides the expiry by SESSION_TIMEOUT.
"""
from __future__ import annotations

import re
import secrets
import time
from dataclasses import asdict, dataclass

from ..store.base import Store

NAMESPACE = "sessions"
ID_PATTERN = re.compile(r"ses_[A-Za-z0-9_-]{16,64}")


@dataclass
class Session:
    id: str
    upstream: str      # upstream session name, e.g. collections/.../sessions/<n>
    account: str       # id of the account that created it; the session stays on it
    model: str
    created_at: float
    expires_at: float

    def public(self) -> dict:
        return {"session_id": self.id, "model": self.model,
                "created_at": rfc3339(self.created_at), "expires_at": rfc3339(self.expires_at)}


def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class Sessions:
    def __init__(self, store: Store, timeout: int, clock=time.time):
        self.store = store
        self.timeout = timeout
        self.clock = clock

    def create(self, upstream: str, account: str, model: str) -> Session:
        now = self.clock()
        session = Session("ses_" + secrets.token_urlsafe(18), upstream, account, model, now, now + self.timeout)
        self._save(session)
        return session

    def get(self, session_id: str) -> Session | None:
        if not ID_PATTERN.fullmatch(session_id):
            return None
        record = self.store.get(NAMESPACE, session_id)
        return Session(**record) if record else None

    def touch(self, session: Session) -> Session:
        session.expires_at = self.clock() + self.timeout
        self._save(session)
        return session

    def delete(self, session_id: str) -> bool:
        return self.store.delete(NAMESPACE, session_id)

    def _save(self, session: Session) -> None:
        self.store.put(NAMESPACE, session.id, asdict(session), expires_at=session.expires_at)
