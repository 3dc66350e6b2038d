"""GeminiBusiness against canned HTTP answers (edge cases; the simulator covers the happy path),
on a real socket: a local server (tests/canned_upstream.py, `upstream`) plays getoxsrf and the
widget API (app/upstream/http.py speaks urllib3, which `responses` would not see)."""
import base64
import json

import pytest

from app.upstream.credential import Credential
from app.config import Config
from app.upstream import errors
from app.upstream.client import GeminiBusiness
from app.upstream.events import Text, Thought
from tests.canned_upstream import HANG_UP, CannedServer
from tests.servers import free_port, refusing_port

SESSION = "collections/default_collection/engines/agentspace-engine/sessions/123"
ACCOUNT = Credential("a", "cookie", "42", "cfg-1")
KEY = base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def server():
    canned = CannedServer()
    yield canned
    canned.close()


@pytest.fixture
def upstream(server):
    server.reset()
    return server


@pytest.fixture
def client(upstream):
    return client_of(upstream.origin, f"{upstream.origin}/v1alpha")


def client_of(base, api, read_timeout="5"):
    return GeminiBusiness(Config.from_env({"API_BASE_URL": api, "GEMINI_BUSINESS_URL": base,
                                           "UPSTREAM_READ_TIMEOUT": read_timeout}))


def keys(upstream, count=1):
    for n in range(count):
        upstream.add("GET", "/auth/getoxsrf", body=")]}'\n" + json.dumps({"xsrfToken": KEY, "keyId": f"kid-{n}"}))


def widget(upstream, verb, **kwargs):
    upstream.add("POST", f"/v1alpha/locations/global/{verb}", **kwargs)


def widget_calls(upstream):
    return [call for call in upstream.calls if call.method == "POST"]


def stream_body(*texts, thought=None):
    elements = []
    if thought:
        elements.append({"streamAssistResponse": {"answer": {"replies": [
            {"groundedContent": {"content": {"text": thought, "thought": True}}}]}}})
    for text in texts:
        elements.append({"streamAssistResponse": {"answer": {"replies": [
            {"groundedContent": {"content": {"text": text}}}]}}})
    return json.dumps(elements)


def sent_body(call):
    return call.json()


def test_create_session_sends_the_envelope_and_returns_the_name(client, upstream):
    keys(upstream)
    widget(upstream, "widgetCreateSession", json={"session": {"name": SESSION}})
    assert client.create_session(ACCOUNT) == SESSION
    [call] = widget_calls(upstream)
    assert call.path == "/v1alpha/locations/global/widgetCreateSession"
    assert sent_body(call) == {"configId": "cfg-1", "additionalParams": {"token": "-"},
                               "createSessionRequest": {"session": {"name": "", "displayName": ""}}}
    headers = call.headers
    assert headers["origin"] == "https://business.gemini.google"
    assert headers["authorization"].startswith("Bearer ey")
    assert headers["x-server-timeout"] == "1800"
    assert headers["content-type"] == "application/json"


def test_widget_headers_go_out_in_the_documented_order_without_cookies(client, upstream):
    """The footprint's order (docs/protocol.md §3.2) after Host and Content-Length, nothing
    else: no library's own User-Agent or Accept, no cookie jar (getoxsrf's cookies stay there)."""
    keys(upstream)
    widget(upstream, "widgetCreateSession", json={"session": {"name": SESSION}})
    client.create_session(ACCOUNT)
    call = widget_calls(upstream)[0]
    names = [name.lower() for name in call.header_names]
    assert names == ["host", "content-length", *client.footprint.widget_headers("x")]
    token = call.headers["authorization"].split()[1]
    assert call.headers == {"host": upstream.origin.split("://")[1], "content-length": str(len(call.body)),
                            **client.footprint.widget_headers(token)}


def test_stream_assist_body_and_auto_model(client, upstream):
    keys(upstream)
    widget(upstream, "widgetStreamAssist", body=stream_body("Hi"))
    widget(upstream, "widgetStreamAssist", body=stream_body("Hi"))
    assert list(client.stream_assist(ACCOUNT, SESSION, "hello", None)) == [Text("Hi")]
    assert list(client.stream_assist(ACCOUNT, SESSION, "hello", "gemini-2.5-pro")) == [Text("Hi")]
    auto, pinned = (sent_body(c)["streamAssistRequest"] for c in widget_calls(upstream))
    assert "assistGenerationConfig" not in auto
    assert pinned["assistGenerationConfig"] == {"modelId": "gemini-2.5-pro"}
    assert auto["query"] == {"parts": [{"text": "hello"}]}
    assert auto["session"] == SESSION and auto["fileIds"] == [] and auto["filter"] == ""
    assert auto["answerGenerationMode"] == "NORMAL" and auto["assistSkippingMode"] == "REQUEST_ASSIST"


