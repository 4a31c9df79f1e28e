"""A scriptable stand-in for nvidia-ml-py's ``pynvml`` module, with the same function names and units.

Put it in ``sys.modules["pynvml"]`` (``monkeypatch.setitem``); everything above is the real code path.
Script it through :func:`reset` and the :class:`FakeGpu` objects in ``GPUS``: energy counter (mJ, None =
not supported), power (mW), errors (an NVML error code raised by every call on that GPU), MIG.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_TIMEOUT = 10
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999
NVML_DEVICE_MIG_ENABLE = 1
NVML_DEVICE_MIG_DISABLE = 0


class NVMLError(Exception):
    """Same shape as pynvml's: ``.value`` holds the NVML error code."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return {3: "Not Supported", 15: "GPU is lost", 12: "NVML Shared Library Not Found"}.get(
            self.value, f"NVML error {self.value}"
        )


@dataclass
class ProcessInfo:
    pid: int
    usedGpuMemory: int = 0  # noqa: N815 - pynvml's name


@dataclass
class FakeGpu:
    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    energy_mj: int | None = 0  # None: counter not supported (pre-Volta)
    power_mw: int | None = 100_000  # None: power not supported
    power_limit_mw: int = 700_000  # enforced limit (may be changed mid-run, as an administrator or DCGM does)
    max_power_limit_mw: int | None = None  # maximum configurable limit; None: constraints not supported
    processes: list[int] = field(default_factory=list)
    mig_mode: int | None = None  # None: MIG not supported
    mig_uuids: list[str] = field(default_factory=list)
    error: int | None = None  # every call on this GPU raises NVMLError(error)
    calls: int = 0


@dataclass
class MigHandle:
    uuid: str
    parent: FakeGpu


GPUS: list[FakeGpu] = []
# NVML counts initialisations: nvmlShutdown only shuts down when the count reaches zero, and calling it more
# often than nvmlInit is no error (NVML API reference, Initialization and Cleanup).
STATE: dict[str, Any] = {"init_error": None, "inits": 0, "shutdowns": 0}


def reset(gpus: list[FakeGpu] | None = None, init_error: int | None = None) -> list[FakeGpu]:
    GPUS[:] = gpus if gpus is not None else []
    STATE.update(init_error=init_error, inits=0, shutdowns=0)
    return GPUS


def make_gpus(n: int, **kw: Any) -> list[FakeGpu]:
    return [FakeGpu(uuid=f"GPU-{i:08x}-aaaa-bbbb-cccc-{i:012x}", **kw) for i in range(n)]


def _check(h: FakeGpu) -> FakeGpu:
    if STATE["inits"] <= 0:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)
    h.calls += 1
    if h.error is not None:
        raise NVMLError(h.error)
    return h


def nvmlInit() -> None:  # noqa: N802 - pynvml's names
    if STATE["init_error"] is not None:
        raise NVMLError(STATE["init_error"])
    STATE["inits"] += 1


def nvmlShutdown() -> None:  # noqa: N802
    STATE["inits"] = max(0, STATE["inits"] - 1)
    STATE["shutdowns"] += 1


def nvmlDeviceGetCount() -> int:  # noqa: N802
    if STATE["inits"] <= 0:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)
    return len(GPUS)


def nvmlDeviceGetHandleByIndex(index: int) -> FakeGpu:  # noqa: N802
    if not 0 <= index < len(GPUS):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return GPUS[index]


def nvmlDeviceGetHandleByUUID(uuid: str) -> FakeGpu | MigHandle:  # noqa: N802
    for g in GPUS:
        if g.uuid == uuid:
            return g
        if uuid in g.mig_uuids:
            return MigHandle(uuid, g)
    raise NVMLError(NVML_ERROR_NOT_FOUND)


def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(h: MigHandle) -> FakeGpu:  # noqa: N802
    if not isinstance(h, MigHandle):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return h.parent


def nvmlDeviceGetName(h: FakeGpu) -> str:  # noqa: N802
    return _check(h).name


def nvmlDeviceGetUUID(h: FakeGpu | MigHandle) -> str:  # noqa: N802
    return h.uuid if isinstance(h, MigHandle) else _check(h).uuid


def nvmlDeviceGetTotalEnergyConsumption(h: FakeGpu) -> int:  # noqa: N802
    """mJ since the driver was loaded (Volta+)."""
    if _check(h).energy_mj is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return int(h.energy_mj)  # type: ignore[arg-type]


def nvmlDeviceGetPowerUsage(h: FakeGpu) -> int:  # noqa: N802
    """mW."""
    if _check(h).power_mw is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return int(h.power_mw)  # type: ignore[arg-type]


def nvmlDeviceGetEnforcedPowerLimit(h: FakeGpu) -> int:  # noqa: N802
    return _check(h).power_limit_mw


def nvmlDeviceGetComputeRunningProcesses(h: FakeGpu) -> list[ProcessInfo]:  # noqa: N802
    return [ProcessInfo(p) for p in _check(h).processes]


def nvmlDeviceGetMigMode(h: FakeGpu) -> tuple[int, int]:  # noqa: N802
    if _check(h).mig_mode is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return int(h.mig_mode), int(h.mig_mode)  # type: ignore[arg-type]


def nvmlDeviceGetPowerManagementLimitConstraints(h: FakeGpu) -> tuple[int, int]:  # noqa: N802
    """(min, max) configurable power limit, mW."""
    if _check(h).max_power_limit_mw is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return 100_000, int(h.max_power_limit_mw)  # type: ignore[arg-type]


@contextlib.contextmanager
def burning(gpus: list[FakeGpu], mj_per_tick: int = 3000, tick_s: float = 0.01) -> Iterator[None]:
    """Advance the GPUs' energy counters by ``mj_per_tick`` mJ every ``tick_s`` s while the block runs (3000 mJ
    per 10 ms: 300 W each), on a thread of its own, as a busy GPU's counter advances."""
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            for g in gpus:
                g.energy_mj = (g.energy_mj or 0) + mj_per_tick
            stop.wait(tick_s)

    t = threading.Thread(target=burn, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
