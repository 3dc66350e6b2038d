"""Native sessions: one client session is one upstream session, kept in the shared store.

Any worker can read, extend or delete a session at once, because nothing about it lives in
one worker's memory. Each use slides the expiry by SESSION_TIMEOUT.
"""
from __future__ import annotations

import re
import secrets
import time
from dataclasses import asdict, dataclass, field

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
    # files uploaded into the upstream session: sha256 → fileId, so a file sent again in a later
    # turn is referred to, not uploaded again (a fileId is good in its own session only, §5.3)
    files: dict[str, str] = field(default_factory=dict)

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
        if not record:
            return None
        # only the fields this version knows: a newer worker sharing the store may add some
        return Session(**{name: value for name, value in record.items() if name in Session.__dataclass_fields__})

    def touch(self, session: Session, expires_at: float | None = None) -> Session:
        """Slide the expiry to `expires_at` (default: SESSION_TIMEOUT from now)."""
        session.expires_at = self.clock() + self.timeout if expires_at is None else expires_at
        # only the expiry changes: another worker's turn may be adding files at the same time
        self.store.update(NAMESPACE, session.id,
                          lambda current: {**current, "expires_at": session.expires_at} if current else None,
                          expires_at=session.expires_at)
        return session

    def add_files(self, session: Session, files: dict[str, str]) -> None:
        """Remember files uploaded into the session (merged: turns may run at once); nothing for
        a session deleted meanwhile."""
        def merged(current):
            return {**current, "files": {**current.get("files", {}), **files}} if current else None
        self.store.update(NAMESPACE, session.id, merged, expires_at=session.expires_at)

    def delete(self, session_id: str) -> bool:
        return self.store.delete(NAMESPACE, session_id)

    def _save(self, session: Session) -> None:
        self.store.put(NAMESPACE, session.id, asdict(session), expires_at=session.expires_at)
