"""NVML reader against a fake pynvml module (same names and units as nvidia-ml-py)."""

from __future__ import annotations

from types import ModuleType

import pytest

from wattprint.devices import DeviceConfig, gpu_process_pids
from wattprint.devices.gpu import MAX_CONSECUTIVE_FAILURES
from wattprint.devices.nvidia import open_nvml

from .fakes.clock import FakeClock


def _cfg(clock: FakeClock, env: dict[str, str] | None = None, **kw) -> DeviceConfig:  # type: ignore[no-untyped-def]
    return DeviceConfig(clock=clock, environ=env or {}, proc_root="/nonexistent", **kw)


def test_energy_counter_preferred_mj_to_joules(nvml: ModuleType, clock: FakeClock) -> None:
    (g0,) = nvml.reset(nvml.make_gpus(1, energy_mj=5_000_000, power_mw=999_000))
    reader, notes = open_nvml(_cfg(clock))
    assert reader is not None and notes == []
    clock.advance(2.0)
    g0.energy_mj += 600_000  # 600 J in 2 s
    (r,) = reader.read()
    assert (r.component, r.device, r.basis, r.lost) == ("gpu", "gpu0", "measured", False)
    assert r.energy_j == pytest.approx(600.0)
    assert r.power_w == pytest.approx(300.0)  # from the counter, not the (different) instantaneous power


def test_power_integrated_when_no_counter(nvml: ModuleType, clock: FakeClock) -> None:
    (g0,) = nvml.reset(nvml.make_gpus(1, energy_mj=None, power_mw=100_000))
    reader, notes = open_nvml(_cfg(clock))
    assert reader is not None
    assert any("no energy counter" in n for n in notes)
    clock.advance(2.0)
    g0.power_mw = 200_000
    (r,) = reader.read()
    assert r.energy_j == pytest.approx(300.0)  # trapezoid: (100 + 200) / 2 W x 2 s
    assert r.power_w == pytest.approx(200.0)
    clock.advance(1.0)
    (r,) = reader.read()
    assert r.energy_j == pytest.approx(500.0)


def test_counter_reset_gives_no_negative_energy(nvml: ModuleType, clock: FakeClock) -> None:
    (g0,) = nvml.reset(nvml.make_gpus(1, energy_mj=10_000_000, power_mw=250_000))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    clock.advance(1.0)
    g0.energy_mj += 250_000
    assert reader.read()[0].energy_j == pytest.approx(250.0)
    clock.advance(1.0)
    g0.energy_mj = 1_000  # driver reload: counter restarts
    r = reader.read()[0]
    assert r.energy_j == pytest.approx(500.0)  # interval bridged with 250 W x 1 s
    clock.advance(1.0)
    g0.energy_mj += 250_000
    assert reader.read()[0].energy_j == pytest.approx(750.0)
    notes = reader.take_notes()
    assert len(notes) == 1 and "went back" in notes[0]


def test_vanished_gpu_keeps_energy_others_continue(nvml: ModuleType, clock: FakeClock) -> None:
    g0, g1 = nvml.reset(nvml.make_gpus(2, energy_mj=0))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    clock.advance(1.0)
    g0.energy_mj += 100_000
    g1.energy_mj += 200_000
    reader.read()
    g1.error = nvml.NVML_ERROR_GPU_IS_LOST  # falls off the bus
    for _ in range(3):
        clock.advance(1.0)
        g0.energy_mj += 100_000
        r0, r1 = reader.read()
    assert r0.energy_j == pytest.approx(400.0) and not r0.lost
    assert r1.energy_j == pytest.approx(200.0) and r1.lost and r1.power_w is None
    notes = reader.take_notes()
    assert len(notes) == 1 and "gpu1" in notes[0] and "lost" in notes[0]
    calls = g1.calls
    reader.read()
    assert g1.calls == calls  # a lost GPU is not polled again


