"""`wattprint runs list|show|export` read the store whatever the tracker's other settings say, give every run with
the same keys (a killed run flagged as such in each of them), and take a project name that no run has as an unknown
name, as a run id is. Real subprocesses, real stores."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from wattprint.footprint import ComponentEnergy, Footprint, Intensity
from wattprint.quantities import Range
from wattprint.storage import SampleRow, open_store
from wattprint.storage.export import COLUMNS, RATE_KEYS, RUN_KEYS

from ..stores import wait_until_stored

WP = [sys.executable, "-m", "wattprint"]
_SETTINGS = ("WATTPRINT_DB", "WATTPRINT_LOCATION", "WATTPRINT_PUE", "WATTPRINT_INTENSITY", "WATTPRINT_CONFIG")
# the keys a run's JSON always has, however little of it is known (null where unknown)
PROMISED = ("id", "status", "started_at", "duration_s", "energy_kwh", "it_energy_kwh", "energy_by_component_kwh",
            "operational_co2e_kg", "embodied_co2e_kg", "total_co2e_kg")


def _wattprint(*args: str, home: Path, cwd: Path | None = None,
               **env: str) -> subprocess.CompletedProcess[str]:
    """``wattprint ARGS`` with a home (and config folder) of its own, no setting from this process's environment,
    and the variables ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    base.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / "data"),
                WATTPRINT_STATE_DIR=str(home / "state"), **env)
    return subprocess.run([*WP, *args], capture_output=True, text=True, env=base, cwd=cwd, timeout=120)


def _json(*args: str, home: Path) -> Any:
    r = _wattprint(*args, home=home)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _stored(db: Path, runs: dict[str, str]) -> None:
    """Finished runs of the given ids and projects, with a summary."""
    fp = Footprint({"cpu": ComponentEnergy(Range(1e-3, 8e-4, 1.2e-3), "modelled")}, Range(1.2, 1.1, 1.3),
                   Intensity.fixed(300), embodied_co2e_kg=Range(1e-4, 5e-5, 2e-4), kind="measured").to_dict()
    t0 = time.time() - 100
    with open_store(str(db)) as s:
        for i, (run_id, project) in enumerate(runs.items()):
            s.begin_run(run_id, project, t0 + i, {"interval_s": 1.0})
            s.append_samples(run_id, [SampleRow(t0 + i + 10, 10.0, None, {"cpu": 3600.0}, {"cpu": 360.0})], fp)
            s.finish_run(run_id, "finished", fp, ended_at=t0 + i + 10)


