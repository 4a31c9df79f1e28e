"""Projection from progress on a synthetic job whose power changes part-way (fake clock: exact energies)."""

from __future__ import annotations

import math

import pytest

from wattprint.quantities import Range
from wattprint.tracking.projection import Projector

STEPS = 1000
STEP_S = 0.01  # each step takes 10 ms


def job(change_at: float, factor: float, noise: float = 0.05) -> list[tuple[int, float, float]]:
    """(step, t, cumulative J) after each step: 100 J/step, x ``factor`` from ``change_at`` of the run on, with a
    deterministic +-``noise`` wobble per step; plus 500 J of start-up before step 0."""
    out = [(0, 0.0, 500.0)]
    e = 500.0
    for s in range(1, STEPS + 1):
        rate = 100.0 * (factor if s > change_at * STEPS else 1.0) * (1.0 + noise * math.sin(s * 0.7))
        e += rate
        out.append((s, s * STEP_S, e))
    return out


def projections(trace: list[tuple[int, float, float]], at: list[float]) -> dict[float, Range]:
    p = Projector(min_window_s=0.2)
    out = {}
    marks = {int(f * STEPS) for f in at}
    for step, t, e in trace:
        p.observe(step, t, e)
        if step in marks:
            out[step / STEPS] = p.project(step, STEPS, t, e, t, Range.exact(1.0), Range.exact(100.0),
                                          Range.exact(0.0)).energy_kwh
    return out


def test_range_narrows_with_progress_and_contains_the_final_actual() -> None:
    trace = job(change_at=0.3, factor=1.25)
    final_kwh = trace[-1][2] / 3.6e6
    at = [0.1, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.99]
    proj = projections(trace, at)
    for f in at:
        assert proj[f].contains(final_kwh), (f, proj[f], final_kwh)
    widths = [(proj[f].high - proj[f].low) / proj[f].value for f in at]
    assert widths[0] > widths[3] > widths[-1]  # 10 % > 50 % > 99 %
    after = [w for f, w in zip(at, widths, strict=True) if f >= 0.4]
    assert after == sorted(after, reverse=True)  # once the change is seen, it only narrows
    assert abs(proj[0.99].value - final_kwh) / final_kwh < 0.01


def test_a_big_change_is_followed_once_observed() -> None:
    trace = job(change_at=0.5, factor=2.0)
    final_kwh = trace[-1][2] / 3.6e6
    proj = projections(trace, [0.3, 0.6, 0.8, 0.95])
    assert not proj[0.3].contains(final_kwh)  # a doubling of power later on cannot be foreseen ...
    for f in (0.6, 0.8, 0.95):  # ... but once seen, the range holds the final total
        assert proj[f].contains(final_kwh), (f, proj[f], final_kwh)
    assert proj[0.6].value > proj[0.3].value * 1.3  # central value follows the new rate


def test_startup_energy_is_not_extrapolated_and_step_zero_is_open_ended() -> None:
    p = Projector(min_window_s=0.0)
    r0 = p.project(0, 10, 0.0, 1000.0, 0.0, Range.exact(1.0), Range.exact(100.0), Range.exact(0.0))
    assert math.isinf(r0.energy_kwh.high) and "no progress" in r0.method
    p.observe(0, 0.0, 1000.0)  # start-up cost 1000 J before the first step
    p.observe(1, 1.0, 1010.0)
    r = p.project(1, 10, 1.0, 1010.0, 1.0, Range.exact(1.0), Range.exact(100.0), Range.exact(0.0))
    assert r.energy_kwh.value * 3.6e6 == pytest.approx(1100.0)


def test_embodied_is_projected_from_the_time_per_step_with_start_up_counted_once() -> None:
    """3 s of start-up, then 100 steps of 0.02 s; embodied CO2e accrues at 1 kg/s (intensity 0: embodied only).
    The final total is 5 kg; scaling the 3.2 kg owed at step 10 by 1/fraction would say 32 kg."""
    p = Projector(min_window_s=0.2)
    startup_s, step_s, steps = 3.0, 0.02, 100
    final_kg = startup_s + steps * step_s
    for s in range(steps + 1):
        t = startup_s + s * step_s
        p.observe(s, t, 100.0 * t)
        if s in (10, 50, 90):
            co2e = p.project(s, steps, t, 100.0 * t, t, Range.exact(1.0), Range.exact(0.0), Range.exact(t)).co2e_kg
            assert co2e.value == pytest.approx(final_kg), s
            assert co2e.contains(final_kg) and co2e.high < 1.5 * final_kg, (s, co2e)


def test_one_observation_gives_a_range_from_the_energy_so_far_up() -> None:
    """1000 J of start-up, then 10 steps of 10 J: the final total is 1100 J. At the first call (step 1, 1010 J so
    far) nothing tells start-up from per-step work: the range must reach down to the 1010 J so far."""
    p = Projector(min_window_s=0.0)
    p.observe(1, 10.0, 1010.0)
    r = p.project(1, 10, 10.0, 1010.0, 10.0, Range.exact(1.0), Range.exact(100.0), Range.exact(2.0))
    assert r.energy_kwh.low * 3.6e6 == pytest.approx(1010.0) and r.energy_kwh.contains(1100.0 / 3.6e6)
    assert r.energy_kwh.high * 3.6e6 >= 10100.0  # none of it start-up: 1010 J per step
    # CO2e: 100 g/kWh x 1010 J, and the embodied 2 kg of the 10 s so far (all of it may have been start-up)
    assert r.co2e_kg.low == pytest.approx(1010.0 / 3.6e6 * 0.1 + 2.0)
    assert "one observation" in r.method
    p.observe(2, 10.1, 1020.0)  # from the second observation on: energy per step since the first call
    r2 = p.project(2, 10, 10.1, 1020.0, 10.1, Range.exact(1.0), Range.exact(100.0), Range.exact(0.0))
    assert r2.energy_kwh.value * 3.6e6 == pytest.approx(1100.0) and "one observation" not in r2.method
