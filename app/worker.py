"""The gunicorn worker (gunicorn.conf.py: worker_class "app.worker.GatewayWorker").

gunicorn's gevent worker, plus a graceful stop that ends open answers properly: on SIGTERM it
tells app.shutdown how long the master will wait (graceful_timeout) before killing it.
"""
from __future__ import annotations

import gevent
from gunicorn.workers.ggevent import GeventWorker

from . import shutdown


class GatewayWorker(GeventWorker):
    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)  # stop accepting; gunicorn then waits for open connections
        # In a greenlet: a signal handler must not block, and begin() sleeps until the cutoff.
        gevent.spawn(shutdown.begin, self.cfg.graceful_timeout)
