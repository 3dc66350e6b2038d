"""app/upstream/http.py: the environment's proxy settings are honoured as requests honours
them, but read once per host instead of on every call (bench/profile.py found ~0.1–0.4 ms of
CPU a call in that look-up)."""
from __future__ import annotations

import requests.sessions
import requests.utils

from app.upstream.http import http_session


def counted_lookups(monkeypatch) -> list[str]:
    seen: list[str] = []
    original = requests.utils.get_environ_proxies

    def lookup(url, no_proxy=None):
        seen.append(url)
        return original(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", lookup)
    return seen


def test_proxy_variables_are_read_once_per_host_and_still_apply(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    seen = counted_lookups(monkeypatch)
    session = http_session()
    for _ in range(5):
        via = session.merge_environment_settings("https://api.example/v1/x", {}, None, None, None)
        assert via["proxies"].get("https") == "http://proxy.example:3128"
        direct = session.merge_environment_settings("https://direct.example/y", {}, None, None, None)
        assert "https" not in direct["proxies"]
    assert len(seen) == 2  # one look-up per host, not one per call (10 before)


def test_a_handed_out_proxies_dict_is_a_copy(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    session = http_session()
    first = session.merge_environment_settings("https://api.example/", {}, None, None, None)
    first["proxies"]["https"] = "changed by a caller"
    again = session.merge_environment_settings("https://api.example/", {}, None, None, None)
    assert again["proxies"]["https"] == "http://proxy.example:3128"


def test_ca_bundle_variable_and_per_call_settings_still_apply(monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/custom.pem")
    session = http_session()
    merged = session.merge_environment_settings("https://api.example/", {}, True, None, None)
    assert merged["verify"] == "/etc/ssl/custom.pem" and merged["stream"] is True
    assert session.merge_environment_settings("https://api.example/", {}, None, False, None)["verify"] is False
    explicit = session.merge_environment_settings("https://api.example/", {"https": "http://other:1"}, None, None, None)
    assert explicit["proxies"]["https"] == "http://other:1"
