"""Projection from progress on a synthetic job whose power changes part-way (fake clock: exact energies)."""

from __future__ import annotations

import math
from typing import Any

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
            out[step / STEPS] = p.project(step, STEPS, e, t, Range.exact(1.0), Range.exact(100.0),
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
    r0 = p.project(0, 10, 1000.0, 0.0, Range.exact(1.0), Range.exact(100.0), Range.exact(0.0))
    assert math.isinf(r0.energy_kwh.high) and "no progress" in r0.method
    p.observe(0, 0.0, 1000.0)  # start-up cost 1000 J before the first step
    p.observe(1, 1.0, 1010.0)
    r = p.project(1, 10, 1010.0, 1.0, Range.exact(1.0), Range.exact(100.0), Range.exact(0.0))
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
            co2e = p.project(s, steps, 100.0 * t, t, Range.exact(1.0), Range.exact(0.0), Range.exact(t)).co2e_kg
            assert co2e.value == pytest.approx(final_kg), s
            assert co2e.contains(final_kg) and co2e.high < 1.5 * final_kg, (s, co2e)


def test_one_observation_gives_a_range_from_the_energy_so_far_up() -> None:
    """1000 J of start-up, then 10 steps of 10 J: the final total is 1100 J. At the first call (step 1, 1010 J so
    far) nothing tells start-up from per-step work: the range must reach down to the 1010 J so far."""
    p = Projector(min_window_s=0.0)
    p.observe(1, 10.0, 1010.0)
    r = p.project(1, 10, 1010.0, 10.0, Range.exact(1.0), Range.exact(100.0), Range.exact(2.0))
    assert r.energy_kwh.low * 3.6e6 == pytest.approx(1010.0) and r.energy_kwh.contains(1100.0 / 3.6e6)
    assert r.energy_kwh.high * 3.6e6 >= 10100.0  # none of it start-up: 1010 J per step
    # CO2e: 100 g/kWh x 1010 J, and the embodied 2 kg of the 10 s so far (all of it may have been start-up)
    assert r.co2e_kg.low == pytest.approx(1010.0 / 3.6e6 * 0.1 + 2.0)
    assert "one observation" in r.method
    p.observe(2, 10.1, 1020.0)  # from the second observation on: energy per step since the first call
    r2 = p.project(2, 10, 1020.0, 10.1, Range.exact(1.0), Range.exact(100.0), Range.exact(0.0))
    assert r2.energy_kwh.value * 3.6e6 == pytest.approx(1100.0) and "one observation" not in r2.method


def trace_of(costs: list[tuple[float, float]]) -> list[tuple[int, float, float]]:
    """(step, t, cumulative J) after each step of ``costs`` ((seconds, J) per step), from a call at step 0."""
    out, t, e = [(0, 0.0, 0.0)], 0.0, 0.0
    for i, (dt, de) in enumerate(costs, start=1):
        t, e = t + dt, e + de
        out.append((i, t, e))
    return out


def project_at(p: Projector, step: int, total: int, t: float, e: float, embodied_kg: float = 0.0) -> Any:
    return p.project(step, total, e, t, Range.exact(1.0), Range.exact(1000.0), Range.exact(embodied_kg))


def test_a_periodic_evaluation_is_projected_once_per_cycle_whatever_the_step_of_the_call() -> None:
    """200 steps of 0.03 s at 100 W (3 J); every 20th step also evaluates for 0.5 s (50 J more): 1100 J in all.
    The latest window alone swung the projection from +232 % (just after an evaluation) to -41 % (just before
    the next), and at step 199 its range excluded the final 1100 J."""
    steps = 200
    trace = trace_of([(0.03 + (0.5 if i % 20 == 0 else 0.0), 3.0 + (50.0 if i % 20 == 0 else 0.0))
                      for i in range(1, steps + 1)])
    final = trace[-1][2]
    p = Projector(min_window_s=0.1)
    for step, t, e in trace[:-1]:
        p.observe(step, t, e)
        if step < 20:
            continue
        proj = project_at(p, step, steps, t, e)
        got = proj.energy_kwh.value * 3.6e6
        # once a cycle has been seen: within one evaluation's energy (4.5 %) of the final total, any step
        assert abs(got - final) <= 50.0 + 1e-6, (step, got)
        assert proj.energy_kwh.contains(final / 3.6e6), (step, proj.energy_kwh)
    # the projected duration counts the evaluations' time once per cycle too: 200 x 0.03 + 10 x 0.5 = 11 s
    duration = 1.0 / 3600  # embodied 1 kg per hour of run: the projected CO2e is the projected duration
    step, t, e = trace[120]
    proj = project_at(p, step, steps, t, e, embodied_kg=t / 3600)
    assert (proj.co2e_kg.value - proj.energy_kwh.value) / duration == pytest.approx(11.0, rel=0.01)


@pytest.mark.parametrize(("name", "costs", "after"), [
    # busy steps, then steps at a tenth of the energy (the reverse of a warm-up)
    ("reverse", [(0.05, 5.0)] * 20 + [(0.05, 0.5)] * 80, 30),
    # compile: ten slow steps, then fast ones at a fifth of the energy each
    ("compile speed-up", [(0.2, 20.0)] * 10 + [(0.03, 3.0)] * 90, 20),
])
def test_a_lasting_change_of_rate_is_followed_once_two_windows_show_it(name: str, costs: list[tuple[float, float]],
                                                                       after: int) -> None:
    trace = trace_of(costs)
    final = trace[-1][2]
    p = Projector(min_window_s=0.1)
    for step, t, e in trace[:-1]:
        p.observe(step, t, e)
        if step >= after:
            proj = project_at(p, step, len(costs), t, e)
            assert proj.energy_kwh.value * 3.6e6 == pytest.approx(final, rel=0.01), (name, step)
            assert proj.energy_kwh.contains(final / 3.6e6), (name, step)


def test_going_back_to_an_earlier_step_does_not_stretch_the_time_per_step() -> None:
    """1 s and 100 J a step; steps 1-60, then the step-20 checkpoint reloaded in the same process: 21-100, 140 steps
    in all. Embodied CO2e 1 kg per hour of run, so the projected CO2e minus the energy's is the projected duration
    in hours: it was 280 s at step 23 (all 63 s since the first call over the 2 steps since going back)."""
    p = Projector(min_window_s=0.5)
    t = e = 0.0
    for k, step in enumerate([*range(1, 61), *range(21, 101)], start=1):
        t, e = t + 1.0, e + 100.0
        p.observe(step, t, e)
        if k > 60 and step in (21, 22, 23, 40, 80):
            proj = p.project(step, 100, e, t, Range.exact(1.0), Range.exact(0.0), Range.exact(t / 3600))
            assert proj.co2e_kg.value * 3600 == pytest.approx(140.0), step
            assert proj.energy_kwh.value * 3.6e6 == pytest.approx(14000.0), step


def test_with_one_observation_there_is_no_central_value_only_the_range() -> None:
    """3 s of start-up (300 J), then steps of 2 ms (0.2 J) and no window closed yet: energy so far / fraction done
    charged the start-up as per-step work (+2000 % at step 50 of 1500)."""
    p = Projector(min_window_s=1.0)
    p.observe(1, 3.0, 300.2)
    p.observe(50, 3.1, 310.0)  # 0.1 s later: under one window
    proj = project_at(p, 50, 1500, 3.1, 310.0)
    final_j = 300.0 + 1500 * 0.2
    d = proj.to_dict()
    assert d["projected_energy_kwh"] is None and d["projected_co2e_kg"] is None
    assert not proj.central and "no central value" in proj.method
    assert proj.energy_kwh.contains(final_j / 3.6e6)  # the range is kept
    assert d["projected_energy_kwh_low"] == pytest.approx(310.0 / 3.6e6)
    assert d["projected_energy_kwh_high"] >= 310.0 * 30 / 3.6e6  # none of it start-up: 1500/50 x so far
    p.observe(500, 4.2, 530.0)  # a window closed: a central value from the energy per step since the first call
    later = project_at(p, 500, 1500, 4.2, 530.0)
    assert later.central and later.to_dict()["projected_energy_kwh"] == pytest.approx(later.energy_kwh.value)


def test_a_projection_says_what_it_said_when_made_whenever_its_figures_are_read() -> None:
    # progress() leaves a projection's energy and CO2e to be worked out when first read: from what was known when
    # it was made, so the projector moving on (more windows, a change of rate) does not change them
    import copy
    import dataclasses
    import pickle

    args: tuple[Any, ...] = (Range(1.2, 1.1, 1.4), Range(300.0, 250.0, 350.0), Range(0.01, 0.008, 0.012))

    def fed(upto: int) -> Projector:
        p = Projector(min_window_s=0.2)
        for step, t, e in job(0.6, 2.0)[:upto]:
            p.observe(step, t, e)
        return p

    trace = job(0.6, 2.0)
    step, t, e = trace[500]
    read_at_once = fed(501).project(step, STEPS, e, t, *args, embodied_rate_kg_per_h=Range(0.02, 0.01, 0.03))
    figures = (read_at_once.energy_kwh, read_at_once.co2e_kg)
    later = fed(501)
    read_later = later.project(step, STEPS, e, t, *args, embodied_rate_kg_per_h=Range(0.02, 0.01, 0.03))
    for s2, t2, e2 in trace[501:]:  # the rate doubles at 60 %: the projector's own figures change a lot
        later.observe(s2, t2, e2)
    assert later.project(STEPS - 1, STEPS, trace[-2][2], trace[-2][1], *args).energy_kwh != figures[0]
    assert (read_later.energy_kwh, read_later.co2e_kg) == figures
    assert read_later == read_at_once and repr(read_later) == repr(read_at_once)
    # copied, pickled or replaced, it is a projection like any other
    for p in (copy.deepcopy(read_later), pickle.loads(pickle.dumps(read_later)), dataclasses.replace(read_later)):
        assert p == read_at_once and (p.energy_kwh, p.co2e_kg) == figures
    with pytest.raises(AttributeError):
        read_later.no_such_field  # type: ignore[attr-defined]  # noqa: B018
