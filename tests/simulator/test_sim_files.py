"""Files in sessions: widgetAddContextFile, the fileIds of widgetStreamAssist, an answer that
proves the bytes arrived (§5.3, §5.2, §12), widgetListSessionFileMetadata (§5.4)."""

import base64
import hashlib
import json
import re

import pytest

from simulator.replies import reply_for
from tests.simulator.simkit import ASSIST_DEFAULTS, OTHER, Upstream, texts

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


@pytest.fixture
def other(client, sim):
    sim.post("accounts", json=OTHER)
    return Upstream(client, OTHER["csesidx"], OTHER["secure_c_ses"], OTHER["config_id"])


def upload(up, session, data: bytes, mime="image/png", name="upload_1767000000_a1b2c3.png",
           contents=None):
    return up.call("widgetAddContextFile", {
        "name": session, "fileName": name, "mimeType": mime,
        "fileContents": base64.b64encode(data).decode() if contents is None else contents})


def uploaded(up, session, data, mime="image/png") -> str:
    response = upload(up, session, data, mime)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["addContextFileResponse"]["fileId"]


def ask(up, session, text, file_ids):
    inner = {**ASSIST_DEFAULTS, "session": session, "query": {"parts": [{"text": text}]},
             "fileIds": file_ids, "assistGenerationConfig": {"modelId": "gemini-2.5-flash"}}
    return up.call("widgetStreamAssist", inner)


def test_upload_answers_as_documented(up):
    session = up.create_session()
    response = upload(up, session, PNG_1PX)
    assert response.status_code == 200
    answer = response.get_json()
    assert set(answer) == {"addContextFileResponse"}
    body = answer["addContextFileResponse"]
    assert body["session"] == session
    assert re.fullmatch(r"\d{20}", body["fileId"])
    assert isinstance(body["tokenCount"], str) and body["tokenCount"].isdigit()


@pytest.mark.parametrize("mime", ["image/webp", "image/gif", "audio/wav", "application/zip"])
def test_unsupported_type_is_the_documented_400(up, mime):
    response = upload(up, up.create_session(), b"GIF89a....", mime)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == f"Unsupported file type: {mime}"


@pytest.mark.parametrize("mime", ["image/png", "image/jpeg", "application/pdf", "text/plain"])
def test_documented_types_are_taken(up, mime):
    assert upload(up, up.create_session(), b"some bytes", mime).status_code == 200


def test_accepted_types_are_a_setting(up, sim):
    sim.patch("settings", json={"upload_mime_types": ["image/png", "image/webp"]})
    session = up.create_session()
    assert upload(up, session, b"RIFF", "image/webp").status_code == 200
    assert upload(up, session, b"%PDF", "application/pdf").status_code == 400
    assert sim.patch("settings", json={"upload_mime_types": ["png"]}).status_code == 400


@pytest.mark.parametrize("contents", [
    base64.urlsafe_b64encode(b"\xfb\xff\xfe" * 4).decode(),  # URL-safe alphabet
    "aGVsbG8",  # padding left off
    "", "not base64!",
])
def test_contents_must_be_standard_base64(up, contents):
    response = upload(up, up.create_session(), b"", contents=contents)
    assert response.status_code == 400


def test_upload_needs_fields_and_a_session_of_the_caller(up, other):
    session = up.create_session()
    response = up.call("widgetAddContextFile", {"name": session, "mimeType": "image/png",
                                                "fileContents": "AAAA"})
    assert response.status_code == 400 and "fileName" in response.get_json()["error"]["message"]
    response = up.call("widgetAddContextFile", {"name": session, "fileUri": "https://x.test/a.png"})
    assert response.status_code == 400
    assert upload(other, session, PNG_1PX).status_code == 404


def test_answer_proves_the_bytes_arrived(up, sim):
    session = up.create_session()
    text = "naïve café\nzweite Zeile \"quoted\"".encode("utf-8")
    image = PNG_1PX + bytes(range(256))
    ids = [uploaded(up, session, image), uploaded(up, session, text, "text/plain")]
    response = ask(up, session, "describe these", ids)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = "".join(texts(json.loads(response.get_data()), thought=False))
    assert answer == reply_for("describe these", [], 40,
                               [("image/png", image), ("text/plain", text)]).text
    assert (f"Attached file 1: image/png, {len(image)} bytes, "
            f"sha256 {hashlib.sha256(image).hexdigest()}.") in answer
    assert 'text: "naïve café\\nzweite Zeile \\"quoted\\""' in answer
    [stored] = sim.get("sessions").get_json()["sessions"]
    assert stored["turns"][0]["file_ids"] == ids
    assert [f["sha256"] for f in stored["files"]] == [hashlib.sha256(image).hexdigest(),
                                                      hashlib.sha256(text).hexdigest()]
    got = up.call("widgetGetSession", {"name": session.rsplit("/", 1)[1]}).get_json()
    assert got["session"]["turns"][0]["query"]["contextFiles"] == [
        {"sessionContextFileId": i} for i in ids]


def test_a_file_id_is_bound_to_its_session(up):
    first, second = up.create_session(), up.create_session()
    file_id = uploaded(up, first, PNG_1PX)
    response = ask(up, second, "use the other session's file", [file_id])
    assert response.status_code == 400
    assert file_id in response.get_json()["error"]["message"]
    assert ask(up, first, "use my file", [file_id]).status_code == 200
    assert ask(up, first, "made up", ["12345678901234567890"]).status_code == 400
    assert ask(up, first, "not a list", file_id).status_code == 400


def test_no_files_leaves_the_answer_unchanged(up):
    session = up.create_session()
    response = ask(up, session, "plain", [])
    answer = "".join(texts(json.loads(response.get_data()), thought=False))
    assert answer == reply_for("plain", [], 40).text and "Attached" not in answer


def metadata(up, name, **extra):
    response = up.call("widgetListSessionFileMetadata", {"name": name, **extra})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["listSessionFileMetadataResponse"]


def test_list_metadata_with_project_qualified_names(up, sim):
    session = up.create_session()
    assert metadata(up, session) == {}  # an empty repeated field is left out
    file_id = uploaded(up, session, PNG_1PX)
    project = sim.get("settings").get_json()["project_number"]
    qualified = f"projects/{project}/locations/global/{session}"
    for name in (session, qualified):
        [item] = metadata(up, name)["fileMetadata"]
        assert item["session"] == qualified
        assert item["fileId"] == file_id and item["mimeType"] == "image/png"
        assert item["byteSize"] == str(len(PNG_1PX)) and item["tokenCount"].isdigit()
        assert item["fileOriginType"] == "USER_UPLOADED"
        assert {"name", "downloadUri", "uploadTime", "quotaPercentage"} <= set(item)
    uploaded_only = metadata(up, session, filter="file_origin_type = USER_UPLOADED")
    assert [i["fileId"] for i in uploaded_only["fileMetadata"]] == [file_id]
    assert metadata(up, session, filter="file_origin_type = AI_GENERATED") == {}
    wrong = f"projects/1{project}/locations/global/{session}"
    assert up.call("widgetListSessionFileMetadata", {"name": wrong}).status_code == 404
    bad = up.call("widgetListSessionFileMetadata", {"name": session, "filter": "mime = png"})
    assert bad.status_code == 400


def test_metadata_of_another_accounts_session_is_refused(up, other):
    session = up.create_session()
    uploaded(up, session, PNG_1PX)
    assert other.call("widgetListSessionFileMetadata", {"name": session}).status_code == 404
