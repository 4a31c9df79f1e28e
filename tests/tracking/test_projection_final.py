"""The projection a run stores: the latest good one while it runs, none once it has finished (its actual totals
are the answer), and never one a bad ``progress()`` call made."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wattprint.errors import WattprintWarning
from wattprint.storage import open_store
from wattprint.tracking import track

from .conftest import PowerReader, measuring


def test_a_finished_run_stores_no_projection(tmp_path: Path) -> None:
    with track("p", "early", interval_s=0.05, readers=[PowerReader()], pue=1.0) as run:
        measuring(run)
        for step in range(1, 4):
            time.sleep(0.03)
            run.progress(step, 40)  # stopped early, at step 3 of 40
        assert run.summary()["projection"]["step"] == 3  # while it runs, the projection is there
    assert run.status == "finished"
    assert "projection" not in run.summary()
    stored = open_store(str(tmp_path / "runs.db")).get_run("early")
    assert stored.status == "finished" and "projection" not in stored.summary


def test_an_interrupted_run_keeps_its_last_projection_with_null_for_unbounded(tmp_path: Path) -> None:
    # before the first interval closes, the projection is unbounded above: null in the stored JSON
    run = track("p", "cut", interval_s=3600, readers=[PowerReader(power_w=200.0)], pue=1.0).start()
    time.sleep(0.05)
    run.progress(5, 10)
    run.stop("interrupted")
    stored = open_store(str(tmp_path / "runs.db")).get_run("cut").summary["projection"]
    assert stored["step"] == 5 and stored["projected_energy_kwh_high"] is None
    assert "no measured interval" in stored["method"]


def test_a_bad_progress_call_does_not_replace_the_last_good_projection(tmp_path: Path) -> None:
    run = track("p", "nan", interval_s=0.05, readers=[PowerReader()], pue=1.0).start()
    measuring(run)
    time.sleep(0.06)
    good = run.progress(4, 10)
    with pytest.warns(WattprintWarning, match="no projection made"):
        bad = run.progress(float("nan"), 10)
    assert bad.method.startswith("no projection:")  # the call itself still says why
    assert run.summary()["projection"]["step"] == 4
    assert run.summary()["projection"]["method"] == good.method
    run.stop("failed")
    stored = open_store(str(tmp_path / "runs.db")).get_run("nan").summary["projection"]
    assert stored["step"] == 4 and not stored["method"].startswith("no projection")
