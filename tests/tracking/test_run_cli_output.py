"""`wattprint run` on a store another process holds locked, and what it reports at the end: the --json record
(also when the command cannot be started), the exit status of a command killed by a signal, the status after a
forwarded signal, and --help. Real subprocesses and SQLite files in tmp dirs."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from wattprint.storage import open_store
from wattprint.tracking import track

from .conftest import PowerReader

WP = [sys.executable, "-m", "wattprint"]
J_PER_KWH = 3.6e6


def wattprint_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WP, "run", *args], capture_output=True, text=True, timeout=120)


def _lock(db: Path) -> sqlite3.Connection:
    """Another writer's long transaction: holds the store's write lock (WAL readers still get through)."""
    con = sqlite3.connect(str(db), isolation_level=None, timeout=0, check_same_thread=False)
    con.execute("BEGIN EXCLUSIVE")
    return con


# -- 2: a locked store does not keep the command waiting --------------------------------------------------------
def test_a_locked_store_does_not_hold_the_command_and_the_run_is_stored_once_free(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    open_store(str(db)).close()
    marker = tmp_path / "started"
    child = (f"import time; open({str(marker)!r}, 'w').write(repr(time.time())); "
             "end = time.time() + 1.5\nwhile time.time() < end: pass")
    con = _lock(db)
    t0 = time.time()
    p = subprocess.Popen([*WP, "run", "--run", "busy1", "--interval", "0.1", "--db", str(db), "--",
                          sys.executable, "-c", child], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20  # before: nothing ran until the lock was gone or 60 s had passed
        while not marker.exists() and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), "the command did not start while the store was locked"
        assert float(marker.read_text() or t0) - t0 < 15
        time.sleep(0.5)
    finally:
        con.execute("COMMIT")  # the store is free again while the command still runs
        con.close()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "locked by another process" in err and "Traceback" not in err
    assert "NOT fully stored" not in err and "stored in" in err
    rec = open_store(str(db)).get_run("busy1")
    assert rec.status == "finished"
    assert rec.duration_s >= 1.5  # measured from the start, not from when the store was free
    assert rec.meta["command"][0] == sys.executable


def test_a_run_resumed_while_the_store_is_locked_starts_at_once_and_continues_the_stored_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wattprint.storage.sqlite as sq

    monkeypatch.setattr(sq, "BUSY_TIMEOUT_S", 5.0)  # before: start() waited this long, then failed
    db = tmp_path / "runs.db"
    first = track("lock", "res1", interval_s=0.05, readers=[PowerReader("cpu", power_w=100.0)], pue=1.0).start()
    time.sleep(0.4)
    first.stop()
    stored = open_store(str(db)).get_run("res1")
    con = _lock(db)
    try:
        t = time.monotonic()
        run = track("lock", "res1", interval_s=0.05, readers=[PowerReader("cpu", power_w=100.0)], pue=1.0,
                    quiet=True).start()
        assert time.monotonic() - t < 2.0
        assert any("locked by another process" in n for n in run.notes)
        assert run.resumed
        time.sleep(0.4)
    finally:
        threading.Timer(0.3, lambda: (con.execute("COMMIT"), con.close())).start()
    time.sleep(0.6)
    fp = run.stop()
    assert not run.unsaved
    rec = open_store(str(db)).get_run("res1")
    assert rec.status == "finished" and rec.meta["resumed"] == 1
    assert rec.started_at == stored.started_at
    assert rec.duration_s == pytest.approx(stored.duration_s + 1.0, abs=0.25)
    assert rec.energy_j["cpu"] == pytest.approx(stored.energy_j["cpu"] + 100.0, rel=0.25)
    assert fp.it_energy_kwh.value * J_PER_KWH == pytest.approx(rec.energy_j["cpu"], rel=0.01)


def test_a_run_id_being_measured_elsewhere_is_still_refused_while_the_store_is_locked(tmp_path: Path) -> None:
    from wattprint.errors import InputConflictError

    db = tmp_path / "runs.db"
    first = track("dup", "d1", interval_s=0.05, readers=[PowerReader()]).start()
    con = _lock(db)
    try:
        with pytest.raises(InputConflictError, match="already being measured in this process"):
            track("dup", "d1", interval_s=0.05, readers=[PowerReader()], quiet=True).start()
    finally:
        con.execute("COMMIT")
        con.close()
    first.stop()


# -- 5, 6: the --json record ----------------------------------------------------------------------------------
def _last_json(stdout: str) -> dict[str, Any]:
    value = json.loads(stdout.strip().splitlines()[-1])
    assert isinstance(value, dict)
    return value


def test_json_holds_the_stored_records_status_exit_code_times_and_duration(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    r = wattprint_run("--run", "j1", "--interval", "0.1", "--json", "--", sys.executable, "-c",
                      "import sys, time; time.sleep(0.3); sys.exit(3)")
    assert r.returncode == 3, r.stderr
    d = _last_json(r.stdout)
    show = subprocess.run([*WP, "runs", "show", "j1", "--json", "--db", str(db)], capture_output=True, text=True,
                          timeout=60)
    stored = json.loads(show.stdout)
    assert d["status"] == "failed" and d["exit_code"] == 3 and d["signal"] is None and d["stored"] is True
    for key in ("status", "started_at", "ended_at", "duration_s"):
        assert d[key] == stored[key], key
    assert d["duration_s"] >= 0.3


def test_json_is_printed_when_the_command_cannot_be_started(tmp_path: Path) -> None:
    r = wattprint_run("--run", "nx", "--json", "--", "wattprint-no-such-command-xyz")
    assert r.returncode == 127
    assert "cannot run 'wattprint-no-such-command-xyz'" in r.stderr
    d = _last_json(r.stdout)  # before: nothing on stdout
    assert d["run_id"] == "nx" and d["status"] == "failed" and d["exit_code"] == 127 and d["stored"] is True
    assert d["ended_at"] is not None and "total_co2e_kg" in d
    assert open_store(str(tmp_path / "runs.db")).get_run("nx").status == "failed"


# -- 7, 8: signals --------------------------------------------------------------------------------------------
def test_a_command_killed_by_a_signal_reports_the_exit_status_wattprint_returns() -> None:
    r = wattprint_run("--run", "s1", "--", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 15)")
    assert r.returncode == 128 + signal.SIGTERM
    assert f"exit {128 + signal.SIGTERM} (signal {int(signal.SIGTERM)})" in r.stderr  # before: "exit -15"
    assert "exit -" not in r.stderr
    j = wattprint_run("--run", "s2", "--json", "--", sys.executable, "-c", "import os; os.kill(os.getpid(), 15)")
    d = _last_json(j.stdout)
    assert d["exit_code"] == 143 and d["signal"] == 15 and d["status"] == "interrupted"


def test_a_forwarded_signal_marks_the_run_interrupted_even_if_the_command_exits_0(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    ready = tmp_path / "ready"
    child = ("import signal, sys, time\n"
             "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
             f"open({str(ready)!r}, 'w')\n"
             "time.sleep(60)\n")
    p = subprocess.Popen([*WP, "run", "--run", "f1", "--interval", "0.1", "--", sys.executable, "-c", child],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists()
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err  # the command's own exit code
    assert "run f1 (interrupted, exit 0)" in err
    assert open_store(str(db)).get_run("f1").status == "interrupted"  # before: "finished"


# -- 9: --help --------------------------------------------------------------------------------------------------
def test_help_has_no_rst_markup() -> None:
    r = subprocess.run([*WP, "run", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert "``" not in r.stdout
    assert "Run a command as a child process" in r.stdout and "interrupted" in r.stdout
