"""Allocation: cgroup v2 cpu.max / memory.max (and v1), SLURM variables, host totals, CPU model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wattprint.devices import DeviceConfig, allocation
from wattprint.devices.host import parse_cpu_max, parse_memory_max

from .conftest import FAKE_PID, make_cgroup, make_proc

GIB = 1024**3


@pytest.fixture(autouse=True)
def big_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend the host has 64 CPUs so limits below that are visible on a 2-core test machine."""
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)


def _cfg(tmp_path: Path, sysfs: Path, env: dict[str, str] | None = None) -> DeviceConfig:
    return DeviceConfig(sysfs_root=str(sysfs), proc_root=str(tmp_path / "proc"), pid=FAKE_PID, environ=env or {})


def test_parse_cpu_max_and_memory_max() -> None:
    assert parse_cpu_max("200000 100000") == 2.0
    assert parse_cpu_max("150000 100000") == 1.5
    assert parse_cpu_max("max 100000") is None
    assert parse_memory_max("17179869184") == 16 * GIB
    assert parse_memory_max("max") is None


def test_cgroup_limits(tmp_path: Path, sysfs: Path) -> None:
    make_proc(tmp_path / "proc")
    make_cgroup(sysfs, cpu_max="200000 100000", memory_max=str(16 * GIB))
    a = allocation(_cfg(tmp_path, sysfs))
    assert a.cpus == 2.0 and a.cpus_source == "cgroup cpu.max" and a.cpus_limited
    assert a.host_cpus == 64
    assert a.memory_bytes == 16 * GIB and a.memory_source == "cgroup memory.max"
    assert a.host_memory_bytes == 1024 * GIB
    assert a.charged_memory_bytes == 16 * GIB
    assert a.cgroup_dir is not None and a.cgroup_dir.endswith("job.slice/job-1")


def test_unlimited_cgroup_means_host(tmp_path: Path, sysfs: Path) -> None:
    make_proc(tmp_path / "proc")
    make_cgroup(sysfs, cpu_max="max 100000", memory_max="max")
    a = allocation(_cfg(tmp_path, sysfs))
    assert a.cpus == 64 and a.cpus_source == "host" and not a.cpus_limited
    assert a.memory_bytes is None
    assert a.charged_memory_bytes == 1024 * GIB  # the host total, used with a note by the RAM model


def test_parent_cgroup_limit_applies(tmp_path: Path, sysfs: Path) -> None:
    make_proc(tmp_path / "proc")
    make_cgroup(sysfs, "job.slice", cpu_max="400000 100000", memory_max=str(8 * GIB))
    make_cgroup(sysfs, "job.slice/job-1", cpu_max="max 100000", memory_max=str(32 * GIB))
    a = allocation(_cfg(tmp_path, sysfs))
    assert a.cpus == 4.0
    assert a.memory_bytes == 8 * GIB


def test_cgroup_v1_hybrid(tmp_path: Path, sysfs: Path) -> None:
    make_proc(tmp_path / "proc", cgroup="4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    mem = sysfs / "fs" / "cgroup" / "memory" / "docker" / "abc"
    mem.mkdir(parents=True)
    (mem / "memory.limit_in_bytes").write_text(f"{4 * GIB}\n")
    cpu = sysfs / "fs" / "cgroup" / "cpu,cpuacct" / "docker" / "abc"
    cpu.mkdir(parents=True)
    (cpu / "cpu.cfs_quota_us").write_text("300000\n")
    (cpu / "cpu.cfs_period_us").write_text("100000\n")
    a = allocation(_cfg(tmp_path, sysfs))
    assert a.cpus == 3.0 and a.memory_bytes == 4 * GIB


@pytest.mark.parametrize(
    ("env", "cpus", "mem_gib", "src"),
    [
        ({"SLURM_CPUS_ON_NODE": "8", "SLURM_MEM_PER_NODE": "65536"}, 8, 64, "SLURM_CPUS_ON_NODE"),
        ({"SLURM_JOB_CPUS_PER_NODE": "16(x2),8"}, 16, None, "SLURM_JOB_CPUS_PER_NODE"),
        ({"SLURM_CPUS_ON_NODE": "4", "SLURM_MEM_PER_CPU": "4096"}, 4, 16, "SLURM_CPUS_ON_NODE"),
    ],
)
def test_slurm(tmp_path: Path, sysfs: Path, env: dict[str, str], cpus: int, mem_gib: int | None, src: str) -> None:
    make_proc(tmp_path / "proc")
    a = allocation(_cfg(tmp_path, sysfs, env))
    assert a.cpus == cpus and a.cpus_source == src
    assert a.memory_bytes == (mem_gib * GIB if mem_gib else None)


def test_smallest_limit_wins_and_gpus(tmp_path: Path, sysfs: Path) -> None:
    make_proc(tmp_path / "proc")
    make_cgroup(sysfs, cpu_max="300000 100000", memory_max=str(100 * GIB))
    env = {"SLURM_CPUS_ON_NODE": "8", "SLURM_MEM_PER_NODE": str(64 * 1024), "SLURM_JOB_GPUS": "2,3"}
    a = allocation(_cfg(tmp_path, sysfs, env))
    assert a.cpus == 3.0 and a.cpus_source == "cgroup cpu.max"
    assert a.memory_bytes == 64 * GIB and a.memory_source == "SLURM_MEM_PER_NODE"
    assert a.gpus == ["2", "3"]


def test_affinity_limits_cpus(tmp_path: Path, sysfs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_proc(tmp_path / "proc")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    a = allocation(_cfg(tmp_path, sysfs))
    assert a.cpus == 6 and a.cpus_source == "affinity"


def test_cpu_model_sockets_vm(tmp_path: Path, sysfs: Path) -> None:
    make_proc(tmp_path / "proc", model="AMD EPYC 7763 64-Core Processor", sockets=2, vm=True)
    a = allocation(_cfg(tmp_path, sysfs))
    assert a.cpu_model == "AMD EPYC 7763 64-Core Processor" and a.sockets == 2 and a.is_vm
