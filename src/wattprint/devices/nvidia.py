"""NVIDIA GPU energy through NVML (``nvidia-ml-py``, imported as ``pynvml``; extra ``wattprint[nvidia]``).

Per GPU, the total-energy counter (``nvmlDeviceGetTotalEnergyConsumption``, mJ since the driver loaded,
Volta and newer) is preferred; where it is not supported, power (``nvmlDeviceGetPowerUsage``, mW) is
sampled and integrated over the monotonic clock (trapezoid). A counter that goes back (driver reload,
GPU reset) never gives negative energy: that interval is bridged with the current power x interval.
A GPU that is lost or keeps failing keeps the energy measured so far, is marked lost (one note), and
the other GPUs continue.

GPUs measured: ``DeviceConfig.gpu_indices`` if given, else those in ``CUDA_VISIBLE_DEVICES`` (indices,
``GPU-<uuid>`` prefixes, ``MIG-...`` instances), else all. NVML cannot report a MIG instance's energy,
so for a MIG instance its parent GPU is measured (the note says so: shared with the other instances).
On a GH200 Grace Hopper module the counter covers the whole module, its Grace CPU and memory too: such a GPU is
marked and the reader's ``host_cover`` says what it holds of the host (:mod:`.module_energy`).
``pynvml`` is imported lazily inside :func:`open_nvml`, so tests can put a fake in ``sys.modules``.
"""

from __future__ import annotations

import contextlib
import os
from types import ModuleType
from typing import Any

from .base import Clock, DeviceConfig
from .drivers import nvml_may_answer
from .gpu import CounterOrPowerReader, GpuState, check_raw

_MJ_PER_J = 1000.0
_MW_PER_W = 1000.0
# what NVML returns for "not available" (all bits set): read errors, not readings (a torn or garbage value that is
# no sentinel is left to the plausibility bound)
_ENERGY_SENTINELS = ((1 << 64) - 1,)  # mJ, unsigned long long
_POWER_SENTINELS = ((1 << 32) - 1,)  # mW, unsigned int (also the power limits)



def _load_pynvml() -> ModuleType | None:
    if not nvml_may_answer():  # importing pynvml costs 10-25 ms: not where no driver can answer
        return None
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


def _text(x: Any) -> str:
    return x.decode(errors="replace") if isinstance(x, bytes) else str(x)


def _err_code(exc: BaseException) -> int | None:
    v = getattr(exc, "value", None)
    return v if isinstance(v, int) else None


def parse_visible_devices(text: str | None) -> list[str] | None:
    """``CUDA_VISIBLE_DEVICES`` entries; None when unset (all GPUs visible), [] when set but empty."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",")] if text.strip() else []


def _mig_parent(nvml: ModuleType, token: str, uuids: list[str]) -> int | None:
    """Index of the GPU that holds MIG instance ``token`` ("MIG-<uuid>" or legacy "MIG-GPU-<uuid>/gi/ci")."""
    if token.startswith("MIG-GPU-"):
        parent_uuid = token[len("MIG-") :].split("/")[0]
        return uuids.index(parent_uuid) if parent_uuid in uuids else None
    try:
        mig = nvml.nvmlDeviceGetHandleByUUID(token)
        parent = nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mig)
        uuid = _text(nvml.nvmlDeviceGetUUID(parent))
    except Exception:  # NVMLError or a binding without MIG support
        return None
    return uuids.index(uuid) if uuid in uuids else None


def _unmatched_note(tok: str, tokens: list[str], before: list[int]) -> str:
    value = ",".join(tokens)
    if tok == "-1" and not before:
        why = "'-1' hides every GPU from CUDA"
    elif tok.lower() == "all":
        why = "'all' is NVIDIA_VISIBLE_DEVICES (container runtime) syntax, not CUDA's"
    elif tok == "NoDevFiles":
        why = "'NoDevFiles' is a placeholder schedulers such as Slurm set instead of GPU indices"
    else:
        why = "it is no index, UUID or MIG instance of a GPU on this node"
    if before:
        measured = ", ".join(f"gpu{i}" for i in before)
        return (f"CUDA_VISIBLE_DEVICES={value!r}: entry {tok!r} matches no GPU ({why}); as in CUDA, the list ends "
                f"there, so only {measured} {'is' if len(before) == 1 else 'are'} measured")
    return (f"CUDA_VISIBLE_DEVICES={value!r} matches no GPU ({why}); as in CUDA, no GPU is visible to the job, "
            "so no GPU is measured")


def resolve_visible(nvml: ModuleType, tokens: list[str], uuids: list[str]) -> tuple[list[int], list[str]]:
    """NVML indices for ``CUDA_VISIBLE_DEVICES`` entries (as CUDA does, the first invalid entry ends the
    list), and notes. Duplicates (two MIG instances of one GPU) are measured once."""
    out: list[int] = []
    notes: list[str] = []
    for tok in tokens:
        idx: int | None = None
        if tok.lstrip("-").isdigit():
            i = int(tok)
            idx = i if 0 <= i < len(uuids) else None
        elif tok.startswith("MIG-"):
            idx = _mig_parent(nvml, tok, uuids)
            if idx is not None:
                notes.append(
                    f"CUDA_VISIBLE_DEVICES names MIG instance {tok}: NVML does not report a MIG instance's "
                    f"energy, so its whole parent GPU gpu{idx} is measured (shared with any other instances on it)"
                )
        elif tok.startswith("GPU-"):
            hits = [i for i, u in enumerate(uuids) if u.startswith(tok)]
            idx = hits[0] if len(hits) == 1 else None
        if idx is None:
            notes.append(_unmatched_note(tok, tokens, out))
            break
        if idx not in out:
            out.append(idx)
    return out, notes


def _limit_mw_to_w(value: Any) -> float | None:
    """A power limit NVML gave (mW) in W; None for 0, a negative value or the "not available" sentinel."""
    v = int(value)
    return v / _MW_PER_W if v > 0 and v not in _POWER_SENTINELS else None


def _enforced_limit_w(nvml: ModuleType, handle: Any) -> float | None:
    with contextlib.suppress(Exception):  # not on every board, or this binding
        return _limit_mw_to_w(nvml.nvmlDeviceGetEnforcedPowerLimit(handle))
    return None


def _max_limit_w(nvml: ModuleType, handle: Any) -> float | None:
    """The board's maximum configurable power limit (``nvmlDeviceGetPowerManagementLimitConstraints``), W."""
    with contextlib.suppress(Exception):  # not on every board, or this binding
        return _limit_mw_to_w(nvml.nvmlDeviceGetPowerManagementLimitConstraints(handle)[1])
    return None


