"""detect_readers: one reader per component, measured preferred, model fallback, allocation share."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from wattprint.devices import DeviceConfig, DeviceReader, detect_readers, take_notes
from wattprint.devices.detect import AllocationShare

from .conftest import FAKE_PID, make_cgroup, make_proc
from .fakes.clock import FakeClock
from .fakes.powercap import FakePowercap


def _cfg(powercap: FakePowercap, clock: FakeClock, **kw) -> DeviceConfig:  # type: ignore[no-untyped-def]
    return DeviceConfig(sysfs_root=str(powercap.root), clock=clock, environ={}, **kw)


def _components(readers: list[DeviceReader]) -> dict[str, str]:
    counts = Counter(r.component for r in readers)
    assert all(n == 1 for n in counts.values()), counts  # each component present once
    return {r.component: r.basis for r in readers}


def test_everything_measured(nvml: ModuleType, powercap: FakePowercap, clock: FakeClock, no_amd: None) -> None:
    nvml.reset(nvml.make_gpus(2))
    powercap.add_package(0, subdomains=("core", "dram"))
    powercap.add_package(1, subdomains=("core", "dram"))
    readers, notes = detect_readers(_cfg(powercap, clock))
    assert _components(readers) == {"gpu": "measured", "cpu": "measured", "ram": "measured"}
    assert all(isinstance(r, DeviceReader) for r in readers)
    assert len(next(r for r in readers if r.component == "gpu").read()) == 2


def test_rapl_without_dram_uses_ram_model(powercap: FakePowercap, clock: FakeClock, no_gpu_modules: None) -> None:
    powercap.add_package(0, subdomains=("core",))  # AMD Zen: package + core, no dram
    readers, notes = detect_readers(_cfg(powercap, clock))
    assert _components(readers) == {"cpu": "measured", "ram": "modelled"}


def test_no_sensors_models_cpu_and_ram(sysfs: Path, clock: FakeClock, no_gpu_modules: None) -> None:
    readers, notes = detect_readers(DeviceConfig(sysfs_root=str(sysfs), clock=clock, environ={}))
    assert _components(readers) == {"cpu": "modelled", "ram": "modelled"}
    cpu = next(r for r in readers if r.component == "cpu")
    assert cpu.assumptions  # type: ignore[attr-defined]  # the model's sourced inputs, for the footprint
    assert any("RAM power modelled for the host's total" in n for n in notes)


def test_runtime_notes_collected(nvml: ModuleType, powercap: FakePowercap, clock: FakeClock, no_amd: None) -> None:
    g0, g1 = nvml.reset(nvml.make_gpus(2))
    readers, _ = detect_readers(_cfg(powercap, clock))
    g1.error = nvml.NVML_ERROR_GPU_IS_LOST
    for _ in range(2):
        clock.advance(1)
        for r in readers:
            r.read()
    notes = take_notes(readers)
    assert len([n for n in notes if "gpu1" in n]) == 1
    assert take_notes(readers) == []


def test_shared_node_charges_cpu_time_share_of_rapl(
    tmp_path: Path, powercap: FakePowercap, clock: FakeClock, no_gpu_modules: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    ticks = os.sysconf("SC_CLK_TCK")
    proc = make_proc(tmp_path / "proc", stat=f"cpu  {100 * ticks} 0 0 {1000 * ticks} 0 0 0 0 0 0\n")
    cg = make_cgroup(powercap.root, cpu_max="400000 100000", memory_max=str(64 * 1024**3), cpu_stat="usage_usec 0\n")
    p0 = powercap.add_package(0, subdomains=("dram",))
    cfg = _cfg(powercap, clock, proc_root=str(proc), pid=FAKE_PID)
    readers, notes = detect_readers(cfg)
    # RAM: the share behind DramOrModel, which models RAM only where the DRAM counters never move
    assert all(isinstance(getattr(r, "measured", r), AllocationShare) for r in readers)
    assert any("shared node" in n for n in notes)
    by = {r.component: r for r in readers}

    clock.advance(1.0)
    powercap.add(p0, 200.0)
    powercap.add(powercap.sub(0, "dram"), 32.0)
    (proc / "stat").write_text(f"cpu  {(100 + 8) * ticks} 0 0 {1000 * ticks} 0 0 0 0 0 0\n")  # host: 8 CPU-s busy
    (cg / "cpu.stat").write_text("usage_usec 2000000\n")  # the job: 2 CPU-s of them
    (cpu,) = by["cpu"].read()
    assert cpu.energy_j == pytest.approx(200.0 * 2 / 8)
    assert cpu.basis == "measured"
    (ram,) = by["ram"].read()
    assert ram.energy_j == pytest.approx(32.0 * 64 / 1024)  # 64 GiB limit of a 1 TiB host


def test_nvidia_and_amd_gpus_on_one_host_get_distinct_labels(
        nvml: ModuleType, amdsmi: ModuleType, powercap: FakePowercap, clock: FakeClock) -> None:
    nvml.reset(nvml.make_gpus(1))
    amdsmi.reset([amdsmi.FakeAmdGpu()])
    readers, notes = detect_readers(_cfg(powercap, clock))
    labels = [r.device for rd in readers if rd.component == "gpu" for r in rd.read()]
    assert sorted(labels) == ["amd-gpu0", "gpu0"]  # one ledger key per physical device
    assert any("amd-gpu0" in n for n in notes)


def _rapl_ram(tmp_path: Path, powercap: FakePowercap, clock: FakeClock) -> tuple[DeviceReader, int]:
    """The RAM reader detect_readers gives on a 1 TiB host with RAPL (one package, its DRAM zone at 0)."""
    proc = make_proc(tmp_path / "proc", cgroup="0::/\n")
    powercap.add_package(0, energy_uj=5_000_000, subdomains=("dram",))
    readers, _ = detect_readers(_cfg(powercap, clock, proc_root=str(proc), pid=FAKE_PID))
    (ram,) = [r for r in readers if r.component == "ram"]
    return ram, 1024  # GiB


def test_a_dram_counter_that_never_moves_is_replaced_by_the_ram_model_for_the_whole_run(
    tmp_path: Path, powercap: FakePowercap, clock: FakeClock, no_gpu_modules: None
) -> None:
    """Some firmware exposes a RAPL dram zone it never updates: 'ram energy (IT, measured) 0 kWh' for the run.
    Memory draws power whenever the host is on, so a counter still after FROZEN_DRAM_S is modelled, from the start."""
    from wattprint import data
    from wattprint.devices.dram_fallback import FROZEN_DRAM_S

    ram, gib = _rapl_ram(tmp_path, powercap, clock)
    clock.advance(FROZEN_DRAM_S / 2)
    (early,) = ram.read()
    assert early.basis == "measured" and early.energy_j == 0  # too soon to tell
    clock.advance(FROZEN_DRAM_S)
    (r,) = ram.read()
    per_gb = data.ram_watts_per_gb()[0]
    assert r.basis == "modelled" and ram.basis == "modelled"
    assert r.energy_j == pytest.approx(per_gb.value * gib * 1.5 * FROZEN_DRAM_S)  # since the reader opened
    notes = ram.take_notes()  # type: ignore[attr-defined]
    assert any("have not moved" in n and "modelled" in n for n in notes), notes
    assert ram.late_assumptions  # type: ignore[attr-defined]  # the W/GB figure, with its source


def test_a_dram_counter_that_moves_stays_measured(
    tmp_path: Path, powercap: FakePowercap, clock: FakeClock, no_gpu_modules: None
) -> None:
    from wattprint.devices.dram_fallback import FROZEN_DRAM_S

    ram, _ = _rapl_ram(tmp_path, powercap, clock)
    clock.advance(0.5)
    powercap.add(powercap.sub(0, "dram"), 3.0)
    ram.read()
    clock.advance(10 * FROZEN_DRAM_S)  # idle afterwards: a counter that moved once is a working one
    (r,) = ram.read()
    assert r.basis == "measured" and r.energy_j == pytest.approx(3.0)
    assert not ram.late_assumptions  # type: ignore[attr-defined]
