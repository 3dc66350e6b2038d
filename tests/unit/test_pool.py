"""The account pool: choice, cooldowns, sign-in needs; state shared through the store."""
import pytest

from app.accounts.pool import AccountGone, AccountPool, NoUsableAccount
from app.accounts.records import Accounts, Record
from app.store.sqlite import SqliteStore
from app.upstream import errors

UUID = "d06739ca-6683-46db-bb51-07395a392439"


@pytest.fixture
def accounts(tmp_path, clock):
    store = SqliteStore(str(tmp_path / "state.db"), clock=clock)
    accounts = Accounts(store, clock=clock)
    for n in (1, 2, 3):
        accounts.upsert(Record(id=f"a{n}@example.com", email=f"a{n}@example.com", secure_c_ses=f"S{n}",
                               csesidx=str(n), config_id=UUID))
    yield accounts
    store.close()


def pool_of(accounts, clock, **kwargs):
    return AccountPool(accounts, clock=clock, **kwargs)


def test_round_robin_among_the_least_busy(accounts, clock):
    pool = pool_of(accounts, clock)
    first = [pool.acquire().id for _ in range(3)]
    assert sorted(first) == ["a1@example.com", "a2@example.com", "a3@example.com"]  # one each while busy
    for account_id in first:
        pool.release(accounts.get(account_id).account())
    picks = []
    for _ in range(6):
        account = pool.acquire()
        picks.append(account.id)
        pool.release(account)
    assert set(picks) == {"a1@example.com", "a2@example.com", "a3@example.com"}


def test_concurrency_cap(accounts, clock):
    pool = pool_of(accounts, clock, max_concurrency=1)
    held = [pool.acquire() for _ in range(3)]
    with pytest.raises(NoUsableAccount, match="busy"):
        pool.acquire()
    pool.release(held[0])
    assert pool.acquire().id == held[0].id


def test_rate_limit_cools_down_with_escalation_and_success_resets(accounts, clock):
    pool = pool_of(accounts, clock, cooldown_base=60, cooldown_max=200)
    account = accounts.get("a1@example.com").account()
    pool.failed(account, errors.RateLimited("quota"))
    assert accounts.state(account.id).cooldown_until == clock.now + 60
    for _ in range(5):
        assert all(pool.acquire(exclude=set()).id != account.id for _ in range(1))
    clock.now += 61
    pool.failed(account, errors.RateLimited("quota"))
    assert accounts.state(account.id).cooldown_until == clock.now + 120
    clock.now += 121
    pool.failed(account, errors.RateLimited("quota"))
    assert accounts.state(account.id).cooldown_until == clock.now + 200  # capped at cooldown_max
    clock.now += 201
    pool.succeeded(account)
    pool.failed(account, errors.RateLimited("quota"))
    assert accounts.state(account.id).cooldown_until == clock.now + 60  # back to the base after a success


def test_retry_hint_is_honoured(accounts, clock):
    pool = pool_of(accounts, clock)
    account = accounts.get("a2@example.com").account()
    pool.failed(account, errors.RateLimited("quota", retry_after=17))
    assert accounts.state(account.id).cooldown_until == clock.now + 17


def test_all_cooling_gives_a_clear_error_with_retry_after(accounts, clock):
    pool = pool_of(accounts, clock)
    for n, seconds in ((1, 30), (2, 90), (3, 45)):
        pool.failed(accounts.get(f"a{n}@example.com").account(), errors.RateLimited("q", retry_after=seconds))
    with pytest.raises(NoUsableAccount) as caught:
        pool.acquire()
    assert caught.value.retry_after == 30 and "3 rate limited" in caught.value.message
    clock.now += 31
    assert pool.acquire().id == "a1@example.com"


def test_dead_cookies_need_a_login_and_call_back(accounts, clock):
    asked = []
    pool = pool_of(accounts, clock, on_needs_login=asked.append)
    account = accounts.get("a3@example.com").account()
    pool.failed(account, errors.CookieExpired("expired", status=401))
    assert asked == ["a3@example.com"]
    assert accounts.state(account.id).needs_login
    assert {pool.acquire().id for _ in range(4)} <= {"a1@example.com", "a2@example.com"}
    assert pool.usable_count() == (2, 3)


def test_other_failures_count_but_do_not_cool_down(accounts, clock):
    pool = pool_of(accounts, clock)
    account = accounts.get("a1@example.com").account()
    pool.failed(account, errors.UpstreamFailed("boom", status=500))
    state = accounts.state(account.id)
    assert (state.errors, state.requests, state.cooldown_until) == (1, 1, 0)
    assert "boom" in state.last_error


def test_a_model_the_upstream_refuses_is_not_held_against_the_account(accounts, clock):
    pool = pool_of(accounts, clock)
    account = accounts.get("a1@example.com").account()
    cause = errors.SessionGone("Model gemini-9 not found.", status=404, reason="NOT_FOUND")
    pool.failed(account, errors.ModelRejected("gemini-9", cause))
    state = accounts.state(account.id)
    assert (state.errors, state.cooldown_until, state.last_error) == (0, 0, "")
    assert pool.usable_count() == (3, 3)


