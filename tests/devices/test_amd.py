"""amdsmi reader against a fake amdsmi module (same names and dict keys as ROCm's bindings)."""

from __future__ import annotations

from types import ModuleType

import pytest

from wattprint.devices import DeviceConfig
from wattprint.devices.amd import open_amdsmi
from wattprint.devices.gpu import MAX_CONSECUTIVE_FAILURES

from .fakes.clock import FakeClock


def _cfg(clock: FakeClock, env: dict[str, str] | None = None) -> DeviceConfig:
    return DeviceConfig(clock=clock, environ=env or {})


@pytest.mark.parametrize("legacy", [False, True])
def test_accumulator_times_resolution_in_microjoules(amdsmi: ModuleType, clock: FakeClock, legacy: bool) -> None:
    (g,) = amdsmi.reset([amdsmi.FakeAmdGpu(ticks=1000, resolution_uj=15.3, legacy_key=legacy)])
    reader, notes = open_amdsmi(_cfg(clock))
    assert reader is not None and notes == []
    clock.advance(2.0)
    g.ticks += 20_000_000  # x 15.3 µJ = 306 J
    (r,) = reader.read()
    assert (r.component, r.device, r.basis) == ("gpu", "gpu0", "measured")
    assert r.energy_j == pytest.approx(306.0)
    assert r.power_w == pytest.approx(153.0)


def test_power_fallback_integrated(amdsmi: ModuleType, clock: FakeClock) -> None:
    (g,) = amdsmi.reset([amdsmi.FakeAmdGpu(ticks=None, power_w=300.0)])
    reader, notes = open_amdsmi(_cfg(clock))
    assert reader is not None and any("no energy counter" in n for n in notes)
    clock.advance(4.0)
    g.power_w = 100.0
    assert reader.read()[0].energy_j == pytest.approx(800.0)


def test_counter_reset_and_lost_gpu(amdsmi: ModuleType, clock: FakeClock) -> None:
    g0, g1 = amdsmi.reset([amdsmi.FakeAmdGpu(ticks=10**9, resolution_uj=1.0, power_w=200.0), amdsmi.FakeAmdGpu()])
    reader, _ = open_amdsmi(_cfg(clock))
    assert reader is not None
    clock.advance(1)
    g0.ticks = 5  # reset
    r0, _ = reader.read()
    assert r0.energy_j == pytest.approx(200.0)
    g1.error = 30
    for _ in range(MAX_CONSECUTIVE_FAILURES):
        clock.advance(1)
        g0.ticks += 10**6
        r0, r1 = reader.read()
    assert r1.lost and not r0.lost
    assert r0.energy_j == pytest.approx(200.0 + MAX_CONSECUTIVE_FAILURES)
    notes = reader.take_notes()
    assert sum("lost" in n for n in notes) == 1 and sum("went back" in n for n in notes) == 1


def test_visible_devices(amdsmi: ModuleType, clock: FakeClock) -> None:
    amdsmi.reset([amdsmi.FakeAmdGpu() for _ in range(4)])
    reader, _ = open_amdsmi(_cfg(clock, {"ROCR_VISIBLE_DEVICES": "3,1"}))
    assert reader is not None
    assert [r.device for r in reader.read()] == ["gpu3", "gpu1"]


def test_no_driver_no_reader(amdsmi: ModuleType, clock: FakeClock) -> None:
    amdsmi.reset([amdsmi.FakeAmdGpu()], init_error=amdsmi.AMDSMI_STATUS_NO_DRV)
    reader, _ = open_amdsmi(_cfg(clock))
    assert reader is None


def test_not_installed(no_gpu_modules: None, clock: FakeClock) -> None:
    assert open_amdsmi(_cfg(clock)) == (None, [])


@pytest.mark.parametrize(("env", "expected"), [
    ({"CUDA_VISIBLE_DEVICES": "1"}, ["gpu1"]),  # HIP reads CUDA_VISIBLE_DEVICES too
    ({"ROCR_VISIBLE_DEVICES": "2,3", "HIP_VISIBLE_DEVICES": "1"}, ["gpu3"]),  # HIP counts within ROCR's choice
    ({"HIP_VISIBLE_DEVICES": "0", "CUDA_VISIBLE_DEVICES": "3"}, ["gpu0"]),  # HIP's own variable first
    ({"ROCR_VISIBLE_DEVICES": "GPU-5d1f2a7c3e4b6a8d"}, ["gpu0", "gpu1", "gpu2", "gpu3"]),  # not matchable: all
])
def test_gpus_are_chosen_as_hip_chooses_them(amdsmi: ModuleType, clock: FakeClock, env: dict[str, str],
                                             expected: list[str]) -> None:
    amdsmi.reset([amdsmi.FakeAmdGpu() for _ in range(4)])
    reader, notes = open_amdsmi(_cfg(clock, env))
    assert reader is not None
    assert [r.device for r in reader.read()] == expected
    assert any("not an index" in n for n in notes) == ("GPU-" in str(env))


def test_an_accumulator_that_stops_moving_under_load_falls_back_to_power(amdsmi: ModuleType, clock: FakeClock) -> None:
    (g0,) = amdsmi.reset([amdsmi.FakeAmdGpu(ticks=1000, power_w=550.0)])
    reader, _ = open_amdsmi(_cfg(clock))
    assert reader is not None
    for _ in range(4):  # the accumulator is stuck (ROCm/amdsmi#38) while the board draws 550 W
        clock.advance(1.0)
        reader.read()
    clock.advance(1.0)
    (r,) = reader.read()
    assert r.energy_j == pytest.approx(5 * 550.0, rel=0.01)  # the still time bridged, then power integrated
    assert any("has not moved" in n for n in reader.take_notes())
    assert g0.ticks == 1000
