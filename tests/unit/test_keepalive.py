"""The keep-alive: an idle account's getoxsrf once per interval across workers; a used one left
alone; dead cookies found this way ask for a sign-in."""
from app.accounts.keepalive import KeepAlive
from app.accounts.records import Accounts, Record
from app.accounts.snapshot import Snapshot
from app.store.sqlite import SqliteStore
from app.upstream import errors


class Clock:
    now = 1_000_000.0

    def __call__(self):
        return self.now


def rig(tmp_path, refresh):
    clock = Clock()
    store = SqliteStore(str(tmp_path / "state.db"), clock=clock)
    accounts = Accounts(store, clock=clock)
    for n in range(2):
        accounts.save(Record(id=f"a{n}", secure_c_ses=f"c{n}", csesidx=str(n), config_id="cfg"))
    needs = []
    workers = [KeepAlive(accounts, Snapshot(accounts), refresh, 600, clock=clock, on_needs_login=needs.append)
               for _ in range(2)]
    for worker in workers:
        worker.snapshot.current()
    return clock, accounts, workers, needs


def test_each_idle_account_is_kept_alive_once_per_interval_by_one_worker(tmp_path):
    asked = []
    clock, accounts, workers, _ = rig(tmp_path, lambda account: asked.append(account.id) or account)
    assert [w.due(clock.now) for w in workers] == [[], []]  # the first at a random point of the first interval
    clock.now += 600
    for worker in workers:
        worker._run(worker.due(clock.now))
    assert sorted(asked) == ["a0", "a1"]
    clock.now += 300
    assert [w.due(clock.now) for w in workers] == [[], []]
    clock.now += 301
    accounts.change_state("a1", last_used_at=clock.now - 10)  # used: its requests asked getoxsrf
    for worker in workers:
        worker._run(worker.due(clock.now))
    assert sorted(asked) == ["a0", "a0", "a1"]


def test_dead_cookies_met_by_the_keep_alive_ask_for_a_sign_in(tmp_path):
    def refresh(account):
        raise errors.CookieExpired("the account's sign-in has expired", status=401, reason="EXPIRED_SIGN_IN")

    clock, accounts, workers, needs = rig(tmp_path, refresh)
    assert workers[0].keep("a0")
    assert accounts.state("a0").needs_login and needs == ["a0"]
    assert not workers[1].keep("a0")  # done this interval


def test_a_dead_proxy_met_by_the_keep_alive_is_shown_on_the_idle_account(tmp_path):
    """The keep-alive is the health check of idle accounts' proxies: the failure goes where a
    request's would (AccountPool.failed: last error, cooldown cause "proxy"), never a sign-in."""
    from app.accounts.pool import AccountPool

    def refresh(account):
        raise errors.ProxyUnreachable("proxy unreachable: http://127.0.0.1:9 (connection refused) during getoxsrf",
                                      reason="proxy")

    clock, accounts, workers, needs = rig(tmp_path, refresh)
    workers[0].on_failure = AccountPool(accounts, clock=clock).failed
    assert workers[0].keep("a0")
    state = accounts.state("a0")
    assert state.last_error.startswith("proxy unreachable: http://127.0.0.1:9 (connection refused)")
    assert state.cooldown_until > clock.now and state.cooldown_causes == {"text": "proxy"}
    assert not state.needs_login and needs == []
