"""RAPL readings that only look like a reset, a new base or a jump: bounded by what the zone could draw.

One bad reading (0, garbage near 0, 2^64-1, a stale lower value twice) must neither add the counter's whole value
nor a whole counter range; a real reset or a real new base is still followed. Per-die zones that may show one counter
(AMD) or counters of their own (Intel CLX-AP): decided on per-read evidence, the first die unreadable, energy since
open carried to the ledger. On the fake powercap tree, through the reader and the node ledger (which keeps only
forward steps, so a bad reading once charged is never taken back).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

import pytest

from wattprint.devices import rapl as rapl_mod
from wattprint.devices.base import Reading
from wattprint.devices.rapl import RaplReader, open_rapl
from wattprint.tracking.ledger import Ledger

from .fakes.clock import FakeClock
from .fakes.powercap import FakePowercap

RANGE_UJ = 262_143_328_850  # an Intel package's counter range
START_UJ = 100_000_000_000  # 100 kJ on the counter at open
WATTS = 100.0


def _charge(ledger: Ledger, clock: FakeClock, readings: list[Reading]) -> float:
    """Charge one reading to the ledger; the run's CPU total so far (J)."""
    _, _, charged = ledger.charge(clock(), [(r.component, r.device, [r.energy_j] * 3) for r in readings])
    return float(charged.get("cpu", [0.0])[0])


