#!/bin/sh
# Make this checkout runnable: host packages (as root, idempotent), uv, and the locked
# Python environment in .venv. Called by ./just before every recipe; quiet when nothing
# is missing.
set -eu
cd "$(dirname "$0")/.."
say() { printf '[bootstrap] %s\n' "$*" >&2; }

# 1. Host packages (Podman, runc, debootstrap, ...): scripts/host-setup.sh is idempotent.
if [ "$(id -u)" = 0 ]; then
    QUIET=1 SKIP_PODMAN_SERVICE=1 sh scripts/host-setup.sh >&2
elif ! command -v podman >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    if sudo -n true 2>/dev/null; then
        sudo QUIET=1 SKIP_PODMAN_SERVICE=1 sh scripts/host-setup.sh >&2
    else
        say "Podman/debootstrap are missing; run once as root: sudo sh scripts/host-setup.sh"
        exit 1
    fi
fi

# 2. uv (from PyPI: its installer script lives on GitHub, which may be unreachable).
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
    say "installing uv with pip (user site)"
    python3 -m pip install --quiet --user uv 2>/dev/null \
        || python3 -m pip install --quiet --user --break-system-packages uv
fi

# 3. The locked environment. Never download an interpreter: use the host's Python 3.11+.
export UV_PYTHON_DOWNLOADS=never
# the host's CA store (some networks need a CA that uv's bundled roots lack)
export UV_NATIVE_TLS=1
uv sync --frozen --quiet
