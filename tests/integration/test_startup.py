"""How users start the service: ./run.sh (demo without credentials) and gunicorn with bad settings."""
import os
import re
import signal
import subprocess
import sys
import time

import requests

from tests.servers import ROOT, Process, free_port


def test_bad_settings_stop_gunicorn_with_a_message_naming_the_variable(tmp_path):
    for env, variable in (({"PORT": "eighty"}, "PORT"), ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
                          ({"GEMINI_BUSINESS_CSESIDX": "12x", "GEMINI_BUSINESS_SECURE_C_SES": "c"},
                           "GEMINI_BUSINESS_CSESIDX")):
        result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                cwd=ROOT, env={**os.environ, "ENV_FILE": "/nonexistent", "DATA_DIR": str(tmp_path),
                                               **env}, capture_output=True, text=True, timeout=30)
        assert result.returncode != 0
        assert f"configuration error: {variable}" in result.stderr
        assert "Traceback" not in result.stderr


def test_run_sh_starts_the_demo_and_prints_a_working_curl(tmp_path):
    port, sim_port = free_port(), free_port()
    env = {"PORT": str(port), "SIMULATOR_PORT": str(sim_port), "ENV_FILE": "/nonexistent",
           "DATA_DIR": str(tmp_path), "WEB_CONCURRENCY": "1"}
    run = Process("run.sh", ["./run.sh"], env)
    try:
        run.wait_until(lambda: any("Try:" in line for line in run.output()), timeout=120, what="printing its curl")
        time.sleep(0.2)  # the rest of the message
        printed = "\n".join(run.output())
        curl = re.search(r"^\s*(curl .*?\}')$", printed, re.S | re.M).group(1)
        result = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0
        assert "data: [DONE]" in result.stdout and '"content":"Turn 1' in result.stdout
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["status"] == "ok"
        os.kill(run.proc.pid, signal.SIGINT)  # Ctrl-C stops the proxy and the simulator with it
        run.proc.wait(20)
        for used in (port, sim_port):
            try:
                requests.get(f"http://127.0.0.1:{used}/health", timeout=2)
                raise AssertionError(f"something still listens on {used}")
            except requests.ConnectionError:
                pass
    finally:
        run.stop()


def test_a_stream_longer_than_the_worker_timeout_is_not_killed(simulator, tmp_path_factory):
    """GUNICORN_TIMEOUT is a stuck-worker watchdog: a gevent worker stays alive through a long stream."""
    from tests.integration.conftest import proxy_env
    from tests.integration.helpers import expected, sse_data
    from tests.servers import Gunicorn

    server = Gunicorn(proxy_env(simulator, tmp_path_factory, GUNICORN_TIMEOUT="1", UPSTREAM_READ_TIMEOUT="10"), workers=1)
    try:
        simulator.fault("gate", after=2)
        response = requests.post(f"{server.url}/v1/chat/completions", stream=True, timeout=30,
                                 json={"model": "gpt-4o", "stream": True,
                                       "messages": [{"role": "user", "content": "long"}]})
        lines = response.iter_lines()
        keepalives = 0
        while keepalives < 6:  # three seconds of a quiet stream: three watchdog periods
            keepalives += next(lines) == b": keep-alive"
        simulator.control("POST", "release")
        rest = [line.decode() for line in lines]
        assert "".join(c["choices"][0]["delta"].get("content", "") for c in sse_data(rest)) == expected("long").text
        assert not any("WORKER TIMEOUT" in line for line in server.output())
    finally:
        server.stop()
