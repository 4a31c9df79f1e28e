"""The projection as a store reader sees it while the run goes on: with every interval's figures (not only the full
summary written every 30 s), with the step and run time it was made at, and in ``runs show``'s text for a run not
finished."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from wattprint.cli import main
from wattprint.storage import open_store
from wattprint.tracking import Run, track

from .conftest import PowerReader, measuring, wait_for


def stored_projection(db: Path, run_id: str) -> dict[str, Any] | None:
    summary = open_store(str(db)).get_run(run_id).summary
    p = summary.get("projection") if isinstance(summary, dict) else None
    return p if isinstance(p, dict) else None


def started(run_id: str, db: Path) -> Run:
    """A run whose first interval's write, a full summary, is stored before any progress() call."""
    run = track("p", run_id, interval_s=0.05, readers=[PowerReader(power_w=200.0)], pue=1.0).start()
    measuring(run)
    assert wait_for(lambda: open_store(str(db)).get_run(run_id).summary.get("energy_kwh") is not None)
    return run


def test_each_interval_stores_the_latest_projection_with_its_step_and_time(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run = started("live", db)
    try:
        for step in range(1, 9):
            time.sleep(0.03)
            latest = run.progress(step, 100)
        # the next interval's figures carry it: a full summary comes only every 30 s
        assert wait_for(lambda: (stored_projection(db, "live") or {}).get("step") == 8)
        stored = stored_projection(db, "live")
        assert stored is not None
        assert stored["total_steps"] == 100 and stored["windows"] == latest.windows
        made = latest.to_dict()["made_at_elapsed_s"]
        assert stored["made_at_elapsed_s"] == pytest.approx(made)
        assert 0 < made <= open_store(str(db)).get_run("live").duration_s + 1e-6
        for key in ("projected_energy_kwh", "projected_co2e_kg"):
            for end in ("", "_low", "_high"):
                assert stored[key + end] == pytest.approx(latest.to_dict()[key + end]), key + end
        assert stored["method"] == latest.method
    finally:
        run.stop("interrupted")


def test_a_live_projection_without_a_central_value_is_stored_as_its_range(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run = started("first", db)
    try:
        first = run.progress(1, 100)  # one observation: no central value, a range
        assert wait_for(lambda: (stored_projection(db, "first") or {}).get("step") == 1)
        stored = stored_projection(db, "first")
        assert stored is not None and stored.get("projected_energy_kwh") is None  # null, or left out by the patch
        assert stored.get("projected_co2e_kg") is None
        assert stored["projected_energy_kwh_low"] == pytest.approx(first.energy_kwh.low)
        assert stored["projected_energy_kwh_high"] == pytest.approx(first.energy_kwh.high)
    finally:
        run.stop("interrupted")


def show(db: Path, run_id: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["runs", "show", run_id, "--db", str(db)]) == 0
    return capsys.readouterr().out


def test_runs_show_says_the_projection_of_a_run_not_finished_and_none_once_finished(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    run = track("p", "cut", interval_s=0.05, readers=[PowerReader(power_w=200.0)], pue=1.0).start()
    measuring(run)
    for step in range(1, 6):
        time.sleep(0.03)
        run.progress(step, 40)
    run.stop("interrupted")  # kept: what the whole training was heading for
    stored = stored_projection(db, "cut")
    assert stored is not None and stored["step"] == 5
    text = show(db, "cut", capsys)
    line = next((x for x in text.splitlines() if "projected final" in x), None)
    assert line is not None, text
    assert "at step 5 of 40" in line and "kWh facility" in line and "kg CO2e" in line and " to " in line

    with track("p", "done", interval_s=0.05, readers=[PowerReader()], pue=1.0) as done:
        measuring(done)
        time.sleep(0.06)
        done.progress(3, 40)
    assert "projected final" not in show(db, "done", capsys)


def test_runs_show_says_the_projection_of_a_running_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    run = track("p", "going", interval_s=0.05, readers=[PowerReader(power_w=200.0)], pue=1.0).start()
    try:
        measuring(run)
        for step in range(1, 6):
            time.sleep(0.03)
            run.progress(step, 40)
        # the first full summary may have come before these calls: wait for an interval's figures with it
        assert wait_for(lambda: (stored_projection(db, "going") or {}).get("step") == 5)
        text = show(db, "going", capsys)
        assert "running" in text and "at step 5 of 40" in text
    finally:
        run.stop("interrupted")


def test_runs_show_gives_only_the_range_of_a_projection_without_a_central_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    run = track("p", "early", interval_s=3600, readers=[PowerReader(power_w=200.0)], pue=1.0).start()
    time.sleep(0.05)
    run.progress(5, 10)  # before the first interval has closed: from the energy so far, unbounded above
    run.stop("failed")
    line = next(x for x in show(db, "early", capsys).splitlines() if "projected final" in x)
    assert "kWh or more" in line and "no central value yet" in line and "at step 5 of 10" in line
