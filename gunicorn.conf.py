"""gunicorn settings, all from the environment: `gunicorn -c gunicorn.conf.py wsgi:app`.

gevent workers: one greenlet per request, so long streams cost a greenlet, not a worker.
Patch before anything imports ssl, requests or urllib3 (gunicorn reads this file first).
"""
import os
import resource
import shutil
import sys
import tempfile

from gevent import monkey

monkey.patch_all()

# Run from the project folder wherever gunicorn is started: imports, .env and DATA_DIR resolve there.
chdir = os.path.dirname(os.path.abspath(__file__))
os.chdir(chdir)
sys.path.insert(0, chdir)

# /metrics counts every worker (app/metrics.py): prometheus_client's multiprocess mode, where each
# worker writes its values into files of one directory that a scrape reads together. The variable
# must be set before anything imports prometheus_client (importing app.config below imports the
# app package), so here; unless the operator names a directory, each run gets a fresh one, which
# the master empties at start, and removes at exit (on_starting, on_exit below).
_METRICS_PREFIX = "gbp-metrics-"
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # set already: an operator's, or ours after a reload (HUP)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=_METRICS_PREFIX)

from app.config import Config, ConfigError  # noqa: E402  (after patching, on purpose)

# Validate every setting once, in the master: a bad value stops the service with one clear
# line instead of each worker failing to boot with a traceback.
try:
    _config = Config.from_env()  # also loads .env (ENV_FILE)
except ConfigError as exc:
    sys.exit(f"gemini-business-proxy: configuration error: {exc}")

bind = os.environ.get("GUNICORN_BIND") or f"{_config.server_address}:{_config.server_port}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
# gunicorn's gevent worker plus a shutdown that ends open streams properly, a deadline for request
# heads (HEADER_TIMEOUT), JSON bodies on the errors gunicorn answers itself and no Server banner:
# see app/worker.py.
worker_class = "app.worker.GatewayWorker"
# Client connections one worker accepts at once (gunicorn's gevent pool; upstream sockets are not
# counted here). 10,000: 5,000 open streams (issue 12's target) with room for as many idle
# kept-alive connections; when all are taken app/worker.py sheds idle and slow ones first.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS") or 10000)
# Each open request holds a descriptor for its client and one for the upstream: the usual soft
# limit on open files (1,024, Docker's default too) ends a worker near 500 requests. Lift it to
# the hard limit here, in the master, so every worker inherits it (run.sh and the image alike).
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft != _hard:
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
    except (ValueError, OSError):  # not allowed here: keep the limit the system gave
        pass
# The gevent worker's heartbeat runs in its own greenlet, so a long stream never trips this;
# it only catches a worker whose loop is truly stuck.
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 120)
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or 30)
# Longer than nginx's upstream keepalive. At least 1: with 0 gunicorn reads request heads outside
# the worker's timeout_ctx, which is where the HEADER_TIMEOUT deadline lives (app/worker.py).
keepalive = max(1, int(os.environ.get("GUNICORN_KEEPALIVE") or 75))
accesslog = None  # the app logs each request itself, with request ids and redaction
errorlog = "-"
loglevel = {"DEBUG": "debug", "WARNING": "warning", "ERROR": "error"}.get(_config.log_level, "info")
# The app reads the same list to find a client's address behind a proxy (app/client_address.py).
forwarded_allow_ips = ",".join(_config.forwarded_allow_ips)
control_socket_disable = True  # gunicorn 27's admin socket is unused; several instances would share its path


def on_starting(server):
    """Start the metrics from zero: files a previous run left in an operator's directory would
    be read as this run's workers."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    try:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))
    except OSError as exc:
        sys.exit(f"gemini-business-proxy: PROMETHEUS_MULTIPROC_DIR {directory}: {exc.strerror}")


def child_exit(server, worker):
    """A worker ended (stopped, crashed, replaced): its counts stay, its open streams leave."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if os.path.basename(directory).startswith(_METRICS_PREFIX) and \
            os.path.dirname(directory) == tempfile.gettempdir():  # ours, not an operator's
        shutil.rmtree(directory, ignore_errors=True)