def test_a_refused_jwt_is_resigned_once_and_the_call_retried(client, upstream):
    keys(upstream, 2)
    widget(upstream, "widgetCreateSession", status=401, json={"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    widget(upstream, "widgetCreateSession", json={"session": {"name": SESSION}})
    assert client.create_session(ACCOUNT) == SESSION
    first, second = (c.headers["authorization"] for c in widget_calls(upstream))
    assert first != second
    assert [c.method for c in upstream.calls] == ["GET", "POST", "GET", "POST"]  # a getoxsrf before each


def test_a_second_401_is_unauthorized(client, upstream):
    keys(upstream, 2)
    for _ in range(2):
        widget(upstream, "widgetCreateSession", status=401, json={"error": {"code": 401, "status": "UNAUTHENTICATED"}})
    with pytest.raises(errors.Unauthorized):
        client.create_session(ACCOUNT)
    assert [c.method for c in upstream.calls] == ["GET", "POST", "GET", "POST"]


@pytest.mark.parametrize("status,body,exc", [
    (429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"}}, errors.RateLimited),
    (400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad"}}, errors.UpstreamRejected),
    (403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}}, errors.Forbidden),
    (404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "gone"}}, errors.SessionGone),
    (500, {"error": {"code": 500, "status": "INTERNAL", "message": "boom"}}, errors.UpstreamFailed),
    (503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}, errors.UpstreamOverloaded),
    (502, "<html>bad gateway</html>", errors.UpstreamFailed),
])
def test_http_errors_map_to_exceptions(client, upstream, status, body, exc):
    keys(upstream)
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    widget(upstream, "widgetStreamAssist", status=status, headers={"Retry-After": "17"}, **kwargs)
    with pytest.raises(exc) as caught:
        client.stream_assist(ACCOUNT, SESSION, "q", None)
    assert caught.value.status == status
    if exc is errors.RateLimited:
        assert caught.value.retry_after == 17


@pytest.mark.parametrize("status,canonical,message", [
    (404, "NOT_FOUND", "Model gemini-9 not found."),
    (400, "INVALID_ARGUMENT", "Model gemini-9 is not supported."),
    (400, "INVALID_ARGUMENT", "Invalid model id."),
])
def test_a_refused_model_is_model_rejected_not_a_lost_session(client, upstream, status, canonical, message):
    keys(upstream)
    widget(upstream, "widgetStreamAssist", status=status, json={"error": {"code": status, "status": canonical,
                                                                "message": message}})
    with pytest.raises(errors.ModelRejected) as caught:
        client.stream_assist(ACCOUNT, SESSION, "q", "gemini-9")
    assert caught.value.model_id == "gemini-9" and caught.value.status == status
    assert not caught.value.blames_account


@pytest.mark.parametrize("model_id,status,message,exc", [
    ("gemini-9", 404, "Session 123 not found.", errors.SessionGone),  # the session, not the model
    (None, 404, "Model unknown.", errors.SessionGone),  # auto sends no modelId: nothing to refuse
    ("gemini-9", 400, "Unsupported file type: image/webp", errors.UpstreamRejected),
])
def test_other_400s_and_404s_keep_their_meaning(client, upstream, model_id, status, message, exc):
    keys(upstream)
    widget(upstream, "widgetStreamAssist", status=status, json={"error": {"code": status, "message": message}})
    with pytest.raises(exc) as caught:
        client.stream_assist(ACCOUNT, SESSION, "q", model_id)
    assert not isinstance(caught.value, errors.ModelRejected)


def test_thoughts_without_an_answer_are_an_empty_answer(client, upstream):
    keys(upstream)
    widget(upstream, "widgetStreamAssist", body=stream_body(thought="hmm"))
    stream = client.stream_assist(ACCOUNT, SESSION, "q", None)
    events = []
    with pytest.raises(errors.EmptyAnswer):
        for event in stream:
            events.append(event)
    assert events == [Thought("hmm")]


def test_a_body_of_tokens_only_is_an_auth_failure_that_drops_the_token(client, upstream):
    keys(upstream)
    widget(upstream, "widgetStreamAssist", body='[{"uToken": "abc"}]')
    stream = client.stream_assist(ACCOUNT, SESSION, "q", None)
    assert ACCOUNT.credentials_key in client.tokens._cache
    with pytest.raises(errors.TokenRefused):  # §9: as a 401, so the caller may retry with a new JWT
        list(stream)
    assert ACCOUNT.credentials_key not in client.tokens._cache


