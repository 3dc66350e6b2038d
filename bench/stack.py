"""The processes the latency benchmark measures: the simulator, the proxy under gunicorn
(gevent workers, as users run it) and one nginx with two server blocks, all on 127.0.0.1.

nginx's server blocks are deploy/nginx.conf itself with only the upstream address, its name
and the listen address rewritten: one in front of the simulator (the reference of a good
reverse proxy), one in front of the proxy. Every process is started in its own session and
Stack.stop() ends each process group it started, whatever happened.
"""
from __future__ import annotations

import collections
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Callable

import requests

from simulator.demo import DEMO_ACCOUNT
from tests.servers import ROOT, Process, free_port

NGINX_SITE = ROOT / "deploy" / "nginx.conf"
NGINX_MAIN = """\
daemon off;
master_process on;
worker_processes auto;
pid {tmp}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/to-simulator.conf;
    include {tmp}/to-proxy.conf;
}}
"""


def nginx_site(name: str, listen_port: int, upstream_port: int) -> str:
    """deploy/nginx.conf pointed at 127.0.0.1:upstream_port, listening on 127.0.0.1:listen_port."""
    text = NGINX_SITE.read_text()
    for pattern, replacement in (
        (r"\bgemini_proxy\b", name),                                   # upstream name and proxy_pass
        (r"server\s+gemini-proxy:8080;", f"server 127.0.0.1:{upstream_port};"),
        (r"listen\s+80;", f"listen 127.0.0.1:{listen_port};"),
    ):
        text, count = re.subn(pattern, replacement, text)
        if not count:
            raise RuntimeError(f"{NGINX_SITE} changed shape: no match for {pattern!r}; update bench/stack.py")
    return text


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in a process group (Linux /proc; 0 elsewhere)."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == pgid:  # fields: state ppid pgrp ... utime (11) stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def gateway_env(sim: str, data_dir: str) -> dict:
    """Settings of a gateway pointed at the simulator at `sim` with its demo account."""
    return {
        "ENV_FILE": "/nonexistent",  # a developer's .env must not change what is measured
        "GEMINI_BUSINESS_URL": sim, "API_BASE_URL": f"{sim}/v1alpha", "AUTH_URL": sim,
        "GEMINI_BUSINESS_SECURE_C_SES": DEMO_ACCOUNT["secure_c_ses"],
        "GEMINI_BUSINESS_HOST_C_OSES": DEMO_ACCOUNT["host_c_oses"],
        "GEMINI_BUSINESS_CSESIDX": DEMO_ACCOUNT["csesidx"],
        "GEMINI_BUSINESS_CONFIG_ID": DEMO_ACCOUNT["config_id"],
        "ACCOUNT_EMAIL": DEMO_ACCOUNT["id"],
        "API_KEYS": "", "JWT_SECRET": "",
        "DATA_DIR": data_dir,
        "LOG_LEVEL": "info", "LOG_FORMAT": "json",  # the defaults: one log line per request
    }


def _ok(url: str) -> bool:
    return requests.get(url, timeout=1).ok


class Stack:
    def __init__(self, ttfb: float, chunk_delay: float, reply_words: int, workers: int, nginx: bool):
        self.settings = (ttfb, chunk_delay, reply_words)
        self.workers = workers
        self.want_nginx = nginx
        self.processes: list[tuple[Process, int]] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="gbp-bench-"))
        self.sim_port = self.proxy_port = self.nginx_sim_port = self.nginx_proxy_port = 0
        self.proxy: Process | None = None

    def start(self) -> "Stack":
        ttfb, chunk_delay, words = self.settings
        self.sim_port = free_port()
        sim = self._run(lambda: Process("simulator", [
            sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(self.sim_port),
            "--ttfb", str(ttfb), "--chunk-delay", str(chunk_delay), "--piece-delay", "0",
            "--reply-words", str(words), "--layout", "lines", "--quiet",
            "--compression", "identity"]), signal.SIGTERM)  # the direct probe reads raw bytes
        sim.wait_until(lambda: _ok(f"http://127.0.0.1:{self.sim_port}/__sim__/health"))

        self.proxy_port = free_port()
        proxy = self.proxy = self._run(lambda: Process("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                  self.proxy_env()), signal.SIGINT)  # SIGINT: gunicorn's quick shutdown
        proxy.wait_until(lambda: _ok(f"http://127.0.0.1:{self.proxy_port}/health"))

        if self.want_nginx:
            self.nginx_sim_port, self.nginx_proxy_port = free_port(), free_port()
            (self.tmp / "to-simulator.conf").write_text(nginx_site("bench_simulator", self.nginx_sim_port, self.sim_port))
            (self.tmp / "to-proxy.conf").write_text(nginx_site("gemini_proxy", self.nginx_proxy_port, self.proxy_port))
            (self.tmp / "nginx.conf").write_text(NGINX_MAIN.format(tmp=self.tmp))
            nginx = self._run(lambda: Process("nginx", [self.nginx_binary(), "-p", str(self.tmp), "-c", str(self.tmp / "nginx.conf"),
                                                "-e", "stderr"]), signal.SIGTERM)
            nginx.wait_until(lambda: _ok(f"http://127.0.0.1:{self.nginx_sim_port}/__sim__/health")
                             and _ok(f"http://127.0.0.1:{self.nginx_proxy_port}/health"))
        return self

    @staticmethod
    def nginx_binary() -> str:
        found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
        if not found:
            raise RuntimeError("nginx is not installed (apt-get install -y nginx), or pass --no-nginx")
        return found

    def proxy_env(self) -> dict:
        return {"GUNICORN_BIND": f"127.0.0.1:{self.proxy_port}", "WEB_CONCURRENCY": str(self.workers),
                **gateway_env(f"http://127.0.0.1:{self.sim_port}", str(self.tmp / "data"))}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU used so far by each started program (all its processes), and by this one."""
        used = {process.name: group_cpu_seconds(process.proc.pid) for process, _ in self.processes}
        times = os.times()
        used["client"] = times.user + times.system
        return used

    def proxy_log_mark(self) -> int:
        return len(self.proxy.output())

    def chats_per_worker(self, mark: int) -> list[int]:
        """How many chat requests each gunicorn worker finished since `mark`, busiest first
        (from the proxy's own "request done" log lines)."""
        served = collections.Counter()
        for line in self.proxy.output()[mark:]:
            if line.startswith("{") and '"request done"' in line:
                entry = json.loads(line)
                if entry.get("path") == "/v1/chat/completions":
                    served[entry.get("pid")] += 1
        return sorted(served.values(), reverse=True)

    def _run(self, start: Callable[[], Process], stop_signal: int) -> Process:
        """Start a process and register it for stop(); a Ctrl-C meanwhile is held until the
        process is registered. (Not with a blocked signal mask: children would inherit it.)"""
        held: list[int] = []
        previous = {sig: signal.signal(sig, lambda number, frame: held.append(number))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            process = start()
            self.processes.append((process, stop_signal))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if held:
            raise KeyboardInterrupt
        return process

    def stop(self) -> None:
        while self.processes:
            process, stop_signal = self.processes.pop()
            try:
                process.stop(stop_signal)
            except (OSError, ProcessLookupError):
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)
