"""`python -m simulator`: serve the fake upstream with gevent, so a hanging stream never
blocks other requests."""

from gevent import monkey

monkey.patch_all()  # before anything else imports socket, ssl or threading

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from gevent.pywsgi import WSGIHandler, WSGIServer  # noqa: E402

from .app import create_app  # noqa: E402
from .requestlog import file_sink, stdout_sink  # noqa: E402
from .settings import COMPRESSIONS, LAYOUTS, STRICT_CHECKS, UNKNOWN_MODEL_STATUSES, Settings  # noqa: E402
from .streaming import SOCKET_KEY  # noqa: E402


class SimHandler(WSGIHandler):
    """Hands the client socket to the app, so a waiting stream can see the client leave."""

    def handle(self):
        # Answer small writes at once, as Google's front ends do: with Nagle's algorithm on, a
        # response sent as headers then body waits ~40 ms for the client's delayed ACK.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return super().handle()

    def get_environ(self):
        environ = super().get_environ()
        environ[SOCKET_KEY] = self.socket
        return environ


# Connections not yet accepted wait in this queue (the kernel caps it at net.core.somaxconn).
# gevent's default, 128, dropped part of a burst of a thousand new upstream connections (a
# gateway under load opening its pool): they failed to connect instead of waiting their turn.
LISTEN_BACKLOG = 4096


def allow_many_connections() -> None:
    """Lifts the soft limit on open files to the hard one: each connection holds a descriptor,
    and the usual soft limit (1,024, Docker's default too) would refuse connections long before
    the thousands of streams a benchmark holds. Left as it is where the system says no."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--accounts", help="JSON file: a list of import-format accounts")
    parser.add_argument("--ttfb", type=float, help="seconds before the first element")
    parser.add_argument("--chunk-delay", type=float, help="seconds between elements")
    parser.add_argument("--piece-delay", type=float, help="seconds between element pieces")
    parser.add_argument("--reply-words", type=int, help="filler words per answer")
    parser.add_argument("--layout", choices=LAYOUTS)
    parser.add_argument("--key-lifetime", type=float, help="seconds a getoxsrf key works")
    parser.add_argument("--require-oses", action="store_true", default=None,
                        help="require the __Host-C_OSES cookie at getoxsrf")
    parser.add_argument("--models", help="comma-separated known modelIds")
    parser.add_argument("--unknown-model-status", type=int, choices=UNKNOWN_MODEL_STATUSES,
                        help="how an unknown modelId is refused (404 NOT_FOUND or 400 INVALID_ARGUMENT)")
    parser.add_argument("--quota", type=int, help="streamAssist calls per window per account")
    parser.add_argument("--quota-window", type=float, help="quota window in seconds")
    for kind in ("text", "image", "video"):
        parser.add_argument(f"--daily-quota-{kind}", type=int, help=f"{kind} calls per account per quota day")
    parser.add_argument("--quota-reset-tz", help="time zone of the daily reset (America/Los_Angeles)")
    parser.add_argument("--quota-reset-hour", type=int, help="hour of the daily reset (0)")
    parser.add_argument("--cookie-lifetime", type=float,
                        help="seconds the cookies of a sign-in work")
    parser.add_argument("--cookie-rotate-after", type=float,
                        help="age after which getoxsrf redirects to refreshcookies")
    parser.add_argument("--maildir", help="deliver sign-in codes as mail into this Maildir")
    parser.add_argument("--compression", choices=COMPRESSIONS,
                        help="response bodies: auto (br or gzip as offered), identity, gzip, br")
    parser.add_argument("--lenient", action="store_true", default=None,
                        help="turn off the strict request checks (JWT bytes, envelope, assist, headers)")
    parser.add_argument("--log", help="write received requests to FILE as JSON lines")
    parser.add_argument("--quiet", action="store_true", help="no request lines on stdout")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    overrides = {name: getattr(args, name) for name in (
        "ttfb", "chunk_delay", "piece_delay", "reply_words", "layout", "key_lifetime",
        "require_oses", "models", "unknown_model_status", "quota", "quota_window", "cookie_lifetime",
        "cookie_rotate_after", "maildir", "daily_quota_text", "daily_quota_image", "daily_quota_video",
        "quota_reset_tz", "quota_reset_hour", "compression")
        if getattr(args, name) is not None}
    if args.lenient:
        overrides.update(dict.fromkeys(STRICT_CHECKS, False))
    return Settings().updated(overrides)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        settings = settings_from(args)
        accounts = None
        if args.accounts:
            with open(args.accounts, encoding="utf-8") as handle:
                accounts = json.load(handle)
        sink = file_sink(args.log) if args.log else (None if args.quiet else stdout_sink)
        app = create_app(settings, accounts, sink)
    except (OSError, ValueError) as exc:  # bad file, bad JSON, bad setting or account
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    allow_many_connections()
    server = WSGIServer((args.host, args.port), app, handler_class=SimHandler, log=None, backlog=LISTEN_BACKLOG)
    server.start()
    host, port = server.address[:2]
    print(f"simulator listening on http://{host}:{port}", flush=True)
    gevent.signal_handler(signal.SIGTERM, server.stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
