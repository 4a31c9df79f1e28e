from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from wattprint.errors import InputConflictError
from wattprint.storage import SampleRow, Store, open_store
from wattprint.storage import sqlite as sqlite_store

DURATION = 1000  # s of run, one sample a second
PHASE_CHANGE = 450  # s; inside the bucket [420, 480)


def _power(t: float) -> float:
    return 200.0 + 100.0 * math.sin(t / 37.0) + (50.0 if t > 300 else 0.0)  # W, changes part-way


def _fill(store: Store) -> list[SampleRow]:
    store.begin_run("long", "p", time.time(), {})
    rows, energy = [], 0.0
    for i in range(1, DURATION + 1):
        energy += _power(i)  # J over the 1 s interval ending at i
        rows.append(SampleRow(1e9 + i, float(i), "train" if i <= PHASE_CHANGE else "eval",
                              {"gpu": energy}, {"gpu": _power(i)}))
    for k in range(0, DURATION, 100):
        store.append_samples("long", rows[k:k + 100], {})
    return rows


def _integral(samples: list[SampleRow]) -> float:
    prev, total = 0.0, 0.0
    for s in samples:
        total += s.power_w["gpu"] * (s.elapsed_s - prev)
        prev = s.elapsed_s
    return total


@pytest.mark.parametrize("batch_rows", [5000, 7])  # 7: buckets straddle transaction batches
def test_downsample_keeps_energy_and_recent_detail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   batch_rows: int) -> None:
    monkeypatch.setattr(sqlite_store, "DOWNSAMPLE_BATCH_ROWS", batch_rows)
    with open_store(str(tmp_path / "d.db")) as store:
        original = _fill(store)
        before = store.get_run("long")
        removed = store.downsample("long", older_than_s=100, bucket_s=60)
        after = store.samples("long")
        run = store.get_run("long")

        # samples up to 900 s (aligned cutoff) become one per minute, split where the phase changes
        assert len(after) == 15 + 1 + 100 and removed == DURATION - len(after)
        assert (run.energy_j, run.duration_s) == (before.energy_j, before.duration_s)
        assert after[-1] == original[-1]
        assert after[-100:] == original[-100:]  # recent samples untouched
        by_time = {s.elapsed_s: s for s in original}
        for s in after:  # cumulative energy at every kept point is exactly the original
            assert s.energy_j == by_time[s.elapsed_s].energy_j
            assert s.phase == by_time[s.elapsed_s].phase
        assert [s.elapsed_s for s in after[:9]] == [60, 120, 180, 240, 300, 360, 420, 450, 480]
        assert _integral(after) == pytest.approx(_integral(original), rel=1e-12)
        assert _integral(after) == pytest.approx(after[-1].energy_j["gpu"], rel=1e-12)
        assert store.downsample("long", older_than_s=100, bucket_s=60) == 0  # idempotent


def test_downsample_of_a_short_run_does_nothing(store: Store) -> None:
    store.begin_run("r", "p", time.time(), {})
    store.append_samples("r", [SampleRow(time.time(), 5.0, None, {"cpu": 1.0}, {"cpu": 0.2})], {})
    assert store.downsample("r", older_than_s=3600, bucket_s=60) == 0
    with pytest.raises(InputConflictError):
        store.downsample("r", older_than_s=10, bucket_s=0)
