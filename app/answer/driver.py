"""The one streaming driver: an answer and a surface's renderer make an SSE response;
`respond`, the one way a surface answers a Turn, streamed or whole.

The renderer only maps: head() before the first event, event(e) for each event of the stream
(events.py), error(api_error) for a failure after the first byte, tail() last whatever happened.
The driver owns the rest: keep-alives while the upstream is quiet, turning a failure (an
upstream error, a shutdown's cut-off, a bug) into the renderer's in-band error frame, and
closing the answer (cancelling the upstream call when the client hangs up, recording the outcome).
"""
from __future__ import annotations

import logging
import time
from contextlib import closing
from typing import Callable, Iterable, Iterator, Protocol

from flask import Response, current_app, jsonify, request

from .. import chat, exchange, hangup, media, metrics, sse
from ..auth import open_stream
from ..background import Job
from ..errors import ApiError, client_error, from_upstream
from ..upstream.errors import UpstreamError
from .events import KEEPALIVE
from .reply import Reply, reply


class Renderer(Protocol):
    # optional `keepalive`: the frame sent while the upstream is quiet (default: an SSE comment,
    # sse.KEEPALIVE; Anthropic's stream sends its `ping` event, Gemini's a bare line break), and
    # `mimetype`, the stream's type (default text/event-stream; Gemini's JSON array is not SSE)
    def head(self) -> Iterable[str]: ...
    def event(self, event) -> Iterable[str]: ...
    def error(self, error: ApiError) -> str: ...
    def tail(self) -> Iterable[str]: ...


def respond(services: chat.Services, turn: chat.Turn, stream: bool, renderer: Renderer,
            whole: Callable[[Reply], dict], log: logging.Logger) -> Response:
    """Answer `turn`: streamed through `renderer` (a stream's first event is awaited for at most
    KEEPALIVE_INTERVAL, then keep-alives flow; so are the turn's files while they load), or read
    whole while the client's socket is watched and sent as the JSON body `whole(reply)`.
    Failures until the first byte raise."""
    # links are made now, while the request (its Host, its scheme) is known
    publish = media.publisher(current_app.extensions["gbp.media"], services.config.media_output, request.host_url)
    if not stream:
        return jsonify(whole(read_whole(services, turn, publish, hangup.watcher())))
    release = open_stream()  # a slot of the client key's concurrent streams (429 when none is free)
    try:
        response = _stream(services, turn, renderer, publish, log)
    except BaseException:
        if release:
            release()
        raise
    if release:
        response.call_on_close(release)  # the stream ended, or its client left
    return response


def _stream(services: chat.Services, turn: chat.Turn, renderer: Renderer, publish, log: logging.Logger) -> Response:
    keepalive = services.config.keepalive_interval

    def begin(turn: chat.Turn) -> chat.Answer:
        return chat.start(services, turn, wait=keepalive, publish=publish)

    if turn.sources:
        # Files to load (a URL can be slow to answer): awaited like a first event, at most
        # KEEPALIVE_INTERVAL, so a quick failure is still a real status; longer, the stream
        # starts and keeps alive while they load, and a failure then is in-band.
        loading = Job(lambda: chat.loaded(turn, services.config.max_file_bytes), name="load-files")
        if not loading.wait(keepalive):
            return drive(Opening(loading, begin), renderer, keepalive, log)
        turn = loading.result()
    return drive(begin(turn), renderer, keepalive, log)


class Opening:
    """An answer that starts inside its stream: keep-alives while the turn's files load, then
    the answer's own events. Shaped as a chat.Answer for drive (events, close)."""

    def __init__(self, loading: Job, begin: Callable[[chat.Turn], chat.Answer]):
        self._loading = loading
        self._begin = begin
        self._answer: chat.Answer | None = None

    def events(self, interval: float) -> Iterator:
        turn = yield from self._loading.ticking(interval, KEEPALIVE)
        self._answer = self._begin(turn)
        yield from self._answer.events(interval)

    def close(self, error: BaseException | None = None, completed: bool = False) -> None:
        if self._answer is None:  # a client gone while files load: nobody wants them any more
            self._loading.cancel()
        else:
            self._answer.close(error, completed)


def read_whole(services: chat.Services, turn: chat.Turn, publish: chat.Publish,
               watch: Callable[[], None] | None) -> Reply:
    """`turn`'s whole answer: no time limit on the first event (a generation may take minutes),
    so nothing but `watch` (the client's hang-up, hangup.watcher) or the upstream's own silence
    ends the wait. `watch` may run outside the request's greenlet (several answers at once)."""
    return reply(chat.start(services, turn, wait=None, publish=publish, watch=watch))


def drive(answer, renderer: Renderer, keepalive: float, log: logging.Logger) -> Response:
    ping = getattr(renderer, "keepalive", sse.KEEPALIVE)
    current = exchange.current()  # the request's: its first content event is timed (app/observe.py)

    def frames() -> Iterator[str]:
        yield from renderer.head()
        # closed here as the stream ends, not whenever it is collected: its last stage notes
        # the usage of an answer cut short as it closes (stages.framed), before the record is written
        with closing(answer.events(keepalive)) as events:
            for event in events:  # until the first content event, which is timed
                if event is KEEPALIVE:
                    yield ping
                    continue
                if current is not None:
                    current.first_chunk = time.monotonic()
                yield from renderer.event(event)
                break
            for event in events:
                if event is KEEPALIVE:
                    yield ping
                else:
                    yield from renderer.event(event)

    def body() -> Iterator[str]:
        # counted while the body is sent: once at its start and once at its end, never per chunk
        open_streams = metrics.child(metrics.OPEN_STREAMS, current.surface if current is not None else metrics.NONE)
        open_streams.inc()
        try:
            yield from guarded(frames(), renderer.error, answer.close, log)
            yield from renderer.tail()
        finally:
            open_streams.dec()

    return sse.response(body(), getattr(renderer, "mimetype", "text/event-stream"))


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
        known = from_upstream(exc)
        outcome = known.code or known.type
        yield error_frame(known)
    except GeneratorExit:
        outcome = "client_gone"
        raise
    except Exception as exc:
        error = exc
        known = client_error(exc)
        if known is None:
            log.exception("error while streaming")
            known = ApiError(500, "Internal error while streaming.")
        else:  # an end we chose (shutdown.ShuttingDown), a file of the turn that could not be loaded...
            log.warning("stream ended early: %s", known.message, extra={"code": known.code})
        outcome = known.code or known.type
        yield error_frame(known)
    finally:
        finish(error, outcome == "ok")
        exchange.note_outcome(outcome)  # the access line's outcome: the status says 200 either way
        metrics.child(metrics.STREAM_ENDINGS, metrics.code_label(outcome)).inc()
        log.info("stream finished", extra={"outcome": outcome})
