#!/usr/bin/env bash
# Run the whole test suite: unit tests, the simulator's tests, and integration tests that start
# the simulator, gunicorn with gevent workers and nginx, and drive them with curl and the openai SDK.
# Extra arguments go to pytest (e.g. ./test.sh -k stream -x).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/system-packages.sh
. scripts/venv.sh
ensure_packages nginx:nginx curl:curl
ensure_venv .venv requirements-dev.txt
exec .venv/bin/python -m pytest "$@"
