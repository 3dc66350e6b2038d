"""./run.sh as a new user meets it: the demo only without any account, the real upstream otherwise,
a demo that works every time, a loud failure when the simulator cannot start, and nothing left
running after it stops (sign-in processes and their Chromium included)."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.integration.helpers import wait_for
from tests.servers import ROOT, Process, free_port

ADMIN = {"Authorization": "Bearer run-sh-admin-key"}
SECRET_COOKIE = "real-account-cookie-7f3a"


class Recorder:
    """A stand-in HTTP host that records every request (path and Cookie header) and answers 503."""

    def __init__(self, port: int = 0):
        seen = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                seen.append({"path": self.path, "cookie": self.headers.get("Cookie", "")})
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def marked_processes(marker: str) -> list[str]:
    """Command lines of the processes that inherited this run's marker variable (whatever their
    session or process group: Chromium runs in a session of its own)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                if f"RUN_SH_MARKER={marker}".encode() not in handle.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{pid}: {command[:150]}")
        except OSError:
            pass
    return found


def run_sh(tmp_path, **settings) -> tuple[Process, dict]:
    marker = uuid.uuid4().hex
    env = {"PORT": str(free_port()), "SIMULATOR_PORT": str(free_port()), "ENV_FILE": "/nonexistent",
           "DATA_DIR": str(tmp_path / "data"), "WEB_CONCURRENCY": "1", "RUN_SH_MARKER": marker, **settings}
    return Process("run.sh", ["./run.sh"], env), env


def wait_for_banner(run: Process) -> str:
    run.wait_until(lambda: any("Try:" in line for line in run.output()), timeout=120, what="printing its banner")
    time.sleep(0.2)  # the rest of the message
    return "\n".join(run.output())


