"""GPU energy stays right when the board's power limit changes mid-run, when reads fail for a moment, and when
CUDA_VISIBLE_DEVICES names no GPU: the fake NVML behind nvidia-ml-py's interface, the real reader above it."""

from __future__ import annotations

from types import ModuleType

import pytest

from wattprint.devices import DeviceConfig
from wattprint.devices.nvidia import open_nvml

from .fakes.clock import FakeClock


def _cfg(clock: FakeClock, env: dict[str, str] | None = None) -> DeviceConfig:
    return DeviceConfig(clock=clock, environ=env or {}, use_amdsmi=False)


def _draw(g: object, watts: float, seconds: float = 1.0) -> None:
    g.energy_mj += int(watts * seconds * 1000)  # type: ignore[attr-defined]
    g.power_mw = int(watts * 1000)  # type: ignore[attr-defined]


def test_a_power_limit_raised_mid_run_is_read_again_and_the_energy_is_counted(nvml: ModuleType,
                                                                              clock: FakeClock) -> None:
    (g,) = nvml.reset(nvml.make_gpus(1, power_limit_mw=200_000))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    clock.advance(1.0)
    _draw(g, 190)
    reader.read()
    g.power_limit_mw = 700_000  # an administrator (or DCGM) raises the cap; the job now draws 600 W
    for _ in range(5):
        clock.advance(1.0)
        _draw(g, 600)
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(190 + 5 * 600)
    assert r.power_w == pytest.approx(600)
    notes = reader.take_notes()
    assert any("700 W" in n and "200 W" in n for n in notes)
    assert not any("jumped" in n for n in notes)


def test_the_maximum_configurable_limit_bounds_readings_when_the_enforced_one_reads_stale(nvml: ModuleType,
                                                                                        clock: FakeClock) -> None:
    (g,) = nvml.reset(nvml.make_gpus(1, power_limit_mw=200_000, max_power_limit_mw=700_000))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    for _ in range(3):
        clock.advance(1.0)
        _draw(g, 600)  # the enforced limit still reads 200 W
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(1800)


def test_no_two_readings_in_a_row_are_refused_for_the_same_reason(nvml: ModuleType, clock: FakeClock) -> None:
    (g,) = nvml.reset(nvml.make_gpus(1, power_limit_mw=200_000))  # the limit cannot be seen to change
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    totals = []
    for _ in range(6):
        clock.advance(1.0)
        _draw(g, 600)  # more than 2x the only limit wattprint can read
        totals.append(reader.read()[0].energy_j)
    assert totals[0] == 0.0  # the first is taken for a glitch ...
    assert totals[1:] == pytest.approx([1200, 1800, 2400, 3000, 3600])  # ... the second is not, nor any after
    notes = reader.take_notes()
    assert any("second" in n and "in a row" in n for n in notes)


def test_a_single_glitch_is_still_ignored_after_the_limit_was_read_again(nvml: ModuleType, clock: FakeClock) -> None:
    (g,) = nvml.reset(nvml.make_gpus(1, power_limit_mw=200_000))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    g.power_limit_mw = 700_000
    clock.advance(1.0)
    _draw(g, 600)
    reader.read()
    clock.advance(1.0)
    _draw(g, 600)
    real = g.energy_mj
    g.energy_mj = real + 10**15  # one bogus value
    assert reader.read()[0].energy_j == pytest.approx(600)
    clock.advance(1.0)
    g.energy_mj = real + 600_000
    assert reader.read()[0].energy_j == pytest.approx(1800)


def test_power_samples_above_twice_the_old_limit_count_once_the_limit_is_raised(nvml: ModuleType,
                                                                                clock: FakeClock) -> None:
    (g,) = nvml.reset(nvml.make_gpus(1, energy_mj=None, power_mw=190_000, power_limit_mw=200_000))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    g.power_limit_mw = 700_000
    g.power_mw = 600_000
    for _ in range(4):
        clock.advance(1.0)
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(0.5 * (190 + 600) + 3 * 600)
    assert r.power_w == pytest.approx(600)


def test_power_samples_are_not_refused_twice_in_a_row(nvml: ModuleType, clock: FakeClock) -> None:
    (g,) = nvml.reset(nvml.make_gpus(1, energy_mj=None, power_mw=600_000, power_limit_mw=200_000))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    totals = []
    for _ in range(5):
        clock.advance(1.0)
        totals.append(reader.read()[0].energy_j)
    assert totals[0] == 0.0
    assert totals[1:] == pytest.approx([1200, 1800, 2400, 3000])  # the trapezoid spans the refused sample


def test_energy_drawn_while_reads_failed_is_counted_by_the_next_good_read(nvml: ModuleType, clock: FakeClock) -> None:
    (g,) = nvml.reset(nvml.make_gpus(1, power_limit_mw=700_000))
    reader, _ = open_nvml(_cfg(clock))
    assert reader is not None
    for step in range(8):
        clock.advance(1.0)
        _draw(g, 550)
        g.error = nvml.NVML_ERROR_TIMEOUT if step in (2, 3) else None
        (r,) = reader.read()
        assert not r.lost
    assert r.energy_j == pytest.approx(8 * 550)
    assert r.power_w == pytest.approx(550)
    assert not any("jumped" in n for n in reader.take_notes())


@pytest.mark.parametrize(("cvd", "says"), [
    ("", "set but empty"),
    ("-1", "'-1' hides every GPU"),
    ("NoDevFiles", "'NoDevFiles'"),
    ("all", "'all'"),
    ("GPU-ffffffff", "'GPU-ffffffff'"),
])
def test_a_cuda_visible_devices_value_that_matches_no_gpu_is_said(nvml: ModuleType, clock: FakeClock, cvd: str,
                                                                  says: str) -> None:
    nvml.reset(nvml.make_gpus(2))
    reader, notes = open_nvml(_cfg(clock, {"CUDA_VISIBLE_DEVICES": cvd}))
    assert reader is None  # as in CUDA: no GPU visible, none measured ...
    assert any(says in n and "no GPU is measured" in n for n in notes)  # ... and the note says why


def test_an_entry_that_ends_the_list_is_named(nvml: ModuleType, clock: FakeClock) -> None:
    nvml.reset(nvml.make_gpus(3))
    reader, notes = open_nvml(_cfg(clock, {"CUDA_VISIBLE_DEVICES": "0,7,1"}))
    assert reader is not None and [g.label for g in reader.gpus] == ["gpu0"]
    assert any("'7'" in n and "only gpu0 is measured" in n for n in notes)
