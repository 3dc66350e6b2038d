"""Files and images IN through OpenAI chat completions (issue 9 §2), openai SDK against
gunicorn and the simulator: the simulator's answer names the sha256 of each file it received,
so the bytes are proven to arrive intact in the session the query went to."""
import base64
import hashlib
import http.server
import threading
import struct
import zlib

import openai
import pytest

from tests.integration.helpers import openai_client
from tests.servers import free_port


def tiny_png() -> bytes:
    """A valid 2x1 PNG made here, so its exact bytes are known."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"\x00\xff\x00\x00\x00\x00\xff"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def data_url(mime, data):
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def uploads(simulator):
    """Uploads the upstream took (a spare session the simulator forgot since is a 404, and the
    gateway uploads again into a session made now)."""
    return [r for r in simulator.requests_log() if r["path"].endswith("widgetAddContextFile") and r["status"] == 200]


def test_a_data_url_png_arrives_byte_for_byte(proxy, simulator):
    png = tiny_png()
    completion = openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=[
        {"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                     {"type": "image_url", "image_url": {"url": data_url("image/png", png)}}]}])
    content = completion.choices[0].message.content
    assert f"Attached file 1: image/png, {len(png)} bytes, sha256 {hashlib.sha256(png).hexdigest()}." in content
    assert 'you said: "What is in this picture?"' in content
    assert len(uploads(simulator)) == 1


def test_a_text_file_part_arrives_with_its_text_and_a_stream_works(proxy, simulator):
    text = "Zeile eins — 你好\nline two\n".encode()
    chunks = openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", stream=True, messages=[
        {"role": "user", "content": [
            {"type": "file", "file": {"filename": "notes.txt", "file_data": data_url("text/plain", text)}},
            {"type": "text", "text": "Summarise the file."}]}])
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert (f"Attached file 1: text/plain, {len(text)} bytes, sha256 {hashlib.sha256(text).hexdigest()}, "
            f'text: "Zeile eins — 你好\\nline two\\n".') in content
    [upload] = uploads(simulator)
    assert upload["body"]["addContextFileRequest"]["fileName"] == "notes.txt"


class Counting(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):
        Counting.hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        body = tiny_png()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Counting)
    Counting.hits = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_an_image_url_on_the_gateways_own_machine_is_refused_unfetched(proxy, simulator, local_server, host):
    url = f"http://{host}:{local_server.server_address[1]}/cat.png"
    with pytest.raises(openai.BadRequestError) as excinfo:
        openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=[
            {"role": "user", "content": [{"type": "text", "text": "hi"},
                                         {"type": "image_url", "image_url": {"url": url}}]}])
    error = excinfo.value.response.json()["error"]
    assert error["code"] == "url_not_allowed"
    assert error["param"] == "messages[0].content[1].image_url.url"
    assert Counting.hits == 0
    assert uploads(simulator) == []


def test_a_type_the_upstream_refuses_is_a_400_naming_it(proxy, simulator):
    with pytest.raises(openai.BadRequestError) as excinfo:
        openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=[
            {"role": "user", "content": [
                {"type": "text", "text": "read this"},
                {"type": "file", "file": {"filename": "a.zip", "file_data": data_url("application/zip", b"PK\x03\x04")}}]}])
    error = excinfo.value.response.json()["error"]
    assert error["code"] == "unsupported_file_type"
    assert "application/zip" in error["message"]
    assert error["param"] == "messages[0].content[1].file.file_data"


def test_input_audio_is_refused_naming_the_part(proxy, simulator):
    with pytest.raises(openai.BadRequestError) as excinfo:
        openai_client(proxy).chat.completions.create(model="gemini-2.5-flash", messages=[
            {"role": "user", "content": [{"type": "text", "text": "listen"},
                                         {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}])
    error = excinfo.value.response.json()["error"]
    assert error["param"] == "messages[0].content[1]" and "input_audio" in error["message"]
    assert uploads(simulator) == []


@pytest.mark.parametrize("url, code", [
    ("data:image/png;base64,!!notbase64", "invalid_value"),
    ("data:image/png,rawbytes", "invalid_value"),
    (data_url("text/plain", b"hello"), "unsupported_file_type"),  # an image_url must be an image
])
def test_bad_data_urls_are_400s_naming_the_part(open_proxy, simulator, url, code):
    with pytest.raises(openai.BadRequestError) as excinfo:
        openai_client(open_proxy, api_key="x").chat.completions.create(model="gemini-2.5-flash", messages=[
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])
    error = excinfo.value.response.json()["error"]
    assert (error["code"], error["param"]) == (code, "messages[0].content[0].image_url.url")
    assert uploads(simulator) == []