def test_the_readers_need_only_the_store_setting(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    _stored(db, {"r1": "p"})
    home = tmp_path / "home"
    broken = tmp_path / "work"  # a working directory whose wattprint.toml is not TOML
    broken.mkdir()
    (broken / "wattprint.toml").write_text("pue = [[\n", encoding="utf-8")
    bad = {"WATTPRINT_INTENSITY": "abc", "WATTPRINT_PUE": "0.5"}  # refused by `wattprint run`, not a reader's matter
    for args in (("runs", "list"), ("runs", "list", "--json"), ("runs", "show", "r1"), ("runs", "show", "r1", "--json"),
                 ("runs", "export"), ("runs", "export", "--format", "json")):
        r = _wattprint(*args, "--db", str(db), home=home, cwd=broken, **bad)
        assert r.returncode == 0 and "r1" in r.stdout, (args, r.stderr)

    # without --db: the environment's store, other settings as bad as they come
    r = _wattprint("runs", "list", home=home, cwd=broken, WATTPRINT_DB=str(db), **bad)
    assert r.returncode == 0 and "r1" in r.stdout, r.stderr
    # the config file's store (beside it), its other settings out of range
    config = home / ".config" / "wattprint" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'interval = 0\npue = 0.5\nintensity = "abc"\ndb = "{db.name}"\n', encoding="utf-8")
    db.rename(config.parent / db.name)
    for args in (("runs", "list"), ("runs", "show", "r1"), ("runs", "export")):
        r = _wattprint(*args, home=home, cwd=tmp_path, **bad)
        assert r.returncode == 0 and "r1" in r.stdout, (args, r.stderr)

    # a broken store setting is still an error, in one line
    config.write_text("interval = 0\ndb = 5\n", encoding="utf-8")
    r = _wattprint("runs", "list", home=home, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "db in config file" in r.stderr, r.stderr
    config.write_text(f'db = "elsewhere.db"\n[wattprint]\ndb = "{db.name}"\n', encoding="utf-8")  # which one?
    r = _wattprint("runs", "list", home=home, cwd=tmp_path)
    assert r.returncode == 2 and "db both at the top level and in its [wattprint] table" in r.stderr, r.stderr
    # as is a config file that may hold it and cannot be read, where it is the one that applies
    r = _wattprint("runs", "list", home=home, cwd=broken)
    assert r.returncode == 2 and "not valid TOML" in r.stderr and "Traceback" not in r.stderr, r.stderr


TRACKED = """
import sys, time, wattprint
with wattprint.track("p", "tracked", db=sys.argv[1], interval_s=0.1, quiet=True):
    time.sleep(0.2)
"""


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of each kind of run: `wattprint run`'s, track()'s, a `wattprint run` killed with SIGKILL, one killed
    before its first summary, and one whose stored summary is damaged (not JSON)."""
    db = tmp_path_factory.mktemp("kinds") / "runs.db"
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    run = subprocess.run([*WP, "run", "--db", str(db), "--run", "cli", "--project", "p", "--", sys.executable, "-c",
                          "pass"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    tracked = subprocess.run([sys.executable, "-c", TRACKED, str(db)], capture_output=True, text=True, env=env,
                             timeout=120)
    assert tracked.returncode == 0, tracked.stderr
    proc = subprocess.Popen([*WP, "run", "--db", str(db), "--run", "killed", "--project", "p", "--interval", "0.1",
                             "--", "sleep", "120"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        # past its first full summary by more than a second: its process-tree share is that summary's
        wait_until_stored(db, "killed", lambda _s, r: "total_co2e_kg" in r.summary and r.duration_s > 1.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the tracker and what it runs, as a scheduler's kill -9 would
        proc.wait(timeout=30)
    t0 = time.time()
    with open_store(str(db)) as s:
        s.begin_run("bare", "p", t0, {"interval_s": 1.0})  # stored as running, no process recorded: not known gone
        s.append_samples("bare", [SampleRow(t0 + 1, 1.0, None, {"cpu": 36.0}, {"cpu": 36.0})], None)
        s.begin_run("damaged", "p", t0, {"interval_s": 1.0})
        s.append_samples("damaged", [SampleRow(t0 + 1, 1.0, None, {"cpu": 36.0}, {"cpu": 36.0})], None)
        s.finish_run("damaged", "finished", {"total_co2e_kg": 1.0}, ended_at=t0 + 1)
    with sqlite3.connect(db) as c:
        c.execute("UPDATE runs SET summary = '{\"total_co2e_kg\": 1.' WHERE id = 'damaged'")
    return db


def test_every_reader_says_a_killed_run_s_process_is_gone(kinds: Path, tmp_path: Path) -> None:
    exported = {r["id"]: r["writer_gone"] for r in _json("runs", "export", "--db", str(kinds), "--format", "json",
                                                           home=tmp_path)}
    assert exported == {"cli": None, "tracked": None, "killed": True, "bare": False, "damaged": None}
    listed = _json("runs", "list", "--json", "--db", str(kinds), home=tmp_path)
    assert {d["id"]: d["writer_gone"] for d in listed} == exported
    for run_id, gone in exported.items():
        shown = _json("runs", "show", run_id, "--json", "--db", str(kinds), home=tmp_path)
        assert shown["writer_gone"] is gone, run_id
        assert list(shown)[list(shown).index("status") + 1] == "writer_gone"  # beside the status it qualifies

    table = _wattprint("runs", "show", "killed", "--db", str(kinds), home=tmp_path)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert any(line.split() == ["status", "running*"] for line in lines)
    assert "  * its process on this host is gone (killed?)" in table.stdout  # what the list's footnote says
    share = next(line for line in lines if line.lstrip().startswith("process-tree share "))
    assert "into the run, its last full summary; the energies above reach" in share, share  # not as fresh as they
    assert "as_of_s" not in share
    alive = _wattprint("runs", "show", "bare", "--db", str(kinds), home=tmp_path)
    assert any(line.split() == ["status", "running"] for line in alive.stdout.splitlines()), alive.stdout
    assert "* its process" not in alive.stdout


def test_every_run_reads_with_the_keys_of_the_export(kinds: Path, tmp_path: Path) -> None:
    listed = {d["id"]: d for d in _json("runs", "list", "--json", "--db", str(kinds), home=tmp_path)}
    shown = {run_id: _json("runs", "show", run_id, "--json", "--db", str(kinds), home=tmp_path) for run_id in listed}
    exported = {r["id"]: r for r in _json("runs", "export", "--db", str(kinds), "--format", "json", home=tmp_path)}
    for run_id, d in listed.items():
        assert set(shown[run_id]) == set(d), run_id
        missing = [k for k in (*PROMISED, *RUN_KEYS, *RATE_KEYS, "writer_gone", "projection") if k not in d]
        assert not missing, (run_id, missing)
        for key in ("exit_code", "signal", "writer_gone", "total_co2e_kg"):  # null where the export's is empty
            assert (d[key] is None) == (exported[run_id][key] is None), (run_id, key)
    # the runs that stored a summary read with the same keys, whether or not a command's exit code is one of them
    assert set(listed["cli"]) == set(listed["tracked"]) == set(listed["killed"])
    assert listed["cli"]["exit_code"] == 0 and listed["tracked"]["exit_code"] is None
    # a run with no summary, or one whose summary is damaged, has its energy, not a CO2e made up
    for run_id in ("bare", "damaged"):
        d = listed[run_id]
        assert d["it_energy_kwh"] == pytest.approx(36.0 / 3.6e6), run_id
        assert (d["operational_co2e_kg"], d["embodied_co2e_kg"], d["total_co2e_kg"]) == (None, None, None), run_id
    assert listed["damaged"]["damaged"] == ["summary"] and listed["cli"]["damaged"] is None
    assert set(exported["cli"]) == set(COLUMNS)


def test_a_project_no_run_has_is_an_unknown_name(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    _stored(db, {"r1": "default", "r2": "vision"})
    out = tmp_path / "runs.csv"
    for args in (("runs", "list"), ("runs", "list", "--json"), ("runs", "export"),
                 ("runs", "export", "--format", "json"), ("runs", "export", "-o", str(out))):
        r = _wattprint(*args, "--db", str(db), "--project", "defualt", home=tmp_path)
        assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1, (args, r.stdout, r.stderr)
        assert "unknown project 'defualt'; closest valid names: default" in r.stderr, r.stderr
    assert not out.exists()
    far = _wattprint("runs", "list", "--db", str(db), "--project", "zzz", home=tmp_path)
    assert far.returncode == 2 and "valid names include vision, default" in far.stderr, far.stderr
    # a project that has runs: listed as ever
    assert [d["id"] for d in _json("runs", "list", "--json", "--db", str(db), "--project", "vision",
                                   home=tmp_path)] == ["r2"]

    # a store with no runs has no names to tell a typo by: nothing listed, as without --project
    empty = tmp_path / "empty.db"
    open_store(str(empty)).close()
    r = _wattprint("runs", "list", "--db", str(empty), "--project", "defualt", home=tmp_path)
    assert r.returncode == 0 and "defualt" in r.stdout, r.stderr
    assert _json("runs", "export", "--db", str(empty), "--format", "json", "--project", "x", home=tmp_path) == []