def test_an_unauthenticated_element_drops_the_token(client, upstream):
    keys(upstream)
    widget(upstream, "widgetStreamAssist", body='[{"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "no"}}]')
    with pytest.raises(errors.TokenRefused):
        list(client.stream_assist(ACCOUNT, SESSION, "q", None))
    assert ACCOUNT.credentials_key not in client.tokens._cache


def test_a_truncated_stream_is_broken_not_success(client, upstream):
    keys(upstream)
    widget(upstream, "widgetStreamAssist", body=stream_body("Hello", "world")[:-30])
    seen = []
    with pytest.raises(errors.StreamBroken):
        for event in client.stream_assist(ACCOUNT, SESSION, "q", None):
            seen.append(event)
    assert seen == [Text("Hello")]


def test_connection_failure_is_upstream_failed(client, upstream):
    keys(upstream)
    widget(upstream, "widgetCreateSession", body=HANG_UP)  # connected, then closed without an answer
    with pytest.raises(errors.UpstreamFailed, match="could not reach"):
        client.create_session(ACCOUNT)
    with refusing_port() as port, pytest.raises(errors.UpstreamFailed, match="could not reach") as caught:
        client_of(upstream.origin, f"http://127.0.0.1:{port}/v1alpha").create_session(ACCOUNT)  # nothing listens there
    assert not isinstance(caught.value, errors.UpstreamTimeout)  # refused is no timeout


def test_a_silent_upstream_is_a_timeout(upstream):
    """UPSTREAM_READ_TIMEOUT bounds the wait for an answer: the server accepts and says nothing."""
    import socket
    keys(upstream)
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        client = client_of(upstream.origin, f"http://127.0.0.1:{silent.getsockname()[1]}/v1alpha", "0.2")
        with pytest.raises(errors.UpstreamTimeout, match="widgetStreamAssist timed out"):
            client.stream_assist(ACCOUNT, SESSION, "q", None)
    finally:
        silent.close()


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_chunked_stream_is_parsed_across_chunks_and_a_cut_one_is_broken(client, upstream, encoding):
    """The upstream streams chunked (read chunk by chunk, client.AssistStream._pieces): elements
    split over chunks, a chunk larger than one read, compressed or not; a body whose connection
    closes before the last chunk is broken, never an answer."""
    from tests.canned_upstream import Chunked
    keys(upstream)
    body = stream_body("Hello", "x" * 200_000, "world").encode()  # one element over READ_SIZE
    compress, finish = _encoder(encoding) if encoding != "identity" else (lambda data: data, lambda: b"")
    pieces = [compress(body[i:i + 7]) for i in range(0, 70, 7)] + [compress(body[70:]) + finish()]
    headers = {"Content-Encoding": encoding} if encoding != "identity" else {}
    widget(upstream, "widgetStreamAssist", body=Chunked(pieces), headers=headers)
    widget(upstream, "widgetStreamAssist", body=Chunked(pieces[:-1], cut=True), headers=headers)
    assert list(client.stream_assist(ACCOUNT, SESSION, "q", None)) == [Text("Hello"), Text("x" * 200_000),
                                                                       Text("world")]
    seen = []
    with pytest.raises(errors.StreamBroken):
        for event in client.stream_assist(ACCOUNT, SESSION, "q", None):
            seen.append(event)
    assert seen == [] or seen == [Text("Hello")]


def _encoder(encoding):
    """(compress piece, finish) for a streamed body in `encoding`, each piece flushed."""
    if encoding == "gzip":
        import zlib
        gz = zlib.compressobj(6, zlib.DEFLATED, 31)
        return lambda data: gz.compress(data) + gz.flush(zlib.Z_SYNC_FLUSH), lambda: gz.flush()
    if encoding == "br":
        import brotli
        br = brotli.Compressor()
        return lambda data: br.process(data) + br.flush(), br.finish
    from backports import zstd
    zs = zstd.ZstdCompressor()
    return lambda data: zs.compress(data, zs.FLUSH_BLOCK), lambda: zs.flush(zs.FLUSH_FRAME)


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_a_compressed_stream_is_decoded_as_it_arrives(encoding):
    """A real socket (`responses` decodes bodies itself and would hide this). The server sends
    the first element, compressed and flushed, then waits until the client has parsed it: only
    a client that decodes as bytes arrive gets there. The request advertised the encoding."""
    import http.server
    import threading

    parsed_first = threading.Event()
    seen = {}
    first, rest = stream_body("Hello", "world").split("},", 1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # getoxsrf
            key = (")]}'\n" + json.dumps({"xsrfToken": KEY, "keyId": "kid"})).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(key)))
            self.end_headers()
            self.wfile.write(key)

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["accept-encoding"] = self.headers["Accept-Encoding"]
            compress, finish = _encoder(encoding)
            self.send_response(200)
            self.send_header("Content-Encoding", encoding)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(compress((first + "},").encode()))
            self.wfile.flush()
            seen["waited_out"] = not parsed_first.wait(10)
            self.wfile.write(compress(rest.encode()) + finish())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_port}"
    try:
        client = client_of(origin, f"{origin}/v1alpha")
        events = []
        for event in client.stream_assist(ACCOUNT, SESSION, "q", None):
            events.append(event)
            parsed_first.set()
        assert events == [Text("Hello"), Text("world")]
        assert seen == {"accept-encoding": "gzip, deflate, br, zstd", "waited_out": False}
    finally:
        server.shutdown()


