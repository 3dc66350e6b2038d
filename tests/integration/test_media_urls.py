"""Signed media URLs against real gunicorn (2 workers): an item put into the store the server
uses (as the pipeline will, from any worker or host) is served by either worker through its
signed URL, without an API key; expired, tampered and path-like URLs are refused in the
OpenAI envelope, never with a 500."""
import os
import time
import uuid

import pytest
import requests

from app.config import Config
from app.media import Media
from app.media_urls import UrlSigner
from app.store import open_store
from tests.integration.conftest import proxy_env
from tests.servers import Gunicorn
from tests.store.redis_server import start_redis

PNG = bytes.fromhex("89504e470d0a1a0a") + os.urandom(3 * 1024 * 1024 + 17)  # more than one stored piece


@pytest.fixture(scope="module")
def server(simulator, tmp_path_factory):
    env = proxy_env(simulator, tmp_path_factory, API_KEYS="sk-media-test-key")
    gunicorn = Gunicorn(env, workers=2)
    gunicorn.env = env
    yield gunicorn
    gunicorn.stop()


@pytest.fixture(scope="module")
def media(server):
    """The gateway's media store, opened in this process on the server's own store and with
    no MEDIA_URL_SECRET: the secret the workers use comes from the store."""
    config = Config.from_env(server.env)
    store = open_store(config)
    return Media(store, UrlSigner(store), max_bytes=config.media_max_bytes, ttl=config.media_url_ttl)


def get(url, **kwargs):
    return requests.get(url, headers={"X-Request-Id": uuid.uuid4().hex}, timeout=10, **kwargs)


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code and set(error) == {"message", "type", "param", "code"}


def test_either_worker_serves_the_bytes_by_signed_url_without_a_key(server, media):
    ref = media.put(PNG, "image/png", "generated image.png")
    url = media.url(ref, server.url)
    assert "sk-media-test-key" not in url
    pids = set()
    for _ in range(40):
        response = get(url)
        assert response.status_code == 200, response.text
        assert response.content == PNG
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["Content-Length"] == str(len(PNG))
        assert response.headers["Content-Disposition"] == 'inline; filename="generated_image.png"'
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        pids.add(server.pid_of(response.request.headers["X-Request-Id"]))
        if len(pids) == 2:
            break
    assert len(pids) == 2, "one worker served every request"


def test_an_expired_url_is_410(server, media):
    ref = media.put(b"\x89PNG old", "image/png", "old.png")
    assert_error(get(media.url(ref, server.url, expires=int(time.time()) - 1)), 410, "url_expired")


def test_tampered_or_unsigned_urls_are_403(server, media):
    ref = media.put(b"\x89PNG mine", "image/png", "mine.png")
    other = media.put(b"\x89PNG other", "image/png", "other.png")
    url = media.url(ref, server.url)
    base, query = url.split("?")
    expires = query.split("&")[0].split("=")[1]
    signature = query.split("signature=")[1]
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for bad in (base,                                                  # no signature at all
                f"{base}?expires={expires}&signature={flipped}",       # signature changed
                f"{base}?expires={int(expires) + 3600}&signature={signature}",  # expiry extended
                media.url(ref, server.url).replace(ref.id, other.id),  # another file's URL
                f"{base}?expires=abc&signature={signature}",
                f"{base}?expires={expires}&signature=%00%ff"):
        assert_error(get(bad), 403, "invalid_signature")
    assert get(url, params=None).content == b"\x89PNG mine"


def test_unknown_and_path_like_ids_are_404(server, media):
    gone = "file-" + "0" * 32
    signed = f"{server.url}/v1/files/{gone}/content?{media.signer.query(gone, int(time.time()) + 60)}"
    assert_error(get(signed), 404, "file_not_found")  # signed, but no such file
    for path in ("..%2F..%2Fstate.db", "..", "%2e%2e", "state.db", "file-..%2f..%2fstate.db",
                 "file-" + "0" * 31 + "%00"):
        response = get(f"{server.url}/v1/files/{path}/content?expires=1&signature=x")
        assert response.status_code == 404, (path, response.status_code, response.text)
        assert response.json()["error"]["code"] in ("file_not_found", "unknown_url")


def test_head_and_other_methods_never_500(server, media):
    ref = media.put(b"\x89PNG", "image/png", "m.png")
    head = requests.head(media.url(ref, server.url), timeout=10)
    assert head.status_code == 200 and head.headers["Content-Length"] == "4" and head.content == b""
    response = requests.post(media.url(ref, server.url), timeout=10)
    assert_error(response, 405, "method_not_allowed")
    assert not [e for e in server.json_logs() if e.get("level") in ("error", "critical")], \
        "a media request logged an error"


def test_two_hosts_on_one_redis_serve_each_others_files(simulator, tmp_path_factory):
    """Two gateways with their own DATA_DIR (two hosts) and one Redis: each derives the signing
    key from the store, so a link made anywhere works on both, with no MEDIA_URL_SECRET set."""
    url, stop_redis = start_redis(tmp_path_factory.mktemp("redis"))
    hosts = []
    try:
        for _ in range(2):
            hosts.append(Gunicorn(proxy_env(simulator, tmp_path_factory, STORE_URL=url), workers=1))
        for host in hosts:  # each host signs and checks with the key in the store, made by whoever came first
            assert_error(get(f"{host.url}/v1/files/{'file-' + '1' * 32}/content?expires=9999999999&signature="
                             + "A" * 43), 403, "invalid_signature")
        config = Config.from_env(proxy_env(simulator, tmp_path_factory, STORE_URL=url))
        store = open_store(config)
        shared = Media(store, UrlSigner(store), max_bytes=config.media_max_bytes, ttl=config.media_url_ttl)
        ref = shared.put(PNG, "image/png", "shared.png")
        for host in hosts:
            response = get(shared.url(ref, host.url))
            assert response.status_code == 200 and response.content == PNG
    finally:
        for host in hosts:
            host.stop()
        stop_redis()
