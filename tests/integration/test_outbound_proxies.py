"""Per-account outbound proxies (issue 13 §2), on the wire: real proxies (tests/outbound_proxy.py)
between a real gunicorn and the simulator record every request they carried and for which
account (getoxsrf's csesidx, the JWT's subject).

A: its own HTTP proxy with a password. B: its own SOCKS5 proxy (socks5h) with a password.
C: "none", direct although UPSTREAM_PROXY is set. D: nothing of its own, so UPSTREAM_PROXY.
E: a proxy where nothing listens: the account shows "proxy unreachable", cools down, is not
banned, and the turn fails over."""
import base64
import json

import pytest
import requests

from tests.integration.conftest import API_KEY
from tests.integration.helpers import wait_for
from tests.integration.test_accounts import admin, chat, pool_env
from tests.outbound_proxy import HttpProxy, Socks5Proxy
from tests.servers import Gunicorn, Simulator, free_port, refusing_port

UUID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
PASSWORDS = {"A": "pw-A-7c1e93", "B": "pw-B-4d82f0", "D": "pw-D-0b5a6e"}
NAMES = "ABCDE"
ACCOUNTS = {name: {"id": f"proxied-{name.lower()}@example.com", "secure_c_ses": f"px-cookie-{name}",
                   "csesidx": f"86000{n}", "config_id": UUID} for n, name in enumerate(NAMES)}


@pytest.fixture(scope="module")
def proxies():
    made = {"A": HttpProxy(auth=f"alice:{PASSWORDS['A']}"), "B": Socks5Proxy(auth=f"bob:{PASSWORDS['B']}"),
            "D": HttpProxy(auth=f"dora:{PASSWORDS['D']}")}
    yield made
    for proxy in made.values():
        proxy.stop()


@pytest.fixture(scope="module")
def dead_port():
    with refusing_port() as port:  # connections are refused, and no other server can take it
        yield port


@pytest.fixture(scope="module")
def setup(tmp_path_factory, proxies, dead_port):
    folder = tmp_path_factory.mktemp("outbound")
    (folder / "sim.json").write_text(json.dumps(list(ACCOUNTS.values())))
    own = {"A": proxies["A"].url("http"), "B": proxies["B"].url("socks5h"), "C": "none",
           "E": f"http://eve:pw-E-dead@127.0.0.1:{dead_port}"}
    (folder / "accounts.json").write_text(json.dumps(
        [{**ACCOUNTS[name], **({"proxy": own[name]} if name in own else {})} for name in NAMES]))
    sim = Simulator("--accounts", str(folder / "sim.json"), "--reply-words", "3", "--quiet")
    server = Gunicorn(pool_env(sim, folder / "accounts.json", folder / "data", LOG_LEVEL="debug",
                               LOG_FORMAT="json", PRECREATE_SESSIONS="false",
                               UPSTREAM_PROXY=proxies["D"].url("http")), workers=1)
    yield sim, server
    server.stop()
    sim.stop()


def only(server, names: str):
    for name in NAMES:
        response = admin(server, "PATCH", f"/admin/accounts/{ACCOUNTS[name]['id']}",
                         json={"disabled": name not in names, "clear_cooldown": True})
        assert response.status_code == 200, response.text


def carried(proxy) -> set[str]:
    """The accounts whose requests this proxy carried."""
    return {seen.csesidx for seen in proxy.seen if seen.csesidx}


