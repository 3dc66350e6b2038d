"""Every fault kind of POST /__sim__/faults, and how faults are matched and counted."""

import json
import threading
import time

import pytest

from simulator.replies import reply_for
from tests.simulator.simkit import OTHER, Upstream, raw_elements, texts, xssi_json

OVERLOADED = {"error": {
    "code": 429, "message": "Resource has been exhausted (e.g. check quota).",
    "status": "RESOURCE_EXHAUSTED",
    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                 "reason": "LLM_OVERLOADED", "domain": "discoveryengine.googleapis.com"}]}}


@pytest.fixture
def session(up):
    return up.create_session()


def outcome_of_last(sim):
    return sim.requests()[-1]


def test_expired_cookie_once(up, sim):
    sim.fault(kind="expired_cookie")
    response = up.getoxsrf()
    assert response.status_code == 401
    assert xssi_json(response)["status"] == "EXPIRED_SIGN_IN"
    assert up.getoxsrf().status_code == 200
    assert sim.get("faults").get_json()["faults"] == []


def test_no_key(up, sim):
    sim.fault(kind="no_key")
    response = up.getoxsrf()
    assert response.status_code == 200
    body = xssi_json(response)
    assert "xsrfToken" not in body and "keyId" not in body


def test_jwt_expired(up, sim, session):
    sim.fault(kind="jwt_expired", verb="widgetStreamAssist")
    response = up.stream(session, "x")
    assert response.status_code == 401
    assert response.get_json()["error"]["details"][0]["reason"] == "ACCESS_TOKEN_EXPIRED"
    assert up.stream(session, "x").status_code == 200


def test_http_429(up, sim, session):
    sim.fault(kind="http_429", retry_after=7)
    response = up.stream(session, "x")
    assert response.status_code == 429
    assert response.get_json() == OVERLOADED
    assert response.headers["Retry-After"] == "7"


@pytest.mark.parametrize("status,canonical", [
    (400, "INVALID_ARGUMENT"), (403, "PERMISSION_DENIED"), (404, "NOT_FOUND"),
    (500, "INTERNAL"), (502, "UNAVAILABLE"), (503, "UNAVAILABLE")])
def test_http_error(up, sim, session, status, canonical):
    sim.fault(kind="http_error", status=status, verb="widgetStreamAssist")
    response = up.stream(session, "x")
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == status and error["status"] == canonical and error["message"]


def test_http_error_on_getoxsrf(up, sim):
    sim.fault(kind="http_error", status=503, verb="getoxsrf")
    assert up.getoxsrf().status_code == 503


def test_stream_429(up, sim, session):
    sim.fault(kind="stream_429", after=2)
    response = up.stream(session, "x")
    assert response.status_code == 200
    elements = json.loads(response.get_data())
    assert len(elements) == 3 and elements[2] == OVERLOADED
    assert "streamAssistResponse" in elements[1]


def test_stream_403(up, sim, session):
    sim.fault(kind="stream_403", after=1)
    response = up.stream(session, "x")
    assert response.status_code == 200
    elements = json.loads(response.get_data())
    assert len(elements) == 2 and "streamAssistResponse" in elements[0]
    assert elements[1] == {"error": {"code": 403, "message": "The caller does not have permission",
                                     "status": "PERMISSION_DENIED"}}


def test_truncate(up, sim, session):
    sim.fault(kind="truncate", after=3)
    body = up.stream(session, "x").get_data()
    assert not body.rstrip().endswith(b"]")
    parts = raw_elements(body)
    assert len(parts) == 4
    for part in parts[:3]:
        json.loads(part)
    with pytest.raises(ValueError):
        json.loads(parts[3])
    entry = outcome_of_last(sim)
    assert entry["outcome"] == "truncated" and entry["fault"] == "truncate"


def test_hang_ends_after_seconds(up, sim, session):
    sim.fault(kind="hang", after=1, seconds=0.2)
    started = time.monotonic()
    body = up.stream(session, "x").get_data()
    # At least the hang; far below the default hang (600 s) that `seconds` replaced (a hang
    # guard, not a measurement: a loaded machine adds seconds).
    assert 0.2 <= time.monotonic() - started < 60
    assert len(raw_elements(body)) == 1 and not body.endswith(b"]")
    assert outcome_of_last(sim)["outcome"] == "hang"


def read_in_thread(response):
    chunks, done = [], threading.Event()

    def read():
        for chunk in response.response:
            chunks.append(chunk)
        done.set()
    threading.Thread(target=read, daemon=True).start()
    return chunks, done


def test_gate_waits_for_release(up, sim, session):
    sim.fault(kind="gate", after=2)
    chunks, done = read_in_thread(up.stream(session, "gated"))
    time.sleep(0.2)
    assert not done.is_set()
    assert len(raw_elements(b"".join(chunks))) == 2
    assert sim.post("release").get_json() == {"released": 1}
    assert done.wait(2)
    elements = json.loads(b"".join(chunks))
    assert "".join(texts(elements, False)) == reply_for("gated", [], 40).text
    assert outcome_of_last(sim)["outcome"] == "complete"


