"""gunicorn settings, all from the environment: `gunicorn -c gunicorn.conf.py wsgi:app`.

gevent workers: one greenlet per request, so long streams cost a greenlet, not a worker.
Patch before anything imports ssl, requests or urllib3 (gunicorn reads this file first).
"""
import os

from gevent import monkey

monkey.patch_all()

from dotenv import load_dotenv  # noqa: E402  (after patching, on purpose)

load_dotenv(os.environ.get("ENV_FILE", ".env"), override=False)

_host = os.environ.get("SERVER_ADDRESS") or "0.0.0.0"
_port = os.environ.get("SERVER_PORT") or os.environ.get("PORT") or "8080"
bind = os.environ.get("GUNICORN_BIND") or f"{_host}:{_port}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
worker_class = "gevent"
worker_connections = int(os.environ.get("WORKER_CONNECTIONS") or 1000)
# The gevent worker's heartbeat runs in its own greenlet, so a long stream never trips this;
# it only catches a worker whose loop is truly stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 120)
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or 30)
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE") or 75)  # longer than nginx's upstream keepalive
accesslog = None  # the app logs each request itself, with request ids and redaction
errorlog = "-"
loglevel = {"debug": "debug", "warn": "warning", "warning": "warning", "error": "error"}.get(
    (os.environ.get("LOG_LEVEL") or "info").lower(), "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1"
control_socket_disable = True  # gunicorn 27's admin socket is unused; several instances would share its path
