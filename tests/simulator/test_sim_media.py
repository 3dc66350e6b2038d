"""Image and video answers with file replies (§6.4, §12) and downloadFile in both URL forms,
raw and base64 (§5.5, §13 Q7)."""

import base64
import hashlib
import json
import threading
import struct
import zlib

import pytest

from simulator.media import mp4_for, png_for
from simulator.replies import reply_for
from tests.simulator.simkit import ASSIST_DEFAULTS, OTHER, WIDGET_HEADERS, Upstream, texts
from tests.simulator.test_sim_files import PNG_1PX, uploaded

IMAGE_TOOLS = {"imageGenerationSpec": {}}
VIDEO_TOOLS = {"videoGenerationSpec": {}}


def generate(up, session, prompt, tools):
    inner = {**ASSIST_DEFAULTS, "session": session, "query": {"parts": [{"text": prompt}]},
             "toolsSpec": tools}
    response = up.call("widgetStreamAssist", inner)
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data())


def file_replies(elements):
    return [reply["groundedContent"]["content"]["file"]
            for element in elements
            for reply in element.get("streamAssistResponse", {}).get("answer", {}).get("replies", [])
            if "file" in reply["groundedContent"].get("content", {})]


def fetch(up, url, token=None, **headers):
    auth = {**WIDGET_HEADERS, "authorization": f"Bearer {token or up.token()}", **headers}
    return up.client.get(url, headers=auth)


def qualified(sim, session):
    project = sim.get("settings").get_json()["project_number"]
    return f"projects/{project}/locations/global/{session}"


