"""A store another process holds write-locked at the start or at the end of a run: stop() waits no longer than its
own bound, the note names the lock and tells what was stored, a run's record is never stored without its samples,
and start() waits for the lock once. Real SQLite files; the lock is a second connection's BEGIN IMMEDIATE (another
writer's long transaction); every wait is bounded, so a regression fails instead of hanging."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wattprint.errors import UnknownNameError
from wattprint.storage import open_store
from wattprint.tracking import track

from .conftest import PowerReader, steady_run, wait_for

# `wattprint run` in a process of its own, with stop()'s grace (normally 30 s) shortened to argv[1] seconds
CLI_WITH_GRACE = ("import sys, wattprint.tracking.run as r; r.STOP_GRACE_S = float(sys.argv[1]); "
                  "from wattprint.cli import main; sys.exit(main(sys.argv[2:]))")


def _hold_write_lock(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(db), isolation_level=None, timeout=0, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")
    return con


def _release_after(con: sqlite3.Connection, seconds: float) -> threading.Timer:
    def release() -> None:
        con.execute("COMMIT")
        con.close()

    timer = threading.Timer(seconds, release)
    timer.start()
    return timer


def _stored(db: Path, run_id: str) -> tuple[object, int]:
    with open_store(str(db), readonly=True) as store:
        return store.get_run(run_id), store.sample_count(run_id)


# -- 1: locked from the start to past the end ---------------------------------------------------------------------
def test_wattprint_run_on_a_store_locked_throughout_ends_within_its_bound_and_stores_no_empty_record(
        tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    open_store(str(db)).close()
    con = _hold_write_lock(db)
    timer = _release_after(con, 10.0)  # long past the run's end and stop()'s 2 s grace
    try:
        t0 = time.monotonic()
        p = subprocess.run(
            [sys.executable, "-c", CLI_WITH_GRACE, "2", "run", "--db", str(db), "--run", "lockB", "--interval", "0.2",
             "--json", "--", sys.executable, "-c", "import time; time.sleep(1)"],
            capture_output=True, text=True, timeout=90)
        took = time.monotonic() - t0
    finally:
        timer.join(15)
    assert p.returncode == 0, p.stderr
    # before: stop() gave up after 2.2 s, then closing the store waited for the lock (10 s)
    assert took < 7.5, (took, p.stderr)
    err = p.stderr
    assert "stayed locked by another process" in err and "record and samples are kept in" in err, err
    assert "device read hung" not in err and "Traceback" not in err, err
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["stored"] is False and out["status"] == "finished" and Path(out["kept_in"]).is_file()
    # the times are the measurement's, not the report's (which came after stop()'s wait for the store)
    from datetime import datetime
    span = (datetime.fromisoformat(out["ended_at"]) - datetime.fromisoformat(out["started_at"])).total_seconds()
    assert span == pytest.approx(out["duration_s"], abs=0.5), out
    time.sleep(0.5)
    # the store is free again: no record appears by itself, and certainly no "running" one without samples ...
    with pytest.raises(UnknownNameError):
        _stored(db, "lockB")
    # ... `wattprint runs list` says the run waits beside the store, and the next process to open it to write
    # stores it whole: record, samples and end, as if the store had never been locked
    listed = subprocess.run([sys.executable, "-m", "wattprint", "runs", "list", "--db", str(db)],
                            capture_output=True, text=True, timeout=60)
    assert "1 run(s) wait in" in listed.stderr, listed.stderr
    with open_store(str(db)) as store:
        assert store.recovered == ["lockB"]
    rec, n = _stored(db, "lockB")
    assert rec.status == "finished" and n >= 3  # type: ignore[attr-defined]
    assert rec.duration_s == pytest.approx(out["duration_s"], abs=0.3)  # type: ignore[attr-defined]
    assert not Path(out["kept_in"]).exists() and not Path(str(db) + ".unsaved").exists()
    with open_store(str(db)) as store:  # never written twice
        assert store.recovered == [] and store.sample_count("lockB") == n


# -- 1: locked at the end of a run whose record was written -------------------------------------------------------
def test_a_store_locked_past_stops_bound_ends_stop_in_time_and_the_note_matches_the_stored_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wattprint.tracking.run as run_mod

    monkeypatch.setattr(run_mod, "STOP_GRACE_S", 1.0)  # stop() waits one interval + this (the store's wait is 60 s)
    db = tmp_path / "runs.db"
    notes: list[str] = []
    run = steady_run("lk", "end1", db, 0.2, notes)
    time.sleep(0.7)
    con = _hold_write_lock(db)
    timer = _release_after(con, 4.0)
    try:
        time.sleep(0.4)
        t0 = time.monotonic()
        fp = run.stop()
        took = time.monotonic() - t0
    finally:
        timer.join(10)
    time.sleep(0.6)  # the store is free: a write still pending anywhere would land now
    rec, n = _stored(db, "end1")
    assert took < 2.2, (took, notes)  # before: until the lock went (~3.6 s), closing the store behind a 60 s wait
    assert run.unsaved
    said = [x for x in notes if "stayed locked by another process" in x]
    assert said and "last samples are kept in" in said[0], notes
    assert not any("device read hung" in x or "did not finish" in x for x in notes), notes
    # what the store holds until its next opening: left running, its figures ending before the lock
    assert rec.status == "running"  # type: ignore[attr-defined]
    assert fp.wall_time_h is not None
    assert 0.3 < rec.duration_s < fp.wall_time_h.value * 3600 - 0.2  # type: ignore[attr-defined]
    assert 0 < n < run.sampler.snapshot.samples  # type: ignore[union-attr]
    # the next opening to write stores the rest: the run ends finished with all its samples and its energy
    with open_store(str(db)) as store:
        assert store.recovered == ["end1"]
    rec, n = _stored(db, "end1")
    assert rec.status == "finished" and n == run.sampler.snapshot.samples  # type: ignore[attr-defined,union-attr]
    assert rec.duration_s == pytest.approx(fp.wall_time_h.value * 3600, abs=0.3)  # type: ignore[attr-defined]


def test_a_lock_of_a_few_seconds_at_the_end_still_stores_everything(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    notes: list[str] = []
    run = steady_run("lk", "short1", db, 0.2, notes)
    time.sleep(0.5)
    con = _hold_write_lock(db)
    timer = _release_after(con, 2.5)
    try:
        t0 = time.monotonic()
        fp = run.stop()
        took = time.monotonic() - t0
    finally:
        timer.join(10)
    assert took < 5.0
    assert not run.unsaved, notes
    rec, n = _stored(db, "short1")
    assert rec.status == "finished"  # type: ignore[attr-defined]
    assert n == run.sampler.snapshot.samples  # type: ignore[union-attr]
    assert fp.wall_time_h is not None
    assert rec.duration_s == pytest.approx(fp.wall_time_h.value * 3600, abs=0.01)  # type: ignore[attr-defined]


# -- 1a: the record waiting for a locked store is written with its samples, or not at all ---------------------------
def test_a_pending_record_is_never_stored_without_its_samples(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    open_store(str(db)).close()
    setup = sqlite3.connect(str(db), isolation_level=None, timeout=10)
    # the samples of this run are refused (a disk error, say) while the record itself could be written
    setup.execute("CREATE TRIGGER refuse_atom BEFORE INSERT ON samples WHEN NEW.run_id = 'atom1' "
                  "BEGIN SELECT RAISE(ABORT, 'samples refused (test)'); END")
    con = _hold_write_lock(db)
    notes: list[str] = []
    try:
        run = track("lk", "atom1", db=str(db), interval_s=0.1, readers=[PowerReader("cpu", power_w=100.0)],
                    pue=1.0, notify=notes.append).start()
        assert run._pending is not None  # measuring while the record waits
        time.sleep(0.3)
    finally:
        con.execute("COMMIT")
        con.close()
    try:
        time.sleep(0.6)  # several writes got through the lock: each wrote the record, and its samples failed
        with pytest.raises(UnknownNameError):  # before: the record was committed on its own, with no samples
            _stored(db, "atom1")
    finally:
        setup.execute("DROP TRIGGER refuse_atom")
        setup.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            rec, n = _stored(db, "atom1")
            break
        except UnknownNameError:
            time.sleep(0.05)
    else:
        pytest.fail("the run was not written once its samples could be")
    assert rec.status == "running" and n > 0  # type: ignore[attr-defined]
    fp = run.stop()
    rec, n = _stored(db, "atom1")
    assert not run.unsaved and rec.status == "finished"  # type: ignore[attr-defined]
    assert n == run.sampler.snapshot.samples  # type: ignore[union-attr]
    assert fp.wall_time_h is not None
    assert rec.duration_s == pytest.approx(fp.wall_time_h.value * 3600, abs=0.01)  # type: ignore[attr-defined]


# -- 2: a store locked at start holds start() up once ---------------------------------------------------------------
def test_a_store_locked_at_start_holds_start_up_once_and_the_record_gets_its_full_summary(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    open_store(str(db)).close()
    con = _hold_write_lock(db)
    try:
        t0 = time.monotonic()
        # a write waits half an interval (0.5 s) for the lock: before, start() waited for it twice
        run = track("lk", "st1", db=str(db), interval_s=1.0, readers=[PowerReader("cpu", power_w=100.0)], pue=1.0,
                    quiet=True).start()
        took = time.monotonic() - t0
    finally:
        con.execute("COMMIT")
        con.close()
    assert 0.4 < took < 0.85, took
    deadline = time.monotonic() + 5
    rec = None
    while time.monotonic() < deadline:
        try:
            rec, _ = _stored(db, "st1")
            break
        except UnknownNameError:
            time.sleep(0.05)
    assert rec is not None, "the run was not written once the store was free"
    # the first write carries the full summary (settings, notes), not only the figures
    assert "charged_scope" in rec.summary and "device_notes" in rec.summary  # type: ignore[attr-defined]
    run.stop()
    rec, n = _stored(db, "st1")
    assert rec.status == "finished" and n == run.sampler.snapshot.samples  # type: ignore[attr-defined,union-attr]


# -- 1b: a final write that does not return within stop()'s bound (a store too slow to answer) ---------------------
@pytest.mark.parametrize("gets_through", [False, True])
def test_a_final_write_still_in_progress_when_stop_gives_up_is_spilled_and_stored_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gets_through: bool) -> None:
    """The process may exit before a hung final write returns: what it holds is spilled when stop() gives up, and
    the next opening stores it (the write failed) or drops it unused (the write got through after all)."""
    import wattprint.tracking.run as run_mod

    monkeypatch.setattr(run_mod, "STOP_GRACE_S", 0.6)
    db = tmp_path / "runs.db"
    notes: list[str] = []
    run = steady_run("slow", "slow1", db, 0.1, notes)
    time.sleep(0.4)
    release = threading.Event()

    def hang() -> int:  # inside SQLite, in the final write's transaction: a store that does not answer
        release.wait(10)
        if not gets_through:
            raise RuntimeError("the disk went away (test)")
        return 0

    con = run.store._connection()  # the run's own connection: the trigger fires only in its final write
    con.create_function("hang", 0, hang)
    con.execute("CREATE TEMP TRIGGER hang_at_end BEFORE UPDATE OF status ON runs "
                "WHEN NEW.status = 'finished' BEGIN SELECT hang(); END")
    t0 = time.monotonic()
    fp = run.stop()
    took = time.monotonic() - t0
    assert took < 3.0, (took, notes)
    said = [x for x in notes if "did not finish within" in x]
    assert said and run.kept_in is not None and run.kept_in in said[0], notes
    assert Path(run.kept_in).is_file()
    measured = run.sampler.snapshot.samples  # type: ignore[union-attr]
    release.set()
    assert wait_for(lambda: not run.sampler.running, 5.0)  # type: ignore[union-attr]
    with open_store(str(db)) as store:
        assert store.recovered == ([] if gets_through else ["slow1"])
    rec, n = _stored(db, "slow1")
    assert rec.status == "finished" and n == measured  # type: ignore[attr-defined]
    assert fp.wall_time_h is not None
    assert rec.duration_s == pytest.approx(fp.wall_time_h.value * 3600, abs=0.3)  # type: ignore[attr-defined]
    assert not Path(run.kept_in).exists()
    with open_store(str(db)) as store:  # never written twice
        assert store.recovered == [] and store.sample_count("slow1") == n


# -- 1c: the run id taken by another process while the store was locked ---------------------------------------------
def _insert_run_while_locked(con: sqlite3.Connection, run_id: str) -> None:
    """Another process's run of this id, written in the transaction that holds the lock (so before ours can be)."""
    now = time.time()
    con.execute("INSERT INTO runs (id, project, status, started_at, ended_at, duration_s, energy_j, meta, summary, "
                "updated_at) VALUES (?, 'lk', 'finished', ?, ?, 5, '{\"cpu\": 500}', '{}', '{}', ?)",
                (run_id, now - 10, now - 5, now))