DOWNLOAD_1 = f"/v1alpha/{SESSION}:downloadFile"


def test_a_download_redirect_to_another_origin_is_not_followed(client, upstream):
    """The download carries the account's JWT: a Location on another host is never asked."""
    keys(upstream)
    upstream.add("GET", DOWNLOAD_1, status=302,
                 headers={"location": "https://evil.example/download/v1alpha/x:downloadFile?fileId=77&alt=media"})
    with pytest.raises(errors.UpstreamFailed, match="another origin"):
        client.download_file(ACCOUNT, SESSION, "77")
    assert [c.path for c in upstream.calls[1:]] == [DOWNLOAD_1 + "?fileId=77&alt=media"]


def test_a_download_redirect_on_the_same_origin_is_followed_with_the_token(client, upstream):
    keys(upstream)
    form_2 = "/download/v1alpha/projects/9/locations/global/" + SESSION + ":downloadFile"
    upstream.add("GET", DOWNLOAD_1, status=302, headers={"location": upstream.origin + form_2 + "?fileId=77&alt=media"})
    upstream.add("GET", form_2, body=b"\x89PNG raw", content_type="image/png")
    assert client.download_file(ACCOUNT, SESSION, "77") == (b"\x89PNG raw", "image/png")
    assert upstream.calls[2].path == form_2 + "?fileId=77&alt=media"
    assert upstream.calls[2].headers["authorization"].startswith("Bearer ey")
    assert "content-type" not in upstream.calls[2].headers


def test_a_base64_body_without_the_safety_header_is_sniffed(client, upstream):
    """C and D sniff text that starts as base64 of a PNG (§5.5)."""
    keys(upstream)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    upstream.add("GET", DOWNLOAD_1, body=base64.b64encode(png), content_type="text/plain; charset=UTF-8")
    assert client.download_file(ACCOUNT, SESSION, "77") == (png, "image/png")


def test_an_upload_sends_standard_base64_and_returns_the_file_id(client, upstream):
    keys(upstream)
    widget(upstream, "widgetAddContextFile",
           json={"addContextFileResponse": {"session": SESSION, "fileId": "5", "tokenCount": "258"}})
    data = b"\xfb\xff\xfe" * 10  # encodes to '+' and '/' characters, never '-' or '_'
    assert client.upload_file(ACCOUNT, SESSION, data, "image/png", "upload_1_abcdef.png") == "5"
    sent = sent_body(widget_calls(upstream)[0])["addContextFileRequest"]
    assert sent == {"name": SESSION, "fileName": "upload_1_abcdef.png", "mimeType": "image/png",
                    "fileContents": base64.b64encode(data).decode()}
    assert "+" in sent["fileContents"] or "/" in sent["fileContents"]


@pytest.mark.parametrize("size, refused", [(1900, False), (2100, True)])
def test_max_file_mb_counts_the_decoded_bytes_of_a_sniffed_base64_body(client, upstream, size, refused):
    """The cap is on the file: its base64 text may be 4/3 longer, and is judged once decoded."""
    import dataclasses
    client.config = dataclasses.replace(client.config, max_file_bytes=2000)
    keys(upstream)
    png = b"\x89PNG\r\n\x1a\n" + bytes(size - 8)
    upstream.add("GET", DOWNLOAD_1, body=base64.b64encode(png), content_type="text/plain")
    if refused:
        with pytest.raises(errors.FileTooLarge):
            client.download_file(ACCOUNT, SESSION, "77")
    else:
        assert client.download_file(ACCOUNT, SESSION, "77") == (png, "image/png")
