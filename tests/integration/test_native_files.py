"""Files through the native API (issue 9 §2): `files` of /gemini/chat are uploaded into the
native session's upstream session, once: a later turn that sends the same file again (on
another worker too) refers to the upload the session already has."""
import base64
import hashlib
import time

import pytest
import requests

from tests.integration.helpers import auth, data_url, sse_data, tiny_png, two_workers


def attached(number, mime, data):
    return f"Attached file {number}: {mime}, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"


def b64(data):
    return base64.b64encode(data).decode()


def uploads(simulator):
    return [r for r in simulator.requests_log() if r["path"].endswith("widgetAddContextFile")]


def asked(simulator):
    return [r["body"]["streamAssistRequest"] for r in simulator.requests_log()
            if r["path"].endswith("widgetStreamAssist") and r["status"] == 200]


def new_session(proxy):
    return requests.post(f"{proxy.url}/gemini/sessions", headers=auth(), timeout=10).json()["session_id"]


def test_a_file_is_uploaded_into_the_session_once_across_turns_and_workers(proxy, simulator):
    png = tiny_png()
    a, b = two_workers(proxy)
    sid = a.request("POST", "/gemini/sessions")[0].json()["session_id"]
    file = {"data": b64(png), "mime_type": "image/png", "name": "dot.png"}
    first, _ = a.request("POST", "/gemini/chat", json={"session_id": sid, "message": "What is this?",
                                                       "files": [file]})
    assert first.status_code == 200, first.text
    assert attached(1, "image/png", png) in first.json()["reply"]
    text = "second file\n".encode()
    second, _ = b.request("POST", "/gemini/chat", json={"session_id": sid, "message": "And now?", "files": [
        file, {"url": data_url("text/plain", text), "name": "notes.txt"}]})
    assert second.status_code == 200, second.text
    assert attached(1, "image/png", png) in second.json()["reply"]  # the first upload, referred to again
    assert attached(2, "text/plain", text) in second.json()["reply"]

    [png_upload, text_upload] = uploads(simulator)  # no second widgetAddContextFile for the PNG
    assert png_upload["body"]["addContextFileRequest"]["fileName"] == "dot.png"
    assert text_upload["body"]["addContextFileRequest"]["fileName"] == "notes.txt"
    first_ask, second_ask = asked(simulator)
    assert first_ask["session"] == second_ask["session"] == png_upload["body"]["addContextFileRequest"]["name"]
    assert second_ask["fileIds"][0] == first_ask["fileIds"][0]


def test_a_streamed_native_chat_with_a_file(proxy, simulator):
    text = "Zeile — 你好".encode()
    response = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), stream=True, timeout=10, json={
        "session_id": new_session(proxy), "message": "read it", "stream": True,
        "files": [{"data": b64(text), "mime_type": "text/plain"}]})
    payloads = sse_data([line.decode() for line in response.iter_lines()])
    reply = "".join(p["text"] for p in payloads if p["type"] == "text")
    assert attached(1, "text/plain", text) in reply and payloads[-1]["type"] == "done"
    assert uploads(simulator)[0]["body"]["addContextFileRequest"]["fileName"] == "file.txt"


def test_a_type_the_upstream_refuses_is_a_400_naming_it_in_the_native_envelope(proxy, simulator):
    sid = new_session(proxy)
    response = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), timeout=10, json={
        "session_id": sid, "message": "read it", "files": [
            {"data": b64(tiny_png()), "mime_type": "image/png"},
            {"data": b64(b"PK\x03\x04"), "mime_type": "application/zip", "name": "a.zip"}]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_file_type" and "application/zip" in error["message"]
    assert error["param"] == "files[1].data"
    # the PNG that went in before stays known: the next turn does not upload it again
    again = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), timeout=10, json={
        "session_id": sid, "message": "the picture then", "files": [{"data": b64(tiny_png()), "mime_type": "image/png"}]})
    assert again.status_code == 200 and attached(1, "image/png", tiny_png()) in again.json()["reply"]
    assert [r["status"] for r in uploads(simulator)] == [200, 400]


@pytest.mark.parametrize("files, param, code", [
    ("cat.png", "files", "invalid_type"),
    (["cat.png"], "files[0]", "invalid_type"),
    ([{}], "files[0]", "invalid_value"),
    ([{"url": data_url("image/png", b"x"), "data": "eA=="}], "files[0]", "invalid_value"),
    ([{"data": "eA=="}], "files[0].mime_type", "missing_required_parameter"),
    ([{"data": "eA==", "mime_type": "image/png;x"}], "files[0].mime_type", "invalid_value"),
    ([{"data": "not base64!", "mime_type": "image/png"}], "files[0].data", "invalid_value"),
    ([{"url": data_url("image/png", b"x"), "mime_type": "image/png"}], "files[0].mime_type", "invalid_value"),
    ([{"url": "ftp://example.com/a.png"}], "files[0].url", "url_not_allowed"),
    ([{"url": "http://127.0.0.1:9/a.png"}], "files[0].url", "url_not_allowed"),
    ([{"url": data_url("image/png", b"x"), "name": 7}], "files[0].name", "invalid_type"),
])
def test_bad_files_are_400s_naming_the_parameter(proxy, simulator, files, param, code):
    response = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), timeout=10, json={
        "session_id": new_session(proxy), "message": "hi", "files": files})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code), error
    assert uploads(simulator) == []


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("file", [
    {"data": "not base64!", "mime_type": "image/png"},  # refused by the gateway as it loads
    {"data": b64(b"PK\x03\x04"), "mime_type": "application/zip"},  # refused by the upstream
], ids=["unloadable", "refused-upstream"])
def test_a_turn_refused_for_its_file_leaves_the_session_expiry_alone(proxy, simulator, file, stream):
    sid = new_session(proxy)
    before = requests.get(f"{proxy.url}/gemini/sessions/{sid}", headers=auth(), timeout=10).json()["expires_at"]
    time.sleep(1.1)  # expiry has one-second resolution
    response = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), timeout=10, json={
        "session_id": sid, "message": "read it", "stream": stream, "files": [file]})
    assert response.status_code == 400, response.text
    after = requests.get(f"{proxy.url}/gemini/sessions/{sid}", headers=auth(), timeout=10).json()["expires_at"]
    assert after == before
    # a turn that goes ahead slides it, to what its reply says
    reply = requests.post(f"{proxy.url}/gemini/chat", headers=auth(), timeout=10,
                          json={"session_id": sid, "message": "hi"}).json()
    now = requests.get(f"{proxy.url}/gemini/sessions/{sid}", headers=auth(), timeout=10).json()["expires_at"]
    assert now > before and reply["expires_at"] == now
