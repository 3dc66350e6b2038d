"""/health and choosing an account cost a few small store reads, never a read of every account,
and still see what another worker changed at once."""
from collections import Counter

import pytest

from app import create_app
from app.accounts.pool import AccountPool
from app.accounts.records import CREDENTIALS, Accounts, Record
from app.config import Config
from app.upstream import errors

UUID = "d06739ca-6683-46db-bb51-07395a392439"
ADMIN = "admin-key-for-snapshot-tests"
MANY = 300


class Counting:
    """The store, counting each call by method name."""

    def __init__(self, store):
        self.store = store
        self.calls = Counter()

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return attr(*args, **kwargs)
        return counted


class Tokens:
    def bearer(self, account):
        return "token"


class Upstream:
    tokens = Tokens()


def record(n: int, **kwargs) -> Record:
    return Record(id=f"bulk{n}@example.com", email=f"bulk{n}@example.com", secure_c_ses=f"S{n}", csesidx=str(n),
                  config_id=UUID, **kwargs)


@pytest.fixture
def app(tmp_path):
    config = Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", "ADMIN_KEY": ADMIN,
                              "GEMINI_BUSINESS_SECURE_C_SES": "c", "GEMINI_BUSINESS_CSESIDX": "1",
                              "GEMINI_BUSINESS_CONFIG_ID": UUID})
    return create_app(config, upstream=Upstream())


def test_health_reads_no_account_list_however_many_there_are(app):
    accounts = app.extensions["gbp"].pool.accounts
    for n in range(2, MANY + 2):  # straight into the store, as another host or a bulk import would
        accounts.store.put(CREDENTIALS, f"bulk{n}@example.com", vars(record(n, disabled=True)))
    accounts.mark_changed()
    store = accounts.store
    accounts.store = counting = Counting(store)
    client = app.test_client()
    assert client.get("/health").get_json()["accounts"]["configured"] == MANY + 1

    counting.calls.clear()
    for _ in range(10):
        body = client.get("/health").get_json()
        assert body["status"] == "ok" and body["accounts"]["usable"] == 1
    assert counting.calls["list"] == 0, counting.calls
    # a call reads the accounts' version three times: the store's probe, the counts, the token check
    assert counting.calls["get"] <= 10 * 3, counting.calls

    # Another worker disables the only usable account: the very next call sees it, by reading
    # that account again (its credentials and its state), and no other.
    other_worker = Accounts(store)
    other_worker.change("csesidx:1", disabled=True)  # the environment's account
    counting.calls.clear()
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.get_json()["accounts"]["usable"] == 0
    # the version for each look (probe, counts, token check, Retry-After) + that account's two records
    assert counting.calls["list"] == 0 and counting.calls["get"] <= 4 + 2, counting.calls


def test_choosing_an_account_reads_them_only_after_a_change_that_matters(tmp_path):
    from app.store.sqlite import SqliteStore

    store = SqliteStore(str(tmp_path / "state.db"))
    setup = Accounts(store)
    for n in (1, 2, 3):
        setup.upsert(record(n))
    counting = Counting(store)
    worker_a, worker_b = AccountPool(Accounts(counting)), AccountPool(Accounts(store))
    worker_a.release(worker_a.acquire())
    counting.calls.clear()
    for _ in range(20):
        worker_a.release(worker_a.acquire())
    assert counting.calls["list"] == 0 and counting.calls["get"] == 20, counting.calls

    chosen = worker_b.acquire()
    worker_b.succeeded(chosen)  # counters only: no other worker needs to read anything again
    worker_a.release(worker_a.acquire())
    assert counting.calls["list"] == 0, counting.calls

    worker_b.failed(chosen, errors.RateLimited("quota"))  # a cooldown: every worker sees it at once
    assert all(worker_a.acquire().id != chosen.id for _ in range(6))
    assert counting.calls["list"] == 0, counting.calls  # by reading that one account again

    more = 70  # more changes than the version record remembers: the copy is read whole, and right
    for n in range(10, 10 + more):
        worker_b.accounts.upsert(record(n))
    worker_b.accounts.delete("bulk2@example.com")
    ids = {account.id for account in (worker_a.acquire() for _ in range(more + 2))}
    assert counting.calls["list"] == 2, counting.calls
    assert chosen.id not in ids and "bulk2@example.com" not in ids and len(ids) == more