def test_each_account_goes_through_its_own_proxy(setup, proxies):
    sim, server = setup
    target = sim.url.split("://")[1]
    evidence = {}
    for name in "ABCD":
        only(server, name)
        for proxy in proxies.values():
            proxy.clear()
        response, _ = chat(server, f"through {name}")
        assert response.status_code == 200, response.text
        mine = ACCOUNTS[name]["csesidx"]
        evidence[name] = {key: sorted({f"{s.form} {s.target}{s.path.split('?')[0]} [csesidx {s.csesidx or '-'}, "
                                       f"auth {s.auth.split(':')[0] or '-'}]" for s in proxy.seen})
                          for key, proxy in proxies.items()}
        for key, proxy in proxies.items():
            if key == name:
                assert carried(proxy) == {mine}, evidence[name]
                assert any(p.endswith("/widgetStreamAssist") for p in proxy.paths()), evidence[name]
                # its JWT's getoxsrf too (maybe before this turn: the keep-alive's first round)
                assert any(s.path.startswith(f"/auth/getoxsrf?csesidx={mine}") for s in proxy.history)
                assert {s.target for s in proxy.seen} == {target}
                user = {"A": "alice", "B": "bob", "D": "dora"}[key]
                assert {s.auth for s in proxy.seen} == {f"{user}:{PASSWORDS[key]}"}
            else:  # C ("none") reached no proxy at all, though UPSTREAM_PROXY (D's) is set
                assert mine not in carried(proxy), (name, key, evidence[name])
    print("\nwhat each proxy carried, per account in turn:\n" + json.dumps(evidence, indent=1))


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_files_up_and_down_go_through_the_accounts_proxy(setup, proxies):
    """An uploaded picture (widgetAddContextFile) and a generated image (downloadFile) go
    through B's SOCKS5 proxy, as B's questions do."""
    _, server = setup
    only(server, "B")
    for proxy in proxies.values():
        proxy.clear()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    sent = requests.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=30, json={
        "model": "gemini-2.5-flash", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}}]}]})
    assert sent.status_code == 200, sent.text
    made = requests.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=30, json={
        "model": "nano-banana-2", "messages": [{"role": "user", "content": "a picture"}]})
    assert made.status_code == 200, made.text
    paths = {path.split("?")[0].rsplit("/", 1)[-1] for path in proxies["B"].paths()}
    assert "widgetAddContextFile" in paths and any(path.endswith(":downloadFile") for path in paths), paths
    assert carried(proxies["B"]) == {ACCOUNTS["B"]["csesidx"]}
    assert not carried(proxies["A"]) and not carried(proxies["D"])


def test_admin_shows_the_proxy_masked(setup, proxies):
    _, server = setup
    listed = {row["id"]: row["proxy"] for row in admin(server, "GET", "/admin/accounts").json()["accounts"]}
    assert listed[ACCOUNTS["A"]["id"]] == f"http://alice:***@127.0.0.1:{proxies['A'].port}"
    assert listed[ACCOUNTS["B"]["id"]] == f"socks5h://bob:***@127.0.0.1:{proxies['B'].port}"
    assert listed[ACCOUNTS["C"]["id"]] == "none" and listed[ACCOUNTS["D"]["id"]] == ""
    bad = admin(server, "PATCH", f"/admin/accounts/{ACCOUNTS['D']['id']}", json={"proxy": "ftp://x:1"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] is None or bad.status_code == 400


def test_a_proxy_set_by_patch_is_used_at_once(setup, proxies):
    _, server = setup
    d = ACCOUNTS["D"]
    url = proxies["A"].url("http")
    try:
        assert admin(server, "PATCH", f"/admin/accounts/{d['id']}", json={"proxy": url}).status_code == 200
        only(server, "D")
        for proxy in proxies.values():
            proxy.clear()
        response, _ = chat(server, "moved")
        assert response.status_code == 200, response.text
        assert carried(proxies["A"]) == {d["csesidx"]} and not carried(proxies["D"])
    finally:
        admin(server, "PATCH", f"/admin/accounts/{d['id']}", json={"proxy": ""})


def test_a_dead_proxy_is_shown_on_the_account_and_fails_over(setup, dead_port):
    sim, server = setup
    only(server, "CE")
    e = ACCOUNTS["E"]
    for _ in range(4):  # round robin: E is tried within two turns; each turn still succeeds on C
        response, _ = chat(server, "dead proxy")
        assert response.status_code == 200, response.text
    shown = admin(server, "GET", f"/admin/accounts/{e['id']}").json()
    assert shown["last_error"].startswith(f"proxy unreachable: http://127.0.0.1:{dead_port} (connection refused)")
    assert shown["state"] == "cooling_down" and shown["cooldowns"]["text"]["cause"] == "proxy"
    assert "proxy unreachable" in shown["cooldowns"]["text"]["text"]
    assert not shown["banned"] and not shown["disabled"] and shown["needs_login_reason"] == ""
    # Alone, the account's turn is a clear error (never a ban, never a 500).
    only(server, "E")
    admin(server, "PATCH", f"/admin/accounts/{e['id']}", json={"clear_cooldown": True})
    response, _ = chat(server, "alone")
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "proxy_unreachable"
    assert "pw-E-dead" not in response.text


def test_no_proxy_password_in_the_logs(setup):
    _, server = setup
    text = "\n".join(server.output())
    assert "proxy unreachable" in text  # the failure was logged...
    for secret in (*PASSWORDS.values(), "pw-E-dead"):
        assert secret not in text  # ...its password never
