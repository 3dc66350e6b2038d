"""The programs bench.sidebyside puts side by side, each started on 127.0.0.1 and stopped on exit.

    direct      the OpenAI-dialect fake upstream itself (bench/fake_openai.py): the floor of
                nginx and LiteLLM
    simulator   the simulator called as the gateway calls it (widgetCreateSession +
                widgetStreamAssist): the floor of the gateway
    gateway     this project under gunicorn, one gevent worker, in front of the simulator
    nginx       the Debian package, one worker, a minimal pass-through config written here
    litellm     LiteLLM's proxy (one worker) from a throwaway venv outside the repository

The contestants (gateway, nginx, litellm) are pinned to the last CPU with taskset when the
machine has more than one; the fakes and the load generator share the others. Each Contestant
knows its processes, so CPU, RSS and open fds come from /proc.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from simulator.elements import split_text
from simulator.replies import reply_for

from . import probes
from .content import SimulatorContent, SSEContent
from .loadgen import Call, Exchange, http_request
from .stack import gateway_env
from tests.servers import Process, free_port

LITELLM_VERSION = "1.80.0"  # never 1.82.7 or 1.82.8: those releases were compromised
LITELLM_HOME = Path.home() / ".cache" / "gemini-business-proxy" / "bench" / f"litellm-{LITELLM_VERSION}"
FAKE_MODEL, GATEWAY_MODEL = "fake-model", probes.MODEL
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _pin() -> list[str]:
    """taskset prefix that puts a contestant on the last CPU (nothing on one CPU or without taskset)."""
    cpus = os.cpu_count() or 1
    return ["taskset", "-c", str(cpus - 1)] if cpus > 1 and shutil.which("taskset") else []


def generator_cpus() -> set[int]:
    cpus = os.cpu_count() or 1
    return set(range(cpus - 1)) if _pin() else set(range(cpus))


def reply_words_for(chunks: int) -> int:
    """The simulator's reply_words whose answer splits into about `chunks` text elements."""
    words = 1
    while len(split_text(reply_for(probes.PROMPT, [], words).text)) < chunks and words < 2000:
        words += 1
    return words


@dataclass
class Stats:
    cpu: float  # seconds, utime + stime
    rss: int  # bytes
    fds: int


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as handle:
                    if int(handle.read().rpartition(")")[2].split()[2]) == pgid:
                        pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def process_stats(pids: list[int]) -> Stats:
    cpu = rss = fds = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rpartition(")")[2].split()
            cpu += int(fields[11]) + int(fields[12])
            rss += int(fields[21]) * PAGE
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, IndexError, ValueError):
            pass
    return Stats(cpu / CLK, rss, fds)


def openai_exchange(port: int, model: str, headers: dict, stream: bool) -> Exchange:
    """POST /v1/chat/completions; first content: the first complete SSE event with a
    non-empty delta.content (bench/content.py), or the whole body when not streamed."""
    body = json.dumps({"model": model, "stream": stream,
                       "messages": [{"role": "user", "content": probes.PROMPT}]}).encode()
    raw = http_request(port, "/v1/chat/completions", body, headers)

    def steps(call: Call) -> None:
        answer = call.request(raw, SSEContent if stream else None)
        if stream:
            if b"data: [DONE]" not in answer or not call.result.first_content:
                raise ValueError(f"stream without content or [DONE]: {answer[-120:]!r}")
            if b'"error"' in answer:
                raise ValueError(f"in-band error: {answer[:160]!r}")
        else:
            if not json.loads(answer)["choices"][0]["message"]["content"]:
                raise ValueError("no content")
            call.result.first_content = call.last
    return Exchange(steps)


def simulator_exchange(port: int, headers: dict, stream: bool, spare_ready: bool = False) -> Exchange:
    """The gateway's two calls per chat, widgetCreateSession then widgetStreamAssist, with its
    headers (the JWT fetched once, before timing, as the gateway caches it too); first content:
    the first complete non-thought text element (bench/content.py); a non-stream chat reads the
    same stream to its end.

    spare_ready: the clock starts when streamAssist goes out, the session made just before and
    not timed — the gateway's path when its spare session is ready (app/upstream/spares.py; at
    concurrency 1 it is: the refill's createSession runs while the previous answer streams,
    one createSession per chat in the simulator's log). Without it (many chats of one account
    at once share one spare) the createSession round trip is on the path, as on the gateway's."""
    create = http_request(port, probes.WIDGET_PATH + "widgetCreateSession", probes.CREATE_BODY, headers)

    def steps(call: Call) -> None:
        session = json.loads(call.request(create))["session"]["name"]
        if spare_ready:
            call.start_clock()
        raw = http_request(port, probes.WIDGET_PATH + "widgetStreamAssist", probes.assist_body(session), headers)
        answer = call.request(raw, SimulatorContent)
        if not answer.rstrip().endswith(b"]") or not call.result.first_content:
            raise ValueError("the upstream stream ended without answer text or without `]`")
        if not stream:
            call.result.first_content = call.last
    return Exchange(steps)


class Contestant:
    name = ""
    floor = ""  # the name of the contestant whose times are subtracted ("" for a floor itself)

    def __init__(self, tmp: Path):
        self.tmp, self.port, self.process = tmp, 0, None

    def workers(self) -> list[int]:
        """The serving processes: the group's children when there are any (gunicorn's, nginx's
        and uvicorn's masters are idle), else the leader."""
        pids = group_pids(self.process.proc.pid)
        children = [p for p in pids if p != self.process.proc.pid]
        return children or pids

    def stats(self) -> Stats:
        return process_stats(self.workers())

    def stop(self) -> None:
        if self.process is not None:
            try:
                self.process.stop(self.stop_signal)
            except (OSError, ProcessLookupError):
                pass

    stop_signal = signal.SIGTERM

    def _wait(self, path: str, timeout: float = 60.0) -> None:
        self.process.wait_until(lambda: requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=2).ok, timeout)