def _package_run(powercap: FakePowercap, clock: FakeClock, shown: Callable[[int, int], int | None],
                 reads: int = 12) -> tuple[float, float, RaplReader]:
    """One package at 100 W read every second; ``shown(k, true_counter)`` is what read k sees (None: the truth).
    Returns (reader's energy, ledger's charge, reader) after ``reads`` reads: 1200 J drawn with the default 12."""
    zone = powercap.add_package(0, energy_uj=START_UJ, max_uj=RANGE_UJ, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    ledger = Ledger(None, "run-a", pid=os.getpid())
    charged = _charge(ledger, clock, cpu.read())
    counter = START_UJ
    readings = []
    for k in range(reads):
        clock.advance(1.0)
        counter = (counter + round(WATTS * 1e6)) % RANGE_UJ
        value = shown(k, counter)
        powercap.set(zone, counter if value is None else value)
        readings = cpu.read()
        charged = _charge(ledger, clock, readings)
        assert all(r.energy_j <= WATTS * (k + 1) * 1.0 + 1e-6 for r in readings)  # never ahead of the truth
    return readings[0].energy_j, charged, cpu


# -- a reading near 0 is a possible reset: confirmed only by the next reading ------------------------------------

def test_one_reading_of_0_is_not_a_reset(powercap: FakePowercap, clock: FakeClock) -> None:
    energy, charged, cpu = _package_run(powercap, clock, lambda k, c: 0 if k == 5 else None)
    assert energy == pytest.approx(1200.0)  # before: 101,700 J (the counter's whole value added)
    assert charged == pytest.approx(1200.0)
    notes = " ".join(cpu.take_notes())
    assert "near 0" in notes and "was reset" not in notes


def test_one_garbage_reading_that_looks_like_a_reset_is_ignored(powercap: FakePowercap, clock: FakeClock) -> None:
    energy, charged, _ = _package_run(powercap, clock, lambda k, c: 3_000_000_000 if k == 5 else None)
    assert energy == pytest.approx(1200.0)  # before: 101,700 J
    assert charged == pytest.approx(1200.0)


def test_a_low_reading_not_followed_upward_is_a_glitch(powercap: FakePowercap, clock: FakeClock) -> None:
    # 2 J then 1 J: the second does not carry on from the first, so neither is a reset; then back on track
    energy, charged, _ = _package_run(powercap, clock, lambda k, c: {5: 2_000_000, 6: 1_000_000}.get(k))
    assert energy == pytest.approx(1200.0)
    assert charged == pytest.approx(1200.0)


def test_a_real_reset_is_counted_from_0_with_the_energy_since_it(powercap: FakePowercap, clock: FakeClock) -> None:
    zone = powercap.add_package(0, energy_uj=START_UJ, max_uj=RANGE_UJ, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1.0)
    powercap.add(zone, 100.0)
    assert cpu.read()[0].energy_j == pytest.approx(100.0)
    clock.advance(1.0)
    powercap.set(zone, 60_000_000)  # reset, then 60 J since
    cpu.read()
    for _ in range(3):
        clock.advance(1.0)
        powercap.add(zone, 100.0)
        (r,) = cpu.read()
    assert r.energy_j == pytest.approx(100.0 + 60.0 + 300.0)
    assert r.power_w == pytest.approx(100.0)
    assert any("was reset" in n and "counted from 0" in n for n in cpu.take_notes())


# -- forward steps: bounded by what the zone can draw -----------------------------------------------------------

def test_a_reading_beyond_the_counter_range_is_a_read_error(powercap: FakePowercap, clock: FakeClock) -> None:
    energy, charged, cpu = _package_run(powercap, clock, lambda k, c: (1 << 64) - 1 if k == 5 else None)
    assert energy == pytest.approx(1200.0)  # before: 263 kJ (a whole counter range too much)
    assert charged == pytest.approx(1200.0)  # before: 1.84e13 J through the ledger
    assert any("beyond its counter's range" in n for n in cpu.take_notes())


def test_one_reading_far_ahead_is_ignored(powercap: FakePowercap, clock: FakeClock) -> None:
    energy, charged, cpu = _package_run(powercap, clock, lambda k, c: RANGE_UJ - 1 if k == 5 else None)
    assert energy == pytest.approx(1200.0)  # before: 162,643 J
    assert charged == pytest.approx(1200.0)
    assert any("jumped" in n and "ignored" in n for n in cpu.take_notes())


def test_a_counter_that_jumps_ahead_and_carries_on_is_followed_without_the_jump(powercap: FakePowercap,
                                                                               clock: FakeClock) -> None:
    zone = powercap.add_package(0, energy_uj=START_UJ, max_uj=RANGE_UJ, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1.0)
    powercap.add(zone, 100.0)
    cpu.read()
    clock.advance(1.0)
    powercap.add(zone, 100_000.0)  # 100 kJ in 1 s: no CPU draws that
    assert cpu.read()[0].energy_j == pytest.approx(100.0)
    for _ in range(3):
        clock.advance(1.0)
        powercap.add(zone, 100.0)
        (r,) = cpu.read()
    assert r.energy_j == pytest.approx(400.0)  # counted on from the jumped value, the jump itself not
    assert r.power_w == pytest.approx(100.0)
    assert any("carried on" in n for n in cpu.take_notes())


def test_a_reading_just_beyond_the_zones_bound_is_refused(powercap: FakePowercap, clock: FakeClock) -> None:
    zone = powercap.add_package(0, energy_uj=START_UJ, max_uj=RANGE_UJ, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    most_w = rapl_mod._most_plausible_w()  # no power limits shown: 10 x the catalogue's highest TDP
    clock.advance(1.0)
    powercap.add(zone, most_w * 1.1)
    assert cpu.read()[0].energy_j == 0.0
    assert any("jumped" in n for n in cpu.take_notes())


def test_one_steep_reading_is_ignored(powercap: FakePowercap, clock: FakeClock) -> None:
    # 4.3 kJ more in 1 s (a torn read: 2^32 uJ too much): possible at 10 x the TDP, but above what a CPU draws
    energy, charged, _ = _package_run(powercap, clock, lambda k, c: c + (1 << 32) if k == 5 else None)
    assert energy == pytest.approx(1200.0)  # before: 5,395 J
    assert charged == pytest.approx(1200.0)


def test_a_steep_step_that_the_counter_carries_on_from_is_counted(powercap: FakePowercap, clock: FakeClock) -> None:
    zone = powercap.add_package(0, energy_uj=START_UJ, max_uj=RANGE_UJ, subdomains=())
    powercap.set_constraint(zone, 0, power_limit_uw=700_000_000)  # a 700 W limit: above the catalogue's TDPs
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1.0)
    powercap.add(zone, 900.0)  # 900 W for a second: above its limit, but possible
    assert cpu.read()[0].energy_j == 0.0  # held ...
    assert any("carries on" in n for n in cpu.take_notes())
    clock.advance(1.0)
    powercap.add(zone, 900.0)
    (r,) = cpu.read()
    assert r.energy_j == pytest.approx(1800.0)  # ... and counted in full once the counter carries on
    clock.advance(1.0)
    powercap.add(zone, 650.0)
    assert cpu.read()[0].energy_j == pytest.approx(2450.0)  # within its limit: counted at once


# -- stale lower values: the pre-glitch base is kept -------------------------------------------------------------

def test_a_stale_value_twice_does_not_rebase(powercap: FakePowercap, clock: FakeClock) -> None:
    energy, charged, _ = _package_run(powercap, clock, lambda k, c: {5: 40_000_000_000, 6: 40_000_000_000}.get(k))
    assert energy == pytest.approx(1200.0)  # before: 61,700 J (rebased at 40 kJ, then 60 kJ "drawn")
    assert charged == pytest.approx(1200.0)


def test_stale_values_that_move_then_return_are_counted_from_the_old_base(powercap: FakePowercap,
                                                                         clock: FakeClock) -> None:
    # a stale view that moves (40 kJ, 40 kJ + 100 J) is taken for a new base, until the counter comes back
    energy, charged, cpu = _package_run(
        powercap, clock, lambda k, c: {5: 40_000_000_000, 6: 40_100_000_000}.get(k))
    assert energy == pytest.approx(1200.0)  # before: 61,800 J
    assert charged == pytest.approx(1200.0)
    assert any("came back" in n for n in cpu.take_notes())


def test_a_real_new_base_is_still_followed(powercap: FakePowercap, clock: FakeClock) -> None:
    zone = powercap.add_package(0, energy_uj=START_UJ, max_uj=RANGE_UJ, subdomains=())
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1.0)
    powercap.set(zone, START_UJ - 50_000_000_000)
    cpu.read()
    for _ in range(10):  # it never comes back to the old value
        clock.advance(1.0)
        powercap.add(zone, 20.0)
        (r,) = cpu.read()
    assert r.energy_j == pytest.approx(200.0)


