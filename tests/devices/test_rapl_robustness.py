"""RAPL on a fake powercap tree: per-die zones, glitches, long gaps between reads, partly unreadable counters."""

from __future__ import annotations

import builtins
import errno
import os
from typing import Any

import pytest

from wattprint.devices import DeviceConfig, detect_readers
from wattprint.devices import rapl as rapl_mod
from wattprint.devices.rapl import find_domains, open_rapl

from .conftest import honour_mode_bits
from .fakes.clock import FakeClock
from .fakes.powercap import FakePowercap

AMD_RANGE_UJ = 65_536_000_000  # 2^32 counts of 2^-16 J (AMD's energy status unit): ~65.5 kJ


def _energy(readings: Any) -> float:
    return float(sum(r.energy_j for r in readings))



def _gone_while(monkeypatch: pytest.MonkeyPatch, fds: set[int]) -> list[bool]:
    """Reads of these descriptors fail with ENODEV (the zone went away) while the returned flag is True."""
    real_read_at = rapl_mod.read_at
    gone = [True]

    def read_at(fd: int, size: int, offset: int = 0) -> bytes:
        if gone[0] and fd in fds:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
        return real_read_at(fd, size, offset)

    monkeypatch.setattr(rapl_mod, "read_at", read_at)
    return gone


# -- 3. per-die zones: one socket-wide counter shown per die (AMD) vs counters of their own (Intel CLX-AP) --------

def test_mirrored_die_zones_of_one_package_are_counted_once(powercap: FakePowercap, clock: FakeClock) -> None:
    # Threadripper 1950X: package-0-die-0 and package-0-die-1 both show the one socket counter
    dies = [powercap.add_die(i, package=0, die=i, energy_uj=1_000_000_000) for i in (0, 1)]
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    for step in range(1, 4):
        clock.advance(1.0)
        for z in dies:
            powercap.add(z, 68.0)  # one counter at 68 W, read through both zones
        readings = cpu.read()
        assert _energy(readings) == pytest.approx(68.0 * step)
        assert [r.device for r in readings] == ["package-0-die-0"]
        assert readings[0].power_w == pytest.approx(68.0)
    notes = " ".join(cpu.take_notes())
    assert "package-0-die-1" in notes and "counted once" in notes
    assert list(cpu._files) == ["intel-rapl:0"]  # the mirror's counter is closed


def test_mirrors_decided_only_once_the_package_has_used_some_energy(powercap: FakePowercap,
                                                                    clock: FakeClock) -> None:
    dies = [powercap.add_die(i, package=0, die=i, energy_uj=5_000_000) for i in (0, 1)]
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(0.001)
    assert _energy(cpu.read()) == 0.0  # a start-up read: nothing to compare yet, nothing double counted
    assert cpu.take_notes() == []
    clock.advance(1.0)
    for z in dies:
        powercap.add(z, 40.0)
    assert _energy(cpu.read()) == pytest.approx(40.0)
    assert any("counted once" in n for n in cpu.take_notes())


def test_separate_die_counters_are_summed(powercap: FakePowercap, clock: FakeClock) -> None:
    # Intel Xeon Platinum 9282 (Cascade Lake-AP): 2 sockets x 2 dies, each die a counter (and DRAM) of its own
    zones = {(p, d): powercap.add_die(2 * p + d, package=p, die=d, energy_uj=10**9 * (1 + 2 * p + d) + 12345,
                                      subdomains=("dram",))
             for p in (0, 1) for d in (0, 1)}
    cpu, ram = open_rapl(str(powercap.root), clock)[0]
    clock.advance(1.0)
    for i, z in enumerate(zones.values()):
        powercap.add(z, 100.0 + i)
        powercap.add(f"{z}:0", 10.0)
    assert _energy(cpu.read()) == pytest.approx(406.0)
    assert len(cpu.read()) == 4
    assert _energy(ram.read()) == pytest.approx(40.0)
    assert {r.device for r in ram.read()} == {"dram-0", "dram-1", "dram-2", "dram-3"}  # one label per die
    assert any("of their own" in n for n in cpu.take_notes())
    assert [(d.package, d.die) for d in find_domains(str(powercap.root)) if d.kind == "package"] == [
        (0, 0), (0, 1), (1, 0), (1, 1)]


