"""A projection of a run's final total never starts below what was measured: not below the energy and CO2e so far
when it was made (bound by bound: each bound of the projection carries the same PUE, intensity and modelled
components' bound as that of the amount so far), and, read back for a run whose totals went on growing after its
last ``progress()`` call, not below those totals: stored (``runs show``, its ``--json``, ``runs list --json``) or in
the process that measures it (``run.summary()``)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from wattprint.quantities import Range
from wattprint.storage import open_store
from wattprint.storage.records import J_PER_KWH
from wattprint.tracking import track
from wattprint.tracking.projection import FIELDS, NO_INTERVAL_YET, RAISED, Projection, Projector, stored_fields

from .conftest import PowerReader, measuring, wait_for
from .test_projection_json import killed_at_step_0

WP = [sys.executable, "-m", "wattprint"]
PUE = Range(1.5, 1.2, 1.8)
INTENSITY = Range(100.0, 80.0, 120.0)
MEASURED = Range(1.0, 0.7, 1.4)  # modelled components: the IT energy's range relative to its value
EMBODIED_KG = Range(0.01, 0.005, 0.02)


def so_far(energy_j: float) -> tuple[Range, Range]:
    """(facility kWh, CO2e kg) measured so far, with the same factors a projection is priced with."""
    facility = Range.exact(energy_j / J_PER_KWH) * MEASURED * PUE
    return facility, facility * INTENSITY / 1000.0 + EMBODIED_KG


def assert_not_below_so_far(proj: Projection, energy_j: float) -> None:
    facility, co2e = so_far(energy_j)
    assert proj.energy_so_far_kwh == pytest.approx(facility.value)
    for projected, measured in ((proj.energy_kwh, facility), (proj.co2e_kg, co2e)):
        assert projected.low >= measured.low * (1 - 1e-12)
        assert projected.value >= measured.value * (1 - 1e-12)
        assert projected.high >= measured.high * (1 - 1e-12)


def project(p: Projector, step: float, energy_j: float, elapsed_s: float, no_data: str | None = None) -> Projection:
    return p.project(step, 10, energy_j, elapsed_s, PUE, INTENSITY, EMBODIED_KG, no_data=no_data,
                     measured=MEASURED)


def test_a_projection_made_at_step_0_starts_at_the_energy_so_far() -> None:
    proj = project(Projector(1.0), 0, 3.6e5, 5.0)
    assert_not_below_so_far(proj, 3.6e5)
    exact = Projector(1.0).project(0, 10, 3.6e5, 5.0, Range.exact(1.2), Range.exact(50.0), Range.exact(0.01))
    assert exact.energy_kwh.low >= exact.energy_so_far_kwh == pytest.approx(0.1 * 1.2)
    assert exact.co2e_kg.low >= 0.1 * 1.2 * 50.0 / 1000.0 + 0.01 - 1e-12


def test_every_projection_starts_at_the_amount_so_far() -> None:
    p = Projector(1.0)
    assert_not_below_so_far(project(p, 0, 1e3, 0.1, no_data=NO_INTERVAL_YET), 1e3)
    p.observe(1, 0.0, 2e3)
    assert_not_below_so_far(project(p, 1, 2e3, 1.0), 2e3)  # one observation
    energy = 2e3
    for step in range(2, 9):  # windows closed, some cheap and some costly: the low rate is cut at 0 at most
        energy += 50.0 if step % 3 else 5e3
        p.observe(step, float(step), energy)
        assert_not_below_so_far(project(p, step, energy, float(step)), energy)
    p.observe(3, 9.0, energy + 10.0)  # an earlier checkpoint reloaded
    assert_not_below_so_far(project(p, 3, energy + 10.0, 9.0), energy + 10.0)


def totals(energy: Range, co2e: Range) -> dict[str, Any]:
    return {**energy.as_fields("energy_kwh"), **co2e.as_fields("total_co2e_kg")}


def test_a_stored_projection_is_raised_to_the_totals_stored_since_bound_by_bound() -> None:
    made = project(Projector(1.0), 0, 0.0, 0.03, no_data=NO_INTERVAL_YET).to_dict()  # nothing measured yet
    assert made["projected_energy_kwh_low"] == 0.0
    energy, co2e = Range(1.8e-5, 1.2e-5, 2.5e-5), Range(2.1e-2, 0.8e-2, 6.4e-2)
    p = stored_fields(made, totals(energy, co2e))
    assert (p["projected_energy_kwh_low"], p["projected_co2e_kg_low"]) == (energy.low, co2e.low)
    for key in ("projected_energy_kwh", "projected_energy_kwh_high", "projected_co2e_kg", "projected_co2e_kg_high"):
        assert p[key] is None, key  # no central value, unbounded above: still
    assert p["energy_so_far_kwh"] == 0.0 and p["made_at_elapsed_s"] == 0.03  # when it was made
    assert p["method"] == f"{NO_INTERVAL_YET}; {RAISED}"


def test_a_stored_projection_above_the_totals_is_left_as_it_was_made() -> None:
    p = Projector(1.0)
    p.observe(1, 0.0, 1e5)
    p.observe(2, 2.0, 2e5)
    made = project(p, 2, 2e5, 2.0).to_dict()
    facility, co2e = so_far(2e5)
    assert stored_fields(made, totals(facility, co2e)) == made
    # a central value overtaken by the totals (the run got costlier after the call) is raised, low and high too
    big = stored_fields(made, totals(facility * 100.0, co2e * 100.0))
    for figure, total in (("projected_energy_kwh", facility * 100.0), ("projected_co2e_kg", co2e * 100.0)):
        assert (big[figure + "_low"], big[figure], big[figure + "_high"]) == (total.low, total.value, total.high)
    assert big["method"].endswith(RAISED)


def stored_summary(db: Path) -> dict[str, Any]:
    if not (db.exists() and db.stat().st_size):
        return {}
    with open_store(str(db), readonly=True) as store:
        return next((r.summary for r in store.list_runs() if isinstance(r.summary, dict)), {})


def overtaken(summary: dict[str, Any]) -> bool:
    """The stored projection's lows are below the stored totals' (the case the readers must raise)."""
    p = summary.get("projection")
    return (isinstance(p, dict) and isinstance(summary.get("energy_kwh_low"), float)
            and p.get("projected_energy_kwh_low", 0.0) < summary["energy_kwh_low"]
            and p.get("projected_co2e_kg_low", 0.0) < summary["total_co2e_kg_low"])


def wp(db: Path, *args: str) -> str:
    out = subprocess.run([*WP, *args, "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def row(text: str, label: str) -> str:
    match = re.search(rf"^  {re.escape(label)}\s+(.*)$", text, re.MULTILINE)
    assert match, (label, text)
    return match.group(1)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_runs_projection_reads_back_not_below_its_stored_totals(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    # progress(0, 10) made before the first interval closed (nothing measured yet); killed once the stored totals
    # have grown past that projection
    killed_at_step_0(db, lambda d: overtaken(stored_summary(d)), "the totals never passed the projection")

    for args in (["runs", "show", "pj0", "--json"], ["runs", "list", "--json"]):
        d = json.loads(wp(db, *args))
        d = d if isinstance(d, dict) else d[0]
        p = d["projection"]
        assert p["step"] == 0 and p["total_steps"] == 10 and p["energy_so_far_kwh"] < d["energy_kwh_low"]
        assert p["projected_energy_kwh_low"] >= d["energy_kwh_low"] > 0, args
        assert p["projected_co2e_kg_low"] >= d["total_co2e_kg_low"] > 0, args
        assert p["projected_energy_kwh_high"] is None and p["projected_co2e_kg_high"] is None  # still unbounded

    text = wp(db, "runs", "show", "pj0")
    number = r"([0-9.e+-]+)"
    facility = re.fullmatch(rf"{number} \({number} to {number}\) kWh", row(text, "facility energy"))
    co2e = re.fullmatch(rf"{number} \({number} to {number}\) kg", row(text, "total CO2e"))
    shown = re.match(rf"{number} kWh or more facility, {number} kg or more CO2e", row(text, "projected final"))
    assert facility and co2e and shown, text
    assert float(shown.group(1)) >= float(facility.group(2)) > 0
    assert float(shown.group(2)) >= float(co2e.group(2)) > 0


def passed(d: dict[str, Any], made: Projection, bound: str) -> bool:
    """The run's totals in summary ``d`` have grown past ``made``'s ``bound`` ("low", "high"), energy and CO2e."""
    return (d["energy_kwh_low"] > getattr(made.energy_kwh, bound)
            and d["total_co2e_kg_low"] > getattr(made.co2e_kg, bound))


def test_the_live_summarys_projection_is_raised_to_the_runs_totals_as_a_stored_reader_raises_it(
        tmp_path: Path) -> None:
    run = track("p", "live0", interval_s=0.05, readers=[PowerReader(power_w=200.0)], pue=1.0).start()
    try:
        measuring(run)
        made = run.progress(0, 10)  # nothing to project from: from the amount so far, unbounded above
        assert wait_for(lambda: passed(run.summary(), made, "low")), "the totals never passed the projection"
        d = run.summary()
        p = d["projection"]
        assert list(p) == list(FIELDS)  # the stored readers' schema
        assert p["projected_energy_kwh_low"] == d["energy_kwh_low"] > made.energy_kwh.low
        assert p["projected_co2e_kg_low"] == d["total_co2e_kg_low"] > made.co2e_kg.low
        for key in ("projected_energy_kwh", "projected_energy_kwh_high", "projected_co2e_kg",
                    "projected_co2e_kg_high"):
            assert p[key] is None, key  # no central value, unbounded above: still
        assert p["energy_so_far_kwh"] == made.energy_so_far_kwh and p["made_at_elapsed_s"] == made.elapsed_s
        assert p["method"] == f"{made.method}; {RAISED}"
        assert p == stored_fields(made.to_dict(), d)  # what the stored readers make of it
    finally:
        run.stop("interrupted")
    d = run.summary()  # once ended too, from its final totals
    assert d["projection"]["projected_energy_kwh_low"] == d["energy_kwh_low"]
    # what is stored is the projection as it was made: the readers raise it to the totals they read
    stored = open_store(str(tmp_path / "runs.db")).get_run("live0").summary["projection"]
    assert stored["projected_energy_kwh_low"] == made.energy_kwh.low and RAISED not in stored["method"]


def test_a_central_projection_overtaken_by_the_live_totals_is_raised_bound_by_bound() -> None:
    with track("p", interval_s=0.05, readers=[PowerReader(power_w=200.0)], pue=1.0, persist=False) as run:
        measuring(run)
        for step in range(1, 8):
            time.sleep(0.03)
            made = run.progress(step, 7)  # the last step: the final total is the energy so far
        assert made.central
        # an evaluation or a save after the last step: the totals go on growing, the projection stays as made
        assert wait_for(lambda: passed(run.summary(), made, "high")), "the totals never passed the projection"
        d = run.summary()
        p = d["projection"]
        for figure, total in (("projected_energy_kwh", "energy_kwh"), ("projected_co2e_kg", "total_co2e_kg")):
            for end in ("", "_low", "_high"):
                assert p[figure + end] == d[total + end], figure + end
        assert p["method"] == f"{made.method}; {RAISED}"