def test_a_run_whose_id_was_taken_while_the_store_was_locked_is_stored_under_an_id_of_its_own(
        tmp_path: Path) -> None:
    """Two `wattprint run --run same` start while the store is locked: the one that loses the id was told "the
    store stayed locked" and kept its figures in a spill file that no opening ever wrote. Now it is stored under
    a new id, said in a note and in the report."""
    db = tmp_path / "runs.db"
    open_store(str(db)).close()
    con = _hold_write_lock(db)
    notes: list[str] = []
    try:
        run = steady_run("lk", "same", db, 0.1, notes)
        _insert_run_while_locked(con, "same")
    finally:
        con.execute("COMMIT")
        con.close()
    time.sleep(0.4)
    fp = run.stop()
    assert not run.unsaved and run.kept_in is None, notes
    assert run.id != "same" and run.id.startswith("same-"), run.id
    said = [x for x in notes if "stored as" in x]
    assert said and run.id in said[0] and "another process started a run with this id" in said[0], notes
    assert "choose another run id" not in said[0]  # advice for a refused run, not for one stored under a new id
    assert not any("stayed locked" in x for x in notes), notes
    other, _ = _stored(db, "same")
    ours, n = _stored(db, run.id)
    assert other.energy_j == {"cpu": 500.0} and other.duration_s == 5  # type: ignore[attr-defined]
    assert ours.status == "finished" and n == run.sampler.snapshot.samples  # type: ignore[attr-defined,union-attr]
    assert ours.summary["run_id"] == run.id  # type: ignore[attr-defined]
    assert run.summary()["run_id"] == run.id and fp.energy_kwh.value > 0