def png_pixels(data: bytes):
    """Width, height and the decoded rows of an 8-bit RGB PNG, checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 2) and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (1 + 3 * width)
    return width, height


def mp4_boxes(data: bytes):
    pos, boxes = 0, []
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        assert size >= 8 and pos + size <= len(data)
        boxes.append((kind, data[pos + 8:pos + size]))
        pos += size
    return boxes


def test_image_answer_is_a_file_reply_of_a_real_png(up, sim):
    session = up.create_session()
    elements = generate(up, session, "a red fox", IMAGE_TOOLS)
    assert texts(elements, thought=False) == [] and texts(elements, thought=True) == []
    [file] = file_replies(elements)
    assert file["mimeType"] == "image/png" and file["fileId"].isdigit()
    assert elements[-1]["streamAssistResponse"]["answer"]["state"] == "SUCCEEDED"
    listed = up.call("widgetListSessionFileMetadata", {
        "name": session, "filter": "file_origin_type = AI_GENERATED"}).get_json()
    [item] = listed["listSessionFileMetadataResponse"]["fileMetadata"]
    assert item["fileId"] == file["fileId"] and item["fileOriginType"] == "AI_GENERATED"
    assert item["session"] == qualified(sim, session)
    assert item["views"]["thumbnail_256x256"]["imageCharacteristics"] == {"width": 64, "height": 64}
    body = fetch(up, f"/v1alpha/{item['session']}:downloadFile?fileId={file['fileId']}&alt=media")
    assert body.status_code == 200 and body.headers["content-type"] == "image/png"
    assert body.data == png_for("a red fox")
    assert png_pixels(body.data) == (64, 64)
    assert item["byteSize"] == str(len(body.data))
    [stored] = sim.get("sessions").get_json()["sessions"]
    assert stored["files"][0]["sha256"] == hashlib.sha256(body.data).hexdigest()


def test_video_bytes_makes_a_video_of_that_payload(up, sim):
    assert sim.patch("settings", json={"video_bytes": 3_000_000}).status_code == 200
    session = up.create_session()
    [file] = file_replies(generate(up, session, "long waves", VIDEO_TOOLS))
    body = fetch(up, f"/v1alpha/{session}:downloadFile?fileId={file['fileId']}&alt=media").data
    assert body == mp4_for("long waves", 3_000_000) and len(body) > 3_000_000
    assert dict(mp4_boxes(body))[b"mdat"][:32] == mp4_for("long waves")[-2048:][:32]
    assert sim.patch("settings", json={"video_bytes": -1}).status_code == 400


def test_media_text_puts_the_text_answer_before_the_file_reply(up, sim):
    session = up.create_session()
    elements = generate(up, session, "a fox", IMAGE_TOOLS)
    assert "".join(texts(elements, False)) == "" and len(file_replies(elements)) == 1
    assert sim.patch("settings", json={"media_text": True}).status_code == 200
    elements = generate(up, session, "a fox", IMAGE_TOOLS)
    assert "".join(texts(elements, False)) == reply_for("a fox", ["a fox"], 40).text
    assert len(file_replies(elements)) == 1 and file_replies(elements[-2:])  # the file after the text


def test_video_answer_is_an_mp4_box_structure(up, sim):
    session = up.create_session()
    [file] = file_replies(generate(up, session, "waves", VIDEO_TOOLS))
    assert file["mimeType"] == "video/mp4"
    body = fetch(up, f"/v1alpha/{session}:downloadFile?fileId={file['fileId']}&alt=media")
    assert body.status_code == 200 and body.headers["content-type"] == "video/mp4"
    assert body.data == mp4_for("waves")
    boxes = mp4_boxes(body.data)
    assert [kind for kind, _ in boxes] == [b"ftyp", b"moov", b"mdat"]
    assert boxes[0][1][:4] == b"isom" and mp4_boxes(boxes[1][1])[0][0] == b"mvhd"


def test_both_url_forms_and_the_redirect_switch(up, sim):
    session = up.create_session()
    [file] = file_replies(generate(up, session, "two forms", IMAGE_TOOLS))
    query = f":downloadFile?fileId={file['fileId']}&alt=media"
    full = qualified(sim, session)
    for url in (f"/v1alpha/{session}{query}", f"/v1alpha/{full}{query}",
                f"/download/v1alpha/{full}{query}"):
        assert fetch(up, url).data == png_for("two forms"), url
    assert fetch(up, f"/download/v1alpha/{session}{query}").status_code == 404  # needs the project
    sim.patch("settings", json={"download_redirect": True})
    moved = fetch(up, f"/v1alpha/{session}{query}")
    assert moved.status_code == 302
    assert moved.headers["location"].endswith(f"/download/v1alpha/{full}{query}")
    assert fetch(up, f"/download/v1alpha/{full}{query}").data == png_for("two forms")


def test_base64_bodies(up, sim):
    session = up.create_session()
    [file] = file_replies(generate(up, session, "encoded", IMAGE_TOOLS))
    url = f"/v1alpha/{session}:downloadFile?fileId={file['fileId']}&alt=media"
    asked = fetch(up, url, **{"x-goog-encode-response-if-executable": "base64"})
    assert asked.data.startswith(b"iVBORw0KGgo")
    assert base64.b64decode(asked.data) == png_for("encoded")
    assert asked.headers["x-goog-safety-encoding"] == "base64"
    assert asked.headers["x-goog-safety-content-type"] == "image/png"
    assert fetch(up, url).data == png_for("encoded")  # not asked: raw
    sim.patch("settings", json={"download_encoding": "base64"})
    assert base64.b64decode(fetch(up, url).data) == png_for("encoded")
    sim.patch("settings", json={"download_encoding": "raw"})
    assert fetch(up, url, **{"x-goog-encode-response-if-executable": "base64"}).data == png_for("encoded")


def test_uploaded_files_download_too(up):
    session = up.create_session()
    file_id = uploaded(up, session, PNG_1PX)
    assert fetch(up, f"/v1alpha/{session}:downloadFile?fileId={file_id}&alt=media").data == PNG_1PX


def test_download_is_authenticated_and_owned(up, sim, client):
    session = up.create_session()
    [file] = file_replies(generate(up, session, "mine", IMAGE_TOOLS))
    url = f"/v1alpha/{session}:downloadFile?fileId={file['fileId']}&alt=media"
    assert client.get(url, headers=WIDGET_HEADERS).status_code == 401
    assert fetch(up, url, token="a.b.c").status_code == 401
    sim.post("accounts", json=OTHER)
    other = Upstream(client, OTHER["csesidx"], OTHER["secure_c_ses"], OTHER["config_id"])
    assert fetch(other, url).status_code == 404
    assert fetch(up, url.replace(file["fileId"], "12345678901234567890")).status_code == 404
    assert fetch(up, url.replace("&alt=media", "")).status_code == 400
    sim.fault(kind="http_error", status=503, verb="downloadFile")
    assert fetch(up, url).status_code == 503
    assert fetch(up, url).status_code == 200
    entries = [e for e in sim.requests() if e.get("verb") == "downloadFile"]
    assert entries and entries[-1]["status"] == 200


def test_another_session_cannot_download_the_file(up):
    first, second = up.create_session(), up.create_session()
    [file] = file_replies(generate(up, first, "bound", IMAGE_TOOLS))
    url = f"/v1alpha/{second}:downloadFile?fileId={file['fileId']}&alt=media"
    assert fetch(up, url).status_code == 404


def test_a_failed_generation_leaves_no_file(up, sim):
    session = up.create_session()
    sim.fault(kind="stream_429", after=1)
    elements = generate(up, session, "fails", IMAGE_TOOLS)
    assert file_replies(elements) == [] and "error" in elements[-1]
    listed = up.call("widgetListSessionFileMetadata", {"name": session}).get_json()
    assert listed == {"listSessionFileMetadataResponse": {}}


@pytest.mark.parametrize("tools", [IMAGE_TOOLS, VIDEO_TOOLS])
def test_generation_is_kept_in_the_session(up, tools):
    session = up.create_session()
    [file] = file_replies(generate(up, session, "kept", tools))
    got = up.call("widgetGetSession", {"name": session.rsplit("/", 1)[1]}).get_json()
    [turn] = got["session"]["turns"]
    assert turn["detailedAssistAnswer"]["replies"][-1]["groundedContent"]["content"]["file"] == file


@pytest.mark.parametrize("kind", ["multi_reply", "large", "rich", "skip_late", "stream_401",
                                  "thoughts_only", "empty", "skip", "malformed", "truncate"])
def test_every_answer_fault_applies_to_a_generation(up, sim, kind):
    """Shapes of answer text leave a file answer as it is (a malformed element comes on
    top); the others cut it as they cut text, and a cut answer makes no file. None is a 500."""
    session = up.create_session()
    sim.fault(kind=kind, after=1)
    inner = {**ASSIST_DEFAULTS, "session": session, "query": {"parts": [{"text": kind}]},
             "toolsSpec": IMAGE_TOOLS}
    response = up.call("widgetStreamAssist", inner)
    assert response.status_code == 200, response.get_data(as_text=True)
    response.get_data()
    listed = up.call("widgetListSessionFileMetadata", {"name": session}).get_json()
    made = listed["listSessionFileMetadataResponse"].get("fileMetadata", [])
    assert len(made) == (1 if kind in ("multi_reply", "large", "rich", "malformed") else 0)


def test_a_slow_download_answers_once_released(up, sim):
    session = up.create_session()
    [file] = file_replies(generate(up, session, "slowly", IMAGE_TOOLS))
    url = f"/v1alpha/{session}:downloadFile?fileId={file['fileId']}&alt=media"
    sim.fault(kind="slow_download")
    answered = []
    reader = threading.Thread(target=lambda: answered.append(fetch(up, url)))
    reader.start()
    reader.join(0.3)
    assert reader.is_alive() and not answered  # held
    assert sim.post("release").get_json() == {"released": 1}
    reader.join(5)
    assert answered[0].status_code == 200 and answered[0].data == png_for("slowly")
    sim.fault(kind="slow_download", seconds=0.05)  # or it lets go by itself
    assert fetch(up, url).data == png_for("slowly")