def test_pinned_accounts_never_switch(accounts, clock):
    pool = pool_of(accounts, clock)
    assert pool.pinned("a1@example.com").id == "a1@example.com"
    pool.failed(accounts.get("a1@example.com").account(), errors.RateLimited("q", retry_after=40))
    with pytest.raises(errors.RateLimited) as caught:
        pool.pinned("a1@example.com")
    assert caught.value.retry_after == 40
    accounts.change("a2@example.com", disabled=True)
    with pytest.raises(AccountGone, match="disabled"):
        pool.pinned("a2@example.com")
    accounts.delete("a3@example.com")
    with pytest.raises(AccountGone, match="removed"):
        pool.pinned("a3@example.com")


def test_no_accounts_at_all(tmp_path, clock):
    store = SqliteStore(str(tmp_path / "empty.db"), clock=clock)
    with pytest.raises(errors.AccountUnavailable, match="no Gemini Business account is configured"):
        AccountPool(Accounts(store, clock=clock), clock=clock).acquire()


def test_state_is_shared_by_every_pool_on_the_store(accounts, clock):
    """Two workers are two pools over one store: a cooldown set by one binds the other."""
    worker_a, worker_b = pool_of(accounts, clock), pool_of(Accounts(accounts.store, clock=clock), clock)
    for n in (1, 2):
        worker_a.failed(accounts.get(f"a{n}@example.com").account(), errors.RateLimited("q"))
    assert {worker_b.acquire().id for _ in range(3)} == {"a3@example.com"}


def test_retry_after_is_when_the_first_account_can_serve_again(accounts, clock):
    pool = pool_of(accounts, clock, cooldown_base=60)
    assert pool.retry_after() == 1  # one can serve now
    for n, seconds in ((1, 300), (2, 45), (3, 120)):
        pool.failed(accounts.get(f"a{n}@example.com").account(), errors.RateLimited("quota", retry_after=seconds))
    assert pool.retry_after() == 45
    clock.now += 44.5
    assert pool.retry_after() == 1
    pool.failed(accounts.get("a2@example.com").account(), errors.CookieExpired("dead"))
    clock.now += 1
    assert pool.retry_after() == 75  # a2 waits for a sign-in; a3's cooldown ends at 120 s, 45.5 s went by
    for account_id in ("a1@example.com", "a3@example.com"):
        pool.failed(accounts.get(account_id).account(), errors.CookieExpired("dead"))
    assert pool.retry_after() == 30  # everything waits for a sign-in


def test_waiting_for_sign_in_only_when_a_sign_in_will_come(accounts, clock):
    """AUTO_LOGIN off, or an account without an email: nobody may be told to wait for a sign-in."""
    accounts.delete("a1@example.com")  # an account known by cookies alone: it cannot sign in by itself
    accounts.upsert(Record(id="csesidx:1", secure_c_ses="S1", csesidx="1", config_id=UUID))
    for account_id in ("csesidx:1", "a2@example.com", "a3@example.com"):
        accounts.change_state(account_id, needs_login=True, needs_login_reason="cookies refused")

    with pytest.raises(NoUsableAccount) as caught:
        pool_of(accounts, clock).acquire()
    assert "2 waiting for sign-in" in str(caught.value)
    assert "1 needs a sign-in (no email to sign in with" in str(caught.value)

    manual = pool_of(accounts, clock, auto_login=False)
    with pytest.raises(NoUsableAccount) as caught:
        manual.acquire()
    assert "waiting" not in str(caught.value)
    assert "3 need a sign-in (AUTO_LOGIN is off: sign in from /admin/" in str(caught.value)
    with pytest.raises(errors.AccountUnavailable) as caught:
        manual.pinned("a2@example.com")
    assert "waiting" not in str(caught.value) and "AUTO_LOGIN is off" in str(caught.value)
    with pytest.raises(errors.AccountUnavailable, match="waiting for sign-in"):
        pool_of(accounts, clock).pinned("a2@example.com")


def test_a_refused_account_is_disabled_once_with_its_reason_and_never_chosen(accounts, clock, caplog):
    pool = pool_of(accounts, clock)
    account = accounts.get("a1@example.com").account()
    refusal = errors.AccountRefused("upstream refused access (403) twice", status=403, reason="PERMISSION_DENIED")
    with caplog.at_level("WARNING", logger="gbp.accounts.pool"):
        pool.failed(account, refusal)
        pool.failed(account, refusal)  # another request (or worker) met it too: still one warning
    record = accounts.get("a1@example.com")
    assert record.disabled and record.disabled_by == "upstream"
    assert record.disabled_reason.startswith("upstream refused access (403) twice")
    assert len(caplog.records) == 1 and "refuses it" in caplog.records[0].getMessage()
    assert {pool.acquire().id for _ in range(6)} == {"a2@example.com", "a3@example.com"}
    assert pool.snapshot.current().banned == 1


def test_a_single_forbidden_changes_nothing_but_the_counters(accounts, clock):
    pool = pool_of(accounts, clock)
    pool.failed(accounts.get("a1@example.com").account(), errors.Forbidden("no", status=403))
    assert not accounts.get("a1@example.com").disabled