def test_die_zones_equal_at_open_that_then_differ_are_summed_from_open(powercap: FakePowercap,
                                                                       clock: FakeClock) -> None:
    a, b = (powercap.add_die(i, package=0, die=i, energy_uj=0) for i in (0, 1))  # both just booted
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1.0)
    powercap.add(a, 50.0)
    powercap.add(b, 30.0)
    readings = cpu.read()
    assert _energy(readings) == pytest.approx(80.0)  # die 1's energy since open is not lost
    assert len(readings) == 2
    assert not any("counted once" in n for n in cpu.take_notes())


# -- 4. one backward reading is ignored, not added back -------------------------------------------------------

def test_a_single_backward_glitch_neither_adds_nor_loses_energy(powercap: FakePowercap, clock: FakeClock) -> None:
    base = 100_000_000_000
    p0 = powercap.add_package(0, energy_uj=base, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1.0)
    powercap.set(p0, base + 100_000_000)
    assert cpu.read()[0].energy_j == pytest.approx(100.0)
    clock.advance(1.0)
    powercap.set(p0, base - 500_000_000)  # one bogus value, 600 J back
    (glitch,) = cpu.read()
    clock.advance(1.0)
    powercap.set(p0, base + 200_000_000)  # back on track
    (r,) = cpu.read()
    assert r.energy_j == pytest.approx(200.0)  # not 800 J
    assert glitch.energy_j == pytest.approx(100.0) and glitch.power_w is None  # that reading: no power known
    assert r.power_w == pytest.approx(50.0)  # 100 J over the 2 s since the last good reading
    (note,) = cpu.take_notes()
    assert "went back" in note and "ignored" in note and "not counted" not in note


def test_a_counter_that_carries_on_from_a_lower_value_is_rebased(powercap: FakePowercap, clock: FakeClock) -> None:
    base = 100_000_000_000
    p0 = powercap.add_package(0, energy_uj=base, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1.0)
    powercap.set(p0, base - 50_000_000_000)  # a new base, far from 0
    assert cpu.read()[0].energy_j == 0.0
    for _ in range(3):
        clock.advance(1.0)
        powercap.add(p0, 20.0)
        cpu.read()
    assert cpu.read()[0].energy_j == pytest.approx(60.0)  # counted on from the new value
    assert any("carried on" in n for n in cpu.take_notes())


# -- 5. reads further apart than a wrap period ------------------------------------------------------------------

def test_a_step_longer_than_the_wrap_time_is_noted(powercap: FakePowercap, clock: FakeClock) -> None:
    p0 = powercap.add_package(0, energy_uj=100, subdomains=())  # 262 kJ range, no power limits shown
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1200.0)
    powercap.add(p0, 450.0 * 1200)  # two wraps and more: unrecoverable ...
    cpu.read()
    (note,) = cpu.take_notes()
    assert "1200 s" in note and "undercounted" in note  # ... but not silent
    assert cpu.max_interval_s is not None and 60 < cpu.max_interval_s < 1200  # at the catalogue's highest TDP


