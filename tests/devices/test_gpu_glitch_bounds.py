"""GPU readings the driver cannot have meant: torn or garbage counter values that come twice in a row, "not
available" sentinels, a refused reading, failed reads and another refused reading, power samples no board can draw;
AMD GPUs bounded by their power cap like NVIDIA ones; MI250 dies paired only on a pattern that holds over several
reads. The fake NVML / amdsmi modules behind the real interfaces, the real readers above them."""

from __future__ import annotations

import random
from types import ModuleType

import pytest

import wattprint.devices.amd as amd
from wattprint import data
from wattprint.devices import DeviceConfig
from wattprint.devices.amd import open_amdsmi
from wattprint.devices.gpu import GLITCH_MARGIN
from wattprint.devices.nvidia import open_nvml

from .fakes.clock import FakeClock

TOP_TDP_W = max(a.tdp_w for a in data.accelerators() if a.tdp_w)  # the catalogue's, not typed here
RES_UJ = 15.3


def _nv_cfg(clock: FakeClock) -> DeviceConfig:
    return DeviceConfig(clock=clock, environ={}, use_amdsmi=False)


def _amd_cfg(clock: FakeClock, env: dict[str, str] | None = None) -> DeviceConfig:
    return DeviceConfig(clock=clock, environ=env or {}, use_nvml=False)


def _ticks(joules: float) -> int:
    return round(joules * 1e6 / RES_UJ)


def _run_counter(nvml: ModuleType, clock: FakeClock, bad: dict[int, int], errors: frozenset[int] = frozenset(),
                 reads: int = 20, watts: float = 300.0, **kw: object) -> tuple[float, float, list[str]]:
    """An NVML GPU drawing ``watts``; read ``k`` returns ``bad[k]`` (mJ) instead of its counter, and fails (NVML
    timeout) for ``k`` in ``errors``. (true J, reported J, notes)."""
    (g,) = nvml.reset(nvml.make_gpus(1, **{"power_limit_mw": 700_000, **kw}))
    g.power_mw = int(watts * 1000)
    reader, _ = open_nvml(_nv_cfg(clock))
    assert reader is not None
    true_mj = 0
    for k in range(reads):
        clock.advance(1.0)
        true_mj += int(watts * 1000)
        g.energy_mj = bad.get(k, true_mj)
        g.error = nvml.NVML_ERROR_TIMEOUT if k in errors else None
        (r,) = reader.read()
    return true_mj / 1000, r.energy_j, reader.take_notes()


# -- the second refusal in a row is bounded --------------------------------------------------------------------------
def test_two_torn_counter_reads_in_a_row_are_not_counted(nvml: ModuleType, clock: FakeClock) -> None:
    # the high word of the 64-bit counter off by one, then by two: 4.3 MJ and 8.6 MJ steps
    true, got, notes = _run_counter(nvml, clock, {5: 6 * 300_000 + (1 << 32), 6: 7 * 300_000 + (1 << 33)})
    assert got == pytest.approx(true)  # was 8.6e6 J for 6,000 J
    assert any("no board can draw" in n for n in notes)
    assert not any("taken to be wrong" in n for n in notes)


def test_garbage_counter_values_many_reads_in_a_row_are_never_counted(nvml: ModuleType, clock: FakeClock) -> None:
    rnd = random.Random(1)
    bad = {k: rnd.getrandbits(64) for k in range(5, 15)}
    true, got, _ = _run_counter(nvml, clock, bad)
    assert got == pytest.approx(true, rel=0.05)  # was 4e16 J


def test_a_failed_read_ends_a_row_of_refusals(nvml: ModuleType, clock: FakeClock) -> None:
    # a glitch, two timeouts, an unrelated glitch: not "two in a row"
    true, got, _ = _run_counter(nvml, clock, {3: 4 * 300_000 + (1 << 32), 6: 7 * 300_000 + (1 << 33)},
                                errors=frozenset({4, 5}), reads=12)
    assert got == pytest.approx(true)  # was 8.6e6 J


