"""Server-sent events: framing and a response that nothing between us and the client buffers."""
from __future__ import annotations

import json
import logging
from typing import Callable, Iterator

from flask import Response, stream_with_context

from .errors import ApiError, from_upstream
from .upstream.errors import UpstreamError

KEEPALIVE = ": keep-alive\n\n"  # an SSE comment: every client decoder drops it
DONE = "data: [DONE]\n\n"


def frame(data: dict, event: str | None = None) -> str:
    """One event: an optional `event:` line and one single-line `data:` JSON document."""
    line = "data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n\n"
    return f"event: {event}\n{line}" if event else line


def response(frames: Iterator[str]) -> Response:
    return Response(
        stream_with_context(frames),
        mimetype="text/event-stream",
        headers={
            "Cache-Control": "no-store",  # a conversation: never kept by a cache on the way
            "X-Accel-Buffering": "no",  # nginx: pass each frame on at once
        },
    )


def guarded(frames: Iterator[str], error_frame: Callable[[ApiError], str],
            finish: Callable[[BaseException | None, bool], None], log: logging.Logger) -> Iterator[str]:
    """Pass `frames` on; turn a failure after the first byte into one in-band error frame.

    A client that goes away raises GeneratorExit at a yield; either way `finish(error,
    completed)` runs, which cancels the upstream call and records the outcome.
    """
    outcome, error = "error", None
    try:
        yield from frames
        outcome = "ok"
    except UpstreamError as exc:
        error = exc
        log.warning("upstream failed mid-stream: %s", exc.public_message())
        yield error_frame(from_upstream(exc))
    except ApiError as exc:  # an end we chose, e.g. shutdown.ShuttingDown: the client is told why
        error = exc
        log.warning("stream ended early: %s", exc.message, extra={"code": exc.code})
        yield error_frame(exc)
    except GeneratorExit:
        outcome = "client_gone"
        raise
    except Exception as exc:
        error = exc
        log.exception("error while streaming")
        yield error_frame(ApiError(500, "Internal error while streaming."))
    finally:
        finish(error, outcome == "ok")
        log.info("stream finished", extra={"outcome": outcome})
