"""Open streams one gunicorn gevent worker holds (issue 12: 5,000 per worker, ≤ 40 KB RSS per
extra stream, ≤ 60 MB idle, time to first content unchanged at that load).

    python -m bench.streams --streams 100,1000,5000 [--json out.json] [--introspect]

One gateway worker (the project's gunicorn.conf.py and defaults: WORKER_CONNECTIONS, pool sizes,
fd limits) in front of the simulator. Per level N: the simulator's chunks are slowed so a stream
lasts the whole level; N streamed chats are opened (raw sockets read through epoll,
tests/many_connections.py) and held until each has shown content; then the worker's RSS and fds
(/proc), and the time to first content of a few new streams opened one by one while the N are
held, against the same taken idle. The held streams then run to their end: errors (no [DONE], an
error in band, a status other than 200) and stalls (a pause between reads over 3 chunk delays).

--introspect runs the worker with tracemalloc (PYTHONTRACEMALLOC=1; RSS figures then include its
own cost: use a small N) and prints which object types and allocation lines grow per held stream
(bench/streams_hook.py), which is where RSS per stream goes.

Wall-clock figures depend on the machine's load: compare levels taken in one run.
"""
from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.many_connections import HeldConnections, http10, raise_own_fd_limit, split_response
from tests.servers import Process

from . import contestants as c
from . import probes
from .content import SSEContent

CHUNKS = 20
SAMPLES = 5  # new streams timed per level


def stream_request() -> bytes:
    body = json.dumps({"model": probes.MODEL, "stream": True,
                       "messages": [{"role": "user", "content": probes.PROMPT}]}).encode()
    return http10("POST", "/v1/chat/completions", {"content-type": "application/json"}, body)


class Streams(HeldConnections):
    """HeldConnections that also notes, per connection, when its content began and its longest
    pause between two reads."""

    def __init__(self, port: int, request: bytes, count: int):
        self.first: dict = {}
        self.detectors: dict = {}  # first content as bench.sidebyside means it (bench/content.py)
        self.last: dict = {}
        self.gap: dict = {}
        super().__init__(port, request, count)

    def read(self, timeout: float) -> None:
        for key, _ in self._selector.select(timeout):
            sock, now = key.fileobj, time.monotonic()
            try:
                data = sock.recv(65536)
            except ConnectionError:
                data = b""
            self.received[sock] += data
            # HTTP/1.0 answers: the head, then the SSE events unframed; the head is no event
            if data and sock not in self.first and self.detectors.setdefault(sock, SSEContent()).feed(data):
                self.first[sock] = now
            if data and sock in self.first:
                self.gap[sock] = max(self.gap.get(sock, 0.0), now - self.last.get(sock, now))
                self.last[sock] = now
            if not data:
                self._selector.unregister(sock)