def test_a_spilled_run_whose_id_was_taken_meanwhile_is_recovered_under_an_id_of_its_own(tmp_path: Path) -> None:
    from wattprint.storage import SampleRow
    from wattprint.storage.records import renamed_run_id
    from wattprint.storage.spill import spill_run

    db = tmp_path / "runs.db"
    with open_store(str(db)) as store:
        store.begin_run("same", "lk", time.time() - 100, {})  # another process's, started before ours
        store.finish_run("same", "finished", None)
    started = time.time() - 20
    rows = [SampleRow(started + i, float(i), None, {"cpu": 100.0 * i}, {"cpu": 100.0}) for i in range(1, 6)]
    spill_run(str(db), "same", record={"project": "lk", "started_at": started, "meta": {}}, samples=rows, phases=[],
              summary={}, patch=None, status="finished", ended_at=started + 5)
    with open_store(str(db)) as store:  # before: "left" for ever, and listed as waiting at every opening
        assert store.recovered == [renamed_run_id("same", started)]
    ours, n = _stored(db, renamed_run_id("same", started))
    assert ours.status == "finished" and n == 5  # type: ignore[attr-defined]
    assert _stored(db, "same")[1] == 0  # the other run is left as it was
    assert not Path(str(db) + ".unsaved").exists()


def test_when_the_spill_file_cannot_be_written_either_the_note_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wattprint.tracking.run as run_mod

    monkeypatch.setattr(run_mod, "STOP_GRACE_S", 1.0)
    db = tmp_path / "runs.db"
    notes: list[str] = []
    run = steady_run("lk", "end2", db, 0.2, notes)
    time.sleep(0.7)
    Path(str(db) + ".unsaved").write_text("in the way\n", encoding="utf-8")  # the spill folder cannot be made
    (tmp_path / "xdg-state").mkdir()
    (tmp_path / "xdg-state" / "wattprint").write_text("in the way\n", encoding="utf-8")  # nor the fallback one
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    con = _hold_write_lock(db)
    timer = _release_after(con, 4.0)
    try:
        time.sleep(0.4)
        run.stop()
    finally:
        timer.join(10)
    said = [x for x in notes if "stayed locked by another process" in x]
    assert said and "its last samples are not stored" in said[0], notes
    assert "keeping them in a file failed too (OSError: beside the store: " in said[0], said[0]
    assert f"in {tmp_path / 'xdg-state' / 'wattprint'}" in said[0], said[0]
