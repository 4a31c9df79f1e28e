"""Pick one reader per component: measured where a sensor exists, else the documented model.

Order of preference: NVML (NVIDIA GPUs), amdsmi (AMD GPUs), RAPL (CPU packages, DRAM), then the model
(:mod:`wattprint.devices.model`) for a CPU or RAM that no sensor covers. Each component appears once:
RAPL's measured "cpu" replaces the CPU model; the RAM model is used only when there is no RAPL dram. A GPU whose
energy counter covers its whole superchip module (GH200: its Grace CPU and memory too) holds the host's CPU and RAM,
which are then not modelled on top, or only for the part of the host beyond the node's modules
(:mod:`.module_energy`); RAPL is x86 only and never measures a module's CPU, so it is kept as it is.
On a shared node (the job's allocation is smaller than the host), RAPL's whole-socket energy is charged
to the job in proportion to its CPU time (CPU) and its memory limit (RAM): :class:`AllocationShare`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .base import Clock, DeviceConfig, DeviceReader, NoteMixin, Reading, host_cover
from .drivers import amdsmi_may_answer, nvml_may_answer
from .host import Allocation, allocation
from .process import cgroup_cpu_seconds, host_cpu_seconds, process_tree_cpu_seconds


class AllocationShare(NoteMixin):
    """Wraps a whole-host measured reader and charges the job its share of each interval's energy.

    CPU: share = the job's CPU-seconds (cgroup ``cpu.stat``, else - or with ``use_process_tree`` - its
    process tree) / the host's busy CPU-seconds over the interval. RAM: share = memory limit / host memory.
    """

    def __init__(
        self,
        inner: DeviceReader,
        alloc: Allocation,
        clock: Clock,
        pid: int,
        proc_root: str,
        use_process_tree: bool = False,
    ) -> None:
        self._init_notes()
        self.inner = inner
        self.component = inner.component
        self.basis = inner.basis
        self.name = f"{inner.name}-allocation-share"
        self._alloc = alloc
        self._pid = pid
        self._proc_root = proc_root
        self._use_tree = use_process_tree
        self._prev_inner: dict[str, float] = {}
        self._charged: dict[str, float] = {}
        self._mem_share = alloc.charged_memory_bytes / alloc.host_memory_bytes if alloc.host_memory_bytes else 1.0
        self._last = self._counters() if self.component == "cpu" else (0.0, 0.0)

    def _counters(self) -> tuple[float, float]:
        job = None if self._use_tree else cgroup_cpu_seconds(self._alloc.cgroup_dir)
        if job is None:
            job = process_tree_cpu_seconds(self._pid, self._proc_root)
        return job, host_cpu_seconds(self._proc_root)[0]

    def read(self) -> list[Reading]:
        readings = self.inner.read()
        if self.component == "cpu":
            now = self._counters()
            job, host = now[0] - self._last[0], now[1] - self._last[1]
            share = min(1.0, max(0.0, job / host)) if host > 0 else 0.0
            self._last = now
        else:
            share = self._mem_share
        out = []
        for r in readings:
            delta = r.energy_j - self._prev_inner.get(r.device, 0.0)
            self._prev_inner[r.device] = r.energy_j
            self._charged[r.device] = self._charged.get(r.device, 0.0) + delta * share
            power = r.power_w * share if r.power_w is not None else None
            out.append(Reading(r.component, r.device, self._charged[r.device], power, r.basis, r.lost))
        return out

    def take_notes(self) -> list[str]:
        inner = getattr(self.inner, "take_notes", None)
        return super().take_notes() + (inner() if inner else [])

    def close(self) -> None:
        self.inner.close()


def detect_readers(
    config: DeviceConfig | None = None, alloc: Allocation | None = None
) -> tuple[list[DeviceReader], list[str]]:
    """Readers for every component of this machine that the job uses, and one-line notes.

    Never raises for a missing or broken sensor: that component falls back (or is left out, for GPUs)
    and a note says why. ``alloc``: the job's allocation if the caller has read it already.
    """
    config = config or DeviceConfig()
    readers: list[DeviceReader] = []
    notes: list[str] = []

    # each vendor's reader module is imported only where its library could answer (see .drivers)
    if config.use_nvml and nvml_may_answer():
        from .nvidia import open_nvml

        nv, nv_notes = open_nvml(config)
        notes += nv_notes
        if nv is not None:
            readers.append(nv)
    if config.use_amdsmi and amdsmi_may_answer():
        from .amd import open_amdsmi

        amd, amd_notes = open_amdsmi(config)
        notes += amd_notes
        if amd is not None:
            if readers:  # NVIDIA GPUs too: both number theirs from 0, and one label must name one device
                for g in amd.gpus:
                    g.prefix = "amd-gpu"
                notes.append("NVIDIA and AMD GPUs on this host: the AMD ones are labelled amd-gpu0, amd-gpu1, ...")
            readers.append(amd)

    alloc = alloc or allocation(config)
    have: set[str] = set()
    # no powercap tree (a VM, a container without /sys/class/powercap, most ARM hosts): nothing RAPL could open,
    # so its modules are not even loaded
    if config.use_rapl and os.path.isdir(os.path.join(config.sysfs_root, "class", "powercap")):
        from .rapl import open_rapl

        rapl_readers, rapl_notes = open_rapl(config.sysfs_root, config.clock)
        notes += rapl_notes
        for r in rapl_readers:
            have.add(r.component)
            if r.component == "cpu" and alloc.cpus_limited:
                readers.append(AllocationShare(r, alloc, config.clock, config.pid, config.proc_root))
                notes.append(
                    f"shared node ({alloc.cpus:g} of {alloc.host_cpus} CPUs allocated, {alloc.cpus_source}): "
                    "RAPL measures whole sockets; the job is charged its share of their busy CPU time"
                )
            elif r.component == "ram" and alloc.memory_bytes is not None:
                readers.append(AllocationShare(r, alloc, config.clock, config.pid, config.proc_root))
                notes.append(
                    f"memory limit {alloc.memory_bytes / 2**30:.1f} GiB ({alloc.memory_source}): RAPL dram "
                    "energy is charged in proportion to it over the host's memory"
                )
            else:
                readers.append(r)

    cover = host_cover(readers)
    # the share of each modelled component that no measured module holds (1: all of it, 0: none)
    share = {c: cover.modelled_share(alloc.sockets) if cover is not None and c in cover.covers else 1.0
             for c in ("cpu", "ram")}
    if cover is not None and (held := [c for c in ("cpu", "ram") if c not in have and c in cover.covers]):
        notes.append(cover.note(held, alloc.sockets))
    _model_a_frozen_dram(readers, alloc, config, share["ram"])
    if "cpu" not in have or "ram" not in have:
        from .model import CpuModelReader, RamModelReader

        model_readers: list[DeviceReader] = []
        if "cpu" not in have and share["cpu"] > 0:
            try:
                model_readers.append(CpuModelReader(alloc, config.clock, config.pid, config.proc_root,
                                                    host_share=share["cpu"]))
            except OSError as exc:  # no procfs (not Linux): nothing to measure utilisation with
                notes.append(f"CPU utilisation unreadable ({exc}); CPU energy is not included")
        if "ram" not in have and share["ram"] > 0:
            if alloc.charged_memory_bytes > 0:
                model_readers.append(RamModelReader(alloc, config.clock, host_share=share["ram"]))
            else:
                notes.append("memory size unknown; RAM energy is not included")
        for m in model_readers:
            notes += m.take_notes()  # type: ignore[attr-defined]
            readers.append(m)
    return readers, notes


def _model_a_frozen_dram(readers: list[DeviceReader], alloc: Allocation, config: DeviceConfig, share: float) -> None:
    """RAPL's RAM reader, in place, behind DramOrModel: the RAM model takes over where its counters never move."""
    for i, r in enumerate(readers):
        if r.component == "ram" and r.basis == "measured" and r.name.startswith("rapl"):
            from .dram_fallback import DramOrModel
            from .model import RamModelReader

            model = RamModelReader(alloc, config.clock, host_share=share) \
                if alloc.charged_memory_bytes > 0 and share > 0 else None
            readers[i] = DramOrModel(r, model, config.clock)


def gpu_process_pids(readers: Iterable[DeviceReader]) -> dict[str, set[int]]:
    """GPU label -> PIDs running on it, from every reader that can tell (NVML)."""
    out: dict[str, set[int]] = {}
    for r in readers:
        fn = getattr(r, "process_pids", None)
        if fn is not None:
            out.update(fn())
    return out


def take_notes(readers: Iterable[DeviceReader]) -> list[str]:
    """New runtime notes from all readers (e.g. a GPU lost mid-run), each said once."""
    out: list[str] = []
    for r in readers:
        fn = getattr(r, "take_notes", None)
        if fn is not None:
            out += fn()
    return out
