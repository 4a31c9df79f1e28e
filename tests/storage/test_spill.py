"""Spill files (storage.spill): what a store refused at a run's end, written to it at its next opening; a file
that cannot be used never stops the store from opening and is never written twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from wattprint.storage import SampleRow, open_store
from wattprint.storage.spill import spill_dir, spill_notes, spill_run, unreadable, waiting


def _samples(start_s: float, n: int) -> list[SampleRow]:
    return [SampleRow(1.7e9 + start_s + i, start_s + i, None, {"cpu": 100.0 * (start_s + i)}, {"cpu": 100.0})
            for i in range(1, n + 1)]


def test_a_run_never_begun_is_stored_whole_from_its_spill(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    open_store(db).close()
    spill_run(db, "r1", record={"project": "p", "started_at": 1.7e9, "meta": {"host": "h"}}, samples=_samples(0, 3),
              phases=[("train", 0.5, 2.5, {"cpu": 200.0})], summary={"k": 1}, patch=None, status="finished",
              ended_at=1.7e9 + 3)
    with open_store(db) as store:
        assert store.recovered == ["r1"]
        rec = store.get_run("r1")
        assert (rec.status, rec.duration_s, rec.ended_at, rec.energy_j) == ("finished", 3.0, 1.7e9 + 3, {"cpu": 300.0})
        assert store.sample_count("r1") == 3
    assert waiting(db) == [] and not Path(spill_dir(db)).exists()


def test_a_broken_or_overtaken_spill_is_left_and_the_store_still_opens(tmp_path: Path) -> None:
    db = str(tmp_path / "s.db")
    with open_store(db) as store:
        store.begin_run("r2", "p", 1.7e9, {})
        store.append_samples("r2", _samples(0, 5), None)  # the run went on to 5 s in another process
    spill_run(db, "r2", record=None, samples=_samples(2, 2), phases=[], summary=None, patch=None, status="finished",
              ended_at=None)
    Path(spill_dir(db), "junk.1.json").write_text("{not json")
    with open_store(db) as store:
        assert store.recovered == []
        assert store.get_run("r2").status == "running" and store.sample_count("r2") == 5
    # kept for a person to look at, not written over the newer samples
    assert [json.loads(Path(p).read_text())["run_id"] for p in waiting(db)] == ["r2"]
    assert unreadable(db) == [str(Path(spill_dir(db), "junk.1.json"))]


def test_files_that_cannot_be_read_are_named_not_said_to_wait(tmp_path: Path) -> None:
    """Before, `runs list` said that a damaged file, or a folder named like one, waited to be written, after every
    run, forever: only files that can be written are said to wait, the others are named."""
    db = str(tmp_path / "s.db")
    open_store(db).close()
    spill_run(db, "r1", record={"project": "p", "started_at": 1.7e9, "meta": {}}, samples=_samples(0, 2), phases=[],
              summary=None, patch=None, status="finished", ended_at=None)
    folder = Path(spill_dir(db))
    (folder / "bad.json").write_text("{junk")
    (folder / "dir.json").mkdir()
    (folder / "newer.1.json").write_text(json.dumps({"version": 99, "run_id": "r9"}))
    assert [Path(p).name for p in waiting(db)] == [n for n in os.listdir(folder) if n.startswith("r1.")]
    assert [Path(p).name for p in unreadable(db)] == ["bad.json", "dir.json", "newer.1.json"]
    wait_note, broken_note = spill_notes(db)
    assert wait_note.startswith(f"1 run(s) wait in {folder} to be written")
    assert broken_note.startswith(f"3 file(s) in {folder} cannot be read") and "will not be written" in broken_note
    assert broken_note.endswith("bad.json, dir.json, newer.1.json")
    with open_store(db) as store:  # the next opening writes the one that can be, and leaves the others
        assert store.recovered == ["r1"]
    assert waiting(db) == [] and len(unreadable(db)) == 3
    assert len(spill_notes(db)) == 1 and "cannot be read" in spill_notes(db)[0]


def test_a_spill_the_disk_cannot_hold_leaves_no_half_written_file(tmp_path: Path) -> None:
    """A full disk (here: a file-size limit, so writes fail with EFBIG as they would with ENOSPC) refuses the
    spill too: the error goes up (the caller says the samples are not stored) and nothing half-written stays
    beside the store for the next opening to stumble on."""
    script = r"""
import resource, signal, sys
from wattprint.storage import SampleRow
from wattprint.storage.spill import spill_run
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing the process
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
rows = [SampleRow(float(i), float(i), None, {"cpu": float(i)}, {"cpu": 1.0}) for i in range(5000)]
try:
    spill_run(sys.argv[1], "r1", record=None, samples=rows, phases=[], summary={}, patch=None, status="finished",
              ended_at=None)
except OSError as e:
    print("refused", e.errno)
"""
    store = tmp_path / "runs.db"
    p = subprocess.run([sys.executable, "-c", script, str(store)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("refused"), (p.stdout, p.stderr)
    assert not Path(spill_dir(str(store))).exists(), list(tmp_path.rglob("*"))


def test_last_samples_kept_for_a_store_that_is_gone_are_not_said_to_wait(tmp_path: Path) -> None:
    """A spill of the last samples only (its run's record was stored) is left by a new store made at a path whose
    store was deleted (there is no run to add them to): it is named as such, not said to be written next time."""
    db = str(tmp_path / "s.db")
    spill_run(db, "r1", record=None, samples=_samples(0, 2), phases=[], summary=None, patch=None, status="finished",
              ended_at=None)
    spill_run(db, "r2", record={"project": "p", "started_at": 1.7e9, "meta": {}}, samples=_samples(0, 2), phases=[],
              summary=None, patch=None, status="finished", ended_at=None)
    wait_note, orphan_note = spill_notes(db)
    assert wait_note.startswith(f"1 run(s) wait in {spill_dir(db)} to be written"), wait_note
    assert "no longer exists" in orphan_note and orphan_note.endswith(Path(waiting(db)[0]).name), orphan_note
    with open_store(db) as store:  # as said: the whole run is written, the last samples are not
        assert store.recovered == ["r2"]
    assert [json.loads(Path(p).read_text())["run_id"] for p in waiting(db)] == ["r1"]
