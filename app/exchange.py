"""What one request did, as its access line and the metrics report it (app/observe.py).

Filled in by whoever learns a fact, where they learn it: observe the id, surface and route at
the start, the catalogue the model a request chose, the pipeline the account that served it
and the first content chunk, the error handlers the outcome, app/auth.py the caller, an
answering view that the request is usage (metered), the answer's last stage its token estimate
and generated files. Read once, when the server has finished sending the response (the access
line and metrics, and the usage record: app/usage/). A leaf module (no Flask, no accounts): the upstream layer notes
things too.

The current exchange is a context variable of the request's greenlet; greenlets working for
the request (app/background.py's Job, app/pump.py's reader) are started with `carried`, so
their log lines carry the request id too.
"""
from __future__ import annotations

import contextvars
import time
from typing import Callable

_current: contextvars.ContextVar["Exchange | None"] = contextvars.ContextVar("gbp_exchange", default=None)


class Exchange:
    __slots__ = ("request_id", "started", "method", "path", "surface", "route", "status", "model", "account",
                 "outcome", "first_chunk", "streamed", "sent", "caller", "budget_key", "metered",
                 "input_tokens", "output_tokens", "images", "videos")

    def __init__(self, request_id: str = "", started: float | None = None):
        self.request_id = request_id
        self.started = time.monotonic() if started is None else started
        self.method = self.path = ""
        self.status = 0
        self.surface = "none"       # the blueprint's surface (observe.SURFACES), "none" when no route matched
        self.route = "unmatched"    # the URL rule's template, never the path a client sent
        self.model: str | None = None    # a catalogue id (Catalogue.choose), never a client's string
        self.account: str | None = None  # the account id that served it (never a secret)
        self.outcome: str | None = None  # an error's code, "client_gone"; None: from the status
        self.first_chunk: float | None = None  # monotonic time of a stream's first content event
        self.streamed = False
        self.sent = 0               # body bytes handed to the server
        self.caller = "open"        # who called, never a secret (app/auth.py caller labels)
        self.budget_key: str | None = None  # the id of a client key with a daily token budget
        self.metered = False        # an answering view: the request is usage (app/usage/)
        self.input_tokens = 0       # the estimates the responses' usage showed, summed over the answers
        self.output_tokens = 0
        self.images = 0             # generated files delivered
        self.videos = 0


def current() -> Exchange | None:
    return _current.get()


def begin(exchange: Exchange) -> None:
    _current.set(exchange)


def end() -> None:
    _current.set(None)


def note_model(model_id: str) -> None:
    exchange = _current.get()
    if exchange is not None:
        exchange.model = model_id


def note_account(account_id: str) -> None:
    exchange = _current.get()
    if exchange is not None:
        exchange.account = account_id


def note_outcome(outcome: str | None) -> None:
    exchange = _current.get()
    if exchange is not None and outcome:
        exchange.outcome = outcome


def note_metered() -> None:
    """This request asks a model for an answer: it is usage once its model is known."""
    exchange = _current.get()
    if exchange is not None:
        exchange.metered = True


def note_usage(input_tokens: int, output_tokens: int) -> None:
    """One answer's token estimate, as its usage shows it (several answers add up: Images API n)."""
    exchange = _current.get()
    if exchange is not None:
        exchange.input_tokens += input_tokens
        exchange.output_tokens += output_tokens


def note_file(mime_type: str) -> None:
    """A generated file delivered to the client."""
    exchange = _current.get()
    if exchange is not None:
        if mime_type.startswith("image/"):
            exchange.images += 1
        elif mime_type.startswith("video/"):
            exchange.videos += 1


def carried(run: Callable[[], None]) -> Callable[[], None]:
    """`run` bound to the current exchange, for a greenlet or thread started for this request
    (they start with no context of their own)."""
    exchange = _current.get()
    if exchange is None:
        return run

    def bound() -> None:
        _current.set(exchange)
        run()

    return bound