def stop(run: Process, env: dict) -> None:
    """Ctrl-C, as a user stops it; then nothing it started may be left."""
    os.kill(run.proc.pid, signal.SIGINT)
    run.proc.wait(40)
    deadline = time.monotonic() + 10
    while marked_processes(env["RUN_SH_MARKER"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marked_processes(env["RUN_SH_MARKER"]) == []


@pytest.mark.parametrize("source", ["email", "accounts_file", "store"])
def test_with_any_account_source_run_sh_uses_the_real_upstream_and_never_starts_the_simulator(tmp_path, source):
    real, trap = Recorder(), Recorder()  # the "real" upstream, and a fake sitting on SIMULATOR_PORT
    account = {"id": "real@example.com", "secure_c_ses": SECRET_COOKIE, "csesidx": "5150",
               "config_id": "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"}
    settings = {"SIMULATOR_PORT": str(trap.port), "GEMINI_BUSINESS_URL": real.url, "AUTH_URL": real.url,
                "API_BASE_URL": f"{real.url}/v1alpha", "AUTO_LOGIN": "false"}
    if source == "email":
        settings["GEMINI_BUSINESS_EMAIL"] = "real@example.com"
    elif source == "accounts_file":
        (tmp_path / "accounts.json").write_text(json.dumps([account]))
        settings["ACCOUNTS_FILE"] = str(tmp_path / "accounts.json")
    else:  # added earlier with the CLI (as through the admin API), then a restart
        added = subprocess.run([sys.executable, "-m", "app.accounts", "add", "-"], cwd=ROOT, input=json.dumps(account),
                               env={**os.environ, "ENV_FILE": "/nonexistent", "DATA_DIR": str(tmp_path / "data")},
                               capture_output=True, text=True, timeout=60)
        assert added.returncode == 0, added.stderr
    run, env = run_sh(tmp_path, **settings)
    try:
        banner = wait_for_banner(run)
        assert f"real Gemini Business at {real.url}/v1alpha" in banner
        assert "simulator" not in banner.lower()
        requests.get(f"http://127.0.0.1:{env['PORT']}/health", timeout=30)  # checks the account's token upstream
        requests.post(f"http://127.0.0.1:{env['PORT']}/v1/chat/completions", timeout=30,
                      json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        assert trap.requests == []
        if source != "email":  # an account with cookies was used, with the real upstream only
            assert any(SECRET_COOKIE in seen["cookie"] for seen in real.requests)
        stop(run, env)
    finally:
        run.stop()
        real.close()
        trap.close()


def test_a_taken_simulator_port_fails_before_any_banner_and_leaves_nothing_running(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run, env = run_sh(tmp_path, SIMULATOR_PORT=str(taken.getsockname()[1]))
        try:
            code = run.proc.wait(60)
            time.sleep(0.2)
            printed = "\n".join(run.output())
            assert code != 0
            assert "SIMULATOR_PORT" in printed and "Try:" not in printed and "listening on" not in printed
            assert marked_processes(env["RUN_SH_MARKER"]) == []
            with pytest.raises(requests.ConnectionError):
                requests.get(f"http://127.0.0.1:{env['PORT']}/health", timeout=2)
        finally:
            run.stop()


def test_the_demo_works_again_after_a_demo_sign_in_and_ctrl_c_ends_a_running_sign_in(tmp_path):
    settings = {"ADMIN_KEY": ADMIN["Authorization"].split()[1], "LOGIN_TIMEOUT": "90", "LOGIN_CODE_WAIT": "60"}
    run, env = run_sh(tmp_path, **settings)
    proxy = f"http://127.0.0.1:{env['PORT']}"
    account = f"{proxy}/admin/accounts/demo@example.com"
    simulator = f"http://127.0.0.1:{env['SIMULATOR_PORT']}/__sim__"
    try:
        wait_for_banner(run)
        assert f"curl {simulator}/mail" in "\n".join(run.output())  # where the demo's codes are
        # A sign-in through the admin API (as the page's button does), with the code from the simulator.
        assert requests.post(f"{account}/login", headers=ADMIN, timeout=10).status_code == 202
        wait_for(lambda: requests.get(account, headers=ADMIN, timeout=10).json()["login"]["status"]
                 == "waiting_for_code", what="the sign-in to ask for its code")
        code = requests.get(f"{simulator}/mail", timeout=10).json()["mail"][-1]["code"]
        assert requests.post(f"{account}/code", headers=ADMIN, json={"code": code}, timeout=10).status_code < 300
        signed = wait_for(lambda: (a := requests.get(account, headers=ADMIN, timeout=10).json())["login"]["status"]
                          == "succeeded" and a, what="the sign-in to finish")
        assert signed["source"] == "login" and signed["state"] == "active"
        # Another sign-in is left waiting for its code: its process and Chromium run when Ctrl-C comes.
        assert requests.post(f"{account}/login", headers=ADMIN, timeout=10).status_code == 202
        wait_for(lambda: requests.get(account, headers=ADMIN, timeout=10).json()["login"]["status"]
                 == "waiting_for_code", what="the second sign-in to ask for its code")
        assert any("chrom" in line.lower() for line in marked_processes(env["RUN_SH_MARKER"]))
        stop(run, env)
        printed = "\n".join(run.output())
        assert "RuntimeWarning" not in printed and "Traceback" not in printed, printed
        assert "sign-in stopped" in printed
    finally:
        run.stop()

    again = Process("run.sh", ["./run.sh"], env)  # the same settings: a fresh demo, working at once
    try:
        wait_for_banner(again)
        reply = requests.post(f"{proxy}/v1/chat/completions", timeout=30,
                              json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
        assert reply.status_code == 200, reply.text
        assert requests.get(f"{proxy}/health", timeout=10).json()["status"] == "ok"
        stop(again, env)
    finally:
        again.stop()


def test_the_sign_in_process_starts_without_a_runtime_warning(tmp_path):
    """The worker starts it as `python -m app.accounts.login`: importing the app must not import it first."""
    result = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "app.accounts.login",
                             "nobody@example.com", "--owner", "test"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "ENV_FILE": "/nonexistent", "DATA_DIR": str(tmp_path)}, timeout=60)
    assert "RuntimeWarning" not in result.stderr
    assert result.returncode == 2  # no such account: nothing to sign in with