def test_release_before_the_stream_reaches_the_gate(up, sim, session):
    sim.fault(kind="gate", after=1)
    sim.post("release")
    assert json.loads(up.stream(session, "x").get_data())


def test_hang_after_every_element(up, sim, session):
    sim.fault(kind="hang", after=99, seconds=0)
    body = up.stream(session, "x").get_data()
    assert body.endswith(b",\n") and outcome_of_last(sim)["outcome"] == "hang"


def test_hang_released_early(up, sim, session):
    sim.fault(kind="hang", after=0)
    chunks, done = read_in_thread(up.stream(session, "x"))
    time.sleep(0.1)
    sim.post("release")
    assert done.wait(2)
    assert b"".join(chunks) == b"["


def test_malformed(up, sim, session):
    sim.fault(kind="malformed", after=1)
    parts = raw_elements(up.stream(session, "x").get_data())
    bad = [p for p in parts if not _parses(p)]
    assert len(bad) == 1 and parts.index(bad[0]) == 1
    good = [json.loads(p) for p in parts if _parses(p)]
    assert "".join(texts(good, False)) == reply_for("x", [], 40).text


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
        return True
    except ValueError:
        return False


def test_skip(up, sim, session):
    sim.fault(kind="skip")
    elements = json.loads(up.stream(session, "x").get_data())
    answer = elements[-1]["streamAssistResponse"]["answer"]
    assert answer["state"] == "SKIPPED"
    assert answer["assistSkippedReasons"] == ["CUSTOMER_POLICY_VIOLATION"]
    result = answer["customerPolicyEnforcementResult"]["policyResults"][0]
    assert result["modelArmorEnforcementResult"]["modelArmorViolation"]
    assert texts(elements, False) == [] and texts(elements, True) == []
    [stored] = sim.get("sessions").get_json()["sessions"]
    assert [(t["query"], t["reply"], t["thoughts"]) for t in stored["turns"]] == [("x", "", [])]


def test_thoughts_only(up, sim, session):
    sim.fault(kind="thoughts_only")
    elements = json.loads(up.stream(session, "x").get_data())
    assert texts(elements, True) == reply_for("x", [], 40).thoughts
    assert texts(elements, False) == []
    assert elements[-1]["streamAssistResponse"]["answer"]["state"] == "SUCCEEDED"


def test_empty(up, sim, session):
    sim.fault(kind="empty")
    elements = json.loads(up.stream(session, "x").get_data())
    assert all("replies" not in e["streamAssistResponse"]["answer"] for e in elements)
    assert elements[0]["uToken"]


def test_token_only(up, sim, session):
    sim.fault(kind="token_only")
    [element] = json.loads(up.stream(session, "x").get_data())
    assert set(element) == {"uToken"}


def test_count_filters_and_clear(client, up, sim, session):
    sim.post("accounts", json=OTHER)
    other = Upstream(client, OTHER["csesidx"], OTHER["secure_c_ses"], OTHER["config_id"])
    sim.fault(kind="http_429", count=-1, csesidx=OTHER["csesidx"], verb="widgetCreateSession")
    assert up.create_session()  # another account: not hit
    for _ in range(3):
        assert other.call("widgetCreateSession", {}).status_code == 429
    assert other.call("widgetListSessions", {}).status_code == 200  # another verb
    [fault] = sim.get("faults").get_json()["faults"]
    assert fault["hits"] == 3 and fault["count"] == -1
    sim.delete("faults")
    assert other.call("widgetCreateSession", {}).status_code == 200


def test_count_two(up, sim, session):
    sim.fault(kind="empty", count=2)
    for _ in range(2):
        assert texts(json.loads(up.stream(session, "x").get_data()), False) == []
    assert texts(json.loads(up.stream(session, "x").get_data()), False)


def test_faults_only_hit_authenticated_requests(up, sim, session):
    sim.fault(kind="http_429")
    assert up.call("widgetListSessions", {}, token="bad.token.here").status_code == 401
    assert up.call("widgetListSessions", {}).status_code == 429


@pytest.mark.parametrize("spec", [
    {"kind": "nope"}, {"kind": "http_error", "status": 418}, {"kind": "gate", "count": 0},
    {"kind": "truncate", "verb": "getoxsrf"}, {"kind": "hang", "seconds": -1},
    {"kind": "skip", "colour": "red"}])
def test_bad_fault_specs(sim, spec):
    response = sim.post("faults", json=spec)
    assert response.status_code == 400


def test_failed_streams_keep_no_turn(up, sim, session):
    sim.fault(kind="stream_429", after=1)
    up.stream(session, "lost").get_data()
    up.stream(session, "kept").get_data()
    [stored] = sim.get("sessions").get_json()["sessions"]
    assert [t["query"] for t in stored["turns"]] == ["kept"]
