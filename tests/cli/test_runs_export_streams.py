"""`wattprint runs export` and `runs list --json` stream: each run is read from the store, made into its row and
written before the next is read, so the memory they take does not grow with the number of runs stored (a store of
20,000 runs once took 0.8 GB). Their output is the text the whole list gave, byte for byte."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from wattprint.footprint import ComponentEnergy, Footprint, Intensity
from wattprint.quantities import Range
from wattprint.storage import SampleRow, open_store
from wattprint.storage.export import COLUMNS, rates, row, write_csv
from wattprint.storage.json_columns import finite
from wattprint.tracking.record import stored_run_dict, writer_alive

_FOOTPRINT = Footprint({"gpu": ComponentEnergy(Range(2.0, 1.8, 2.2), "measured"),
                        "cpu": ComponentEnergy(Range(0.5, 0.4, 0.6), "modelled")},
                       Range(1.1, 1.05, 1.2), Intensity.fixed(400), embodied_co2e_kg=Range(1.0, 0.5, 2.0),
                       kind="measured").to_dict()


def _fill(db: Path, n: int) -> None:
    """``n`` small finished runs in one transaction (through the store's own writes), two to a start time (the
    order among equal start times is the order they were stored in), and, in a few of other projects, a run still
    running with an open phase, one whose process is gone (killed) and one of a project with an accent."""
    t0 = time.time() - n
    with open_store(str(db)) as s, s.transaction():
        for i in range(n):
            rid, start = f"run-{i:05d}", t0 + i // 2
            s.begin_run(rid, "bulk", start, {"host": "node-1", "pid": 1})
            s.append_samples(rid, [SampleRow(start + 10, 10.0, None, {"gpu": 7.2e6, "cpu": 1.8e6},
                                             {"gpu": 720.0, "cpu": 180.0})], _FOOTPRINT)
            s.finish_run(rid, "finished", _FOOTPRINT, ended_at=start + 10)
        here = os.uname().nodename
        for rid, project, meta in (("live", "café", {"host": here, "pid": os.getpid()}),
                                   ("killed", "other", {"host": here, "pid": 2**22 + 7, "pid_start": 1.0})):
            s.begin_run(rid, project, t0 + 1, meta)
            s.add_phase(rid, "train", 0.0, 4.0, {"gpu": 3.6e6})
            s.add_phase(rid, "eval", 4.0, None, {})
            s.append_samples(rid, [SampleRow(t0 + 6, 5.0, "eval", {"gpu": 5.4e6}, {"gpu": 900.0})], _FOOTPRINT)


def _old_rows(db: Path, project: str | None = None) -> list[dict[str, Any]]:
    """The export's rows as it built them before it streamed: the whole list, from list_runs reversed."""
    with open_store(str(db), readonly=True) as store:
        return [{**row(stored_run_dict(store, r)),
                 "writer_gone": writer_alive(r.meta) is False if r.status == "running" else None}
                for r in reversed(store.list_runs(project=project))]


