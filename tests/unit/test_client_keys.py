"""Client keys as objects (app/keys.py): secrets shown once and stored hashed, edits, revocation
reaching a worker within CACHE_SECONDS, expiry, allowed models, the CLI."""
import hashlib
import json

import pytest

from app.keys import CACHE_SECONDS, NAMESPACE, ClientKeys, NotFound, model_allowed
from app.keys.__main__ import main as cli
from app.store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path, clock):
    return SqliteStore(str(tmp_path / "state.db"), clock=clock)


def test_the_secret_is_shown_once_and_stored_only_as_its_hash(store, clock):
    keys = ClientKeys(store, clock=clock, timer=clock)
    made = keys.create({"name": "team", "models": ["gemini-*"]})
    secret = made.pop("key")
    assert secret.startswith("gbp-") and len(secret) == 4 + 43
    assert made["prefix"] == secret[:12] and made["name"] == "team" and made["revoked"] is False
    stored = json.dumps(store.list(NAMESPACE))
    assert secret not in stored and hashlib.sha256(secret.encode()).hexdigest() in stored
    assert keys.list() == [made] and keys.show(made["id"]) == made
    assert "key" not in keys.list()[0] and "hash" not in keys.list()[0]
    assert keys.lookup(secret)["id"] == made["id"]
    assert keys.lookup(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert keys.lookup("sk-not-ours") is None


def test_a_revocation_made_elsewhere_reaches_a_worker_within_the_cache_bound(store, clock):
    admin, worker = ClientKeys(store, clock=clock, timer=clock), ClientKeys(store, clock=clock, timer=clock)
    made = admin.create({})
    assert worker.refusal(worker.lookup(made["key"])) is None
    admin.revoke(made["id"])
    assert admin.refusal(admin.lookup(made["key"])) == "This API key was revoked."  # its own worker: at once
    clock.now += CACHE_SECONDS + 0.01
    assert worker.refusal(worker.lookup(made["key"])) == "This API key was revoked."
    assert admin.show(made["id"])["revoked"] is True  # still listed, revoked


def test_expiry_is_exact_and_edits_apply(store, clock):
    keys = ClientKeys(store, clock=clock, timer=clock)
    made = keys.create({"expires_at": clock.now + 60})
    assert keys.refusal(keys.lookup(made["key"])) is None
    clock.now += 60
    assert keys.refusal(keys.lookup(made["key"])) == "This API key has expired."
    edited = keys.edit(made["id"], {"expires_at": None, "name": "renewed", "models": ["gemini-2.5-pro"]})
    assert edited["expires_at"] is None and edited["name"] == "renewed"
    assert keys.refusal(keys.lookup(made["key"])) is None


@pytest.mark.parametrize("body", [
    {"models": "gemini-2.5-pro"}, {"models": [1]}, {"models": [""]}, {"expires_at": True},
    {"expires_at": -1}, {"expires_at": "tomorrow"}, {"expires_at": 10 ** 400}, {"expires_at": 1e300},
    {"rpm": 10 ** 400}, {"concurrent_streams": 2.5}, {"name": 5}, {"name": "x" * 101}, {"secret": "mine"}, [],
])
def test_bad_fields_are_refused(store, body):
    keys = ClientKeys(store)
    with pytest.raises(ValueError):
        keys.create(body)
    made = keys.create({})
    with pytest.raises(ValueError):
        keys.edit(made["id"], body if body != [] else {})


@pytest.mark.parametrize("value", [0, -5, 10 ** 13, 10 ** 400, "1000", True, 1.5])
def test_a_daily_token_budget_is_a_whole_number_or_null(store, value):
    keys = ClientKeys(store)
    message = r"'daily_tokens' must be a whole number from 1 to 1,000,000,000,000, or null \(no budget\)\."
    with pytest.raises(ValueError, match=message):
        keys.create({"daily_tokens": value})
    made = keys.create({"daily_tokens": 10 ** 12})
    with pytest.raises(ValueError, match=message):
        keys.edit(made["id"], {"daily_tokens": value})
    assert keys.edit(made["id"], {"daily_tokens": None})["daily_tokens"] is None


def test_unknown_ids_are_not_found(store):
    keys = ClientKeys(store)
    for verb in (keys.show, keys.revoke, lambda i: keys.edit(i, {"name": "x"})):
        with pytest.raises(NotFound):
            verb("0123456789abcdef")


def test_allowed_models_match_the_name_sent_or_the_model_it_resolves_to():
    record = {"models": ["gemini-2.5-*", "Fast"]}
    assert model_allowed(record, "gemini-2.5-pro", "gemini-2.5-pro")
    assert model_allowed(record, "fast", "gemini-2.5-flash")
    assert model_allowed(record, "gpt-4o", "gemini-2.5-flash")  # an alias of an allowed model
    assert not model_allowed(record, "gemini-3-pro", "gemini-3-pro")
    assert model_allowed({"models": []}, "anything", "anything")


def test_whether_any_key_exists_is_cached_per_worker(store, clock):
    keys = ClientKeys(store, clock=clock, timer=clock)
    assert keys.exist() is False
    ClientKeys(store).create({})
    assert keys.exist() is False  # this worker's answer, for at most CACHE_SECONDS
    clock.now += CACHE_SECONDS + 0.01
    assert keys.exist() is True


def test_the_cli_creates_lists_and_revokes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STORE_URL", raising=False)
    assert cli(["create", "--name", "ci", "--model", "gemini-2.5-flash", "--expires-in", "3600", "--rpm", "60"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["key"].startswith("gbp-") and made["models"] == ["gemini-2.5-flash"] and made["expires_at"]
    assert made["rpm"] == 60 and made["concurrent_streams"] is None and made["daily_tokens"] is None
    assert cli(["create", "--daily-tokens", "5000"]) == 0
    assert json.loads(capsys.readouterr().out)["daily_tokens"] == 5000
    assert cli(["list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert made["id"] in [k["id"] for k in listed] and "key" not in str(listed)
    assert cli(["revoke", made["id"]]) == 0
    assert json.loads(capsys.readouterr().out)["revoked"] is True
    assert cli(["revoke", "nope"]) == 1


def test_an_open_gateway_asks_for_a_key_once_one_is_made(tmp_path):
    from app import create_app
    from app.config import Config

    app = create_app(Config.from_env({"DATA_DIR": str(tmp_path), "LOG_LEVEL": "error", "ADMIN_KEY": "adm"}))
    client = app.test_client()
    assert client.get("/v1/models").status_code == 200  # open, as in the seed README's demo
    made = client.post("/admin/keys", headers={"Authorization": "Bearer adm"}, json={"name": "first"})
    assert made.status_code == 201
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"Authorization": f"Bearer {made.get_json()['key']}"}).status_code == 200


def test_requests_per_minute_are_counted_in_the_store_for_every_worker(store, clock):
    from app.keys import KeyLimit
    clock.now = 1_800_000_000.0 - 1_800_000_000.0 % 60 + 20  # 20 s into a minute
    one, other = ClientKeys(store, clock=clock, timer=clock), ClientKeys(store, clock=clock, timer=clock)
    record = one.lookup(one.create({"rpm": 3})["key"])
    one.count_request(record)
    other.count_request(record)
    one.count_request(record)
    with pytest.raises(KeyLimit) as refused:
        other.count_request(record)
    assert "limit of 3 requests per minute" in refused.value.message and refused.value.retry_after == 40
    clock.now += 40  # the next minute
    one.count_request(record)


def test_concurrent_streams_take_and_give_back_slots(store, clock):
    from app.keys import KeyLimit
    one, other = ClientKeys(store, clock=clock, timer=clock), ClientKeys(store, clock=clock, timer=clock)
    record = one.lookup(one.create({"concurrent_streams": 2})["key"])
    first, second = one.open_stream(record), other.open_stream(record)
    with pytest.raises(KeyLimit) as refused:
        one.open_stream(record)
    assert "limit of 2 concurrent streams" in refused.value.message
    first()
    first()  # given back once only
    third = other.open_stream(record)
    with pytest.raises(KeyLimit):
        one.open_stream(record)
    second(), third()
    assert one.open_stream(None) is None and one.open_stream({"id": "x"}) is None  # no key, no limit
    with pytest.raises(ValueError):
        one.edit(record["id"], {"rpm": 0})
    with pytest.raises(ValueError):
        one.edit(record["id"], {"concurrent_streams": True})
    assert one.edit(record["id"], {"rpm": None})["rpm"] is None


def test_keys_this_worker_knows_keep_working_while_the_store_does_not_answer(store, clock, monkeypatch):
    from app.store.base import StoreUnavailable
    keys = ClientKeys(store, clock=clock, timer=clock)
    known, unknown = keys.create({"expires_at": clock.now + 60}), keys.create({})
    assert keys.lookup(known["key"]) and keys.exist()
    clock.now += CACHE_SECONDS + 0.01

    def down(*args, **kwargs):
        raise StoreUnavailable("down")
    monkeypatch.setattr(store, "get", down)
    monkeypatch.setattr(store, "list", down)
    assert keys.exist() is True  # what the store said last
    assert keys.refusal(keys.lookup(known["key"])) is None
    with pytest.raises(StoreUnavailable):  # never seen here: a 503, not a guess
        keys.lookup(unknown["key"])
    clock.now += 60
    assert keys.refusal(keys.lookup(known["key"])) == "This API key has expired."
    with pytest.raises(StoreUnavailable):
        ClientKeys(store).exist()


def test_a_daily_token_budget_is_edited_shown_and_refused_past_until_the_next_utc_midnight(store, clock):
    from app.keys import TOKENS, KeyLimit
    clock.now = 1_800_000_000.0 - 1_800_000_000.0 % 86400 + 86400 - 90  # 23:58:30 UTC
    one, other = ClientKeys(store, clock=clock, timer=clock), ClientKeys(store, clock=clock, timer=clock)
    made = one.create({"name": "budgeted"})
    assert made["daily_tokens"] is None
    assert one.edit(made["id"], {"daily_tokens": 100})["daily_tokens"] == 100
    assert one.show(made["id"])["daily_tokens"] == 100
    record = one.lookup(made["key"])
    one.check_budget(record)
    one.spend(record["id"], 60, clock.now)
    other.check_budget(record)  # 60 of 100: the next request may start (and may overspend)
    other.spend(record["id"], 60, clock.now)
    for keys in (one, other):  # counted in the store: every worker sees it
        with pytest.raises(KeyLimit) as refused:
            keys.check_budget(record)
    assert refused.value.retry_after == 90
    assert refused.value.message == ("This API key's daily budget of 100 tokens is spent; it renews at 00:00 UTC, "
                                     "in 90 s.")
    clock.now += 89.5  # 23:59:59.5: still that day, half a second left, told 1 s
    with pytest.raises(KeyLimit) as refused:
        one.check_budget(record)
    assert refused.value.retry_after == 1
    clock.now += 0.5  # 00:00:00 UTC: a new day, a new budget
    one.check_budget(record)
    one.spend(record["id"], 100, clock.now)
    with pytest.raises(KeyLimit):
        one.check_budget(record)
    assert len(store.list(TOKENS)) == 2  # one counter per day; each expires 2 days after its day
    ClientKeys(store, clock=clock).check_budget({"id": record["id"], "daily_tokens": None})  # no budget: no check


def test_the_cli_shows_and_edits_with_the_apis_checks(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STORE_URL", raising=False)
    assert cli(["create", "--name", "ci", "--model", "gemini-2.5-flash", "--rpm", "60", "--expires-in", "60"]) == 0
    made = json.loads(capsys.readouterr().out)
    made.pop("key")
    assert cli(["show", made["id"]]) == 0
    assert json.loads(capsys.readouterr().out) == made
    assert cli(["edit", made["id"], "--name", "ci-2", "--model", "gemini-2.5-*", "--model", "fast",
                "--no-rpm", "--concurrent-streams", "2", "--daily-tokens", "9000", "--never-expires"]) == 0
    edited = json.loads(capsys.readouterr().out)
    assert {k: edited[k] for k in ("name", "models", "rpm", "concurrent_streams", "daily_tokens", "expires_at")} == {
        "name": "ci-2", "models": ["gemini-2.5-*", "fast"], "rpm": None, "concurrent_streams": 2,
        "daily_tokens": 9000, "expires_at": None}
    assert cli(["edit", made["id"], "--all-models", "--rpm", "5", "--expires-in", "3600"]) == 0
    edited = json.loads(capsys.readouterr().out)  # what was not given stays as it was
    assert edited["models"] == [] and edited["rpm"] == 5 and edited["name"] == "ci-2"
    assert edited["concurrent_streams"] == 2 and 3500 < edited["expires_at"] - made["created_at"] < 3700
    assert cli(["edit", made["id"], "--no-concurrent-streams", "--no-daily-tokens"]) == 0
    assert json.loads(capsys.readouterr().out)["concurrent_streams"] is None
    # refused with the admin API's own message; nothing changes
    assert cli(["edit", made["id"], "--rpm", "0"]) == 1
    assert capsys.readouterr().err.strip() == "'rpm' must be a whole number from 1 to 1,000,000, or null (no limit)."
    assert cli(["edit", made["id"], "--daily-tokens", str(10 ** 13)]) == 1
    assert "'daily_tokens' must be a whole number" in capsys.readouterr().err
    assert cli(["show", made["id"]]) == 0
    assert json.loads(capsys.readouterr().out)["rpm"] == 5
    for argv in (["edit", made["id"]], ["edit", made["id"], "--rpm", "3", "--no-rpm"], ["edit", made["id"], "--rpm", "x"]):
        with pytest.raises(SystemExit) as usage:
            cli(argv)
        assert usage.value.code == 2
    assert "nothing to change" in capsys.readouterr().err
    assert cli(["edit", "0123456789abcdef", "--name", "x"]) == 1
    assert cli(["show", "0123456789abcdef"]) == 1
    assert capsys.readouterr().err == "no client key 0123456789abcdef\n" * 2
