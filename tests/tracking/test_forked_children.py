"""A process forked while a run is measured (a multiprocessing or DataLoader worker, os.fork) inherits the run's
signal handlers and exit hook but not its sampler thread: it must behave as an untracked process, at once, and leave
the parent's run alone. Before, each such child waited stop()'s bound (30 s) for a sampler it did not have, at exit
or on SIGTERM (Process.terminate(), a Pool's end), and said that the parent's final reading had not finished."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wattprint.storage import open_store

SCRIPT = r"""
import json, multiprocessing as mp, os, sys, time
import wattprint

def sleeper():
    time.sleep(60)

out = {}
with wattprint.track("fork", "parent1", db=sys.argv[1], interval_s=0.2) as run:
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        sys.exit(0)  # a child that just exits: the inherited exit hook runs here
    os.waitpid(pid, 0)
    out["exit_s"] = time.monotonic() - t0

    ctx = mp.get_context("fork")
    p = ctx.Process(target=sleeper)
    p.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    p.terminate()  # SIGTERM: the inherited handler
    p.join(60)
    out["terminate_s"], out["exitcode"] = time.monotonic() - t0, p.exitcode

    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            fp = run.stop()  # a child leaving the block (it returned through the `with`) ends nothing
            os._exit(0 if fp.energy_kwh.value >= 0 else 3)
        except BaseException:
            os._exit(4)
    _, code = os.waitpid(pid, 0)
    out["stop_s"], out["stop_code"] = time.monotonic() - t0, os.waitstatus_to_exitcode(code)
    time.sleep(0.4)
print(json.dumps(out))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_children_exit_at_once_and_leave_the_parents_run_alone(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(db)], capture_output=True, text=True, timeout=240,
                       env={**os.environ, "WATTPRINT_STATE_DIR": str(tmp_path / "state")})
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["exit_s"] < 5 and out["terminate_s"] < 5 and out["stop_s"] < 5, out
    assert out["exitcode"] == -15 and out["stop_code"] == 0, out
    assert "did not finish" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    with open_store(str(db), readonly=True) as store:
        rec = store.get_run("parent1")
        assert rec.status == "finished" and store.sample_count("parent1") >= 2  # its start and end, at least
