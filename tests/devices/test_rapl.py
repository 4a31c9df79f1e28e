"""RAPL powercap reader on a fake sysfs tree: sockets, sub-domains, psys, wrap-around, permissions."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from wattprint.devices import DeviceConfig, detect_readers
from wattprint.devices import rapl as rapl_mod
from wattprint.devices.rapl import find_domains, open_rapl

from .conftest import honour_mode_bits
from .fakes.clock import FakeClock
from .fakes.powercap import FakePowercap


def _by_device(readings):  # type: ignore[no-untyped-def]
    return {r.device: r for r in readings}


def test_packages_summed_over_sockets_subdomains_and_psys_not_added(powercap: FakePowercap, clock: FakeClock) -> None:
    p0 = powercap.add_package(0, energy_uj=5_000_000, subdomains=("core", "uncore", "dram"))
    p1 = powercap.add_package(1, energy_uj=7_000_000, subdomains=("core", "dram"))
    psys = powercap.add_psys(2)
    readers, notes = open_rapl(str(powercap.root), clock)
    assert [r.component for r in readers] == ["cpu", "ram"]
    assert any("psys" in n and "not added" in n for n in notes)
    cpu, ram = readers

    clock.advance(2.0)
    powercap.add(p0, 100.0)
    powercap.add(p1, 60.0)
    powercap.add(powercap.sub(0, "core"), 80.0)  # inside package-0's 100 J: must not be added again
    powercap.add(powercap.sub(0, "uncore"), 10.0)
    powercap.add(powercap.sub(0, "dram"), 8.0)
    powercap.add(powercap.sub(1, "dram"), 6.0)
    powercap.add(psys, 500.0)

    c = _by_device(cpu.read())
    assert set(c) == {"package-0", "package-1"}
    assert c["package-0"].energy_j == pytest.approx(100.0)
    assert c["package-1"].energy_j == pytest.approx(60.0)
    assert sum(r.energy_j for r in c.values()) == pytest.approx(160.0)
    assert c["package-0"].power_w == pytest.approx(50.0)
    assert all(r.basis == "measured" and r.component == "cpu" for r in c.values())

    m = _by_device(ram.read())
    assert set(m) == {"dram-0", "dram-1"}
    assert sum(r.energy_j for r in m.values()) == pytest.approx(14.0)
    assert all(r.component == "ram" for r in m.values())


def test_nested_and_flat_zones_are_found_once(powercap: FakePowercap) -> None:
    powercap.add_package(0, subdomains=("core", "dram"))
    zones = [d.zone for d in find_domains(str(powercap.root))]
    assert zones == ["intel-rapl:0", "intel-rapl:0:0", "intel-rapl:0:1"]


def test_wrap_around_uses_max_energy_range(powercap: FakePowercap, clock: FakeClock) -> None:
    max_uj = 1_000_000  # 1 J range, so a few joules wrap it
    p0 = powercap.add_package(0, energy_uj=900_000, max_uj=max_uj, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    total = 0.0
    for step in (0.3, 0.5, 0.95, 0.2):
        clock.advance(1.0)
        powercap.add(p0, step)
        total += step
        (r,) = cpu.read()
        assert r.energy_j == pytest.approx(total)
        assert r.energy_j >= 0
    assert powercap.get(p0) < 900_000  # it really wrapped


def test_a_reset_or_a_backward_glitch_is_not_taken_for_a_wrap(powercap: FakePowercap, clock: FakeClock) -> None:
    max_uj = 262_143_328_850  # a real package's range: a wrap takes minutes even at full load
    p0 = powercap.add_package(0, energy_uj=2_000_000_000, max_uj=max_uj, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(0.1)
    powercap.set(p0, 5_000_000)  # reset (module reload): 2000 J -> 5 J
    (r,) = cpu.read()
    assert r.energy_j == pytest.approx(5.0)  # counted from 0, not as a 262 kJ wrap
    clock.advance(0.1)
    powercap.set(p0, 4_999_999)  # a 1 uJ step back: neither a wrap nor a reset
    (r,) = cpu.read()
    assert r.energy_j == pytest.approx(5.0)
    notes = " ".join(cpu.take_notes())
    assert "reset" in notes and "went back" in notes
    clock.advance(1.0)
    powercap.add(p0, 50.0)
    (r,) = cpu.read()
    assert r.energy_j == pytest.approx(55.0)  # and counting goes on from there


def test_energy_never_decreases_across_reads(powercap: FakePowercap, clock: FakeClock) -> None:
    p0 = powercap.add_package(0, energy_uj=999_000, max_uj=1_000_000, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    last = 0.0
    for _ in range(20):
        clock.advance(0.5)
        powercap.add(p0, 0.37)
        (r,) = cpu.read()
        assert r.energy_j >= last
        last = r.energy_j
    assert last == pytest.approx(20 * 0.37)



def test_unreadable_energy_falls_back_to_model_with_fix(
    powercap: FakePowercap, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, no_gpu_modules: None
) -> None:
    p0 = powercap.add_package(0, subdomains=("dram",))
    for zone in (p0, powercap.sub(0, "dram")):
        powercap.energy_file(zone).chmod(0o000)  # recent kernels: energy_uj is 0400 root
    honour_mode_bits(monkeypatch)

    readers, notes = open_rapl(str(powercap.root), clock)
    assert readers == []
    assert len(notes) == 1
    assert "root only" in notes[0] and "chmod -R a+r" in notes[0] and str(powercap.cls) in notes[0]

    readers2, notes2 = detect_readers(DeviceConfig(sysfs_root=str(powercap.root), clock=clock))
    assert {r.component: r.basis for r in readers2} == {"cpu": "modelled", "ram": "modelled"}
    assert sum("root only" in n for n in notes2) == 1  # said once


def test_counter_unreadable_mid_run_is_frozen_and_noted_once(
    powercap: FakePowercap, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    p0 = powercap.add_package(0, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1)
    powercap.add(p0, 10)
    assert cpu.read()[0].energy_j == pytest.approx(10)
    # the counter stays open, so a chmod cannot stop it; what can is the zone going away, and then the
    # kernel answers the read with ENODEV: simulated at that read
    real_read_at = rapl_mod.read_at

    def gone(fd: int, size: int, offset: int = 0) -> bytes:
        raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))

    monkeypatch.setattr(rapl_mod, "read_at", gone)
    for _ in range(3):
        clock.advance(1)
        assert cpu.read()[0].energy_j == pytest.approx(10)
    notes = cpu.take_notes()
    assert len(notes) == 1 and "unreadable mid-run" in notes[0] and "No such device" in notes[0]
    assert cpu.take_notes() == []
    monkeypatch.setattr(rapl_mod, "read_at", real_read_at)  # back: counting resumes from the counter
    powercap.add(p0, 5)
    clock.advance(1)
    assert cpu.read()[0].energy_j == pytest.approx(15)  # the 5 J added while frozen are counted now


def test_no_powercap_no_readers(sysfs: Path, clock: FakeClock) -> None:
    assert open_rapl(str(sysfs), clock) == ([], [])


def test_sysfs_root_env_read_at_call_time(
    powercap: FakePowercap, monkeypatch: pytest.MonkeyPatch, no_gpu_modules: None
) -> None:
    powercap.add_package(0, subdomains=("dram",))
    monkeypatch.setenv("WATTPRINT_SYSFS_ROOT", str(powercap.root))
    assert DeviceConfig().sysfs_root == str(powercap.root)
    readers, _ = detect_readers()
    assert {r.component: r.basis for r in readers} == {"cpu": "measured", "ram": "measured"}
    monkeypatch.delenv("WATTPRINT_SYSFS_ROOT")
    assert DeviceConfig().sysfs_root == "/sys"


def test_counters_stay_open_and_close(powercap: FakePowercap, clock: FakeClock) -> None:
    p0 = powercap.add_package(0, subdomains=("dram",))
    readers, _ = open_rapl(str(powercap.root), clock)
    files = [f for r in readers for f in r._files.values()]
    assert len(files) == 2 and not any(f.closed for f in files)
    for i in range(1, 4):  # the same open counter gives each new value (read again from offset 0)
        clock.advance(1)
        powercap.add(p0, 7)
        assert readers[0].read()[0].energy_j == pytest.approx(7 * i)
    for r in readers:
        r.close()
    assert all(f.closed for f in files)
    clock.advance(1)
    assert readers[0].read()[0].energy_j == pytest.approx(21)  # closed: frozen, noted, no exception
    assert any("closed" in n for n in readers[0].take_notes())
