"""``run.progress()`` on the real code path: no confident figure before anything is measured, and bad
arguments never stop the training loop that passes them."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from wattprint.data import measured_energy_band
from wattprint.errors import WattprintWarning
from wattprint.storage import open_store
from wattprint.tracking import track

from .conftest import PowerReader, measuring


def test_before_the_first_interval_closes_the_projection_says_there_is_no_data(tmp_path: Path) -> None:
    # a run shorter than its interval: only the start reading and the one at stop
    with track("p", "short", interval_s=3600, readers=[PowerReader(power_w=200.0)], pue=1.0) as run:
        time.sleep(0.05)
        pr = run.progress(5, 10)
    assert pr.fraction_done == 0.5
    assert math.isinf(pr.energy_kwh.high) and math.isinf(pr.co2e_kg.high)
    assert pr.energy_kwh.low == pr.energy_kwh.value == pr.energy_so_far_kwh  # from what is known, upwards
    assert "no measured interval" in pr.method
    # a finished run's summary drops its projection (stored as null when unbounded: see test_projection_final.py)
    assert "projection" not in open_store(str(tmp_path / "runs.db")).get_run("short").summary


def test_once_an_interval_has_closed_the_projection_is_bounded() -> None:
    with track("p", interval_s=0.05, readers=[PowerReader()], persist=False, pue=1.0) as run:
        measuring(run)
        for step in range(1, 6):
            time.sleep(0.03)
            pr = run.progress(step, 10)
    assert pr.energy_so_far_kwh > 0 and 0 < pr.energy_kwh.low <= pr.energy_kwh.high < math.inf


@pytest.mark.parametrize(("step", "total"), [(float("nan"), 10), (3, 0), (3, -10), (3, float("inf")),
                                             (3, float("nan")), (-1, 10), ("three", 10),
                                             (1, 10**308), (1, 1e308), (1, 2**53), (True, 10), (1, True)])
def test_bad_arguments_warn_and_say_why_without_raising_and_later_calls_still_project(step: object,
                                                                                      total: object) -> None:
    with track("p", interval_s=0.05, readers=[PowerReader()], persist=False, pue=1.0) as run:
        measuring(run).progress(1, 10)
        time.sleep(0.08)
        with pytest.warns(WattprintWarning, match=r"run\.progress\(.*no projection made"):
            bad = run.progress(step, total)  # type: ignore[arg-type]
        time.sleep(0.08)
        good = run.progress(3, 10)
    assert math.isinf(bad.energy_kwh.high) and bad.method.startswith("no projection:")
    assert good.windows == 1 and good.energy_kwh.high < math.inf
    # the refused projection says what it was given (it said step 0 of 0); a non-number as NaN
    given = [x if isinstance(x, int | float) and not isinstance(x, bool) else int(x) if isinstance(x, bool)
             else math.nan for x in (step, total)]
    for got, want in zip((bad.step, bad.total_steps), given, strict=True):
        assert got == want or (math.isnan(got) and math.isnan(want)), (got, want)


def test_a_step_past_the_total_counts_as_done() -> None:
    with track("p", interval_s=0.05, readers=[PowerReader()], persist=False, pue=1.0) as run:
        time.sleep(0.08)
        pr = run.progress(15, 10)
    assert pr.fraction_done == 1.0 and pr.step == 10


def test_the_first_call_after_a_long_start_up_does_not_extrapolate_the_start_up() -> None:
    with track("p", interval_s=0.05, readers=[PowerReader(power_w=300.0)], persist=False, pue=1.0) as run:
        time.sleep(0.3)  # start-up: most of the energy so far, not per-step work
        measuring(run)
        pr = run.progress(1, 30)
    # the start-up alone may be all there is to it: the range starts at the energy so far (at the low end of its
    # sensor's accuracy band), not 30x above it
    band = measured_energy_band("cpu")[0]
    assert band > 0
    assert pr.energy_kwh.low == pytest.approx(pr.energy_so_far_kwh * (1 - band), rel=1e-9)
    assert "one observation" in pr.method


def test_a_second_call_right_after_the_first_does_not_narrow_the_range_below_the_truth() -> None:
    # steps over less than a sampling interval carry the readings' granularity, not a rate: the second call,
    # made at once, used to give a +-2 % band 9x below the final energy
    reader = PowerReader(power_w=100.0)
    with track("p", interval_s=0.5, readers=[reader], persist=False, pue=1.0) as run:
        time.sleep(0.6)
        measuring(run).progress(10, 100)
        second = run.progress(11, 100)
        so_far_j = second.energy_so_far_kwh * 3.6e6
        truth_j = so_far_j + 89 * 100.0 * 0.06  # the remaining 89 steps at 0.06 s and 100 W
    assert second.energy_kwh.low * 3.6e6 <= so_far_j * 1.01
    assert second.energy_kwh.high * 3.6e6 >= truth_j
    assert "no full window since the first call" in second.method


def test_energy_so_far_never_goes_back_between_calls_after_a_power_drop() -> None:
    reader = PowerReader(power_w=500.0)
    with track("p", interval_s=0.1, readers=[reader], persist=False, pue=1.0) as run:
        measuring(run)
        time.sleep(0.5)
        reader.set_power(100.0)
        seen = []
        for step in range(1, 9):
            time.sleep(0.05)
            pr = run.progress(step, 40)
            seen.append(pr.energy_so_far_kwh)
            assert pr.energy_kwh.high > pr.energy_kwh.low or step == 40  # never a zero-width band mid-run
    assert seen == sorted(seen)


def test_fractional_progress_is_projected_as_given_not_truncated() -> None:
    """Epochs as a float: progress(0.5, 1) is half of the work (it was read as step 0: nothing to project from),
    and a steady 200 W projects twice the energy so far."""
    with track("p", interval_s=0.05, readers=[PowerReader(power_w=200.0)], persist=False, pue=1.0) as run:
        measuring(run)
        for frac in (0.25, 0.5):
            time.sleep(0.15)
            pr = run.progress(frac, 1)
        half = run.progress(2.5, 5)
    assert (pr.step, pr.total_steps, pr.fraction_done) == (0.5, 1, 0.5)
    assert pr.energy_kwh.high < math.inf and pr.energy_kwh.low <= pr.energy_kwh.value <= pr.energy_kwh.high
    assert pr.energy_kwh.value == pytest.approx(2 * pr.energy_so_far_kwh, rel=0.35)
    assert half.fraction_done == 0.5 and half.step == 2.5
    assert isinstance(run.progress(3.0, 10).step, int)  # a whole float is a whole step
