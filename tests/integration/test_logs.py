"""Logs: every request and upstream exchange at debug, and never a cookie, key or token."""
import json
import re
import socket
import threading
import time

import requests

from tests.integration.conftest import ADMIN_KEY, API_KEY, CANARY, proxy_env
from tests.integration.helpers import Worker, auth, openai_client, tiny_png
from tests.servers import Gunicorn

SECRETS = [CANARY["secure_c_ses"], CANARY["host_c_oses"], API_KEY, "sk-other"]
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.")


def test_no_secret_reaches_the_logs_or_responses(proxy, simulator):
    client = openai_client(proxy)
    seen = [client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "log me"}])
            .model_dump_json()]
    for response in (
        requests.post(f"{proxy.url}/v1/chat/completions", headers={"Authorization": "Bearer sk-other-wrong"},
                      json={}, timeout=10),
        requests.post(f"{proxy.url}/v1/chat/completions", headers=auth(), data="{broken", timeout=10),
        requests.get(f"{proxy.url}/health", timeout=10),
    ):
        seen.append(response.text + str(dict(response.headers)))
    # A refused JWT (401 from the widget API) and a dead cookie both go through the error paths.
    simulator.fault("jwt_expired", verb="widgetCreateSession", count=2)
    worker = Worker(proxy)
    seen.append(worker.request("POST", "/v1/chat/completions",
                               json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})[0].text)
    simulator.control("POST", "keys/expire")
    simulator.fault("expired_cookie")
    seen.append(worker.request("POST", "/gemini/sessions")[0].text)

    logs = "\n".join(proxy.output())
    assert "upstream exchange" in logs and "request received" in logs  # LOG_LEVEL=debug logs both
    for secret in SECRETS:
        assert secret not in logs, f"{secret} leaked into the logs"
        assert not any(secret in text for text in seen[1:]), f"{secret} leaked into a response"
    assert not JWT.search(logs)
    assert "[redacted]" in logs  # the redaction really ran on the Authorization header


def test_geminis_key_places_never_reach_the_logs(proxy):
    """Gemini's clients send the key as x-goog-api-key or ?key=: a wrong one (no literal the
    gateway registered) must not be printed either, the debug line of the request's headers included."""
    header_key, query_key = "goog-wrong-key-8c1f", "query-wrong-key-5e2d"
    url = f"{proxy.url}/v1beta/models/gemini-2.5-flash:generateContent"
    body = {"contents": [{"parts": [{"text": "hi"}]}]}
    assert requests.post(url, headers={"x-goog-api-key": header_key}, json=body, timeout=10).status_code == 401
    assert requests.post(f"{url}?key={query_key}", json=body, timeout=10).status_code == 401
    assert requests.post(f"{url}?key={API_KEY}&alt=sse", json=body, timeout=10).status_code == 200
    logs = "\n".join(proxy.output())
    assert "/v1beta/models/gemini-2.5-flash:generateContent" in logs
    for secret in (header_key, query_key, API_KEY):
        assert secret not in logs, f"{secret} leaked into the logs"


IMAP_CANARY = "imap-canary-pass-31337"


