"""Per-account request quotas (upstream-protocol.md §12, §13 Q2, §14).

Only widgetStreamAssist calls count: quota is about model use, and counting session
bookkeeping too would make "N chats per window" impossible for tests to reason about.

Two kinds, each off by default:
- a rate window (`quota`, `quota_window`): a window starts with the first counted call and
  lasts `window` seconds; spent, it answers 429 RATE_LIMIT_EXCEEDED;
- daily budgets per kind of request (`daily_quota_text`/`_image`/`_video`), as operators
  report them (§14 [M]): text, image (toolsSpec.imageGenerationSpec) and video
  (videoGenerationSpec) count apart and all reset at `quota_reset_hour` in `quota_reset_tz`
  (Pacific midnight by default, §10.4 [L]); spent, 429 with reason QUOTA_EXCEEDED. Overload
  (reason LLM_OVERLOADED) is a fault (http_429 / stream_429), not a budget.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

QUOTA_REASON = "QUOTA_EXCEEDED"
RATE_REASON = "RATE_LIMIT_EXCEEDED"


def request_kind(body: dict) -> str:
    """text, image or video: which generation spec a streamAssistRequest switches on (§7.1)."""
    tools = body.get("toolsSpec")
    tools = tools if isinstance(tools, dict) else {}
    if "videoGenerationSpec" in tools:
        return "video"
    if "imageGenerationSpec" in tools:
        return "image"
    return "text"


def quota_day(now: float, zone: str, hour: int) -> str:
    """The quota day containing `now`: the date of the last reset (hour:00 in zone)."""
    local = datetime.fromtimestamp(now, ZoneInfo(zone))
    day = local.date() if local.hour >= hour else local.date() - timedelta(days=1)
    return day.isoformat()


class DailyQuotas:
    """Per account and kind, how much of today's budget is used."""

    def __init__(self):
        self._lock = threading.Lock()
        self._used: dict[tuple[str, str], list] = {}  # (csesidx, kind) -> [day, used]

    def try_spend(self, csesidx: str, kind: str, day: str, limit: int | None) -> bool:
        """Counts one call; False (and nothing counted) when today's budget is spent."""
        if limit is None:
            return True
        with self._lock:
            seen, used = self._used.get((csesidx, kind), (day, 0))
            if seen != day:
                used = 0
            if used >= limit:
                return False
            self._used[(csesidx, kind)] = [day, used + 1]
            return True

    def usage(self) -> dict:
        out: dict = {}
        for (csesidx, kind), (day, used) in self._used.items():
            out.setdefault(csesidx, {})[kind] = {"day": day, "used": used}
        return out

    def clear(self) -> None:
        with self._lock:
            self._used.clear()


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
