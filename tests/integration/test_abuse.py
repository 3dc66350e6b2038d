"""Abuse, against real gunicorn: key guessing is throttled per client address."""
import pytest
import requests

from tests.integration.conftest import ADMIN_KEY, API_KEY, proxy_env
from tests.servers import Gunicorn

LIMIT = 10
BLOCKED = "authentication failures: address blocked"


@pytest.fixture(scope="module")
def guarded(simulator, tmp_path_factory):
    """The default throttle (10 failures a minute), two workers sharing one store."""
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, AUTH_FAILURE_LIMIT=str(LIMIT),
                                LOG_LEVEL="info"), workers=2)
    yield server
    server.stop()


def statuses(session, method, url, count, **kwargs):
    answers = [session.request(method, url, timeout=10, **kwargs) for _ in range(count)]
    return [r.status_code for r in answers], answers


def blocked_lines(server, address):
    return [e for e in server.json_logs() if e.get("message") == BLOCKED and e.get("address") == address]


def test_wrong_admin_keys_get_401_then_429_with_retry_after(guarded):
    with requests.Session() as session:
        codes, answers = statuses(session, "GET", f"{guarded.url}/admin/accounts", 500,
                                  headers={"Authorization": "Bearer wrong-admin-key"})
        assert codes == [401] * LIMIT + [429] * (500 - LIMIT)
        last = answers[-1]
        assert last.json()["error"]["code"] == "too_many_auth_failures"
        assert last.json()["error"]["type"] == "rate_limit_error"
        assert 1 <= int(last.headers["Retry-After"]) <= 60
        # Blocked means blocked: the right key from this address waits too (or guessing goes on).
        right = session.get(f"{guarded.url}/admin/accounts", headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                            timeout=10)
        assert right.status_code == 429
    assert len(blocked_lines(guarded, "127.0.0.1")) == 1, "one warning per address and window, not per failure"


def test_wrong_client_keys_are_counted_per_forwarded_client(guarded):
    """127.0.0.1 is a trusted proxy by default: the address it forwards is the one counted."""
    url = f"{guarded.url}/v1/models"
    with requests.Session() as session:
        codes, answers = statuses(session, "GET", url, 300, headers={
            "Authorization": "Bearer sk-wrong", "X-Forwarded-For": "203.0.113.9"})
        assert codes == [401] * LIMIT + [429] * (300 - LIMIT)
        assert answers[-1].json()["error"]["code"] == "too_many_auth_failures"
        assert int(answers[-1].headers["Retry-After"]) >= 1
        # Another client behind the same proxy is not punished for it.
        other = session.get(url, headers={"Authorization": f"Bearer {API_KEY}", "X-Forwarded-For": "203.0.113.10"},
                            timeout=10)
        assert other.status_code == 200
        # A missing key is a misconfigured client, not a guess: not counted.
        missing = [session.get(url, headers={"X-Forwarded-For": "203.0.113.11"}, timeout=10).status_code
                   for _ in range(LIMIT + 5)]
        assert set(missing) == {401}
    assert len(blocked_lines(guarded, "203.0.113.9")) == 1
    assert not blocked_lines(guarded, "203.0.113.11")
