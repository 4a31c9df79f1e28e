"""`wattprint runs list|show` tables (real subprocesses, real stores): they carry what the end-of-run summary says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattprint.footprint import Assumption, ComponentEnergy, Footprint, Intensity
from wattprint.quantities import Range
from wattprint.storage import SampleRow, open_store

DEVICE_NOTE = "RAM power modelled for the host's total 23.5 GiB: no cgroup or SLURM memory limit found"


def _wattprint(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "WATTPRINT_STATE_DIR": str(home / "state"), "XDG_CONFIG_HOME": str(home)}
    env.pop("WATTPRINT_DB", None)
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def short_run(tmp_path: Path) -> Path:
    """A stored 138 ms run on two GPUs, with a noted assumption, device notes and its sampling interval."""
    db = tmp_path / "runs.db"
    fp = Footprint({"gpu": ComponentEnergy(Range.exact(2e-5), "measured"),
                    "ram": ComponentEnergy(Range(1e-6, 0.9e-6, 1.1e-6), "modelled")},
                   Range(1.56, 1.15, 1.8), Intensity.fixed(400), embodied_co2e_kg=Range(1e-5, 5e-6, 2e-5),
                   assumptions=[Assumption("PUE", "1.56 (1.15–1.8)", "Uptime Institute 2024",
                                           "range spans the hyperscale class to the enterprise room")],
                   kind="measured", chip_hours=Range.exact(2 * 0.1384 / 3600), wall_time_h=Range.exact(0.1384 / 3600))
    summary = {**fp.to_dict(), "device_notes": [DEVICE_NOTE], "interval_s": 0.5}
    t0 = time.time()
    with open_store(str(db)) as s:
        s.begin_run("short", "p", t0, {"interval_s": 0.5})
        s.append_samples("short", [SampleRow(t0 + 0.1384, 0.1384, None, {"gpu": 72.0, "ram": 3.6},
                                             {"gpu": 520.0, "ram": 26.0})], summary)
        s.finish_run("short", "finished", summary, ended_at=t0 + 0.1384)
    return db


def test_show_has_chip_hours_interval_assumption_notes_and_device_notes(short_run: Path, tmp_path: Path) -> None:
    r = _wattprint("runs", "show", "short", "--db", str(short_run), home=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = dict(re.findall(r"^  (\S[^ ]*(?: [^ ]+)*) {2,}(.+)$", r.stdout, re.M))  # label, value
    assert rows["chip-hours"] == f"{2 * 0.1384 / 3600:.4g} h"
    assert rows["sampling interval"] == "0.5 s"
    assert rows["duration"] == "0.138 s"  # not 0:00:00
    assert "    - PUE: 1.56 (1.15–1.8) — range spans the hyperscale class to the enterprise room [Uptime Institute " \
           "2024]" in r.stdout
    assert f"  device notes:\n    - {DEVICE_NOTE}" in r.stdout


def test_list_says_its_co2e_is_the_total_and_shows_a_short_duration(short_run: Path, tmp_path: Path) -> None:
    r = _wattprint("runs", "list", "--db", str(short_run), home=tmp_path)
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()[:2]
    assert header.split()[-3:] == ["TOTAL", "CO2e", "kg"]
    assert "0.138 s" in row and "0:00:00" not in row


def test_show_repeats_the_summary_s_assumptions_of_a_run_resumed_at_another_site(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    command = ("--", sys.executable, "-c", "pass")
    first = _wattprint("run", "--db", db, "--run", "rr", "--location", "FR", "--pue", "1.1", *command, home=tmp_path)
    assert first.returncode == 0, first.stderr
    resumed = _wattprint("run", "--db", db, "--run", "rr", "--location", "PL", "--pue", "1.5", *command, home=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = resumed.stderr.splitlines()
    start = summary.index("  assumptions:")
    assumptions = [line for line in summary[start + 1:] if line.startswith("    - ")]
    assert any("the whole run's emissions are priced at this segment's site" in a for a in assumptions)
    shown = _wattprint("runs", "show", "rr", "--db", db, home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert [line for line in shown.stdout.splitlines() if line in assumptions] == assumptions
    for note in (line.removeprefix("wattprint: ") for line in resumed.stderr.splitlines()
                 if line.startswith("wattprint: ") and "modelled" in line):  # the devices' notes, where modelled
        assert f"    - {note}" in shown.stdout


def test_show_of_an_empty_run_id_says_it_is_empty(short_run: Path, tmp_path: Path) -> None:
    # `runs show "$RUN"` with RUN unset listed the closest ids to '' as if it were a typo of one
    r = _wattprint("runs", "show", "", "--db", str(short_run), home=tmp_path)
    assert r.returncode == 2 and "given an empty value" in r.stderr and "closest" not in r.stderr
    assert r.stderr.count("\n") == 1
