#!/usr/bin/env bash
# Install everything the tests need into .venv and run lint, type checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build of torch first: left to the hf/lightning extras, pip takes a CUDA build of several GB, which
# filled a CI machine's disk. Our machines keep that build in /opt/wheels (pip's find-links there, passed
# again here in case the environment does not say so). --no-cache-dir: no second copy under ~/.cache.
find_links=()
[ -d /opt/wheels ] && find_links=(--find-links /opt/wheels)
.venv/bin/python -m pip install -q --no-cache-dir ${find_links[@]+"${find_links[@]}"} "torch==${TORCH_VERSION:-2.13.0}"
.venv/bin/python -m pip install -q --no-cache-dir -e '.[test,nvidia,hf,lightning]'
.venv/bin/ruff check src tests bench scripts
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
