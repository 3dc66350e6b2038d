"""Code that runs in child processes (spawned, so it must live in an importable module)."""
from __future__ import annotations

import os
import time

from app.store.redis import RedisStore
from app.store.sqlite import SqliteStore


def open_spec(spec: tuple, clock=time.time):
    kind, where = spec
    return SqliteStore(where, clock=clock) if kind == "sqlite" else RedisStore(where, clock=clock)


def bump(value: dict | None) -> dict:
    return {"n": (value or {"n": 0})["n"] + 1}


def increment(spec: tuple, times: int, start) -> None:
    store = open_spec(spec)
    start.wait(30)  # every process starts hammering at once
    for _ in range(times):
        store.update("counters", "shared", bump)
    store.close()


def exchange(spec: tuple) -> None:
    """Read what the parent wrote, write an answer the parent reads at once."""
    store = open_spec(spec)
    seen = store.get("talk", "from-parent")
    store.put("talk", "from-child", {"saw": seen})
    store.close()


def first_open(path: str, start) -> None:
    """Every gunicorn worker opens the same fresh file at once."""
    store = open_spec(("sqlite", path))
    start.wait(30)
    store.put("workers", str(os.getpid()), {"ok": True})
    store.close()


def count_up(spec: tuple, times: int, start) -> None:
    store = open_spec(spec)
    start.wait(30)
    for _ in range(times):
        store.incr("counters", "incr")
    store.close()


def conversation_messages():
    from app.dialogue import Message
    return (Message("user", "hello"), Message("assistant", "hi"))


def claim_conversation(spec: tuple, start, results) -> None:
    """Try to continue the conversation conversation_messages() ends; report the session or None."""
    from app.conversations import Conversations
    store = open_spec(spec)
    start.wait(30)
    place = Conversations(store, 3600).take("client", "model", conversation_messages())
    results.put(place.session if place else None)
    store.close()
