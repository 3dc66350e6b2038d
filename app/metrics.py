"""Prometheus metrics: what the workers count, summed over every worker at a scrape.

Under gunicorn the master sets PROMETHEUS_MULTIPROC_DIR before the app is imported
(gunicorn.conf.py): prometheus_client then keeps each worker's values in memory-mapped files
there (its multiprocess mode), and a scrape, on whichever worker it lands, reads them all. A
worker that died keeps its counts; its open-stream gauge leaves with it (`child_exit` →
`mark_process_dead`). Without that variable (create_app in a test, `flask run`) the values are
this process's own, in a registry of this module.

The cost is paid once per request (app/observe.py), once per stream start and end
(app/answer/driver.py), once per upstream call: never per chunk. Label values are bounded
whatever a client sends: routes are URL templates, surfaces blueprint names, models catalogue
ids or "other", statuses numbers, verbs our own constants.

The accounts' states are not counted as they change: they are read at the scrape from the
worker's account snapshot (app/metrics_endpoint.py), as /health reads them.
"""
from __future__ import annotations

import os
from typing import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

# prometheus_client chose its kind of values when it was first imported; this says which.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# The classic text format: what generate_latest writes for names like ours, and what every
# Prometheus version reads (version=1.0.0, the library's default type, is newer than some).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
OTHER = "other"
NONE = "none"

disable_created_metrics()  # no `_created` series (multiprocess mode has none either): one kind of output
_local = CollectorRegistry(auto_describe=True)  # this process's values, when not multiprocess

# Seconds: a whole answer or a stream may last minutes; a refused request takes a millisecond.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
FIRST_CHUNK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter("gbp_requests", "HTTP requests answered, by surface, route template, status and model",
                   ("surface", "route", "status", "model"), registry=_local)
DURATION = Histogram("gbp_request_duration_seconds", "From the request's start until its last byte was sent",
                     ("surface", "streamed"), buckets=DURATION_BUCKETS, registry=_local)
FIRST_CHUNK = Histogram("gbp_time_to_first_chunk_seconds",
                        "From a streamed request's start to its first content event (not its head)",
                        ("surface",), buckets=FIRST_CHUNK_BUCKETS, registry=_local)
OPEN_STREAMS = Gauge("gbp_open_streams", "Streamed answers being sent now, every worker together",
                     ("surface",), multiprocess_mode="livesum", registry=_local)
UPSTREAM_CALLS = Counter("gbp_upstream_calls", "Calls to Gemini Business by verb and HTTP status "
                         "(timeout / unreachable when there was none)", ("verb", "status"), registry=_local)
UPSTREAM_CANCELLED = Counter("gbp_upstream_cancellations", "Upstream answers cut off before their end "
                             "(the client left, the worker stopped)", registry=_local)
FAILOVERS = Counter("gbp_failovers", "A request moved to another account before its first byte, by the "
                    "failure that moved it", ("reason",), registry=_local)
SIGN_INS = Counter("gbp_sign_ins", "Browser sign-ins this gateway started, by how they ended", ("outcome",),
                   registry=_local)
STORE_ERRORS = Counter("gbp_store_errors", "Store operations that failed (unreachable, locked, timed out)",
                       ("backend",), registry=_local)
GENERATED_FILES = Counter("gbp_generated_files", "Images and videos downloaded from answers and handed to "
                          "clients", ("kind",), registry=_local)
STREAM_ENDINGS = Counter("gbp_stream_endings", "How streamed answers ended (their status is 200 whatever "
                         "happened): ok, client_gone, or the in-band error's code", ("outcome",), registry=_local)
RETRIES = Counter("gbp_corrective_retries", "Corrective queries after a tool call or a JSON answer the "
                  "gateway could not use (app/tools/)", registry=_local)

SIGN_IN_OUTCOMES = {0: "succeeded", 130: "stopped"}  # login.main's exit codes; anything else failed
UPSTREAM_VERBS = frozenset({"widgetCreateSession", "widgetDeleteSession", "widgetStreamAssist",
                            "widgetAddContextFile", "widgetListSessionFileMetadata", "downloadFile",
                            "getoxsrf", "refreshcookies"})


_children: dict = {}  # (instrument, label values) → its child: bounded, as the values are


def child(instrument, *values: str):
    """`instrument.labels(*values)`, looked up once per process (labels() takes a lock and builds
    a key on every call; this is one dict lookup)."""
    key = (instrument, values)
    found = _children.get(key)
    if found is None:
        found = _children[key] = instrument.labels(*values)
    return found


def bounded(value: str | None, allowed: Iterable[str] | frozenset) -> str:
    """`value` as a label: itself when it is one of `allowed`, "none" when missing, else
    "other". A client-chosen string must never become a label (one series per distinct value:
    a client could fill a scraper's memory)."""
    if value is None:
        return NONE
    return value if value in allowed else OTHER


def code_label(code: str) -> str:
    """An error code of ours (ApiError.code, `snake_case`) as a label, else "other"."""
    return code if len(code) <= 48 and code.replace("_", "").isalpha() and code.islower() else OTHER


def status_label(status: int | str) -> str:
    """An HTTP status as a label: three digits, else "other"."""
    text = str(status)
    return text if len(text) == 3 and text.isdigit() else OTHER


NO_ANSWER = frozenset({"timeout", "unreachable"})  # an upstream call's status when it has none


def upstream_call(verb: str, status: int | str) -> None:
    """One call to Gemini Business: its HTTP status, or "timeout" / "unreachable"."""
    child(UPSTREAM_CALLS, bounded(verb, UPSTREAM_VERBS), status if status in NO_ANSWER else status_label(status)).inc()


def sign_in_ended(exit_code: int | None) -> None:
    SIGN_INS.labels(SIGN_IN_OUTCOMES.get(exit_code, "failed")).inc()


def generated_file(mime_type: str) -> None:
    kind = (mime_type or "").split("/", 1)[0]
    GENERATED_FILES.labels(kind if kind in ("image", "video") else OTHER).inc()


def exposition(extra: Iterable = ()) -> bytes:
    """The text exposition of every worker's values (or this process's), plus `extra`
    collectors computed now (the accounts' states)."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        MultiProcessCollector(registry)
    else:
        registry.register(_Local())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


class _Local:
    """This process's registry as one collector of a scrape's registry."""

    def collect(self):
        return _local.collect()
