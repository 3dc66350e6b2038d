"""gunicorn config for `python -m bench.streams --introspect`: the project's gunicorn.conf.py plus
a worker greenlet that, when the file named by BENCH_DUMP_DIR/<name>.want appears, writes the
worker's live objects by type (gc) and, if tracemalloc runs (PYTHONTRACEMALLOC), its top
allocation sites into BENCH_DUMP_DIR/<name>.json. Only for measuring: never used in service."""
import os

_here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gunicorn.conf.py")
# Run the project's file in a namespace of its own (its __file__ decides the folder it chdirs to),
# then take its settings and hooks over, where gunicorn reads them.
_settings: dict = {"__file__": _here}
exec(compile(open(_here).read(), _here, "exec"), _settings)  # noqa: S102
globals().update({k: v for k, v in _settings.items() if not k.startswith("__")})


def post_worker_init(worker):
    import gevent

    gevent.spawn(_serve_dumps, os.environ["BENCH_DUMP_DIR"])


def _serve_dumps(directory):
    import collections
    import gc
    import json
    import tracemalloc

    import gevent

    while True:
        gevent.sleep(0.2)
        for name in os.listdir(directory):
            if not name.endswith(".want"):
                continue
            os.remove(os.path.join(directory, name))
            gc.collect()
            types = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
            sites = []
            if tracemalloc.is_tracing():
                stats = tracemalloc.take_snapshot().statistics("lineno")
                sites = [[str(s.traceback), s.size, s.count] for s in stats[:400]]
            with open(os.path.join(directory, name[:-5] + ".json"), "w") as handle:
                json.dump({"types": dict(types), "sites": sites}, handle)
