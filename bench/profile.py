"""Where a warm chat's CPU goes: `.venv/bin/python -m bench.profile [--requests N] [--gunicorn R]`.

Never run by the test suite. It starts the simulator answering at once (ttfb 0, no delays,
so the gateway's own cost dominates) and then:

1. **In process, under cProfile.** The app built by `create_app` (SQLite store, one
   configured account, no API key, logging at the default level into /dev/null) serves N
   non-streamed and N streamed `/v1/chat/completions` through werkzeug's test client after a
   warm-up, each chat a new conversation. It prints the CPU per request (process time, the
   test client's own share included and shown), the store calls per request by verb and
   namespace, the upstream calls per request, the self time grouped by area (which library
   or app module the time is spent in) and the cumulative time of chosen entry points.
2. **A real gunicorn gevent worker** (`--gunicorn R` rounds, 0 to skip): one worker, N
   chats of each kind over keep-alive connections from this process, the worker's utime +
   stime read from /proc/<pid>/stat before and after; each round's figure and the spread.

The machine is shared: CPU seconds are less noisy than wall time but still move by ~10 %;
compare counts (calls, store round trips) first. Nothing here is asserted anywhere.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # as gunicorn.conf.py does: the app's greenlets and sockets are gevent's

import argparse  # noqa: E402
import collections  # noqa: E402
import cProfile  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402

from bench.stack import gateway_env  # noqa: E402
from tests.servers import Process, free_port  # noqa: E402

# Self time by where it is spent: the first matching path fragment names the area.
HTTP = "HTTP client (urllib3, http.client)"
AREAS = (
    ("werkzeug/test.py", "test client (not the gateway)"),
    ("bench/profile.py", "test client (not the gateway)"),
    ("/app/store/", "store"), ("sqlite3", "store"), ("/redis/", "store"),
    ("/app/accounts/", "accounts (choice, snapshot, records)"),
    ("/app/hs256.py", "JWT signing"), ("/hmac.py", "JWT signing"), ("_hashlib", "JWT signing"),
    ("/app/upstream/stream.py", "stream parser"), ("/app/upstream/events.py", "stream parser"),
    ("/app/openai/render.py", "SSE rendering"), ("/app/sse.py", "SSE rendering"), ("/app/answer/", "answer pipeline"),
    ("/app/output.py", "answer pipeline"), ("/app/pump.py", "pump"),
    ("/app/logs.py", "logging + redaction"), ("/app/secretset.py", "logging + redaction"),
    ("/logging/", "logging + redaction"), ("/app/observe.py", "logging + redaction"),
    ("/app/auth.py", "auth"), ("/app/throttle.py", "auth"),
    ("/app/upstream/http.py", HTTP), ("/app/upstream/", "upstream client (app)"),
    # The upstream HTTP client: urllib3 and http.client under app/upstream/http.py (requests before)
    ("/requests/", HTTP), ("/urllib3/", HTTP), ("http/client.py", HTTP), ("/email/", HTTP),
    ("urllib/request.py", HTTP), ("urllib/parse.py", HTTP), ("/idna/", HTTP), ("/charset_normalizer/", HTTP),
    ("/http/cookiejar.py", HTTP),
    ("/json/", "JSON"), ("_json", "JSON"), ("/app/strict_json.py", "JSON"), ("/app/body.py", "JSON"),
    ("/flask/", "Flask"), ("/werkzeug/routing", "Flask routing"),
    ("/werkzeug/", "werkzeug (request, headers, response)"),
    ("/gevent/", "gevent"), ("greenlet", "gevent"), ("socket", "sockets"), ("select", "sockets"),
    ("/app/", "app (other)"),
)

# Cumulative time of entry points: (path fragment, function name, label).
ENTRIES = (
    ("flask/app.py", "full_dispatch_request", "Flask dispatch (view + hooks, whole answer built or stream opened)"),
    ("app/auth.py", "require_client", "auth (require_client)"),
    ("app/body.py", "json_body", "request body as JSON"),
    ("app/accounts/pool.py", "acquire", "pool.acquire"),
    ("app/accounts/pool.py", "release", "pool.release"),
    ("app/accounts/pool.py", "succeeded", "pool.succeeded"),
    ("app/accounts/snapshot.py", "current", "snapshot check"),
    ("app/upstream/tokens.py", "bearer", "TokenSource.bearer (JWT)"),
    ("urllib3/connectionpool.py", "urlopen", "urllib3 urlopen (every upstream call; a whole body read)"),
    ("urllib3/response.py", "read_chunked", "urllib3 read_chunked (streamed bodies, per chunk)"),
    ("requests/sessions.py", "request", "requests Session.request (upstream calls before urllib3)"),
    ("app/upstream/stream.py", "__iter__", "stream parser (ArrayScanner)"),
    ("app/conversations.py", "remember", "conversation index write"),
    ("app/upstream/spares.py", "take", "spare session take"),
    ("app/upstream/spares.py", "_make", "spare session made (background)"),
    ("app/logs.py", "format", "log formatting + redaction"),
    ("logging/__init__.py", "handle", "logging handle (all records)"),
    ("app/observe.py", "_log_done", "access log line"),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="chats of each kind (non-stream, stream)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--reply-words", type=int, default=80, help="filler words: 80 gives 20 content chunks")
    parser.add_argument("--gunicorn", type=int, default=3, help="rounds on a real gunicorn worker (0: skip)")
    parser.add_argument("--top", type=int, default=25, help="functions by self time to list")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process cProfile part")
    parser.add_argument("--save", metavar="PREFIX", help="also write the raw profiles (PREFIX-stream.prof ...) for pstats")
    return parser.parse_args(argv)


def start_simulator(words: int) -> Process:
    port = free_port()
    sim = Process("simulator", [sys.executable, "-m", "simulator", "--host", "127.0.0.1", "--port", str(port),
                                "--ttfb", "0", "--chunk-delay", "0", "--piece-delay", "0",
                                "--reply-words", str(words), "--quiet", "--compression", "identity"])
    sim.url = f"http://127.0.0.1:{port}"
    sim.wait_until(lambda: requests.get(f"{sim.url}/__sim__/health", timeout=1).ok)
    return sim


def chat_body(number: int, stream: bool) -> dict:
    # Each chat its own words: a new conversation every time, as most traffic is.
    return {"model": "gemini-2.5-flash", "stream": stream,
            "messages": [{"role": "user", "content": f"profile chat number {number}"}]}


class StoreCounter:
    """Wraps the store's verbs on the instance every service holds, counting (verb, namespace)."""

    VERBS = ("put", "get", "delete", "list", "update", "incr", "acquire_lock", "release_lock", "lock_owner", "ping")

    def __init__(self, store):
        self.counts: collections.Counter = collections.Counter()
        for verb in self.VERBS:
            original = getattr(store, verb)
            setattr(store, verb, self._counted(verb, original))

    def _counted(self, verb, original):
        def call(*args, **kwargs):
            name = str(args[0]) if args else "?"
            namespace = name.split(":", 1)[0] + ":" if verb.endswith("lock") or verb == "lock_owner" else name
            self.counts[(verb, namespace)] += 1
            return original(*args, **kwargs)
        return call


