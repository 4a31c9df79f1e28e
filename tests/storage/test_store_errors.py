"""`wattprint runs` and `wattprint run` on stores that cannot be used as they are: damaged, locked by another
process, read-only, empty; and run ids shown whole. Real SQLite files in tmp dirs, real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattprint.storage import SampleRow, open_store

WP = [sys.executable, "-m", "wattprint"]


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
         prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *WP, *args], capture_output=True, text=True, env=env or dict(os.environ),
                          cwd=cwd, timeout=120)


def _one_line_error(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wattprint: error: "), r.stderr
    return lines[0]


def _fill(db: Path, ids: list[str], samples: int = 40) -> None:
    t0 = time.time()
    with open_store(str(db)) as s:
        for i, rid in enumerate(ids):
            s.begin_run(rid, rid.split("-")[0], t0 + i, {"note": "x" * 200})
            rows = [SampleRow(t0 + i + k, float(k), None, {"cpu": 10.0 * k}, {"cpu": 10.0}) for k in range(1, samples)]
            s.append_samples(rid, rows, {"it_energy_kwh": 1e-6, "energy_kwh": 2e-6})
            s.finish_run(rid, "finished", None)


# -- 1: ids shown whole ---------------------------------------------------------------------------------------
def test_list_shows_default_run_ids_whole_and_each_one_shown_can_be_shown(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    ids = [f"default-20250101-120000-{h}" for h in ("a1b2c3", "a1b2c4", "ffffff")]  # new_run_id()'s shape
    _fill(db, ids, samples=2)
    r = _cli("runs", "list", "--db", str(db))
    assert r.returncode == 0, r.stderr
    shown = [line.split()[0] for line in r.stdout.strip().splitlines()[1:]]
    assert sorted(shown) == sorted(ids)
    for rid in shown:
        s = _cli("runs", "show", rid, "--json", "--db", str(db))
        assert s.returncode == 0, s.stderr
        assert json.loads(s.stdout)["id"] == rid


# -- 3: a damaged store ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [("runs", "list"), ("runs", "list", "--json"), ("runs", "show", "x")])
def test_a_damaged_store_is_a_one_line_error_not_a_traceback(tmp_path: Path, args: tuple[str, ...]) -> None:
    good = tmp_path / "good.db"
    _fill(good, [f"p-{i}" for i in range(6)])
    assert good.stat().st_size > 40000
    bad = tmp_path / "t.db"
    shutil.copy(good, bad)
    os.truncate(bad, 20000)  # cut mid-file, as a full disk or a partial copy leaves it
    before = bad.read_bytes()
    line = _one_line_error(_cli(*args, "--db", str(bad)))
    assert str(bad) in line and "damaged" in line
    assert bad.read_bytes() == before
    run = _cli("run", "--db", str(bad), "--", sys.executable, "-c", "pass")  # the same words from `wattprint run`
    assert "damaged" in _one_line_error(run)


# -- 4: a store another process holds locked -------------------------------------------------------------------
HOLDER = """
import sys, time
from wattprint.storage import open_store
s = open_store(sys.argv[1])
s._conn.execute("PRAGMA locking_mode = EXCLUSIVE")  # keeps every lock it takes: readers are locked out too
s.begin_run("fresh", "p", time.time(), {})          # committed to the WAL, not to the main file
print("locked", flush=True)
sys.stdin.readline()
"""


def test_a_store_locked_by_another_process_is_an_error_not_stale_runs(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import wattprint.storage.sqlite as sq
    from wattprint.cli import main

    db = tmp_path / "runs.db"
    _fill(db, ["old-1"], samples=2)
    monkeypatch.setattr(sq, "BUSY_TIMEOUT_S", 0.5)  # how long a reader waits for the lock
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        capsys.readouterr()
        rc = main(["runs", "list", "--json", "--db", str(db)])
        out, err = capsys.readouterr()
        assert rc == 2, out  # before: the main file alone was read (immutable), without run "fresh", exit 0
        assert "locked by another process" in err and str(db) in err
        assert out == ""
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    r = _cli("runs", "list", "--json", "--db", str(db))  # free again: all runs, the one in the WAL too
    assert r.returncode == 0, r.stderr
    assert {d["id"] for d in json.loads(r.stdout)} == {"fresh", "old-1"}


# -- 9: read-only, empty, and the store the config file names ------------------------------------------------
def test_a_store_this_user_may_not_write_is_said_so_and_the_command_does_not_run(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "runs.db"
    _fill(db, ["p-1"], samples=2)
    marker = tmp_path / "ran"
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root writes anywhere: drop that privilege for the child
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv")
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner")
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        r = _cli("run", "--db", str(db), "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')", prefix=prefix)
        listed = _cli("runs", "list", "--json", "--db", str(db), prefix=prefix)
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    line = _one_line_error(r)
    assert "cannot be written" in line and str(db) in line
    assert "not a wattprint store" not in line
    assert not marker.exists()
    assert listed.returncode == 0 and [d["id"] for d in json.loads(listed.stdout)] == ["p-1"]


def test_an_empty_store_lists_no_runs(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    db.write_bytes(b"")
    r = _cli("runs", "list", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"no runs stored yet in {db}"
    r = _cli("runs", "list", "--json", "--db", str(db))
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = _cli("runs", "show", "abc", "--db", str(db))
    assert "unknown run 'abc'" in _one_line_error(r) and "no runs stored yet" in r.stderr
    assert db.read_bytes() == b""  # reading never writes


def test_no_runs_of_a_project_names_the_store_the_config_file_chose(tmp_path: Path) -> None:
    db = tmp_path / "chosen.db"
    _fill(db, ["p-1"], samples=2)
    work = tmp_path / "work"
    work.mkdir()
    (work / "wattprint.toml").write_text(f'db = "{db}"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("WATTPRINT_DB", "WATTPRINT_CONFIG")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"))
    r = _cli("runs", "list", "--project", "zz", env=env, cwd=work)
    assert _one_line_error(r).endswith(f"unknown project 'zz'; valid names include p (store {db})")


# -- a stored value that is not JSON (a store edited by hand or damaged) ----------------------------------------
def _damage(db: Path, sql: str) -> None:
    import sqlite3

    conn = sqlite3.connect(str(db))
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def test_a_run_whose_summary_is_not_json_is_read_from_its_totals_and_the_others_as_stored(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    _fill(db, ["good-1", "bad-1", "good-2"], samples=3)
    _damage(db, "UPDATE runs SET summary = '{broken' WHERE id = 'bad-1'")
    listed = _cli("runs", "list", "--json", "--db", str(db))
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    runs = {r["id"]: r for r in json.loads(listed.stdout)}
    assert set(runs) == {"good-1", "bad-1", "good-2"}
    assert runs["bad-1"]["damaged"] == ["summary"] and runs["good-1"]["damaged"] is None  # null, as exported
    assert runs["bad-1"]["it_energy_kwh"] == pytest.approx(20.0 / 3.6e6)  # its stored totals: cpu at 20 J
    shown = _cli("runs", "show", "bad-1", "--db", str(db))
    assert shown.returncode == 0, shown.stderr
    assert "stored summary is damaged (not valid JSON)" in shown.stdout
    exported = _cli("runs", "export", "--format", "json", "--db", str(db))
    assert exported.returncode == 0, exported.stderr
    assert [r["id"] for r in json.loads(exported.stdout)] == ["good-1", "bad-1", "good-2"]
    # a list, as `runs list --json` and `runs show --json` give it (the CSV cell below joins it)
    assert [r["damaged"] for r in json.loads(exported.stdout)] == [None, ["summary"], None]
    as_csv = _cli("runs", "export", "--db", str(db))
    assert as_csv.returncode == 0, as_csv.stderr
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(as_csv.stdout))}
    assert rows["bad-1"]["damaged"] == "summary" and rows["good-1"]["damaged"] == ""


def test_a_phase_whose_energy_is_not_json_is_a_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with open_store(str(db)) as s:
        s.begin_run("r", "p", time.time(), {})
        s.add_phase("r", "eval", 0.0, 1.0, {"cpu": 10.0})
        s.finish_run("r", "finished", None)
    _damage(db, "UPDATE phases SET energy_j = 'nan(' WHERE run_id = 'r'")
    line = _one_line_error(_cli("runs", "show", "r", "--db", str(db)))
    assert "damaged value (not valid JSON" in line
