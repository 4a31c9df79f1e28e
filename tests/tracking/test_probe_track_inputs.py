"""Findings of a bad-input probe of the tracker's API and `wattprint run`, each as the behaviour it now has: a bad
stop() status is a user error that stops nothing; track() checks its arguments' types as the estimators do; progress()
says what is wrong with a step; a grid intensity of 0 is a supply the tracker takes as the estimators do; a run id
taken in another project is refused before the devices are read (`wattprint run --json`: test_run_json_stdout.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from wattprint.cli import main
from wattprint.errors import InputConflictError, WattprintError, WattprintWarning
from wattprint.storage import open_store
from wattprint.tracking import track

from .conftest import PowerReader, measuring

WP = [sys.executable, "-m", "wattprint"]
J_PER_KWH = 3.6e6


def _wattprint_run(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WP, "run", *args], capture_output=True, text=True, timeout=120, **kw)


# -- 1: stop() with a bad status --------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["bogus", "", None, 1, ["finished"]])
def test_a_bad_stop_status_is_a_user_error_that_stops_nothing(tmp_path: Path, bad: object) -> None:
    """stop(status="bogus") raised a bare ValueError; the run must stay open and measuring, and a later stop()
    end it with everything measured (the window is still start to the good stop)."""
    db = tmp_path / "runs.db"
    cpu = PowerReader(power_w=100.0)
    run = measuring(track("p", "st", db=str(db), interval_s=0.05, readers=[cpu], pue=1.0, intensity=100.0,
                          quiet=True).start())
    with pytest.raises(InputConflictError, match="status must be one of finished, interrupted, failed"):
        run.stop(status=bad)  # type: ignore[arg-type]
    refused_at = time.monotonic()
    assert run.status == "running" and run.sampler is not None and run.sampler.running
    assert open_store(str(db), readonly=True).get_run("st").status == "running"
    with run.phase("after"):  # still usable
        time.sleep(0.15)
    fp = run.stop()
    rec = open_store(str(db), readonly=True).get_run("st")
    assert run.status == rec.status == "finished" and not run.unsaved
    # the energy of the whole window, from the first reading (before the refused stop) to the last one (at 100 W)
    assert 100.0 * (refused_at + 0.15 - cpu.reads[0]) <= rec.energy_j["cpu"] <= 100.0 * (cpu.reads[-1] - cpu.reads[0])
    assert fp.energy_by_component_kwh["cpu"].kwh.value * J_PER_KWH == pytest.approx(rec.energy_j["cpu"], rel=1e-6)
    assert "after" in rec.summary["phases"]


# -- 2: track()'s arguments -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kw", "said"), [
    ({"interval_s": "1"}, r"sampling interval \(s\) must be a number, got '1'"),
    ({"intensity": "400"}, r"grid intensity \(gCO2e/kWh\) must be a number, got '400'"),
    ({"intensity": ""}, "grid intensity .* must be a number, got ''"),
    ({"intensity": True}, "grid intensity .* must be a number, got True"),
    ({"persist": "no"}, "persist must be True or False, got 'no'"),
    ({"persist": 0}, "persist must be True or False, got 0"),
    ({"project": ""}, "project name is empty; give one, or leave it out"),
    ({"run": ""}, "run id is empty; give one, or leave it out"),
])
def test_track_refuses_arguments_of_the_wrong_type_when_it_is_called(tmp_path: Path, kw: dict[str, Any],
                                                                     said: str) -> None:
    """interval_s="1" and intensity="400" were read as numbers (estimate_* refuses text), persist="no" stored the run
    (truthy), and "" for a project or run id was read as not given (the CLI refuses --project '')."""
    with pytest.raises(InputConflictError, match=said):
        track(readers=[PowerReader()], quiet=True, **kw)
    assert not (tmp_path / "runs.db").exists()


def test_numpy_scalars_and_ints_still_pass_and_none_is_not_given() -> None:
    np = pytest.importorskip("numpy")
    with track(None, None, interval_s=np.float32(0.05), intensity=np.int64(300), pue=1,  # type: ignore[arg-type]
               readers=[PowerReader()], persist=False, quiet=True) as run:
        pass
    assert run.project == "default" and run.id.startswith("default-")
    assert run.interval_s == pytest.approx(0.05) and run.intensity.g_per_kwh.value == 300.0


# -- 2: progress() says what is wrong ---------------------------------------------------------------------------
@pytest.mark.parametrize(("step", "total", "said"), [
    ("5", 10, "step must be a number, not text: got '5'"),
    (5, "10", "total_steps must be a number, not text: got '10'"),
    (10**400, 10, r"step 1000.*\(401 characters\) is too large: it leaves the floating-point range"),
    (1, 10**400, r"total_steps 1000.*\(401 characters\) is too large"),
    (float("inf"), 10, "step must be a finite number >= 0"),
])
def test_progress_says_whether_a_step_is_not_a_number_or_too_large(step: object, total: object, said: str) -> None:
    """progress("5", 10) was taken silently (the estimators refuse text), and progress(10**400, 10) said "must be
    numbers" of a number too large for a float."""
    with track("p", interval_s=0.05, readers=[PowerReader()], persist=False, pue=1.0, quiet=True) as run:
        measuring(run)
        with pytest.warns(WattprintWarning, match=said):
            bad = run.progress(step, total)  # type: ignore[arg-type]
    assert bad.method.startswith("no projection:") and math.isinf(bad.energy_kwh.high)
    assert math.isnan(bad.step) if isinstance(step, str) else bad.step == step


