"""Outbound proxy settings (app/upstream/proxies.py): what is accepted, what operators see, which
failures are the proxy's, and which proxy the sign-in's browser uses."""
import http.client

import pytest
import urllib3

from app import logs
from app.accounts.login import browser_proxy
from app.accounts.signin import SignInError, playwright_proxy
from app.config import Config, ConfigError
from app.upstream import errors, proxies
from app.upstream.http import Error, Http
from tests.servers import refusing_port


@pytest.mark.parametrize("value, stored", [
    ("", ""), ("none", "none"), (" NONE ", "none"), ("http://h:3128", "http://h:3128"),
    ("https://u:p@h:443", "https://u:p@h:443"), ("socks5://h:1080", "socks5://h:1080"),
    ("socks5h://u:p%40x@h:1080", "socks5h://u:p%40x@h:1080"),
])
def test_accepted(value, stored):
    assert proxies.parse(value) == stored


@pytest.mark.parametrize("value", ["ftp://h:21", "h:3128", "http://h", "http://u:secret-pw@h:1/path",
                                   "http://h:99999", "socks4://h:1080"])
def test_refused_without_showing_the_password(value):
    with pytest.raises(proxies.InvalidProxy) as caught:
        proxies.parse(value)
    assert "secret-pw" not in str(caught.value)


def test_masked_and_redacted():
    assert proxies.masked("http://alice:pw@h:1") == "http://alice:***@h:1"
    assert proxies.masked("http://h:1") == "http://h:1" and proxies.masked("none") == "none"
    assert proxies.password("http://a:p%3Aw@h:1") and set(proxies.password("http://a:p%3Aw@h:1")) == {"p%3Aw", "p:w"}
    assert logs.redact("via socks5h://bob:x@h:1080 and http://a:longer-secret@h:2") == \
        "via socks5h://bob:[redacted]@h:1080 and http://a:[redacted]@h:2"


def test_the_account_setting_wins_over_the_default():
    assert proxies.effective("http://a:1", "http://d:1") == "http://a:1"
    assert proxies.effective("", "http://d:1") == "http://d:1"
    assert proxies.effective("none", "http://d:1") == "" and proxies.effective("", "none") == ""


def test_upstream_proxy_setting():
    config = Config.from_env({"UPSTREAM_PROXY": "socks5://u:sockspw@127.0.0.1:1080"})
    assert config.upstream_proxy == "socks5://u:sockspw@127.0.0.1:1080" and "sockspw" in config.secrets()
    assert "sockspw" not in repr(config)
    with pytest.raises(ConfigError, match="UPSTREAM_PROXY"):
        Config.from_env({"UPSTREAM_PROXY": "gopher://h:1"})


def test_the_browser_signs_in_through_the_account_proxy():
    plain = Config.from_env({"BROWSER_PROXY": "http://b:1"})
    default = Config.from_env({"BROWSER_PROXY": "http://b:1", "UPSTREAM_PROXY": "http://d:1"})
    assert browser_proxy(plain, "") == "http://b:1"          # nothing else set: as before
    assert browser_proxy(plain, "http://a:1") == "http://a:1"
    assert browser_proxy(default, "") == "http://d:1"
    assert browser_proxy(default, "none") is None
    assert playwright_proxy("socks5h://h:1080") == {"server": "socks5://h:1080"}
    assert playwright_proxy("http://u:p%40x@h:3128") == {"server": "http://h:3128", "username": "u", "password": "p@x"}
    with pytest.raises(SignInError, match="SOCKS5 proxy's password") as caught:
        playwright_proxy("socks5h://u:secret-socks@h:1080")  # Chromium has no SOCKS5 authentication
    assert caught.value.reason == "browser" and "secret-socks" not in str(caught.value)


@pytest.mark.parametrize("target", ["http://127.0.0.1:9/x", "https://127.0.0.1:9/x"])  # forwarded, tunnelled
def test_a_refused_connection_is_the_proxys_fault(target):
    with refusing_port() as port, pytest.raises(Error) as caught:
        dead = f"http://u:pw@127.0.0.1:{port}"
        Http(dead).request("GET", target, headers={}, timeout=(5, 5))
    with pytest.raises(errors.ProxyUnreachable) as blamed:
        proxies.blame(caught.value, dead, "getoxsrf")
    assert str(blamed.value).startswith("proxy unreachable: http://127.0.0.1:")
    assert "(connection refused) during getoxsrf" in str(blamed.value) and "pw" not in str(blamed.value)
    proxies.blame(caught.value, "", "getoxsrf")  # no proxy: not this module's to judge


def test_a_stale_pooled_connection_is_not_a_dead_proxy():
    """urllib3 names a kept-alive connection the proxy closed "Unable to connect to proxy" too."""
    stale = urllib3.exceptions.ProxyError("Unable to connect to proxy",
                                          http.client.RemoteDisconnected("Remote end closed connection"))
    proxies.blame(stale, "http://h:1", "widgetStreamAssist")  # returns: an ordinary broken call


def test_one_pooled_session_per_proxy_and_only_so_many():
    from app.upstream.credential import Credential

    def account(proxy):
        return Credential("x", "c", "1", "cfg", proxy=proxy)

    base = Http()
    routes = proxies.Routes(base, "", Http)
    assert routes.session(account("")) is base  # nothing configured: the worker's Http as it is
    a, b = routes.session(account("http://u:p@a:1")), routes.session(account("socks5h://b:2"))
    assert a is not b and a is routes.session(account("http://u:p@a:1"))
    assert a.proxy == "http://u:p@a:1" and b.proxy == "socks5h://b:2"
    direct = routes.session(account("none"))
    assert direct is not base and direct.proxy == ""  # direct: no environment proxy either (None)
    for n in range(proxies.MAX_SESSIONS + 5):
        routes.session(account(f"http://h{n}:1"))
    assert len(routes._sessions) == proxies.MAX_SESSIONS
    defaulted = proxies.Routes(base, "http://d:1", Http)
    assert defaulted.session(account("")).proxy == "http://d:1"
    assert defaulted.proxy_of(account("none")) == "" and defaulted.session(account("none")).proxy == ""
