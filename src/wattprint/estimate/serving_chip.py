"""The accelerator a replica runs on: its catalogue entry, the weight precision and the peak it computes at."""

from __future__ import annotations

from typing import Any

from ..data.catalogue import FP4_NAMES
from ..errors import InputConflictError, UnknownNameError, WattprintError, normalise_name, shown
from ..footprint import Assumption
from .common import BYTES_PER_VALUE, both_names, check_board_power, component_key
from .roofline import Chip

# which peak-FLOP/s column the matrix maths runs at; weight-only int8/int4 dequantise to 16-bit for the maths
COMPUTE_PRECISION = {"fp32": "fp32", "tf32": "tf32", "bf16": "bf16", "fp16": "fp16", "fp8": "fp8",
                     "int8": "int8", "int4": "bf16"}


def _weight_only_note(prec: str, compute_prec: str, acc: Any) -> Assumption:
    """``prec`` weights computed at the chip's ``compute_prec`` peak: stored as given and dequantised for the maths,
    where the chip lists no maths of their own, or only maths slower than its 16-bit ones."""
    own = COMPUTE_PRECISION[prec]
    stored = f"{BYTES_PER_VALUE[prec]:g} byte(s) per weight"
    if own not in acc.peak_tflops:
        how = ("weight-only fp8 storage is real on chips without fp8 maths (vLLM runs fp8 checkpoints on Ampere as "
               "W8A16 through its Marlin kernels, vLLM docs 'FP8 W8A8', 2024)" if prec == "fp8"
               else f"the chip has no {own} matrix maths")
        why = f"{acc.name} lists no {own} peak: {how}"
    else:  # Blackwell Ultra cut its int8 units below its bf16 ones
        unit = "TOPS" if own == "int8" else "TFLOP/s"
        why = (f"{acc.name}'s dense {own} peak ({acc.peak_tflops[own]:g} {unit}) is below its {compute_prec} peak "
               f"({acc.peak_tflops[compute_prec]:g} TFLOP/s): engines keep {prec} weights and dequantise them for "
               "16-bit maths (weight-only, as on chips without such maths) rather than run the slower units")
    return Assumption(f"{prec} on {acc.name}", f"stored at {stored}; maths at the chip's {compute_prec} peak",
                      acc.source, why)


def _fp4_note(name: str, acc: Any) -> Assumption:
    """A 4-bit float format (``name``: fp4, nvfp4, mxfp4) served as 4-bit weights, as int4 is."""
    return Assumption(
        f"{name} weights", "read as 4-bit weights (0.5 byte per weight, as int4), maths at the chip's 16-bit peak",
        "NVIDIA, 'Introducing NVFP4 for efficient and accurate low-precision inference' (developer.nvidia.com, June "
        "2025: 4-bit E2M1 values with an FP8 scale per 16); OCP Microscaling Formats (MX) v1.0 specification (2023: "
        "an E8M0 scale per 32)",
        f"the block scales (+12.5 % for NVFP4, +6 % for MXFP4) are not counted, as int4's group scales are not; the "
        f"catalogue lists no FP4 peak for {acc.name}, so W4A4 maths (Blackwell's FP4 tensor cores) would make the "
        "compute-bound parts (prefill, large batches) shorter than this; memory-bound decode is as estimated")


# the accelerator a serving estimate assumes when none is named: the most common data-centre GPU for LLM serving
DEFAULT_HARDWARE = "H100"


