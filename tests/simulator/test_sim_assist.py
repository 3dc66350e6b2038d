"""widgetStreamAssist: the streamed array, its contents and the session's memory (§5.2, §6)."""

import json
import time

import pytest

from simulator.replies import reply_for
from tests.simulator.simkit import ASSIST_DEFAULTS, texts


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


def media(up, session, spec, **kw):
    inner = {**ASSIST_DEFAULTS, "session": session, "query": {"parts": [{"text": "draw"}]}, "toolsSpec": {spec: {}}}
    return up.call("widgetStreamAssist", inner, **kw)


def test_daily_quotas_per_kind_spend_apart_and_reset_at_the_configured_hour(up, sim, app):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    state = app.extensions["simulator"]
    session = up.create_session()
    evening = datetime(2026, 12, 5, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp()
    state.clock = lambda: evening  # half an hour before Pacific midnight

    def signed():  # a JWT valid at the simulator's time
        return {"token": up.token(now=int(state.clock()))}

    sim.patch("settings", json={"daily_quota_image": 1, "daily_quota_text": 2,
                                "cookie_rotate_after": None})  # hours pass here; the cookies stay
    assert media(up, session, "imageGenerationSpec", **signed()).status_code == 200
    spent = media(up, session, "imageGenerationSpec", **signed())
    assert spent.status_code == 429
    error = spent.get_json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED" and error["details"][0]["reason"] == "QUOTA_EXCEEDED"
    assert up.stream(session, "text is another budget", **signed()).status_code == 200
    assert media(up, session, "videoGenerationSpec", **signed()).status_code == 200  # video has no budget
    assert up.stream(session, "the second text", **signed()).status_code == 200
    assert up.stream(session, "the third text", **signed()).status_code == 429
    usage = sim.get("accounts").get_json()["daily_quota"][up.csesidx]
    assert usage["image"] == {"day": "2026-12-05", "used": 1} and usage["text"]["used"] == 2

    state.clock = lambda: evening + 31 * 60  # 00:01 Pacific: a new quota day
    assert media(up, session, "imageGenerationSpec", **signed()).status_code == 200
    assert up.stream(session, "a new day", **signed()).status_code == 200

    sim.patch("settings", json={"quota_reset_tz": "UTC", "quota_reset_hour": 9})
    nine = datetime(2026, 12, 6, 9, tzinfo=ZoneInfo("UTC")).timestamp()
    state.clock = lambda: nine - 60
    assert media(up, session, "imageGenerationSpec", **signed()).status_code == 200
    assert media(up, session, "imageGenerationSpec", **signed()).status_code == 429
    state.clock = lambda: nine + 1
    assert media(up, session, "imageGenerationSpec", **signed()).status_code == 200


def test_a_spent_daily_quota_can_come_inside_the_stream(up, sim):
    sim.patch("settings", json={"daily_quota_text": 0, "quota_in_stream": True})
    response = up.stream(up.create_session(), "q")
    assert response.status_code == 200
    [error] = [e for e in json.loads(response.get_data()) if "error" in e]
    assert error["error"]["code"] == 429 and error["error"]["details"][0]["reason"] == "QUOTA_EXCEEDED"


@pytest.mark.parametrize("patch", [{"quota_reset_tz": "Mars/Olympus"}, {"quota_reset_hour": 24},
                                   {"daily_quota_image": -1}, {"quota_in_stream": "yes"}])
def test_bad_daily_quota_settings_are_refused(sim, patch):
    assert sim.patch("settings", json=patch).status_code == 400
