"""Per-account request quota with a fixed window (upstream-protocol.md §12, §13 Q2).

Only widgetStreamAssist calls count: quota is about model use, and counting session
bookkeeping too would make "N chats per window" impossible for tests to reason about.
A window starts with the first counted call and lasts `window` seconds.
"""

from __future__ import annotations

import threading


class QuotaCounters:
    def __init__(self):
        self._lock = threading.Lock()
        self._windows: dict[str, list[float | int]] = {}  # csesidx -> [start, used]

    def try_spend(self, csesidx: str, now: float, limit: int | None, window: float) -> bool:
        """Counts one call; False (and nothing counted) when the window's quota is spent."""
        if limit is None:
            return True
        with self._lock:
            start, used = self._windows.get(csesidx, (now, 0))
            if now - start >= window:
                start, used = now, 0
            if used >= limit:
                return False
            self._windows[csesidx] = [start, used + 1]
            return True

    def usage(self) -> dict:
        return {k: {"window_start": v[0], "used": v[1]} for k, v in self._windows.items()}

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
