"""/health stays cheap whatever the store holds: 100,000 accounts in Redis, one gevent worker,
a live stream and a burst of unauthenticated /health calls beside it."""
import json
import threading

import redis
import requests

from app.accounts.records import CREDENTIALS, STATE, Accounts, Record
from app.store.redis import RedisStore, index_key, record_key
from tests.integration.conftest import ADMIN_KEY, API_KEY, proxy_env
from tests.servers import Gunicorn
from tests.store.redis_server import start_redis

MANY = 100_000


def write_accounts(url: str, count: int) -> None:
    """Straight into the store, as a bulk import or another host would leave them: emails
    waiting for a sign-in (AUTO_LOGIN is off here, so they stay that way)."""
    client = redis.Redis.from_url(url)
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        record = Record(id=f"bulk{n:06d}@example.com", email=f"bulk{n:06d}@example.com", added_at=1, updated_at=1)
        pipe.set(record_key(CREDENTIALS, record.id), json.dumps(vars(record)))
        pipe.zadd(index_key(CREDENTIALS), {record.id: float("inf")})
        if n % 5000 == 4999:
            pipe.execute()
    pipe.execute()
    client.close()
    store = RedisStore(url)
    Accounts(store).mark_changed()
    store.close()


def record_every_command(client: redis.Redis) -> None:
    """Redis's slow log with a threshold of 0 keeps every command with its keys, from now on."""
    client.config_set("slowlog-log-slower-than", 0)
    client.config_set("slowlog-max-len", 1_000_000)
    client.slowlog_reset()


def account_listings(client: redis.Redis) -> int:
    """How many times the store listed every account: its list script (the only script with
    one key, an index) run on an accounts index. Other namespaces may be listed meanwhile
    (the media sweep lists the kept files every 10 s)."""
    indexes = {index_key(CREDENTIALS).encode(), index_key(STATE).encode()}
    listings = 0
    for entry in client.slowlog_get(1_000_000):
        words = entry["command"].split(b" ")
        if words[0].lower() in (b"eval", b"evalsha") and len(words) > 3 and words[2] == b"1" and words[3] in indexes:
            listings += 1
    return listings


def test_health_never_reads_every_account_and_a_stream_beside_it_ends(simulator, tmp_path_factory):
    url, stop_redis = start_redis(tmp_path_factory.mktemp("many-redis"))
    server = None
    try:
        server = Gunicorn(proxy_env(simulator, tmp_path_factory, STORE_URL=url, API_KEYS=API_KEY), workers=1)
        write_accounts(url, MANY)
        health = requests.get(f"{server.url}/health", timeout=120).json()  # this worker reads them once
        assert health["accounts"]["configured"] == MANY + 1 and health["accounts"]["usable"] == 1

        too_many = requests.post(f"{server.url}/admin/accounts", headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                                 json=[{"id": f"x{n}@example.com"} for n in range(1001)], timeout=30)
        assert too_many.status_code == 413 and too_many.json()["error"]["code"] == "too_many_accounts"

        simulator.control("PATCH", "settings", json={"reply_words": 40, "chunk_delay": 0.05})
        client = redis.Redis.from_url(url)
        record_every_command(client)
        lines, first = [], threading.Event()

        def stream():
            with requests.post(f"{server.url}/v1/chat/completions", stream=True, timeout=60,
                               headers={"Authorization": f"Bearer {API_KEY}"},
                               json={"model": "gpt-4o", "stream": True,
                                     "messages": [{"role": "user", "content": "a long answer"}]}) as response:
                for line in response.iter_lines(decode_unicode=True):
                    if line:
                        lines.append(line)
                        first.set()

        reader = threading.Thread(target=stream, daemon=True)
        reader.start()
        assert first.wait(60), "the stream never started"
        for _ in range(20):
            response = requests.get(f"{server.url}/health", timeout=60)
            assert response.status_code == 200 and response.json()["accounts"]["configured"] == MANY + 1
        reader.join(60)  # a hang guard, not a timing
        assert not reader.is_alive() and lines[-1] == "data: [DONE]"
        assert account_listings(client) == 0
        client.close()
    finally:
        if server is not None:
            server.stop()
        stop_redis()


def test_health_probes_do_not_spend_the_daily_limit(simulator, tmp_path_factory):
    """/health and /health/ready pick an account to check its token; they used to count it
    against DAILY_LIMIT_TEXT like a chat, so an orchestrator probing every few seconds spent an
    account's day (and cooled it) without a single request. Limit 2: after many probes, two
    chats are still served."""
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY, DAILY_LIMIT_TEXT="2"), workers=1)
    try:
        for path in ("/health", "/health/ready") * 5:
            assert requests.get(server.url + path, timeout=10).status_code == 200
        for _ in range(2):
            response = requests.post(server.url + "/v1/chat/completions", timeout=20,
                                     headers={"Authorization": f"Bearer {API_KEY}"},
                                     json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]})
            assert response.status_code == 200, response.text
        assert requests.get(server.url + "/health/ready", timeout=10).status_code == 503  # the day is spent
    finally:
        server.stop()
