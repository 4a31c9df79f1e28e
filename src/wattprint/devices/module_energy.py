"""Devices whose energy counter covers their whole superchip module, not the GPU alone, and the host parts it holds.

On an NVIDIA GH200 Grace Hopper module, NVML's total-energy counter counts the whole module: the GPU with its HBM,
the Grace CPU and its LPDDR5X memory (``module_energy_counters.csv``, a copy of ``refdata/``'s, gives the source).
The GPU reader that opens such a device marks it (``GpuState.module``) and says what its measured energy holds of
the host (:class:`HostCover`); the detector then does not model that CPU and RAM again.

A GH200 node's CPUs are its modules' Grace CPUs (one per module). Where the host reports more CPU sockets than the
node's modules carry, the rest is still modelled, in proportion: (sockets - module CPUs) / sockets of the CPU and RAM
model (memory taken as spread evenly over the sockets). A job that measures only some of the node's modules is taken
to run on their CPUs and memory (as where a scheduler binds a job's cores to its GPUs' modules): a CPU it uses on
another module is not counted.

GB200 is not listed: no primary statement was found that its counter covers the Grace CPU.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..footprint import Assumption

_TABLE = os.path.join(os.path.dirname(__file__), "module_energy_counters.csv")


@dataclass(frozen=True)
class ModuleCounter:
    """One row of the table: devices whose driver name starts with ``prefix`` report the energy of ``scope``, which
    holds ``covers`` of the host (components: "cpu", "ram") and ``host_cpus`` of its CPU sockets per device."""

    prefix: str
    covers: tuple[str, ...]
    host_cpus: int
    scope: str
    source: str
    year: int


@cache
def _rows() -> tuple[ModuleCounter, ...]:
    # a plain file read (no importlib.resources): this runs on the tracker's start path where NVML finds GPUs
    with open(_TABLE, encoding="utf-8", newline="") as f:
        return tuple(
            ModuleCounter(r["driver_name_prefix"], tuple(c for c in r["covers"].split(";") if c),
                          int(r["host_cpus"]), r["scope"], r["source"], int(r["year"]))
            for r in csv.DictReader(f)
        )


def module_counter(driver_name: str) -> ModuleCounter | None:
    """The table's row for a device the driver names ``driver_name`` ("NVIDIA GH200 480GB"), None for a device whose
    counter is its own (a whole word must follow the prefix: "NVIDIA GH2000" would not match)."""
    name = " ".join(driver_name.split()).casefold()
    for row in _rows():
        p = row.prefix.casefold()
        if name == p or name.startswith(p + " "):
            return row
    return None


def node_host_cpus(driver_names: Iterable[str]) -> int:
    """Host CPU sockets on the modules of every device the driver lists on the node (measured by the job or not)."""
    return sum(m.host_cpus for n in driver_names if (m := module_counter(n)) is not None)


@dataclass(frozen=True)
class HostCover:
    """What the measured module devices hold of the host: ``covers`` (components), ``cpus`` of its CPU sockets (on the
    measured modules) out of ``node_cpus`` (on all the node's modules)."""

    devices: tuple[tuple[str, str], ...]  # (label, driver name) of each measured module device
    covers: tuple[str, ...]
    cpus: int
    node_cpus: int
    scope: str
    source: str

    def modelled_share(self, host_sockets: int) -> float:
        """The share of the host's CPU and RAM that no module holds, which the model still counts: 0 where the host
        reports no more sockets than the node's modules carry (every GH200 node), else the sockets beyond them."""
        if host_sockets <= self.node_cpus:
            return 0.0
        return (host_sockets - self.node_cpus) / host_sockets

    def _devices_text(self) -> str:
        """Labels grouped by driver name: "gpu0, gpu1 (NVIDIA GH200 480GB)"."""
        by_name: dict[str, list[str]] = {}
        for label, name in self.devices:
            by_name.setdefault(name, []).append(label)
        return ", ".join(f"{', '.join(labels)} ({name})" for name, labels in by_name.items())

    def _covers_text(self, components: Iterable[str]) -> str:
        return " and ".join(c.upper() for c in components)

    def note(self, components: Sequence[str], host_sockets: int) -> str:
        """The one-line note for the run: what is measured, and what becomes of the host ``components`` it holds."""
        share = self.modelled_share(host_sockets)
        text = (f"{self._devices_text()} {'reports' if len(self.devices) == 1 else 'report'} the energy of "
                f"{self.scope} (charged as measured GPU energy), so the host's {self._covers_text(components)} ")
        if share == 0.0:
            text += f"{'is' if len(components) == 1 else 'are'} not modelled on top"
        else:
            text += (f"{'is' if len(components) == 1 else 'are'} modelled only for the {share:.3g} of the host its "
                     f"{host_sockets} CPU sockets hold beyond the node's {self.node_cpus} on modules")
        if self.cpus < self.node_cpus:
            text += (f"; the job measures {self.cpus} of the node's {self.node_cpus} modules' CPUs and is taken to run "
                     "on those (CPU time on another module is not counted)")
        return text

    def assumption(self) -> Assumption:
        """What the GPU energy holds, for the run's assumptions."""
        from ..footprint import Assumption  # lazy: the tracker's start path imports no more than it needs

        return Assumption("GPU energy scope", f"{self._devices_text()}: {self.scope}", self.source,
                          f"the module's energy counter covers the host's {self._covers_text(self.covers)}: the "
                          "share of them the node's modules hold is not modelled again")

    def fields(self, host_sockets: int | None) -> dict[str, Any]:
        """For the run's hardware description (None sockets: the allocation could not be read)."""
        return {"gpus": [label for label, _ in self.devices], "scope": self.scope, "covers": list(self.covers),
                "host_modelled_share": None if host_sockets is None else self.modelled_share(host_sockets)}


def cover_of(gpus: Iterable[Any], node_cpus: int) -> HostCover | None:
    """The :class:`HostCover` of the GPUs a reader opened (``GpuState``): those marked ``module`` whose energy counter
    is read. A module GPU whose power is sampled instead is left out: the board power the driver reports is taken to
    be the GPU's own (not confirmed on a GH200)."""
    marked = [g for g in gpus if getattr(g, "module", None) is not None and g.use_counter]
    if not marked:
        return None
    first = marked[0].module
    covers = tuple(dict.fromkeys(c for g in marked for c in g.module.covers))
    return HostCover(tuple((g.label, g.name) for g in marked), covers, sum(g.module.host_cpus for g in marked),
                     max(node_cpus, sum(g.module.host_cpus for g in marked)), first.scope, first.source)
