"""The control API: settings, accounts, the request log and reset."""

import pytest

from simulator.demo import DEMO_CSESIDX
from tests.simulator.simkit import OTHER, Upstream


def test_health(sim):
    assert sim.get("health").get_json() == {"ok": True}


def test_settings_roundtrip(sim):
    settings = sim.get("settings").get_json()
    assert settings["layout"] == "lines" and settings["reply_words"] == 40
    assert settings["quota"] is None and "gemini-3.1-pro-preview" in settings["models"]
    assert settings["unknown_model_status"] == 404
    patched = sim.patch("settings", json={"reply_words": 5, "layout": "crlf",
                                          "models": "a,b"}).get_json()
    assert patched["reply_words"] == 5 and patched["models"] == ["a", "b"]
    assert sim.get("settings").get_json()["layout"] == "crlf"


@pytest.mark.parametrize("patch", [
    {"layout": "zigzag"}, {"ttfb": -1}, {"reply_words": 1.5}, {"require_oses": "yes"},
    {"foreign_session_status": 500}, {"quota": -2}, {"colour": "red"}, {"models": [""]},
    {"unknown_model_status": 500}])
def test_bad_settings_are_rejected_whole(sim, patch):
    before = sim.get("settings").get_json()
    response = sim.patch("settings", json={"reply_words": 1, **patch})
    assert response.status_code == 400
    assert sim.get("settings").get_json() == before


def test_accounts(sim, client):
    assert sim.post("accounts", json=[OTHER]).status_code == 201
    listed = {a["csesidx"]: a for a in sim.get("accounts").get_json()["accounts"]}
    assert set(listed) == {DEMO_CSESIDX, OTHER["csesidx"]}
    other = Upstream(client, OTHER["csesidx"], OTHER["secure_c_ses"], OTHER["config_id"])
    assert other.create_session()
    assert sim.post("accounts/777/expire").get_json()["expired"] is True
    assert other.getoxsrf().status_code == 401
    assert sim.post("accounts/1/expire").status_code == 404
    assert sim.post("accounts", json={"secure_c_ses": "x", "csesidx": "abc",
                                      "config_id": OTHER["config_id"]}).status_code == 400


def test_request_log(up, sim):
    session = up.create_session()
    up.stream(session, "logged").get_data()
    entries = sim.requests()
    assert [e["verb"] for e in entries] == [
        "getoxsrf", "widgetCreateSession", "getoxsrf", "widgetStreamAssist"]
    oxsrf, _, _, chat = entries
    assert oxsrf["query"] == {"csesidx": DEMO_CSESIDX} and oxsrf["method"] == "GET"
    assert chat["path"] == "/v1alpha/locations/global/widgetStreamAssist"
    assert chat["headers"]["Authorization"].startswith("Bearer ")
    assert chat["body"]["streamAssistRequest"]["query"]["parts"][0]["text"] == "logged"
    assert chat["status"] == 200 and chat["outcome"] == "complete"
    assert chat["csesidx"] == DEMO_CSESIDX
    assert [e["seq"] for e in sim.requests(since=oxsrf["seq"])] == [e["seq"] for e in entries[1:]]
    assert all(isinstance(e["time"], float) for e in entries)
    sim.delete("requests")
    assert sim.requests() == []
    assert not any(e["path"].startswith("/__sim__") for e in entries)


def test_log_records_errors(up, sim):
    up.getoxsrf(cookie="unknown")
    [entry] = sim.requests()
    assert entry["status"] == 401 and entry["outcome"] == "complete"


def test_aborted_stream_is_logged(up, sim):
    sim.patch("settings", json={"reply_words": 300})
    session = up.create_session()
    response = up.stream(session, "abort me")
    chunks = iter(response.response)
    next(chunks), next(chunks)
    response.close()  # the client goes away mid-stream
    entry = sim.requests()[-1]
    assert entry["outcome"] == "aborted" and entry["status"] == 200
    [stored] = sim.get("sessions").get_json()["sessions"]
    assert stored["turns"] == []  # an unfinished answer is not kept


def test_reset(up, sim):
    session = up.create_session()
    sim.patch("settings", json={"reply_words": 1})
    sim.fault(kind="empty", count=-1)
    sim.post("accounts", json=OTHER)
    sim.post(f"accounts/{DEMO_CSESIDX}/expire")
    assert sim.post("reset").get_json() == {"ok": True}
    assert sim.get("settings").get_json()["reply_words"] == 40
    assert sim.get("faults").get_json()["faults"] == []
    assert sim.get("sessions").get_json()["sessions"] == []
    assert sim.requests() == []
    assert [a["csesidx"] for a in sim.get("accounts").get_json()["accounts"]] == [DEMO_CSESIDX]
    assert up.getoxsrf().status_code == 200
    assert up.stream(session, "x").status_code == 404


def test_reset_keeps_keys_of_startup_accounts(up, sim):
    token = up.token()
    sim.post("reset")
    assert up.call("widgetListSessions", {}, token=token).status_code == 200


def test_reset_revives_keys_an_earlier_test_expired(up, sim):
    """A proxy's other worker may still hold a token signed with a key an earlier test expired:
    after the reset between the two tests its first call must not be refused."""
    token = up.token()
    sim.post("keys/expire")
    assert up.call("widgetListSessions", {}, token=token).status_code == 401
    sim.post("reset")
    assert up.call("widgetListSessions", {}, token=token).status_code == 200


def test_a_banned_account_gets_403_on_every_widget_call_until_the_ban_is_lifted(up, sim):
    session = up.create_session()
    banned = sim.post(f"accounts/{DEMO_CSESIDX}/ban").get_json()
    assert banned["banned"] is True
    assert up.getoxsrf().status_code == 200  # the notes record a 403 on widget calls only
    for response in (up.call("widgetCreateSession", {"session": {}}), up.stream(session, "x")):
        assert response.status_code == 403
        assert response.get_json() == {"error": {
            "code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}
    assert [e.get("refused") for e in sim.requests() if e["verb"] != "getoxsrf"][-2:] == ["banned", "banned"]
    assert sim.post(f"accounts/{DEMO_CSESIDX}/ban", json={"banned": False}).get_json()["banned"] is False
    assert up.stream(session, "x").status_code == 200


def test_ban_control_errors_and_reset(up, sim):
    assert sim.post("accounts/1/ban").status_code == 404
    assert sim.post(f"accounts/{DEMO_CSESIDX}/ban", json={"banned": "yes"}).status_code == 400
    sim.post(f"accounts/{DEMO_CSESIDX}/ban")
    sim.post("reset")
    assert sim.get("accounts").get_json()["accounts"][0]["banned"] is False
    assert up.create_session()