def _limit_w(nvml: ModuleType, handle: Any) -> float | None:
    """The most this board may be set to draw now (W): the larger of its enforced power limit and its maximum
    configurable limit, which an administrator, DCGM or a job scheduler may raise the enforced one to mid-run;
    None where neither can be read."""
    limits = [w for w in (_enforced_limit_w(nvml, handle), _max_limit_w(nvml, handle)) if w is not None]
    return max(limits) if limits else None


class NvmlReader(CounterOrPowerReader):
    """Cumulative energy of the selected NVIDIA GPUs (one :class:`Reading` per GPU)."""

    name = "nvml"
    reset_cause = "driver reload or GPU reset"

    def __init__(self, nvml: ModuleType, gpus: list[GpuState], clock: Clock) -> None:
        self._nvml = nvml
        super().__init__(gpus, clock, (nvml.NVMLError,))

    def _counter_j(self, g: GpuState) -> float:
        mj = int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(g.handle))
        return check_raw(mj, _ENERGY_SENTINELS, f"{g.label} energy counter (mJ)") / _MJ_PER_J

    def _power_w(self, g: GpuState) -> float:
        mw = int(self._nvml.nvmlDeviceGetPowerUsage(g.handle))
        return check_raw(mw, _POWER_SENTINELS, f"{g.label} power (mW)") / _MW_PER_W

    def _read_limit_w(self, g: GpuState) -> float | None:
        return _limit_w(self._nvml, g.handle)

    def _is_lost(self, exc: BaseException) -> bool:
        lost_code = getattr(self._nvml, "NVML_ERROR_GPU_IS_LOST", None)
        return lost_code is not None and _err_code(exc) == lost_code

    def _describe(self, exc: BaseException) -> str:
        return _text(exc)

    def process_pids(self) -> dict[str, set[int]]:
        """PIDs with compute contexts on each (not lost) GPU, as NVML sees them (host PID namespace: in a
        container they may not match ``os.getpid()``)."""
        out: dict[str, set[int]] = {}
        for g in self.gpus:
            if g.lost:
                continue
            pids: set[int] = set()
            for fn in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
                f = getattr(self._nvml, fn, None)
                if f is None:
                    continue
                try:
                    pids.update(int(p.pid) for p in f(g.handle))
                except self._nvml.NVMLError:
                    continue
            out[g.label] = pids
        return out

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):  # shutting down a lost driver must not break the caller's stop()
                self._nvml.nvmlShutdown()


def _driver_present(config: DeviceConfig) -> bool:
    return os.path.exists(os.path.join(config.proc_root, "driver", "nvidia"))