def area_of(filename: str) -> str:
    for fragment, area in AREAS:
        if fragment in filename:
            return area
    return GENERIC


GENERIC = "stdlib and builtins (caller unknown)"


def in_process(args, sim_url: str) -> None:
    import logging

    os.environ.update(gateway_env(sim_url, tempfile.mkdtemp(prefix="gbp-profile-")))
    from app import create_app
    from app.config import Config

    app = create_app(Config.from_env())
    for handler in logging.getLogger().handlers + logging.getLogger("gbp").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # formatted and redacted as ever, not printed
    counter = StoreCounter(app.extensions["gbp"].store)
    client = app.test_client()

    def one(number: int, stream: bool) -> None:
        response = client.post("/v1/chat/completions", json=chat_body(number, stream), buffered=not stream)
        body = response.get_data()
        response.close()
        if response.status_code != 200 or (stream and not body.rstrip().endswith(b"[DONE]")):
            raise SystemExit(f"chat failed: {response.status_code} {body[:300]!r}")

    for number in range(args.warmup):
        one(number, number % 2 == 1)
    time.sleep(0.2)  # background spares made by the warm-up are done
    chunks = client.post("/v1/chat/completions", json=chat_body(-1, True)).get_data().count(b'"content":')
    print(f"one streamed answer: {chunks} chunks with content (reply words {args.reply_words})")

    for stream in (False, True):
        kind = "stream" if stream else "non-stream"
        counter.counts.clear()
        base = 10_000_000 * (2 if stream else 1)
        started = time.process_time()
        for number in range(args.requests):
            one(base + number, stream)
        cpu = time.process_time() - started
        time.sleep(0.2)
        print(f"\n== {kind}: {args.requests} chats, in process (not profiled): "
              f"{cpu / args.requests * 1e6:.0f} µs CPU per chat, test client included")
        print(f"store calls per chat: {sum(counter.counts.values()) / args.requests:.2f}")
        for (verb, namespace), count in sorted(counter.counts.items(), key=lambda item: -item[1]):
            print(f"  {verb:13} {namespace:24} {count / args.requests:6.2f}")

    if args.no_profile:
        return
    for stream in (False, True):
        kind = "stream" if stream else "non-stream"
        profiler = cProfile.Profile(time.process_time)  # CPU, not waits on the upstream
        base = 30_000_000 * (2 if stream else 1)
        profiler.enable()
        for number in range(args.requests):
            one(base + number, stream)
        profiler.disable()
        time.sleep(0.2)
        if args.save:
            profiler.dump_stats(f"{args.save}-{kind}.prof")
        report(kind, pstats.Stats(profiler), args)


