"""The media store (app/media.py) and its signed URLs (app/media_urls.py), on a real SQLite store."""
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from app import media as media_module
from app.config import Config, ConfigError
from app.media import CHUNK, DATA, ITEMS, Media, MediaTooLarge, safe_name
from app.media_urls import BadSignature, Expired, UrlSigner
from app.store.sqlite import SqliteStore

MB = 1024 * 1024


@pytest.fixture
def store(tmp_path, clock):
    return SqliteStore(str(tmp_path / "state.db"), clock=clock)


def make(store, clock, max_bytes=4 * MB, ttl=600, secret=""):
    return Media(store, UrlSigner(store, secret, clock=clock), max_bytes=max_bytes, ttl=ttl, clock=clock)


def query(url):
    args = parse_qs(urlsplit(url).query)
    return args["expires"][0], args["signature"][0]


def test_put_then_read_back_the_same_bytes_across_pieces(store, clock):
    media = make(store, clock)
    data = bytes(range(256)) * (CHUNK // 256 * 2 + 3)  # two full pieces and a bit
    ref = media.put(data, "image/png", "cat.png")
    found = media.find(ref.id)
    assert found == ref and found.size == len(data) and found.mime_type == "image/png"
    assert b"".join(media.pieces(found)) == data
    assert len(store.list(DATA)) == 3


def test_a_signed_url_checks_and_carries_no_credential(store, clock):
    media = make(store, clock, secret="s" * 32)
    ref = media.put(b"x", "image/png", "a.png")
    url = media.url(ref, "https://gw.example:8443/")
    assert url.startswith(f"https://gw.example:8443/v1/files/{ref.id}/content?expires={ref.expires_at}&signature=")
    assert "s" * 32 not in url
    media.signer.check(ref.id, *query(url))  # no exception: good now


def test_tampered_urls_are_bad_signatures(store, clock):
    media = make(store, clock)
    ref, other = media.put(b"x", "image/png"), media.put(b"y", "image/png")
    expires, signature = query(media.url(ref, "http://h"))
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    for args in ((other.id, expires, signature), (ref.id, str(int(expires) + 1), signature),
                 (ref.id, expires, flipped), (ref.id, expires, None), (ref.id, None, signature),
                 (ref.id, "-1", signature), (ref.id, "1e9", signature), (ref.id, expires, signature + "x"),
                 (ref.id, "١٢٣", signature), (ref.id, expires, "é" * 43)):
        with pytest.raises(BadSignature):
            media.signer.check(*args)


def test_an_expired_url_is_expired_not_bad(store, clock):
    media = make(store, clock, ttl=60)
    ref = media.put(b"x", "image/png")
    expires, signature = query(media.url(ref, "http://h"))
    clock.now += 61
    with pytest.raises(Expired):
        media.signer.check(ref.id, expires, signature)
    assert media.find(ref.id) is None  # the item lives exactly as long as its URL


def test_the_derived_secret_is_shared_through_the_store_and_kept(store, clock, tmp_path):
    one = UrlSigner(store, clock=clock)
    two = UrlSigner(SqliteStore(str(tmp_path / "state.db"), clock=clock), clock=clock)  # another worker
    assert one.signature("file-" + "0" * 32, 5) == two.signature("file-" + "0" * 32, 5)
    assert UrlSigner(store, "another-secret-of-16+", clock=clock).signature("file-" + "0" * 32, 5) != \
        one.signature("file-" + "0" * 32, 5)


def test_the_oldest_go_first_when_a_new_item_would_not_fit(store, clock):
    media = make(store, clock, max_bytes=3 * MB)
    refs = []
    for _ in range(3):
        refs.append(media.put(b"a" * MB, "image/png"))
        clock.now += 1
    newest = media.put(b"b" * (MB + 10), "image/png")
    assert media.find(refs[0].id) is None and media.find(refs[1].id) is None
    assert media.find(refs[2].id) is not None and media.find(newest.id) is not None
    assert not any(key.startswith(refs[0].id) for key in store.list(DATA))  # its bytes went too
    total = sum(r["size"] for r in store.list(ITEMS).values())
    assert total <= 3 * MB


def test_one_item_larger_than_the_bound_is_refused(store, clock):
    media = make(store, clock, max_bytes=1 * MB)
    with pytest.raises(MediaTooLarge):
        media.put(b"a" * (MB + 1), "video/mp4")
    assert store.list(ITEMS) == {} and store.list(DATA) == {}


def test_the_sweep_removes_expired_items_and_an_excess(store, clock):
    media = make(store, clock, max_bytes=2 * MB, ttl=100)
    old = media.put(b"o" * 10, "image/png")
    clock.now += 50
    kept = media.put(b"k" * 10, "image/png")
    clock.now += 51  # old has expired, kept has not
    assert media.sweep() == 1 and media.find(old.id) is None and media.find(kept.id) is not None
    # Two workers that each made room at once can leave too much: write past the bound directly.
    extra = media.put(b"e" * MB, "image/png")
    store.put(ITEMS, "file-" + "f" * 32, {"mime_type": "image/png", "name": "x", "size": 2 * MB,
                                          "created": clock.now + 1, "expires_at": clock.now + 100})
    assert media.sweep() == 2  # kept and extra, the oldest, for the excess
    assert media.find(kept.id) is None and media.find(extra.id) is None
    assert sum(r["size"] for r in store.list(ITEMS).values()) <= 2 * MB
    assert not any(key.startswith(old.id) for key in store.list(DATA))


def test_ids_that_are_not_ours_are_unknown(store, clock):
    media = make(store, clock)
    for bad in ("../state.db", "..", "file-" + "0" * 31, "file-" + "G" * 32, "file-" + "0" * 32 + "/x", ""):
        assert media.find(bad) is None and not media.valid_id(bad)


def test_names_and_types_are_made_safe():
    assert safe_name('../../etc/"passwd"\r\n', "image/png") == "etc_passwd"
    assert safe_name("", "image/svg+xml") == "file.svg"
    assert safe_name("Ünïcode name.png", "image/png") == "n_code_name.png"
    assert media_module.clean_mime("image/PNG; charset=x") == "image/png"
    assert media_module.clean_mime("text/html\r\nX-Evil: 1") == "application/octet-stream"


def test_settings():
    config = Config.from_env({})
    assert (config.media_output, config.media_url_ttl, config.media_max_bytes) == ("url", 3600, 256 * MB)
    config = Config.from_env({"MEDIA_OUTPUT": "base64", "MEDIA_URL_TTL": "60", "MEDIA_MAX_MB": "10",
                              "MEDIA_URL_SECRET": "x" * 16, "PUBLIC_BASE_URL": "https://gw.example/"})
    assert (config.media_output, config.media_url_ttl, config.media_max_bytes) == ("base64", 60, 10 * MB)
    assert config.public_base_url == "https://gw.example" and "x" * 16 in config.secrets()
    for bad in ({"MEDIA_OUTPUT": "file"}, {"MEDIA_URL_TTL": "0"}, {"MEDIA_MAX_MB": "0"},
                {"MEDIA_URL_SECRET": "short"}, {"PUBLIC_BASE_URL": "gw.example"}):
        with pytest.raises(ConfigError):
            Config.from_env(bad)


def test_the_background_sweep_runs_on_its_own(store, clock, monkeypatch):
    monkeypatch.setattr(media_module, "SWEEP_INTERVAL", 0.01)
    media = make(store, clock, ttl=60)
    ref = media.put(b"x", "image/png")
    clock.now += 61
    media.start()
    deadline = time.monotonic() + 10  # a hang guard, not a timing claim
    while (store.list(ITEMS) or store.list(DATA)) and time.monotonic() < deadline:  # the record, then its bytes
        time.sleep(0.01)
    assert store.get(ITEMS, ref.id) is None and store.list(DATA) == {}