def first_content(port: int, request: bytes) -> float:
    """Seconds from sending one streamed chat to its first content (the stream is then dropped)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        start = time.monotonic()
        sock.sendall(request)
        seen, detector = b"", SSEContent()
        while True:
            data = sock.recv(65536)
            if not data:
                raise ValueError(f"ended before content: {seen[-200:]!r}")
            seen += data
            if detector.feed(data):
                return time.monotonic() - start


def median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2]


class Introspection:
    def __init__(self, directory: Path):
        self.directory = directory

    def dump(self, name: str) -> dict:
        (self.directory / f"{name}.want").touch()
        target = self.directory / f"{name}.json"
        deadline = time.monotonic() + 120
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # written whole
        return json.loads(target.read_text())

    @staticmethod
    def growth(before: dict, after: dict, count: int) -> dict:
        # The snapshot's own objects (tracemalloc's Statistic, Traceback, _Frame) are not the worker's.
        own = {"Statistic", "Traceback", "_Frame", "Snapshot", "StatisticDiff"}
        types = {t: (n - before["types"].get(t, 0)) / count for t, n in after["types"].items() if t not in own}
        sites_before = {s[0]: s[1] for s in before["sites"]}
        sites = {s[0]: (s[1] - sites_before.get(s[0], 0)) / count for s in after["sites"] if "tracemalloc" not in s[0]}
        top = lambda d: dict(sorted(((k, round(v, 2)) for k, v in d.items() if v > 0), key=lambda kv: -kv[1])[:25])
        return {"objects_per_stream": top(types), "traced_bytes_per_stream": top(sites),
                "traced_total_per_stream": round(sum(v for v in sites.values()), 1)}


def level(gateway, simulator, count: int, request: bytes, introspect) -> dict:
    hold = count / 150 + 20  # opening them takes about count/300 s here; they outlive the sample
    chunk_delay = hold / CHUNKS
    simulator.set_timing(0.0, chunk_delay)
    # The simulator's delay comes before the first chunk too: compare with the same setting idle.
    ttfc_idle = median([first_content(gateway.port, request) for _ in range(SAMPLES)])
    before = gateway.stats()
    snap_before = introspect.dump(f"idle-{count}") if introspect else None
    streams = Streams(gateway.port, request, count)
    try:
        deadline = time.monotonic() + hold + 60  # a hang guard
        streams.read_until(lambda: len(streams.first) + len(streams.ended()) >= count, deadline)
        loaded, showing = gateway.stats(), len(streams.first) - len(streams.ended())
        snap_loaded = introspect.dump(f"loaded-{count}") if introspect else None
        with ThreadPoolExecutor(1) as pool:  # the held streams are read meanwhile (stalls)
            timed = pool.submit(lambda: [first_content(gateway.port, request) for _ in range(SAMPLES)])
            while not timed.done():
                streams.read(0.1)
            ttfc = timed.result()
        streams.read_until(lambda: not streams.open(), deadline + hold)
        answers = [bytes(streams.received[s]) for s in streams.received]
    finally:
        streams.close()
    errors = [a for a in answers if split_response(a)[0] != 200 or b"data: [DONE]" not in a or b'"error"' in a]
    stalls = sum(gap > 3 * chunk_delay for gap in streams.gap.values())
    after = gateway.stats()
    result = {
        "streams": count, "held_with_content_at_sample": showing, "errors": len(errors),
        "error_examples": sorted({e[-160:].decode(errors="replace") for e in errors})[:3],
        "stalls": stalls, "chunk_delay_s": round(chunk_delay, 3),
        "rss_before_mb": round(before.rss / 2**20, 1), "rss_loaded_mb": round(loaded.rss / 2**20, 1),
        "rss_after_mb": round(after.rss / 2**20, 1),
        "rss_per_stream_kb": round((loaded.rss - before.rss) / showing / 1024, 1) if showing else None,
        "fds_before": before.fds, "fds_loaded": loaded.fds,
        "ttfc_idle_ms": round(1000 * ttfc_idle, 1), "ttfc_loaded_ms": round(1000 * median(ttfc), 1),
        "ttfc_loaded_all_ms": [round(1000 * t, 1) for t in ttfc],
    }
    if introspect:
        result["growth"] = Introspection.growth(snap_before, snap_loaded, showing)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="100,1000,5000", help="levels, comma-separated")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--introspect", action="store_true", help="object and allocation growth per stream")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.streams.split(",")]
    raise_own_fd_limit(max(counts) + SAMPLES + 200)
    tmp = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    introspect = None
    simulator = c.SimulatorDirect(tmp, 0.0, CHUNKS, 0.0)
    try:
        if args.introspect:
            dumps = tmp / "dumps"
            dumps.mkdir()
            introspect = Introspection(dumps)
            os.environ.update(BENCH_DUMP_DIR=str(dumps), PYTHONTRACEMALLOC="1")
            gunicorn_conf = str(Path(__file__).with_name("streams_hook.py"))
        else:
            gunicorn_conf = "gunicorn.conf.py"
        gateway = _gateway(tmp, simulator, gunicorn_conf)
        try:
            request = stream_request()
            for _ in range(20):  # warm: imports, the JWT, pooled connections
                first_content(gateway.port, request)
            idle = gateway.stats()
            results = {"idle_rss_mb": round(idle.rss / 2**20, 1), "idle_fds": idle.fds, "levels": []}
            for count in counts:
                row = level(gateway, simulator, count, request, introspect)
                results["levels"].append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "growth"}), flush=True)
                if "growth" in row:
                    print(json.dumps(row["growth"], indent=1), flush=True)
        finally:
            gateway.stop()
    finally:
        simulator.stop()
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def _gateway(tmp: Path, simulator, conf: str):
    gateway = c.Gateway.__new__(c.Gateway)
    c.Contestant.__init__(gateway, tmp)
    gateway.port = c.free_port()
    env = {"GUNICORN_BIND": f"127.0.0.1:{gateway.port}", "WEB_CONCURRENCY": "1",
           **c.gateway_env(f"http://127.0.0.1:{simulator.port}", str(tmp / "gateway-data")), "LOG_LEVEL": "warning"}
    gateway.process = Process("gunicorn", c._pin() + [sys.executable, "-m", "gunicorn", "-c", conf, "wsgi:app"], env)
    gateway._wait("/health")
    return gateway


def table(results: dict) -> str:
    lines = [f"one gevent worker, idle RSS {results['idle_rss_mb']} MB, {results['idle_fds']} fds (noisy machine: times vary)",
             "| streams held | RSS before → loaded MB | RSS per stream KB | fds loaded | first content idle → loaded ms | errors | stalls |",
             "|---|---|---|---|---|---|---|"]
    for r in results["levels"]:
        lines.append(f"| {r['held_with_content_at_sample']} of {r['streams']} | {r['rss_before_mb']} → {r['rss_loaded_mb']} | "
                     f"{r['rss_per_stream_kb']} | {r['fds_loaded']} | {r['ttfc_idle_ms']} → {r['ttfc_loaded_ms']} | "
                     f"{r['errors']} | {r['stalls']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