def attributed(stats, func, tottime, callers, depth=0) -> dict:
    """A function's self time by area: its own file's area, or for the stdlib and builtins
    (json, re, os.environ, isinstance ...) the areas of its callers, split as they called it."""
    area = area_of(func[0])
    if area != GENERIC or not callers or depth > 8:
        return {area: tottime}
    spent = sum(stat[2] for stat in callers.values()) or 1.0
    out = collections.Counter()
    for caller, stat in callers.items():
        upper = stats.stats.get(caller)
        share = tottime * stat[2] / spent
        for name, part in attributed(stats, caller, share, upper[4] if upper else {}, depth + 1).items():
            out[name] += part
    return out


def report(kind: str, stats: pstats.Stats, args) -> None:
    n = args.requests
    total = sum(row[2] for row in stats.stats.values())
    print(f"\n== {kind}: cProfile over {n} chats: {total / n * 1e6:.0f} µs per chat under the profiler "
          "(process time, inflated by the profiler's cost per call: read the shares)")
    by_area = collections.Counter()
    for func, (_, _, tottime, _, callers) in stats.stats.items():
        for area, share in attributed(stats, func, tottime, callers).items():
            by_area[area] += share
    print("self time by area, stdlib and builtins charged to the area that called them (µs per chat, share):")
    for area, spent in by_area.most_common():
        print(f"  {area:42} {spent / n * 1e6:7.0f}  {spent / total:5.1%}")
    print("cumulative time of entry points (µs per chat, calls per chat):")
    for fragment, name, label in ENTRIES:
        cum = calls = 0
        for (filename, _, function), (_, ncalls, _, cumtime, _) in stats.stats.items():
            if function == name and filename.endswith(fragment):
                cum, calls = cum + cumtime, calls + ncalls
        if calls:
            print(f"  {label:62} {cum / n * 1e6:7.0f}  {calls / n:5.2f}")
    print(f"top {args.top} functions by self time (µs per chat, calls per chat):")
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:args.top]
    for (filename, line, function), (_, ncalls, tottime, _, _) in rows:
        where = filename.split("site-packages/")[-1].split("/profile/")[-1]
        print(f"  {tottime / n * 1e6:6.1f}  {ncalls / n:6.2f}  {where}:{line} {function}")


def worker_pids(gunicorn: Process) -> list[int]:
    master = gunicorn.proc.pid
    children = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as handle:
                    fields = handle.read().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                children.append(int(entry.name))
    return children


def cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def on_gunicorn(args, sim_url: str) -> None:
    port = free_port()
    env = {**gateway_env(sim_url, tempfile.mkdtemp(prefix="gbp-profile-")),
           "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}
    gunicorn = Process("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], env)
    url = f"http://127.0.0.1:{port}"
    try:
        gunicorn.wait_until(lambda: requests.get(f"{url}/health", timeout=1).ok)
        [pid] = worker_pids(gunicorn)
        session = requests.Session()
        session.trust_env = False

        def one(number: int, stream: bool) -> None:
            response = session.post(f"{url}/v1/chat/completions", json=chat_body(number, stream), timeout=30)
            if response.status_code != 200:
                raise SystemExit(f"chat failed: {response.status_code} {response.text[:300]}")

        for number in range(args.warmup):
            one(number, number % 2 == 1)
        time.sleep(0.5)
        figures = {False: [], True: []}
        for round_number in range(args.gunicorn):
            for stream in (False, True):  # interleaved: noise hits both kinds alike
                before = cpu_of(pid)
                for number in range(args.requests):
                    one(50_000_000 * (round_number + 1) + (1_000_000 if stream else 0) + number, stream)
                time.sleep(0.3)  # the background spare of the last chat
                figures[stream].append((cpu_of(pid) - before) / args.requests * 1e6)
        print(f"\n== one gunicorn gevent worker, {args.requests} chats per kind per round, "
              f"CPU of the worker from /proc/{pid}/stat (µs per chat; the machine is shared: noisy)")
        for stream, values in figures.items():
            print(f"  {'stream' if stream else 'non-stream':10} rounds {', '.join(f'{v:.0f}' for v in values)}"
                  f"  median {statistics.median(values):.0f}  spread {min(values):.0f}–{max(values):.0f}")
    finally:
        gunicorn.stop()


def main(argv=None) -> None:
    args = parse_args(argv)
    sim = start_simulator(args.reply_words)
    try:
        if args.gunicorn:
            on_gunicorn(args, sim.url)
        in_process(args, sim.url)
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