# -- 3: a grid intensity of 0 -----------------------------------------------------------------------------------
def test_a_run_stored_with_intensity_0_has_no_operational_co2e_and_reads_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """track(intensity=0) and `wattprint run --intensity 0` were refused ("must be a finite number > 0") while
    estimate takes 0 (a zero-carbon supply as a what-if; market-based 0 exists)."""
    db = tmp_path / "runs.db"
    with track("p", "zero", db=str(db), interval_s=0.05, readers=[PowerReader(power_w=100.0)], pue=1.0, intensity=0,
               quiet=True) as run:
        measuring(run)
        with run.phase("train"):
            time.sleep(0.1)
        proj = run.progress(1, 2)
    fp = run.footprint()
    assert fp.intensity.g_per_kwh.value == 0.0 and fp.operational_co2e_kg.value == 0.0
    assert fp.total_co2e_kg.value == fp.embodied_co2e_kg.value > 0  # the hardware's share is still there
    assert proj.co2e_kg.low >= 0 and fp.table() and fp.to_dict(equivalents=True)["equivalents"]
    assert run.phase_footprints()["train"].operational_co2e_kg.value == 0.0
    rec = open_store(str(db), readonly=True).get_run("zero")
    assert rec.status == "finished" and rec.summary["intensity_g_per_kwh"] == 0.0
    assert rec.summary["operational_co2e_kg"] == 0.0 and rec.summary["total_co2e_kg"] > 0
    capsys.readouterr()
    assert main(["runs", "show", "zero", "--db", str(db)]) == 0
    assert "0 gCO2e/kWh (given)" in capsys.readouterr().out
    assert main(["runs", "export", "--db", str(db), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["intensity_g_per_kwh"] == 0.0
    assert main(["run", "--db", str(db), "--run", "cli-zero", "--intensity", "0", "--", "true"]) == 0
    assert open_store(str(db), readonly=True).get_run("cli-zero").summary["operational_co2e_kg"] == 0.0
    with pytest.raises(InputConflictError, match="must be a finite number >= 0, got -1"):
        track(intensity=-1, persist=False, readers=[PowerReader()]).start()


def test_an_intensity_of_0_from_the_environment_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTPRINT_INTENSITY", "0")
    with track(readers=[PowerReader()], persist=False, pue=1.0, quiet=True) as run:
        pass
    assert run.intensity.g_per_kwh.value == 0.0 and run.footprint().operational_co2e_kg.value == 0.0


# -- 5: a run id taken in another project -----------------------------------------------------------------------
def test_a_run_id_of_another_project_is_refused_before_the_devices_are_read(tmp_path: Path) -> None:
    """The error came third on stderr, after the device notes ("CPU power modelled...", "RAM power modelled...")."""
    db = str(tmp_path / "runs.db")
    assert _wattprint_run("--db", db, "--run", "abc-1", "--", "true").returncode == 0
    marker = tmp_path / "ran"
    r = _wattprint_run("--db", db, "--run", "abc-1", "--project", "other", "--", "touch", str(marker))
    assert r.returncode == 2 and not marker.exists()
    assert r.stderr.splitlines() == [
        "wattprint: error: run 'abc-1' already exists in project 'default', not 'other'; resume it with the same "
        "project or choose another run id"]
    assert open_store(db, readonly=True).get_run("abc-1").project == "default"


def test_the_api_refuses_it_before_the_devices_are_read_and_says_nothing_else(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    with track("p", "taken", db=db, readers=[PowerReader()], quiet=True):
        pass
    notes: list[str] = []
    run = track("q", "taken", db=db, notify=notes.append)  # the machine's own devices: their notes come at detection
    with pytest.raises(WattprintError, match="already exists in project 'p', not 'q'"):
        run.start()
    assert notes == [] and run.status == "new"


# -- 6: track()'s extra keywords ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("kw", "said"), [
    ({"meta": [1]}, r"meta \(extra JSON stored with the run\) must be a mapping, e.g. \{'lr': 3e-4\}, got \[1\]"),
    ({"meta": {(1, 2): 3}}, r"meta's keys must be text \(as JSON's are\), got \(1, 2\)"),
    ({"notify": 5}, r"notify must be a function that takes each one-line note .*, got 5"),
    ({"readers": 5}, r"readers must be a list of device readers \(objects with a read\(\) method.*, got 5"),
    ({"readers": [5]}, r"readers must be a list of device readers .*; 5 has no read\(\)"),
    ({"readers": iter([PowerReader()])}, "readers must be a list of device readers"),  # a check would use it up
    ({"pid": "x"}, r"pid \(whose process tree the run is attributed\) must be a process id, a whole number, got 'x'"),
    ({"pid": True}, "pid .* must be a process id, a whole number, got True"),
    ({"pid": 1.0}, "pid .* must be a process id, a whole number, got 1.0"),
    ({"pid": 0}, r"pid must be a process id \(> 0\), got 0"),
    ({"pid": 2**64}, f"pid {2**64} names no running process"),
    ({"handle_signals": "no"}, "handle_signals must be True or False, got 'no'"),
    ({"handle_signals": None}, "handle_signals must be True or False, got None"),
    ({"quiet": "no"}, "quiet must be True or False, got 'no'"),
    ({"quiet": 1}, "quiet must be True or False, got 1"),
    ({"state_dir": 5}, r"state_dir \(the node ledger folder\) must be a path, got 5"),
    ({"state_dir": ""}, r"state_dir \(the node ledger folder\) must be a path, got ''"),
    ({"ledger": "x"}, "ledger must be a wattprint.tracking.ledger.Ledger, got 'x'"),
])
def test_track_refuses_extra_keywords_of_the_wrong_type_before_anything_is_stored(
        tmp_path: Path, kw: dict[str, Any], said: str) -> None:
    """Each failed later with a raw Python error (``meta=[1]``: "cannot convert dictionary update sequence element";
    ``notify=5``: "'int' object is not callable" at the first note; ``state_dir=5`` after the run's record was written,
    leaving a junk 'failed' run), or was read as true (``quiet="no"``): now a one-line error naming the keyword and
    what it takes, from track() itself, with no store made."""
    args: dict[str, Any] = {"readers": [PowerReader()], "quiet": True, **kw}
    with pytest.raises(InputConflictError, match=said) as e:
        track("p", "r", **args)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "runs.db").exists()


