"""The real thing: `python -m simulator` in a subprocess, spoken to over HTTP."""

from __future__ import annotations

import base64
import itertools
import json
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from simulator.demo import DEMO_CONFIG_ID, DEMO_CSESIDX, DEMO_SECURE_C_SES
from simulator.media import png_for
from simulator.replies import reply_for
from tests.simulator.simkit import (ASSIST_DEFAULTS, OXSRF_HEADERS, WIDGET_HEADERS, XSSI, sign_jwt,
                                    splits_a_character, texts)

ROOT = Path(__file__).resolve().parents[2]


def start_simulator(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", "0", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 15)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("simulator listening on http://"):
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r} {process.stderr.read()}")
    return process, line.split(" on ", 1)[1].strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("sim") / "requests.jsonl"
    process, url = start_simulator("--ttfb", "0.05", "--chunk-delay", "0.01", "--log", str(log),
                                   "--compression", "identity")  # these tests read raw bytes
    yield url, log
    process.terminate()
    process.wait(5)


@pytest.fixture
def base(server):
    url, _ = server
    requests.post(url + "/__sim__/reset", timeout=5).raise_for_status()
    return url


def bearer(base: str) -> dict:
    response = requests.get(base + "/auth/getoxsrf", params={"csesidx": DEMO_CSESIDX},
                            cookies={"__Secure-C_SES": DEMO_SECURE_C_SES}, headers=OXSRF_HEADERS, timeout=5)
    assert response.status_code == 200 and response.text.startswith(XSSI)
    key = json.loads(response.text[len(XSSI):])
    return {**WIDGET_HEADERS,
            "authorization": "Bearer " + sign_jwt(key["xsrfToken"], key["keyId"], DEMO_CSESIDX)}


def widget(base: str, verb: str, inner: dict, **kw) -> requests.Response:
    body = {"configId": DEMO_CONFIG_ID, "additionalParams": {"token": "-"},
            verb[6].lower() + verb[7:] + "Request": inner}
    return requests.post(f"{base}/v1alpha/locations/global/{verb}", json=body,
                         headers=bearer(base), timeout=10, **kw)


def open_chat(base: str, text: str) -> requests.Response:
    session = widget(base, "widgetCreateSession", {"session": {"name": ""}}).json()
    inner = {**ASSIST_DEFAULTS, "session": session["session"]["name"],
             "query": {"parts": [{"text": text}]}, "assistGenerationConfig": {"modelId": "gemini-2.5-pro"}}
    response = widget(base, "widgetStreamAssist", inner, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    return response


def wait_for_entry(base: str, verb: str, outcome: str, timeout: float = 20) -> dict:  # a hang guard
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in requests.get(base + "/__sim__/requests", timeout=5).json()["requests"]:
            if entry["verb"] == verb and entry["outcome"] == outcome:
                return entry
        time.sleep(0.05)
    raise AssertionError(f"no {verb} request ended {outcome!r}")


def test_stream_arrives_in_irregular_reads(base):
    query = "Is the café open? — 你好"
    with open_chat(base, query) as response:
        reads = list(response.iter_content(chunk_size=None))
    assert reads[0] == b"["
    body = b"".join(reads)
    elements = json.loads(body)
    assert "".join(texts(elements, False)) == reply_for(query, [], 40).text
    assert len(reads) > 2 * len(elements)
    assert any(splits_a_character(r) for r in reads), "a read ends inside a UTF-8 character"
    element_ends = {1, len(body)} | {i + 1 for i, byte in enumerate(body) if byte == 0x0A}
    read_ends = set(itertools.accumulate(len(r) for r in reads))
    assert read_ends - element_ends, "reads do not line up with elements"


def test_hang_blocks_nobody_and_abort_is_seen(base):
    requests.post(base + "/__sim__/faults", json={"kind": "hang", "after": 1, "seconds": 30},
                  timeout=5).raise_for_status()
    hanging = open_chat(base, "hang")
    reads = hanging.iter_content(chunk_size=None)
    received = b""
    while b",\n" not in received:
        received += next(reads)  # the first element arrived, now it hangs

    with open_chat(base, "meanwhile") as other:
        assert json.loads(other.content)  # a second chat completes during the hang
    # ...while the first still hangs: it ends "aborted" by the close below, not "hang" (had the
    # second chat waited for the hang, the 30 s would have run out first).
    hanging.close()  # the client goes away during the hang
    entry = wait_for_entry(base, "widgetStreamAssist", "aborted")
    assert entry["fault"] == "hang"


def test_gate_over_http(base):
    requests.post(base + "/__sim__/faults", json={"kind": "gate", "after": 2},
                  timeout=5).raise_for_status()
    result = {}

    def chat():
        with open_chat(base, "gated") as response:
            result["body"] = response.content
    thread = threading.Thread(target=chat)
    thread.start()
    time.sleep(0.3)
    assert "body" not in result
    assert requests.post(base + "/__sim__/release", timeout=5).json() == {"released": 1}
    thread.join(5)
    assert "".join(texts(json.loads(result["body"]), False)) == reply_for("gated", [], 40).text


def test_log_file_gets_json_lines(base, server):
    requests.get(base + "/auth/getoxsrf", params={"csesidx": "1"}, timeout=5)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        lines = server[1].read_text(encoding="utf-8").splitlines()
        if any(json.loads(l)["query"] == {"csesidx": "1"} for l in lines):
            return
        time.sleep(0.05)
    raise AssertionError("the request never reached the log file")


def test_accounts_file_and_bad_start(tmp_path):
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([{"id": "a@example.com", "secure_c_ses": "ses-a",
                                     "csesidx": "55", "config_id": DEMO_CONFIG_ID}]))
    process, url = start_simulator("--accounts", str(accounts), "--quiet")
    try:
        listed = requests.get(url + "/__sim__/accounts", timeout=5).json()["accounts"]
        assert [a["csesidx"] for a in listed] == ["55"]
    finally:
        process.terminate()
        process.wait(5)
    bad = subprocess.run([sys.executable, "-m", "simulator", "--accounts", str(tmp_path / "x")],
                         cwd=ROOT, capture_output=True, text=True, timeout=15)
    assert bad.returncode == 2 and "simulator:" in bad.stderr