class OpenAIDialect(Contestant):
    model = FAKE_MODEL
    headers: dict = {}

    def exchange(self, stream: bool, spare_ready: bool = False) -> Exchange:
        return openai_exchange(self.port, self.model, self.headers, stream)


class Direct(OpenAIDialect):
    name = "direct"

    def __init__(self, tmp: Path, ttfb: float, chunks: int, chunk_delay: float):
        super().__init__(tmp)
        self.port = free_port()
        self.process = Process("fake-openai", [sys.executable, "-m", "bench.fake_openai", "--port", str(self.port),
                                               "--ttfb", str(ttfb), "--chunks", str(chunks),
                                               "--chunk-delay", str(chunk_delay)])
        self._wait("/health")

    def set_timing(self, ttfb: float, chunk_delay: float) -> None:
        requests.post(f"http://127.0.0.1:{self.port}/__fake__/settings", timeout=5,
                      json={"ttfb": ttfb, "chunk_delay": chunk_delay}).raise_for_status()


class SimulatorDirect(Contestant):
    name = "simulator"

    def __init__(self, tmp: Path, ttfb: float, chunks: int, chunk_delay: float):
        super().__init__(tmp)
        self.port = free_port()
        self.process = Process("simulator", [
            sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(self.port),
            "--ttfb", str(ttfb), "--chunk-delay", str(chunk_delay), "--piece-delay", "0",
            "--reply-words", str(reply_words_for(chunks)), "--layout", "lines", "--quiet",
            "--compression", "identity"])
        self._wait("/__sim__/health")
        self.upstream = probes.Upstream(self.port)

    def set_timing(self, ttfb: float, chunk_delay: float) -> None:
        requests.patch(f"http://127.0.0.1:{self.port}/__sim__/settings", timeout=5,
                       json={"ttfb": ttfb, "chunk_delay": chunk_delay}).raise_for_status()

    def exchange(self, stream: bool, spare_ready: bool = False) -> Exchange:
        headers = {k: v for k, v in self.upstream.headers().items() if k.lower() != "content-type"}
        return simulator_exchange(self.port, headers, stream, spare_ready)


class Gateway(OpenAIDialect):
    name, floor, model = "gateway", "simulator", GATEWAY_MODEL
    stop_signal = signal.SIGINT  # gunicorn's quick shutdown

    def __init__(self, tmp: Path, simulator: SimulatorDirect):
        super().__init__(tmp)
        self.port = free_port()
        env = {"GUNICORN_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": "1",
               **gateway_env(f"http://127.0.0.1:{simulator.port}", str(tmp / "gateway-data"))}
        self.process = Process("gunicorn", _pin() + [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], env)
        self._wait("/health")

    @staticmethod
    def version() -> str:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent)
        return f"git {head.stdout.strip() or '?'}"


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {tmp}/nginx.pid;
error_log stderr error;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    {temp_paths}
    upstream fake {{ server 127.0.0.1:{upstream}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        keepalive_requests 100000;
        location / {{
            proxy_pass http://fake;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


class Nginx(OpenAIDialect):
    name, floor = "nginx", "direct"

    def __init__(self, tmp: Path, direct: Direct):
        super().__init__(tmp)
        self.port = free_port()
        binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
        if not binary:
            raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
        self.binary = binary
        work = tmp / "nginx"
        work.mkdir()
        (work / "nginx.conf").write_text(NGINX_CONF.format(
            tmp=work, upstream=direct.port, port=self.port,
            temp_paths=" ".join(f"{kind}_temp_path {work}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))))
        self.process = Process("nginx", _pin() + [binary, "-p", str(work), "-c", str(work / "nginx.conf"), "-e", "stderr"])
        self._wait("/health")

    def version(self) -> str:
        out = subprocess.run([self.binary, "-v"], capture_output=True, text=True).stderr.strip()
        return out.split("/")[-1]


LITELLM_CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: http://127.0.0.1:{upstream}/v1
      api_key: sk-bench-fake
litellm_settings:
  telemetry: false
  drop_params: true
"""


def litellm_binary() -> Path:
    return LITELLM_HOME / "bin" / "litellm"


def install_litellm() -> None:
    """pip install litellm[proxy]==LITELLM_VERSION into LITELLM_HOME (outside the repository)."""
    if litellm_binary().exists():
        return
    LITELLM_HOME.parent.mkdir(parents=True, exist_ok=True)
    print(f"installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_HOME} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(LITELLM_HOME)], check=True)
    subprocess.run([str(LITELLM_HOME / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], check=True)


class LiteLLM(OpenAIDialect):
    name, floor = "litellm", "direct"

    def __init__(self, tmp: Path, direct: Direct):
        super().__init__(tmp)
        self.port = free_port()
        config = tmp / "litellm.yaml"
        config.write_text(LITELLM_CONFIG.format(model=FAKE_MODEL, upstream=direct.port))
        env = {"LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False", "NO_DOCS": "True",
               "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list at start
               "DISABLE_SCHEMA_UPDATE": "True"}
        self.process = Process("litellm", _pin() + [str(litellm_binary()), "--config", str(config), "--host", "127.0.0.1",
                                                    "--port", str(self.port), "--num_workers", "1", "--telemetry", "False"],
                               env, cwd=tmp)
        self._wait("/health/liveliness", timeout=120)

    @staticmethod
    def version() -> str:
        return LITELLM_VERSION

