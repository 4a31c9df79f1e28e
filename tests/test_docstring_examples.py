"""The examples in the package's docstrings run as written (a skipped line says why it cannot run here, e.g. it
reads this machine's devices), so the two-line examples users copy stay true."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import wattprint

PACKAGE = Path(wattprint.__file__).parent
MODULES = sorted(
    ".".join(("wattprint", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
    for p in PACKAGE.rglob("*.py") if ">>> " in p.read_text(encoding="utf-8"))


def test_the_examples_are_found() -> None:
    assert "wattprint" in MODULES and "wattprint.intensity" in MODULES and len(MODULES) >= 10


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (run pytest " \
                               f"--doctest-modules {module.__file__} to see them)"
