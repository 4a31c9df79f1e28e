"""What this job was given on the node: CPUs and memory from cgroup v2, SLURM and CPU affinity.

On a shared node the job is charged for its allocation, not for the host's totals (a 1 TB host's RAM
must not dominate a one-GPU job). Sources, most specific wins (the smallest limit):

* cgroup v2 ``cpu.max`` ("quota period" -> quota/period CPUs; "max ..." = no limit) and ``memory.max``
  (bytes or "max"), read at ``<sysfs_root>/fs/cgroup/<path>`` for the path in ``/proc/<pid>/cgroup``
  (line ``0::<path>``), walking up to the root because a parent's limit also applies;
* SLURM: ``SLURM_CPUS_ON_NODE`` / ``SLURM_JOB_CPUS_PER_NODE`` (e.g. "72(x2),36": this node's is the
  first), ``SLURM_MEM_PER_NODE`` (MB) or ``SLURM_MEM_PER_CPU`` (MB per CPU), ``SLURM_STEP_GPUS`` /
  ``SLURM_JOB_GPUS`` (GPU indices);
* ``sched_getaffinity`` (CPUs this process may run on).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .base import DeviceConfig

_MB = 1024 * 1024
_KB = 1024


@dataclass(frozen=True)
class Allocation:
    """CPUs (logical, possibly fractional from a quota) and memory (bytes) given to the job, and the host's."""

    cpus: float
    cpus_source: str  # "cgroup cpu.max", "SLURM_CPUS_ON_NODE", "affinity", "host"
    host_cpus: int
    memory_bytes: int | None  # the job's memory limit; None = no limit found
    memory_source: str
    host_memory_bytes: int
    cpu_model: str
    sockets: int
    is_vm: bool  # /proc/cpuinfo carries the "hypervisor" flag
    cgroup_dir: str | None = None  # the job's cgroup v2 directory (absolute), if found
    gpus: list[str] | None = None  # SLURM GPU indices, if set

    @property
    def cpus_limited(self) -> bool:
        """True when the job may use fewer CPUs than the host has."""
        return self.cpus < self.host_cpus

    @property
    def charged_memory_bytes(self) -> int:
        """The memory the job is charged for: its limit, else (no limit) the host's total."""
        return self.memory_bytes if self.memory_bytes is not None else self.host_memory_bytes


