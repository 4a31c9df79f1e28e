"""What the framework callbacks log of the projection (``TrainingSession.metrics``): the energy and the CO2e each
with its range, as the README says, nothing projected before there is a central value, and never a projected figure
below the total logged beside it."""

from __future__ import annotations

import time

from wattprint.integrations.session import TrainingSession

from .conftest import PowerReader, measuring, wait_for


def session() -> TrainingSession:
    s = TrainingSession(project="p", interval_s=0.05, readers=[PowerReader(power_w=200.0)], pue=1.0, persist=False)
    run = s.begin()
    assert run is not None
    measuring(run)
    return s


def test_nothing_projected_is_logged_from_one_observation() -> None:
    s = session()
    s.progress(1, 100)  # one observation: start-up and per-step work cannot be told apart yet
    assert not [k for k in s.metrics() if "projected" in k]  # its range's top is no forecast to plot
    s.finish()


def test_logged_projection_has_the_energy_and_the_co2e_each_with_its_range() -> None:
    s = session()
    for step in range(1, 8):
        time.sleep(0.03)
        latest = s.progress(step, 100)
    assert latest is not None
    m = s.metrics()
    for key, r in (("projected_energy_kwh", latest.energy_kwh), ("projected_co2e_kg", latest.co2e_kg)):
        assert (m[f"wattprint/{key}_low"], m[f"wattprint/{key}"], m[f"wattprint/{key}_high"]) == (r.low, r.value,
                                                                                                   r.high)
    s.finish()
    assert not [k for k in s.metrics() if "projected" in k]  # the final totals are the answer


def test_a_logged_projection_is_never_below_the_totals_logged_beside_it() -> None:
    s = session()
    for step in range(1, 8):
        time.sleep(0.03)
        last = s.progress(step, 7)  # the last step: the projected final total is the energy so far
    assert last is not None and s.run is not None
    run = s.run
    # an evaluation after the last step, logged at its end: the totals have gone on growing since the projection
    assert wait_for(lambda: run.footprint().energy_kwh.low > last.energy_kwh.high
                    and run.footprint().total_co2e_kg.low > last.co2e_kg.high)
    m = s.metrics()
    for key, total in (("projected_energy_kwh", "energy_kwh"), ("projected_co2e_kg", "co2e_kg")):
        low, value, high = (m[f"wattprint/{key}{end}"] for end in ("_low", "", "_high"))
        assert value >= m[f"wattprint/{total}"], key
        assert low <= value <= high, key
    s.finish()
