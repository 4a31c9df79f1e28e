"""RAPL counters that can wrap more than once within a long sampling interval are read in between (at least every
half their shortest wrap time), so no wrap is lost; with a normal interval nothing changes. A fake powercap tree with
a tiny counter range stands for AMD's 65 kJ counter at a long interval."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.devices.fakes.powercap import FakePowercap
from wattprint.devices.detect import AllocationShare
from wattprint.devices.host import Allocation
from wattprint.devices.rapl import RaplReader, open_rapl
from wattprint.tracking import track
from wattprint.tracking.ledger import Ledger
from wattprint.tracking.sampler import Sampler

RANGE_UJ = 20_000_000  # the counter wraps every 20 J
LIMIT_UW = 100_000_000  # at up to 100 W: it can wrap every 0.2 s


def _rapl(tmp_path: Path, max_uj: int = RANGE_UJ) -> tuple[FakePowercap, str, RaplReader]:
    pc = FakePowercap(tmp_path / "sys")
    zone = pc.add_package(0, energy_uj=0, max_uj=max_uj, subdomains=())
    pc.set_constraint(zone, 0, max_power_uw=LIMIT_UW)
    (cpu,), _ = open_rapl(str(pc.root), time.monotonic)
    return pc, zone, cpu


def test_a_long_interval_no_longer_loses_counter_wraps(tmp_path: Path) -> None:
    pc, zone, cpu = _rapl(tmp_path)
    assert cpu.max_interval_s == pytest.approx(0.2)
    notes: list[str] = []
    # an interval of 10 s: the run ends before its first one closes; the counter wraps 2.5 times meanwhile
    run = track("cad", interval_s=10.0, readers=[cpu], persist=False, pue=1.0, notify=notes.append).start()
    steps, joules = 250, 0.2  # 50 J at about 20 W

    def draw() -> None:
        for _ in range(steps):
            pc.add(zone, joules)
            time.sleep(0.01)

    writer = threading.Thread(target=draw)
    writer.start()
    writer.join(30)
    assert not writer.is_alive()
    fp = run.stop()
    measured_j = fp.energy_by_component_kwh["cpu"].kwh.value * 3.6e6
    # before: 10 J (two wraps lost); the final reading, a moment after stop(), is interpolated back to it
    assert measured_j == pytest.approx(steps * joules, rel=1e-3), notes
    assert any("read every 0.1 s in between" in n and "rapl-cpu" in n for n in notes), notes
    assert not any("undercounted" in n for n in notes), notes


def test_a_normal_interval_adds_no_reads(tmp_path: Path) -> None:
    _, _, cpu = _rapl(tmp_path, max_uj=262_143_328_850)  # a usual range: wraps in 2621 s at 100 W
    s = Sampler([cpu], Ledger(None, "r"), interval_s=1.0)
    assert s.keep_up_s is None
    notes: list[str] = []
    run = track("cad", interval_s=0.05, readers=[cpu], persist=False, pue=1.0, notify=notes.append).start()
    time.sleep(0.2)
    run.stop()
    assert run.sampler is not None and run.sampler.keep_up_s is None
    assert not any("in between" in n for n in notes), notes


def test_a_job_share_of_a_rapl_counter_is_kept_up_too(tmp_path: Path) -> None:
    _, _, cpu = _rapl(tmp_path)
    alloc = Allocation(cpus=2, cpus_source="host", host_cpus=4, memory_bytes=2**30, memory_source="cgroup",
                       host_memory_bytes=2**32, cpu_model="x", sockets=1, is_vm=False)
    share = AllocationShare(cpu, alloc, time.monotonic, os.getpid(), "/proc")
    s = Sampler([share], Ledger(None, "r"), interval_s=2.0)
    assert s.keep_up_s == pytest.approx(0.1)
