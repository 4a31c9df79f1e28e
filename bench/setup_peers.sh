#!/usr/bin/env bash
# Create .venv-bench/ (separate from the test venv .venv/) with wattprint + the peer trackers that
# bench/overhead.py compares against. Usage: bash bench/setup_peers.sh [--with-zeus]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv-bench
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# non-editable install: the benchmark measures the package as users get it
"$VENV/bin/python" -m pip install -q --force-reinstall --no-deps .
"$VENV/bin/python" -m pip install -q -r bench/requirements-peers.txt
if [ "${1:-}" = "--with-zeus" ]; then
    # Zeus pulls amdsmi, which changes CodeCarbon's GPU probing: keep it in its own venv
    [ -x .venv-bench-zeus/bin/python ] || "$PY" -m venv .venv-bench-zeus
    .venv-bench-zeus/bin/python -m pip install -q "zeus==0.16.0" || echo "zeus install failed; its column is skipped" >&2
fi
"$VENV/bin/python" -m pip freeze > "$VENV/frozen.txt"
echo "ready: $VENV ($(wc -l < "$VENV/frozen.txt") packages; frozen list in $VENV/frozen.txt)"
