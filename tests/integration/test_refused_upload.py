"""A file the upstream refuses (`Unsupported file type`, §5.3) ends the turn before its query
goes out: the empty session it was to go into is not lost (it is the account's spare again),
and a session that already holds the turn's other uploads is deleted, never reused."""
import openai
import pytest

from tests.integration.helpers import data_url, openai_client, tiny_png

ZIP = data_url("application/zip", b"PK\x03\x04")


def calls(simulator, verb):
    return [r for r in simulator.requests_log() if r["path"].endswith(verb)]


def refused_chat(proxy, *files):
    parts = [{"type": "text", "text": "read this"}]
    parts += [{"type": "file", "file": {"filename": name, "file_data": url}} for name, url in files]
    with pytest.raises(openai.BadRequestError) as excinfo:
        openai_client(proxy).chat.completions.create(model="gemini-2.5-flash",
                                                     messages=[{"role": "user", "content": parts}])
    assert excinfo.value.response.json()["error"]["code"] == "unsupported_file_type"


def chat(proxy):
    openai_client(proxy).chat.completions.create(model="gemini-2.5-flash",
                                                 messages=[{"role": "user", "content": "hello"}])


def asked_sessions(simulator):
    return [r["body"]["streamAssistRequest"]["session"] for r in calls(simulator, "widgetStreamAssist")
            if r["status"] == 200]


def test_an_empty_session_a_refused_file_was_for_is_the_next_chats(proxy, simulator):
    refused_chat(proxy, ("a.zip", ZIP))
    [refused] = [r for r in calls(simulator, "widgetAddContextFile") if r["status"] == 400]
    session = refused["body"]["addContextFileRequest"]["name"]
    chat(proxy)
    # the same account's next chat goes into that session: no session was made for nothing
    assert asked_sessions(simulator) == [session]
    assert not calls(simulator, "widgetDeleteSession")


def test_a_session_holding_the_turns_other_uploads_is_deleted_not_reused(proxy, simulator):
    refused_chat(proxy, ("a.png", data_url("image/png", tiny_png())), ("a.zip", ZIP))
    uploads = calls(simulator, "widgetAddContextFile")
    assert [r["status"] for r in uploads][-2:] == [200, 400]
    session = uploads[-1]["body"]["addContextFileRequest"]["name"]
    assert [r["body"]["deleteSessionRequest"]["name"] for r in calls(simulator, "widgetDeleteSession")] == [session]
    chat(proxy)
    assert asked_sessions(simulator) != [session]
