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
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from .base import Clock, DeviceConfig, Integrator, NoteMixin, Reading

_UJ_PER_J = 1e6
MAX_CONSECUTIVE_FAILURES = 3  # failed reads in a row before a GPU is declared lost
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


@dataclass
class _AmdGpu:
    index: int
    handle: Any
    name: str
    use_counter: bool
    last_uj: float | None = None
    integ: Integrator = field(default_factory=Integrator)
    energy_j: float = 0.0
    power_w: float | None = None
    lost: bool = False
    failures: int = 0

    @property
    def label(self) -> str:
        return f"gpu{self.index}"


class AmdSmiReader(NoteMixin):
    """Cumulative energy of the selected AMD GPUs (one :class:`Reading` per GPU)."""

    component = "gpu"
    basis = "measured"
    name = "amdsmi"

    def __init__(self, smi: ModuleType, gpus: list[_AmdGpu], clock: Clock) -> None:
        self._init_notes()
        self._smi = smi
        self._errors: tuple[type[BaseException], ...] = (getattr(smi, "AmdSmiException", RuntimeError), ValueError)
        self.gpus = gpus
        self._clock = clock
        self._t = clock()
        self._closed = False
        for g in gpus:
            try:
                if g.use_counter:
                    g.last_uj = _energy_uj(smi, g.handle)
                else:
                    g.integ.add(self._t, _power_w(smi, g.handle))
            except self._errors as exc:
                self._failed(g, exc)

    def _read_one(self, g: _AmdGpu, t: float, dt: float) -> None:
        if g.use_counter:
            uj = _energy_uj(self._smi, g.handle)
            if g.last_uj is None or uj < g.last_uj:
                if g.last_uj is not None:
                    self.note(
                        f"{g.label} energy counter went back (reset); that interval is bridged with power x time",
                        key=f"reset-{g.index}",
                    )
                try:
                    delta_j = _power_w(self._smi, g.handle) * dt
                except self._errors:
                    delta_j = (g.power_w or 0.0) * dt
            else:
                delta_j = (uj - g.last_uj) / _UJ_PER_J
            g.last_uj = uj
            g.energy_j += delta_j
            if dt > 0:
                g.power_w = delta_j / dt
        else:
            p = _power_w(self._smi, g.handle)
            g.energy_j += g.integ.add(t, p)
            g.power_w = p
        g.failures = 0

    def _failed(self, g: _AmdGpu, exc: BaseException) -> None:
        g.failures += 1
        if g.failures >= MAX_CONSECUTIVE_FAILURES:
            g.lost = True
            g.power_w = None
            self.note(
                f"{g.label} ({g.name}) lost mid-run ({exc}); its energy so far ({g.energy_j:.1f} J) is kept, "
                "the other GPUs continue",
                key=f"lost-{g.index}",
            )

    def read(self) -> list[Reading]:
        t = self._clock()
        dt = max(0.0, t - self._t)
        out = []
        for g in self.gpus:
            if not g.lost:
                try:
                    self._read_one(g, t, dt)
                except self._errors as exc:
                    self._failed(g, exc)
            out.append(Reading("gpu", g.label, g.energy_j, g.power_w, self.basis, g.lost))
        self._t = t
        return out

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):  # never break the caller's stop()
                self._smi.amdsmi_shut_down()


def _visible_indices(config: DeviceConfig, count: int) -> list[int]:
    if config.gpu_indices is not None:
        return [i for i in config.gpu_indices if 0 <= i < count]
    for key in ("ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"):
        v = config.environ.get(key)
        if v is not None:
            out: list[int] = []
            for tok in (t.strip() for t in v.split(",")) if v.strip() else ():
                if not tok.isdigit() or int(tok) >= count:
                    break
                if int(tok) not in out:
                    out.append(int(tok))
            return out
    return list(range(count))


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
    gpus: list[_AmdGpu] = []
    try:
        handles = list(smi.amdsmi_get_processor_handles())
        for i in _visible_indices(config, len(handles)):
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
            gpus.append(_AmdGpu(i, h, name, use_counter))
    except errors as exc:
        notes.append(f"amdsmi error while listing GPUs ({exc}); AMD GPU energy not measured")
        gpus = []
    if not gpus:
        with contextlib.suppress(Exception):
            smi.amdsmi_shut_down()
        return None, notes
    return AmdSmiReader(smi, gpus, config.clock), notes
