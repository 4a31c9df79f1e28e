"""A scriptable stand-in for ROCm's ``amdsmi`` Python module (same names; dict results as the real one).

``amdsmi_get_energy_count`` returns ``energy_accumulator`` (ticks; older releases call it ``power``),
``counter_resolution`` (µJ per tick) and ``timestamp``; ``amdsmi_get_power_info`` returns W values, "N/A"
where not supported. ``amdsmi_get_gpu_device_uuid`` formats the ASIC serial as amdsmi does (amdsmi_uuid_gen,
ROCm/amdsmi src/amd_smi/amd_smi_uuid.cc); ``amdsmi_get_gpu_enumeration_info`` (newer releases; off with
``STATE["enumeration_info"] = False``) gives it as HIP prints it, ``hip_uuid`` "GPU-<16 hex>".
``amdsmi_get_power_cap_info`` gives ``power_cap`` / ``max_power_cap`` in µW (Linux bare metal) where a GPU has
``power_cap_uw`` set (else not supported, the default); ``power_script`` values are returned by the next power reads,
one each, before ``power_w`` (a transient "N/A", a glitch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_NO_DRV = 8


class AmdSmiException(Exception):
    pass


class AmdSmiLibraryException(AmdSmiException):
    def __init__(self, err_code: int) -> None:
        super().__init__(f"amdsmi error {err_code}")
        self.err_code = err_code


@dataclass
class FakeAmdGpu:
    market_name: str = "AMD Instinct MI250X"
    ticks: int | None = 0  # None: energy counter not supported
    resolution_uj: float = 15.3
    power_w: float | str = 300.0  # "N/A": not supported
    legacy_key: bool = False  # report the accumulator under "power" (older amdsmi releases)
    error: int | None = None
    serial: int | None = None  # 64-bit ASIC serial (rsmi unique_id) behind the UUIDs; None: no UUID reported
    device_id: int = 0x740C  # PCI device id (MI250X), part of amdsmi's UUID
    power_limit_w: float | str = 500  # amdsmi_get_power_info's power_limit (W)
    power_cap_uw: int | None = None  # amdsmi_get_power_cap_info's power_cap (µW); None: not supported
    max_power_cap_uw: int | None = None  # ... and max_power_cap (µW)
    power_script: list[float | str] = field(default_factory=list)  # next power reads, one value each


GPUS: list[FakeAmdGpu] = []
STATE: dict[str, Any] = {"init_error": None, "initialised": False, "enumeration_info": True}


def reset(gpus: list[FakeAmdGpu] | None = None, init_error: int | None = None) -> list[FakeAmdGpu]:
    GPUS[:] = gpus if gpus is not None else []
    STATE.update(init_error=init_error, initialised=False, enumeration_info=True)
    return GPUS


def _check(h: FakeAmdGpu) -> FakeAmdGpu:
    if not STATE["initialised"]:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NO_DRV)
    if h.error is not None:
        raise AmdSmiLibraryException(h.error)
    return h


def amdsmi_init(flag: int = 0) -> None:
    if STATE["init_error"] is not None:
        raise AmdSmiLibraryException(STATE["init_error"])
    STATE["initialised"] = True


def amdsmi_shut_down() -> None:
    STATE["initialised"] = False


def amdsmi_get_processor_handles() -> list[FakeAmdGpu]:
    if not STATE["initialised"]:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NO_DRV)
    return list(GPUS)


def amdsmi_get_gpu_asic_info(h: FakeAmdGpu) -> dict[str, Any]:
    return {"market_name": _check(h).market_name}


def amdsmi_get_energy_count(h: FakeAmdGpu) -> dict[str, Any]:
    if _check(h).ticks is None:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
    key = "power" if h.legacy_key else "energy_accumulator"
    return {key: h.ticks, "counter_resolution": h.resolution_uj, "timestamp": 0}


def amdsmi_get_power_info(h: FakeAmdGpu) -> dict[str, Any]:
    p = _check(h).power_script.pop(0) if h.power_script else h.power_w
    return {"socket_power": p, "current_socket_power": p, "average_socket_power": "N/A",
            "power_limit": h.power_limit_w}


def amdsmi_get_power_cap_info(h: FakeAmdGpu) -> dict[str, Any]:
    if _check(h).power_cap_uw is None:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
    most = h.max_power_cap_uw if h.max_power_cap_uw is not None else h.power_cap_uw
    return {"power_cap": h.power_cap_uw, "default_power_cap": h.power_cap_uw, "dpm_cap": 1700,
            "min_power_cap": 0, "max_power_cap": most}


def amdsmi_get_gpu_device_uuid(h: FakeAmdGpu) -> str:
    """amdsmi_uuid_gen(serial, device_id, partition 0xff): "S7FFDDDD-0000-1000-80S6-S5S4S3S2S1S0"."""
    if _check(h).serial is None:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
    s = int(h.serial)  # type: ignore[arg-type]
    return (f"{(s >> 56) & 0xFF:02x}ff{h.device_id:04x}-0000-1000-80{(s >> 48) & 0xFF:02x}-"
            f"{(s >> 32) & 0xFFFF:04x}{s & 0xFFFFFFFF:08x}")


def amdsmi_get_gpu_enumeration_info(h: FakeAmdGpu) -> dict[str, Any]:
    if not STATE["enumeration_info"]:
        raise AttributeError("amdsmi_get_gpu_enumeration_info")  # an older amdsmi without it
    if _check(h).serial is None:
        raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
    i = GPUS.index(h)
    return {"drm_card": i, "drm_render": 128 + i, "hsa_id": i + 1, "hip_id": i, "hip_uuid": f"GPU-{h.serial:016x}"}
