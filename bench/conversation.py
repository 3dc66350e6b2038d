"""`python -m bench.conversation [--turns 20]`: what continuing a conversation upstream saves
(issue 9 §4). Never run by the test suite.

Starts the simulator and two proxies under gunicorn on 127.0.0.1: one with the default
CONVERSATION_TTL (each turn continues the conversation's upstream session and sends only the
new message), one with CONVERSATION_TTL=0 (each turn sends the whole transcript into a fresh
session, as before). The same `--turns`-turn conversation (streamed /v1/chat/completions, each
answer sent back as the client got it) runs on each. Per turn it prints the bytes of the
request bodies the proxy sent upstream (widgetStreamAssist alone and every call, from the
simulator's request log, Content-Length) and the client's time to the first content and to
[DONE], the time the simulator spent on the turn's calls (its log's durations) and the
difference, the time the proxy added; then the totals.

How to read the times: the simulator answers after a fixed ttfb whatever the query's length,
so the difference is only the proxy's work and the bytes on a local socket. Its answers are not
the same length in both runs (a continued session's answer quotes the session's first
message), so compare "added ms", not "total ms". The real service also reads (prefills) the
whole query: a longer query costs it more than here, which this cannot show.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

import requests

from simulator.demo import DEMO_ACCOUNT
from tests.servers import Process, free_port

MODEL = "gemini-2.5-flash"


def start_simulator(port: int, args) -> Process:
    sim = Process("simulator", [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(port),
                                "--ttfb", str(args.ttfb), "--chunk-delay", str(args.chunk_delay),
                                "--piece-delay", "0", "--reply-words", str(args.reply_words), "--quiet"])
    sim.wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/__sim__/health", timeout=1).ok)
    return sim


def start_proxy(sim_port: int, data_dir: Path, ttl: str) -> tuple[Process, str]:
    port, sim = free_port(), f"http://127.0.0.1:{sim_port}"
    proxy = Process("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], {
        "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "ENV_FILE": "/nonexistent",
        "GEMINI_BUSINESS_URL": sim, "API_BASE_URL": f"{sim}/v1alpha", "AUTH_URL": sim,
        "GEMINI_BUSINESS_SECURE_C_SES": DEMO_ACCOUNT["secure_c_ses"],
        "GEMINI_BUSINESS_HOST_C_OSES": DEMO_ACCOUNT["host_c_oses"],
        "GEMINI_BUSINESS_CSESIDX": DEMO_ACCOUNT["csesidx"], "GEMINI_BUSINESS_CONFIG_ID": DEMO_ACCOUNT["config_id"],
        "ACCOUNT_EMAIL": DEMO_ACCOUNT["id"], "API_KEYS": "", "JWT_SECRET": "", "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "warning", "CONVERSATION_TTL": ttl})
    url = f"http://127.0.0.1:{port}"
    proxy.wait_until(lambda: requests.get(f"{url}/health", timeout=1).ok)
    return proxy, url


def chat(http: requests.Session, url: str, messages: list[dict]) -> tuple[str, float, float]:
    """A streamed chat: (content, seconds to the first content, seconds to [DONE])."""
    began, first, parts = time.perf_counter(), None, []
    with http.post(f"{url}/v1/chat/completions", json={"model": MODEL, "messages": messages, "stream": True},
                   stream=True, timeout=120) as response:
        response.raise_for_status()
        for line in response.iter_lines(decode_unicode=True):
            if not line or not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                break
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(chunk["error"]["message"])
            content = chunk["choices"][0]["delta"].get("content") if chunk.get("choices") else None
            if content:
                first = first or time.perf_counter()
                parts.append(content)
    done = time.perf_counter()
    return "".join(parts), (first or done) - began, done - began


def upstream_bytes(sim_url: str, since: int) -> tuple[int, int, int, float]:
    """(widgetStreamAssist body bytes, every request's body bytes, last seq, seconds the upstream
    took over its calls) since `since`."""
    entries = requests.get(f"{sim_url}/__sim__/requests", params={"since": since}, timeout=10).json()["requests"]
    size = lambda e: int({k.lower(): v for k, v in e["headers"].items()}.get("content-length") or 0)  # noqa: E731
    assist = sum(size(e) for e in entries if e["path"].endswith("widgetStreamAssist"))
    took = sum(e.get("duration") or 0.0 for e in entries if "/__sim__/" not in e["path"])
    return assist, sum(size(e) for e in entries), max((e["seq"] for e in entries), default=since), took


def run(label: str, url: str, sim_url: str, turns: int) -> list[tuple[int, int, float, float, float]]:
    http, messages, rows = requests.Session(), [{"role": "system", "content": "You are a patient tutor."}], []
    since = upstream_bytes(sim_url, 0)[2]
    chat(http, url, [{"role": "user", "content": f"warm-up {label}"}])  # the first token and spare session
    time.sleep(0.5)
    since = upstream_bytes(sim_url, since)[2]
    print(f"\n{label}\n turn  streamAssist B  all upstream B  first content ms  total ms  upstream ms  added ms")
    for n in range(1, turns + 1):
        messages.append({"role": "user", "content": f"({label}) Question {n}: explain step {n} of the method in detail."})
        content, first, total = chat(http, url, messages)
        messages.append({"role": "assistant", "content": content})
        time.sleep(0.3)  # the simulator logs a request once its response is fully sent
        assist, everything, since, took = upstream_bytes(sim_url, since)
        rows.append((assist, everything, first, total, total - took))
        print(f" {n:4}  {assist:14,}  {everything:14,}  {first * 1000:16.1f}  {total * 1000:8.1f}  "
              f"{took * 1000:11.1f}  {(total - took) * 1000:8.1f}")
    print(f" total {sum(r[0] for r in rows):13,}  {sum(r[1] for r in rows):14,}  "
          f"{sum(r[2] for r in rows) * 1000:16.1f}  {sum(r[3] for r in rows) * 1000:8.1f}  "
          f"{sum(r[3] - r[4] for r in rows) * 1000:11.1f}  {sum(r[4] for r in rows) * 1000:8.1f}")
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--ttfb", type=float, default=0.2)
    parser.add_argument("--chunk-delay", type=float, default=0.01)
    parser.add_argument("--reply-words", type=int, default=80)
    args = parser.parse_args(argv)
    tmp, sim_port = Path(tempfile.mkdtemp(prefix="gbp-bench-conv-")), free_port()
    started: list[tuple[Process, int]] = []
    try:
        started.append((start_simulator(sim_port, args), signal.SIGTERM))
        sim_url = f"http://127.0.0.1:{sim_port}"
        on, on_url = start_proxy(sim_port, tmp / "on", "86400")
        started.append((on, signal.SIGINT))
        off, off_url = start_proxy(sim_port, tmp / "off", "0")
        started.append((off, signal.SIGINT))
        print(f"simulator ttfb {args.ttfb * 1000:.0f} ms, {args.chunk_delay * 1000:.0f} ms between elements, "
              f"{args.reply_words} words per answer; {args.turns} turns, streamed")
        continued = run("continued (CONVERSATION_TTL=86400)", on_url, sim_url, args.turns)
        whole = run("whole transcript (CONVERSATION_TTL=0)", off_url, sim_url, args.turns)
        print("\nsaved by continuing:")
        for i, what in enumerate(("streamAssist bytes", "all upstream bytes")):
            a, b = sum(r[i] for r in continued), sum(r[i] for r in whole)
            print(f" {what}: {b:,} → {a:,} ({100 * (1 - a / b):.0f} % less)")
        for i, what in ((2, "first content"), (3, "total"), (4, "added by the proxy (total − upstream)")):
            a, b = sum(r[i] for r in continued), sum(r[i] for r in whole)
            print(f" {what}, sum over the turns: {b * 1000:.0f} ms → {a * 1000:.0f} ms; "
                  f"last turn {whole[-1][i] * 1000:.1f} → {continued[-1][i] * 1000:.1f} ms")
    finally:
        for process, sig in reversed(started):
            process.stop(sig)


if __name__ == "__main__":
    main()
