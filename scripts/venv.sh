# Sourced by run.sh and test.sh: make sure a virtualenv exists and holds the given requirements file.
# Works on a fresh Debian with only python3: when the venv module lacks ensurepip (package
# python3-venv missing) it installs that package as root, or else bootstraps pip from PyPI.

ensure_venv() {
    local dir=$1 requirements=$2
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "Python 3.11 or newer is needed; python3 is $(python3 --version 2>&1)" >&2; return 1; }
    if [ ! -x "$dir/bin/pip" ]; then
        rm -rf "$dir"
        if ! python3 -m venv "$dir" 2>/dev/null; then
            rm -rf "$dir"
            if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
                echo "Installing python3-venv ..." >&2
                apt-get install -y -qq python3-venv >/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv; }
                python3 -m venv "$dir"
            else
                python3 -m venv --without-pip "$dir"
                "$dir/bin/python" "$(dirname "${BASH_SOURCE[0]}")/bootstrap_pip.py"
            fi
        fi
    fi
    # Reinstall only when the requirements changed since the last install.
    local stamp="$dir/.installed-$requirements.sha256" wanted
    wanted=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        echo "Installing Python packages from $requirements into $dir ..." >&2
        "$dir/bin/pip" install --disable-pip-version-check -q -r "$requirements"
        echo "$wanted" > "$stamp"
    fi
}
