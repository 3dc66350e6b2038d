"""Server-sent events: framing and a response that nothing between us and the client buffers."""
from __future__ import annotations

import json
from typing import Iterator

from flask import Response, stream_with_context


KEEPALIVE = ": keep-alive\n\n"  # an SSE comment: every client decoder drops it
DONE = "data: [DONE]\n\n"


def frame(data: dict, event: str | None = None) -> str:
    """One event: an optional `event:` line and one single-line `data:` JSON document."""
    line = "data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n\n"
    return f"event: {event}\n{line}" if event else line


def response(frames: Iterator[str], mimetype: str = "text/event-stream") -> Response:
    return Response(
        stream_with_context(frames),
        mimetype=mimetype,
        headers={
            "Cache-Control": "no-store",  # a conversation: never kept by a cache on the way
            "X-Accel-Buffering": "no",  # nginx: pass each frame on at once
        },
    )