def test_a_failed_read_ends_a_row_of_refused_power_samples(nvml: ModuleType, clock: FakeClock) -> None:
    # 900 W on a 250 W board: under the absolute cap, so only the row rule decides
    (g,) = nvml.reset(nvml.make_gpus(1, energy_mj=None, power_mw=150_000, power_limit_mw=250_000))
    reader, _ = open_nvml(_nv_cfg(clock))
    assert reader is not None
    for k in range(8):
        clock.advance(1.0)
        g.power_mw = 900_000 if k in (3, 5) else 150_000
        g.error = nvml.NVML_ERROR_TIMEOUT if k == 4 else None
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(8 * 150)  # both spikes refused (the second was counted before)


def test_sentinel_counter_values_are_failed_reads(nvml: ModuleType, clock: FakeClock) -> None:
    true, got, notes = _run_counter(nvml, clock, {5: (1 << 64) - 1, 6: (1 << 64) - 1})
    assert got == pytest.approx(true)  # was 6,900 J for 7,500 J: the sentinel became the base
    assert not any("jumped" in n or "went back" in n for n in notes)


def _run_power(nvml: ModuleType, clock: FakeClock, bad: dict[int, int], reads: int = 30,
               watts: float = 150.0, **kw: object) -> tuple[float, float, list[str]]:
    (g,) = nvml.reset(nvml.make_gpus(1, **{"energy_mj": None, "power_limit_mw": 250_000,
                                           "name": "Tesla P100-PCIE-16GB", **kw}))
    g.power_mw = int(watts * 1000)
    reader, _ = open_nvml(_nv_cfg(clock))
    assert reader is not None
    for k in range(reads):
        clock.advance(1.0)
        g.power_mw = bad.get(k, int(watts * 1000))
        (r,) = reader.read()
    return watts * reads, r.energy_j, reader.take_notes()


def test_sentinel_power_samples_are_failed_reads(nvml: ModuleType, clock: FakeClock) -> None:
    true, got, _ = _run_power(nvml, clock, {10: 0xFFFFFFFF, 11: 0xFFFFFFFF})
    assert got == pytest.approx(true)  # was 6.4e6 J for 4,500 J


def test_impossible_power_twice_does_not_raise_the_bound(nvml: ModuleType, clock: FakeClock) -> None:
    true, got, notes = _run_power(nvml, clock, {10: 65_535_000, 11: 65_535_000, 20: 2_000_000, 25: 2_000_000})
    assert got == pytest.approx(true)  # was 106 kJ: 65 kW twice raised the bound, and 2 kW spikes passed after
    assert any("no board can draw" in n for n in notes)


def test_the_bound_is_never_raised_above_the_cap(nvml: ModuleType, clock: FakeClock) -> None:
    # no maximum configurable limit: the cap is twice the catalogue's highest accelerator TDP
    cap_w = GLITCH_MARGIN * TOP_TDP_W
    high, over = int(0.9 * cap_w * 1000), int(1.05 * cap_w * 1000)
    true, got, notes = _run_power(nvml, clock, {10: high, 11: high, 20: over, 21: over}, reads=30)
    # of the two samples under the cap the second is counted (a trapezoid over the 2 s since the last counted one,
    # then 1 s back down: 1.5 s at the difference); the two over it never are
    expected = true + 1.5 * (high / 1000 - 150)
    assert got == pytest.approx(expected)
    assert any("never more than" in n for n in notes)


def test_the_cap_is_twice_the_maximum_configurable_limit_where_nvml_gives_it(nvml: ModuleType,
                                                                           clock: FakeClock) -> None:
    # an H100 that can be set to 700 W at most: 1,800 W, then 1,650 W over both seconds (under the catalogue cap) is
    # still a read error
    true, got, _ = _run_counter(nvml, clock, {5: 5 * 300_000 + 1_800_000, 6: 5 * 300_000 + 3_300_000},
                                power_limit_mw=700_000, max_power_limit_mw=700_000, reads=10)
    assert got == pytest.approx(true)


def test_the_cap_reads_the_catalogue(nvml: ModuleType, clock: FakeClock) -> None:
    nvml.reset(nvml.make_gpus(2))
    nvml.GPUS[1].max_power_limit_mw = 400_000
    reader, _ = open_nvml(_nv_cfg(clock))
    assert reader is not None
    assert [reader.cap_w(g) for g in reader.gpus] == [GLITCH_MARGIN * TOP_TDP_W, GLITCH_MARGIN * 400]