def test_transient_errors_retry_then_lost(nvml: ModuleType, clock: FakeClock) -> None:
    (g0,) = nvml.reset(nvml.make_gpus(1, energy_mj=0))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    g0.error = nvml.NVML_ERROR_UNKNOWN
    clock.advance(1)
    assert not reader.read()[0].lost
    g0.error = None
    g0.energy_mj += 50_000
    clock.advance(1)
    r = reader.read()[0]
    assert not r.lost and r.energy_j == pytest.approx(50.0)
    g0.error = nvml.NVML_ERROR_UNKNOWN
    for _ in range(MAX_CONSECUTIVE_FAILURES):
        clock.advance(1)
        r = reader.read()[0]
    assert r.lost and r.energy_j == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("cvd", "expected"),
    [
        ("1", ["gpu1"]),
        ("2,0", ["gpu2", "gpu0"]),
        ("0,7,1", ["gpu0"]),  # as CUDA does: the first invalid entry ends the list
        ("GPU-00000002-aaaa", ["gpu2"]),  # UUID prefix
        ("GPU-00000001-aaaa-bbbb-cccc-000000000001,0", ["gpu1", "gpu0"]),
    ],
)
def test_cuda_visible_devices(nvml: ModuleType, clock: FakeClock, cvd: str, expected: list[str]) -> None:
    nvml.reset(nvml.make_gpus(3))
    reader, _ = open_nvml(_cfg(clock, {"CUDA_VISIBLE_DEVICES": cvd}))
    assert reader is not None
    assert [r.device for r in reader.read()] == expected


@pytest.mark.parametrize("cvd", ["", "-1", "NoDevFiles"])
def test_cuda_visible_devices_none(nvml: ModuleType, clock: FakeClock, cvd: str) -> None:
    nvml.reset(nvml.make_gpus(2))
    reader, _ = open_nvml(_cfg(clock, {"CUDA_VISIBLE_DEVICES": cvd}))
    assert reader is None
    assert nvml.STATE["shutdowns"] == 1


def test_gpu_indices_override_environment(nvml: ModuleType, clock: FakeClock) -> None:
    nvml.reset(nvml.make_gpus(3))
    reader, _ = open_nvml(_cfg(clock, {"CUDA_VISIBLE_DEVICES": "0"}, gpu_indices=[1, 2]))
    assert reader is not None
    assert [r.device for r in reader.read()] == ["gpu1", "gpu2"]


def test_mig_instance_measures_parent_gpu_and_says_so(nvml: ModuleType, clock: FakeClock) -> None:
    g0, g1 = nvml.reset(nvml.make_gpus(2, mig_mode=1))
    g1.mig_uuids = ["MIG-11111111-2222-3333-4444-555555555555", "MIG-66666666-2222-3333-4444-555555555555"]
    env = {"CUDA_VISIBLE_DEVICES": ",".join(g1.mig_uuids)}  # two instances of the same GPU
    reader, notes = open_nvml(_cfg(clock, env))
    assert reader is not None
    assert [r.device for r in reader.read()] == ["gpu1"]  # measured once
    assert any("MIG" in n and "parent GPU gpu1" in n and "not report" in n for n in notes)
    clock.advance(1)
    g1.energy_mj += 70_000
    assert reader.read()[0].energy_j == pytest.approx(70.0)


def test_legacy_mig_uuid_form(nvml: ModuleType, clock: FakeClock) -> None:
    g0, g1 = nvml.reset(nvml.make_gpus(2, mig_mode=1))
    reader, _ = open_nvml(_cfg(clock, {"CUDA_VISIBLE_DEVICES": f"MIG-{g1.uuid}/1/0"}))
    assert reader is not None
    assert [r.device for r in reader.read()] == ["gpu1"]


def test_mig_mode_without_cvd_is_noted(nvml: ModuleType, clock: FakeClock) -> None:
    nvml.reset(nvml.make_gpus(1, mig_mode=1))
    _, notes = open_nvml(_cfg(clock))
    assert any("MIG mode" in n and "whole GPU" in n for n in notes)


def test_gpu_process_pids(nvml: ModuleType, clock: FakeClock) -> None:
    g0, g1 = nvml.reset(nvml.make_gpus(2))
    g0.processes = [111, 222]
    g1.processes = [333]
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    assert gpu_process_pids([reader]) == {"gpu0": {111, 222}, "gpu1": {333}}
    g1.error = nvml.NVML_ERROR_GPU_IS_LOST
    reader.read()
    assert gpu_process_pids([reader]) == {"gpu0": {111, 222}}


def test_nvml_unavailable_is_not_an_error(nvml: ModuleType, clock: FakeClock) -> None:
    nvml.reset(nvml.make_gpus(1), init_error=nvml.NVML_ERROR_LIBRARY_NOT_FOUND)
    assert open_nvml(_cfg(clock)) == (None, [])


