"""deploy/nginx.conf's own errors (413 for big bodies, 400/414 for bad requests, 502 when the gateway
is down) reach clients as the OpenAI JSON envelope, not nginx's HTML pages."""
import json
import socket

import pytest
import requests

from tests.integration.conftest import proxy_env
from tests.servers import Gunicorn, Nginx


@pytest.fixture(scope="module")
def nginx(proxy, tmp_path_factory):
    server = Nginx(proxy.port, tmp_path_factory.mktemp("nginx-errors"))
    yield server
    server.stop()


def exchange(server, data: bytes) -> tuple[int, dict, dict]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def assert_envelope(headers: dict, body: bytes, code: str) -> None:
    assert headers["content-type"] == "application/json", body[:200]
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("data, status, code", [
    (b"GARBAGE\r\n\r\n", 400, "bad_request"),
    (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 30000000\r\nConnection: close\r\n\r\n",
     413, "request_too_large"),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 414, "uri_too_long"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\nConnection: close\r\n\r\n", 400,
     "request_headers_too_large"),
    (b"GET /__error/413 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "unknown_url"),
])
def test_nginx_errors_are_json(nginx, data, status, code):
    got, headers, body = exchange(nginx, data)
    assert got == status, body[:300]
    assert_envelope(headers, body, code)
    assert headers["server"] == "nginx"  # server_tokens off: no version


def test_gateway_answers_pass_through_untouched(nginx):
    response = requests.get(f"{nginx.url}/v1/models", headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_502_when_the_gateway_is_down_is_json(simulator, tmp_path_factory):
    gateway = Gunicorn(proxy_env(simulator, tmp_path_factory), workers=1)
    front = Nginx(gateway.port, tmp_path_factory.mktemp("nginx-down"))
    try:
        gateway.stop()
        got, headers, body = exchange(front, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert got == 502
        assert_envelope(headers, body, "gateway_unavailable")
    finally:
        front.stop()
        gateway.stop()