def _proc_cgroup_lines(config: DeviceConfig) -> list[tuple[str, str]]:
    """(controllers, path) pairs from /proc/<pid>/cgroup; controllers is "" for the v2 line."""
    try:
        with open(os.path.join(config.proc_root, str(config.pid), "cgroup"), encoding="utf-8",
                  errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            out.append((parts[1], parts[2].strip()))
    return out


def cgroup_dir(config: DeviceConfig) -> str | None:
    """The process's cgroup v2 directory under ``<sysfs_root>/fs/cgroup`` (or ``.../fs/cgroup/unified``
    on hybrid hosts); None if not on cgroup v2."""
    base = os.path.join(config.sysfs_root, "fs", "cgroup")
    if not os.path.exists(os.path.join(base, "cgroup.controllers")) and os.path.isdir(os.path.join(base, "unified")):
        base = os.path.join(base, "unified")
    for controllers, path in _proc_cgroup_lines(config):
        if controllers == "":
            d = os.path.join(base, path.lstrip("/"))
            return d if os.path.isdir(d) else None
    return None


def _v1_dir(config: DeviceConfig, controller: str) -> str | None:
    """cgroup v1 directory of ``controller`` (e.g. "memory", "cpu") for the process, if mounted."""
    for controllers, path in _proc_cgroup_lines(config):
        names = controllers.split(",")
        if controller in names:
            for mount in (controllers, controller):
                d = os.path.join(config.sysfs_root, "fs", "cgroup", mount, path.lstrip("/"))
                if os.path.isdir(d):
                    return d
    return None


def _cgroup_chain(start: str, config: DeviceConfig) -> list[str]:
    """``start`` and its parents up to the cgroup mount root (inclusive)."""
    root = os.path.normpath(os.path.join(config.sysfs_root, "fs", "cgroup"))
    out = []
    d = os.path.normpath(start)
    while True:
        out.append(d)
        parent = os.path.dirname(d)
        if d == root or not parent.startswith(root):
            break
        d = parent
    return out


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def parse_cpu_max(text: str) -> float | None:
    """cgroup v2 ``cpu.max``: "200000 100000" -> 2.0 CPUs; "max 100000" -> None (no limit)."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    period = float(parts[1]) if len(parts) > 1 else 100000.0  # kernel default period, µs
    return float(parts[0]) / period


def parse_memory_max(text: str) -> int | None:
    """cgroup v2 ``memory.max``: bytes, or "max" -> None."""
    t = text.strip()
    return None if t == "max" or not t else int(t)


# cgroup v1 reports "no memory limit" as a huge page-rounded number (LONG_MAX rounded down)
_V1_UNLIMITED = 1 << 62


def _v1_limits(config: DeviceConfig) -> tuple[float | None, int | None]:
    cpus: float | None = None
    mem: int | None = None
    d = _v1_dir(config, "cpu")
    for dd in _cgroup_chain(d, config) if d else []:
        q, p = _read(os.path.join(dd, "cpu.cfs_quota_us")), _read(os.path.join(dd, "cpu.cfs_period_us"))
        if q and p and q.lstrip("-").isdigit() and int(q) > 0 and int(p) > 0:
            c = int(q) / int(p)
            cpus = c if cpus is None else min(cpus, c)
    d = _v1_dir(config, "memory")
    for dd in _cgroup_chain(d, config) if d else []:
        t = _read(os.path.join(dd, "memory.limit_in_bytes"))
        if t and t.isdigit() and int(t) < _V1_UNLIMITED:
            mem = int(t) if mem is None else min(mem, int(t))
    return cpus, mem


def cgroup_limits(config: DeviceConfig, cg: str | None) -> tuple[float | None, int | None]:
    """(cpus, memory bytes) limits of the cgroup and its ancestors (smallest wins); None = no limit.

    cgroup v2 (``cg``) first; cgroup v1 controllers (``cpu.cfs_quota_us``, ``memory.limit_in_bytes``)
    fill in what v2 does not say (hybrid hosts, older container runtimes)."""
    cpus: float | None = None
    mem: int | None = None
    for d in _cgroup_chain(cg, config) if cg else []:
        t = _read(os.path.join(d, "cpu.max"))
        c = parse_cpu_max(t) if t else None
        if c is not None and (cpus is None or c < cpus):
            cpus = c
        t = _read(os.path.join(d, "memory.max"))
        m = parse_memory_max(t) if t else None
        if m is not None and (mem is None or m < mem):
            mem = m
    v1_cpus, v1_mem = _v1_limits(config)
    return (cpus if cpus is not None else v1_cpus), (mem if mem is not None else v1_mem)


def _slurm_cpus(env: Mapping[str, str]) -> tuple[float | None, str]:
    v = env.get("SLURM_CPUS_ON_NODE")
    if v and v.strip().isdigit():
        return float(v), "SLURM_CPUS_ON_NODE"
    v = env.get("SLURM_JOB_CPUS_PER_NODE")
    if v:
        first = v.strip().split(",")[0].split("(")[0]  # "72(x2),36" -> "72"
        if first.isdigit():
            return float(first), "SLURM_JOB_CPUS_PER_NODE"
    return None, ""


def _slurm_memory(env: Mapping[str, str], cpus: float | None) -> tuple[int | None, str]:
    v = env.get("SLURM_MEM_PER_NODE")
    if v and v.strip().isdigit() and int(v) > 0:
        return int(v) * _MB, "SLURM_MEM_PER_NODE"
    v = env.get("SLURM_MEM_PER_CPU")
    if v and v.strip().isdigit() and cpus:
        return int(int(v) * _MB * cpus), "SLURM_MEM_PER_CPU x CPUs"
    return None, ""


def _slurm_gpus(env: Mapping[str, str]) -> list[str] | None:
    for key in ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS"):
        v = env.get(key)
        if v:
            return [g.strip() for g in v.split(",") if g.strip()]
    return None


def host_memory_bytes(proc_root: str = "/proc") -> int:
    """MemTotal from /proc/meminfo, bytes (physical pages x page size where there is no procfs; 0 if unknown)."""
    try:
        with open(os.path.join(proc_root, "meminfo"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * _KB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


_MODEL_LINE = re.compile(r"^(?:model name|Model|cpu model)\s*:[ \t]*(.*?)\s*$", re.M)
_SOCKET_LINE = re.compile(r"^physical id\s*:[ \t]*(\S*)", re.M)
_FLAGS_LINE = re.compile(r"^flags\s*:(.*)$", re.M)


def cpu_info(proc_root: str = "/proc") -> tuple[str, int, bool]:
    """(model name, sockets, is_vm) from /proc/cpuinfo; sockets = distinct "physical id" values (>= 1).

    Regular expressions over the whole text, not a Python loop per line: a 192-thread server's cpuinfo has
    thousands of lines, read on the tracker's start path."""
    try:
        with open(os.path.join(proc_root, "cpuinfo"), encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    model = next((m for m in _MODEL_LINE.findall(text) if m), "")
    sockets = set(_SOCKET_LINE.findall(text))
    flags = _FLAGS_LINE.search(text)
    vm = flags is not None and "hypervisor" in flags.group(1).split()
    return model or "unknown CPU", max(1, len(sockets)), vm


def allocation(config: DeviceConfig | None = None) -> Allocation:
    """The CPUs and memory given to ``config.pid`` (see the module docstring for the sources)."""
    config = config or DeviceConfig()
    env = config.environ
    host_cpus = os.cpu_count() or 1

    cg = cgroup_dir(config)
    cg_cpus, cg_mem = cgroup_limits(config, cg)
    slurm_cpus, slurm_cpus_src = _slurm_cpus(env)
    try:
        affinity: float | None = float(len(os.sched_getaffinity(config.pid)))
    except (AttributeError, OSError):
        affinity = None

    cpus, cpus_src = float(host_cpus), "host"
    for value, src in ((affinity, "affinity"), (slurm_cpus, slurm_cpus_src), (cg_cpus, "cgroup cpu.max")):
        if value is not None and value < cpus:
            cpus, cpus_src = value, src

    slurm_mem, slurm_mem_src = _slurm_memory(env, slurm_cpus)
    host_mem = host_memory_bytes(config.proc_root)
    mem: int | None = None
    mem_src = "host total (no limit found)"
    for mvalue, msrc in ((slurm_mem, slurm_mem_src), (cg_mem, "cgroup memory.max")):
        if mvalue is not None and mvalue < host_mem and (mem is None or mvalue < mem):
            mem, mem_src = mvalue, msrc

    model, sockets, vm = cpu_info(config.proc_root)
    return Allocation(
        cpus=cpus,
        cpus_source=cpus_src,
        host_cpus=host_cpus,
        memory_bytes=mem,
        memory_source=mem_src,
        host_memory_bytes=host_mem,
        cpu_model=model,
        sockets=sockets,
        is_vm=vm,
        cgroup_dir=cg,
        gpus=_slurm_gpus(env),
    )
