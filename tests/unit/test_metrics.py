"""Metrics in one process (create_app, no gunicorn: this process's own registry): label values
stay bounded whatever a client sends, the exposition parses, and who may read it."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app, metrics
from app.config import Config

KEY = "metrics-unit-key-0123456789"
HOSTILE = 'evil"} 1\n# TYPE x counter\ngbp_requests_total{model="pwned'


def build(tmp_path, **settings):
    return create_app(Config.from_env({"DATA_DIR": str(tmp_path), "API_KEYS": "sk-unit", **settings}))


def call(client, method, path, **kwargs):
    response = client.open(path, method=method, **kwargs)
    response.close()  # the server's close: where the request is counted (app/observe.py)
    return response


def samples(text: str) -> list:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


@pytest.mark.parametrize("value", [HOSTILE, "gpt-4o", "GEMINI-BUSINESS", "", "x" * 10_000])
def test_a_value_outside_the_allowed_set_is_other(value):
    assert metrics.bounded(value, frozenset({"gemini-business", "gemini-2.5-pro"})) == "other"


def test_a_known_value_is_itself_and_none_is_none():
    assert metrics.bounded("gemini-2.5-pro", frozenset({"gemini-2.5-pro"})) == "gemini-2.5-pro"
    assert metrics.bounded(None, frozenset()) == "none"
    assert [metrics.status_label(s) for s in (200, 499, "2000", "abc")] == ["200", "499", "other", "other"]
    metrics.upstream_call(HOSTILE, 200)  # an upstream verb is ours; anything else would be "other" too
    assert HOSTILE not in metrics.exposition().decode()


def test_no_client_string_becomes_a_label(tmp_path):
    app = build(tmp_path, METRICS_KEY=KEY)
    client = app.test_client()
    auth = {"Authorization": "Bearer sk-unit"}
    body = {"messages": [{"role": "user", "content": "hi"}]}
    assert call(client, "POST", "/v1/chat/completions", json={**body, "model": HOSTILE}, headers=auth).status_code == 404
    # an alias pattern: the label is the catalogue model it stands for, not the name sent
    call(client, "POST", "/v1/chat/completions", json={**body, "model": "gpt-4o-" + "z" * 50}, headers=auth)
    call(client, "GET", "/v1/" + "p" * 80, headers=auth)  # a path no route matches
    call(client, "GET", "/gemini/sessions/sess-hostile-id", headers=auth)  # a route with a variable part
    response = client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and response.content_type.startswith("text/plain; version=0.0.4")
    found = [s for s in samples(text) if s.name == "gbp_requests_total"]
    labels = {key: {s.labels[key] for s in found} for key in ("model", "route", "surface", "status")}
    assert labels["model"] <= {"none", "gemini-business"} and "gemini-business" in labels["model"]
    assert "unmatched" in labels["route"] and "/gemini/sessions/<session_id>" in labels["route"]
    assert not any("zzz" in value or "ppp" in value or "hostile" in value or "evil" in value
                   for values in labels.values() for value in values)
    assert "evil" not in text and "pwned" not in text and "zzzz" not in text


def test_without_a_key_or_an_allow_list_it_does_not_exist(tmp_path):
    response = build(tmp_path).test_client().get("/metrics")
    assert response.status_code == 404 and response.json["error"]["code"] == "unknown_url"


def test_an_allow_list_alone_needs_no_key_and_hides_it_from_others(tmp_path):
    client = build(tmp_path, METRICS_ALLOW="192.0.2.0/24,2001:db8::/32").test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.77"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::5"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404


def test_a_key_alone_is_needed_from_anywhere(tmp_path):
    client = build(tmp_path, METRICS_KEY=KEY).test_client()
    for address in ("127.0.0.1", "198.51.100.1"):
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": address}).status_code == 401
        assert client.get("/metrics", environ_base={"REMOTE_ADDR": address},
                          headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_the_metrics_key_is_a_secret_of_the_logs(tmp_path):
    from app import logs
    build(tmp_path, METRICS_KEY=KEY)
    assert KEY not in logs.redact(f"scraped with {KEY}")


def test_only_our_error_codes_name_how_a_stream_ended():
    assert [metrics.code_label(c) for c in ("ok", "client_gone", "rate_limit_exceeded")] == \
        ["ok", "client_gone", "rate_limit_exceeded"]
    assert {metrics.code_label(c) for c in (HOSTILE, "Evil", "a b", "x" * 60, "")} == {"other"}


def scraped(app) -> dict:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in samples(response.get_data(as_text=True))}


def test_a_store_that_does_not_answer_is_said_and_its_errors_counted(tmp_path, monkeypatch):
    import sqlite3

    from app.store.base import StoreUnavailable
    app = build(tmp_path, METRICS_KEY=KEY)
    assert scraped(app)[("gbp_store_up", ())] == 1
    before = scraped(app).get(("gbp_store_errors_total", (("backend", "sqlite"),)), 0)
    store = app.extensions["gbp"].store
    with pytest.raises(StoreUnavailable):
        with store._session():
            raise sqlite3.OperationalError("database is locked")
    assert scraped(app)[("gbp_store_errors_total", (("backend", "sqlite"),))] == before + 1

    def down(*args, **kwargs):
        raise StoreUnavailable("the store has not answered within 2 s")
    monkeypatch.setattr(app.extensions["gbp.upkeep"], "read", down)
    after = scraped(app)  # the accounts as last seen, and the store said to be down
    assert after[("gbp_store_up", ())] == 0 and ("gbp_accounts", (("state", "active"),)) in after


def test_sign_ins_are_counted_by_how_their_process_ended(tmp_path):
    app = build(tmp_path, METRICS_KEY=KEY)

    def counts():
        found = scraped(app)
        return [found.get(("gbp_sign_ins_total", (("outcome", o),)), 0) for o in ("succeeded", "stopped", "failed")]
    before = counts()
    for exit_code in (0, 130, 1, 2, -9, None):  # None: the process could not be started
        metrics.sign_in_ended(exit_code)
    assert [a - b for a, b in zip(counts(), before)] == [1, 1, 4]
