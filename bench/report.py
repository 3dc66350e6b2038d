"""The figures of bench.latency: series of samples, their percentiles, and the printed tables."""
from __future__ import annotations

import argparse
import math
import os
import subprocess
from dataclasses import dataclass
from typing import Callable

from simulator.elements import split_text
from simulator.replies import reply_for

from .probes import PROMPT, Client, Sample
from .stack import Stack

METRICS = ("first", "content", "total")


@dataclass
class Path:
    key: str  # "1" … "4"; the added-latency lines refer to paths by it
    label: str
    probe: Callable[[Client], Sample]
    mode: str  # "upstream", "stream" or "plain"


@dataclass
class Series:
    samples: list[Sample]
    wall: float | None = None  # seconds the whole series took (concurrent runs only)
    rate: float | None = None  # requests/s: the sum of every load thread's own rate
    cpu: dict[str, float] | None = None  # CPU seconds each program used during the series
    workers: list[int] | None = None  # chats each gunicorn worker served, busiest first

    @property
    def ok(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None]

    @property
    def errors(self) -> list[str]:
        return [s.error for s in self.samples if s.error is not None]

    def assist_only(self) -> "Series":
        return Series([s.assist_only() for s in self.samples], self.wall, self.rate, self.cpu, self.workers)

    def pct(self, metric: str, p: float) -> float | None:
        """Nearest-rank percentile in ms (p95 of fewer than 20 samples is the max)."""
        values = sorted(getattr(s, metric) for s in self.ok)
        if not values:
            return None
        return 1000 * values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def fmt(value: float | None, width: int = 6) -> str:
    return f"{value:{width}.1f}" if value is not None else f"{'-':>{width}}"


def results_table(title: str, paths: list[Path], runs: dict[str, Series]) -> list[str]:
    head = f"{'':38}{'first byte':^20}{'first content':^20}{'total':^20}"
    lines = [title, head, f"{'path':32}{'ok':>3}{'err':>4}" + "   p50   p95   max" * 3 + "  req/s"]
    rows = []
    for path in paths:
        series = runs[path.label]
        rows.append((f"{path.key}  {path.label}", series))
        if path.mode == "upstream":
            rows.append(("     timed from streamAssist", series.assist_only()))
    for label, series in rows:
        cells = "".join(fmt(series.pct(m, p)) for m in METRICS for p in (50, 95, 100))
        lines.append(f"{label:32}{len(series.ok):>3}{len(series.errors):>4}{cells}{fmt(series.rate, 7)}")
    return lines


def added_table(paths: list[Path], runs: dict[str, Series]) -> list[str]:
    by_key = {(p.key, p.mode): runs[p.label] for p in paths}
    upstream = lambda key: by_key.get((key, "upstream"))  # noqa: E731
    pairs = [("added by nginx (2 − 1)", by_key.get(("2", "upstream")), upstream("1"), METRICS)]
    for mode, name, metrics in (("stream", "stream", METRICS), ("plain", "non-stream", ("total",))):
        pairs.append((f"added by proxy, {name} (3 − 1)", by_key.get(("3", mode)), upstream("1"), metrics))
    for mode, name, metrics in (("stream", "stream", METRICS), ("plain", "non-stream", ("total",))):
        pairs.append((f"nginx before proxy, {name} (4 − 3)", by_key.get(("4", mode)), by_key.get(("3", mode)), metrics))
    lines = [f"{'added latency, ms (difference of percentiles)':46}{'first byte':^12}{'first content':^12}{'total':^12}",
             f"{'':46}" + "   p50   p95" * 3]
    for label, later, base, metrics in pairs:
        if later is None or base is None:
            continue
        cells = ""
        for metric in METRICS:
            for p in (50, 95):
                a, b = later.pct(metric, p), base.pct(metric, p)
                cells += fmt(a - b if metric in metrics and a is not None and b is not None else None)
        lines.append(f"{label:46}{cells}")
    return lines


def create_line(paths: list[Path], runs: dict[str, Series]) -> str:
    parts = []
    for path in paths:
        if path.mode == "upstream":
            series = runs[path.label]
            values = sorted(1000 * s.assist_sent for s in series.ok)
            if values:
                parts.append(f"{path.key}: p50 {values[len(values) // 2]:.1f} ms, max {values[-1]:.1f} ms")
    return "widgetCreateSession round trip (part of every chat above) — " + "; ".join(parts)


def cpu_table(paths: list[Path], runs: dict[str, Series]) -> list[str]:
    """Where the CPU went: ms per request by program, and how busy the machine's CPUs were."""
    names = ("simulator", "gunicorn", "nginx", "client")
    lines = [f"{'CPU ms per request':32}" + "".join(f"{n:>10}" for n in names) + f"{'all CPUs busy':>15}"
             + "  chats per gunicorn worker"]
    for path in paths:
        series = runs[path.label]
        if not series.cpu or not series.samples:
            continue
        per = [series.cpu.get(n) for n in names]
        cells = "".join(fmt(None if v is None else 1000 * v / len(series.samples), 10) for v in per)
        busy = sum(series.cpu.values()) / series.wall / (os.cpu_count() or 1)
        workers = " / ".join(map(str, series.workers)) if series.workers else "-"
        lines.append(f"{path.key + '  ' + path.label:32}{cells}{busy:>14.0%}  {workers}")
    return [""] + lines if len(lines) > 1 else []


def report(title: str, paths: list[Path], runs: dict[str, Series]) -> str:
    lines = results_table(title, paths, runs) + [""] + added_table(paths, runs) + [create_line(paths, runs)]
    lines += cpu_table(paths, runs)
    errors = {e for s in runs.values() for e in s.errors}
    lines += [f"error: {e}" for e in sorted(errors)[:5]]
    return "\n".join(lines)


def preamble(args: argparse.Namespace, stack: Stack) -> str:
    reply = reply_for(PROMPT, [], args.reply_words)
    elements = 2 + len(split_text(reply.text))  # two thought elements, then the text deltas
    ttfb, delay = 1000 * args.ttfb, 1000 * args.chunk_delay
    nginx = "not measured (--no-nginx)"
    if stack.nginx_sim_port:
        version = subprocess.run([stack.nginx_binary(), "-v"], capture_output=True, text=True).stderr.strip()
        nginx = f"{version.split('/')[-1]} with deploy/nginx.conf (access log off)"
    return "\n".join([
        "gemini-business-proxy: latency added by the proxy, nginx as the reference",
        f"upstream: simulator, ttfb {ttfb:.0f} ms, {delay:.0f} ms between {elements} elements, no piece delay -> "
        f"floor: first element {ttfb:.0f} ms, first text {ttfb + 2 * delay:.0f} ms, end {ttfb + (elements - 1) * delay:.0f} ms",
        f"proxy: gunicorn.conf.py, {args.workers} gevent worker(s), LOG_LEVEL=info; nginx: {nginx}",
        f"client: http.client, keep-alive, one thread per request in flight; this machine has {os.cpu_count()} CPUs",
        "times in ms from sending the request; first byte: of the first array element (1, 2) / of the body (3, 4); "
        "first content: first answer text; total: end of the body",
    ])
