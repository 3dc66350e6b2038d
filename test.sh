#!/usr/bin/env bash
# Run the whole test suite: unit tests, the simulator's tests, and integration tests that start
# the simulator, gunicorn with gevent workers, nginx, redis-server, dovecot and Chromium, and drive
# them with curl, the openai and anthropic SDKs, LangChain, openai-agents (Python) and npm clients
# (the openai and anthropic SDKs and the Vercel AI SDK on Node; the coding agents opencode, Codex
# CLI and Claude Code: scripts/npm-clients.sh installs the pinned npm clients outside the
# repository the first time a test needs them) and a real browser.
# Extra arguments go to pytest (e.g. ./test.sh -k stream -x).
# The suite runs in TEST_WORKERS (default 3) pytest-xdist processes, a test file at a time each
# (--dist loadfile: a module's servers start once, in one process): most tests wait on servers,
# not on the CPU, so three processes finish in about half the time on two cores. `-n 0` after
# it (./test.sh -n 0 ...) runs everything in this one process, as plain pytest does.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/system-packages.sh
. scripts/venv.sh
ensure_packages nginx:nginx openssl:openssl curl:curl redis-server:redis-server dovecot:dovecot-imapd chromium:chromium \
    node:nodejs npm:npm
ensure_venv .venv-test requirements-dev.txt
exec .venv-test/bin/python -m pytest -n "${TEST_WORKERS:-3}" --dist loadfile "$@"
