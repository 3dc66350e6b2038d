"""Real processes for integration tests: the simulator, gunicorn+gevent, nginx.

Each runs on a free loopback port; its output is collected line by line so tests can read
the logs (request ids, worker pids) and check that no secret ever reached them.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
READY_READ = 20.0  # seconds a readiness probe that reached the server waits for its answer (a hang guard)


def free_port() -> int:
    """A loopback port nobody has bound right now, for a server about to start.

    Under pytest-xdist (./test.sh runs the suite in several worker processes) each worker takes
    only the ports of its own share, so two workers never pick the same port in the moment
    between this choice and their server's bind. Linux hands bind() mostly odd ports: the share
    is of port // 2, not of the port itself."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # gw0, gw1, ...
    mine = int(worker[2:]) if worker[2:].isdigit() else 0
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if (port // 2) % workers == mine:
            return port


@contextlib.contextmanager
def refusing_port():
    """A loopback port that refuses connections for as long as the block lasts: bound, never
    listening. A port merely found free (free_port) can be taken meanwhile by any server that
    binds port 0, in this process or another xdist worker's, and then it answers instead."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


class Process:
    def __init__(self, name: str, command: list[str], env: dict | None = None, cwd: Path = ROOT):
        self.name = name
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def output(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def json_logs(self) -> list[dict]:
        entries = []
        for line in self.output():
            if line.startswith("{"):
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    pass
        return entries

    def wait_until(self, check, timeout: float = 20.0, what: str = "ready") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n" + "\n".join(self.output()[-40:]))
            try:
                if check():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not {what} after {timeout}s:\n" + "\n".join(self.output()[-40:]))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


class Simulator(Process):
    def __init__(self, *args: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__("simulator", [sys.executable, "-m", "simulator", "--host", "127.0.0.1",
                                       "--port", str(self.port), *args])
        self.wait_until(lambda: requests.get(f"{self.url}/__sim__/health", timeout=1).ok)

    def control(self, method: str, path: str, **kwargs):
        response = requests.request(method, f"{self.url}/__sim__/{path}", timeout=5, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def fault(self, kind: str, **params):
        return self.control("POST", "faults", json={"kind": kind, **params})

    def requests_log(self, since: int = 0) -> list[dict]:
        return self.control("GET", f"requests?since={since}")["requests"]

    def proxy_env(self) -> dict:
        """Settings that point a proxy at this simulator."""
        return {"GEMINI_BUSINESS_URL": self.url, "API_BASE_URL": f"{self.url}/v1alpha", "AUTH_URL": self.url}


class Gunicorn(Process):
    """The proxy exactly as users run it: gunicorn -c gunicorn.conf.py wsgi:app (gevent workers)."""

    def __init__(self, env: dict, workers: int = 2, app: str = "wsgi:app"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {"GUNICORN_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers),
               "ENV_FILE": "/nonexistent", **env}
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]  # the image's CMD
        command[-1] = app  # a test's own entry point (e.g. with a clock it moves) wraps wsgi.py
        super().__init__("gunicorn", command, env)
        # The socket is bound before a worker boots: a probe connects at once and waits in the
        # backlog. It is waited for (READY_READ), not given up on after a second and sent again:
        # an abandoned probe is still served once a worker is up, and its getoxsrf (/health asks
        # for a token) would reach the upstream after the test has begun, e.g. rotating the
        # cookies of an account test_cookie_rotation keeps idle.
        self.wait_until(lambda: requests.get(f"{self.url}/health", timeout=(1, READY_READ)).ok)
        self.workers = workers

    def stop(self, sig: int = signal.SIGINT) -> None:
        """Quick shutdown: a graceful one would wait for the tests' idle keep-alive connections."""
        super().stop(sig)

    def pid_of(self, request_id: str, timeout: float = 5.0) -> int:
        """Which worker served a request, from its 'request done' log line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.json_logs():
                if entry.get("request_id") == request_id and entry.get("message") == "request done":
                    return entry["pid"]
            time.sleep(0.02)
        raise AssertionError(f"no log line for request {request_id}")


class Nginx(Process):
    """nginx running deploy/nginx.conf unchanged but for the upstream address and listen port."""

    def __init__(self, upstream_port: int, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        site = (ROOT / "deploy" / "nginx.conf").read_text()
        for old, new in (("server gemini-proxy:8080;", f"server 127.0.0.1:{upstream_port};"),
                         ("listen 80;", f"listen 127.0.0.1:{self.port};")):
            assert old in site, f"deploy/nginx.conf no longer has {old!r}"
            site = site.replace(old, new)
        (workdir / "site.conf").write_text(site)
        temp = " ".join(f"{kind}_temp_path {workdir}/{kind};" for kind in
                        ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # The connection limits compose ships (deploy/nginx-main.conf), the rest of that file is
        # about the container's paths.
        events = re.search(r"^events \{.*?^\}", (ROOT / "deploy" / "nginx-main.conf").read_text(), re.M | re.S)
        assert events, "deploy/nginx-main.conf no longer has an events block"
        events = events.group(0)
        (workdir / "nginx.conf").write_text(
            f"daemon off;\npid {workdir}/nginx.pid;\nerror_log stderr warn;\n{events}\n"
            f"http {{\n  access_log off;\n  {temp}\n  include {workdir}/site.conf;\n}}\n")
        binary = next((p for p in ("/usr/sbin/nginx", "/usr/bin/nginx") if Path(p).exists()), "nginx")
        super().__init__("nginx", [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf")])
        self.wait_until(lambda: requests.get(f"{self.url}/health", timeout=(1, READY_READ)).ok)  # as Gunicorn's
