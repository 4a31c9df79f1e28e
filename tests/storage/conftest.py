from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wattprint.storage import SampleRow, Store, open_store


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "runs.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    s = open_store(str(db))
    yield s
    s.close()


def make_samples(start_elapsed: float, n: int, dt: float = 1.0, watts: float = 100.0, base_j: float = 0.0,
                 phase: str | None = None) -> list[SampleRow]:
    """n samples of a constant cpu load: cumulative energy grows by watts*dt per sample after ``base_j``."""
    t0 = time.time()
    out = []
    for i in range(1, n + 1):
        e = start_elapsed + i * dt
        out.append(SampleRow(t0 + e, e, phase, {"cpu": base_j + watts * i * dt, "ram": (base_j + i * dt) / 10},
                             {"cpu": watts, "ram": 0.1}))
    return out
