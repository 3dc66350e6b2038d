"""widgetStreamAssist: the streamed array, its contents and the session's memory (§5.2, §6)."""

import json
import time

import pytest

from simulator.replies import reply_for
from tests.simulator.simkit import texts


def stream_elements(up, session, text, **kw):
    response = up.stream(session, text, **kw)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response, json.loads(response.get_data())


def test_happy_path(up):
    session = up.create_session()
    response, elements = stream_elements(up, session, "Hello\nwhat is 2+2?")
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    expected = reply_for("Hello\nwhat is 2+2?", [], 40)
    assert "".join(texts(elements, thought=False)) == expected.text
    assert texts(elements, thought=True) == expected.thoughts
    assert len(texts(elements, thought=False)) >= 3  # really split into deltas


def test_first_element_and_order(up):
    session = up.create_session()
    _, elements = stream_elements(up, session, "hi")
    first = elements[0]
    assert first["uToken"] and first["streamAssistResponse"]["assistToken"]
    assert first["streamAssistResponse"]["sessionInfo"] == {}
    assert all("uToken" not in e for e in elements[1:])
    kinds = []  # thought / text per reply, in order
    for element in elements:
        for reply in element["streamAssistResponse"]["answer"].get("replies", []):
            kinds.append("thought" if reply["groundedContent"]["content"].get("thought")
                         else "text")
    assert kinds[:2] == ["thought", "thought"] and set(kinds[2:]) == {"text"}
    states = [e["streamAssistResponse"]["answer"]["state"] for e in elements]
    assert states[-1] == "SUCCEEDED" and set(states[:-1]) == {"IN_PROGRESS"}
    info = elements[-1]["streamAssistResponse"]["sessionInfo"]
    assert info["session"] == session
    assert info["queryId"].isdigit() and info["turnId"].isdigit()


def test_history_is_remembered(up, sim):
    session = up.create_session()
    stream_elements(up, session, "My name is Ada.")
    _, elements = stream_elements(up, session, "What is my name?")
    text = "".join(texts(elements, thought=False))
    assert text == reply_for("What is my name?", ["My name is Ada."], 40).text
    assert text.startswith("Turn 2") and '"My name is Ada."' in text
    [stored] = sim.get("sessions").get_json()["sessions"]
    assert [t["query"] for t in stored["turns"]] == ["My name is Ada.", "What is my name?"]
    assert stored["turns"][1]["reply"] == text


def test_a_new_session_has_no_history(up):
    first, second = up.create_session(), up.create_session()
    stream_elements(up, first, "one")
    _, elements = stream_elements(up, second, "two")
    assert "".join(texts(elements, thought=False)).startswith("Turn 1")


@pytest.mark.parametrize("layout,separator", [
    ("lines", b",\n{"), ("pretty", b",\n{\n  "), ("crlf", b",\r\n{")])
def test_layouts(up, sim, layout, separator):
    sim.patch("settings", json={"layout": layout})
    session = up.create_session()
    response, elements = stream_elements(up, session, "layout check")
    body = response.get_data()
    assert body.startswith(b"[{") and body.endswith(b"]")
    assert body.count(separator) == len(elements) - 1
    assert "".join(texts(elements, False)) == reply_for("layout check", [], 40).text
    if layout == "lines":
        lines = body.split(b"\n")
        assert len(lines) == len(elements) + 1 and lines[-1] == b"]"


def test_reply_words_setting(up, sim):
    sim.patch("settings", json={"reply_words": 3})
    session = up.create_session()
    _, elements = stream_elements(up, session, "short")
    assert "".join(texts(elements, False)) == reply_for("short", [], 3).text


def test_auto_model_and_unknown_model(up, sim):
    session = up.create_session()
    stream_elements(up, session, "auto", model=None)
    response = up.stream(session, "x", model="gemini-9-ultra")
    assert response.status_code == 404  # the one field report (§14): a dropped model answers 404
    error = response.get_json()["error"]
    assert error["status"] == "NOT_FOUND" and "gemini-9-ultra" in error["message"]
    sim.patch("settings", json={"unknown_model_status": 400})
    error = up.stream(session, "x", model="gemini-9-ultra").get_json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and "gemini-9-ultra" in error["message"]
    sim.patch("settings", json={"models": ["gemini-9-ultra"]})
    assert up.stream(session, "x", model="gemini-9-ultra").status_code == 200


def test_the_model_list_is_todays_service(up):
    """The notes (§14): gemini-3-pro-preview is gone, gemini-3.1-pro-preview took its place."""
    session = up.create_session()
    assert up.stream(session, "x", model="gemini-3-pro-preview").status_code == 404
    for model in ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-flash-preview", "gemini-3.1-pro-preview"):
        assert up.stream(session, "x", model=model).status_code == 200, model


@pytest.mark.parametrize("inner,status", [
    ({"query": {"parts": [{"text": "x"}]}}, 400),  # no session
    ({"session": "collections/default_collection/engines/agentspace-engine/sessions/1",
      "query": {"parts": [{"text": "x"}]}}, 404),  # unknown session
    ({"session": "SESSION", "query": {"parts": []}}, 400),
    ({"session": "SESSION", "query": {"parts": [{"inlineData": {}}]}}, 400),
    ({"session": "SESSION", "query": {"parts": [{"text": "x"}]}, "fileIds": ["123"]}, 400),
])
def test_bad_requests(up, inner, status):
    session = up.create_session()
    if inner.get("session") == "SESSION":
        inner["session"] = session
    response = up.call("widgetStreamAssist", inner)
    assert response.status_code == status
    assert set(response.get_json()["error"]) == {"code", "message", "status"}


def test_project_qualified_session_name(up, sim):
    session = up.create_session()
    project = sim.get("settings").get_json()["project_number"]
    qualified = f"projects/{project}/locations/global/{session}"
    _, elements = stream_elements(up, qualified, "hello")
    assert elements[-1]["streamAssistResponse"]["sessionInfo"]["session"] == session


def test_quota(up, sim):
    sim.patch("settings", json={"quota": 2, "quota_window": 3600})
    session = up.create_session()
    for _ in range(2):
        assert up.stream(session, "q").status_code == 200
    response = up.stream(session, "q")
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED" and error["code"] == 429
    assert error["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    assert up.create_session()  # only chats count
    sim.patch("settings", json={"quota": None})
    assert up.stream(session, "q").status_code == 200


def test_quota_window_resets(up, sim, app):
    state = app.extensions["simulator"]
    sim.patch("settings", json={"quota": 1, "quota_window": 60})
    session = up.create_session()
    assert up.stream(session, "q").status_code == 200
    assert up.stream(session, "q").status_code == 429
    state.clock = lambda: time.time() + 61  # the window is over; tokens are still valid
    assert up.stream(session, "q").status_code == 200
    assert up.stream(session, "q").status_code == 429
