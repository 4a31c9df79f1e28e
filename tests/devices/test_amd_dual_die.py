"""MI250 / MI250X: two GCDs per package listed as two GPUs, the package's power reported on the even GCD only and
0 W (or N/A) on the odd one (ml-energy/zeus#203, llnl/variorum#553, mlco2/codecarbon#1097); and GPUs named by UUID
in ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES. A fake amdsmi module; the real reader above it."""

from __future__ import annotations

from types import ModuleType

import pytest

from wattprint.devices import DeviceConfig
from wattprint.devices.amd import open_amdsmi

from .fakes.clock import FakeClock

RES_UJ = 15.3


def _cfg(clock: FakeClock, env: dict[str, str] | None = None) -> DeviceConfig:
    return DeviceConfig(clock=clock, environ=env or {}, use_nvml=False)


def _ticks(joules: float) -> int:
    return round(joules * 1e6 / RES_UJ)


def _package(smi: ModuleType, odd_power: float | str = 0.0, name: str = "AMD Instinct MI250X") -> list[object]:
    """One MI250X card: GCD 0 reports the package's power; GCD 1 reads 0 W (or "N/A")."""
    return list(smi.reset([smi.FakeAmdGpu(market_name=name, ticks=0, resolution_uj=RES_UJ, power_w=500.0),
                           smi.FakeAmdGpu(market_name=name, ticks=0, resolution_uj=RES_UJ, power_w=odd_power)]))


@pytest.mark.parametrize(("visible", "odd_power"), [("1", 0.0), ("0", 0.0), ("1", "N/A")])
def test_a_job_on_one_gcd_is_charged_half_the_package_with_a_note(amdsmi: ModuleType, clock: FakeClock,
                                                                  visible: str, odd_power: float | str) -> None:
    even, odd = _package(amdsmi, odd_power)
    reader, notes = open_amdsmi(_cfg(clock, {"ROCR_VISIBLE_DEVICES": visible}))
    assert reader is not None
    for _ in range(5):
        clock.advance(1.0)
        even.ticks += _ticks(500.0)  # type: ignore[attr-defined]  # the package draws 500 W, reported on GCD 0
    (r,) = reader.read()
    assert r.device == f"gpu{visible}"
    assert r.energy_j == pytest.approx(0.5 * 2500, rel=1e-6)
    assert r.power_w == pytest.approx(250, rel=1e-6)
    assert any("half the package" in n and "assumption" in n for n in notes)


def test_a_job_on_both_gcds_is_charged_the_package_once(amdsmi: ModuleType, clock: FakeClock) -> None:
    gpus = _package(amdsmi)
    reader, notes = open_amdsmi(_cfg(clock))
    assert reader is not None
    clock.advance(1.0)
    for g in gpus:  # even if the odd GCD's counter mirrors the package's
        g.ticks += _ticks(500.0)  # type: ignore[attr-defined]
    readings = reader.read()
    assert sum(r.energy_j for r in readings) == pytest.approx(500.0, rel=1e-6)
    assert [r.device for r in readings] == ["gpu0"]
    assert any("measured once" in n and "not documented" in n for n in notes)


def test_two_cards_each_pair_on_their_own(amdsmi: ModuleType, clock: FakeClock) -> None:
    gpus = amdsmi.reset([amdsmi.FakeAmdGpu(ticks=0, resolution_uj=RES_UJ, power_w=p) for p in (400.0, 0.0, 300.0, 0.0)])
    reader, _ = open_amdsmi(_cfg(clock, {"ROCR_VISIBLE_DEVICES": "1,2,3"}))
    assert reader is not None
    clock.advance(1.0)
    gpus[0].ticks += _ticks(400.0)
    gpus[2].ticks += _ticks(300.0)
    by_device = {r.device: r.energy_j for r in reader.read()}
    assert by_device == {"gpu1": pytest.approx(200.0, rel=1e-6), "gpu2": pytest.approx(300.0, rel=1e-6)}


def test_an_mi250_whose_odd_gcd_reports_its_own_power_is_two_gpus(amdsmi: ModuleType, clock: FakeClock) -> None:
    even, odd = _package(amdsmi, odd_power=250.0)  # not the documented pattern: nothing to correct
    reader, notes = open_amdsmi(_cfg(clock))
    assert reader is not None and notes == []
    clock.advance(1.0)
    even.ticks += _ticks(250.0)  # type: ignore[attr-defined]
    odd.ticks += _ticks(250.0)  # type: ignore[attr-defined]
    assert [round(r.energy_j) for r in reader.read()] == [250, 250]


def test_another_model_reading_zero_beside_a_partner_that_reads_power_is_said(amdsmi: ModuleType,
                                                                                clock: FakeClock) -> None:
    _package(amdsmi, name="AMD Instinct MI2000")  # not known to be dual-die: measured as it reads, with a note
    reader, notes = open_amdsmi(_cfg(clock, {"ROCR_VISIBLE_DEVICES": "1"}))
    assert reader is not None and [g.label for g in reader.gpus] == ["gpu1"]
    assert any("gpu1" in n and "reads no power" in n and "gpu0" in n for n in notes)


SERIALS = [0x5D1F2A7C3E4B6A8D, 0xDE8287300DA37C72, 0x0123456789ABCDEF, 0x7777000011112222]


@pytest.mark.parametrize("enumeration_info", [True, False])  # HIP's own UUID, or derived from amdsmi's
@pytest.mark.parametrize(("env", "expected"), [
    ({"ROCR_VISIBLE_DEVICES": "GPU-de8287300da37c72"}, ["gpu1"]),
    ({"ROCR_VISIBLE_DEVICES": "GPU-7777000011112222,GPU-5D1F2A7C3E4B6A8D"}, ["gpu3", "gpu0"]),
    ({"ROCR_VISIBLE_DEVICES": "2,3", "HIP_VISIBLE_DEVICES": "GPU-7777000011112222"}, ["gpu3"]),
])
def test_gpus_named_by_uuid_are_matched(amdsmi: ModuleType, clock: FakeClock, enumeration_info: bool,
                                        env: dict[str, str], expected: list[str]) -> None:
    amdsmi.reset([amdsmi.FakeAmdGpu(serial=s) for s in SERIALS])
    amdsmi.STATE["enumeration_info"] = enumeration_info
    reader, notes = open_amdsmi(_cfg(clock, env))
    assert reader is not None
    assert [g.label for g in reader.gpus] == expected
    assert notes == []


def test_a_uuid_that_matches_no_gpu_measures_all_with_a_note(amdsmi: ModuleType, clock: FakeClock) -> None:
    amdsmi.reset([amdsmi.FakeAmdGpu(serial=s) for s in SERIALS])
    reader, notes = open_amdsmi(_cfg(clock, {"ROCR_VISIBLE_DEVICES": "GPU-0000000000000bad"}))
    assert reader is not None and len(reader.gpus) == 4
    assert any("matches none of the GPU UUIDs" in n for n in notes)
