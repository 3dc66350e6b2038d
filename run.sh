#!/usr/bin/env bash
# Start the proxy (gunicorn + gevent workers) on SERVER_PORT/PORT (default 8080).
# Settings come from .env and the environment. Without account cookies it starts the bundled
# simulator too and points the proxy at it (the demo), so it works with no credentials at all.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/venv.sh
ensure_venv .venv requirements.txt

has_cookies=$(.venv/bin/python -c 'from app.config import Config; print(int(Config.from_env().has_credentials))')
port=${SERVER_PORT:-${PORT:-$(.venv/bin/python -c 'from app.config import Config; print(Config.from_env().server_port)')}}
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$has_cookies" = 0 ]; then
    sim_port=${SIMULATOR_PORT:-8765}
    echo "No Gemini Business cookies configured: starting the bundled simulator on 127.0.0.1:$sim_port (demo mode)."
    set -a; . deploy/demo.env; set +a
    export GEMINI_BUSINESS_URL=http://127.0.0.1:$sim_port API_BASE_URL=http://127.0.0.1:$sim_port/v1alpha \
           AUTH_URL=http://127.0.0.1:$sim_port
    .venv/bin/python -m simulator --host 127.0.0.1 --port "$sim_port" >/dev/null &
    pids+=($!)
fi

.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app &
gunicorn_pid=$!
pids+=($gunicorn_pid)
up=0
for _ in $(seq 150); do
    kill -0 "$gunicorn_pid" 2>/dev/null || break
    .venv/bin/python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" \
        2>/dev/null && { up=1; break; }
    sleep 0.2
done
if [ "$up" = 0 ]; then
    echo "gemini-business-proxy did not start: see the messages above." >&2
    exit 1
fi
cat <<MSG

gemini-business-proxy is listening on http://127.0.0.1:$port  (Ctrl-C stops it). Try:

  curl -N http://127.0.0.1:$port/v1/chat/completions -H "Content-Type: application/json" \\
       -H "Authorization: Bearer \${API_KEY:-any}" \\
       -d '{"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "Hello!"}], "stream": true}'

MSG
wait -n
