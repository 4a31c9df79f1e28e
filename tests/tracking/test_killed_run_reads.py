"""What a reader sees of a run still stored as running (killed with SIGKILL here) adds up to its stored totals:
its segments (the last made up to them, as a resume does) and its phases (every ended phase row stored), in
`runs show --json`, `runs list --json` and `runs export`; and a resume of it continues from every ended phase.
The summary that lists them is written in full only every FULL_SUMMARY_EVERY_S (30 s), far after these kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wattprint.storage import open_store

from ..stores import wait_until_stored

WP = [sys.executable, "-m", "wattprint"]

KILLED_IN_EVAL = """
import sys, time, wattprint
with wattprint.track("kp", "kph", db=sys.argv[1], interval_s=0.1, location="FR", quiet=True) as run:
    with run.phase("train"):
        time.sleep(0.3)
    with run.phase("eval"):
        time.sleep(120)
"""

RESUMED = """
import json, sys, time, wattprint
with wattprint.track("kp", "kph", db=sys.argv[1], interval_s=0.1, location="FR", quiet=True) as run:
    with run.phase("eval"):
        time.sleep(0.2)
print(json.dumps({name: fp.to_dict(assumptions=False) for name, fp in run.phase_footprints().items()}))
"""

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def _kill(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the tracker and what it runs, as a scheduler's kill -9 would
    proc.wait(timeout=30)


def _wp_json(*args: str) -> Any:
    out = subprocess.run([*WP, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _assert_segments_add_up(d: dict[str, Any]) -> None:
    segments = d["segments"]
    assert sum(s["duration_s"] for s in segments) == pytest.approx(d["duration_s"], rel=1e-9)
    for key in ("it_energy_kwh", "it_energy_kwh_low", "it_energy_kwh_high"):
        assert sum(s[key] for s in segments) == pytest.approx(d[key], rel=1e-6), key
    for comp, c in d["energy_by_component_kwh"].items():
        assert sum(s["energy_by_component_kwh"][comp] for s in segments) == pytest.approx(c["kwh"], rel=1e-6)


def test_a_killed_wattprint_run_reads_back_with_segments_that_add_up(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = subprocess.Popen([*WP, "run", "--db", str(db), "--run", "k1", "--interval", "0.2", "--", "sleep", "120"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        wait_until_stored(db, "k1", lambda _s, r: r.duration_s > 1.0 and sum(r.energy_j.values()) > 0)
    finally:
        _kill(proc)
    shown = _wp_json("runs", "show", "k1", "--db", str(db), "--json")
    assert shown["status"] == "running" and shown["duration_s"] > 1.0
    _assert_segments_add_up(shown)
    (listed,) = _wp_json("runs", "list", "--db", str(db), "--json")
    assert listed["segments"] == shown["segments"]


def test_a_killed_tracked_run_keeps_its_ended_phases_for_readers_and_for_its_resume(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_IN_EVAL, str(db)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)

    def train_ended_long_ago(store: Any, run: Any) -> bool:
        ends = [p["end_s"] for p in store.phases(run.id) if p["name"] == "train" and p["end_s"] is not None]
        return bool(ends) and run.duration_s > ends[0] + 0.5

    try:
        wait_until_stored(db, "kph", train_ended_long_ago)
    finally:
        _kill(proc)
    with open_store(str(db), readonly=True) as store:
        (train_row,) = [p for p in store.phases("kph") if p["name"] == "train"]
    train_kwh = sum(train_row["energy_j"].values()) / 3.6e6
    shown = _wp_json("runs", "show", "kph", "--db", str(db), "--json")
    assert list(shown["phases"]) == ["train"]  # eval is still open: it has no total yet
    train = shown["phases"]["train"]
    assert train["count"] == 1 and train["it_energy_kwh"] == pytest.approx(train_kwh)
    assert train["duration_s"] == pytest.approx(train_row["end_s"] - train_row["start_s"])
    assert train["energy_kwh"] == pytest.approx(train_kwh * shown["pue"])  # priced as the run is
    assert train["total_co2e_kg"] > 0
    _assert_segments_add_up(shown)
    (exported,) = _wp_json("runs", "export", "--db", str(db), "--format", "json")
    assert exported["it_energy_kwh"] == pytest.approx(shown["it_energy_kwh"])

    resumed = subprocess.run([sys.executable, "-c", RESUMED, str(db)], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    phases = json.loads(resumed.stdout)
    assert set(phases) == {"train", "eval"}  # train ended before the kill: it counts
    assert phases["train"]["it_energy_kwh"] == pytest.approx(train_kwh)
    final = _wp_json("runs", "show", "kph", "--db", str(db), "--json")
    assert final["status"] == "finished"
    assert (final["phases"]["train"]["count"], final["phases"]["eval"]["count"]) == (1, 2)
    assert final["phases"]["train"]["it_energy_kwh"] == pytest.approx(train_kwh)
