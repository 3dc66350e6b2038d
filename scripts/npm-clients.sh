#!/usr/bin/env bash
# Installs the npm clients the integration tests drive (tests/clients/package.json: exact
# versions, every dependency locked by tests/clients/package-lock.json) into a cache OUTSIDE the
# repository, once per lock, and prints the folder that holds their node_modules.
#
#   dir=$(scripts/npm-clients.sh)   # then node resolves packages from $dir/node_modules,
#                                   # and their commands are in $dir/node_modules/.bin
#
# The cache folder is named after a hash of the two files, so changing a version installs a new
# folder and never mixes versions; an install lands whole (built in a temporary folder, then
# renamed) so an interrupted one is redone, not half used. Concurrent runs wait on a lock.
# To add a client: `npm install --package-lock-only <name>@<exact version>` in tests/clients.
# opencode is pinned as opencode-linux-x64 (the binary that opencode-ai's launcher runs): the
# registry this project reaches serves only the linux-x64 builds among opencode-ai's per-platform
# optional packages, and `npm ci` rejects a lock that lacks the others. Codex CLI and Claude Code
# are pinned by their launcher packages (@openai/codex, @anthropic-ai/claude-code): the registry
# has every platform package of theirs, so the lock lists them all and npm fetches only the
# linux-x64 one (codex: a musl binary; claude: a native ELF that the launcher's postinstall puts
# in bin/claude.exe; its "node >=22" engine warning is harmless on Node 20, the binary needs no
# node). Sizes, measured on a cold npm cache: the whole set installs in ~22 s into 1.1 GB
# (codex 424 MB, claude 384 MB, opencode 229 MB), plus a copy of the tarballs in npm's cache.
# Folders of older locks not used for 7 days are removed when a new one is installed.
# Needs node and npm (test.sh installs Debian's nodejs and npm as root); fails loudly without.
set -euo pipefail
spec="$(cd "$(dirname "$0")/../tests/clients" && pwd)"
command -v node >/dev/null && command -v npm >/dev/null || {
    echo "npm-clients: node and npm are needed (Debian packages nodejs, npm)" >&2; exit 1; }
key=$(cat "$spec/package.json" "$spec/package-lock.json" | sha256sum | cut -c1-16)
cache="${GBP_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gemini-business-proxy/npm}"
dir="$cache/$key"
if [ ! -f "$dir/.installed" ]; then
    mkdir -p "$cache"
    exec 9>"$cache/.lock"
    flock 9
    if [ ! -f "$dir/.installed" ]; then  # another run may have installed it while we waited
        tmp=$(mktemp -d "$cache/.partial.XXXXXX") && chmod 755 "$tmp"
        trap 'rm -rf "$tmp"' EXIT
        cp "$spec/package.json" "$spec/package-lock.json" "$tmp/"
        echo "npm-clients: installing $(cd "$tmp" && node -p 'Object.entries(require("./package.json").dependencies).map(([n, v]) => n + "@" + v).join(" ")') into $dir ..." >&2
        (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >&2)
        touch "$tmp/.installed"
        rm -rf "$dir"
        mv "$tmp" "$dir"
        trap - EXIT
        # a lock change leaves the old 1 GB folder behind: drop those idle for a week
        find "$cache" -mindepth 2 -maxdepth 2 -name .used -mtime +7 -printf '%h\0' | xargs -0r rm -rf
    fi
fi
touch "$dir/.used"
echo "$dir"