# -- per-die zones ------------------------------------------------------------------------------------------------

def _unreadable(monkeypatch: pytest.MonkeyPatch, fds: set[int]) -> list[bool]:
    real = rapl_mod.read_at
    gone = [True]

    def read_at(fd: int, size: int, offset: int = 0) -> bytes:
        if gone[0] and fd in fds:
            raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))
        return real(fd, size, offset)

    monkeypatch.setattr(rapl_mod, "read_at", read_at)
    return gone


def _total(readings: list[Reading]) -> float:
    return sum(r.energy_j for r in readings)


def test_a_mirror_is_counted_while_the_first_die_is_unreadable(powercap: FakePowercap, clock: FakeClock,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    d0, d1 = (powercap.add_die(i, package=0, die=i, energy_uj=5_000_000_000) for i in (0, 1))
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    ledger = Ledger(None, "run-a", pid=os.getpid())
    _unreadable(monkeypatch, {cpu._files[d0].fileno()})
    for _ in range(20):
        clock.advance(1.0)
        value = powercap.get(d0) + 200_000_000  # one 200 W socket counter shown by both zones
        powercap.set(d0, value)
        powercap.set(d1, value)
        readings = cpu.read()
        charged = _charge(ledger, clock, readings)
    assert _total(readings) == pytest.approx(4000.0)  # before: 0 J
    assert charged == pytest.approx(4000.0 - 200.0)  # the ledger's first sighting is its baseline


def test_a_mirror_standing_in_is_not_counted_twice_when_the_first_die_returns(
        powercap: FakePowercap, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    d0, d1 = (powercap.add_die(i, package=0, die=i, energy_uj=5_000_000_000) for i in (0, 1))
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    ledger = Ledger(None, "run-a", pid=os.getpid())
    _charge(ledger, clock, cpu.read())
    gone = _unreadable(monkeypatch, {cpu._files[d0].fileno()})
    for k in range(10):
        if k == 5:
            gone[0] = False
        clock.advance(1.0)
        value = powercap.get(d0) + 200_000_000
        powercap.set(d0, value)
        powercap.set(d1, value)
        readings = cpu.read()
        charged = _charge(ledger, clock, readings)
        assert _total(readings) == pytest.approx(200.0 * (k + 1))
    assert charged == pytest.approx(2000.0)
    assert any("counted once" in n for n in cpu.take_notes())
    assert list(cpu._files) == [d0]


def test_separate_dies_that_open_close_together_are_not_merged(powercap: FakePowercap, clock: FakeClock) -> None:
    d0 = powercap.add_die(0, package=0, die=0, energy_uj=7_000_000_000)
    d1 = powercap.add_die(1, package=0, die=1, energy_uj=7_000_400_000)  # 0.4 J apart at open
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    ledger = Ledger(None, "run-a", pid=os.getpid())
    _charge(ledger, clock, cpu.read())
    for _ in range(20):
        clock.advance(1.0)
        powercap.add(d0, 150.0)
        powercap.add(d1, 150.3)  # two halves of one job: similar, never equal
        readings = cpu.read()
        charged = _charge(ledger, clock, readings)
    assert _total(readings) == pytest.approx(6006.0)  # before: 3,000 J (merged at the 10 J decision)
    assert charged == pytest.approx(6006.0)
    assert not any("counted once" in n for n in cpu.take_notes())


def test_a_die_found_separate_later_is_charged_from_open(powercap: FakePowercap, clock: FakeClock) -> None:
    d0, d1 = (powercap.add_die(i, package=0, die=i, energy_uj=0) for i in (0, 1))  # both just booted
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    ledger = Ledger(None, "run-a", pid=os.getpid())
    readings = cpu.read()
    assert {r.device for r in readings} == {"package-0-die-0", "package-0-die-1"}  # both seen from the start
    _charge(ledger, clock, readings)
    for _ in range(3):  # equal counters, little energy: undecided
        clock.advance(1.0)
        powercap.add(d0, 1.0)
        powercap.add(d1, 1.0)
        _charge(ledger, clock, cpu.read())
    for _ in range(5):
        clock.advance(1.0)
        powercap.add(d0, 1.0)
        powercap.add(d1, 3.0)
        readings = cpu.read()
        charged = _charge(ledger, clock, readings)
    assert _total(readings) == pytest.approx(8.0 + 18.0)
    assert charged == pytest.approx(26.0)  # before: 20 J (die 1 first seen, 6 J in, at the decision)


def test_a_mirror_that_differs_on_one_read_is_still_counted_once(powercap: FakePowercap, clock: FakeClock) -> None:
    # one counter read through two zones: an update can fall between the two reads, once in a while
    d0, d1 = (powercap.add_die(i, package=0, die=i, energy_uj=1_000_000_000) for i in (0, 1))
    (cpu,), _ = open_rapl(str(powercap.root), clock)
    clock.advance(1.0)
    powercap.add(d0, 50.2)
    powercap.add(d1, 50.0)  # die 1's read came just before an update
    assert _total(cpu.read()) == pytest.approx(50.2)
    clock.advance(1.0)
    powercap.add(d0, 50.0)
    powercap.add(d1, 50.2)
    readings = cpu.read()
    assert _total(readings) == pytest.approx(100.2)
    assert [r.device for r in readings] == ["package-0-die-0"]
    assert any("counted once" in n for n in cpu.take_notes())
