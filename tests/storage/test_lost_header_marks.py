"""A store restored from `sqlite3 .dump` (its tables and wattprint_meta kept, PRAGMA user_version and application_id
reset to 0) is recognised by its tables, read as it is, and gets its marks back, said once, from the first process
that writes it; a file whose tables do not say one schema version, and a store claiming a version with no way to the
current schema, are one-line errors (exit 2), the file untouched. Real SQLite files, real subprocesses."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wattprint.storage import SampleRow, StoreError, open_store, schema

RESTORED = "the marks were restored"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True, text=True, timeout=120)


def _dump(src: Path, dst: Path) -> None:
    """What `sqlite3 src .dump | sqlite3 dst` does, with Python's iterdump()."""
    s = sqlite3.connect(src)
    d = sqlite3.connect(dst)
    d.executescript("\n".join(s.iterdump()))
    d.close()
    s.close()


def _marks(db: Path) -> tuple[int, int]:
    c = sqlite3.connect(db)
    try:
        return c.execute("PRAGMA application_id").fetchone()[0], c.execute("PRAGMA user_version").fetchone()[0]
    finally:
        c.close()


def _store_with_a_run(db: Path) -> None:
    with open_store(str(db)) as s:
        s.begin_run("old", "p", time.time() - 10, {})
        s.append_samples("old", [SampleRow(time.time(), 5.0, None, {"cpu": 500.0}, {"cpu": 100.0})], None)
        s.finish_run("old", "finished", None)


def _untouched(p: Path) -> Callable[[], None]:
    """A check that ``p`` and its folder are as they are now (no byte, time or -wal/-shm file changed)."""
    past = time.time() - 3600
    os.utime(p, (past, past))
    before = (p.read_bytes(), p.stat().st_mtime_ns, sorted(os.listdir(p.parent)))

    def check() -> None:
        assert (p.read_bytes(), p.stat().st_mtime_ns, sorted(os.listdir(p.parent))) == before

    return check


def test_a_dumped_store_is_listed_as_it_is_and_the_first_run_on_it_restores_its_marks_once(tmp_path: Path) -> None:
    _store_with_a_run(tmp_path / "a.db")
    db = tmp_path / "dumped.db"
    _dump(tmp_path / "a.db", db)
    assert _marks(db) == (0, 0)
    untouched = _untouched(db)
    # before: "written by an older wattprint; open it once where it can be written ... to upgrade it"
    listed = _cli("runs", "list", "--db", str(db))
    assert listed.returncode == 0 and "old" in listed.stdout, listed.stderr
    untouched()  # a reader writes nothing
    # before: Traceback ... _migrate ... KeyError: 0, exit 1
    ran = _cli("run", "--db", str(db), "--run", "new", "--", sys.executable, "-c", "pass")
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr and ran.stderr.count(RESTORED) == 1, ran.stderr
    assert _marks(db) == (schema.APPLICATION_ID, schema.SCHEMA_VERSION)
    with open_store(str(db), readonly=True) as s:
        assert s.get_run("old").status == "finished" and s.sample_count("old") == 1
        assert s.get_run("new").status == "finished"
    again = _cli("run", "--db", str(db), "--run", "new2", "--", sys.executable, "-c", "pass")
    assert again.returncode == 0 and RESTORED not in again.stderr, again.stderr  # said once


