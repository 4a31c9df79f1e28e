"""An integration imported where its framework is not installed says how to install it (the extra's pip command),
as a ModuleNotFoundError that keeps the missing module's ``name`` and is raised from the import's own error. Each
import runs in a fresh interpreter in which the framework cannot be imported (``sys.modules[name] = None``)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

IMPORT_WITHOUT = """
import json, sys, types
blocked, empty, module = json.loads(sys.argv[1])
for name in blocked:
    sys.modules[name] = None  # `import name` raises ModuleNotFoundError, as where it is not installed
for name in empty:
    sys.modules[name] = types.ModuleType(name)  # installed, but without what the integration imports
try:
    __import__(module)
except ImportError as e:
    print(json.dumps({"types": [t.__name__ for t in type(e).__mro__], "name": e.name, "message": str(e),
                      "cause": type(e.__cause__).__name__ if e.__cause__ else None}))
"""


def import_without(module: str, blocked: list[str], empty: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ImportError of importing ``module`` in a fresh interpreter: its classes, name, message and cause."""
    out = subprocess.run([sys.executable, "-c", IMPORT_WITHOUT, json.dumps([blocked, list(empty), module])],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip(), out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize(("module", "blocked", "missing", "says"), [
    ("wattprint.integrations.transformers", ["transformers"], "transformers",
     "wattprint.integrations.transformers needs Hugging Face Transformers: pip install 'wattprint[hf]'"),
    ("wattprint.integrations.lightning", ["lightning", "pytorch_lightning"], "pytorch_lightning",
     "wattprint.integrations.lightning needs Lightning: pip install 'wattprint[lightning]'"),
    ("wattprint.integrations.pytorch_lightning", ["pytorch_lightning"], "pytorch_lightning",
     "pip install pytorch-lightning"),
])
def test_an_integration_without_its_framework_says_what_to_install(
        module: str, blocked: list[str], missing: str, says: str) -> None:
    e = import_without(module, blocked)
    assert says in e["message"]
    assert "ModuleNotFoundError" in e["types"]
    assert e["name"] == missing and e["cause"] == "ModuleNotFoundError"


def test_a_framework_installed_without_what_is_imported_gives_its_own_error() -> None:
    # too old or broken, not missing: installing the extra would not help, the import's error says what is wrong
    e = import_without("wattprint.integrations.transformers", [], ("transformers",))
    assert "cannot import name" in e["message"] and "pip install" not in e["message"]
    assert "ModuleNotFoundError" not in e["types"]
