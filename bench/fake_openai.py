"""`python -m bench.fake_openai --port P`: the OpenAI-dialect fake upstream of bench.sidebyside.

It answers POST /v1/chat/completions (and /chat/completions) the way OpenAI does, with the
simulator's timing knobs so every contestant waits on the same upstream: `ttfb` seconds before
the first chunk, `chunks` content chunks, `chunk_delay` seconds between chunks. A stream is
SSE: a role chunk, `chunks` content chunks, a finish chunk, `data: [DONE]`; a non-stream answer
is one chat.completion sent when the stream's last chunk would have been. nginx and LiteLLM
relay to it and "direct" calls it; the gateway's upstream is the simulator with the same knobs.
POST /__fake__/settings changes the knobs at run time (the stream-holding phase slows chunks
down); GET /health says it is up. One gevent WSGI server, one process: cheap on purpose.
"""
from __future__ import annotations

import argparse
import json
import time

import gevent

KNOBS = ("ttfb", "chunks", "chunk_delay")
JSON = [("Content-Type", "application/json")]


class FakeOpenAI:
    def __init__(self, ttfb: float = 0.0, chunks: int = 20, chunk_delay: float = 0.0):
        self.settings = {"ttfb": ttfb, "chunks": chunks, "chunk_delay": chunk_delay}
        self.served = 0

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == "/health":
            return self._json(start_response, "200 OK", {"status": "ok", "served": self.served})
        if path == "/__fake__/settings" and method in ("POST", "PATCH"):
            changes = json.loads(_body(environ) or b"{}")
            unknown = set(changes) - set(KNOBS)
            if unknown:
                return self._error(start_response, "400 Bad Request", f"unknown knob(s): {sorted(unknown)}")
            self.settings.update({k: (int if k == "chunks" else float)(v) for k, v in changes.items()})
            return self._json(start_response, "200 OK", self.settings)
        if path.endswith("/models") and method == "GET":
            return self._json(start_response, "200 OK", {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": "bench"}]})
        if not path.endswith("/chat/completions"):
            return self._error(start_response, "404 Not Found", f"no route {path}")
        if method != "POST":
            return self._error(start_response, "405 Method Not Allowed", "POST only")
        try:
            request = json.loads(_body(environ))
            model, messages = request["model"], request["messages"]
            if not isinstance(messages, list) or not messages:
                raise ValueError("messages must be a non-empty list")
        except (ValueError, KeyError, TypeError) as exc:
            return self._error(start_response, "400 Bad Request", f"invalid request: {exc}")
        self.served += 1
        if request.get("stream"):
            start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
            return self._stream(model, bool((request.get("stream_options") or {}).get("include_usage")))
        return self._complete(start_response, model)

    def _words(self) -> list[str]:
        return [f"word{i} " for i in range(max(1, self.settings["chunks"]))]

    def _complete(self, start_response, model: str):
        ttfb, delay, words = self.settings["ttfb"], self.settings["chunk_delay"], self._words()
        if ttfb + delay * (len(words) - 1) > 0:
            gevent.sleep(ttfb + delay * (len(words) - 1))  # when the stream's last chunk would be
        return self._json(start_response, "200 OK", {
            "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(words)},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(words), "total_tokens": 10 + len(words)},
        })

    def _stream(self, model: str, usage: bool):
        ttfb, delay, words = self.settings["ttfb"], self.settings["chunk_delay"], self._words()
        created = int(time.time())

        def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
            body = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
            return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"

        if ttfb > 0:
            gevent.sleep(ttfb)
        yield chunk({"role": "assistant", "content": ""}) + chunk({"content": words[0]})
        for word in words[1:]:
            if delay > 0:
                gevent.sleep(delay)
            yield chunk({"content": word})
        tail = chunk({}, "stop")
        if usage:
            tail += (b"data: " + json.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created,
                                             "model": model, "choices": [], "usage": {
                                                 "prompt_tokens": 10, "completion_tokens": len(words),
                                                 "total_tokens": 10 + len(words)}}).encode() + b"\n\n")
        yield tail + b"data: [DONE]\n\n"

    @staticmethod
    def _json(start_response, status: str, body: dict):
        data = json.dumps(body).encode()
        start_response(status, JSON + [("Content-Length", str(len(data)))])
        return [data]

    def _error(self, start_response, status: str, message: str):
        return self._json(start_response, status, {"error": {
            "message": message, "type": "invalid_request_error", "param": None, "code": None}})


def _body(environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()


def serve(host: str, port: int, app: FakeOpenAI):
    import socket

    from gevent.pywsgi import WSGIServer

    class Server(WSGIServer):
        def handle(self, sock, address):
            # pywsgi writes the head and the body separately: without this, Nagle's algorithm
            # and the client's delayed ACK add 40 ms to every answer.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle(sock, address)

    server = Server((host, port), app, log=None, error_log=None, backlog=4096)
    server.serve_forever()


def main(argv=None) -> None:
    from gevent import monkey

    monkey.patch_all()
    parser = argparse.ArgumentParser(prog="python -m bench.fake_openai", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttfb", type=float, default=0.0, help="seconds before the first chunk (0)")
    parser.add_argument("--chunks", type=int, default=20, help="content chunks per answer (20)")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks (0)")
    args = parser.parse_args(argv)
    serve(args.host, args.port, FakeOpenAI(args.ttfb, args.chunks, args.chunk_delay))


if __name__ == "__main__":
    main()
