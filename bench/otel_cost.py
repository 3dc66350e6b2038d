"""What OpenTelemetry would cost this gateway when its tracing is OFF (issue 12 §3):
`python -m bench.otel_cost` run by a Python that has opentelemetry-api, which the project does
NOT depend on. Make a throwaway venv outside the repository that also sees the project's:

    python -m venv /tmp/otel-venv
    /tmp/otel-venv/bin/pip install opentelemetry-api==1.45.2
    echo "$PWD/.venv/lib/python3.11/site-packages" > /tmp/otel-venv/lib/python3.11/site-packages/project.pth
    /tmp/otel-venv/bin/python -m bench.otel_cost

It prints (1) the import of the API as a worker would do it (CPU and RSS of a fresh process,
gevent already loaded), (2) per call, under gevent's monkey-patching as in a worker, with no
SDK configured (the API's no-op tracer, which is what "installed but off" means): a span
entered and left, a span with attributes, the trace-context injection into an upstream
request's headers, and a plain module flag checked instead (what "off" costs when the API is
imported only once tracing is switched on). CPU time (time.process_time), best and median of 5
loops. Nothing here is asserted anywhere.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

LOOPS, N = 5, 200_000


def rss_kb() -> int:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS"))


def import_once() -> None:
    """In a fresh process: gevent first (a worker has it), then the API."""
    import gevent  # noqa: F401
    before_rss, before = rss_kb(), time.process_time()
    from opentelemetry import propagate, trace  # noqa: F401
    print(f"{(time.process_time() - before) * 1000:.2f} {rss_kb() - before_rss}")


def per_call(fn) -> tuple[float, float]:
    runs = []
    for _ in range(LOOPS):
        started = time.process_time()
        for _ in range(N):
            fn()
        runs.append((time.process_time() - started) / N * 1e6)
    return min(runs), statistics.median(runs)


def main() -> int:
    if sys.argv[1:] == ["--import-once"]:
        import_once()
        return 0
    if sys.argv[1:]:
        print(__doc__)
        return 0
    try:
        import opentelemetry  # noqa: F401
    except ImportError:
        print("opentelemetry-api is not importable here: see `python -m bench.otel_cost --help` "
              "(a throwaway venv outside the repository; never a requirement)", file=sys.stderr)
        return 1
    imports = [subprocess.run([sys.executable, "-m", "bench.otel_cost", "--import-once"], capture_output=True,
                              text=True, check=True).stdout.split() for _ in range(LOOPS)]
    cpu = sorted(float(ms) for ms, _ in imports)
    rss = sorted(int(kb) for _, kb in imports)
    print(f"import opentelemetry.trace + propagate, {LOOPS} fresh processes: CPU {cpu[0]:.1f}–{cpu[-1]:.1f} ms, "
          f"RSS +{rss[0] / 1024:.1f}–{rss[-1] / 1024:.1f} MB")

    from gevent import monkey
    monkey.patch_all()
    from importlib import metadata

    from opentelemetry import propagate, trace

    tracer = trace.get_tracer("gbp")
    enabled = False

    def span():
        with tracer.start_as_current_span("chat"):
            pass

    def span_with_attributes():
        with tracer.start_as_current_span("upstream", attributes={"verb": "widgetStreamAssist"}) as current:
            current.set_attribute("status", 200)

    def inject():
        propagate.inject({})

    def flag():
        if enabled:
            span()

    base = per_call(lambda: None)[0]
    print(f"per call, µs of CPU (best / median of {LOOPS} × {N:,}; the empty loop's {base:.3f} µs subtracted), "
          f"opentelemetry-api {metadata.version('opentelemetry-api')}, no SDK:")
    for label, fn in (("no-op span entered and left", span), ("no-op span with attributes", span_with_attributes),
                      ("traceparent injected into a header dict", inject), ("a module flag checked instead", flag)):
        best, median = per_call(fn)
        print(f"  {label:42} {best - base:7.3f} / {median - base:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
