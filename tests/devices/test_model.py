"""The fallback model: TDP or per-core figure x utilisation, W/GB x allocated memory; and the real machine."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from wattprint import data
from wattprint.devices import DeviceConfig, allocation, detect_readers
from wattprint.devices.model import CpuModelReader, RamModelReader

from .conftest import FAKE_PID, make_cgroup, make_proc
from .fakes.clock import FakeClock

GIB = 1024**3
XEON = "Intel(R) Xeon(R) Platinum 8280 CPU @ 2.70GHz"


def _stat(busy: int, idle: int) -> str:
    return f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\n"


@pytest.fixture
def host64(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)


def _cfg(tmp_path: Path, sysfs: Path, clock: FakeClock) -> DeviceConfig:
    return DeviceConfig(sysfs_root=str(sysfs), proc_root=str(tmp_path / "proc"), pid=FAKE_PID, environ={}, clock=clock)


def test_tdp_times_host_utilisation(tmp_path: Path, sysfs: Path, clock: FakeClock, host64: None) -> None:
    tdp = data.cpu_tdp_w(XEON)
    assert tdp is not None
    proc = make_proc(tmp_path / "proc", model=XEON, sockets=2, stat=_stat(1000, 1000))
    cfg = _cfg(tmp_path, sysfs, clock)
    reader = CpuModelReader(allocation(cfg), clock, FAKE_PID, cfg.proc_root)
    clock.advance(10.0)
    (proc / "stat").write_text(_stat(1000 + 300, 1000 + 100))  # 75 % busy over the interval
    (r,) = reader.read()
    assert (r.component, r.basis) == ("cpu", "modelled")
    assert r.energy_j == pytest.approx(tdp[0] * 2 * 0.75 * 10.0)
    assert r.power_w == pytest.approx(tdp[0] * 2 * 0.75)
    assert any(tdp[1] in a.source for a in reader.assumptions)


def test_per_core_figure_in_vm_scaled_to_allocated_cpus(
    tmp_path: Path, sysfs: Path, clock: FakeClock, host64: None
) -> None:
    per_core, _ = data.cpu_watts_per_core()
    make_proc(tmp_path / "proc", model=XEON, vm=True)
    cg = make_cgroup(sysfs, cpu_max="200000 100000", cpu_stat="usage_usec 5000000\nuser_usec 1\n")
    cfg = _cfg(tmp_path, sysfs, clock)
    reader = CpuModelReader(allocation(cfg), clock, FAKE_PID, cfg.proc_root)
    assert any("virtual machine" in n for n in reader.take_notes())
    clock.advance(4.0)
    (cg / "cpu.stat").write_text("usage_usec 9000000\n")  # 4 CPU-s in 4 s on 2 allocated CPUs: 50 %
    (r,) = reader.read()
    assert r.energy_j == pytest.approx(per_core.value * 2 * 0.5 * 4.0)
    assert r.energy_low_j == pytest.approx(per_core.low * 2 * 0.5 * 4.0)
    assert r.energy_high_j == pytest.approx(per_core.high * 2 * 0.5 * 4.0)


def test_tdp_scaled_to_cgroup_share(tmp_path: Path, sysfs: Path, clock: FakeClock, host64: None) -> None:
    tdp = data.cpu_tdp_w(XEON)
    assert tdp is not None
    make_proc(tmp_path / "proc", model=XEON, sockets=2)
    cg = make_cgroup(sysfs, cpu_max="800000 100000", cpu_stat="usage_usec 0\n")
    cfg = _cfg(tmp_path, sysfs, clock)
    reader = CpuModelReader(allocation(cfg), clock, FAKE_PID, cfg.proc_root)
    clock.advance(1.0)
    (cg / "cpu.stat").write_text("usage_usec 16000000\n")  # more than 8 CPUs x 1 s: capped at 100 %
    (r,) = reader.read()
    assert r.energy_j == pytest.approx(tdp[0] * 2 * 8 / 64 * 1.0)


def test_ram_uses_allocated_memory_not_host(tmp_path: Path, sysfs: Path, clock: FakeClock) -> None:
    per_gb, _ = data.ram_watts_per_gb()
    make_proc(tmp_path / "proc", mem_total_kb=1024 * 1024 * 1024)  # 1 TiB host
    make_cgroup(sysfs, memory_max=str(16 * GIB))
    reader = RamModelReader(allocation(_cfg(tmp_path, sysfs, clock)), clock)
    assert reader.take_notes() == []
    clock.advance(3600.0)
    (r,) = reader.read()
    assert (r.component, r.basis) == ("ram", "modelled")
    assert r.energy_j == pytest.approx(per_gb.value * 16 * 3600.0)
    assert r.energy_low_j is not None and r.energy_high_j is not None
    assert r.energy_low_j <= r.energy_j <= r.energy_high_j


def test_ram_without_limit_uses_host_total_with_note(tmp_path: Path, sysfs: Path, clock: FakeClock) -> None:
    per_gb, _ = data.ram_watts_per_gb()
    make_proc(tmp_path / "proc", mem_total_kb=64 * 1024 * 1024)
    reader = RamModelReader(allocation(_cfg(tmp_path, sysfs, clock)), clock)
    (note,) = reader.take_notes()
    assert "host's total 64.0 GiB" in note
    clock.advance(10.0)
    assert reader.read()[0].energy_j == pytest.approx(per_gb.value * 64 * 10.0)


def test_real_model_on_this_machine_busy_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real fallback: real /proc, real clock, a short busy loop gives positive modelled energy."""
    readers, notes = detect_readers(DeviceConfig(use_nvml=False, use_amdsmi=False, use_rapl=False))
    by = {r.component: r for r in readers}
    assert set(by) == {"cpu", "ram"} and all(r.basis == "modelled" for r in readers)
    t = time.process_time()
    while time.process_time() - t < 0.3:
        pass
    cpu = by["cpu"].read()[0]
    ram = by["ram"].read()[0]
    assert cpu.energy_j > 0 and ram.energy_j > 0
    assert cpu.energy_low_j is not None and cpu.energy_high_j is not None
    assert cpu.energy_low_j <= cpu.energy_j <= cpu.energy_high_j


def test_reads_never_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    readers, _ = detect_readers(DeviceConfig(use_nvml=False, use_amdsmi=False))

    def no_sleep(*a: object) -> None:
        raise AssertionError("a reader slept")

    monkeypatch.setattr(time, "sleep", no_sleep)
    for _ in range(3):
        for r in readers:
            r.read()