def test_a_limit_raised_mid_run_beyond_reach_of_nvml_is_still_followed(nvml: ModuleType, clock: FakeClock) -> None:
    # what the rule is for: 700 W on a board whose limit reads 200 W and cannot be read again
    (g,) = nvml.reset(nvml.make_gpus(1, power_limit_mw=200_000))
    reader, _ = open_nvml(_nv_cfg(clock))
    assert reader is not None
    for _ in range(6):
        clock.advance(1.0)
        g.energy_mj += 700_000
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(6 * 700)  # the second step, accepted, covers the first


# -- AMD: bounded by the power cap, the same rules -------------------------------------------------------------------
def _mi300x(smi: ModuleType, **kw: object) -> object:
    (g,) = smi.reset([smi.FakeAmdGpu(**{"market_name": "AMD Instinct MI300X", "ticks": _ticks(5e7),
                                        "resolution_uj": RES_UJ, "power_w": 600.0, **kw})])
    return g


def test_amd_power_cap_bounds_readings(amdsmi: ModuleType, clock: FakeClock) -> None:
    _mi300x(amdsmi, power_cap_uw=750_000_000, max_power_cap_uw=750_000_000)
    reader, _ = open_amdsmi(_amd_cfg(clock))
    assert reader is not None
    (g,) = reader.gpus
    assert (g.limit_w, g.max_limit_w) == (750.0, 750.0)  # amdsmi_get_power_cap_info: µW
    assert reader.cap_w(g) == GLITCH_MARGIN * 750


def test_amd_power_limit_in_watts_where_there_is_no_cap_info(amdsmi: ModuleType, clock: FakeClock) -> None:
    _mi300x(amdsmi)  # amdsmi_get_power_info's power_limit, W
    reader, _ = open_amdsmi(_amd_cfg(clock))
    assert reader is not None and reader.gpus[0].limit_w == 500.0


def test_one_zero_accumulator_read_is_a_glitch(amdsmi: ModuleType, clock: FakeClock) -> None:
    g = _mi300x(amdsmi, power_cap_uw=750_000_000)
    reader, _ = open_amdsmi(_amd_cfg(clock))
    assert reader is not None
    base = g.ticks  # type: ignore[attr-defined]
    for k in range(10):
        clock.advance(1.0)
        base += _ticks(600)
        g.ticks = 0 if k == 4 else base  # type: ignore[attr-defined]
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(6000, rel=1e-4)  # was 5.0e7 J
    assert any("glitch" in n for n in reader.take_notes())


def test_amd_garbage_twice_in_a_row_is_not_counted(amdsmi: ModuleType, clock: FakeClock) -> None:
    g = _mi300x(amdsmi, power_cap_uw=750_000_000)
    reader, _ = open_amdsmi(_amd_cfg(clock))
    assert reader is not None
    base = g.ticks  # type: ignore[attr-defined]
    for k in range(8):
        clock.advance(1.0)
        base += _ticks(600)
        g.ticks = base + _ticks(1e9) * (k - 2) if k in (3, 4) else base  # type: ignore[attr-defined]
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(8 * 600, rel=1e-4)


def test_amd_sentinel_accumulator_values_are_failed_reads(amdsmi: ModuleType, clock: FakeClock) -> None:
    g = _mi300x(amdsmi, power_cap_uw=750_000_000)
    reader, _ = open_amdsmi(_amd_cfg(clock))
    assert reader is not None
    base = g.ticks  # type: ignore[attr-defined]
    for k in range(8):
        clock.advance(1.0)
        base += _ticks(600)
        g.ticks = (1 << 64) - 1 if k in (3, 4) else base  # type: ignore[attr-defined]
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(8 * 600, rel=1e-4)
    assert not any("jumped" in n for n in reader.take_notes())


def test_amd_power_samples_no_board_can_draw_are_ignored(amdsmi: ModuleType, clock: FakeClock) -> None:
    (g,) = amdsmi.reset([amdsmi.FakeAmdGpu(ticks=None, power_w=300.0)])  # power sampled, no energy counter
    reader, _ = open_amdsmi(_amd_cfg(clock))
    assert reader is not None
    for k in range(10):
        clock.advance(1.0)
        g.power_w = {3: 20_000.0, 4: 20_000.0, 6: float(0xFFFF)}.get(k, 300.0)
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(3000)  # 20 kW twice was counted, and 65,535 W (amdsmi's N/A) too


