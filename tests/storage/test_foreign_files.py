"""A file that is not a wattprint store is refused, named, and left exactly as it was."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wattprint.errors import WattprintError
from wattprint.storage import StoreError, open_store
from wattprint.storage.schema import APPLICATION_ID, SCHEMA_VERSION


def _random_bytes(p: Path) -> None:
    p.write_bytes(os.urandom(8192))


def _text(p: Path) -> None:
    p.write_text("\n")  # empty-looking but not empty, and not SQLite


def _other_program(p: Path) -> None:
    c = sqlite3.connect(p)
    c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    c.execute("INSERT INTO customers (name) VALUES ('ada')")
    c.commit()
    c.close()


def _other_program_wal(p: Path) -> None:
    c = sqlite3.connect(p)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()


def _other_application_id(p: Path) -> None:
    c = sqlite3.connect(p)
    c.execute("PRAGMA application_id = 1234")
    c.execute("CREATE TABLE runs (id TEXT)")  # even with a table named like ours
    c.commit()
    c.close()


def _empty_sqlite(p: Path) -> None:
    c = sqlite3.connect(p)
    c.execute("PRAGMA user_version = 7")  # writes the header: a valid SQLite file with no tables
    c.commit()
    c.close()


def _corrupt_sqlite(p: Path) -> None:
    _other_program(p)
    data = bytearray(p.read_bytes())
    data[100:] = os.urandom(len(data) - 100)
    p.write_bytes(bytes(data))


def _corrupt_store(p: Path) -> None:
    open_store(str(p)).close()
    data = bytearray(p.read_bytes())
    data[100:] = os.urandom(len(data) - 100)  # our header, garbage pages
    p.write_bytes(bytes(data))


def _truncated_header(p: Path) -> None:
    p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20)


@pytest.mark.parametrize("make", [_random_bytes, _text, _other_program, _other_program_wal, _other_application_id,
                                  _empty_sqlite, _corrupt_sqlite, _corrupt_store, _truncated_header])
def test_not_a_store_is_refused_by_name_and_untouched(tmp_path: Path, make: Callable[[Path], None]) -> None:
    p = tmp_path / "data.db"
    make(p)
    past = time.time() - 3600
    os.utime(p, (past, past))
    before = (p.read_bytes(), p.stat().st_mtime_ns)
    siblings = set(os.listdir(tmp_path))
    with pytest.raises(StoreError) as e:
        open_store(str(p))
    assert isinstance(e.value, WattprintError)
    assert str(p) in str(e.value)
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before
    assert set(os.listdir(tmp_path)) == siblings, "no journal or WAL files left beside it"


def test_folder_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.db").mkdir()
    with pytest.raises(StoreError, match="x.db"):
        open_store(str(tmp_path / "x.db"))


def test_zero_byte_file_becomes_a_store_with_our_marks(tmp_path: Path) -> None:
    p = tmp_path / "new.db"
    p.touch()
    open_store(str(p)).close()
    c = sqlite3.connect(p)
    assert c.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert c.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert dict(c.execute("SELECT key, value FROM wattprint_meta"))["application"] == "wattprint"
    c.close()
    open_store(str(p)).close()  # and reopens


def test_store_from_a_newer_wattprint_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "future.db"
    open_store(str(p)).close()
    c = sqlite3.connect(p)
    c.execute("UPDATE wattprint_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    c.commit()
    c.close()
    with pytest.raises(StoreError, match="newer wattprint"):
        open_store(str(p))


def test_create_false_does_not_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no wattprint store"):
        open_store(str(tmp_path / "absent.db"), create=False)
    assert not (tmp_path / "absent.db").exists()
