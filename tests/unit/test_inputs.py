"""Files of a turn from a client's data URL (app/inputs.py): decoded, validated, capped."""
import base64
import http.server
import threading

import pytest

from app import fetch_url, inputs
from app.errors import ApiError
from app.inputs import FileSource, decode_data_url, load

P = "messages[0].content[0].image_url.url"


def test_a_base64_data_url_is_its_type_and_bytes():
    assert decode_data_url("data:Image/PNG;base64,aGk=", P, 10) == ("image/png", b"hi")
    assert decode_data_url("data:text/plain;charset=utf-8;base64,aG\nk=", P, 10) == ("text/plain", b"hi")


@pytest.mark.parametrize("url", ["data:image/png,hi", "data:image/png;base64,a$b=", "data:image/png;base64,",
                                 "data:no type;base64,aGk=", "nodata"])
def test_malformed_data_urls_are_400s_naming_the_part(url):
    with pytest.raises(ApiError) as excinfo:
        decode_data_url(url, P, 10)
    assert excinfo.value.status == 400 and excinfo.value.param == P


def test_the_cap_holds_before_decoding_and_after():
    encoded = base64.b64encode(b"x" * 11).decode()
    with pytest.raises(fetch_url.FileTooLarge) as excinfo:
        decode_data_url(f"data:image/png;base64,{encoded}", P, 10)
    assert excinfo.value.param == P
    with pytest.raises(fetch_url.FileTooLarge):
        decode_data_url("data:image/png;base64," + "A" * 10_000, P, 10)
    assert decode_data_url(f"data:image/png;base64,{base64.b64encode(b'x' * 10).decode()}", P, 10)[1] == b"x" * 10


def test_a_file_part_keeps_its_name_and_must_be_a_data_url():
    source = FileSource("data:application/pdf;base64,JVBERg==", "f", name="a.pdf")
    assert load(source, 100).name == "a.pdf" and load(source, 100).mime_type == "application/pdf"
    with pytest.raises(ApiError) as excinfo:
        load(FileSource("https://example.com/a.pdf", "f"), 100)
    assert excinfo.value.param == "f"


def test_an_image_url_that_points_at_this_machine_is_refused_with_its_param():
    with pytest.raises(fetch_url.UrlNotAllowed) as excinfo:
        load(FileSource("http://127.0.0.1:9/x.png", P, image=True, remote=True), 100)
    assert excinfo.value.param == P


class _Images(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body, kind = {".png": (b"\x89PNG-bytes", "image/png"), ".pdf": (b"%PDF-1.4", "application/pdf")}.get(
            self.path[-4:], (b"<html>", "text/html"))
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def image_host(monkeypatch):
    """A local server playing a public host: the fetcher's address rule is swapped for the test
    only (production code cannot reach those hooks)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    monkeypatch.setattr(inputs.fetch_url, "fetch", lambda url, allowed, *, max_bytes, timeout: fetch_url.Fetcher(
        max_bytes=max_bytes, timeout=timeout, resolve=lambda host, p: ["127.0.0.1"],
        address_allowed=lambda address: True).fetch(url, allowed))
    yield f"http://images.example.com:{port}"
    server.shutdown()
    server.server_close()


def test_an_http_image_url_is_fetched_with_its_type_and_name(image_host):
    file = load(FileSource(f"{image_host}/cat.png", P, image=True, remote=True), 100)
    assert (file.data, file.mime_type, file.name, file.param) == (b"\x89PNG-bytes", "image/png", "cat.png", P)


def test_an_http_url_that_serves_no_image_is_refused_with_its_param(image_host):
    with pytest.raises(fetch_url.UnsupportedFileType) as excinfo:
        load(FileSource(f"{image_host}/page", P, image=True, remote=True), 100)
    assert excinfo.value.param == P and "text/html" in excinfo.value.message
    with pytest.raises(fetch_url.FileTooLarge):
        load(FileSource(f"{image_host}/cat.png", P, image=True, remote=True), 4)


def test_a_url_of_other_types_is_fetched_when_its_part_takes_them(image_host):
    """Anthropic's document block takes a PDF by URL (remote_types); an image part never does."""
    pdf = FileSource(f"{image_host}/doc.pdf", P, remote=True, remote_types=("application/pdf",))
    assert load(pdf, 100).mime_type == "application/pdf"
    with pytest.raises(fetch_url.UnsupportedFileType):
        load(FileSource(f"{image_host}/doc.pdf", P, image=True, remote=True), 100)
    with pytest.raises(fetch_url.UnsupportedFileType):
        load(FileSource(f"{image_host}/cat.png", P, remote=True, remote_types=("application/pdf",)), 100)