def test_a_copy_follows_every_kind_of_change_made_elsewhere(tmp_path):
    from app.store.sqlite import SqliteStore

    store = SqliteStore(str(tmp_path / "state.db"))
    here, there = Accounts(store), Accounts(store)
    for n in (1, 2):
        there.upsert(record(n))
    copy = AccountPool(here).snapshot

    def seen():
        return {r.id: (r.secure_c_ses, r.disabled, s.needs_login, s.cooldown_until) for r, s in copy.current()}

    assert seen() == {"bulk1@example.com": ("S1", False, False, 0), "bulk2@example.com": ("S2", False, False, 0)}
    there.upsert(record(3))
    there.change("bulk1@example.com", secure_c_ses="renewed", disabled=True)
    there.change_state("bulk2@example.com", needs_login=True, cooldown_until=5.0)
    there.delete("bulk3@example.com")
    there.upsert(record(4))
    assert seen() == {"bulk1@example.com": ("renewed", True, False, 0), "bulk2@example.com": ("S2", False, True, 5.0),
                      "bulk4@example.com": ("S4", False, False, 0)}
    store.close()


def test_one_admin_import_is_bounded(app):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {ADMIN}"}
    batch = [{"id": f"import{n}@example.com"} for n in range(1001)]
    response = client.post("/admin/accounts", json=batch, headers=headers)
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "too_many_accounts" and "1000" in error["message"]
    assert set(error) == {"message", "type", "param", "code"}
    response = client.post("/admin/accounts", json=batch[:1000], headers=headers)
    assert response.status_code == 201 and len(response.get_json()["added"]) == 1000


class Untouchable(list):
    """A list of every account that fails if anything goes through all of it."""

    def __iter__(self):
        raise AssertionError("went through every account")


def test_health_and_a_choice_never_go_through_every_account(app):
    client = app.test_client()
    client.get("/health")
    pool = app.extensions["gbp"].pool
    view = pool.snapshot.current()
    view.items = Untouchable(view.items)
    body = client.get("/health").get_json()
    assert body["status"] == "ok" and body["accounts"]["usable"] == 1
    pool.release(pool.acquire())
    assert client.get("/health/ready").status_code == 200

    pool.accounts.change("csesidx:1", disabled=True)  # none usable: saying why costs no more
    view = pool.snapshot.current()
    view.items = Untouchable(view.items)
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.headers["Retry-After"] == "30"
    assert "1 disabled" in ready.get_json()["upstream"]
    with pytest.raises(errors.AccountUnavailable, match="1 disabled"):
        pool.acquire()


