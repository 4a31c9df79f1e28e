"""AMD GPU energy through ``amdsmi`` (ROCm's Python bindings; extra ``wattprint[amd]``).

Per GPU, the energy accumulator (``amdsmi_get_energy_count``: ``energy_accumulator`` - called ``power``
in older releases - in ticks of ``counter_resolution`` µJ) is preferred; else socket power
(``amdsmi_get_power_info``: ``socket_power`` / ``current_socket_power`` / ``average_socket_power``, W)
is integrated over time. Counter resets and lost GPUs are handled as for NVML. GPUs measured:
``DeviceConfig.gpu_indices``, else ``ROCR_VISIBLE_DEVICES`` / ``HIP_VISIBLE_DEVICES`` (indices, or ``GPU-<hex>``
UUIDs as HIP prints them), else all. ``amdsmi`` is imported lazily inside :func:`open_amdsmi` so tests can inject
a fake.

Dual-die MI250 / MI250X: each card is two GCDs that amdsmi lists as two GPUs, and the driver reports the power of
the whole package (both dies) on the even-numbered GCD only; the odd one reads 0 W or N/A (ml-energy/zeus#203 and
zeus/device/gpu/amd.py, llnl/variorum#553, mlco2/codecarbon#1097). Where that is seen at open (an MI250 whose odd
GCD reads no power while its even partner does), a job with both GCDs is charged the package once, from the even
GCD; a job with one of them is charged half the package (an even split, said in a note: no per-die figure exists).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
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


_DUAL_DIE_MODELS = ("MI250",)  # MI250 and MI250X: two GCDs per package, power reported on the even one
# amdsmi_get_gpu_device_uuid's layout (ROCm/amdsmi src/amd_smi/amd_smi_uuid.cc, amdsmi_uuid_gen): the 64-bit ASIC
# serial (rsmi unique_id) is spread over bytes 7, 6, 5-4, 3-0 as "S7FFDDDD-0000-1000-80S6-S5S4S3S2S1S0"; HIP and
# ROCR print the same serial as "GPU-<16 hex>" (amdsmi_get_gpu_enumeration_info's hip_uuid)
_AMDSMI_UUID = re.compile(r"^([0-9a-f]{2})[0-9a-f]{6}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{2}([0-9a-f]{2})-([0-9a-f]{12})$")


def _hip_uuid(smi: ModuleType, handle: Any) -> str | None:
    """The GPU's UUID as ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES take it ("GPU-<16 hex>", lower case), or None
    where amdsmi gives no UUID."""
    with contextlib.suppress(Exception):  # newer amdsmi: the HIP UUID itself
        v = smi.amdsmi_get_gpu_enumeration_info(handle).get("hip_uuid")
        if isinstance(v, str) and v.upper().startswith("GPU-") and len(v) > 4:
            return v.lower()
    with contextlib.suppress(Exception):  # amdsmi's own UUID carries the same serial
        m = _AMDSMI_UUID.match(str(smi.amdsmi_get_gpu_device_uuid(handle)).strip().lower())
        if m:
            return "gpu-" + "".join(m.groups())
    return None


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
        return _energy_uj(self._smi, g.handle) / _UJ_PER_J * g.share

    def _power_w(self, g: GpuState) -> float:
        return _power_w(self._smi, g.handle) * g.share

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):  # never break the caller's stop()
                self._smi.amdsmi_shut_down()


def _visible_indices(config: DeviceConfig, count: int,
                     uuid_of: Callable[[int], str | None] | None = None) -> tuple[list[int], list[str]]:
    """The GPUs a HIP program uses, as HIP picks them: ``ROCR_VISIBLE_DEVICES`` selects among all GPUs, then
    ``HIP_VISIBLE_DEVICES`` (else ``CUDA_VISIBLE_DEVICES``, which HIP also reads) among those. Indices, or UUIDs
    ("GPU-<hex>") matched against what amdsmi reports (``uuid_of``); as in CUDA, the first index out of range ends a
    list. A UUID that cannot be matched: then all GPUs of that level are measured, with a note."""
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
            if tok.lstrip("-").isdigit():
                i = int(tok)
            else:
                uuids = [uuid_of(c) if uuid_of is not None else None for c in chosen]
                hits = [k for k, u in enumerate(uuids) if u is not None and u == tok.lower()]
                if len(hits) != 1:
                    why = ("matches none of the GPU UUIDs amdsmi reports" if any(uuids) else
                           "is not an index, and amdsmi here reports no GPU UUIDs to match it with")
                    notes.append(f"{var} entry {tok!r} {why}; wattprint cannot tell which GPU it is, so all "
                                 f"{len(chosen)} GPUs it chooses from are measured (give indices to measure only "
                                 "yours)")
                    picked = list(range(len(chosen)))
                    break
                i = hits[0]
            if not 0 <= i < len(chosen):
                break
            if i not in picked:
                picked.append(i)
        chosen = [chosen[i] for i in picked]
    return chosen, notes


def _power_or_none(smi: ModuleType, handle: Any) -> float | None:
    try:
        return _power_w(smi, handle)
    except Exception:  # N/A (the odd GCD of an MI250 on some ROCm releases) or an error: no power reported
        return None


def _dual_die_packages(smi: ModuleType, handles: list[Any], visible: list[int],
                       name_of: Callable[[int], str]) -> tuple[dict[int, int], list[str]]:
    """Even GCD -> odd GCD of the MI250-class packages among the visible GPUs whose driver reports the package's
    power on the even GCD only (seen here: the odd one reads 0 W or N/A while the even one reads power); and notes
    for other GPUs that read 0 W beside a same-model partner that reads power (not guessed at, but said)."""
    packages: dict[int, int] = {}
    notes: list[str] = []
    for i in sorted({v & ~1 for v in visible}):
        even, odd = i, i + 1
        if odd >= len(handles) or name_of(even) != name_of(odd):
            continue
        p_even, p_odd = _power_or_none(smi, handles[even]), _power_or_none(smi, handles[odd])
        if not p_even or p_odd:  # the even die reads no power, or the odd one reads its own: not this pattern
            continue
        if any(m in name_of(even).upper() for m in _DUAL_DIE_MODELS):
            packages[even] = odd
        elif odd in visible:
            notes.append(f"gpu{odd} ({name_of(odd)}) reads no power while gpu{even}, the same model beside it, reads "
                         f"{p_even:.3g} W: if they are the two dies of one package whose power the driver reports on "
                         f"one die only, gpu{odd}'s energy is in gpu{even}'s reading, not its own; gpu{odd} is "
                         "measured as it reads, not guessed")
    return packages, notes


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
        uuid_cache: dict[int, str | None] = {}
        name_cache: dict[int, str] = {}

        def uuid_of(i: int) -> str | None:
            if i not in uuid_cache:
                uuid_cache[i] = _hip_uuid(smi, handles[i])
            return uuid_cache[i]

        def name_of(i: int) -> str:
            if i not in name_cache:
                name_cache[i] = _name(smi, handles[i])
            return name_cache[i]

        visible, vis_notes = _visible_indices(config, len(handles), uuid_of)
        notes += vis_notes
        packages, die_notes = _dual_die_packages(smi, handles, visible, name_of)
        notes += die_notes
        for i in visible:
            name = name_of(i)
            even = i & ~1
            share = 1.0
            h = handles[i]
            if even in packages:
                odd = packages[even]
                if even in visible and odd in visible:
                    if i == odd:
                        continue  # counted with its partner
                    notes.append(f"gpu{even} and gpu{odd} are the two GCDs of one {name}: the driver reports the "
                                 f"package's power (both dies) on gpu{even} only, and gpu{odd} reads none; the package "
                                 f"is measured once, as gpu{even} (its readings taken to cover the package, as its "
                                 f"power does; gpu{odd}'s own energy counter is not added: whether it mirrors the "
                                 "package or holds something else is not documented)")
                else:
                    share = 0.5
                    other = odd if i == even else even
                    notes.append(f"gpu{i} is one of the two GCDs of the {name} package of gpu{even} and gpu{odd}; "
                                 f"the job does not use gpu{other}. "
                                 f"The driver reports power only for the whole package (on gpu{even}), so gpu{i} is "
                                 "charged half the package's energy: an even split, an assumption (no per-die figure "
                                 "exists; a busy die beside an idle one is under-charged, an idle one over-charged)")
                    h = handles[even]
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
            gpus.append(GpuState(i, h, name, use_counter, share=share))
    except errors as exc:
        notes.append(f"amdsmi error while listing GPUs ({exc}); AMD GPU energy not measured")
        gpus = []
    if not gpus:
        with contextlib.suppress(Exception):
            smi.amdsmi_shut_down()
        return None, notes
    return AmdSmiReader(smi, gpus, config.clock), notes