class RefusingImap:
    """An IMAP server that refuses every LOGIN, echoing the command back (as some do)."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    @staticmethod
    def _talk(conn):
        with conn, conn.makefile("rwb") as stream:
            stream.write(b"* OK fake IMAP ready\r\n")
            stream.flush()
            for line in stream:
                tag, _, command = line.decode(errors="replace").rstrip("\r\n").partition(" ")
                if command.upper().startswith("CAPABILITY"):
                    stream.write(f"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n".encode())
                elif command.upper().startswith("LOGIN"):
                    stream.write(f"{tag} NO [AUTHENTICATIONFAILED] refused: {command}\r\n".encode())
                else:
                    stream.write(f"* BYE\r\n{tag} OK bye\r\n".encode())
                    stream.flush()
                    return
                stream.flush()

    def stop(self):
        self.server.close()


def test_sign_in_lines_are_json_redacted_and_in_the_gbp_tree(simulator, tmp_path_factory):
    """The login process's own lines and the sign-in and mailbox modules' lines all come out
    through the configured tree: INFO progress kept, a mailbox failure as JSON, no secret."""
    imap = RefusingImap()
    proxy = Gunicorn(proxy_env(simulator, tmp_path_factory, LOG_LEVEL="info", IMAP_HOST="127.0.0.1",
                               IMAP_PORT=str(imap.port), IMAP_SSL="false", IMAP_USER="codes@example.com",
                               IMAP_PASSWORD=IMAP_CANARY, LOGIN_CODE_WAIT="2", LOGIN_RESENDS="0",
                               LOGIN_TIMEOUT="60"), workers=1)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        started = requests.post(f"{proxy.url}/admin/accounts/{CANARY['id']}/login", headers=admin, timeout=10)
        assert started.status_code == 202, started.text

        def finished():
            state = requests.get(f"{proxy.url}/admin/accounts/{CANARY['id']}", headers=admin, timeout=10).json()
            return state.get("login", {}).get("status") == "failed"
        proxy.wait_until(finished, timeout=90, what="the sign-in to fail")
        time.sleep(0.5)  # the login process's last lines
        lines = [line for line in proxy.output() if "sign-in" in line or "IMAP" in line]
    finally:
        proxy.stop()
        imap.stop()
    assert lines
    entries = [json.loads(line) for line in lines]  # every one is a JSON line
    assert all(entry["logger"].startswith("gbp.") for entry in entries), [e["logger"] for e in entries]
    loggers = {entry["logger"] for entry in entries}
    assert {"gbp.accounts.signin", "gbp.accounts.mailbox", "gbp.accounts.login"} <= loggers, loggers
    assert any(e["level"] == "info" and e["message"].startswith(f"sign-in of {CANARY['id']}") for e in entries)
    assert not any(IMAP_CANARY in line or ADMIN_KEY in line for line in proxy.output())


def test_a_multipart_body_is_left_to_the_view_at_debug(proxy, simulator):
    """LOG_LEVEL=debug logs request bodies; a multipart one (an images edit's files) is named,
    not read, so the view still parses it (read first, /v1/images/edits was a 400 at debug)."""
    png = tiny_png()
    response = requests.post(f"{proxy.url}/v1/images/edits", headers=auth(), timeout=30,
                             files={"image": ("a.png", png, "image/png")}, data={"prompt": "a hat"})
    assert response.status_code == 200, response.text
    logged = [json.loads(line) for line in proxy.output() if '"request received"' in line]
    edits = [line for line in logged if line.get("path") == "/v1/images/edits"]
    assert edits and edits[-1]["body"].startswith("[multipart/form-data, ")


def lines_of(proxy, request_id: str) -> list[dict]:
    """Every line the request's worker wrote from its 'request received' to its 'request done'."""
    pid = proxy.pid_of(request_id)  # waits for 'request done'
    entries = [entry for entry in proxy.json_logs() if entry.get("pid") == pid]
    start = next(i for i, e in enumerate(entries)
                 if e.get("request_id") == request_id and e["message"] == "request received")
    end = next(i for i, e in enumerate(entries) if e.get("request_id") == request_id and e["message"] == "request done")
    return entries[start:end + 1]


def test_every_line_of_a_request_carries_its_id_and_the_access_line_says_what_happened(proxy, simulator):
    for stream in (True, False):
        time.sleep(0.5)  # the spare session an earlier test's chat made is in its own lines by now
        request_id = f"traced-{stream}-{time.monotonic_ns()}"
        response = requests.post(f"{proxy.url}/v1/chat/completions", timeout=20,
                                 headers={**auth(), "X-Request-Id": request_id},
                                 json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                                       "stream": stream})
        assert response.status_code == 200
        lines = lines_of(proxy, request_id)
        # the upstream calls, the spare session made for the next chat in its own greenlet, the end
        assert sum(e["message"] == "upstream exchange" for e in lines) >= 2
        assert [e for e in lines if e.get("request_id") != request_id] == []
        done = lines[-1]
        assert done["bytes"] == len(response.content) and done["ms"] > 0
        assert (done["surface"], done["model"], done["account"], done["outcome"], done["status"]) == \
            ("openai", "gemini-business", CANARY["id"], "ok", 200)
        assert done.get("streamed", False) is stream


def test_the_access_line_of_a_refused_request_names_its_error(proxy):
    request_id = f"refused-{time.monotonic_ns()}"
    response = requests.post(f"{proxy.url}/v1/chat/completions", timeout=20,
                             headers={**auth(), "X-Request-Id": request_id},
                             json={"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 404
    done = lines_of(proxy, request_id)[-1]
    assert (done["outcome"], done["status"], done["surface"]) == ("model_not_found", 404, "openai")
    assert "model" not in done and "account" not in done
