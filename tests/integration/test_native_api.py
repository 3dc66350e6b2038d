"""The native session API across two gevent workers: a session lives in the store, not a worker."""
import json

import requests

from tests.integration.helpers import auth, expected, sse_data, stream_assist_queries, two_workers




def test_a_session_made_on_one_worker_is_used_and_deleted_through_the_other(proxy, simulator):
    a, b = two_workers(proxy)
    created, pid = a.request("POST", "/gemini/sessions")
    assert created.status_code == 201 and pid == a.pid
    session = created.json()
    assert set(session) >= {"session_id", "created_at", "expires_at"}
    sid = session["session_id"]

    fetched, pid = b.request("GET", f"/gemini/sessions/{sid}")
    assert pid == b.pid != a.pid
    assert fetched.status_code == 200 and fetched.json()["session_id"] == sid

    first, _ = b.request("POST", "/gemini/chat", json={"session_id": sid, "message": "Remember 42."})
    second, _ = a.request("POST", "/gemini/chat", json={"session_id": sid, "message": "What number?"})
    assert first.status_code == second.status_code == 200, second.text
    assert first.json()["reply"] == expected("Remember 42.").text
    # The upstream session keeps the history: the second turn knows the first.
    assert second.json()["reply"] == expected("What number?", ("Remember 42.",)).text
    assert second.json()["finish_reason"] == "stop"
    # Only each new message went upstream, into one upstream session.
    assert stream_assist_queries(simulator) == ["Remember 42.", "What number?"]
    sessions = {r["body"]["streamAssistRequest"]["session"] for r in simulator.requests_log()
                if r["path"].endswith("widgetStreamAssist") and r["status"] == 200}
    assert len(sessions) == 1

    deleted, pid = b.request("DELETE", f"/gemini/sessions/{sid}")
    assert pid == b.pid
    assert deleted.status_code == 200 and deleted.json() == {"session_id": sid, "deleted": True}
    for worker in (a, b):
        gone, _ = worker.request("GET", f"/gemini/sessions/{sid}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "session_not_found"
        chat, _ = worker.request("POST", "/gemini/chat", json={"session_id": sid, "message": "still there?"})
        assert chat.status_code == 404
    assert any(r["path"].endswith("widgetDeleteSession") for r in simulator.requests_log())


def test_using_a_session_slides_its_expiry(proxy):
    sid = requests.post(f"{proxy.url}/gemini/sessions", headers=auth(), timeout=10).json()["session_id"]
    before = requests.get(f"{proxy.url}/gemini/sessions/{sid}", headers=auth(), timeout=10).json()["expires_at"]
    import time
    time.sleep(1.1)  # expiry has one-second resolution
    reply = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), timeout=10,
                          json={"session_id": sid, "message": "hi"}).json()
    after = requests.get(f"{proxy.url}/gemini/sessions/{sid}", headers=auth(), timeout=10).json()["expires_at"]
    assert after > before and reply["expires_at"] == after


def test_native_thinking_keeps_the_thought_blocks_apart(proxy):
    sid = requests.post(f"{proxy.url}/gemini/sessions", headers=auth(), timeout=10).json()["session_id"]
    reply = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), timeout=10,
                          json={"session_id": sid, "message": "think twice"}).json()
    thoughts = expected("think twice").thoughts
    assert len(thoughts) == 2 and reply["thinking"] == "\n\n".join(thoughts)  # not "...fine.**Drafting..."


def test_streamed_native_chat(proxy):
    sid = requests.post(f"{proxy.url}/gemini/sessions", headers=auth(), json={"model": "gemini-2.5-flash"},
                        timeout=10).json()["session_id"]
    response = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), stream=True, timeout=10,
                             json={"session_id": sid, "message": "stream me", "stream": True})
    assert response.headers["content-type"].startswith("text/event-stream")
    lines = [line.decode() for line in response.iter_lines()]
    events = [line[len("event: "):] for line in lines if line.startswith("event: ")]
    payloads = sse_data(lines)
    reply = expected("stream me")
    assert events[0] == "thinking" and events[-1] == "done"
    assert "".join(p["text"] for p in payloads if p["type"] == "text") == reply.text
    assert "".join(p["text"] for p in payloads if p["type"] == "thinking") == "\n\n".join(reply.thoughts)
    assert payloads[-1]["finish_reason"] == "stop" and payloads[-1]["session_id"] == sid
    assert payloads[-1]["model"] == "gemini-2.5-flash"


def test_seed_readme_native_curl_works_as_written(open_proxy):
    import subprocess
    created = subprocess.run(["curl", "-sS", "-X", "POST", f"{open_proxy.url}/gemini/sessions",
                              "-H", "Content-Type: application/json"], capture_output=True, text=True, check=True)
    sid = json.loads(created.stdout)["session_id"]
    body = json.dumps({"session_id": sid, "message": "你好", "stream": True}, ensure_ascii=False)
    chat = subprocess.run(["curl", "-sS", "-X", "POST", f"{open_proxy.url}/gemini/chat",
                           "-H", "Content-Type: application/json", "-d", body],
                          capture_output=True, text=True, check=True)
    payloads = sse_data(chat.stdout.splitlines())
    assert "".join(p["text"] for p in payloads if p["type"] == "text") == expected("你好").text