def resolve_chip(hardware: str | None, precision: str | None, tdp_w: float | None,
                 assumptions: list[Assumption]) -> tuple[Chip, str, Any]:
    """(the Chip the physics needs, the weight precision, the catalogue entry) for a hardware name (None:
    ``DEFAULT_HARDWARE``, said in the assumptions): the precision defaults to the chip's (bf16 where it has it); a
    precision whose maths the chip lacks is computed at the chip's default peak; ``tdp_w`` (W) overrides the board
    power and is required where none is published."""
    from ..data import find_accelerator

    if hardware is None:
        hardware = DEFAULT_HARDWARE
        assumptions.append(Assumption("hardware", f"{DEFAULT_HARDWARE} (default: none given)", "wattprint default",
                                      "give --hardware (hardware=...) for the chip the service runs on"))
    acc, _variants, notes = find_accelerator(hardware)
    assumptions.extend(notes)
    prec = str(precision or acc.default_precision()).strip().lower()
    if prec in FP4_NAMES:
        assumptions.append(_fp4_note(prec, acc))
        prec = "int4"
    if prec not in BYTES_PER_VALUE:
        raise WattprintError(f"unknown precision {precision!r}; use one of {', '.join(BYTES_PER_VALUE)} or "
                             f"{'/'.join(FP4_NAMES)}")
    if precision is None:
        assumptions.append(Assumption(
            "precision", f"{prec} (default for {acc.name})", f"the peak-FLOP/s formats of {acc.name} ({acc.source})",
            "wattprint's rule: bf16 where the chip has it, else fp16, else fp32"))
    compute_prec = COMPUTE_PRECISION[prec]
    default = acc.default_precision()
    # maths the chip lacks (fp8/bf16 on older chips), or 8-bit maths slower than its 16-bit maths: an engine keeps
    # the weights and dequantises them for the chip's default maths
    if compute_prec not in acc.peak_tflops or (
            BYTES_PER_VALUE[prec] < 2.0 and acc.peak_flops(compute_prec) < acc.peak_flops(default)):
        assumptions.append(_weight_only_note(prec, default, acc))
        compute_prec = default
    peak = acc.peak_flops(compute_prec)
    power = tdp_w if tdp_w is not None else acc.tdp_w
    if tdp_w is not None:
        assumptions.extend(check_board_power(tdp_w, acc))
    if power is None:
        raise WattprintError(f"{acc.no_tdp_reason()}; give its board power with --tdp-w (tdp_w=...)")
    if not acc.memory_bw_tbs:
        raise WattprintError(f"{acc.name} has no published memory bandwidth, so decode time cannot be modelled")
    chip = Chip(acc.name, float(power), float(acc.memory_bw_tbs), peak, acc.memory_gb, component_key(acc))
    assumptions.append(Assumption(
        "accelerator", f"{acc.name}: TDP {power:g} W{' (given)' if tdp_w is not None else ''}, "
        f"{acc.memory_bw_tbs:g} TB/s, {peak / 1e12:.4g} TFLOP/s dense {compute_prec}", acc.source,
        acc.tdp_caveat() if tdp_w is None else ""))
    return chip, prec, acc


# chip families on which published engines realise less of the spec than the shared achievable shares (measured on
# A100/H100) give -> the constant (inference_model.csv) that scales those shares there
FAMILY_EFFICIENCY = {"Blackwell": "serving_efficiency_blackwell"}


def family_efficiency(family: str) -> str | None:
    """The name of the sourced constant that scales the achievable bandwidth and FLOP/s shares on chips of
    ``family`` (a catalogue family such as "Blackwell (Grace Blackwell superchip)"), or None where the shared
    shares hold."""
    return next((name for prefix, name in FAMILY_EFFICIENCY.items() if family.startswith(prefix)), None)


# what a KV cache can be stored in (engines' names: vLLM --kv-cache-dtype fp8 / fp8_e4m3 / fp8_e5m2, TensorRT-LLM's
# KvCacheConfig dtype fp8 / int8); "auto" is the engines' default, the model's activation dtype
KV_CACHE_PRECISIONS = {"auto": None, "fp32": "fp32", "bf16": "bf16", "fp16": "fp16", "fp8": "fp8", "fp8_e4m3": "fp8",
                       "fp8_e5m2": "fp8", "int8": "int8"}
_KV_CACHE_FORMS = {normalise_name(name): kv for name, kv in KV_CACHE_PRECISIONS.items()}  # "FP8-E4M3" -> fp8


def kv_cache_precision(text: Any) -> str | None:
    """A KV cache precision as given ("fp8", "FP8_E4M3", "auto") -> its format, None for the engine's default;
    UnknownNameError for anything else."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise InputConflictError(f"{both_names('kv_cache_precision')} must be a name (auto, bf16, fp16, fp8, int8), "
                                 f"got {shown(text)}")
    if not text.strip():
        return None
    form = normalise_name(text)
    if form not in _KV_CACHE_FORMS:
        raise UnknownNameError("KV cache precision", text.strip(), list(KV_CACHE_PRECISIONS),
                               hint="the format the engine stores K and V in; auto (the default) = the model's "
                                    "activations, 16-bit")
    return _KV_CACHE_FORMS[form]


def stored_bytes(prec: str, kv_precision: str | None = None) -> tuple[float, float]:
    """(bytes per stored weight, bytes per stored K or V value): a KV cache is stored at ``kv_precision`` where given,
    else in the model's activation dtype, 16-bit whatever the weights (vLLM's and SGLang's kv_cache_dtype "auto";
    an FP8 cache is opt-in), 32-bit for an fp32 model."""
    weight_bytes = BYTES_PER_VALUE[prec]
    return weight_bytes, BYTES_PER_VALUE[kv_precision] if kv_precision else max(2.0, weight_bytes)
