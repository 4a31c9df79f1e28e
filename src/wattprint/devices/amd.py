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
zeus/device/gpu/amd.py, llnl/variorum#553, mlco2/codecarbon#1097). Where that is seen at open on each of
``PAIRING_SAMPLES`` power reads ``PAIRING_GAP_S`` apart (an MI250 whose odd GCD never reads power of its own while its
even partner reads power), a job with both GCDs is charged the package once, from the even GCD; a job with one of them
is charged half the package (an even split, said in a note: no per-die figure exists). An odd GCD that reads power of
its own on any of those reads is measured as it reads (with a note where it also read none: a transient N/A on a
driver that reports each GCD's own power must not halve the job's energy).

Readings are bounded as for NVML (:mod:`.gpu`): by the board's power cap (``amdsmi_get_power_cap_info``'s
``power_cap``, else ``amdsmi_get_power_info``'s ``power_limit``), re-read as ``max_power_cap`` before a reading is
refused.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .base import Clock, DeviceConfig
from .gpu import CounterOrPowerReader, GpuState, check_raw

_UJ_PER_J = 1e6
_POWER_KEYS = ("socket_power", "current_socket_power", "average_socket_power")
# all bits set: amdsmi's "not available" (its Python layer turns most into "N/A", not all releases every field); the
# 64-bit accumulator passes the narrower values as it counts, so for it only its own width is one
_SENTINELS = ((1 << 16) - 1, (1 << 32) - 1, (1 << 64) - 1)
_COUNTER_SENTINELS = ((1 << 64) - 1,)
# a power limit amdsmi gives above this is in µW (amdsmi_power_cap_info_t on Linux bare metal), below it in W (the
# same struct on a virtualisation host; amdsmi_power_info_t's power_limit): 1e5 W is no GPU's limit, 0.1 W neither
_UW_ABOVE = 1e5
# MI250 pairing: the odd GCD must read no power on this many reads at open, this far apart (s), to be paired
PAIRING_SAMPLES = 3
PAIRING_GAP_S = 0.02


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
    # the raw value: a float of 2**64 - 1 is 2**64, no longer the sentinel
    return float(check_raw(ticks, _COUNTER_SENTINELS, "energy accumulator (ticks)")) * float(d["counter_resolution"])


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
            return float(check_raw(v, _SENTINELS, f"{k} (W)"))
    raise ValueError(f"no power value in {sorted(d)}")


def _limit_value_w(v: Any) -> float | None:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0 or v in _SENTINELS:
        return None
    return float(v) / _UJ_PER_J if v > _UW_ABOVE else float(v)


def _power_limits_w(smi: ModuleType, handle: Any) -> tuple[float | None, float | None]:
    """(the power cap in force, the most it can be set to) in W, each None where amdsmi does not give it."""
    cap = most = None
    with contextlib.suppress(Exception):  # not in every release, nor on every board
        info = smi.amdsmi_get_power_cap_info(handle)
        cap, most = _limit_value_w(info.get("power_cap")), _limit_value_w(info.get("max_power_cap"))
    if cap is None:
        with contextlib.suppress(Exception):
            cap = _limit_value_w(smi.amdsmi_get_power_info(handle).get("power_limit"))
    return cap, most


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

    def _read_limit_w(self, g: GpuState) -> float | None:
        limits = [w for w in _power_limits_w(self._smi, g.handle) if w is not None]
        return max(limits) if limits else None

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
    power on the even GCD only: seen on each of PAIRING_SAMPLES reads, PAIRING_GAP_S apart (the odd one reads 0 W or
    N/A every time, the even one reads power); and notes for other GPUs that read 0 W beside a same-model partner
    that reads power (not guessed at, but said), and for MI250s that showed the pattern on some reads only."""
    pairs = [(even, even + 1) for even in sorted({v & ~1 for v in visible})
             if even + 1 < len(handles) and name_of(even) == name_of(even + 1)]
    samples: dict[int, list[tuple[float | None, float | None]]] = {even: [] for even, _ in pairs}
    for k in range(PAIRING_SAMPLES):
        # a pair whose odd die has read power of its own is decided: each die reports its own
        open_pairs = [(e, o) for e, o in pairs if not any(p_odd for _, p_odd in samples[e])]
        if not open_pairs:
            break
        if k:
            _sleep(PAIRING_GAP_S)  # a transient N/A lasts a moment: the reads are spread out
        for even, odd in open_pairs:
            samples[even].append((_power_or_none(smi, handles[even]), _power_or_none(smi, handles[odd])))
    packages: dict[int, int] = {}
    notes: list[str] = []
    for even, odd in pairs:
        seen = samples[even]
        pattern = sum(1 for p_even, p_odd in seen if p_even and not p_odd)
        own = sum(1 for _, p_odd in seen if p_odd)
        dual = any(m in name_of(even).upper() for m in _DUAL_DIE_MODELS)
        if not pattern:  # the even die reads no power, or the odd one reads its own: not this pattern
            continue
        if own:
            if dual:  # ambiguous: said
                notes.append(f"gpu{odd} ({name_of(odd)}) read no power on {pattern} of {len(seen)} reads at open "
                             f"while gpu{even} read power, and power of its own on {own}: the driver reports each "
                             "die's own power (the reads without were transient), so each is measured as it reads; "
                             f"if it does report the package on gpu{even} only, gpu{odd}'s energy is in gpu{even}'s")
            continue
        if dual:
            packages[even] = odd
        elif odd in visible:
            p_even = next(p for p, _ in seen if p)
            notes.append(f"gpu{odd} ({name_of(odd)}) reads no power while gpu{even}, the same model beside it, reads "
                         f"{p_even:.3g} W: if they are the two dies of one package whose power the driver reports on "
                         f"one die only, gpu{odd}'s energy is in gpu{even}'s reading, not its own; gpu{odd} is "
                         "measured as it reads, not guessed")
    return packages, notes


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


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
            limit_w, max_limit_w = _power_limits_w(smi, h)  # the package's, for half a package: a looser bound
            gpus.append(GpuState(i, h, name, use_counter, share=share, limit_w=limit_w, max_limit_w=max_limit_w,
                                 whole_unit=even in packages and share == 1.0))
    except errors as exc:
        notes.append(f"amdsmi error while listing GPUs ({exc}); AMD GPU energy not measured")
        gpus = []
    if not gpus:
        with contextlib.suppress(Exception):
            smi.amdsmi_shut_down()
        return None, notes
    return AmdSmiReader(smi, gpus, config.clock), notes
