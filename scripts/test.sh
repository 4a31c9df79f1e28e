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
# Elsewhere the CPU build comes from PyTorch's CPU index (a local version, 2.13.0+cpu, which ==2.13.0 accepts and
# pip ranks above PyPI's CUDA build); where that index cannot be reached, PyPI's build, large but working.
torch="torch==${TORCH_VERSION:-2.13.0}"
if [ -d /opt/wheels ]; then
    .venv/bin/python -m pip install -q --no-cache-dir --find-links /opt/wheels "$torch"
else
    .venv/bin/python -m pip install -q --no-cache-dir --retries 1 --timeout 20 \
        --index-url https://download.pytorch.org/whl/cpu \
        --extra-index-url https://pypi.org/simple "$torch" || .venv/bin/python -m pip install -q --no-cache-dir "$torch"
fi
.venv/bin/python -m pip install -q --no-cache-dir -e '.[test,nvidia,hf,lightning]'
.venv/bin/ruff check src tests bench scripts
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
