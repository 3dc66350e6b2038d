"""Daily quotas per kind: the reset time (daylight saving included), what a 429 says, and
what the pool does with both (accounts/quota.py, accounts/pool.py)."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from app.accounts import quota
from app.accounts.pool import AccountPool, NoUsableAccount
from app.accounts.quota import ResetClock
from app.accounts.records import Accounts, Record, cooldowns
from app.store.sqlite import SqliteStore
from app.upstream import errors
from app.upstream.events import error_from_body

UUID = "d06739ca-6683-46db-bb51-07395a392439"
LA = ZoneInfo("America/Los_Angeles")


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


def la(*args) -> float:
    return datetime(*args, tzinfo=LA).timestamp()


# --- the reset time -------------------------------------------------------------------------
@pytest.mark.parametrize("now, reset", [
    (la(2026, 12, 5, 6, 20), utc(2026, 12, 6, 8)),     # winter: Pacific midnight is 08:00 UTC
    (la(2026, 7, 1, 23, 59), utc(2026, 7, 2, 7)),      # summer: 07:00 UTC
    (la(2026, 3, 7, 12), utc(2026, 3, 8, 8)),          # the night DST starts: still PST at midnight
    (la(2026, 3, 8, 12), utc(2026, 3, 9, 7)),          # a 23-hour quota day
    (la(2026, 10, 31, 12), utc(2026, 11, 1, 7)),       # the night DST ends: still PDT at midnight
    (la(2026, 11, 1, 12), utc(2026, 11, 2, 8)),        # a 25-hour quota day
    (utc(2026, 12, 6, 8), utc(2026, 12, 7, 8)),        # exactly at a reset: the next one
])
def test_the_next_reset_is_pacific_midnight_with_daylight_saving(now, reset):
    assert ResetClock().next_reset(now) == reset


def test_an_hour_that_does_not_exist_or_comes_twice_still_resets_once_a_day():
    two = ResetClock("America/Los_Angeles", 2)  # 02:00 does not exist on 2026-03-08
    assert two.next_reset(la(2026, 3, 8, 0, 30)) == utc(2026, 3, 8, 10)  # 03:00 PDT, the hour after the gap
    assert two.next_reset(utc(2026, 3, 8, 10)) == utc(2026, 3, 9, 9)
    one = ResetClock("America/Los_Angeles", 1)  # 01:00 comes twice on 2026-11-01: the first counts
    assert one.next_reset(la(2026, 11, 1, 0, 30)) == utc(2026, 11, 1, 8)
    assert one.next_reset(utc(2026, 11, 1, 8)) == utc(2026, 11, 2, 9)


def test_a_fixed_offset_zone_ignores_daylight_saving():
    beijing_16 = ResetClock("Etc/GMT+8", 0)  # what A does: 16:00 Beijing all year
    assert beijing_16.next_reset(utc(2026, 7, 1, 12)) == utc(2026, 7, 2, 8)
    assert beijing_16.next_reset(utc(2026, 12, 1, 12)) == utc(2026, 12, 2, 8)


def test_the_quota_day_is_named_by_its_last_reset_and_shown_in_the_reset_zone():
    resets = ResetClock()
    assert resets.period(la(2026, 12, 5, 23, 59)) == "2026-12-05T00:00-08:00"
    assert resets.period(la(2026, 12, 6, 0, 0)) == "2026-12-06T00:00-08:00"
    assert ResetClock("UTC", 9).period(utc(2026, 12, 6, 8, 59)) == "2026-12-05T09:00+00:00"
    assert resets.label(utc(2026, 12, 6, 8)) == "2026-12-06 00:00 PST"
    assert resets.label(utc(2026, 7, 2, 7)) == "2026-07-02 00:00 PDT"


# --- what a 429 says ------------------------------------------------------------------------
def exhausted(reason: str | None = None, detail_type="type.googleapis.com/google.rpc.ErrorInfo") -> errors.RateLimited:
    details = [{"@type": detail_type, "reason": reason, "domain": "discoveryengine.googleapis.com"}] if reason else []
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Resource has been exhausted "
                      "(e.g. check quota).", "details": details}}
    return error_from_body(body, status=429)


def test_overload_and_spent_quota_are_told_apart_by_the_details_reason():
    assert quota.cause(exhausted("LLM_OVERLOADED")) == quota.OVERLOAD
    assert quota.cause(exhausted("QUOTA_EXCEEDED")) == quota.QUOTA
    assert quota.cause(exhausted("x", detail_type="type.googleapis.com/google.rpc.QuotaFailure")) == quota.QUOTA
    assert quota.cause(exhausted("RATE_LIMIT_EXCEEDED")) == quota.RATE_LIMIT  # neither: the back-off
    assert quota.cause(exhausted()) == quota.RATE_LIMIT


# --- the pool -------------------------------------------------------------------------------
@pytest.fixture
def accounts(tmp_path, clock):
    store = SqliteStore(str(tmp_path / "state.db"), clock=clock)
    accounts = Accounts(store, clock=clock)
    for n in (1, 2):
        accounts.upsert(Record(id=f"a{n}@example.com", email=f"a{n}@example.com", secure_c_ses=f"S{n}",
                               csesidx=str(n), config_id=UUID))
    yield accounts
    store.close()


def test_a_spent_image_quota_cools_only_images_until_the_reset(accounts, clock):
    clock.now = la(2026, 12, 5, 10)
    pool = AccountPool(accounts, clock=clock)
    a1 = accounts.get("a1@example.com").account()
    pool.failed(a1, exhausted("QUOTA_EXCEEDED"), "image")
    texts = set()
    for _ in range(4):
        chosen = pool.acquire(kind="text")
        texts.add(chosen.id)
        pool.release(chosen)
    assert texts == {"a1@example.com", "a2@example.com"}  # a1 still serves text
    for _ in range(3):
        chosen = pool.acquire(kind="image")
        assert chosen.id == "a2@example.com"
        pool.release(chosen)
    shown = cooldowns(accounts.state("a1@example.com"), clock.now, ResetClock())
    assert list(shown) == ["image"] and shown["image"]["text"] == "image quota spent until 2026-12-06 00:00 PST"

    pool.failed(accounts.get("a2@example.com").account(), exhausted("QUOTA_EXCEEDED"), "image")
    with pytest.raises(NoUsableAccount) as caught:
        pool.acquire(kind="image")
    assert "serve image requests" in caught.value.message and "image quota spent" in caught.value.message
    assert caught.value.retry_after == 14 * 3600 == pool.retry_after("image")
    assert pool.retry_after("text") == 1
    clock.now = la(2026, 12, 6, 0, 0, 1)
    assert pool.acquire(kind="image")


def test_a_spent_text_quota_cools_every_kind_until_the_reset(accounts, clock):
    clock.now = la(2026, 12, 5, 22)
    pool = AccountPool(accounts, clock=clock)
    pool.failed(accounts.get("a1@example.com").account(), exhausted("QUOTA_EXCEEDED"), "text")
    for kind in quota.KINDS:
        for _ in range(3):
            chosen = pool.acquire(kind=kind)
            assert chosen.id == "a2@example.com"
            pool.release(chosen)
    shown = cooldowns(accounts.state("a1@example.com"), clock.now, ResetClock())
    assert shown["text"]["text"] == "text quota spent until 2026-12-06 00:00 PST"
    assert shown["video"]["text"] == "video blocked: text quota spent until 2026-12-06 00:00 PST"


def test_an_overload_cools_briefly_and_does_not_escalate(accounts, clock):
    pool = AccountPool(accounts, clock=clock, overload_cooldown=20)
    a1 = accounts.get("a1@example.com").account()
    for _ in range(3):
        pool.failed(a1, exhausted("LLM_OVERLOADED"), "text")
        assert accounts.state(a1.id).cooldown_until == clock.now + 20
        assert accounts.state(a1.id).cooldown_level == 0
    pool.failed(a1, errors.RateLimited("no reason given"), "text")  # the doubling back-off
    assert accounts.state(a1.id).cooldown_until == clock.now + 60


def test_a_shorter_cooldown_never_cuts_a_spent_quota_short(accounts, clock):
    clock.now = la(2026, 12, 5, 10)
    pool = AccountPool(accounts, clock=clock)
    a1 = accounts.get("a1@example.com").account()
    pool.failed(a1, exhausted("QUOTA_EXCEEDED"), "image")
    pool.failed(a1, exhausted("LLM_OVERLOADED"), "image")
    assert cooldowns(accounts.state(a1.id), clock.now)["image"]["cause"] == quota.QUOTA
    assert accounts.state(a1.id).kind_cooldowns["image"] == utc(2026, 12, 6, 8)


def test_a_daily_limit_lets_exactly_n_through_then_waits_for_the_reset(accounts, clock):
    clock.now = la(2026, 12, 5, 23)
    pool = AccountPool(accounts, clock=clock, daily_limits={"image": 2})
    served = []
    for _ in range(4):
        chosen = pool.acquire(kind="image")
        served.append(chosen.id)
        pool.release(chosen)
    assert sorted(served) == ["a1@example.com"] * 2 + ["a2@example.com"] * 2
    with pytest.raises(NoUsableAccount) as caught:
        pool.acquire(kind="image")
    assert "image daily limit reached" in caught.value.message and caught.value.retry_after == 3600
    assert "already failed" not in caught.value.message
    assert pool.acquire(kind="text")  # text has no limit
    assert pool.used_today("a1@example.com", "image") == 2
    clock.now = la(2026, 12, 6, 0, 0, 1)
    assert pool.acquire(kind="image")
    assert pool.used_today("a1@example.com", "image") + pool.used_today("a2@example.com", "image") == 1


def test_a_failed_request_gives_its_count_back(accounts, clock):
    pool = AccountPool(accounts, clock=clock, daily_limits={"text": 5})
    chosen = pool.acquire()
    pool.release(chosen)
    pool.failed(chosen, errors.UpstreamTimeout("slow"))
    assert pool.used_today(chosen.id, "text") == 0

