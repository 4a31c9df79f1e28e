"""A store file deleted or replaced while a run writes to it: SQLite writes on to the file it has open, which the
path no longer names. The end of the run notices, keeps the whole run beside the store (as a run a locked store
refused is kept), says where instead of "stored in", and the next opening of the path to write stores it whole.
Real SQLite files; `wattprint run` in a real subprocess whose command deletes the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattprint.storage import open_store

from .conftest import measuring, steady_run


def _remove_store(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


@pytest.mark.parametrize("final_write_fails", [False, True])
def test_a_store_deleted_during_a_run_keeps_the_whole_run_beside_it(tmp_path: Path, final_write_fails: bool) -> None:
    db = tmp_path / "runs.db"
    notes: list[str] = []
    run = measuring(steady_run("mv", "del1", db, 0.1, notes))
    time.sleep(0.2)
    _remove_store(db)
    time.sleep(0.3)  # interval writes go on, to the deleted file
    if final_write_fails:  # the final write fails too: what it held is kept with the rest
        run.store._connection().execute(
            "CREATE TEMP TRIGGER fail_at_end BEFORE UPDATE OF status ON runs WHEN NEW.status = 'finished' "
            "BEGIN SELECT RAISE(ABORT, 'refused (test)'); END")
    fp = run.stop()
    measured = run.sampler.snapshot.samples  # type: ignore[union-attr]
    assert not db.exists()
    # before: not unsaved, no kept_in, no note: the measurement was in a file no longer reachable
    assert run.unsaved and run.kept_in is not None and Path(run.kept_in).is_file(), notes
    said = [n for n in notes if "was deleted while the run was measured" in n]
    assert said and run.kept_in in said[0] and "the whole run" in said[0], notes
    with open_store(str(db)) as store:  # the next opening to write (a new store at the path) stores it whole
        assert store.recovered == ["del1"]
        rec, n = store.get_run("del1"), store.sample_count("del1")
    assert rec.status == "finished" and n == measured, (rec.status, n, measured)
    assert fp.wall_time_h is not None
    assert rec.duration_s == pytest.approx(fp.wall_time_h.value * 3600, abs=0.01)
    assert rec.energy_j["cpu"] == pytest.approx(run.sampler.snapshot.charged_j["cpu"][0])  # type: ignore[union-attr]
    assert "device_notes" in rec.summary and rec.meta.get("pid") == os.getpid()
    assert not Path(run.kept_in).exists()


def test_a_store_replaced_during_a_run_gets_the_run_at_its_next_opening(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    other = tmp_path / "other.db"
    with open_store(str(other)) as s:  # another store, put in its place
        s.begin_run("theirs", "mv", time.time(), {})
    notes: list[str] = []
    run = measuring(steady_run("mv", "rep1", db, 0.1, notes))
    os.replace(other, db)
    Path(f"{db}-wal").unlink(missing_ok=True)
    Path(f"{db}-shm").unlink(missing_ok=True)
    run.stop()
    assert run.unsaved and run.kept_in is not None, notes
    assert any("was replaced while the run was measured" in n and run.kept_in in n for n in notes), notes
    with open_store(str(db)) as store:
        assert store.recovered == ["rep1"]
        assert store.get_run("rep1").status == "finished"
        assert store.sample_count("rep1") == run.sampler.snapshot.samples  # type: ignore[union-attr]
        assert store.get_run("theirs").status == "running"  # the other store's run is as it was


def test_when_the_run_of_a_deleted_store_cannot_be_kept_either_the_note_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "runs.db"
    notes: list[str] = []
    run = measuring(steady_run("mv", "del2", db, 0.1, notes))
    _remove_store(db)
    Path(f"{db}.unsaved").write_text("in the way\n", encoding="utf-8")  # the spill folder cannot be made
    (tmp_path / "xdg-state").mkdir()
    (tmp_path / "xdg-state" / "wattprint").write_text("in the way\n", encoding="utf-8")  # nor the fallback one
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    run.stop()
    assert run.unsaved and run.kept_in is None
    said = [n for n in notes if "was deleted while the run was measured" in n]
    assert said and "keeping it in a file failed too (OSError: beside the store: " in said[0], notes
    assert "the figures are only in this report" in said[0]


def test_where_the_folder_beside_the_store_cannot_be_made_the_run_waits_in_the_fallback_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only folder or a full scratch disk: before, the figures were only printed; now the run waits under
    XDG_STATE_HOME and the store's next opening to write stores it, and empties that folder."""
    from wattprint.storage.url import fallback_spill_dir

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    db = tmp_path / "runs.db"
    notes: list[str] = []
    run = measuring(steady_run("mv", "del3", db, 0.1, notes))
    _remove_store(db)
    Path(f"{db}.unsaved").write_text("in the way\n", encoding="utf-8")  # the spill folder cannot be made
    run.stop()
    kept = run.kept_in
    assert run.unsaved and kept is not None and Path(kept).parent == Path(fallback_spill_dir(str(db))), notes
    assert Path(kept).is_relative_to(tmp_path / "xdg-state" / "wattprint" / "unsaved")
    assert any(kept in n for n in notes), notes
    doc = json.loads(Path(kept).read_text(encoding="utf-8"))
    assert doc["store"] == str(db) and doc["run_id"] == "del3"
    Path(f"{db}.unsaved").unlink()
    with open_store(str(db)) as store:
        assert store.recovered == ["del3"]
        assert store.get_run("del3").status == "finished"
        assert store.sample_count("del3") == run.sampler.snapshot.samples  # type: ignore[union-attr]
    assert not Path(kept).exists() and not Path(fallback_spill_dir(str(db))).exists()
    assert not (tmp_path / "xdg-state" / "wattprint" / "unsaved").exists()  # an opening then looks no further


def test_a_store_that_stays_put_is_stored_as_before(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    notes: list[str] = []
    run = measuring(steady_run("mv", "stay1", db, 0.1, notes))
    run.stop()
    assert not run.unsaved and run.kept_in is None, notes
    assert not Path(f"{db}.unsaved").exists()


# the command deletes the store while `wattprint run` measures it
DELETE_THE_STORE = ("import os, sys, time; time.sleep(0.6); "
                    "[os.remove(sys.argv[1] + s) for s in ('', '-wal', '-shm') if os.path.exists(sys.argv[1] + s)]; "
                    "time.sleep(0.6)")


@pytest.mark.parametrize("as_json", [False, True])
def test_wattprint_run_says_where_the_run_of_a_deleted_store_is_kept(tmp_path: Path, as_json: bool) -> None:
    db = tmp_path / "d.db"
    p = subprocess.run([sys.executable, "-m", "wattprint", "run", "--db", str(db), "--run", "r1", "--interval", "0.2",
                        *(["--json"] if as_json else []), "--", sys.executable, "-c", DELETE_THE_STORE, str(db)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert not db.exists()
    kept = next((tmp_path / "d.db.unsaved").glob("r1.*.json"))
    assert "was deleted while the run was measured" in p.stderr and str(kept) in p.stderr, p.stderr
    if as_json:
        out = json.loads(p.stdout.strip().splitlines()[-1])
        assert out["stored"] is False and out["kept_in"] == str(kept)
    else:  # before: "run r1 (finished, exit 0) ... stored in .../d.db"
        assert f", stored in {db}" not in p.stderr and f", kept in {kept} (NOT stored in {db}" in p.stderr, p.stderr
    with open_store(str(db)) as store:
        assert store.recovered == ["r1"]
        rec = store.get_run("r1")
        assert rec.status == "finished" and rec.duration_s >= 1.2 and store.sample_count("r1") >= 5
