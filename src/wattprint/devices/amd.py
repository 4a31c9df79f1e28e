"""AMD GPU energy through ``amdsmi`` (ROCm's Python bindings; extra ``wattprint[amd]``).

Per GPU, the energy accumulator (``amdsmi_get_energy_count``: ``energy_accumulator`` - called ``power``
in older releases - in ticks of ``counter_resolution`` µJ) is preferred; else socket power
(``amdsmi_get_power_info``: ``socket_power`` / ``current_socket_power`` / ``average_socket_power``, W)
is integrated over time. Counter resets and lost GPUs are handled as for NVML. GPUs measured:
``DeviceConfig.gpu_indices``, else ``ROCR_VISIBLE_DEVICES`` / ``HIP_VISIBLE_DEVICES`` (indices), else all.
``amdsmi`` is imported lazily inside :func:`open_amdsmi` so tests can inject a fake.
"""

from __future__ import annotations

import contextlib
from types import ModuleType
from typing import Any

from .base import Clock, DeviceConfig
from .gpu import CounterOrPowerReader, GpuState

_UJ_PER_J = 1e6
_POWER_KEYS = ("socket_power", "current_socket_power", "average_socket_power")


def _load_amdsmi() -> ModuleType | None:
    try:
        import amdsmi
    except (ImportError, OSError, KeyError):  # the package exists but the ROCm library is missing
        return None
    return amdsmi


def _energy_uj(smi: ModuleType, handle: Any) -> float:
    d = smi.amdsmi_get_energy_count(handle)
    ticks = d.get("energy_accumulator", d.get("power"))
    if ticks is None or isinstance(ticks, str):
        raise ValueError(f"no energy accumulator in {sorted(d)}")
    return float(ticks) * float(d["counter_resolution"])


def _power_w(smi: ModuleType, handle: Any) -> float:
    d = smi.amdsmi_get_power_info(handle)
    for k in _POWER_KEYS:
        v = d.get(k)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    raise ValueError(f"no power value in {sorted(d)}")


class AmdSmiReader(CounterOrPowerReader):
    """Cumulative energy of the selected AMD GPUs (one :class:`Reading` per GPU)."""

    name = "amdsmi"

    def __init__(self, smi: ModuleType, gpus: list[GpuState], clock: Clock) -> None:
        self._smi = smi
        super().__init__(gpus, clock, (getattr(smi, "AmdSmiException", RuntimeError), ValueError))

    def _counter_j(self, g: GpuState) -> float:
        return _energy_uj(self._smi, g.handle) / _UJ_PER_J

    def _power_w(self, g: GpuState) -> float:
        return _power_w(self._smi, g.handle)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):  # never break the caller's stop()
                self._smi.amdsmi_shut_down()


def _visible_indices(config: DeviceConfig, count: int) -> tuple[list[int], list[str]]:
    """The GPUs a HIP program uses, as HIP picks them: ``ROCR_VISIBLE_DEVICES`` selects among all GPUs, then
    ``HIP_VISIBLE_DEVICES`` (else ``CUDA_VISIBLE_DEVICES``, which HIP also reads) among those. Indices; as in
    CUDA, the first index out of range ends a list. A UUID entry cannot be matched through amdsmi here: then all
    GPUs of that level are measured, with a note."""
    if config.gpu_indices is not None:
        return [i for i in config.gpu_indices if 0 <= i < count], []
    notes: list[str] = []
    chosen = list(range(count))
    for key in ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES|CUDA_VISIBLE_DEVICES"):
        names = key.split("|")
        var = next((n for n in names if config.environ.get(n) is not None), None)
        if var is None:
            continue
        text = config.environ[var]
        picked: list[int] = []
        for tok in (t.strip() for t in text.split(",")) if text.strip() else ():
            if not tok.lstrip("-").isdigit():
                notes.append(f"{var} entry {tok!r} is not an index; wattprint cannot match it to a GPU, so all "
                              f"{len(chosen)} GPUs it chooses from are measured (give indices to measure only yours)")
                picked = list(range(len(chosen)))
                break
            i = int(tok)
            if not 0 <= i < len(chosen):
                break
            if i not in picked:
                picked.append(i)
        chosen = [chosen[i] for i in picked]
    return chosen, notes


def _name(smi: ModuleType, handle: Any) -> str:
    try:
        return str(smi.amdsmi_get_gpu_asic_info(handle).get("market_name", "AMD GPU"))
    except Exception:  # optional detail
        return "AMD GPU"


def open_amdsmi(config: DeviceConfig) -> tuple[AmdSmiReader | None, list[str]]:
    """An :class:`AmdSmiReader` for the AMD GPUs this job may use, or None, plus notes."""
    smi = _load_amdsmi()
    if smi is None:
        return None, []
    errors = (getattr(smi, "AmdSmiException", RuntimeError), ValueError, KeyError)
    try:
        smi.amdsmi_init()
    except Exception as exc:  # no driver: not an AMD GPU machine
        return None, [] if "driver" not in str(exc).lower() else [f"amdsmi failed to start ({exc})"]
    notes: list[str] = []
    gpus: list[GpuState] = []
    try:
        handles = list(smi.amdsmi_get_processor_handles())
        visible, vis_notes = _visible_indices(config, len(handles))
        notes += vis_notes
        for i in visible:
            h = handles[i]
            name = _name(smi, h)
            try:
                _energy_uj(smi, h)
                use_counter = True
            except errors:
                try:
                    _power_w(smi, h)
                except errors as exc:
                    notes.append(f"gpu{i} ({name}) reports neither energy nor power ({exc}); not measured")
                    continue
                use_counter = False
                notes.append(f"gpu{i} ({name}) has no energy counter: its power is sampled and integrated over time")
            gpus.append(GpuState(i, h, name, use_counter))
    except errors as exc:
        notes.append(f"amdsmi error while listing GPUs ({exc}); AMD GPU energy not measured")
        gpus = []
    if not gpus:
        with contextlib.suppress(Exception):
            smi.amdsmi_shut_down()
        return None, notes
    return AmdSmiReader(smi, gpus, config.clock), notes