def test_extra_keywords_of_the_right_type_are_taken(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    import os

    notes: list[str] = []
    for kw in ({"pid": os.getpid(), "state_dir": tmp_path / "ledger", "readers": (PowerReader(),)},
               {"pid": np.int64(os.getpid()), "state_dir": str(tmp_path / "ledger"), "readers": [PowerReader()]}):
        with track("p", interval_s=0.05, handle_signals=False, quiet=False, notify=notes.append, meta={"lr": 3e-4},
                   **kw) as run:
            pass
        rec = open_store(str(tmp_path / "runs.db"), readonly=True).get_run(run.id)
        assert rec.status == "finished" and rec.meta["lr"] == 3e-4 and rec.meta["pid"] == os.getpid()


# -- 7: the tracker's own meta keys ---------------------------------------------------------------------------------
@pytest.mark.parametrize("meta", [{"wattprint_version": "fake"}, {"pid": 1, "pid_start": 0, "host": "other"},
                                  {"lr": 1e-3, "resumed": 0}, {"earlier": {}}])
def test_a_meta_key_the_tracker_stores_itself_is_refused(tmp_path: Path, meta: dict[str, Any]) -> None:
    """``meta={'wattprint_version': 'fake'}`` was stored as the version that measured the run, and ``meta={'pid': 1,
    'pid_start': 0, 'host': 'other'}`` made a killed run list as 'running' (its writer unknowable), not 'running*'."""
    with pytest.raises(InputConflictError) as e:
        track("p", "r", readers=[PowerReader()], quiet=True, meta=meta)
    said = str(e.value)
    taken = [k for k in meta if k != "lr"]
    assert said.startswith(f"meta {', '.join(map(repr, taken))}: ") and "the tracker stores itself" in said, said
    assert "reserved keys are pid, pid_start, host," in said and "'lr'" not in said and "\n" not in said
    assert not (tmp_path / "runs.db").exists()


def test_every_meta_key_the_tracker_and_the_store_write_is_reserved(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The reserved keys are those a stored run's meta holds of wattprint's own: a run's (with torch's versions) and a
    resumed run's (resumed, resumed_at, status_before_resume, earlier); a user's keys beside them."""
    import types

    from wattprint.tracking.record import RESERVED_META_KEYS

    torch = types.ModuleType("torch")
    torch.__version__ = "2.9.0"  # type: ignore[attr-defined]
    torch.version = types.SimpleNamespace(cuda="12.8")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    db = str(tmp_path / "runs.db")
    for interval in (0.05, 0.1):  # the second resumes the run, with a meta value that changed (earlier)
        with track("p", "again", db=db, interval_s=interval, readers=[PowerReader()], quiet=True, meta={"lr": 1}):
            pass
    meta = open_store(db, readonly=True).get_run("again").meta
    assert {"torch_version", "resumed", "earlier", "pid_start"} <= set(meta)
    assert set(meta) - {"lr"} <= set(RESERVED_META_KEYS), set(meta) - set(RESERVED_META_KEYS)
