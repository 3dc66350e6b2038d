"""A slow call run in its own greenlet, so the request that needs it can wait a bounded time
or keep a stream alive meanwhile (threading is gevent's under the gunicorn worker, a real
thread in tests that build the app in-process).

Used for what a client must not wait on in silence: loading a turn's files from a URL and
downloading a generated file (keep-alives while they run, app/answer/), and recording how an
answer went in the store (app/chat.py: the answer is sent without waiting on a slow store).
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
Tick = TypeVar("Tick")


class Job(Generic[T]):
    """call() started at once; its value or its error is handed over by result()."""

    def __init__(self, call: Callable[[], T], name: str = "background-job"):
        self._call = call
        self._done = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # re-raised where the result is wanted
            self._error = exc
        finally:
            self._done.set()

    def wait(self, seconds: float | None) -> bool:
        """Whether the call has ended, waiting at most `seconds` (None: until it ends)."""
        return self._done.wait(seconds)

    def result(self) -> T:
        """The call's value, or its error raised here; waits for the end."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value

    def ticking(self, interval: float, tick: Tick) -> Iterator[Tick]:
        """Yield `tick` every `interval` seconds the call is still running, then return its
        result (`value = yield from job.ticking(...)`): a stream's keep-alives while it waits."""
        while not self.wait(interval):
            yield tick
        return self.result()
