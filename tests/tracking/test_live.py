"""The figures the sampler stores between full summaries are those of the full footprint model."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from wattprint.footprint import Basis, ComponentEnergy, Footprint, Intensity
from wattprint.quantities import Range
from wattprint.storage import SlotPatch, open_store
from wattprint.tracking import track
from wattprint.tracking.live import LiveFigures


def _assert_matches(patch: dict[str, Any], full: dict[str, Any], path: str = "") -> None:
    for k, v in patch.items():
        assert k in full, f"{path}{k} is not a footprint field"
        if isinstance(v, dict):
            _assert_matches(v, full[k], f"{path}{k}.")
        elif isinstance(v, float):
            assert v == pytest.approx(full[k], rel=1e-9, abs=1e-15), f"{path}{k}"
        else:
            assert v == full[k], f"{path}{k}"


@pytest.mark.parametrize("seed", range(20))
def test_patch_equals_the_footprint_model(seed: int) -> None:
    rnd = random.Random(seed)
    pue = Range.relative(rnd.uniform(1.0, 1.6), 1.0, rnd.uniform(1.0, 1.3))
    pue = Range(pue.value, max(1.0, pue.value * rnd.uniform(0.8, 1.0)), pue.high)
    ci = Range.relative(rnd.uniform(10, 900), rnd.uniform(0.3, 1.0), rnd.uniform(1.0, 2.5))
    rate = Range.relative(rnd.uniform(0, 0.05), rnd.uniform(0.2, 1.0), rnd.uniform(1.0, 3.0))
    charged: dict[str, tuple[float, float, float]] = {}
    for comp in rnd.sample(["gpu", "cpu", "ram", "other"], rnd.randint(1, 4)):
        v = rnd.uniform(0, 5e7)
        charged[comp] = (v, v * rnd.uniform(0.4, 1.0), v * rnd.uniform(1.0, 2.0))
    basis: dict[str, Basis] = {c: rnd.choice(["measured", "modelled"]) for c in charged}
    elapsed = rnd.uniform(0, 3e5)
    gpus = rnd.randint(0, 8)
    hours = elapsed / 3600
    fp = Footprint(
        energy_by_component_kwh={c: ComponentEnergy(Range(*v) / 3.6e6, basis[c]) for c, v in sorted(charged.items())},
        pue=pue, intensity=Intensity(ci, "XX", "test", None, "test"), embodied_co2e_kg=rate * hours,
        kind="measured", chip_hours=Range.exact(gpus * hours) if gpus else None, wall_time_h=Range.exact(hours))
    patch = LiveFigures(pue, ci, rate).patch(charged, dict(basis), elapsed, gpus)
    _assert_matches(patch, fp.to_dict(assumptions=False))
    assert {"energy_kwh", "it_energy_kwh_low", "operational_co2e_kg_high", "total_co2e_kg",
            "embodied_co2e_kg_low", "wall_time_h", "energy_by_component_kwh"} <= set(patch)
    assert ("chip_hours" in patch) == bool(gpus)
    # every figure that grows with the energy or the time is patched, or the store keeps a stale one until the
    # next full summary (for good, if the run dies before it)
    growing = ("energy", "it_energy", "chip_hours", "wall_time", "operational", "embodied", "total")
    assert {k for k in fp.to_dict(assumptions=False) if k.startswith(growing)} <= set(patch)


def test_a_running_tracker_stores_the_figures_of_its_footprint(tmp_path: Any) -> None:
    """Between full summaries the stored figures come from LiveFigures; they must be the footprint's."""
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    run = track("live", run="r1", db=db, interval_s=0.05, quiet=True)
    run.start()
    try:
        time.sleep(0.4)
        snap = run.sampler.snapshot if run.sampler is not None else None
        assert snap is not None and snap.samples >= 3
        assert run._live is not None  # a full summary was written: the float path is in use
        slots = run._live_summary(snap)  # what the sampler writes at each interval
        assert isinstance(slots, SlotPatch)
        live = slots.to_dict()
        _assert_matches(live, run._footprint(snap).to_dict(assumptions=False))
        assert live["it_energy_kwh"] > 0 and live["embodied_co2e_kg"] > 0
    finally:
        run.stop()
    stored = open_store(db).get_run("r1").summary
    final = run.footprint().to_dict(assumptions=False)
    for k in ("energy_kwh", "operational_co2e_kg_high", "embodied_co2e_kg", "total_co2e_kg_low"):
        assert stored[k] == pytest.approx(final[k], rel=1e-9)


def test_the_stored_run_has_its_full_summary_from_start(tmp_path: Any) -> None:
    """start() writes the baseline's full summary (settings, assumptions, figures) before any interval."""
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    run = track("live", run="r0", db=db, interval_s=3600, location="FR", quiet=True)
    run.start()
    try:
        rec = open_store(db).get_run("r0")
        assert rec.status == "running"
        s = rec.summary
        assert s["run_id"] == "r0" and "FRA" in s["location"]
        assert any("PUE" in a["what"] for a in s["assumptions"])
        assert s["energy_kwh"] >= 0 and "operational_co2e_kg_high" in s and s["charged_scope"]
    finally:
        run.stop()


def test_the_figures_sqlite_writes_between_full_summaries_are_the_footprints(tmp_path: Any) -> None:
    """An interval's figures go to the store as numbers SQLite writes into JSON (json_object of bound values):
    the stored summary must then read as the footprint of that reading."""
    db = f"sqlite:///{tmp_path / 'runs.db'}"
    run = track("live", run="r2", db=db, interval_s=3600, location="DE", quiet=True)  # the thread sleeps
    run.start()
    try:
        s = run.sampler
        assert s is not None
        for _ in range(3):
            time.sleep(0.05)
            s._reading()
            summary, patch = s._summaries()
            assert summary == {} and isinstance(patch, SlotPatch)  # an interval update, not a full summary
            s.store.append_samples(s.run_id, s._pending, summary, summary_patch=patch)
            s._pending = []
            snap = s.snapshot
            assert snap is not None
            stored = open_store(db).get_run("r2")
            want = run._footprint(snap).to_dict(assumptions=False)
            assert stored.duration_s == pytest.approx(snap.elapsed_s)
            _assert_matches({k: v for k, v in stored.summary.items() if k in live_keys(want)}, want)
            assert stored.summary["energy_by_component_kwh"]["cpu"]["basis"] == "modelled"
            assert "assumptions" in stored.summary  # the full summary's other keys are kept
    finally:
        run.stop()


def live_keys(full: dict[str, Any]) -> set[str]:
    return {k for k in full if k.endswith(("kwh", "_low", "_high", "_kg", "_h")) or k == "energy_by_component_kwh"}