def test_what_a_view_works_out_agrees_with_each_accounts_status():
    import random

    from app.accounts.quota import KINDS
    from app.accounts.records import ACTIVE, COOLING, State, cooldown_end, status
    from app.accounts.snapshot import View

    rng = random.Random(7)
    for _ in range(300):
        items = []
        for n in range(rng.randrange(0, 30)):
            record = Record(id=f"a{n}", secure_c_ses=rng.choice(["", "S"]), csesidx="1", config_id=UUID,
                            disabled=rng.random() < 0.2, disabled_by=rng.choice(["", "upstream"]))
            media = {kind: rng.choice([0, 90, 105, 120]) for kind in ("image", "video") if rng.random() < 0.4}
            state = State(cooldown_until=rng.choice([0, 90, 100, 110, 120]), needs_login=rng.random() < 0.2,
                          login={"status": rng.choice(["waiting_for_code", "running", None])}, kind_cooldowns=media)
            items.append((record, state))
        view, now = View(items), rng.choice([0, 95, 100, 115, 200])
        for kind in KINDS:  # a media kind also cools on its own (quota.py)
            statuses = [status(r, s, now, kind) for r, s in items]
            assert view.usable(now, kind) == statuses.count(ACTIVE)
            cooling = [cooldown_end(s, kind) for (r, s), st in zip(items, statuses) if st == COOLING]
            assert view.next_cooldown_end(now, kind=kind) == (min(cooling) if cooling else None)
        assert view.needs_login == sum(not r.disabled and (not r.has_cookies or s.needs_login) for r, s in items)
        assert view.waiting_for_code == sum(not r.disabled and s.login["status"] == "waiting_for_code"
                                            for r, s in items)
        assert view.banned == sum(r.disabled and r.disabled_by == "upstream" for r, s in items)


def reference_why_none(pool, everything, exclude, now):
    """What the pool said before it kept counts: every account looked at, one by one."""
    import math

    from app.accounts.records import ACTIVE, COOLING, DISABLED, NEEDS_LOGIN, status

    if not everything:
        return "no Gemini Business account is configured", 60
    states = [(status(r, s, now), s, r) for r, s in everything if r.id not in exclude]
    cooling = [s.cooldown_until - now for st, s, _ in states if st == COOLING]
    waiting = [r for st, _, r in states if st == NEEDS_LOGIN]
    if any(st == ACTIVE for st, _, _ in states):
        return "all usable accounts are busy", 1
    parts = []
    if cooling:
        parts.append(f"{len(cooling)} rate limited (the first is usable again in {math.ceil(min(cooling))} s)")
    stuck = [why for why in map(pool._needs_person, waiting) if why]
    if len(waiting) > len(stuck):
        parts.append(f"{len(waiting) - len(stuck)} waiting for sign-in")
    if stuck:
        parts.append(f"{len(stuck)} need{'s' * (len(stuck) == 1)} a sign-in ({'; '.join(sorted(set(stuck)))})")
    disabled = sum(st == DISABLED for st, _, _ in states)
    banned = sum(st == DISABLED and r.disabled_by == "upstream" for st, _, r in states)
    if disabled:
        parts.append(f"{disabled} disabled" + (f" ({banned} refused by the upstream)" if banned else ""))
    if len(states) < len(everything):
        parts.append(f"{len(everything) - len(states)} already failed for this request")
    retry = math.ceil(min(cooling)) if cooling else 30
    return f"no Gemini Business account can serve now: {', '.join(parts)}", max(1, retry)


def test_why_no_account_can_serve_is_told_from_counts_as_it_was_from_every_account():
    import random

    from app.accounts.records import State
    from app.accounts.snapshot import View

    rng = random.Random(11)
    for _ in range(1000):
        items = []
        for n in range(rng.randrange(0, 10)):
            record = Record(id=f"a{n}" + rng.choice(["", "@example.com"]), email=rng.choice(["", "e@example.com"]),
                            secure_c_ses=rng.choice(["", "S"]), csesidx="1", config_id=UUID,
                            disabled=rng.random() < 0.2, disabled_by=rng.choice(["", "operator", "upstream"]))
            items.append((record, State(cooldown_until=rng.choice([0, 100, 100.5, 101.5, 110, 130, 130]),
                                        needs_login=rng.random() < 0.3)))
        view, now = View(items), 100.0
        exclude = {r.id for r, _ in items if rng.random() < 0.3} | {"gone@example.com"}
        pool = AccountPool(Accounts(None), auto_login=rng.random() < 0.5)
        told = pool._why_none(view, exclude, now)
        message, retry = reference_why_none(pool, items, exclude, now)
        assert str(told).startswith(message) and told.retry_after == retry, (items, exclude)
