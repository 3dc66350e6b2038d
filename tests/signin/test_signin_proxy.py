"""The sign-in's browser goes through the account's outbound proxy (issue 13 §2): a real Chromium
signs in against the simulator through a real HTTP proxy that demands a password
(tests/outbound_proxy.py) and records every page it carried."""
import os
import uuid

import pytest

from app.accounts.login import browser_proxy
from app.accounts.signin import BrowserSettings, sign_in
from app.config import Config
from tests.outbound_proxy import HttpProxy
from tests.signin.test_signin_browser import getoxsrf, mailbox

pytestmark = pytest.mark.skipif(not os.path.exists(BrowserSettings().executable), reason="chromium is not installed")


@pytest.fixture
def proxy():
    server = HttpProxy(auth="signer:pw-signin-52e1")
    yield server
    server.stop()


def test_the_browser_signs_in_through_the_accounts_proxy(signin_sim, dovecot, proxy):
    email = f"proxied-{uuid.uuid4().hex[:8]}@example.org"
    # What the sign-in process picks for an account whose own proxy is this one.
    chosen = browser_proxy(Config.from_env({"UPSTREAM_PROXY": "none"}), proxy.url("http"))
    assert chosen == proxy.url("http")
    result = sign_in(email, auth_url=signin_sim.url, business_url=signin_sim.url, codes=mailbox(dovecot, email),
                     browser=BrowserSettings(proxy=chosen), timeout=60.0, code_wait=8.0)
    assert getoxsrf(signin_sim, result)["xsrfToken"]
    target = signin_sim.url.split("://")[1]
    carried = [seen for seen in proxy.history if seen.auth == "signer:pw-signin-52e1"]
    print("\nthe sign-in's requests through the proxy:",
          sorted({(s.form, s.target, s.path.split("?")[0]) for s in carried}))
    assert target in {seen.target for seen in carried}  # (Chromium's own calls home went through it too)
    paths = [seen.path.split("?")[0] for seen in carried if seen.target == target]
    assert len(paths) >= 3 and any("login" in path for path in paths), paths