def test_amd_counter_range_wraps_in_minutes(powercap: FakePowercap, clock: FakeClock) -> None:
    p0 = powercap.add_package(0, energy_uj=0, max_uj=AMD_RANGE_UJ, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(30.0)
    powercap.add(p0, 280.0 * 30)
    assert cpu.read()[0].energy_j == pytest.approx(8400.0)
    assert cpu.take_notes() == []  # a normal interval: no note
    clock.advance(300.0)
    powercap.add(p0, 280.0 * 300)  # one wrap and more in 300 s
    cpu.read()
    assert any("undercounted" in n for n in cpu.take_notes())
    assert cpu.max_interval_s is not None and cpu.max_interval_s < 240  # 65.5 kJ: < 4 min at 280 W


def test_the_wrap_time_uses_the_zones_power_limits(powercap: FakePowercap, clock: FakeClock) -> None:
    p0 = powercap.add_package(0, energy_uj=0, subdomains=())
    powercap.set_constraint(p0, 0, power_limit_uw=125_000_000, max_power_uw=150_000_000)
    powercap.set_constraint(p0, 1, power_limit_uw=200_000_000)  # short term: the highest counts
    (d,) = [d for d in find_domains(str(powercap.root)) if d.kind == "package"]
    assert d.max_power_w == pytest.approx(200.0)
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    assert cpu.max_interval_s == pytest.approx(262143328850 / 200e6)  # ~1311 s
    clock.advance(1200.0)
    powercap.add(p0, 150.0 * 1200)  # 180 kJ: below one wrap, and 1200 s cannot hide one at <= 200 W
    assert cpu.read()[0].energy_j == pytest.approx(180_000.0)
    assert cpu.take_notes() == []


def test_an_unreadable_gap_longer_than_the_wrap_time_is_noted(powercap: FakePowercap, clock: FakeClock,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    powercap.add_package(0, energy_uj=0, max_uj=AMD_RANGE_UJ, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    gone = _gone_while(monkeypatch, {f.fileno() for f in cpu._files.values()})
    for _ in range(20):
        clock.advance(10.0)
        cpu.read()
    gone[0] = False
    clock.advance(10.0)
    cpu.read()
    assert any("210 s" in n and "undercounted" in n for n in cpu.take_notes())


# -- 8. an unreadable DRAM counter does not take the CPU packages with it --------------------------------------

def test_unreadable_dram_keeps_the_cpu_reader(powercap: FakePowercap, clock: FakeClock,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    p0 = powercap.add_package(0, subdomains=("core", "dram"))
    dram = powercap.sub(0, "dram")
    powercap.energy_file(dram).chmod(0o000)
    honour_mode_bits(monkeypatch)
    opened: list[Any] = []
    real_open = rapl_mod.open if hasattr(rapl_mod, "open") else builtins.open

    def tracking_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        f = real_open(path, *args, **kwargs)
        opened.append(f)
        return f

    monkeypatch.setattr(rapl_mod, "open", tracking_open, raising=False)
    readers, notes = open_rapl(str(powercap.root), clock)
    kept = {id(f) for r in readers for f in r._files.values()}
    assert all(f.closed for f in opened if id(f) not in kept)  # nothing left open behind
    assert [r.component for r in readers] == ["cpu"]
    (note,) = notes
    assert dram in note and "root only" in note and "RAM" in note
    assert "CVE" not in note  # the kernel does not make only dram root-only: a partial chmod does
    clock.advance(1.0)
    powercap.add(p0, 30.0)
    assert readers[0].read()[0].energy_j == pytest.approx(30.0)


def test_unreadable_dram_through_detect_readers(powercap: FakePowercap, clock: FakeClock,
                                                monkeypatch: pytest.MonkeyPatch, no_gpu_modules: None) -> None:
    powercap.add_package(0, subdomains=("dram",))
    powercap.energy_file(powercap.sub(0, "dram")).chmod(0o000)
    honour_mode_bits(monkeypatch)
    readers, notes = detect_readers(DeviceConfig(sysfs_root=str(powercap.root), clock=clock))
    assert {r.component: r.basis for r in readers} == {"cpu": "measured", "ram": "modelled"}
    assert sum("root only" in n for n in notes) == 1


def test_unreadable_packages_keep_the_dram_reader(powercap: FakePowercap, clock: FakeClock,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    p0 = powercap.add_package(0, subdomains=("dram",))
    powercap.energy_file(p0).chmod(0o000)
    honour_mode_bits(monkeypatch)
    readers, notes = open_rapl(str(powercap.root), clock)
    assert [r.component for r in readers] == ["ram"]
    assert len(notes) == 1 and p0 + "/energy_uj" in notes[0] and "CPU energy is modelled" in notes[0]


# -- 9. a wrap while a zone was unreadable ----------------------------------------------------------------------

def test_a_wrap_while_unreadable_is_counted_once_readable_again(powercap: FakePowercap, clock: FakeClock,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    max_uj = 262_143_328_850
    p0 = powercap.add_package(0, energy_uj=max_uj - 1_000_000, max_uj=max_uj, subdomains=())
    p1 = powercap.add_package(1, energy_uj=0, max_uj=max_uj, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    gone = _gone_while(monkeypatch, {cpu._files[p0].fileno()})
    for _ in range(30):
        clock.advance(1.0)
        powercap.add(p0, 300.0)
        powercap.add(p1, 100.0)
        by_device = {r.device: r for r in cpu.read()}
        assert by_device["package-1"].power_w == pytest.approx(100.0)  # the readable one goes on as usual
    gone[0] = False
    clock.advance(1.0)
    powercap.add(p0, 300.0)
    powercap.add(p1, 100.0)
    by_device = {r.device: r for r in cpu.read()}
    assert by_device["package-0"].energy_j == pytest.approx(9300.0)  # the wrap is undone, not refused
    assert by_device["package-0"].power_w == pytest.approx(300.0)  # over the 31 s since its last good read
    assert by_device["package-1"].energy_j == pytest.approx(3100.0)
    notes = " ".join(cpu.take_notes())
    assert "unreadable mid-run" in notes and "went back" not in notes
