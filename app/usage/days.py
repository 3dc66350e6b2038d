"""UTC days, as usage records and daily token budgets count them."""
from __future__ import annotations

import time

DAY = 86400


def day_of(now: float) -> str:
    """The UTC day `now` (Unix seconds) falls in, "YYYY-MM-DD"."""
    return time.strftime("%Y-%m-%d", time.gmtime(now))


def day_end(now: float) -> int:
    """The Unix time of the next UTC midnight after `now`."""
    return (int(now // DAY) + 1) * DAY