def open_nvml(config: DeviceConfig) -> tuple[NvmlReader | None, list[str]]:
    """An :class:`NvmlReader` for the GPUs this job may use, or None (no NVML / no GPU), plus notes."""
    nvml = _load_pynvml()
    if nvml is None:
        if _driver_present(config):
            return None, [
                "NVIDIA driver present but nvidia-ml-py is not installed: `pip install wattprint[nvidia]` "
                "to measure GPU energy"
            ]
        return None, []
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError (library/driver not found) or OSError from the loader
        msg = f"NVIDIA driver present but NVML failed to start ({_text(exc)}); GPU energy not measured"
        return None, [msg] if _driver_present(config) else []
    # here, not at the top: the module table matters only where NVML runs (its import costs ~5 ms at start)
    from .module_energy import cover_of, module_counter, node_host_cpus

    notes: list[str] = []
    try:
        count = int(nvml.nvmlDeviceGetCount())
        # one GPU at a time: a job in a cgroup may not open the node's other GPUs (NVML_ERROR_NO_PERMISSION), and
        # a lost GPU fails too; they must not keep the ones it can use from being measured
        handles: list[Any] = []
        uuids: list[str] = []
        names: list[str] = []
        failed: dict[int, str] = {}
        for i in range(count):
            try:
                h = nvml.nvmlDeviceGetHandleByIndex(i)
                uuid, name = _text(nvml.nvmlDeviceGetUUID(h)), _text(nvml.nvmlDeviceGetName(h))
            except nvml.NVMLError as exc:
                h, uuid, name = None, "", ""
                failed[i] = _text(exc)
            handles.append(h)
            uuids.append(uuid)
            names.append(name)
        if config.gpu_indices is not None:
            indices = [i for i in config.gpu_indices if 0 <= i < count]
        else:
            tokens = parse_visible_devices(config.environ.get("CUDA_VISIBLE_DEVICES"))
            if tokens is None:
                indices = list(range(count))
            elif not tokens:
                indices = []
                notes.append("CUDA_VISIBLE_DEVICES is set but empty: as in CUDA, no GPU is visible to the job, so no "
                             "GPU is measured")
            else:
                indices, vis_notes = resolve_visible(nvml, tokens, uuids)
                notes += vis_notes
                order = config.environ.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST")
                if any(t.isdigit() for t in tokens) and len(set(names)) > 1 and order != "PCI_BUS_ID":
                    notes.append(
                        "CUDA_VISIBLE_DEVICES uses indices on a node with different GPU models: CUDA numbers "
                        "them fastest-first, NVML in PCI order; set CUDA_DEVICE_ORDER=PCI_BUS_ID to be sure "
                        "the measured GPUs are the ones used"
                    )
        gpus: list[GpuState] = []
        for i in indices:
            h = handles[i]
            if h is None:  # said once for all of them, below
                continue
            mig_note_given = any(f"gpu{i} is measured" in n for n in notes)
            try:
                current_mig, _pending = nvml.nvmlDeviceGetMigMode(h)
                if current_mig and not mig_note_given:
                    notes.append(
                        f"gpu{i} ({names[i]}) is in MIG mode: NVML reports energy for the whole GPU, not per "
                        "instance, so all its instances' energy is measured"
                    )
            except Exception:  # not supported on pre-Ampere GPUs
                pass
            try:
                nvml.nvmlDeviceGetTotalEnergyConsumption(h)
                use_counter = True
            except nvml.NVMLError:
                try:
                    nvml.nvmlDeviceGetPowerUsage(h)
                except nvml.NVMLError as exc:
                    notes.append(f"gpu{i} ({names[i]}) reports neither energy nor power ({_text(exc)}); not measured")
                    continue
                use_counter = False
                notes.append(
                    f"gpu{i} ({names[i]}) has no energy counter (pre-Volta?): its power is sampled and "
                    "integrated over time"
                )
            # not on every board: then readings are bounded by the catalogue's highest accelerator TDP (gpu.cap_w)
            gpus.append(GpuState(i, h, names[i], use_counter, uuid=uuids[i], limit_w=_enforced_limit_w(nvml, h),
                                 max_limit_w=_max_limit_w(nvml, h), module=module_counter(names[i])))
        closed = [i for i in indices if handles[i] is None]
        if closed:
            notes.append(f"{', '.join(f'gpu{i}' for i in closed)} cannot be opened ({failed[closed[0]]}: another "
                         "job's, or lost); not measured")
    except nvml.NVMLError as exc:
        notes.append(f"NVML error while listing GPUs ({_text(exc)}); GPU energy not measured")
        gpus = []
    if not gpus:
        with contextlib.suppress(Exception):
            nvml.nvmlShutdown()
        return None, notes
    reader = NvmlReader(nvml, gpus, config.clock)
    reader.host_cover = cover_of(gpus, node_host_cpus(names))
    return reader, notes
