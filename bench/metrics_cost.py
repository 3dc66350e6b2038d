"""What /metrics' recording costs per request, in CPU: `python -m bench.metrics_cost [--rounds R] [--n N]`.

The app runs in this process (create_app, prometheus-client in multiprocess mode with a
temporary PROMETHEUS_MULTIPROC_DIR, as under gunicorn: the costlier mode, a file write per
increment) and is called as a WSGI app by Werkzeug's test client; the upstream is a simulator
in its own process, answering at once, so its CPU is not counted. Each round sends N requests
of each kind with the metrics recording on, then N with it replaced by no-ops, then the other
order, and takes this process's CPU time (time.process_time) for each batch: on a busy machine
the two are hit alike, and the spread over rounds says how far to trust the difference. The
access line and the request's Exchange stay in both (they are logging, not metrics). Prints
µs per request: median and min–max over rounds, on and off, and their difference.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="gbp-metrics-bench-"))

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app, metrics  # noqa: E402  (after the variable: prometheus-client reads it at import)
from app.config import Config  # noqa: E402
from tests.servers import Simulator  # noqa: E402

KEY = "sk-bench"
INSTRUMENTS = ("REQUESTS", "DURATION", "FIRST_CHUNK", "OPEN_STREAMS", "UPSTREAM_CALLS", "UPSTREAM_CANCELLED",
               "FAILOVERS", "SIGN_INS", "STORE_ERRORS", "GENERATED_FILES", "STREAM_ENDINGS", "RETRIES")


class _Nothing:
    """An instrument that records nothing: the request path without metrics."""

    def labels(self, *args, **kwargs):
        return self

    def inc(self, *args):
        pass

    dec = observe = inc


@contextmanager
def metrics_off():
    saved = {name: getattr(metrics, name) for name in INSTRUMENTS}
    for name in INSTRUMENTS:
        setattr(metrics, name, _Nothing())
    try:
        yield
    finally:
        for name, instrument in saved.items():
            setattr(metrics, name, instrument)


def batch(client, kind: str, n: int) -> float:
    """CPU µs per request of n requests of `kind`."""
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "gemini-business", "messages": [{"role": "user", "content": "hi"}], "stream": kind == "stream"}
    started = time.process_time()
    for _ in range(n):
        if kind == "models":
            response = client.get("/v1/models", headers=headers)
        else:
            response = client.post("/v1/chat/completions", headers=headers, json=body)
        response.get_data()
        response.close()
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return (time.process_time() - started) / n * 1e6


def recording(n: int = 50_000) -> dict:
    """CPU µs of exactly the recording one request makes (the calls of app/observe.py, the driver
    and the upstream client, in this process's multiprocess mode), without the request: a
    figure the machine's noise hardly touches."""
    models = frozenset({"gemini-business"})

    def whole():
        metrics.upstream_call("widgetStreamAssist", 200)
        metrics.child(metrics.REQUESTS, "openai", "/v1/chat/completions", metrics.status_label(200),
                      metrics.bounded("gemini-business", models)).inc()
        metrics.child(metrics.DURATION, "openai", "false").observe(0.004)

    def streamed():
        gauge = metrics.child(metrics.OPEN_STREAMS, "openai")
        gauge.inc()
        metrics.upstream_call("widgetStreamAssist", 200)
        gauge.dec()
        metrics.child(metrics.STREAM_ENDINGS, metrics.code_label("ok")).inc()
        metrics.child(metrics.REQUESTS, "openai", "/v1/chat/completions", metrics.status_label(200),
                      metrics.bounded("gemini-business", models)).inc()
        metrics.child(metrics.DURATION, "openai", "true").observe(0.004)
        metrics.child(metrics.FIRST_CHUNK, "openai").observe(0.002)

    figures = {}
    for name, record in (("whole", whole), ("stream", streamed)):
        record()
        started = time.process_time()
        for _ in range(n):
            record()
        figures[name] = (time.process_time() - started) / n * 1e6
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=200, help="requests per kind, round and setting")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        accounts = Path(work) / "accounts.json"
        account = {"id": "bench@example.com", "secure_c_ses": "bench-c-ses", "host_c_oses": "bench-c-oses",
                   "csesidx": "4242", "config_id": "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"}
        accounts.write_text(json.dumps([account]))
        simulator = Simulator("--accounts", str(accounts), "--reply-words", "20", "--ttfb", "0", "--chunk-delay", "0",
                              "--quiet")
        try:
            config = Config.from_env({**simulator.proxy_env(), "DATA_DIR": work, "API_KEYS": KEY,
                                      "LOG_LEVEL": "warning", "AUTO_LOGIN": "false",
                                      "GEMINI_BUSINESS_SECURE_C_SES": account["secure_c_ses"],
                                      "GEMINI_BUSINESS_HOST_C_OSES": account["host_c_oses"],
                                      "GEMINI_BUSINESS_CSESIDX": account["csesidx"],
                                      "GEMINI_BUSINESS_CONFIG_ID": account["config_id"],
                                      "ACCOUNT_EMAIL": account["id"]})
            client = create_app(config).test_client()
            results = {kind: {"on": [], "off": []} for kind in ("models", "whole", "stream")}
            for kind in results:
                batch(client, kind, 20)  # warm: imports, the JWT, the first spare session
            for round_ in range(args.rounds):
                for kind, figures in results.items():
                    order = ("on", "off") if round_ % 2 == 0 else ("off", "on")
                    for setting in order:
                        if setting == "on":
                            figures["on"].append(batch(client, kind, args.n))
                        else:
                            with metrics_off():
                                figures["off"].append(batch(client, kind, args.n))
        finally:
            simulator.stop()
    report = {"recording_only_us": recording()}
    for kind, figures in results.items():
        on, off = figures["on"], figures["off"]
        deltas = [a - b for a, b in zip(on, off)]
        report[kind] = {"on_median_us": statistics.median(on), "on_range_us": [min(on), max(on)],
                        "off_median_us": statistics.median(off), "off_range_us": [min(off), max(off)],
                        "cost_median_us": statistics.median(deltas), "cost_range_us": [min(deltas), max(deltas)],
                        "rounds": args.rounds, "requests_per_batch": args.n}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print("The recording alone, CPU µs per request: " +
          ", ".join(f"{kind} {us:.1f}" for kind, us in report.pop("recording_only_us").items()))
    print(f"CPU µs per request in this process (the gateway's share; the simulator is another process), "
          f"{args.rounds} rounds × {args.n} requests per setting; median (min–max over rounds)")
    for kind, r in report.items():
        print(f"  {kind:7s} metrics on {r['on_median_us']:7.0f} ({r['on_range_us'][0]:.0f}–{r['on_range_us'][1]:.0f})"
              f"   off {r['off_median_us']:7.0f} ({r['off_range_us'][0]:.0f}–{r['off_range_us'][1]:.0f})"
              f"   cost {r['cost_median_us']:+6.0f} ({r['cost_range_us'][0]:+.0f} … {r['cost_range_us'][1]:+.0f})")


if __name__ == "__main__":
    main()
