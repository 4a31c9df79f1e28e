"""A phase its process never closed (killed inside it): while the run is stored as running, `runs show` gives the
phase's energy so far from its samples (it said 0 kWh), and a resumed run closes it where the killed segment's
figures end, with that energy, in the phase table and in the run's phase totals (the finished run showed the
phase still "running" at 0 kWh, and no phase in its summary)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from wattprint.storage import open_store
from wattprint.tracking import track

from .conftest import PowerReader, wait_for

KILLED_INSIDE_A_PHASE = r"""
import sys, time, wattprint
with wattprint.track("p", "ph", db=sys.argv[1], interval_s=0.1) as run:
    with run.phase("train"):
        print("in", flush=True)
        time.sleep(60)
"""


def _stored_energy(db: Path) -> float:
    with open_store(str(db), readonly=True) as store:
        return sum(store.get_run("ph").energy_j.values())


def test_a_phase_left_open_by_a_killed_process_is_measured_and_closed_on_resume(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    p = subprocess.Popen([sys.executable, "-c", KILLED_INSIDE_A_PHASE, str(db)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "in"
        assert wait_for(lambda: db.exists() and _stored_energy(db) > 0, 30)
        time.sleep(0.5)
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
    with open_store(str(db), readonly=True) as store:
        (ph,) = store.phases("ph")
        run = store.get_run("ph")
    assert ph["end_s"] is None and sum(ph["energy_j"].values()) > 0
    shown = subprocess.run([sys.executable, "-m", "wattprint", "runs", "show", "ph", "--db", str(db)],
                           capture_output=True, text=True, timeout=60)
    line = next(x for x in shown.stdout.splitlines() if "phase train" in x)
    assert "open" in line and "so far" in line and " 0 kWh" not in line, shown.stdout

    killed_s, killed_j = float(run.duration_s), sum(run.energy_j.values())
    with track("p", "ph", db=str(db), readers=[PowerReader(power_w=50.0)], interval_s=0.05, quiet=True) as again:
        time.sleep(0.2)
    with open_store(str(db), readonly=True) as store:
        (ph,) = store.phases("ph")
        done = store.get_run("ph")
    assert done.status == "finished"
    assert ph["end_s"] == killed_s  # where the killed segment's figures end
    assert 0 < sum(ph["energy_j"].values()) <= killed_j * (1 + 1e-9)
    # the run's summary: the phase joins its totals (the resumed segment had no phase of its own)
    assert done.summary["phases"]["train"]["count"] == 1, done.summary.get("phases")
    assert done.summary["phases"]["train"]["energy_j"] == ph["energy_j"]
    assert again.footprint().energy_kwh.value > 0
