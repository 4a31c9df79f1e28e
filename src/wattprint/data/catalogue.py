"""The accelerator catalogue and the table loader: what ``tables/*.json`` hold, loaded lazily and cached."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from ..errors import WattprintError

TFLOPS = 1e12  # FLOP/s per TFLOPS (unit conversion)
TB = 1e12  # bytes per TB (decimal, as datasheets give memory bandwidth)
# 4-bit float weight formats (NVFP4: FP8 scale per 16 values; MXFP4: E8M0 scale per 32): no catalogue peak;
# the estimators serve them as 4-bit weights
FP4_NAMES = ("fp4", "nvfp4", "mxfp4")
_CLOSING = {"(": ")", "[": "]"}  # brackets a cut source may leave open, and what closes each


@cache
def load_table(name: str) -> dict[str, Any]:
    """The parsed JSON table ``tables/<name>.json`` (cached; first call reads the file)."""
    # a plain file read: importlib.resources costs ~10 ms of imports on the tracker's start path
    with open(os.path.join(os.path.dirname(__file__), "tables", f"{name}.json"), encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def table_meta(name: str) -> dict[str, Any]:
    """Source / licence / attribution of a table."""
    meta: dict[str, Any] = load_table(name)["meta"]
    return meta


# -- accelerators -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ModuleHost:
    """The host CPU a superchip module carries beside its GPU(s) (refdata/superchips.csv): ``cpu_w`` its rated W per
    GPU, its memory (LPDDR5X) included; the host model takes it for the CPU and RAM of a generic server."""

    cpu: str
    cpu_w: float
    source: str
    note: str


@dataclass(frozen=True)
class Accelerator:
    """One catalogue row = one chip as counted by ``--count``: a GPU (an SXM/OAM module or a PCIe card), an
    AMD MI250/MI250X *package* (2 GCDs, which rocm-smi shows as 2 devices), a Google TPU *chip* (not a
    TensorCore; a v3-8 slice is 4 chips), an AWS Trainium/Inferentia chip, a K80 *board* (2 GPUs).

    Units: ``tdp_w`` in W (None where unpublished: most TPUs, Trainium; a superchip's GPU's own power, the whole
    module's in :meth:`module_tdp_w`), ``memory_gb`` in GB,
    ``memory_bw_tbs`` in TB/s, ``peak_tflops`` dense peaks in TFLOPS (int8 in TOPS) by precision.
    """

    name: str
    vendor: str
    family: str
    year: int | None
    form_factor: str
    tdp_w: float | None
    memory_gb: float | None
    memory_bw_tbs: float | None
    peak_tflops: dict[str, float]
    source: str
    notes: str
    uncertain: bool
    _raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def peak_flops(self, precision: str, accepted: Iterable[str] | None = None) -> float:
        """Dense peak in FLOP/s (OP/s for int8); WattprintError if the chip has no such peak, naming the peaks it
        has among ``accepted`` (the precisions the caller takes; default all)."""
        p = precision.strip().lower()
        if p not in self.peak_tflops:
            takes = None if accepted is None else set(accepted)
            have = ", ".join(sorted(k for k in self.peak_tflops if takes is None or k in takes)) or "none"
            raise WattprintError(f"{self.name} has no published dense {precision} peak (it has: {have})")
        return self.peak_tflops[p] * TFLOPS

    def lead_source(self) -> str:
        """The first of the row's sources (up to its first ';'), the citation an assumption about the row carries;
        a bracket that the cut leaves open is closed (the ';' may part two clauses of a parenthesis)."""
        lead = self.source.split(";")[0].rstrip()
        opened: list[str] = []
        for c in lead:
            if c in _CLOSING:
                opened.append(_CLOSING[c])
            elif opened and c == opened[-1]:
                opened.pop()
        return lead + "".join(reversed(opened))

    def tdp_range_w(self) -> tuple[float, float] | None:
        """(low, high) TDP in W: the datasheet value twice; where the vendor publishes none but a figure is derived
        (refdata/tdp_ranges.csv), the span of the figures in use; None without a TDP."""
        if self.tdp_w is None:
            return None
        t = self._raw.get("tdp")
        return (float(t["low"]), float(t["high"])) if t else (self.tdp_w, self.tdp_w)

    def tdp_caveat(self) -> str:
        """Why the TDP (or its absence) is not a datasheet figure, with its source; "" where it is one."""
        t = self._raw.get("tdp")
        return f"{t['note']} ({t['source']})" if t else ""

    def module_tdp_w(self) -> float | None:
        """The whole module's power (W) where the datasheet gives only that and ``tdp_w`` is the GPU's own (GH200: CPU,
        GPU and memory); None elsewhere."""
        v = self._raw.get("module_tdp_w")
        return float(v) if v is not None else None

    def module_host(self) -> ModuleHost | None:
        """The host CPU (with its memory) on the chip's own module, per GPU; None for a chip in a separate server."""
        h = self._raw.get("module_host")
        return ModuleHost(h["cpu"], float(h["cpu_w"]), h["source"], h["note"]) if h else None

    def tdp_estimate_w(self) -> float | None:
        """An analyst's TDP estimate (W) for a chip whose vendor publishes none; never used as a default."""
        v = self._raw.get("tdp_estimate_w")
        return float(v) if v is not None else None

    def no_tdp_reason(self) -> str:
        """Why a chip without a TDP has none, for the error that asks the user for its power."""
        est = self.tdp_estimate_w()
        if est is None:
            return f"{self.name} has no published TDP"
        return f"{self.name} has no published TDP (~{est:g} W is only an analyst's estimate)"

    def memory_bandwidth(self) -> float | None:
        """Device memory bandwidth in B/s (datasheet TB/s are decimal), None where unpublished."""
        return self.memory_bw_tbs * TB if self.memory_bw_tbs else None

    def default_precision(self) -> str:
        """bf16 if the chip has it, else fp16, else fp32 (else whatever it has)."""
        for p in ("bf16", "fp16", "fp32"):
            if p in self.peak_tflops:
                return p
        return next(iter(sorted(self.peak_tflops)), "fp32")


@lru_cache(maxsize=1)
def _accels() -> tuple[Accelerator, ...]:
    rows = load_table("accelerators")["accelerators"]
    return tuple(
        Accelerator(name=r["name"], vendor=r["vendor"], family=r["family"], year=r["year"],
                    form_factor=r["form_factor"], tdp_w=r["tdp_w"], memory_gb=r["memory_gb"],
                    memory_bw_tbs=r["memory_bw_tbs"], peak_tflops={k: float(v) for k, v in r["peak_tflops"].items()},
                    source=r["source"], notes=r["notes"], uncertain=r["uncertain"], _raw=r)
        for r in rows
    )


def accelerators() -> list[Accelerator]:
    """All catalogue accelerators (one row per chip; see :class:`Accelerator` for what a chip is)."""
    return list(_accels())


def _by_name() -> dict[str, Accelerator]:
    return {a.name: a for a in _accels()}


def _families() -> list[dict[str, Any]]:
    fams: list[dict[str, Any]] = load_table("accelerators")["families"]
    return fams


def _driver_names() -> dict[str, dict[str, str]]:
    """Names drivers report that name one variant the matcher cannot tell apart ({name: {"name", "source"}})."""
    names: dict[str, dict[str, str]] = load_table("accelerators").get("driver_names", {})
    return names


def accelerator_names() -> list[str]:
    """Catalogue names plus family names (for listings and closest-name hints)."""
    return [a.name for a in _accels()] + [f["family"] for f in _families()]


