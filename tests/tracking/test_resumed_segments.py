"""A resumed run (the same run id tracked again) adds each segment's figures at that segment's own hardware and
uncertainty: chip-hours and embodied CO2e over its own time and GPUs, the energy ranges of the earlier segments
kept; the stored run reads back as the live footprint; the projection's range carries the measured one."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import wattprint
from tests.devices.fakes import fake_pynvml
from tests.tracking.conftest import PowerReader, measuring
from wattprint.devices import Reading
from wattprint.quantities import Range
from wattprint.storage import SampleRow, SlotPatch, open_store
from wattprint.tracking import Run, track
from wattprint.tracking.projection import Projector

J_PER_KWH = 3.6e6


class Modelled(PowerReader):
    """A modelled CPU whose bounds are fixed factors of its energy (as a TDP model's are)."""

    def __init__(self, low: float, high: float) -> None:
        super().__init__("cpu", "cpu-model", 50.0, basis="modelled")
        self.low, self.high = low, high

    def read(self) -> list[Reading]:
        (r,) = super().read()
        return [Reading(r.component, r.device, r.energy_j, r.power_w, "modelled",
                        energy_low_j=r.energy_j * self.low, energy_high_j=r.energy_j * self.high)]


def _segment_on_gpus(n: int, db: str, seconds: float = 0.3) -> Run:
    """Run "job" tracked for ``seconds`` on ``n`` fake H100s (NVML), each at 300 W."""
    gpus = fake_pynvml.reset(fake_pynvml.make_gpus(n))
    for g in gpus:
        g.processes = [os.getpid()]
    with fake_pynvml.burning(gpus), \
            wattprint.track("gpu", "job", db=db, interval_s=0.05, quiet=True, location="FRA") as run:
        time.sleep(seconds)
    return run


def _stored(db: str) -> dict[str, Any]:
    """The run as `wattprint runs show --json` gives it."""
    return open_store(db).get_run("job").to_dict()


def test_resumed_on_more_gpus_bills_each_segment_at_its_own_gpus(nvml: ModuleType, tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    first = _segment_on_gpus(2, db).footprint()
    d1 = first.wall_time_h.value  # type: ignore[union-attr]
    assert first.chip_hours is not None and first.chip_hours.value == pytest.approx(2 * d1)
    fp = _segment_on_gpus(8, db).footprint()
    d2 = fp.wall_time_h.value - d1  # type: ignore[union-attr]
    assert fp.chip_hours is not None and fp.chip_hours.value == pytest.approx(2 * d1 + 8 * d2, rel=1e-9)
    # an H100's embodied share and its host share (n of 8 GPUs of a server) are per GPU: so is the whole
    per_chip_hour = first.embodied_co2e_kg.value / first.chip_hours.value
    assert fp.embodied_co2e_kg.value == pytest.approx(per_chip_hour * fp.chip_hours.value, rel=1e-6)
    stored = _stored(db)
    for key in ("chip_hours", "embodied_co2e_kg", "embodied_co2e_kg_low", "embodied_co2e_kg_high", "total_co2e_kg"):
        assert stored[key] == pytest.approx(fp.to_dict()[key], rel=1e-9), key
    one, two = stored["segments"]  # each segment's own record: its GPUs, time and figures
    assert (one["gpus"], two["gpus"]) == (2, 8)
    assert len(one["gpu_models"]) == 2 and len(two["gpu_models"]) == 8 and "?" not in two["gpu_models"]
    assert (one["chip_hours"], two["chip_hours"]) == (pytest.approx(2 * d1), pytest.approx(8 * d2))
    assert one["location"] == two["location"] == fp.intensity.location


def test_resumed_without_gpus_keeps_the_earlier_gpus_chip_hours_and_embodied(nvml: ModuleType,
                                                                            tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    first = _segment_on_gpus(2, db).footprint()
    fp = _segment_on_gpus(0, db).footprint()
    assert fp.energy_by_component_kwh["gpu"].kwh.value == pytest.approx(first.energy_by_component_kwh["gpu"].kwh.value)
    assert fp.chip_hours == first.chip_hours  # the GPUs were read only in the first segment
    emb, emb1 = fp.embodied_co2e_kg, first.embodied_co2e_kg
    assert emb.value > emb1.value and emb.low > emb1.low and emb.high > emb1.high  # going on adds, never removes
    assert any(a.what == "embodied, earlier segments" for a in fp.assumptions)
    stored = _stored(db)
    assert stored["chip_hours"] == pytest.approx(first.chip_hours.value)  # type: ignore[union-attr]
    assert stored["embodied_co2e_kg"] == pytest.approx(emb.value, rel=1e-9)


def test_the_figures_stored_between_full_summaries_of_a_resumed_run_are_its_footprints(tmp_path: Path) -> None:
    """The interval updates (LiveFigures, written by SQLite) carry the earlier segments' figures too."""
    db = str(tmp_path / "runs.db")
    with track("r", "job", db=db, interval_s=0.05, quiet=True, readers=[PowerReader("gpu", "gpu0", 300.0)]):
        time.sleep(0.2)
    run = track("r", "job", db=db, interval_s=3600, quiet=True, readers=[PowerReader()]).start()
    try:
        s = run.sampler
        assert s is not None
        time.sleep(0.05)
        s._reading()
        summary, patch = s._summaries()
        assert summary == {} and isinstance(patch, SlotPatch)
        s.store.append_samples(s.run_id, s._pending, summary, summary_patch=patch)
        s._pending = []
        assert s.snapshot is not None
        want = run._footprint(s.snapshot).to_dict(assumptions=False)
        stored = open_store(db).get_run("job").summary
        assert want["chip_hours"] > 0
        for key in ("chip_hours", "embodied_co2e_kg", "embodied_co2e_kg_high", "wall_time_h", "total_co2e_kg"):
            assert stored[key] == pytest.approx(want[key], rel=1e-9), key
    finally:
        run.stop()


def test_resuming_keeps_the_earlier_segments_energy_range(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    with track("r", "job", db=db, interval_s=0.05, quiet=True, readers=[Modelled(0.5, 2.0)]) as a:
        time.sleep(0.3)
    e1 = a.footprint().energy_by_component_kwh["cpu"].kwh
    assert (e1.low / e1.value, e1.high / e1.value) == (pytest.approx(0.5), pytest.approx(2.0))
    with track("r", "job", db=db, interval_s=0.05, quiet=True, readers=[Modelled(0.8, 1.25)]) as b:
        time.sleep(0.1)
    cpu = b.footprint().energy_by_component_kwh["cpu"].kwh
    e2 = cpu.value - e1.value
    assert e2 > 0
    # the sum of the segments' lows and of their highs, not the earlier central value added to the new bounds
    assert cpu.low == pytest.approx(0.5 * e1.value + 0.8 * e2, rel=1e-9)
    assert cpu.high == pytest.approx(2.0 * e1.value + 1.25 * e2, rel=1e-9)
    stored = _stored(db)["energy_by_component_kwh"]["cpu"]
    assert (stored["kwh_low"], stored["kwh_high"]) == (pytest.approx(cpu.low), pytest.approx(cpu.high))


def _assert_segments_add_up(stored: dict[str, Any], n: int) -> None:
    segments = stored["segments"]
    assert len(segments) == n
    for key in ("duration_s", "it_energy_kwh", "it_energy_kwh_low", "it_energy_kwh_high", "embodied_co2e_kg",
                "embodied_co2e_kg_high"):
        assert sum(seg[key] for seg in segments) == pytest.approx(stored[key], rel=1e-9), key
    for comp, c in stored["energy_by_component_kwh"].items():
        assert sum(seg["energy_by_component_kwh"].get(comp, 0.0) for seg in segments) == pytest.approx(c["kwh"])


def test_each_segment_is_recorded_and_they_add_up_to_the_run(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    for low, high in ((0.5, 2.0), (0.8, 1.25), (0.9, 1.1)):
        with track("r", "job", db=db, interval_s=0.05, quiet=True, readers=[Modelled(low, high)]):
            time.sleep(0.15)
    _assert_segments_add_up(_stored(db), 3)
    third = _stored(db)["segments"][2]
    assert third["it_energy_kwh_low"] == pytest.approx(0.9 * third["it_energy_kwh"], rel=1e-6)


def test_a_run_stored_by_the_previous_version_resumes_with_its_figures(tmp_path: Path) -> None:
    """A summary without the ``segments`` list (the previous version wrote none) still carries its figures."""
    db = str(tmp_path / "runs.db")
    with track("r", "job", db=db, interval_s=0.05, quiet=True, readers=[Modelled(0.5, 2.0)]) as a:
        time.sleep(0.2)
    with open_store(db) as store, store.transaction():
        store._connection().execute("UPDATE runs SET summary = json_remove(summary, '$.segments')")
    with track("r", "job", db=db, interval_s=0.05, quiet=True, readers=[Modelled(0.5, 2.0)]) as b:
        time.sleep(0.1)
    first, cpu = a.footprint().energy_by_component_kwh["cpu"].kwh, b.footprint().energy_by_component_kwh["cpu"].kwh
    assert (cpu.low / cpu.value, cpu.high / cpu.value) == (pytest.approx(0.5), pytest.approx(2.0))
    stored = _stored(db)
    _assert_segments_add_up(stored, 2)
    assert "no per-segment figures" in stored["segments"][0]["note"]
    assert stored["segments"][0]["it_energy_kwh"] == pytest.approx(first.value)


def test_a_run_stored_without_its_figures_still_resumes_and_says_so(tmp_path: Path) -> None:
    """A run whose record holds totals but no summary (as written by a tracker that wrote none): its earlier
    energies count as exact and its earlier time at this segment's hardware, with a note."""
    db = str(tmp_path / "runs.db")
    with open_store(db) as store:
        store.begin_run("job", "r", time.time() - 10, {})
        store.append_samples("job", [SampleRow(time.time(), 10.0, None, {"cpu": 1000.0})], None)
    with track("r", "job", db=db, interval_s=0.05, quiet=True, readers=[Modelled(0.5, 2.0)]) as run:
        time.sleep(0.1)
    fp = run.footprint()
    cpu = fp.energy_by_component_kwh["cpu"].kwh
    new = cpu.value - 1000.0 / J_PER_KWH
    assert cpu.low == pytest.approx(1000.0 / J_PER_KWH + 0.5 * new, rel=1e-9)
    assert fp.wall_time_h is not None and fp.wall_time_h.value > 10 / 3600
    note = next(a for a in fp.assumptions if a.what == "resumed run, earlier figures")
    assert "energy range" in note.value and "embodied" in note.value
    _, rate = run._measured.embodied_at(run.sampler.snapshot, 1.0)  # type: ignore[union-attr]
    assert fp.embodied_co2e_kg.value == pytest.approx(rate.value * fp.wall_time_h.value, rel=1e-9)


def test_the_projection_at_the_end_has_the_footprints_range(tmp_path: Path) -> None:
    with track("p", persist=False, interval_s=0.05, quiet=True, readers=[Modelled(0.5, 2.0)]) as run:
        measuring(run)
        run.progress(1, 4)
        time.sleep(0.1)
    fp = run.footprint()
    done = run.progress(4, 4)
    assert done.fraction_done == 1.0
    for got, want in ((done.energy_kwh, fp.energy_kwh), (done.co2e_kg, fp.total_co2e_kg)):
        assert (got.value, got.low, got.high) == (pytest.approx(want.value), pytest.approx(want.low),
                                                  pytest.approx(want.high))


def test_the_projected_time_to_come_is_priced_at_the_current_hardware() -> None:
    """A resumed run's earlier segments ran on other hardware: the time still to come adds embodied CO2e at this
    segment's rate, not at the run's average so far."""
    p = Projector(1.0)
    p.observe(0, 0.0, 0.0)
    p.observe(5, 10.0, 50.0)
    p.observe(10, 20.0, 100.0)
    one = Range.exact(1.0)
    # 20 s so far carried 2 kg (eight GPUs before); now no GPUs: 0.036 kg per hour, 20 s more to come
    proj = p.project(10, 20, 100.0, 20.0, one, Range.exact(0.0), Range.exact(2.0), embodied_rate_kg_per_h=
                     Range.exact(0.036))
    assert proj.co2e_kg.value == pytest.approx(2.0 + 0.036 * 20 / 3600)
    same = p.project(10, 20, 100.0, 20.0, one, Range.exact(0.0), Range.exact(2.0))  # one set of hardware
    assert same.co2e_kg.value == pytest.approx(4.0)
