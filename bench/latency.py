"""`python -m bench.latency`: the latency the proxy adds to a chat, next to nginx as the reference.

Four paths to the same simulated upstream, each measured for the same chat (bench/README.md):

    1  direct → simulator      the upstream calls the proxy makes itself (createSession + streamAssist)
    2  nginx → simulator       deploy/nginx.conf as a pure reverse proxy: the cost of a good proxy
    3  proxy → simulator       /v1/chat/completions, stream=true and stream=false, via gunicorn
    4  nginx → proxy → sim.    deploy/nginx.conf in front of the proxy, as in production

first at concurrency 1 (paths interleaved request by request, so drift hits all alike), then
at --concurrency with each path on its own. Prints tables; never asserts anything.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import signal
import sys
import threading
import time
from functools import partial
from typing import Callable

from .probes import Client, ProbeFailed, Sample, Upstream, proxy_plain, proxy_stream
from .report import Path, Series, preamble, report
from .stack import Stack

STOP = threading.Event()


def make_paths(stack: Stack) -> list[Path]:
    paths = [Path("1", "direct → simulator", Upstream(stack.sim_port).chat, "upstream")]
    if stack.nginx_sim_port:
        paths.append(Path("2", "nginx → simulator", Upstream(stack.nginx_sim_port).chat, "upstream"))
    for key, port, label in (("3", stack.proxy_port, "proxy"), ("4", stack.nginx_proxy_port, "nginx → proxy")):
        if port:
            paths.append(Path(key, f"{label}, stream", partial(proxy_stream, port=port), "stream"))
            paths.append(Path(key, f"{label}, non-stream", partial(proxy_plain, port=port), "plain"))
    return paths


def attempt(probe: Callable[[Client], Sample], client: Client) -> Sample:
    try:
        return probe(client)
    except (OSError, http.client.HTTPException, ProbeFailed, ValueError, LookupError, TypeError) as exc:
        client.close()  # the connection may be mid-response: start clean
        return Sample(error=f"{type(exc).__name__}: {exc}"[:200])


def run_interleaved(paths: list[Path], count: int, client: Client) -> dict[str, Series]:
    """One request at a time, path after path, `count` rounds."""
    samples = {p.label: [] for p in paths}
    for _ in range(count):
        for path in paths:
            samples[path.label].append(attempt(path.probe, client))
    return {label: Series(s) for label, s in samples.items()}


def run_concurrent(probe: Callable[[Client], Sample], count: int, clients: list[Client], spread: float = 0.0) -> Series:
    """`count` requests from one thread per client, each keeping one request in flight.

    The clients outlive a run, so their keep-alive connections are warm. Thread i starts
    i/len(clients) of `spread` seconds late: with spread about one request's duration,
    requests arrive evenly instead of in waves of len(clients) at once.
    """
    concurrency = len(clients)
    tickets, samples, rates = itertools.count(), [], []

    def load(client: Client, delay: float) -> None:
        done = 0
        if STOP.wait(delay):
            return
        started = time.perf_counter()
        try:
            while not STOP.is_set() and next(tickets) < count:
                samples.append(attempt(probe, client))
                done += 1
        finally:
            if done:
                rates.append(done / (time.perf_counter() - started))

    threads = [threading.Thread(target=load, args=(client, i * spread / concurrency), daemon=True,
                                name=f"load-{i}") for i, client in enumerate(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.1)  # short waits: Ctrl-C reaches the main thread at once
    return Series(samples, time.perf_counter() - started, rate=sum(rates))


def measured(stack: Stack, probe: Callable[[Client], Sample], count: int, clients: list[Client],
             spread: float) -> Series:
    """run_concurrent, with the CPU each program used meanwhile."""
    before, mark = stack.cpu_seconds(), stack.proxy_log_mark()
    series = run_concurrent(probe, count, clients, spread)
    after = stack.cpu_seconds()
    series.cpu = {name: after[name] - before.get(name, 0.0) for name in after}
    series.workers = stack.chats_per_worker(mark)
    return series


def warm_up(paths: list[Path], clients: list[Client]) -> None:
    """Tokens in every worker, keep-alive connections on every hop; results thrown away."""
    for path in paths:
        series = run_concurrent(path.probe, len(clients), clients)
        if series.errors:
            raise RuntimeError(f"{path.label} fails during warm-up: {series.errors[0]}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10,
                        help="requests per path at concurrency 1 (default 10); the concurrent run sends "
                             "max(N, 3 x concurrency) per path")
    parser.add_argument("--concurrency", type=int, default=20, help="the higher concurrency (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn gevent workers (default 2)")
    parser.add_argument("--ttfb", type=float, default=0.2, help="simulator seconds to the first element (0.2)")
    parser.add_argument("--chunk-delay", type=float, default=0.01, help="simulator seconds between elements (0.01)")
    parser.add_argument("--reply-words", type=int, default=20, help="filler words per answer (20)")
    parser.add_argument("--burst", action="store_true",
                        help="start all load threads at once, so requests arrive in waves of --concurrency")
    parser.add_argument("--no-nginx", action="store_true", help="skip paths 2 and 4")
    args = parser.parse_args(argv)
    if min(args.requests, args.concurrency, args.workers) < 1:
        parser.error("--requests, --concurrency and --workers must be at least 1")
    return args


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.perf_counter()
    stack = Stack(args.ttfb, args.chunk_delay, args.reply_words, args.workers, nginx=not args.no_nginx)
    clients = [Client() for _ in range(max(args.concurrency, 2 * args.workers))]  # one per load thread
    try:
        stack.start()
        paths = make_paths(stack)
        print(preamble(args, stack), flush=True)
        warm_up(paths, clients[:2 * args.workers])  # enough at once to reach every worker
        runs = run_interleaved(paths, args.requests, clients[0])
        note = " (p95 of fewer than 20 samples is the max)" if args.requests < 20 else ""
        print("\n" + report(f"concurrency 1: {args.requests} requests per path, paths interleaved{note}", paths, runs),
              flush=True)
        count = max(args.requests, 3 * args.concurrency)
        load = clients[:args.concurrency]
        warm_up(paths, load)
        # Arrivals spread over one direct chat's duration, unless --burst asks for waves.
        spread = 0.0 if args.burst else (runs[paths[0].label].pct("total", 50) or 0.0) / 1000
        runs = {p.label: measured(stack, p.probe, count, load, spread) for p in paths}
        arrivals = "all threads start at once" if args.burst else "thread starts spread over one chat"
        print("\n" + report(f"concurrency {args.concurrency}: {count} requests per path, one path at a time, "
                            f"{arrivals}", paths, runs), flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what the benchmark started", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"bench.latency: {exc}", file=sys.stderr)
        return 1
    finally:
        STOP.set()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()  # load threads still reading (Ctrl-C) see their connections end and stop
    for client in clients:
        client.close()
    print(f"\nfinished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
