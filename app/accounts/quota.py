"""Daily quotas per kind of request: when they reset, and what a 429 says about them.

Operators report daily budgets per account and kind (text, image, video) that reset at
Pacific midnight (upstream-protocol.md §10.4, §14 [L/M]); the reset zone and hour are settings
(QUOTA_RESET_TZ, QUOTA_RESET_HOUR) because the real reset is a guess. A 429 is either a
transient overload (reason LLM_OVERLOADED: try another account, come back soon) or spent
quota (QUOTA_EXCEEDED, or a google.rpc.QuotaFailure detail: no use asking before the reset).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..upstream import errors
from ..upstream.models import IMAGE, KINDS, TEXT, VIDEO  # the catalogue decides each model's kind

__all__ = ["IMAGE", "KINDS", "TEXT", "VIDEO", "ResetClock", "cause", "daily_limits"]

# Why an account cools down, as stored per kind and shown to operators.
OVERLOAD, QUOTA, DAILY_LIMIT, RATE_LIMIT = "overloaded", "quota", "daily_limit", "rate_limit"
PROXY = "proxy"  # the account's outbound proxy failed: not a quota, but the account cannot serve
OVERLOAD_REASONS = frozenset({"LLM_OVERLOADED"})
QUOTA_REASONS = frozenset({"QUOTA_EXCEEDED"})
QUOTA_FAILURE_TYPE = "type.googleapis.com/google.rpc.QuotaFailure"


def cause(exc: errors.UpstreamError) -> str:
    """OVERLOAD, QUOTA or RATE_LIMIT (a 429 that says neither: the doubling back-off); PROXY
    for the account's proxy failing (the same back-off, every kind)."""
    if isinstance(exc, errors.ProxyUnreachable):
        return PROXY
    reasons = set(exc.detail_reasons)
    if reasons & QUOTA_REASONS or QUOTA_FAILURE_TYPE in exc.detail_types:
        return QUOTA
    if reasons & OVERLOAD_REASONS:
        return OVERLOAD
    return RATE_LIMIT


def daily_limits(config) -> dict[str, int]:
    """The proactive limits per kind (DAILY_LIMIT_TEXT/IMAGE/VIDEO); 0 is off."""
    return {TEXT: config.daily_limit_text, IMAGE: config.daily_limit_image, VIDEO: config.daily_limit_video}


class ResetClock:
    """The daily reset: `hour`:00 in `zone`, daylight saving included."""

    def __init__(self, zone: str = "America/Los_Angeles", hour: int = 0):
        self.zone = ZoneInfo(zone)
        self.hour = hour

    def period_start(self, now: float) -> datetime:
        """The last reset at or before `now` (aware, in the reset zone)."""
        local = datetime.fromtimestamp(now, self.zone)
        start = self._at(local.date())
        if start.timestamp() > now:
            start = self._at(local.date() - timedelta(days=1))
        return start

    def next_reset(self, now: float) -> float:
        """Unix time of the first reset after `now`."""
        local = datetime.fromtimestamp(now, self.zone)
        for days in (0, 1, 2):
            candidate = self._at(local.date() + timedelta(days=days)).timestamp()
            if candidate > now:
                return candidate
        raise AssertionError("a day has a reset")  # pragma: no cover

    def period(self, now: float) -> str:
        """A name for the quota day containing `now`: when it began, so that a changed reset
        hour or zone starts new counters rather than reading old ones."""
        return self.period_start(now).isoformat(timespec="minutes")

    def label(self, when: float) -> str:
        """How operators read a time: '00:00 PST' (with the date when it is not today)."""
        local = datetime.fromtimestamp(when, self.zone)
        return local.strftime("%Y-%m-%d %H:%M %Z")

    def _at(self, day) -> datetime:
        # A wall-clock hour that does not exist on a DST day (e.g. 02:00 in spring) is read
        # with fold=0, which zoneinfo maps to the hour after the gap: still one reset a day.
        naive = datetime(day.year, day.month, day.day, self.hour)
        return datetime.fromtimestamp(naive.replace(tzinfo=self.zone).timestamp(), self.zone)
