"""Files and images IN through OpenAI chat completions (issue 9 §2), openai SDK against
gunicorn and the simulator: the simulator's answer names the sha256 of each file it received,
so the bytes are proven to arrive intact in the session the query went to."""
import hashlib
import http.server
import ssl
import subprocess
import threading

import openai
import pytest

from simulator.replies import reply_for
from tests.integration.conftest import API_KEY, WORDS, proxy_env
from tests.integration.helpers import data_url, openai_client, send_body, tiny_png, uploads
from tests.integration.image_host import IMAGE_HOST
from tests.servers import Gunicorn, free_port


def ask(server, parts, stream):
    """The answer's text to one user message of content parts, streamed or not."""
    client = openai_client(server)
    messages = [{"role": "user", "content": parts}]
    if not stream:
        return client.chat.completions.create(model="gemini-2.5-flash", messages=messages).choices[0].message.content
    chunks = client.chat.completions.create(model="gemini-2.5-flash", messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def picture(url):
    return [{"type": "text", "text": "What is in this picture?"}, {"type": "image_url", "image_url": {"url": url}}]


def answer_with(*files, query="What is in this picture?"):
    """The simulator's whole answer to query with these (type, bytes) attached: it names each
    file's size and sha256 (simulator/replies.py)."""
    return reply_for(query, [], WORDS, files=list(files)).text


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
def test_a_data_url_png_arrives_byte_for_byte(proxy, simulator, stream):
    png = tiny_png()
    assert ask(proxy, picture(data_url("image/png", png)), stream) == answer_with(("image/png", png))
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


def test_a_pdf_file_part_arrives_byte_for_byte_under_its_filename(proxy, simulator):
    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
           b"trailer<</Root 1 0 R>>\n%%EOF\n\x00\xff\xfe binary tail")
    answer = ask(proxy, [{"type": "text", "text": "Summarise the report."},
                         {"type": "file", "file": {"filename": "report.pdf",
                                                   "file_data": data_url("application/pdf", pdf)}}], stream=False)
    assert answer == answer_with(("application/pdf", pdf), query="Summarise the report.")
    [upload] = uploads(simulator)
    assert (upload["body"]["addContextFileRequest"]["fileName"],
            upload["body"]["addContextFileRequest"]["mimeType"]) == ("report.pdf", "application/pdf")


class ImageServer(http.server.BaseHTTPRequestHandler):
    """Serves tiny_png() at /cat.png; /hop redirects to /cat.png by its 127.0.0.1 address.
    `requests` records (path, Host header) of every request it got."""
    requests = []

    def do_GET(self):
        ImageServer.requests.append((self.path, self.headers["Host"]))
        if self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/cat.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        send_body(self, 200, "image/png", tiny_png())

    def log_message(self, *args):
        pass


def serve(tls: ssl.SSLContext | None = None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), ImageServer)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    ImageServer.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def local_server():
    server = serve()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def image_host_certificate(tmp_path_factory):
    """A self-signed certificate for IMAGE_HOST (openssl, which test.sh installs)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={IMAGE_HOST}", "-addext", f"subjectAltName=DNS:{IMAGE_HOST}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_server(image_host_certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*image_host_certificate)
    server = serve(context)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def image_host_proxy(simulator, tmp_path_factory, image_host_certificate):
    """The gateway with one test-only name, IMAGE_HOST, that reaches the image servers here (see
    tests/integration/image_host_wsgi.py); the SSRF guard is on for every other URL."""
    server = Gunicorn(proxy_env(simulator, tmp_path_factory, API_KEYS=API_KEY,
                                IMAGE_HOST_CA=str(image_host_certificate[0])),
                      workers=1, app="tests.integration.image_host_wsgi:app")
    yield server
    server.stop()


@pytest.mark.parametrize("scheme, stream", [("http", False), ("http", True), ("https", False)])
def test_an_image_url_is_downloaded_and_arrives_byte_for_byte(image_host_proxy, simulator, request, scheme, stream):
    server = request.getfixturevalue("local_server" if scheme == "http" else "tls_server")
    port = server.server_address[1]
    answer = ask(image_host_proxy, picture(f"{scheme}://{IMAGE_HOST}:{port}/cat.png"), stream)
    assert answer == answer_with(("image/png", tiny_png()))
    # fetched once, by the name the client gave (the connection is pinned to the checked address;
    # for https the certificate was checked for that name)
    assert ImageServer.requests == [("/cat.png", f"{IMAGE_HOST}:{port}")]
    [upload] = uploads(simulator)
    assert upload["body"]["addContextFileRequest"]["fileName"] == "cat.png"


@pytest.mark.parametrize("path, fetched", [
    ("http://127.0.0.1:{port}/cat.png", []),  # the address IMAGE_HOST reaches, written by the client
    ("http://{image_host}:{port}/hop", ["/hop"]),  # IMAGE_HOST redirecting to it: the second hop is checked
], ids=["address", "redirect"])
def test_the_guard_stays_on_beside_the_test_host(image_host_proxy, simulator, local_server, path, fetched):
    url = path.format(port=local_server.server_address[1], image_host=IMAGE_HOST)
    with pytest.raises(openai.BadRequestError) as excinfo:
        ask(image_host_proxy, picture(url), stream=False)
    error = excinfo.value.response.json()["error"]
    assert (error["code"], error["param"]) == ("url_not_allowed", "messages[0].content[1].image_url.url")
    assert [path for path, _ in ImageServer.requests] == fetched
    assert uploads(simulator) == []


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
    assert ImageServer.requests == []
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
