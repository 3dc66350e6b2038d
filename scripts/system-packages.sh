# Sourced by test.sh: Debian packages the integration tests drive for real.
# As root (CI) missing ones are installed with apt-get; otherwise we say what is missing.

ensure_packages() {
    local missing=() cmd pkg
    for pair in "$@"; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing ${missing[*]} ..." >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
    else
        echo "Missing system packages: ${missing[*]} (sudo apt-get install ${missing[*]}); tests that need them will fail." >&2
    fi
}
