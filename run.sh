#!/usr/bin/env bash
# Start the proxy (gunicorn + gevent workers) on SERVER_PORT/PORT (default 8080).
# Settings come from .env and the environment. With no account configured anywhere (no cookies or
# email in the settings, no ACCOUNTS_FILE, no account in the store) it runs the demo: the bundled
# simulator on SIMULATOR_PORT (default 8765) with its demo account, and a state directory of its
# own that is removed at the end, so the demo never touches real state and starts clean each time.
# With any account it talks to the real upstream (API_BASE_URL) and never starts the simulator.
# Everything it starts ends with it, sign-in processes and their browsers included.
set -euo pipefail
set -m  # every background job gets a process group of its own, which cleanup ends as a whole
cd "$(dirname "$0")"
. scripts/venv.sh
ensure_venv .venv requirements.txt

# The decision lives in Python (app/launch.py), which reads the same settings as the proxy.
launch=$(.venv/bin/python -m app.launch) || exit $?
setting() { sed -n "s/^$1=//p" <<<"$launch"; }
mode=$(setting mode) port=$(setting port) sim_port=$(setting simulator_port)
upstream=$(setting upstream) sources=$(setting sources)

groups=()       # process group ids of the jobs started here (a job's leader pid)
demo_dir=""
cleanup() {
    trap - EXIT INT TERM HUP
    local pgid alive
    # The leaders first: gunicorn stops gracefully and its workers end the sign-ins they started.
    for pgid in "${groups[@]}"; do kill -TERM "$pgid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    # Then whatever is left in their groups (a sign-in whose worker was killed), then by force.
    for pgid in "${groups[@]}"; do kill -TERM -- "-$pgid" 2>/dev/null || true; done
    for _ in $(seq 50); do
        alive=0
        for pgid in "${groups[@]}"; do kill -0 -- "-$pgid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    for pgid in "${groups[@]}"; do kill -KILL -- "-$pgid" 2>/dev/null || true; done
    if [ -n "$demo_dir" ]; then rm -rf "$demo_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if listening "$port"; then
    echo "Port $port (SERVER_PORT/PORT) is already in use: stop what listens there or choose another port." >&2
    exit 1
fi

if [ "$mode" = demo ]; then
    demo_dir=$(mktemp -d "${TMPDIR:-/tmp}/gbp-demo.XXXXXX")
    simulator=http://127.0.0.1:$sim_port
    set -a; . deploy/demo.env; set +a
    export GEMINI_BUSINESS_URL=$simulator API_BASE_URL=$simulator/v1alpha AUTH_URL=$simulator \
           DATA_DIR=$demo_dir STORE_URL=
    .venv/bin/python -m simulator --host 127.0.0.1 --port "$sim_port" --quiet >"$demo_dir/simulator.log" 2>&1 &
    sim_pid=$!
    groups+=("$sim_pid")
    for _ in $(seq 150); do
        grep -q "^simulator listening on" "$demo_dir/simulator.log" && break
        kill -0 "$sim_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! kill -0 "$sim_pid" 2>/dev/null || ! grep -q "^simulator listening on" "$demo_dir/simulator.log"; then
        echo "The demo's simulator could not start on 127.0.0.1:$sim_port (SIMULATOR_PORT): " \
             "$(tail -n 1 "$demo_dir/simulator.log")" >&2
        exit 1
    fi
    about="Demo: no account is configured, so the proxy talks to the bundled simulator at $simulator
with its demo account (${ACCOUNT_EMAIL}); its state is in $demo_dir, removed when this stops.
One-time codes of demo sign-ins (admin page, with ADMIN_KEY set): curl $simulator/__sim__/mail"
else
    about="Upstream: the real Gemini Business at $upstream
Accounts from: $sources"
fi

.venv/bin/gunicorn -c gunicorn.conf.py wsgi:app &
gunicorn_pid=$!
groups+=("$gunicorn_pid")
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

$about

gemini-business-proxy is listening on http://127.0.0.1:$port  (Ctrl-C stops it). Try:

  curl -N http://127.0.0.1:$port/v1/chat/completions -H "Content-Type: application/json" \\
       -H "Authorization: Bearer \${API_KEY:-any}" \\
       -d '{"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "Hello!"}], "stream": true}'

MSG
wait -n
