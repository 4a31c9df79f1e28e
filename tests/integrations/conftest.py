"""Shared set-up for the framework integration tests: an isolated store and state dir, offline Hub."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# before transformers/huggingface_hub are imported anywhere: never touch the network
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

SAMPLE_INTERVAL_S = 0.1


@pytest.fixture
def wattprint_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary store (returned) and state dir; nothing reaches the user's own."""
    db = tmp_path / "runs.db"
    monkeypatch.setenv("WATTPRINT_DB", f"sqlite:///{db}")
    monkeypatch.setenv("WATTPRINT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_DISABLED", "true")
    return db


@pytest.fixture(autouse=True)
def restore_signal_handlers():
    """Lightning puts back at teardown the handlers it found when fit started (a run's, by then stopped):
    harmless (they chain to the originals, see tests/tracking), but other test files expect a clean state."""
    import signal

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


@pytest.fixture
def home_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of its own (returned) and a working directory apart from it, so a path of '~' shows where it went."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home