def test_amd_reads_the_maximum_cap_again_before_refusing(amdsmi: ModuleType, clock: FakeClock) -> None:
    g = _mi300x(amdsmi, power_cap_uw=300_000_000, max_power_cap_uw=750_000_000)
    reader, _ = open_amdsmi(_amd_cfg(clock))
    assert reader is not None
    base = g.ticks  # type: ignore[attr-defined]
    for _ in range(3):
        clock.advance(1.0)
        base += _ticks(700)
        g.ticks = base  # type: ignore[attr-defined]
        (r,) = reader.read()
    assert r.energy_j == pytest.approx(2100, rel=1e-4)
    assert any("750 W" in n and "300 W" in n for n in reader.take_notes())


# -- MI250: pairing from several reads -------------------------------------------------------------------------------
def _mi250(smi: ModuleType, odd_script: list[float | str], odd_power: float | str = 250.0) -> list[object]:
    return list(smi.reset([
        smi.FakeAmdGpu(market_name="AMD Instinct MI250X", ticks=0, resolution_uj=RES_UJ, power_w=250.0),
        smi.FakeAmdGpu(market_name="AMD Instinct MI250X", ticks=0, resolution_uj=RES_UJ, power_w=odd_power,
                       power_script=list(odd_script)),
    ]))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(amd, "_sleep", slept.append, raising=False)  # no real waits in tests
    return slept


def test_one_transient_na_on_the_odd_gcd_does_not_pair_the_dies(amdsmi: ModuleType, clock: FakeClock,
                                                                sleeps: list[float]) -> None:
    even, odd = _mi250(amdsmi, ["N/A"])  # a driver that reports each GCD's power; one N/A at open
    reader, notes = open_amdsmi(_amd_cfg(clock))
    assert reader is not None
    for _ in range(5):
        clock.advance(1.0)
        for g in (even, odd):
            g.ticks += _ticks(250.0)  # type: ignore[attr-defined]
    readings = reader.read()
    assert [r.device for r in readings] == ["gpu0", "gpu1"]
    assert sum(r.energy_j for r in readings) == pytest.approx(2500, rel=1e-6)  # was 1,250 J, as gpu0 only
    assert any("transient" in n for n in notes)  # ambiguous: said
    assert sleeps == [amd.PAIRING_GAP_S]


@pytest.mark.parametrize("script", [["N/A", 0.0], [0.0, "N/A"]])
def test_a_job_on_the_odd_gcd_is_not_halved_by_a_transient_read(amdsmi: ModuleType, clock: FakeClock,
                                                                 sleeps: list[float],
                                                                 script: list[float | str]) -> None:
    even, odd = _mi250(amdsmi, script)
    reader, notes = open_amdsmi(_amd_cfg(clock, {"ROCR_VISIBLE_DEVICES": "1"}))
    assert reader is not None
    for _ in range(4):
        clock.advance(1.0)
        even.ticks += _ticks(250.0)  # type: ignore[attr-defined]
        odd.ticks += _ticks(250.0)  # type: ignore[attr-defined]
    (r,) = reader.read()
    assert r.device == "gpu1"
    assert r.energy_j == pytest.approx(1000, rel=1e-6)  # its own, not half the package (500 J)
    assert not any("half the package" in n for n in notes)


def test_the_pattern_on_every_read_pairs_the_dies(amdsmi: ModuleType, clock: FakeClock, sleeps: list[float]) -> None:
    even, _odd = _mi250(amdsmi, ["N/A", 0.0], odd_power=0.0)  # N/A or 0 W every time: the package on GCD 0
    reader, notes = open_amdsmi(_amd_cfg(clock, {"ROCR_VISIBLE_DEVICES": "1"}))
    assert reader is not None
    clock.advance(1.0)
    even.ticks += _ticks(500.0)  # type: ignore[attr-defined]
    (r,) = reader.read()
    assert r.energy_j == pytest.approx(250, rel=1e-6)
    assert any("half the package" in n for n in notes)
    assert sleeps == [amd.PAIRING_GAP_S] * (amd.PAIRING_SAMPLES - 1)


def test_no_pattern_costs_one_read_and_no_wait(amdsmi: ModuleType, clock: FakeClock, sleeps: list[float]) -> None:
    _mi250(amdsmi, [])
    reader, notes = open_amdsmi(_amd_cfg(clock))
    assert reader is not None and len(reader.gpus) == 2 and notes == []
    assert sleeps == []
