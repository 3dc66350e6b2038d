"""GeminiBusiness's file verbs against the real simulator process (§5.3–§5.5, §6.4): upload and
refer by fileIds, generate an image, list, download in both URL forms and both body encodings."""
import dataclasses
import hashlib

import pytest

from app.config import Config
from app.upstream import errors
from app.upstream.client import GeminiBusiness
from app.upstream.credential import Credential
from app.upstream.events import FileReply, Text
from app.upstream.files import AI_GENERATED, USER_UPLOADED
from app.upstream.models import IMAGE, VIDEO, Model
from simulator.media import mp4_for, png_for
from tests.integration.conftest import CANARY

ACCOUNT = Credential(CANARY["id"], CANARY["secure_c_ses"], CANARY["csesidx"], CANARY["config_id"],
                     CANARY["host_c_oses"])
IMAGE_MODEL = Model("gemini-3.1-flash-image", None, IMAGE)
VIDEO_MODEL = Model("veo-3.1-lite-generate", None, VIDEO)


def client_for(simulator, **settings) -> GeminiBusiness:
    return GeminiBusiness(Config.from_env({**simulator.proxy_env(), "UPSTREAM_READ_TIMEOUT": "5", **settings}))


@pytest.fixture
def client(simulator):
    return client_for(simulator)


def generate(client, session: str, model: Model, prompt: str) -> list:
    return list(client.stream_assist(ACCOUNT, session, prompt, model.upstream_id, tool=model.tool))


def assist_sent(simulator) -> dict:
    return [r for r in simulator.requests_log() if r["verb"] == "widgetStreamAssist"][0]["body"]["streamAssistRequest"]


def test_an_upload_reaches_the_answer_intact(simulator, client):
    session = client.create_session(ACCOUNT)
    data = bytes(range(256)) * 40 + b"\x89PNG"
    file_id = client.upload_file(ACCOUNT, session, data, "image/png", "upload_1_abcdef.png")
    events = list(client.stream_assist(ACCOUNT, session, "what is in the file?", None, file_ids=[file_id]))
    text = "".join(e.text for e in events if isinstance(e, Text))
    assert assist_sent(simulator)["fileIds"] == [file_id]
    assert f"Attached file 1: image/png, {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}." in text
    sent = [r for r in simulator.requests_log() if r["verb"] == "widgetAddContextFile"][0]
    assert sent["status"] == 200 and "footprint" not in sent
    [listed] = client.list_session_files(ACCOUNT, session, origin=USER_UPLOADED)
    assert (listed.file_id, listed.mime_type, listed.byte_size) == (file_id, "image/png", len(data))


def test_an_unsupported_type_is_a_clear_error(client):
    session = client.create_session(ACCOUNT)
    with pytest.raises(errors.UnsupportedFileType) as caught:
        client.upload_file(ACCOUNT, session, b"RIFF0000WEBPVP8 ", "image/webp", "upload_1_abcdef.webp")
    assert caught.value.mime_type == "image/webp"
    assert (caught.value.http_status, caught.value.error_code) == (400, "unsupported_file_type")
    assert "'image/webp'" in caught.value.client_message()


def test_an_empty_session_lists_no_files(client):
    session = client.create_session(ACCOUNT)
    assert client.list_session_files(ACCOUNT, session) == []
    assert client.list_session_files(ACCOUNT, session, origin=AI_GENERATED) == []


@pytest.mark.parametrize("encoding", ["raw", "base64"])
@pytest.mark.parametrize("redirect", [False, True])
def test_a_generated_image_downloads_byte_identical_in_both_forms(simulator, client, encoding, redirect):
    simulator.control("PATCH", "settings", json={"download_encoding": encoding, "download_redirect": redirect})
    session = client.create_session(ACCOUNT)
    prompt = f"a lighthouse at dusk ({encoding}, {redirect})"
    events = generate(client, session, IMAGE_MODEL, prompt)
    [reply] = [e for e in events if isinstance(e, FileReply)]
    assert reply.mime_type == "image/png" and not [e for e in events if isinstance(e, Text)]
    [listed] = client.list_session_files(ACCOUNT, session, origin=AI_GENERATED)
    assert listed.file_id == reply.file_id and listed.session.startswith("projects/")
    for name, form in ((session, 1), (listed.session, 1), (listed.session, 2)):
        assert client.download_file(ACCOUNT, name, reply.file_id, form=form) == (png_for(prompt), "image/png")
    downloads = [r for r in simulator.requests_log() if r["verb"] == "downloadFile"]
    assert all("footprint" not in r for r in downloads)
    assert [r["status"] for r in downloads] == ([302, 200, 302, 200, 200] if redirect else [200] * 3)
    assert all(r["path"].startswith("/download/v1alpha/projects/") for r in downloads if r["status"] == 200) \
        or not redirect
    sent = assist_sent(simulator)
    assert sent["toolsSpec"] == {"imageGenerationSpec": {}} and "assistGenerationConfig" not in sent


def test_a_video_model_sends_the_video_spec_and_downloads(simulator, client):
    session = client.create_session(ACCOUNT)
    [reply] = [e for e in generate(client, session, VIDEO_MODEL, "waves") if isinstance(e, FileReply)]
    assert client.download_file(ACCOUNT, session, reply.file_id) == (mp4_for("waves"), "video/mp4")
    assert assist_sent(simulator)["toolsSpec"] == {"videoGenerationSpec": {}}


@pytest.mark.parametrize("encoding", ["raw", "base64"])
def test_a_download_over_max_file_mb_is_refused(simulator, encoding):
    simulator.control("PATCH", "settings", json={"download_encoding": encoding})
    client = client_for(simulator)
    # MAX_FILE_MB counts whole megabytes; the simulator's PNG is about 12 KB, so the cap the
    # setting produces is set smaller here, on the value the client reads
    client.config = dataclasses.replace(client.config, max_file_bytes=4096)
    session = client.create_session(ACCOUNT)
    [reply] = [e for e in generate(client, session, IMAGE_MODEL, "big") if isinstance(e, FileReply)]
    with pytest.raises(errors.FileTooLarge) as caught:
        client.download_file(ACCOUNT, session, reply.file_id)
    assert "MAX_FILE_MB" in caught.value.client_message()


def test_a_download_refused_once_with_401_gets_a_fresh_token(simulator, client):
    """§5.5: downloads are signed like widget calls, and retried once on a new JWT."""
    session = client.create_session(ACCOUNT)
    [reply] = [e for e in generate(client, session, IMAGE_MODEL, "retry") if isinstance(e, FileReply)]
    simulator.fault("jwt_expired", verb="downloadFile", csesidx=CANARY["csesidx"])
    assert client.download_file(ACCOUNT, session, reply.file_id) == (png_for("retry"), "image/png")
    statuses = [(r["verb"], r["status"]) for r in simulator.requests_log()]
    assert statuses[-3:] == [("downloadFile", 401), ("getoxsrf", 200), ("downloadFile", 200)]
