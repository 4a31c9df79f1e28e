"""Every JSON form of a projection carries the same fields, null where a figure is unknown (no central value) or
unbounded (nothing to project from yet), never Infinity or NaN: ``Projection.to_dict()`` and, for a run killed
while its live figures carry such a projection (a JSON merge patch drops a null key), ``runs show --json`` and
``runs list --json``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wattprint.quantities import Range
from wattprint.storage import open_store
from wattprint.tracking.projection import Projector

WP = [sys.executable, "-m", "wattprint"]
FIGURES = [f"{name}{end}" for name in ("projected_energy_kwh", "projected_co2e_kg") for end in ("", "_low", "_high")]
FIELDS = ["fraction_done", "step", "total_steps", "made_at_elapsed_s", *FIGURES, "energy_so_far_kwh", "windows",
          "method"]

# progress(0, n) once the first full summary is stored: the projection then reaches the store in the live figures'
# merge patch only (the next full summary is 30 s away)
PROJECTED_AT_STEP_0 = """
import sys, time, wattprint
from wattprint.storage import open_store
with wattprint.track("pj", "pj0", db=sys.argv[1], interval_s=0.1, location="FR", quiet=True) as run:
    while not any(r.summary.get("energy_kwh") is not None for r in open_store(sys.argv[1], readonly=True).list_runs()):
        time.sleep(0.05)
    run.progress(0, 10)
    time.sleep(120)
"""


def killed_at_step_0(db: Path, ready: Callable[[Path], bool], never: str) -> None:
    """Run PROJECTED_AT_STEP_0 (run 'pj0') against the store ``db`` and SIGKILL it once ``ready(db)``; ``never``:
    what the failure says if that does not come within a minute."""
    proc = subprocess.Popen([sys.executable, "-c", PROJECTED_AT_STEP_0, str(db)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not ready(db):
            assert time.monotonic() < deadline and proc.poll() is None, never
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def stored_projection(db: Path) -> Any:
    """The projection stored for the run so far (None: none yet, or no run or store yet)."""
    if not (db.exists() and db.stat().st_size):
        return None
    with open_store(str(db), readonly=True) as store:
        return next((r.summary.get("projection") for r in store.list_runs()), None)


def strict_json(text: str) -> Any:
    """``text`` parsed as strict JSON: Infinity or NaN in it fails the test."""
    def refuse(name: str) -> Any:
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_an_unbounded_projection_is_all_its_fields_with_null_for_what_is_not_known() -> None:
    proj = Projector(min_window_s=1.0).project(0, 10, 3.6e5, 5.0, Range.exact(1.2), Range.exact(50.0),
                                               Range.exact(0.01))
    assert proj.energy_kwh.high == float("inf")  # nothing to project from: unbounded above
    d = proj.to_dict()
    assert list(d) == FIELDS
    assert d["projected_energy_kwh"] is d["projected_co2e_kg"] is None  # no central value
    assert d["projected_energy_kwh_high"] is d["projected_co2e_kg_high"] is None  # unbounded
    assert d["projected_energy_kwh_low"] == pytest.approx(0.1 * 1.2)
    assert strict_json(json.dumps(d)) == d


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_runs_projection_reads_back_with_every_field(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    killed_at_step_0(db, lambda d: stored_projection(d) is not None, "the run never stored a projection")

    for args in (["runs", "show", "pj0", "--json"], ["runs", "list", "--json"]):
        out = subprocess.run([*WP, *args, "--db", str(db)], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        d = strict_json(out.stdout)
        p = (d if isinstance(d, dict) else d[0])["projection"]
        assert set(FIELDS) <= set(p), (args, sorted(set(FIELDS) - set(p)))
        assert p["step"] == 0 and p["total_steps"] == 10
        for key in ("projected_energy_kwh", "projected_energy_kwh_high", "projected_co2e_kg",
                    "projected_co2e_kg_high"):
            assert p[key] is None, (args, key)
        assert isinstance(p["projected_energy_kwh_low"], float) and isinstance(p["projected_co2e_kg_low"], float)
