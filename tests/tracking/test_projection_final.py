"""The projection a run stores: the latest good one while it runs, none once it has finished (its actual totals
are the answer; every reader gives ``projection`` null then, as for a run with no ``progress()`` call), and never
one a bad ``progress()`` call made."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from wattprint.cli import main
from wattprint.errors import WattprintWarning
from wattprint.storage import open_store
from wattprint.tracking import track
from wattprint.tracking.record import stored_run_dict

from .conftest import PowerReader, measuring


def test_a_finished_run_stores_no_projection(tmp_path: Path) -> None:
    with track("p", "early", interval_s=0.05, readers=[PowerReader()], pue=1.0) as run:
        measuring(run)
        for step in range(1, 4):
            time.sleep(0.03)
            run.progress(step, 40)  # stopped early, at step 3 of 40
        assert run.summary()["projection"]["step"] == 3  # while it runs, the projection is there
    assert run.status == "finished"
    assert "projection" in run.summary() and run.summary()["projection"] is None  # read as null: see below
    stored = open_store(str(tmp_path / "runs.db")).get_run("early")
    assert stored.status == "finished" and "projection" not in stored.summary


def read_back(db: Path, run_id: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The run as every stored reader gives it: ``stored_run_dict``, ``runs show --json``, ``runs list --json``."""
    with open_store(str(db), readonly=True) as store:
        direct = stored_run_dict(store, store.get_run(run_id))
    assert main(["runs", "show", run_id, "--json", "--db", str(db)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert main(["runs", "list", "--json", "--db", str(db)]) == 0
    listed = next(r for r in json.loads(capsys.readouterr().out) if r["id"] == run_id)
    return [direct, shown, listed]


def test_a_run_without_a_projection_reads_back_with_projection_null(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # one schema for every run: a finished run (its actual totals are the answer) and one that never called
    # progress() have "projection": null, where an open or interrupted run has the projection's fields
    db = tmp_path / "runs.db"
    with track("p", "done", interval_s=0.05, readers=[PowerReader()], pue=1.0) as done:
        measuring(done)
        time.sleep(0.06)
        done.progress(3, 40)
    none = track("p", "none", interval_s=0.05, readers=[PowerReader()], pue=1.0).start()
    measuring(none)
    assert "projection" in none.summary() and none.summary()["projection"] is None  # running, no progress() yet
    none.stop("interrupted")
    cut = track("p", "cut", interval_s=0.05, readers=[PowerReader()], pue=1.0).start()
    measuring(cut)
    cut.progress(0, 10)
    cut.stop("interrupted")
    for run_id in ("done", "none"):
        for d in read_back(db, run_id, capsys):
            assert "projection" in d and d["projection"] is None, run_id
    for d in read_back(db, "cut", capsys):
        assert isinstance(d["projection"], dict) and d["projection"]["step"] == 0
    with open_store(str(db), readonly=True) as store:  # what is stored is unchanged: no key, not a null
        assert not {"projection"} & {*store.get_run("done").summary, *store.get_run("none").summary}


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
