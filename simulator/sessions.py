"""Upstream chat sessions: who owns them, how they are named, and their turns (§1, §5).

A session is named `collections/default_collection/engines/agentspace-engine/sessions/<id>`
(short form) or with `projects/<n>/locations/global/` in front (project-qualified form);
widgetGetSession also takes the bare id.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

SHORT_PREFIX = "collections/default_collection/engines/agentspace-engine/sessions/"
_NAME = re.compile(
    r"^(?:projects/(?P<project>\d+)/locations/global/)?"
    r"collections/default_collection/engines/agentspace-engine/sessions/(?P<id>\d+)$"
)


def rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_numeric_id() -> str:
    """A decimal id of 20 digits, like real session, query and turn ids."""
    return str(10**19 + secrets.randbelow(9 * 10**19))


@dataclass
class Turn:
    query: str
    thoughts: list[str]
    reply: str
    created_at: float
    query_id: str
    turn_id: str
    file_ids: list[str] = field(default_factory=list)  # the fileIds the query referred to
    generated: list[str] = field(default_factory=list)  # fileIds of files the answer made
    model: object = None  # model.Memo: the kind of answer and its drift (corrections need it)


@dataclass
class Session:
    id: str
    owner: str  # csesidx of the account that created it
    display_name: str
    created_at: float
    updated_at: float
    turns: list[Turn] = field(default_factory=list)
    files: dict = field(default_factory=dict)  # fileId -> files.SessionFile, in upload order

    @property
    def name(self) -> str:
        return SHORT_PREFIX + self.id

    def queries(self) -> list[str]:
        return [turn.query for turn in self.turns]


def session_id_from_name(name, project_number: str, allow_bare: bool = False) -> str | None:
    """The id inside a session name, or None when the name is not one of ours."""
    if not isinstance(name, str):
        return None
    if allow_bare and name.isdigit():
        return name
    match = _NAME.match(name)
    if not match or match["project"] not in (None, project_number):
        return None
    return match["id"]


class SessionBook:
    def __init__(self):
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def create(self, owner: str, now: float, display_name: str = "") -> Session:
        session = Session(new_numeric_id(), owner, display_name, now, now)
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        return self._sessions.get(session_id or "")

    def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def add_turn(self, session: Session, turn: Turn) -> None:
        with self._lock:
            session.turns.append(turn)
            session.updated_at = turn.created_at
            if not session.display_name:
                # The web app titles a session after its first question.
                session.display_name = turn.query.strip()[:60]

    def add_file(self, session: Session, file) -> None:
        with self._lock:
            session.files[file.file_id] = file

    def owned_by(self, owner: str) -> list[Session]:
        mine = [s for s in self._sessions.values() if s.owner == owner]
        return sorted(mine, key=lambda s: s.updated_at, reverse=True)

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
