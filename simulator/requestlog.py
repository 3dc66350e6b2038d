"""What the fake upstream received, for tests to inspect (GET /__sim__/requests).

An entry is opened when a request arrives and finished when its response is fully sent
or abandoned, so a stream's `outcome` says how it really ended: "complete", "aborted"
(the client went away mid-stream), "truncated" or "hang". Sequence numbers keep growing
across clears and resets, so `?since=` stays meaningful for a poller.
"""

from __future__ import annotations

import collections
import itertools
import json
import sys
import threading
import time

MAX_ENTRIES = 10_000  # enough for any test; a long benchmark must not grow memory forever


def parse_body(raw: bytes):
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class RequestLog:
    def __init__(self, sink=None):
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._entries: collections.deque = collections.deque(maxlen=MAX_ENTRIES)
        self._sink = sink

    def begin(self, method: str, path: str, query: dict, headers: dict, raw: bytes) -> dict:
        entry = {
            "seq": next(self._seq), "time": time.time(), "method": method, "path": path,
            "query": query, "headers": headers, "body": parse_body(raw),
            "status": None, "csesidx": None, "verb": None, "fault": None,
            "outcome": "pending",
        }
        with self._lock:
            self._entries.append(entry)
        return entry

    def finish(self, entry: dict, outcome: str, status: int | None = None) -> None:
        if entry["outcome"] not in ("pending", "streaming"):
            return  # already finished (a stream that ended, then got closed)
        if status is not None:
            entry["status"] = status
        entry["outcome"] = outcome
        entry["duration"] = round(time.time() - entry["time"], 4)
        if self._sink is not None:
            self._sink(entry)

    def since(self, seq: int) -> list[dict]:
        with self._lock:
            return [e for e in self._entries if e["seq"] > seq]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def file_sink(path: str):
    """Writes each finished entry as one JSON line."""
    handle = open(path, "a", encoding="utf-8")

    def write(entry):
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        handle.flush()
    return write


def stdout_sink(entry) -> None:
    """One short human line per finished request (no headers: they hold credentials)."""
    fault = f" fault={entry['fault']}" if entry["fault"] else ""
    print(f"{entry['method']} {entry['path']} {entry['status']} {entry['outcome']}{fault}",
          file=sys.stdout, flush=True)
