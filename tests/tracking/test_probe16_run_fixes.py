"""Findings of an adversarial probe of `wattprint run` and the tracker (session 16), each as the behaviour it now has:
a signal after the command ended no longer kills the report (with a locked store, the only copy of the figures),
the stored end time is the last reading's, a Ctrl-C reaches a command in its own session, a phase needs a name,
an empty command or a huge interval is a usage error, and a config file's relative store path is its neighbour."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from wattprint.cli import main
from wattprint.errors import AmbiguousNameError, InputConflictError, UnknownNameError
from wattprint.storage import open_store
from wattprint.tracking import track
from wattprint.tracking.config import load_config

from .conftest import PowerReader
from .test_locked_store_stop import CLI_WITH_GRACE, _hold_write_lock, _release_after


def test_a_signal_while_the_end_waits_for_a_locked_store_loses_nothing(tmp_path: Path) -> None:
    """SIGTERM during stop()'s wait for a locked store killed wattprint: no report, nothing stored, exit 143 for a
    command that exited 0. Now it is said, the run is stored once the lock goes, and the command's code is kept;
    the stored end is the last reading's, not the moment the store took the write."""
    db = tmp_path / "t.db"
    open_store(str(db)).close()
    con = _hold_write_lock(db)
    timer = _release_after(con, 4.0)
    try:
        p = subprocess.Popen(
            [sys.executable, "-c", CLI_WITH_GRACE, "20", "run", "--db", str(db), "--run", "sig", "--interval", "0.2",
             "--json", "--", sys.executable, "-c", "pass"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.5)  # the command has ended; stop() waits for the store
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        timer.join(15)
    assert p.returncode == 0, err
    assert "finishing the run's record" in err and "Traceback" not in err, err
    record = json.loads(out.strip().splitlines()[-1])
    assert record["stored"] is True and record["status"] == "finished"
    span = (datetime.fromisoformat(record["ended_at"]) - datetime.fromisoformat(record["started_at"])).total_seconds()
    assert span < 2.5, record  # it ended at its last reading, not when the lock was released (4 s)


def test_ctrl_c_reaches_a_command_in_its_own_session(tmp_path: Path) -> None:
    """A terminal's Ctrl-C goes to its foreground group; a command started with setsid is not in it, so
    wattprint must forward it (it skipped SIGINT whenever itself was in the foreground group)."""
    script = (
        "import os, pty, sys, time\n"
        "pid, fd = pty.fork()\n"
        "if pid == 0:\n"
        f"    os.execv(sys.executable, [sys.executable, '-m', 'wattprint', 'run', '--db', {str(tmp_path / 'c.db')!r},"
        " '--interval', '0.2', '--', 'setsid', 'sleep', '30'])\n"
        "time.sleep(3)\n"
        "os.write(fd, b'\\x03')\n"
        "t0 = time.time()\n"
        "while time.time() - t0 < 20:\n"
        "    done, status = os.waitpid(pid, os.WNOHANG)\n"
        "    if done:\n"
        "        print('exit', os.waitstatus_to_exitcode(status))\n"
        "        break\n"
        "    try:\n"
        "        os.read(fd, 4096)\n"
        "    except OSError:\n"
        "        pass\n"
        "    time.sleep(0.1)\n"
        "else:\n"
        "    os.kill(pid, 9)\n"
        "    print('hung')\n")
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    assert p.stdout.strip().splitlines()[-1] == "exit 130", (p.stdout, p.stderr)


def test_a_phase_needs_a_name_and_a_bad_one_costs_the_run_nothing(tmp_path: Path) -> None:
    """phase(None) was accepted; at stop() the NOT NULL constraint lost every sample of the run."""
    db = tmp_path / "p.db"
    with track("p", "ph", db=str(db), readers=[PowerReader(power_w=50.0)], interval_s=0.05, quiet=True) as run:
        for bad in (None, "", {"k": 1}, "a\nb", "x" * 500):
            with pytest.raises(InputConflictError), run.phase(bad):  # type: ignore[arg-type]
                pass
        # a blank name: no advice to leave it out, since a phase must have one
        with pytest.raises(InputConflictError, match="is blank; give a name$"), run.phase(" "):
            pass
        with run.phase("train"):
            time.sleep(0.1)
    assert not run.unsaved
    with open_store(str(db), readonly=True) as store:
        rec = store.get_run("ph")
    assert rec.status == "finished" and rec.energy_j and "train" in rec.summary["phases"]


@pytest.mark.parametrize(("argv", "said"), [
    (["run", "--", ""], "command's name is empty"),
    (["run", "--interval", "5000", "--", "true"], "above 3600 s"),
])
def test_usage_errors_of_run(argv: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([argv[0], "--db", str(tmp_path / "u.db"), *argv[1:]]) == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "u.db").exists() or "failed" not in (tmp_path / "u.db").read_bytes().decode("latin-1")


def test_a_relative_store_path_in_a_config_file_is_the_files_neighbour(tmp_path: Path) -> None:
    """`db = "runs.db"` in ~/.config/wattprint/config.toml made one store per working directory."""
    conf = tmp_path / "home" / "wattprint" / "config.toml"
    conf.parent.mkdir(parents=True)
    conf.write_text('db = "runs.db"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "home")}
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    assert load_config(environ=env, cwd=str(elsewhere)).db == str(conf.parent / "runs.db")
    conf.write_text('db = ""\n')
    with pytest.raises(InputConflictError, match="must be a path"):
        load_config(environ=env, cwd=str(elsewhere))


def test_resuming_at_another_site_says_the_whole_run_is_priced_at_this_one(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    with track("p", "same", db=db, readers=[PowerReader(power_w=50.0)], interval_s=0.05, quiet=True, location="FR"):
        time.sleep(0.1)
    with track("p", "same", db=db, readers=[PowerReader(power_w=50.0)], interval_s=0.05, quiet=True,
               location="FR") as again:
        pass
    assert not any(a.what == "resumed run, other site" for a in again.footprint().assumptions)
    with track("p", "same", db=db, readers=[PowerReader(power_w=50.0)], interval_s=0.05, quiet=True,
               location="PL") as moved:
        pass
    said = next(a for a in moved.footprint().assumptions if a.what == "resumed run, other site")
    assert said.value == "location France (FRA) (now Poland (POL))"


def test_resuming_with_another_given_intensity_says_so_too(tmp_path: Path) -> None:
    """--intensity 10, then the same run resumed with --intensity 1000: the earlier energy is priced at 1000 too,
    which went unsaid (a given intensity has no location to tell the sites apart)."""
    db = str(tmp_path / "i.db")
    for g in (10.0, 10.0):
        with track("p", "grid", db=db, readers=[PowerReader(power_w=50.0)], interval_s=0.05, quiet=True,
                   intensity=g) as same:
            time.sleep(0.1)
    assert not any(a.what == "resumed run, other site" for a in same.footprint().assumptions)
    with track("p", "grid", db=db, readers=[PowerReader(power_w=50.0)], interval_s=0.05, quiet=True,
               intensity=1000.0) as moved:
        pass
    said = next(a for a in moved.footprint().assumptions if a.what == "resumed run, other site")
    assert said.value == "grid intensity 10 gCO2e/kWh (now 1000)" and "--intensity" in said.note
    with track("p", "grid", db=db, readers=[PowerReader(power_w=50.0)], interval_s=0.05, quiet=True,
               intensity=1000.0) as again:  # the earlier values are kept: still said on the next resume
        pass
    assert any(a.what == "resumed run, other site" for a in again.footprint().assumptions)


def test_an_ambiguous_run_id_prefix_is_called_ambiguous(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    for rid in ("job-1", "job-2"):
        with track("p", rid, db=db, readers=[PowerReader(power_w=50.0)], interval_s=0.05, quiet=True):
            pass
    with open_store(db, readonly=True) as store, pytest.raises(AmbiguousNameError, match="ambiguous run id prefix") \
            as err:
        store.find_run("job-")
    # says the two ids and what to do once: not the count twice
    assert str(err.value).endswith("matches 2 different entries (job-2, job-1); name one (or give more of the id)")


def test_a_bad_setting_from_the_environment_says_where_it_came_from(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`WATTPRINT_LOCATION=Narnia wattprint run ...` gave the error of `--location Narnia`, a flag never typed."""
    monkeypatch.setenv("WATTPRINT_LOCATION", "Narnia")
    with pytest.raises(InputConflictError, match=r"unknown location .*\(location from env WATTPRINT_LOCATION\)"):
        track("p", db=str(tmp_path / "e.db"), readers=[PowerReader(power_w=1.0)], quiet=True).start()
    monkeypatch.delenv("WATTPRINT_LOCATION")
    monkeypatch.setenv("WATTPRINT_PUE", "hyperscal")  # a preset name, as a number already was
    with pytest.raises(UnknownNameError, match=r"unknown PUE preset .*hyperscale.*\(pue from env WATTPRINT_PUE\)"):
        track("p", db=str(tmp_path / "e.db"), readers=[PowerReader(power_w=1.0)], quiet=True).start()
    monkeypatch.delenv("WATTPRINT_PUE")
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_text("x" * 200)
    monkeypatch.setenv("WATTPRINT_DB", str(not_a_store))
    with pytest.raises(InputConflictError, match=r"not a wattprint store.*\(db from env WATTPRINT_DB\)"):
        track("p", readers=[PowerReader(power_w=1.0)], quiet=True).start()
    # given as an argument, it is the user's own: no source added
    with pytest.raises(Exception, match="unknown location") as e:
        track("p", db=str(tmp_path / "e.db"), location="Narnia", readers=[PowerReader(power_w=1.0)]).start()
    assert "from" not in str(e.value).split(")")[-1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may create files in any folder")
def test_a_store_in_a_folder_this_user_cannot_write_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(Exception, match="this user may not create files in"):
            track("p", db=str(folder / "x.db"), readers=[PowerReader(power_w=1.0)], quiet=True).start()
    finally:
        folder.chmod(0o755)


def test_an_in_memory_store_or_a_relative_ledger_folder_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """--db :memory: made a file named ':memory:' in the working directory; a relative WATTPRINT_STATE_DIR gave
    each working directory a ledger of its own, so runs on one node did not coordinate."""
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--db", ":memory:", "--", "true"]) == 2
    assert "':memory:' is not a store" in capsys.readouterr().err and not (tmp_path / ":memory:").exists()
    monkeypatch.setenv("WATTPRINT_STATE_DIR", "relative/dir")
    notes: list[str] = []
    with track("p", db=str(tmp_path / "m.db"), readers=[PowerReader(power_w=1.0)], notify=notes.append):
        pass
    assert any("relative path" in n for n in notes) and not (tmp_path / "relative").exists()
