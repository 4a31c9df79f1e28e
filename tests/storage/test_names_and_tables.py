"""Run ids and project names that look alike are one name (composed Unicode) or refused (a blank at either end), and
the tables line up whatever the names hold (wide CJK and emoji, combining accents) and print no infinity."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from wattprint.errors import InputConflictError
from wattprint.storage import open_store
from wattprint.tracking import track

from ..tracking.conftest import PowerReader

NFC = "café"
NFD = unicodedata.normalize("NFD", NFC)


def _runs(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattprint", "runs", *args, "--db", str(db)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "COLUMNS": "200"})


def test_two_spellings_of_one_id_are_one_run_and_blank_ends_are_refused(tmp_path: Path) -> None:
    db = str(tmp_path / "n.db")
    assert NFC != NFD
    for rid in (NFC, NFD):  # the second resumes the first (macOS file names give the decomposed spelling)
        with track("p", rid, db=db, readers=[PowerReader(power_w=10.0)], interval_s=0.05, quiet=True):
            time.sleep(0.05)
    with open_store(db, readonly=True) as store:
        (rec,) = store.list_runs()
        assert rec.id == NFC and rec.meta.get("resumed") == 1
        assert store.find_run(NFD).id == NFC and store.find_run(unicodedata.normalize("NFD", "caf")).id == NFC
    for bad in ("x ", " x", "\tx"):
        with pytest.raises(InputConflictError):
            track("p", bad, db=db)
    with pytest.raises(InputConflictError, match="begins or ends with a blank; write 'p'"):
        track(" p ", db=db)


def test_the_runs_table_lines_up_wide_and_combining_characters(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    for rid, project in (("学習-1", "日本語"), ("emoji-🚀", "p"), (NFD + "-2", "plain")):
        with track(project, rid, db=str(db), readers=[PowerReader(power_w=10.0)], interval_s=0.05, quiet=True):
            pass
    from wattprint.cli._table import display_width

    header, *lines = _runs("list", db=db).stdout.splitlines()
    assert len(lines) == 3
    status_at = display_width(header[:header.index("STATUS")])
    for line in lines:  # the status column starts where its header does, counted in terminal cells
        assert display_width(line[:line.index("finished")]) == status_at, (header, lines)


def test_tables_print_a_dash_where_json_gives_null(tmp_path: Path) -> None:
    """A store written before infinities were stored as null: the table said 'inf' / '-inf'."""
    db = tmp_path / "i.db"
    with track("p", "x", db=str(db), readers=[PowerReader(power_w=10.0)], interval_s=0.05, quiet=True):
        pass
    con = sqlite3.connect(str(db))
    con.execute("""UPDATE runs SET summary='{"it_energy_kwh": Infinity, "total_co2e_kg": -Infinity}' WHERE id='x'""")
    con.commit()
    con.close()
    for args in (("show", "x"), ("list",)):
        out = _runs(*args, db=db).stdout
        assert "inf" not in out.lower(), out


def test_a_live_run_is_listed_as_running_without_the_mark_of_a_gone_process(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    with track("p", "live", db=str(db), readers=[PowerReader(power_w=10.0)], interval_s=0.05, quiet=True):
        time.sleep(0.2)
        out = _runs("list", db=db).stdout
    row = next(x for x in out.splitlines() if x.startswith("live"))
    assert " running " in row and "running*" not in out and "gone" not in out, out
