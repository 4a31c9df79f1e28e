"""``run.progress()`` on the real code path: no confident figure before anything is measured, and bad
arguments never stop the training loop that passes them."""

from __future__ import annotations

import math
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from wattprint.data import measured_energy_band
from wattprint.errors import WattprintWarning
from wattprint.storage import open_store
from wattprint.tracking import Run, track

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


def test_a_step_past_the_total_counts_as_done_with_one_warning_per_run() -> None:
    # likely steps against epochs: said once (naming the step and total), not at every step of the loop
    with track("p", interval_s=0.05, readers=[PowerReader()], persist=False, pue=1.0) as run:
        measuring(run)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prs = [run.progress(step, 3) for step in range(1, 21)]
    said = [str(w.message) for w in caught if issubclass(w.category, WattprintWarning)]
    assert len(said) == 1, said
    assert "run.progress(4, 3)" in said[0] and "past total_steps 3" in said[0] and "count as done" in said[0]
    assert caught[0].filename == __file__  # attributed to the caller
    assert all(pr.fraction_done == 1.0 and pr.step == 3 for pr in prs[2:])


def test_a_bad_argument_repeated_at_every_step_warns_once_per_kind_of_mistake_per_run() -> None:
    def wattprint_warnings(calls: list[tuple[object, object]], run: Run) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for step, total in calls:
                pr = run.progress(step, total)  # type: ignore[arg-type]
                assert pr.method.startswith("no projection: total") or pr.method.startswith("no projection: step")
        return [str(w.message) for w in caught if issubclass(w.category, WattprintWarning)]

    with track("p", interval_s=0.05, readers=[PowerReader()], persist=False, pue=1.0) as run:
        measuring(run)
        zero_total = wattprint_warnings([(step, 0) for step in range(1, 201)], run)
        # the same kind of mistake (a total that is no count of steps), another value: nothing more
        inf_total = wattprint_warnings([(step, float("inf")) for step in range(1, 51)], run)
        negative_step = wattprint_warnings([(-step, 10) for step in range(1, 51)], run)  # another kind
        text_step = wattprint_warnings([("five", 10)] * 20, run)
        good = run.progress(5, 10)
    assert len(zero_total) == 1 and "run.progress(1, 0): total_steps must be" in zero_total[0]
    assert inf_total == []
    assert len(negative_step) == 1 and "step must be a finite number >= 0" in negative_step[0]
    assert len(text_step) == 1 and "not text" in text_step[0]
    assert not good.method.startswith("no projection")
    with track("p", interval_s=0.05, readers=[PowerReader()], persist=False, pue=1.0) as other:
        measuring(other)
        assert len(wattprint_warnings([(1, 0), (2, 0)], other)) == 1  # per run: a new run says it again


def test_progress_from_several_threads_updates_the_projector_one_call_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the projector's statistics are read-modify-write: two calls inside it at once would lose or mix updates
    from wattprint.tracking import projection

    inside, most = [0], [0]
    observe = projection.Projector.observe

    def slow_observe(self: projection.Projector, step: float, t: float, energy_j: float) -> None:
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.005)  # a thread switch here lets another call in, unless progress() serialises them
        observe(self, step, t, energy_j)
        inside[0] -= 1

    monkeypatch.setattr(projection.Projector, "observe", slow_observe)
    with track("p", interval_s=0.05, readers=[PowerReader()], persist=False, pue=1.0) as run:
        measuring(run)
        go = threading.Barrier(4)

        def calls(first: int) -> None:
            go.wait()
            for step in range(first, 400, 4):
                run.progress(step, 1000)

        threads = [threading.Thread(target=calls, args=(k,)) for k in range(1, 5)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
    assert most[0] == 1


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


def test_a_snapshots_embodied_co2e_is_worked_out_once_not_at_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # the embodied CO2e per hour changes only with a new sample; called at every training step, working it out
    # again at each call was half of the cost of one (the cost itself is measured in bench/progress_cost.py)
    from wattprint.tracking.figures import RunFigures

    worked_out: list[object] = []
    segment_embodied = RunFigures.segment_embodied

    def counted(self: RunFigures, snap: Any, hours_h: float) -> Any:
        if threading.current_thread() is threading.main_thread():  # not the sampler's own figures
            worked_out.append(snap)
        return segment_embodied(self, snap, hours_h)

    monkeypatch.setattr(RunFigures, "segment_embodied", counted)
    with track("p", interval_s=0.2, readers=[PowerReader()], persist=False, pue=1.0) as run:
        measuring(run)
        assert run.sampler is not None
        snaps = []
        for step in range(1, 501):
            snaps.append(run.sampler.snapshot)
            run.progress(step, 1000)
        calls = len(worked_out)
    distinct = len({id(s) for s in snaps})  # the snapshots are kept alive in the list: ids are not reused
    assert 1 <= calls <= distinct + 1, (calls, distinct)
