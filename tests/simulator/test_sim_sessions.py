"""Session verbs, the envelope and session ownership (§5.0, §5.1, §5.6-§5.9)."""

import re

import pytest

from tests.simulator.simkit import API, OTHER, WIDGET_HEADERS, Upstream

SHORT = re.compile(r"^collections/default_collection/engines/agentspace-engine/sessions/\d{20}$")


@pytest.fixture
def other(client, sim):
    sim.post("accounts", json=OTHER)
    return Upstream(client, OTHER["csesidx"], OTHER["secure_c_ses"], OTHER["config_id"])


@pytest.mark.parametrize("inner", [
    {"session": {"name": "", "displayName": ""}},
    {"session": {"name": "a1b2c3d4e5f6", "displayName": "a1b2c3d4e5f6"}},
    {"session": {"name": "-", "displayName": ""}},
    {},
])
def test_create_session_variants(up, inner):
    response = up.call("widgetCreateSession", inner)
    assert response.status_code == 200
    name = response.get_json()["session"]["name"]
    assert SHORT.match(name) and "a1b2c3" not in name


def test_list_get_delete(up):
    first, second = up.create_session(), up.create_session()
    up.stream(second, "newest first").get_data()
    listed = up.call("widgetListSessions", {"pageSize": 110, "pageToken": "",
                                           "orderBy": "update_time desc", "filter": ""})
    sessions = listed.get_json()["listSessionsResponse"]["sessions"]
    assert [s["name"] for s in sessions] == [second, first]
    assert {"name", "displayName", "startTime"} <= set(sessions[0])

    bare = second.rsplit("/", 1)[1]
    got = up.call("widgetGetSession", {"name": bare, "includeAnswerDetails": True})
    session = got.get_json()["session"]
    assert session["name"] == second
    [turn] = session["turns"]
    assert turn["query"]["parts"][0]["text"] == "newest first"
    assert turn["detailedAssistAnswer"]["replies"][-1]["groundedContent"]["content"]["text"]

    assert up.call("widgetDeleteSession", {"name": second}).status_code == 200
    assert up.call("widgetGetSession", {"name": bare}).status_code == 404
    assert up.stream(second, "gone").status_code == 404


def test_list_pagination(up):
    names = [up.create_session() for _ in range(3)]
    page = up.call("widgetListSessions", {"pageSize": 2}).get_json()["listSessionsResponse"]
    assert len(page["sessions"]) == 2 and page["nextPageToken"]
    rest = up.call("widgetListSessions", {"pageSize": 2, "pageToken": page["nextPageToken"]})
    rest = rest.get_json()["listSessionsResponse"]
    assert len(rest["sessions"]) == 1 and rest["nextPageToken"] == ""
    assert {s["name"] for s in page["sessions"] + rest["sessions"]} == set(names)


def test_foreign_session_is_not_found(up, other, sim):
    mine = up.create_session()
    response = other.stream(mine, "steal")
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == "NOT_FOUND"
    listed = other.call("widgetListSessions", {}).get_json()["listSessionsResponse"]
    assert listed["sessions"] == []
    sim.patch("settings", json={"foreign_session_status": 403})
    response = other.call("widgetDeleteSession", {"name": mine})
    assert response.status_code == 403
    assert response.get_json()["error"]["status"] == "PERMISSION_DENIED"
    assert up.stream(mine, "still mine").status_code == 200


def test_config_id_must_be_the_accounts(up, other, sim):
    response = up.call("widgetCreateSession", {}, config_id=OTHER["config_id"])
    assert response.status_code == 400
    assert response.get_json()["error"]["status"] == "INVALID_ARGUMENT"
    sim.patch("settings", json={"config_mismatch_status": 401})
    response = up.call("widgetCreateSession", {}, config_id=OTHER["config_id"])
    assert response.status_code == 401
    assert other.call("widgetCreateSession", {}).status_code == 200


def test_envelope_errors(up, client):
    headers = {**WIDGET_HEADERS, "authorization": f"Bearer {up.token()}"}
    response = client.post(API + "widgetCreateSession", data="{nope", headers=headers,
                           content_type="application/json")
    assert response.status_code == 400
    response = client.post(API + "widgetCreateSession", headers=headers,
                           json={"configId": up.config_id, "additionalParams": {"token": "-"}})
    assert response.status_code == 400
    assert "createSessionRequest" in response.get_json()["error"]["message"]


def test_unknown_verb_and_method(up, client):
    response = up.call("widgetAdvancedCompleteQuery", {})
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == "NOT_FOUND"
    assert client.get(API + "widgetCreateSession").status_code == 404


def test_engine_user_data_names_the_project(up, sim):
    response = up.call("widgetGetEngineUserData", {})
    assert response.status_code == 200
    project = sim.get("settings").get_json()["project_number"]
    assert re.search(rf"projects/{project}/", response.get_data(as_text=True))