def test_no_pynvml_installed(no_gpu_modules: None, clock: FakeClock) -> None:
    assert open_nvml(_cfg(clock)) == (None, [])


def test_gpu_with_neither_energy_nor_power_is_skipped(nvml: ModuleType, clock: FakeClock) -> None:
    nvml.reset(nvml.make_gpus(2))
    nvml.GPUS[0].energy_mj = None
    nvml.GPUS[0].power_mw = None
    reader, notes = open_nvml(_cfg(clock))
    assert reader is not None
    assert [r.device for r in reader.read()] == ["gpu1"]
    assert any("gpu0" in n and "neither" in n for n in notes)


def test_close_shuts_nvml_down_once(nvml: ModuleType, clock: FakeClock) -> None:
    nvml.reset(nvml.make_gpus(1))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    reader.close()
    reader.close()
    assert nvml.STATE["shutdowns"] == 1


def test_gpus_the_job_may_not_open_do_not_stop_the_others_being_measured(nvml: ModuleType, clock: FakeClock) -> None:
    gpus = nvml.reset(nvml.make_gpus(4, energy_mj=0))
    no_permission = 4  # NVML_ERROR_NO_PERMISSION: the node's GPUs outside this job's cgroup
    for g in (gpus[0], gpus[1], gpus[3]):
        g.error = no_permission
    reader, notes = open_nvml(_cfg(clock))
    assert reader is not None
    assert [g.label for g in reader.gpus] == ["gpu2"]
    assert [n for n in notes if "cannot be opened" in n] == [
        "gpu0, gpu1, gpu3 cannot be opened (NVML error 4: another job's, or lost); not measured"]
    clock.advance(1.0)
    gpus[2].energy_mj += 250_000
    (r,) = reader.read()
    assert (r.device, r.energy_j) == ("gpu2", pytest.approx(250.0))
    only_allowed, notes = open_nvml(_cfg(clock, {"CUDA_VISIBLE_DEVICES": gpus[2].uuid}))
    assert only_allowed is not None and [g.label for g in only_allowed.gpus] == ["gpu2"] and notes == []


def test_a_counter_glitch_or_an_absurd_power_sample_is_ignored_not_charged(nvml: ModuleType, clock: FakeClock) -> None:
    (g0,) = nvml.reset(nvml.make_gpus(1, energy_mj=1_000_000, power_mw=300_000))  # 700 W limit
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    clock.advance(1.0)
    g0.energy_mj += 300_000
    real = g0.energy_mj
    g0.energy_mj = real + 10**15  # one bogus value
    (r,) = reader.read()
    assert r.energy_j == pytest.approx(0.0)
    clock.advance(1.0)
    g0.energy_mj = real + 300_000  # back to normal: the whole 2 s are counted once
    (r,) = reader.read()
    assert r.energy_j == pytest.approx(600.0)
    clock.advance(1.0)
    g0.energy_mj += 10**12  # rebased for good: the jump is dropped, counting goes on from the new base
    reader.read()
    clock.advance(1.0)
    g0.energy_mj += 300_000
    (r,) = reader.read()
    assert r.energy_j == pytest.approx(900.0)
    assert any("jumped" in n for n in reader.take_notes())

    (p0,) = nvml.reset(nvml.make_gpus(1, energy_mj=None, power_mw=300_000))
    power_reader, _ = open_nvml(_cfg(clock))
    assert power_reader is not None
    clock.advance(1.0)
    p0.power_mw = 10**9  # 1 MW
    power_reader.read()
    clock.advance(1.0)
    p0.power_mw = 300_000
    (r,) = power_reader.read()
    assert r.energy_j == pytest.approx(600.0)


def test_a_burst_of_timeouts_at_a_short_interval_is_not_a_lost_gpu(nvml: ModuleType, clock: FakeClock) -> None:
    (g0,) = nvml.reset(nvml.make_gpus(1, energy_mj=0))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    g0.error = 10  # NVML_ERROR_TIMEOUT for 40 ms, read every 10 ms
    for _ in range(4):
        clock.advance(0.01)
        g0.energy_mj += 3_000
        assert not reader.read()[0].lost
    g0.error = None
    clock.advance(0.01)
    g0.energy_mj += 3_000
    (r,) = reader.read()
    assert not r.lost and r.energy_j == pytest.approx(15.0)  # the counter covers the gap exactly
