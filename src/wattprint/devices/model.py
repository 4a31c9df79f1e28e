"""The documented fallback where no sensor exists (e.g. a VM without RAPL): modelled CPU and RAM power.

CPU power (W) = P_full x utilisation, integrated over each sampling interval, where

* P_full is the catalogue TDP (W per socket, :func:`wattprint.data.cpu_tdp_w`) x sockets, scaled to the
  CPUs allocated to the job on a shared node; in a VM, or for a CPU not in the catalogue, it is a generic
  per-CPU figure (:func:`wattprint.data.cpu_watts_per_core`, labelled as assumed) x allocated CPUs
  (a VM's vCPUs are a slice of a host CPU whose TDP covers cores the VM does not have);
* utilisation over the interval is the host's busy/total CPU time from /proc/stat when the job has the
  whole host, else the job's CPU time (its cgroup's ``cpu.stat``, or its process tree) / (allocated CPUs x dt).

This ignores idle power (a lower bound for an idle CPU, close to TDP under full load), stated in the
assumption. RAM power (W) = :func:`wattprint.data.ram_watts_per_gb` x the allocated memory in GiB (the
cgroup/SLURM limit; the host's total, with a note, when there is none), constant over time.

``host_share`` (both models, default 1) is the part of the host that no measured device holds: on a host whose CPU
sockets are partly on superchip modules whose energy is measured whole (:mod:`.module_energy`), the rest.
"""

from __future__ import annotations

from ..footprint import Assumption
from .base import Clock, ModelledEnergy, NoteMixin, Reading
from .host import Allocation
from .process import cgroup_cpu_seconds, host_cpu_seconds, process_tree_cpu_seconds

_BYTES_PER_GIB = 1024**3


def _share_text(host_share: float) -> str:
    return f" x {host_share:.3g} of the host not on a measured module" if host_share < 1.0 else ""


class CpuModelReader(NoteMixin):
    """Modelled CPU energy: P_full x measured utilisation (see the module docstring)."""

    component = "cpu"
    basis = "modelled"

    def __init__(self, alloc: Allocation, clock: Clock, pid: int, proc_root: str = "/proc",
                 host_share: float = 1.0) -> None:
        from .. import data  # lazy: tables load on first use

        self._init_notes()
        self.name = "cpu-model"
        self.alloc = alloc
        self._clock = clock
        self._pid = pid
        self._proc_root = proc_root
        self.energy = ModelledEnergy()
        self._power_w: float | None = None

        tdp = None if alloc.is_vm else data.cpu_tdp_w(alloc.cpu_model)
        if tdp is not None:
            tdp_w, source = tdp
            scale = alloc.cpus / alloc.host_cpus if alloc.cpus_limited else 1.0
            full = tdp_w * alloc.sockets * scale * host_share
            self._full = (full, full, full)
            self.energy.assumptions.append(
                Assumption(
                    "CPU power model",
                    f"{tdp_w:g} W TDP x {alloc.sockets} socket(s)"
                    + (f" x {alloc.cpus:g}/{alloc.host_cpus} CPUs allocated" if alloc.cpus_limited else "")
                    + _share_text(host_share) + " x measured utilisation",
                    source,
                    f"TDP of {alloc.cpu_model}; idle power not included",
                )
            )
        else:
            per_cpu, assumption = data.cpu_watts_per_core()
            cpus = alloc.cpus * host_share
            self._full = (per_cpu.value * cpus, per_cpu.low * cpus, per_cpu.high * cpus)
            self.energy.assumptions.append(assumption)
            why = (
                "a virtual machine (host CPU TDP covers cores it does not have)"
                if alloc.is_vm
                else (f"CPU {alloc.cpu_model!r} not in the catalogue")
            )
            self.note(
                f"CPU power modelled: {why}; assumed {per_cpu} W per core x {alloc.cpus:g} CPUs "
                f"(logical CPUs counted as cores){_share_text(host_share)} x measured utilisation"
            )
        self._share_of_host = not alloc.cpus_limited
        self._last = self._cpu_counters()
        self._t = clock()

    @property
    def assumptions(self) -> list[Assumption]:
        return self.energy.assumptions

    def _cpu_counters(self) -> tuple[float, float]:
        """(busy CPU-s, capacity CPU-s or nan) now: host-wide, or the job's own CPU time."""
        if self._share_of_host:
            return host_cpu_seconds(self._proc_root)
        used = cgroup_cpu_seconds(self.alloc.cgroup_dir) if self.alloc.cpus_limited else None
        if used is None:
            used = process_tree_cpu_seconds(self._pid, self._proc_root)
        return used, float("nan")

    def read(self) -> list[Reading]:
        t = self._clock()
        dt = t - self._t
        try:
            now = self._cpu_counters()
        except OSError as exc:
            self.note(f"CPU utilisation unreadable ({exc}); CPU energy frozen", key="cpu-unreadable")
            now = self._last
        if dt > 0:
            busy = now[0] - self._last[0]
            if self._share_of_host:
                total = now[1] - self._last[1]
                util = busy / total if total > 0 else 0.0
            else:
                util = busy / (self.alloc.cpus * dt)
            util = min(1.0, max(0.0, util))
            v, lo, hi = (p * util for p in self._full)
            self.energy.add(v * dt, lo * dt, hi * dt)
            self._power_w = v
            self._last, self._t = now, t
        e = self.energy
        return [Reading("cpu", self.name, e.value, self._power_w, self.basis, False, e.low, e.high)]

    def close(self) -> None:
        pass


class RamModelReader(NoteMixin):
    """Modelled RAM energy: W/GB x allocated GiB x elapsed time."""

    component = "ram"
    basis = "modelled"

    def __init__(self, alloc: Allocation, clock: Clock, host_share: float = 1.0) -> None:
        from .. import data

        self._init_notes()
        self.name = "ram-model"
        self._clock = clock
        self.energy = ModelledEnergy()
        per_gb, assumption = data.ram_watts_per_gb()
        total = alloc.charged_memory_bytes / _BYTES_PER_GIB
        gib = total * host_share  # the part no measured module holds
        self.gib = gib
        self._power = (per_gb.value * gib, per_gb.low * gib, per_gb.high * gib)
        self.energy.assumptions.append(assumption)
        if alloc.memory_bytes is None:
            self.note(
                f"RAM power modelled for the host's total {total:.1f} GiB{_share_text(host_share)}: no cgroup or "
                "SLURM memory limit found (on a shared node, run inside a job/cgroup with a memory limit to be charged "
                "only for it)"
            )
        self._t = clock()

    @property
    def assumptions(self) -> list[Assumption]:
        return self.energy.assumptions

    def read(self) -> list[Reading]:
        t = self._clock()
        dt = t - self._t
        if dt > 0:
            v, lo, hi = self._power
            self.energy.add(v * dt, lo * dt, hi * dt)
            self._t = t
        e = self.energy
        return [Reading("ram", self.name, e.value, self._power[0], self.basis, False, e.low, e.high)]

    def close(self) -> None:
        pass
