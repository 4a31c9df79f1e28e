"""What every device reader shares: the :class:`Reading` it returns, the :class:`DeviceReader` protocol,
the :class:`DeviceConfig` that says where to look, and small helpers for cumulative energy.

Energies are joules (J), powers watts (W), times seconds (s) on a monotonic clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..footprint import Assumption
    from .module_energy import HostCover

Clock = Callable[[], float]


@dataclass(frozen=True)
class Reading:
    """One device's cumulative energy since its reader was opened.

    ``energy_j`` never decreases: counter wrap-arounds and resets are handled inside the reader.
    ``energy_low_j``/``energy_high_j`` bound modelled energies (None for measured ones: exact).
    ``lost`` is True once the device vanished or kept failing; its energy then stays frozen.
    """

    component: str  # "gpu" | "cpu" | "ram"
    device: str  # "gpu0", "package-0", "dram-0", "cpu-model" ...
    energy_j: float
    power_w: float | None  # latest (interval-average) power, W, if known
    basis: str  # "measured" | "modelled"
    lost: bool = False
    energy_low_j: float | None = None
    energy_high_j: float | None = None


@runtime_checkable
class DeviceReader(Protocol):
    """A source of readings for one component. ``read()`` is cheap and never sleeps."""

    component: str
    basis: str
    name: str

    def read(self) -> list[Reading]: ...

    def close(self) -> None: ...


def _env_sysfs_root() -> str:
    return os.environ.get("WATTPRINT_SYSFS_ROOT", "/sys")


@dataclass
class DeviceConfig:
    """Where and what to read. Defaults are taken when the config is created (i.e. at call time).

    ``sysfs_root``: root of sysfs (env ``WATTPRINT_SYSFS_ROOT``, default ``/sys``): powercap lives in
    ``<root>/class/powercap``, cgroup v2 in ``<root>/fs/cgroup``. ``proc_root``: procfs root (tests).
    ``gpu_indices``: NVML/amdsmi indices to measure; None honours ``CUDA_VISIBLE_DEVICES`` (NVIDIA) and
    ``ROCR_VISIBLE_DEVICES``/``HIP_VISIBLE_DEVICES`` (AMD). ``pid``: whose cgroup / process tree.
    ``environ``: environment to read SLURM/CUDA variables from (default ``os.environ``).
    """

    sysfs_root: str = field(default_factory=_env_sysfs_root)
    proc_root: str = "/proc"
    gpu_indices: list[int] | None = None
    pid: int = field(default_factory=os.getpid)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    clock: Clock = time.monotonic
    use_nvml: bool = True
    use_amdsmi: bool = True
    use_rapl: bool = True


class NoteMixin:
    """Readers collect one-line notes (each said once); the tracker drains them with ``take_notes()``."""

    def _init_notes(self) -> None:
        self._said: set[str] = set()
        self._pending: list[str] = []

    def note(self, message: str, key: str | None = None) -> None:
        """Record ``message`` once per ``key`` (default: the message itself)."""
        k = key or message
        if k in self._said:
            return
        self._said.add(k)
        self._pending.append(message)

    def take_notes(self) -> list[str]:
        """Notes raised since the last call (e.g. 'gpu1 lost mid-run'), oldest first."""
        out, self._pending = self._pending, []
        return out


@dataclass
class Integrator:
    """Trapezoid integration of power samples over a monotonic clock: W x s -> J."""

    energy_j: float = 0.0
    _t: float | None = None
    _p: float | None = None

    def add(self, t: float, power_w: float) -> float:
        """Add a power sample taken at time ``t`` (s); returns the energy added (J)."""
        added = 0.0
        if self._t is not None and self._p is not None and t > self._t:
            added = 0.5 * (self._p + power_w) * (t - self._t)
            self.energy_j += added
        self._t, self._p = t, power_w
        return added


@dataclass
class ModelledEnergy:
    """Cumulative modelled energy with its low/high bounds (J)."""

    value: float = 0.0
    low: float = 0.0
    high: float = 0.0
    assumptions: list[Assumption] = field(default_factory=list)

    def add(self, value: float, low: float, high: float) -> None:
        self.value += value
        self.low += low
        self.high += high


def host_cover(readers: Iterable[object]) -> HostCover | None:
    """The host components the readers' measured energy already holds (a reader's ``host_cover``: only NVML on a
    GPU whose counter covers its whole module, :mod:`.module_energy`), None where none does; the first found is the
    node's. Here, not there: it runs at every start, and that module is imported only where NVML runs."""
    for r in readers:
        cover = getattr(r, "host_cover", None)
        if cover is not None:
            return cover
    return None
