"""Compressed responses, as Google's front end sends them to a browser that asks (§4).

A browser's `accept-encoding: gzip, deflate, br, zstd` gets a compressed body, so a client
that advertises an encoding it cannot decode breaks here as it would upstream. The
`compression` setting picks: auto (br when offered, else gzip), identity, gzip or br (each
only when the client offered it). A streamed body is compressed piece by piece with a flush
after each, so the client still sees every element as it is sent.
"""

from __future__ import annotations

import zlib

from flask import Response

try:  # brotli is optional for the simulator: without it, br is never chosen
    import brotli
except ImportError:  # pragma: no cover - the test environment has it
    brotli = None


def _offered(accept_encoding: str) -> set[str]:
    offered = set()
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            offered.add(name.strip().lower())
    return offered


def choose(accept_encoding: str, setting: str) -> str | None:
    offered = _offered(accept_encoding or "")
    if setting == "identity":
        return None
    wanted = ("br", "gzip") if setting == "auto" else (setting,)
    for encoding in wanted:
        if encoding in offered and (encoding != "br" or brotli is not None):
            return encoding
    return None


class _Encoder:
    def __init__(self, encoding: str):
        if encoding == "br":
            self._compressor = brotli.Compressor()
            self.process, self.flush = self._compressor.process, self._compressor.flush
            self.finish = self._compressor.finish
        else:
            self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip framing
            self.process = self._compressor.compress
            self.flush = lambda: self._compressor.flush(zlib.Z_SYNC_FLUSH)
            self.finish = lambda: self._compressor.flush(zlib.Z_FINISH)


class _CompressedBody:
    """Wraps a streamed body; close() reaches the inner one, so a client that goes away still
    ends the stream as "aborted"."""

    def __init__(self, inner, encoding: str):
        self.inner = inner
        self.encoder = _Encoder(encoding)

    def __iter__(self):
        for piece in self.inner:
            if piece:
                yield self.encoder.process(piece) + self.encoder.flush()
        yield self.encoder.finish()

    def close(self):
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def compress(response: Response, accept_encoding: str, setting: str) -> Response:
    if response.headers.get("content-encoding") or response.status_code in (204, 304):
        return response
    encoding = choose(accept_encoding, setting)
    if encoding is None:
        return response
    if response.is_streamed:
        response.response = _CompressedBody(response.response, encoding)
    else:
        encoder = _Encoder(encoding)
        response.set_data(encoder.process(response.get_data()) + encoder.finish())
    response.headers["content-encoding"] = encoding
    response.headers.add("vary", "accept-encoding")
    return response
