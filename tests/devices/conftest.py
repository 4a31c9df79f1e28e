"""Fixtures that simulate hardware at the OS boundary only (modules, sysfs/procfs files, clock)."""

from __future__ import annotations

import builtins
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from .fakes import fake_amdsmi, fake_pynvml
from .fakes.clock import FakeClock
from .fakes.powercap import FakePowercap

FAKE_PID = 4242


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The fake pynvml, installed as ``pynvml`` for the code under test."""
    fake_pynvml.reset()
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml)
    yield fake_pynvml
    fake_pynvml.reset()


@pytest.fixture
def amdsmi(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    fake_amdsmi.reset()
    monkeypatch.setitem(sys.modules, "amdsmi", fake_amdsmi)
    yield fake_amdsmi
    fake_amdsmi.reset()


@pytest.fixture
def no_gpu_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import pynvml`` / ``import amdsmi`` fail, as on a machine without the extras."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setitem(sys.modules, "amdsmi", None)


@pytest.fixture
def no_amd(monkeypatch: pytest.MonkeyPatch) -> None:
    """No amdsmi installed (NVML-only machine)."""
    monkeypatch.setitem(sys.modules, "amdsmi", None)


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    root = tmp_path / "sys"
    root.mkdir()
    return root


@pytest.fixture
def powercap(sysfs: Path) -> FakePowercap:
    return FakePowercap(sysfs)


def make_proc(
    root: Path,
    *,
    pid: int = FAKE_PID,
    cgroup: str = "0::/job.slice/job-1\n",
    mem_total_kb: int = 1024 * 1024 * 1024,  # a 1 TiB host
    model: str = "Intel(R) Xeon(R) Platinum 8280 CPU @ 2.70GHz",
    sockets: int = 2,
    vm: bool = False,
    stat: str = "cpu  100 0 50 1000 10 0 0 0 0 0\n",
) -> Path:
    """A fake /proc: <pid>/cgroup, <pid>/stat, meminfo, cpuinfo, stat."""
    root.mkdir(parents=True, exist_ok=True)
    (root / str(pid)).mkdir(exist_ok=True)
    (root / str(pid) / "cgroup").write_text(cgroup)
    (root / str(pid) / "stat").write_text(f"{pid} (python) R 1 " + " ".join(["0"] * 9) + " 100 50 0 0 20 0 1\n")
    (root / "meminfo").write_text(f"MemTotal:       {mem_total_kb} kB\nMemFree:        1000 kB\n")
    flags = "fpu vme sse2" + (" hypervisor" if vm else "")
    cpuinfo = "".join(
        f"processor\t: {i}\nmodel name\t: {model}\nphysical id\t: {i % sockets}\nflags\t\t: {flags}\n\n"
        for i in range(2 * sockets)
    )
    (root / "cpuinfo").write_text(cpuinfo)
    (root / "stat").write_text(stat)
    return root


def make_cgroup(sysfs: Path, path: str = "job.slice/job-1", **files: str) -> Path:
    """cgroup v2 directory ``<sysfs>/fs/cgroup/<path>`` with files like cpu_max="200000 100000"."""
    base = sysfs / "fs" / "cgroup"
    base.mkdir(parents=True, exist_ok=True)
    (base / "cgroup.controllers").write_text("cpu memory\n")
    d = base / path
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name.replace("_", ".")).write_text(text + "\n")
    return d


def honour_mode_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """As root, chmod 000 does not stop reads (CAP_DAC_OVERRIDE). To simulate what a non-root user sees, the RAPL
    modules' open() (the counters' and the zone files') refuses files with no read bit, as the kernel would."""
    if os.geteuid() != 0:
        return
    from wattprint.devices import rapl, rapl_sysfs

    real_open = builtins.open

    def open_like_a_user(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if os.path.isfile(path) and not os.stat(path).st_mode & 0o444:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    for mod in (rapl, rapl_sysfs):
        monkeypatch.setattr(mod, "open", open_like_a_user, raising=False)
