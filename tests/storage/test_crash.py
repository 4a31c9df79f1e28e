"""A writer killed with SIGKILL leaves a run that reads back up to its last persisted sample."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wattprint.storage import open_store

WRITER = textwrap.dedent("""
    import sys, time
    from wattprint.storage import SampleRow, open_store
    store = open_store(sys.argv[1])
    store.begin_run("crash", "p", time.time(), {"basis": {"gpu": "measured"}})
    elapsed = 0.0
    for batch in range(10_000):
        rows = []
        for _ in range(5):
            elapsed += 0.5
            rows.append(SampleRow(time.time(), elapsed, "train", {"gpu": 150.0 * elapsed}, {"gpu": 150.0}))
        store.append_samples("crash", rows, {"it_energy_kwh": 150.0 * elapsed / 3.6e6, "batch": batch})
        print(elapsed, flush=True)   # only after the transaction committed
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_leaves_a_running_run_up_to_the_last_persisted_sample(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    reported = [float(proc.stdout.readline()) for _ in range(20)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with open_store(str(db)) as store:
        run = store.get_run("crash")
        samples = store.samples("crash")
    assert run.status == "running" and run.ended_at is None  # reads as unfinished
    assert run.duration_s >= reported[-1]  # everything reported as committed is there
    last = samples[-1]
    assert run.duration_s == last.elapsed_s
    assert run.energy_j == last.energy_j == {"gpu": 150.0 * last.elapsed_s}
    assert len(samples) == last.elapsed_s / 0.5  # whole batches only: no torn transaction
    assert run.summary["it_energy_kwh"] == pytest.approx(150.0 * last.elapsed_s / 3.6e6)
    d = run.to_dict()
    json.dumps(d)
    assert d["status"] == "running"


def test_a_killed_run_can_be_resumed(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for _ in range(3):
        proc.stdout.readline()
    proc.kill()
    proc.wait()
    with open_store(str(db)) as store:
        rec = store.begin_run("crash", "p", 0.0, {})
        assert rec.status == "running" and rec.meta["resumed"] == 1
        assert rec.meta["status_before_resume"] == "running"
        assert rec.duration_s >= 7.5
        store.finish_run("crash", "finished", {})
        assert store.get_run("crash").status == "finished"
