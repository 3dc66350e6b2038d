"""A graceful stop that ends every open answer properly before the worker is killed.

On SIGTERM gunicorn's master gives its workers GUNICORN_GRACEFUL_TIMEOUT seconds, then kills
them; a stream still open then would just be cut, with no error frame and no [DONE]. So the
worker (app/worker.py) calls begin() with that timeout, and:

- new requests get a 503 `server_shutting_down` at once (retry elsewhere or after the restart);
- answers already running go on until the cutoff, MARGIN seconds before the kill, and are then
  ended with ShuttingDown: a stream gets it as its in-band error frame and then its end
  (`[DONE]`, or the native API's `error` event), a whole answer as a 503.

The answers are EventPumps (registered by chat.start through track()); interrupting one makes
its consumer raise the error at its next wait, and closing the answer cancels the upstream call.
"""
from __future__ import annotations

import logging
import threading
import time
import weakref

from flask import Flask

from .errors import ApiError

log = logging.getLogger("gbp.shutdown")
# Between the cutoff and the master's kill: the answers write their last frames, and the worker,
# which looks at its open connections once a second, sees them all closed and exits.
MARGIN = 2.0

_lock = threading.Lock()
_pumps: "weakref.WeakSet" = weakref.WeakSet()  # answers being read in this worker
_state = {"stopping": False, "cut": False}


class ShuttingDown(ApiError):
    def __init__(self):
        super().__init__(503, "The gateway is shutting down; retry the request.",
                         type="service_unavailable_error", code="server_shutting_down",
                         headers={"Retry-After": "1"})


def stopping() -> bool:
    return _state["stopping"]


def begin(grace: float) -> None:
    """The worker was told to stop and will be killed `grace` seconds from now. Blocks until
    the cutoff (run it in its own greenlet), then ends the answers still open."""
    with _lock:
        if _state["stopping"]:
            return
        _state["stopping"] = True
        open_now = len(_pumps)
    wait = max(0.0, grace - MARGIN)
    log.info("shutting down: new requests are refused; open answers end within %.1f s", wait,
             extra={"open_answers": open_now})
    time.sleep(wait)
    with _lock:
        _state["cut"] = True
        pumps = list(_pumps)
    for pump in pumps:
        pump.interrupt(ShuttingDown())
    if pumps:
        log.warning("shutting down: ended %d open answer(s) before the grace period ran out", len(pumps))


def track(pump) -> None:
    """Register an answer being read, so the cutoff can end it (at once if it has passed)."""
    with _lock:
        cut = _state["cut"]
        if not cut:
            _pumps.add(pump)
    if cut:
        pump.interrupt(ShuttingDown())


def _refuse_when_stopping() -> None:
    if _state["stopping"]:
        raise ShuttingDown()


def install(app: Flask) -> None:
    app.before_request(_refuse_when_stopping)