def test_lenient_and_compression_flags():
    process, url = start_simulator("--lenient", "--compression", "gzip", "--quiet")
    try:
        settings = requests.get(url + "/__sim__/settings", timeout=5).json()
    finally:
        process.terminate()
        process.wait(5)
    assert settings["compression"] == "gzip" and settings["keys_die_on_sign_out"]
    assert not any(settings[name] for name in ("strict_jwt", "strict_envelope", "strict_assist", "strict_headers"))


def test_files_round_trip_over_http(base):
    """Upload, an answer about the upload, an image generation and its download in both
    forms and both encodings, through a real server and the requests library."""
    session = widget(base, "widgetCreateSession", {}).json()["session"]["name"]
    data = "lines\nof text — ünïcode".encode("utf-8")
    upload = widget(base, "widgetAddContextFile", {
        "name": session, "fileName": "notes.txt", "mimeType": "text/plain",
        "fileContents": base64.b64encode(data).decode()})
    assert upload.status_code == 200, upload.text
    file_id = upload.json()["addContextFileResponse"]["fileId"]
    refused = widget(base, "widgetAddContextFile", {
        "name": session, "fileName": "a.webp", "mimeType": "image/webp", "fileContents": "AAAA"})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Unsupported file type: image/webp"

    inner = {**ASSIST_DEFAULTS, "session": session, "query": {"parts": [{"text": "read it"}]},
             "fileIds": [file_id]}
    answer = "".join(texts(widget(base, "widgetStreamAssist", inner).json(), False))
    assert answer == reply_for("read it", [], 40, [("text/plain", data)]).text

    inner = {**inner, "fileIds": [], "query": {"parts": [{"text": "a cat"}]},
             "toolsSpec": {"imageGenerationSpec": {}}}
    elements = widget(base, "widgetStreamAssist", inner).json()
    [reply] = [r for e in elements for r in e["streamAssistResponse"]["answer"].get("replies", [])]
    image_id = reply["groundedContent"]["content"]["file"]["fileId"]
    listed = widget(base, "widgetListSessionFileMetadata",
                    {"name": session, "filter": "file_origin_type = AI_GENERATED"}).json()
    [item] = listed["listSessionFileMetadataResponse"]["fileMetadata"]
    query = f":downloadFile?fileId={image_id}&alt=media"
    raw = requests.get(f"{base}/v1alpha/{item['session']}{query}", headers=bearer(base), timeout=5)
    assert raw.status_code == 200 and raw.content == png_for("a cat")
    encoded = requests.get(f"{base}/download/v1alpha/{item['session']}{query}", timeout=5,
                           headers={**bearer(base), "x-goog-encode-response-if-executable": "base64"})
    assert encoded.headers["x-goog-safety-content-type"] == "image/png"
    assert base64.b64decode(encoded.content) == png_for("a cat")


def test_a_slow_generation_is_silent_until_the_file_and_leaves_none_when_left(base):
    """video_seconds: the stream is silent between its first element and the file reply; a
    client that leaves during that silence is logged as aborted and no file is made."""
    requests.patch(base + "/__sim__/settings", json={"video_seconds": 30}, timeout=5).raise_for_status()
    session = widget(base, "widgetCreateSession", {}).json()["session"]["name"]
    inner = {**ASSIST_DEFAULTS, "session": session, "query": {"parts": [{"text": "slow waves"}]},
             "toolsSpec": {"videoGenerationSpec": {}}}
    response = widget(base, "widgetStreamAssist", inner, stream=True)
    reads, received = response.iter_content(chunk_size=None), b""
    while b",\n" not in received:
        received += next(reads)  # the first element came; the file reply is 30 s away
    assert b'"file"' not in received
    time.sleep(1)  # without the silence the rest (3 small elements) would be sent by now
    [entry] = [e for e in requests.get(base + "/__sim__/requests", timeout=5).json()["requests"]
               if e["verb"] == "widgetStreamAssist"]
    assert entry["outcome"] == "streaming"
    response.close()
    wait_for_entry(base, "widgetStreamAssist", "aborted", timeout=10)
    listed = widget(base, "widgetListSessionFileMetadata", {"name": session}).json()
    assert listed == {"listSessionFileMetadataResponse": {}}
