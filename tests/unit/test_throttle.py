"""The failed-authentication throttle and the client address it counts by."""
import logging

import pytest

from app.client_address import ClientAddress
from app.errors import ApiError
from app.store.base import StoreUnavailable
from app.store.sqlite import SqliteStore
from app.throttle import AuthThrottle


@pytest.fixture
def throttle(tmp_path, clock):
    store = SqliteStore(str(tmp_path / "state.db"), clock=clock)
    return AuthThrottle(store, ClientAddress(("127.0.0.1",)), limit=3, window=60, clock=clock)


def env(addr, forwarded=None):
    environ = {"REMOTE_ADDR": addr}
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    return environ


def guess(throttle, environ):
    """One wrong key: the status the client gets (401, or 429 from the throttle)."""
    try:
        throttle.failed(throttle.before(environ))
    except ApiError as exc:
        return exc.status, exc.headers.get("Retry-After"), exc.code
    return 401, None, None


def test_limit_wrong_keys_then_429_with_retry_after_until_the_window_ends(throttle, clock):
    assert [guess(throttle, env("203.0.113.5"))[0] for _ in range(3)] == [401, 401, 401]
    clock.now += 10
    assert guess(throttle, env("203.0.113.5")) == (429, "50", "too_many_auth_failures")
    assert guess(throttle, env("203.0.113.6"))[0] == 401  # another address has its own count
    clock.now += 50
    assert guess(throttle, env("203.0.113.5"))[0] == 401  # a new window


def test_blocked_address_gets_429_before_its_key_is_looked_at(throttle):
    for _ in range(3):
        guess(throttle, env("203.0.113.5"))
    with pytest.raises(ApiError) as caught:
        throttle.before(env("203.0.113.5"))
    assert caught.value.status == 429


def test_failures_racing_past_the_check_are_429_not_more_tries(throttle):
    """Workers that all passed before() while the count was low: only `limit` of them get 401."""
    addresses = [throttle.before(env("203.0.113.5")) for _ in range(5)]
    statuses = []
    for address in addresses:
        try:
            throttle.failed(address)
            statuses.append(401)
        except ApiError as exc:
            statuses.append(exc.status)
    assert statuses == [401, 401, 401, 429, 429]


def test_one_warning_per_address_and_window(throttle, clock, caplog):
    caplog.set_level(logging.WARNING, "gbp.throttle")
    for _ in range(10):
        guess(throttle, env("203.0.113.5"))
    lines = [r for r in caplog.records if r.name == "gbp.throttle"]
    assert len(lines) == 1 and lines[0].address == "203.0.113.5" and lines[0].failures == 3
    clock.now += 61
    for _ in range(10):
        guess(throttle, env("203.0.113.5"))
    assert len([r for r in caplog.records if r.name == "gbp.throttle"]) == 2


def test_zero_limit_turns_it_off(tmp_path, clock):
    store = SqliteStore(str(tmp_path / "state.db"), clock=clock)
    off = AuthThrottle(store, ClientAddress(("127.0.0.1",)), limit=0, window=60, clock=clock)
    assert {guess(off, env("203.0.113.5"))[0] for _ in range(20)} == {401}
    assert store.list("auth_failures") == {}


class DownStore:
    def get(self, *args, **kwargs):
        raise StoreUnavailable("redis at x:6379: connection refused")

    update = get


def test_store_down_fails_open_and_says_so_once(clock, caplog):
    caplog.set_level(logging.WARNING, "gbp.throttle")
    down = AuthThrottle(DownStore(), ClientAddress(("127.0.0.1",)), limit=1, window=60, clock=clock)
    assert {guess(down, env("203.0.113.5"))[0] for _ in range(5)} == {401}
    lines = [r.getMessage() for r in caplog.records if r.name == "gbp.throttle"]
    assert len(lines) == 1 and "store is unavailable" in lines[0]


@pytest.mark.parametrize("trusted, environ, expected", [
    (("127.0.0.1",), env("198.51.100.7"), "198.51.100.7"),
    # An untrusted peer cannot choose its address by sending X-Forwarded-For.
    (("127.0.0.1",), env("198.51.100.7", "1.2.3.4"), "198.51.100.7"),
    # A trusted proxy: the entry it appended (the last), not what the client wrote before it.
    (("127.0.0.1",), env("127.0.0.1", "1.2.3.4, 198.51.100.7"), "198.51.100.7"),
    # Chained trusted proxies are skipped from the right.
    (("127.0.0.1", "10.0.0.0/8"), env("127.0.0.1", "1.2.3.4, 198.51.100.7, 10.1.2.3"), "198.51.100.7"),
    (("*",), env("172.18.0.3", "1.2.3.4, 198.51.100.7"), "198.51.100.7"),
    (("127.0.0.1",), env("127.0.0.1"), "127.0.0.1"),
    (("127.0.0.1",), env("127.0.0.1", "not-an-address"), "127.0.0.1"),
    # IPv6 counts per /64; IPv4-mapped IPv6 is the IPv4 address.
    (("127.0.0.1",), env("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64"),
    (("127.0.0.1",), env("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64"),
    (("127.0.0.1",), env("::ffff:198.51.100.7"), "198.51.100.7"),
    (("::1",), env("::1", "[2001:db8::5]"), "2001:db8::/64"),
])
def test_client_address(trusted, environ, expected):
    assert ClientAddress(trusted).of(environ) == expected
