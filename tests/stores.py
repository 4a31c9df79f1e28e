"""Helpers for tests that read a store another process is writing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from wattprint.storage import open_store


def wait_until_stored(db: Path, run_id: str, ready: Any, timeout_s: float = 60.0) -> None:
    """Poll the store at ``db`` until ``ready(store, run)`` holds for run ``run_id`` (a condition, not a time,
    decides)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if db.exists() and db.stat().st_size:
            with open_store(str(db), readonly=True) as store:
                runs = [r for r in store.list_runs() if r.id == run_id]
                if runs and ready(store, runs[0]):
                    return
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never got there")