def _wattprint(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("small") / "runs.db"
    _fill(db, 7)
    return db


def test_the_export_is_the_text_the_whole_list_gave(small: Path, tmp_path: Path) -> None:
    for project in (None, "café", unicodedata.normalize("NFD", "café"), "bulk"):
        chosen = () if project is None else ("--project", project)
        rows = _old_rows(small, project)
        assert rows and all(list(r) == list(COLUMNS) for r in rows)
        assert _wattprint("runs", "export", "--db", str(small), "--format", "json", *chosen) == (
            json.dumps(rows, indent=2, allow_nan=False) + "\n")
        csv_text = io.StringIO(newline="")
        write_csv(rows, csv_text)
        out = tmp_path / "runs.csv"
        _wattprint("runs", "export", "--db", str(small), "-o", str(out), *chosen)
        assert out.read_bytes() == csv_text.getvalue().encode("utf-8")
    everything = json.loads(_wattprint("runs", "export", "--db", str(small), "--format", "json"))
    # oldest first; equal start times in the order stored
    assert [r["id"] for r in everything] == [*(f"run-{i:05d}" for i in range(4)), "live", "killed",
                                             *(f"run-{i:05d}" for i in range(4, 7))]
    assert [r["writer_gone"] for r in everything][3:6] == [None, False, True]


def _old_listed(store: Any, r: Any) -> dict[str, Any]:
    """A run as the whole list gave it, with ``writer_gone`` after its status as the export has it."""
    d = stored_run_dict(store, r)
    out: dict[str, Any] = {}
    for key, value in {**d, **rates(d, r.duration_s)}.items():
        out[key] = value
        if key == "status":
            out["writer_gone"] = writer_alive(r.meta) is False if r.status == "running" else None
    return out


def test_runs_list_json_is_the_text_the_whole_list_gave(small: Path) -> None:
    with open_store(str(small), readonly=True) as store:
        for project, limit in ((None, None), ("bulk", 3), (unicodedata.normalize("NFD", "café"), None)):
            old = [_old_listed(store, r) for r in store.list_runs(project=project, limit=limit)]
            args = (*(("--project", project) if project else ()), *(("--limit", str(limit)) if limit else ()))
            assert _wattprint("runs", "list", "--json", "--db", str(small), *args) == (
                json.dumps(finite(old), indent=2, default=str, allow_nan=False) + "\n")


def test_a_store_without_runs_exports_an_empty_array_or_the_header(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    open_store(str(db)).close()
    assert _wattprint("runs", "export", "--db", str(db), "--format", "json") == "[]\n"
    assert _wattprint("runs", "export", "--db", str(db)) == ",".join(COLUMNS) + "\n"  # text mode: \r\n read as \n
    # a project of no run, in a store of none (of other projects' runs: an unknown name, see test_runs_readers)
    assert _wattprint("runs", "export", "--db", str(db), "--format", "json", "--project", "none") == "[]\n"
    assert _wattprint("runs", "list", "--json", "--db", str(db), "--project", "none") == "[]\n"


# each command's peak of Python memory (tracemalloc), after a first export has imported what they need
_PEAKS = """
import json, sys, tracemalloc
from wattprint.cli import main

few, many, out, report = sys.argv[1:]
main(["runs", "export", "--db", few, "-o", out])
peaks = {}
for name, args in (("csv", ["runs", "export", "-o", out]), ("json", ["runs", "export", "--format", "json", "-o", out]),
                   ("list", ["runs", "list", "--json"])):
    for db in (few, many):
        tracemalloc.start()
        assert main([*args, "--db", db]) == 0
        peaks.setdefault(name, []).append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
with open(report, "w") as fh:
    json.dump(peaks, fh)
"""


def test_memory_does_not_grow_with_the_number_of_runs(tmp_path: Path) -> None:
    few, many = tmp_path / "few.db", tmp_path / "many.db"
    _fill(few, 300)
    _fill(many, 3000)
    report = tmp_path / "peaks.json"
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(_PEAKS), str(few), str(many), str(tmp_path / "out"),
                        str(report)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    peaks = json.loads(report.read_text(encoding="utf-8"))
    for name, (peak_few, peak_many) in peaks.items():  # ten times the runs: not ten times the memory
        assert peak_many < 1.5 * peak_few, (name, peak_few, peak_many)


def test_a_store_that_fails_part_way_leaves_the_file_it_was_to_replace(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    _fill(db, 400)
    data = bytearray(db.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    at = data.index(b"run-00300bulk")  # a run's row (id, then project), far past the first runs read
    data[at - at % page_size] = 0xFF  # its page's type: no page SQLite knows ("database disk image is malformed")
    db.write_bytes(bytes(data))
    out = tmp_path / "runs.csv"
    out.write_text("old export\n", encoding="utf-8")
    for fmt in ("csv", "json"):  # the rows are read as they are written, to a file beside it
        r = subprocess.run([sys.executable, "-m", "wattprint", "runs", "export", "--db", str(db), "--format", fmt,
                            "-o", str(out)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
        assert out.read_text(encoding="utf-8") == "old export\n"
        assert not list(tmp_path.glob(".wattprint-export-*"))
