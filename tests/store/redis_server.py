"""A throwaway redis-server for tests: loopback only, a free port, no persistence.

Reuse it from any test folder:

    from tests.store.redis_server import start_redis
    url, stop = start_redis(tmp_path_factory.mktemp("redis"))

Never points at an existing server: the port is free when chosen, and the server is ours.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.servers import free_port


def _is_ours(port: int, pid: int) -> bool:
    """The server on `port` answers and is the process we started (not one that took the port)."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5, socket_connect_timeout=0.5,
                         retry=Retry(NoBackoff(), 0))
    try:
        return client.info("server").get("process_id") == pid
    except redis.RedisError:
        return False
    finally:
        client.close()


def start_redis(tmp_dir: Path, timeout: float = 10.0, port: int | None = None) -> tuple[str, Callable[[], None]]:
    """Start redis-server (on `port`, e.g. to restart one empty, or a free one); return its URL
    (db 0) and a function that stops it."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    wanted = port
    for _ in range(1 if wanted else 3):  # another process may grab the free port first
        port = wanted or free_port()
        log = open(Path(tmp_dir) / f"redis-{port}.log", "w+")
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp_dir), "--protected-mode", "yes", "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _is_ours(port, proc.pid):
                def stop(proc=proc, log=log):
                    proc.terminate()
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(5)
                    log.close()
                return f"redis://127.0.0.1:{port}/0", stop
            time.sleep(0.02)
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        log.seek(0)
        output = log.read()
        log.close()
    raise RuntimeError(f"redis-server did not start:\n{output[-2000:]}")