def test_a_dumped_version_1_store_is_recognised_and_upgraded(tmp_path: Path) -> None:
    v1 = schema.CREATE.replace(schema.LIVE_TRIGGER, "")
    v1 = v1.replace(",           -- JSON: mean power", "            -- JSON: mean power")
    v1 = "\n".join(line for line in v1.splitlines() if not line.strip().startswith("live TEXT"))
    old = tmp_path / "old.db"
    c = sqlite3.connect(old)
    c.executescript(v1)
    c.executemany(f"INSERT INTO {schema.META_TABLE} (key, value) VALUES (?, ?)",
                  [("application", schema.APPLICATION_NAME), ("schema_version", "1")])
    c.execute("INSERT INTO runs (id, project, status, started_at, updated_at) VALUES ('r1', 'p', 'finished', 1, 1)")
    c.commit()
    c.close()
    db = tmp_path / "dumped.db"
    _dump(old, db)
    with pytest.raises(StoreError, match="older wattprint"):  # a reader cannot upgrade it ...
        open_store(str(db), readonly=True)
    with open_store(str(db)) as s:  # ... and the writer it names does
        assert len(s.notes) == 1 and RESTORED in s.notes[0] and "upgraded to schema 2" in s.notes[0]
        s.begin_run("r1", "p", time.time(), {})
        s.append_samples("r1", [SampleRow(time.time(), 5.0, None, {"cpu": 9.0}, {"cpu": 1.0})], None,
                         summary_patch={"it_energy_kwh": 0.2})  # the trigger the migration adds
        assert s.get_run("r1").summary["it_energy_kwh"] == 0.2
    assert _marks(db) == (schema.APPLICATION_ID, schema.SCHEMA_VERSION)
    with open_store(str(db)) as s:
        assert s.notes == []


def _no_version(c: sqlite3.Connection) -> None:
    c.execute(f"DELETE FROM {schema.META_TABLE} WHERE key = 'schema_version'")


def _says_version_1(c: sqlite3.Connection) -> None:  # but has the `live` column of schema 2
    c.execute(f"UPDATE {schema.META_TABLE} SET value = '1' WHERE key = 'schema_version'")


def _says_version_0(c: sqlite3.Connection) -> None:
    c.execute(f"UPDATE {schema.META_TABLE} SET value = '0' WHERE key = 'schema_version'")


def _lacks_the_trigger(c: sqlite3.Connection) -> None:
    c.execute("DROP TRIGGER samples_live")


def _another_table(c: sqlite3.Connection) -> None:
    c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")


@pytest.mark.parametrize("alter", [_no_version, _says_version_1, _says_version_0, _lacks_the_trigger, _another_table])
def test_a_header_less_copy_whose_tables_do_not_say_one_version_is_refused_untouched(
        tmp_path: Path, alter: Callable[[sqlite3.Connection], None]) -> None:
    _store_with_a_run(tmp_path / "a.db")
    db = tmp_path / "dumped.db"
    _dump(tmp_path / "a.db", db)
    c = sqlite3.connect(db)
    alter(c)
    c.commit()
    c.close()
    untouched = _untouched(db)
    for readonly in (False, True):
        with pytest.raises(StoreError, match="lost their schema version") as e:
            open_store(str(db), readonly=readonly)
        assert str(db) in str(e.value) and "left untouched" in str(e.value)
    untouched()
    ran = _cli("run", "--db", str(db), "--", sys.executable, "-c", "pass")
    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr and "lost their schema version" in ran.stderr, ran.stderr
    untouched()


def test_a_store_claiming_a_version_with_no_way_to_the_current_one_is_a_clean_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "odd.db"
    _store_with_a_run(db)
    c = sqlite3.connect(db)
    c.execute("PRAGMA user_version = -1")  # meta still says the current version
    c.commit()
    c.close()
    untouched = _untouched(db)
    with pytest.raises(StoreError, match="claims store schema -1"):  # before: KeyError: -1 from the migration
        open_store(str(db))
    untouched()
    ran = _cli("run", "--db", str(db), "--", sys.executable, "-c", "pass")
    assert ran.returncode == 2 and "Traceback" not in ran.stderr and "claims store schema -1" in ran.stderr, \
        ran.stderr
    untouched()
    # a version some wattprint wrote, with a step missing from the migrations (none may be): refused, not a KeyError
    c = sqlite3.connect(db)
    c.execute("PRAGMA user_version = 1")
    c.execute(f"UPDATE {schema.META_TABLE} SET value = '1' WHERE key = 'schema_version'")
    c.commit()
    c.close()
    monkeypatch.setattr(schema, "MIGRATIONS", {})
    with pytest.raises(StoreError, match="claims store schema 1"):
        open_store(str(db))
