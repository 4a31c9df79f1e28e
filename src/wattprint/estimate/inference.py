"""Inference (serving) estimator: energy per token, per request, per day and per year -> Footprint.

A physical roofline model of LLM serving on one replica (``count`` accelerators holding one copy of the model):

* **prefill** is compute-bound: ``2 x N_active`` FLOPs per input token at ``peak x compute_utilisation``;
* **decode** runs one step per output token for a batch of ``B`` sequences. Each step reads the weights once
  (shared by the batch; an MoE only the experts its batch routes to, and with 8- or 4-bit weights only part of the
  byte saving shows in the time, as measured for fused-MoE kernels) plus every sequence's KV cache, and does
  ``2 x N_active x B`` FLOPs, so
  ``t_step = max(bytes / achievable bandwidth, FLOPs / achievable FLOP/s, CPU launch floor)`` — memory-bound
  at small batch, compute-bound at large batch; an un-optimised ("eager") engine cannot go below the time its
  CPU needs to launch one step's kernels;
* **power** while busy goes from the memory-bound to the compute-bound fraction of TDP with the step's
  compute share; while the GPU waits on the CPU it draws its idle fraction;
* **host** (CPU, DRAM, NICs, fans) is charged as a sourced ratio of accelerator energy;
* optional **idle capacity** (``utilisation`` < 1): provisioned replicas that wait draw idle power;
* **memory**: the weights plus the batch's KV cache must fit in the replica (at full context for a static batch,
  at the mean context for continuous batching). A given batch that cannot is an error; the default batch range
  is cut to the largest batch that fits.

Energy then goes through the shared footprint model (PUE, grid intensity, embodied emissions amortised over the
chip-hours the service keeps busy or provisioned). Every constant comes from ``refdata/inference_model.csv``
(embedded as ``estimate/inference_model.csv``) with its source and range; the range of every output is the
min/max over all corners of the ranges of the inputs the user did not give.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ..errors import InputConflictError, WattprintError
from ..footprint import HOURS_PER_YEAR, Assumption, ComponentEnergy, Footprint
from ..quantities import Range
from .common import (
    check_board_power,
    check_count,
    check_finite,
    check_market_intensity,
    check_positive,
    check_share,
    component_key,
    embodied_for,
    resolve_site,
    too_large,
)

J_PER_KWH = 3.6e6
J_PER_WH = 3600.0
S_PER_DAY = 86400.0
DAYS_PER_YEAR = HOURS_PER_YEAR / 24.0
ENGINES = ("optimised", "eager")
ATTENTION = ("gqa", "mha")
# bytes per stored weight for each precision name users write (data-format definitions, not estimates)
BYTES_PER_WEIGHT = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
# which peak-FLOP/s column the matrix maths runs at; weight-only int8/int4 dequantise to 16-bit for the maths
COMPUTE_PRECISION = {"fp32": "fp32", "tf32": "tf32", "bf16": "bf16", "fp16": "fp16", "fp8": "fp8",
                     "int8": "int8", "int4": "bf16"}


# -- constants table -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Constant:
    """One sourced model constant: central value, low-high range, unit and source."""

    name: str
    value: float
    low: float
    high: float
    unit: str
    source: str
    year: int
    note: str

    @property
    def range(self) -> Range:
        return Range(self.value, self.low, self.high)

    def assumption(self, what: str, fmt: str = ".3g") -> Assumption:
        return Assumption(what, f"{self.value:{fmt}} ({self.low:{fmt}}–{self.high:{fmt}}) {self.unit}",
                          self.source, self.note)


@lru_cache(maxsize=1)
def constants() -> dict[str, Constant]:
    """The sourced constants of the inference model, by name (loaded lazily from the embedded CSV)."""
    text = resources.files(__package__).joinpath("inference_model.csv").read_text(encoding="utf-8")
    out: dict[str, Constant] = {}
    for row in csv.DictReader(text.splitlines()):
        out[row["name"]] = Constant(row["name"], float(row["value"]), float(row["low"]), float(row["high"]),
                                    row["unit"], row["source"], int(row["year"]), row["note"])
    return out


# -- the physics on plain floats -------------------------------------------------------------------
@dataclass(frozen=True)
class Chip:
    """What the model needs to know about one accelerator (from the catalogue or given)."""

    name: str
    tdp_w: float
    memory_bw_tbs: float
    peak_flops: float  # FLOP/s at the compute precision
    memory_gb: float | None
    component: str  # "gpu" or "accelerator"


def transformer_shape(active_params: float, aspect: float) -> tuple[float, float]:
    """(d_model, n_layers) of a dense transformer with ``active_params`` parameters: N = 12 L d^2, d = aspect L."""
    d_model = (aspect * active_params / 12.0) ** (1.0 / 3.0)
    return d_model, max(1.0, d_model / aspect)


def _window(p: Mapping[str, float]) -> tuple[float, float] | None:
    """(window length in tokens, share of layers using it), or None for a model without a sliding window."""
    window, share = p.get("sliding_window", 0.0), p.get("window_layer_share", 0.0)
    return (window, share) if window > 0 and share > 0 else None


def _attended(context: float, p: Mapping[str, float]) -> float:
    """Tokens of context a layer-averaged token attends to (and keeps K/V for): all ``context`` tokens in
    full-attention layers, at most ``sliding_window`` in the ``window_layer_share`` of layers that use one
    (Mistral 7B, Gemma 2/3, gpt-oss); ``context`` itself when the model has no window."""
    w = _window(p)
    if w is None:
        return context
    window, share = w
    return (1.0 - share) * context + share * min(context, window)


def _attended_over_prompt(l_in: float, p: Mapping[str, float]) -> float:
    """Sum over a prompt's positions of the tokens each attends to, layer-averaged: l_in^2 / 2 under causal full
    attention; a window W caps each position at W, W·l_in - W^2/2 once the prompt is longer than W."""
    full = l_in * l_in / 2.0
    w = _window(p)
    if w is None:
        return full
    window, share = w
    windowed = full if l_in <= window else window * l_in - window * window / 2.0
    return (1.0 - share) * full + share * windowed


def _kv_bytes_per_token(p: Mapping[str, float], attention: str, kv_bytes: float) -> float:
    """Bytes of K and V per token of context: 2 x layers x KV width (GQA's, or d_model for MHA) x bytes."""
    d_model, n_layers = transformer_shape(p["active_params"], p["layers_aspect_ratio"])
    kv_width = p["kv_dim_gqa"] if attention == "gqa" else d_model
    return 2.0 * n_layers * kv_width * kv_bytes


def serving_physics(p: Mapping[str, float], chip: Chip, count: int, engine: str, attention: str,
                    weight_bytes: float, kv_bytes: float) -> dict[str, float]:
    """Per-request energy (J) and time (s) of one replica for one set of parameter values.

    ``p`` holds: params, active_params, input_tokens, output_tokens, batch_size and the constants
    mem_bw_utilisation, compute_utilisation, eager_overhead_s_per_layer, power_fraction_memory_bound,
    power_fraction_compute_bound, idle_power_fraction, host_power_ratio, tensor_parallel_efficiency_per_doubling,
    layers_aspect_ratio, kv_dim_gqa, ``utilisation`` (share of provisioned time busy; 1 = no idle) and, for an MoE
    with sub-16-bit weights, moe_low_bit_saving_realised; optionally sliding_window and window_layer_share.
    """
    n_total, n_act = p["params"], p["active_params"]
    batch, l_in, l_out = p["batch_size"], p["input_tokens"], p["output_tokens"]
    d_model, n_layers = transformer_shape(n_act, p["layers_aspect_ratio"])
    kv_per_token = _kv_bytes_per_token(p, attention, kv_bytes)
    tp = p["tensor_parallel_efficiency_per_doubling"] ** math.log2(count)
    bandwidth = count * chip.memory_bw_tbs * 1e12 * p["mem_bw_utilisation"] * tp  # bytes/s
    flops = count * chip.peak_flops * p["compute_utilisation"] * tp  # FLOP/s
    if not (bandwidth > 0 and flops > 0):  # a replica so large that its efficiency underflows to nothing
        raise too_large()
    # MoE: a step reads only the weights its batch routes to. Each token uses a share r = active/total of them; with
    # routing taken as independent across the batch's tokens, a weight is read by at least one of them with
    # probability 1 - (1 - r)^batch: r at batch 1, all of them once the batch is large (dense: r = 1, always all).
    # Taking batch x active instead counts the parts every token shares (attention, shared experts) once per token.
    read_bytes = weight_bytes
    if n_act < n_total and weight_bytes < 2.0:  # low-bit MoE: the expert kernels realise part of the byte saving
        read_bytes = 2.0 - p.get("moe_low_bit_saving_realised", 1.0) * (2.0 - weight_bytes)
    weights_read = n_total * (1.0 - (1.0 - n_act / n_total) ** batch) * read_bytes
    context = _attended(l_in + l_out / 2.0, p)  # mean context during decode (capped by a sliding window)
    t_mem = (weights_read + batch * context * kv_per_token) / bandwidth
    # attention's own FLOPs (QK^T and AV over the context: 4·L·d per token of context per generated token; PaLM,
    # Chowdhery et al. 2022, App. B) matter once the context is long; the weights' matmuls are 2·N per token
    t_comp = batch * (2.0 * n_act + 4.0 * n_layers * d_model * context) / flops
    if not (0 < t_mem < math.inf and 0 < t_comp < math.inf):  # magnitudes beyond the floating-point range
        raise too_large()
    t_floor = n_layers * p["eager_overhead_s_per_layer"] if engine == "eager" else 0.0
    t_busy = max(t_mem, t_comp)
    t_step = max(t_busy, t_floor)
    compute_share = min(1.0, t_comp / t_mem)
    f_idle = p["idle_power_fraction"]
    f_busy = p["power_fraction_memory_bound"] + (
        p["power_fraction_compute_bound"] - p["power_fraction_memory_bound"]) * compute_share
    p_decode = chip.tdp_w * (f_idle + (f_busy - f_idle) * t_busy / t_step)  # W per chip, averaged over a step
    # prefill: compute-bound, at the compute-bound power fraction
    # causal attention over the prompt sums 4·L·d·position over its positions: 2·L·d·l_in², beside the weights'
    # 2·N·l_in (a 100k-token prompt to an 8B model more than doubles its prefill); a sliding window caps it
    prefill_flops = 2.0 * n_act * l_in + 4.0 * n_layers * d_model * _attended_over_prompt(l_in, p)
    t_prefill = prefill_flops / flops + (t_floor if engine == "eager" else 0.0)
    p_prefill = chip.tdp_w * p["power_fraction_compute_bound"]
    e_decode = count * p_decode * t_step * l_out / batch  # J per request (its share of the batch's steps)
    e_prefill = count * p_prefill * t_prefill
    busy_replica_s = t_prefill + t_step * l_out / batch  # replica-seconds per request
    idle_replica_s = busy_replica_s * (1.0 / p["utilisation"] - 1.0)
    e_idle = count * chip.tdp_w * f_idle * idle_replica_s
    e_acc = e_prefill + e_decode + e_idle
    return {
        "accelerator_j": e_acc,
        "host_j": e_acc * p["host_power_ratio"],
        "prefill_j": e_prefill,
        "decode_j": e_decode,
        "idle_j": e_idle,
        "chip_s": count * (busy_replica_s + idle_replica_s),
        "latency_s": t_prefill + t_step * l_out,
        "step_s": t_step,
        "t_mem_s": t_mem,
        "t_comp_s": t_comp,
        "t_floor_s": t_floor,
        "tokens_per_s": batch / t_step,
        "kv_bytes_per_token": kv_per_token,
    }


def _over_corners(central: Mapping[str, float], ranges: Mapping[str, tuple[float, float]],
                  fn: Callable[[Mapping[str, float]], dict[str, float]]) -> dict[str, Range]:
    """Evaluate ``fn`` at the central values and at every corner of ``ranges``; Range = (central, min, max)."""
    mid = fn(central)
    lo = dict(mid)
    hi = dict(mid)
    names = list(ranges)
    for corner in itertools.product((0, 1), repeat=len(names)):
        point = dict(central)
        for name, side in zip(names, corner, strict=True):
            point[name] = ranges[name][side]
        res = fn(point)
        for k, v in res.items():
            lo[k] = min(lo[k], v)
            hi[k] = max(hi[k], v)
    if not all(math.isfinite(x) for d in (mid, lo, hi) for x in d.values()):
        raise too_large()
    return {k: Range(mid[k], lo[k], hi[k]) for k in mid}


# -- inputs ----------------------------------------------------------------------------------------
def _held_output_share(engine: str) -> float:
    """Share of the output a sequence's KV cache holds on average while a batch runs: all of it in a static batch
    (``eager``: the sequences reach their full context together), half with continuous batching (staggered)."""
    return 1.0 if engine == "eager" else 0.5


def _held_tokens(p: Mapping[str, float], engine: str) -> float:
    """Tokens of context whose K/V a sequence holds on average while its batch runs (a sliding window caps them)."""
    return _attended(p["input_tokens"] + _held_output_share(engine) * p["output_tokens"], p)


def _cap_assumed_lengths(central: dict[str, float], ranges: dict[str, tuple[float, float]], batch: float,
                         engine: str, kv_token_gb: float, free_gb: float, assumptions: list[Assumption]) -> bool:
    """A given batch that does not fit only because of an *assumed* prompt or output length: shorten the assumed
    length (input first, then output) to what lets the batch fit, and say so. False if no assumed length can."""
    room = free_gb / (batch * kv_token_gb)  # tokens of held context per sequence the memory allows
    for name in ("input_tokens", "output_tokens"):
        if name not in ranges:
            continue  # given by the user: not ours to change
        if _held_tokens({**central, name: 1.0}, engine) > room:
            continue
        lo, hi = 1, max(1, math.floor(central[name]))  # the largest length that fits (held grows with it)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if _held_tokens({**central, name: float(mid)}, engine) <= room else (lo, mid - 1)
        most = lo
        low, high = ranges[name]
        central[name] = min(central[name], most)
        ranges[name] = (min(low, most), min(high, most))
        what = "input tokens per request" if name == "input_tokens" else "output tokens per request"
        assumptions.append(Assumption(
            f"{what} capped by memory", f"at most {most}",
            note=f"the given batch of {batch:g} sequences fits the KV cache only up to this assumed length; "
                 "give --input-tokens / --output-tokens to set them"))
        return True
    return False


def _fit_batch_to_memory(central: dict[str, float], ranges: dict[str, tuple[float, float]], given: bool,
                         chip: Chip, count: int, engine: str, attention: str, weight_bytes: float, kv_bytes: float,
                         assumptions: list[Assumption]) -> None:
    """Weights plus the batch's KV cache must fit in the replica's memory (central model shape, the whole memory
    counted): a given batch that cannot is an error; the default batch range is cut to the largest batch that
    fits (a replica cannot hold more sequences, however busy it is).

    The KV cache a batch holds: a static batch (``eager``: all sequences start together) reaches the full
    context (input + output) in every sequence at once; continuous batching (``optimised``) keeps sequences at
    staggered stages, so at steady state they hold the mean context, input + output / 2. One sequence must fit
    at its full context either way. The KV bytes per token come from an assumed model shape: a given batch is
    refused only if it cannot fit even at the small end of that assumption's range (then it is said).
    """
    if chip.memory_gb is None:
        return
    full = _attended(central["input_tokens"] + central["output_tokens"], central)
    held = _held_tokens(central, engine)
    kv_token_gb = _kv_bytes_per_token(central, attention, kv_bytes) / 1e9
    # the smallest KV cache the assumed shape ranges allow: fewer, wider layers and the narrowest GQA width
    smallest = dict(central)
    for name, side in (("layers_aspect_ratio", 1), ("kv_dim_gqa", 0)):
        if name in ranges:
            smallest[name] = ranges[name][side]
    kv_small_gb = _kv_bytes_per_token(smallest, attention, kv_bytes) / 1e9
    weights_gb = central["params"] * weight_bytes / 1e9
    capacity_gb = count * chip.memory_gb
    if weights_gb + full * kv_small_gb > capacity_gb:
        raise InputConflictError(
            f"one sequence of {full:g} tokens needs ~{full * kv_small_gb:.3g} GB or more of KV cache beside "
            f"{weights_gb:.3g} GB of weights, more than the {capacity_gb:.3g} GB of {count} x {chip.name}; "
            "shorten the context or raise --count")
    most = max(1, math.floor((capacity_gb - weights_gb) / (held * kv_token_gb)))
    how = "at full context (static batch)" if engine == "eager" else "at the mean context, input + output/2 " \
        "(continuous batching)"
    if given:
        batch = central["batch_size"]
        if batch <= most:
            return
        free_gb = capacity_gb - weights_gb
        if _cap_assumed_lengths(central, ranges, batch, engine, kv_token_gb, free_gb, assumptions):
            return
        # the assumed shape's small end: the batch as given, else with shortened assumed lengths
        if batch * held * kv_small_gb <= free_gb or _cap_assumed_lengths(central, ranges, batch, engine,
                                                                         kv_small_gb, free_gb, assumptions):
            assumptions.append(Assumption(
                "KV cache per token", f"at most {kv_small_gb * 1e6:.3g} MB",
                note=f"the given batch of {batch:g} sequences fits only if the model's KV cache is at the small end "
                     f"of the assumed shape's range (central ~{kv_token_gb * 1e6:.3g} MB per token)"))
            return
        raise InputConflictError(
            f"batch {batch:g} x {held:g} tokens of context {how} needs ~{batch * held * kv_small_gb:.3g} GB or more "
            f"of KV cache beside {weights_gb:.3g} GB of weights, more than the {capacity_gb:.3g} GB of {count} x "
            f"{chip.name}; lower --batch-size or raise --count")
    low, high = ranges["batch_size"]
    if high <= most:
        return
    central["batch_size"] = min(central["batch_size"], most)
    ranges["batch_size"] = (min(low, most), most)
    assumptions.append(Assumption(
        "batch size capped by memory", f"at most {most} sequences",
        note=f"{weights_gb:.3g} GB of weights and ~{held * kv_token_gb:.3g} GB of KV cache per sequence {how} "
             f"in {count} x {chip.memory_gb:g} GB; give --batch-size to set it"))


def _resolve_chip(hardware: str, precision: str | None, tdp_w: float | None,
                  assumptions: list[Assumption]) -> tuple[Chip, str, Any]:
    from ..data import find_accelerator

    acc, _variants, notes = find_accelerator(hardware)
    assumptions.extend(notes)
    prec = str(precision or acc.default_precision()).lower()
    if prec not in BYTES_PER_WEIGHT:
        raise WattprintError(f"unknown precision {precision!r}; use one of {', '.join(BYTES_PER_WEIGHT)}")
    if precision is None:
        assumptions.append(Assumption("precision", f"{prec} (default for {acc.name})",
                                      note="bf16 where the chip has it, else fp16, else fp32"))
    compute_prec = COMPUTE_PRECISION[prec]
    if compute_prec not in acc.peak_tflops:  # e.g. int4/bf16 maths on a chip without bf16 -> its default
        compute_prec = acc.default_precision()
    peak = acc.peak_flops(compute_prec)
    power = tdp_w if tdp_w is not None else acc.tdp_w
    if tdp_w is not None:
        assumptions.extend(check_board_power(tdp_w, acc))
    if power is None:
        raise WattprintError(f"{acc.name} has no published TDP; give its board power with --tdp-w (tdp_w=...)")
    if not acc.memory_bw_tbs:
        raise WattprintError(f"{acc.name} has no published memory bandwidth, so decode time cannot be modelled")
    chip = Chip(acc.name, float(power), float(acc.memory_bw_tbs), peak, acc.memory_gb, component_key(acc))
    assumptions.append(Assumption(
        "accelerator", f"{acc.name}: TDP {power:g} W{' (given)' if tdp_w is not None else ''}, "
        f"{acc.memory_bw_tbs:g} TB/s, {peak / 1e12:.4g} TFLOP/s dense {compute_prec}", acc.source))
    return chip, prec, acc


def _replica_size(chip: Chip, params: float, weight_bytes: float, count: int | None,
                  assumptions: list[Assumption]) -> int:
    """Accelerators per replica: the user's count, checked against memory, or the smallest power of 2 that fits."""
    need_gb = params * weight_bytes / 1e9
    if chip.memory_gb is None:
        return count or 1
    if count is not None:
        if need_gb > count * chip.memory_gb:
            raise InputConflictError(
                f"the weights need {need_gb:.4g} GB but {count} x {chip.name} hold {count * chip.memory_gb:.4g} GB; "
                "raise --count or lower --precision")
        return count
    n = 1
    # leave room for KV cache and activations: weights may fill at most this share of memory (vLLM's default
    # gpu_memory_utilization is 0.9 of which the KV cache needs a good part) -- a sizing rule, not an estimate
    while need_gb > 0.8 * n * chip.memory_gb:
        n *= 2
    assumptions.append(Assumption("accelerators per replica", f"{n} (smallest power of 2 whose memory holds the "
                                  f"{need_gb:.4g} GB of weights with 20% to spare)", note="give --count to set it"))
    return n


# -- public API ------------------------------------------------------------------------------------
def estimate_inference(
    params: float,
    *,
    active_params: float | None = None,
    input_tokens: float | None = None,
    output_tokens: float | None = None,
    requests_per_day: float | None = None,
    tokens_per_day: float | None = None,
    days: float | None = None,
    hardware: str = "H100",
    count: int | None = None,
    batch_size: float | None = None,
    precision: str | None = None,
    engine: str = "optimised",
    attention: str = "gqa",
    sliding_window: int | None = None,
    window_layer_share: float | None = None,
    utilisation: float | None = None,
    tdp_w: float | None = None,
    pue: float | str | Range | None = None,
    location: str | None = None,
    year: int | None = None,
    intensity: float | None = None,
    mix: str | dict[str, float] | None = None,
    market_intensity: float | None = None,
    training_co2e_kg: float | Range | None = None,
) -> Footprint:
    """Estimate the footprint of serving an LLM.

    Args:
        params: total parameters (count); ``active_params``: per-token active parameters of an MoE (default: all).
        input_tokens / output_tokens: tokens per request (prompt / generated); defaults are sourced ranges.
        requests_per_day or tokens_per_day (input + output tokens): load. With one of them the footprint covers
            ``days`` days of serving (default one year); without, it covers one request.
        hardware, count: accelerator name and accelerators per replica (default: smallest that holds the weights).
        batch_size: sequences decoded together per replica (continuous-batching concurrency).
        precision: weight format (fp32, bf16, fp16, fp8, int8, int4); engine: "optimised" (vLLM, TGI,
            TensorRT-LLM, compiled PyTorch) or "eager" (plain Hugging Face transformers / PyTorch).
        attention: "gqa" (grouped-query, most models since 2023) or "mha" (Llama 1/2 7B-13B, older models).
        sliding_window, window_layer_share: a model whose layers (all, or this share of them) attend only to the
            last ``sliding_window`` tokens keeps K/V and attention FLOPs for at most that many there: Mistral 7B
            v0.1 (4096, all; Jiang et al. 2023), Gemma 2 (4096, every other layer; Gemma Team 2024), Gemma 3
            (1024, 5 of 6; Google Developers Blog, "Gemma explained: What's new in Gemma 3", 2025), gpt-oss (128,
            alternate layers; gpt-oss model card, 2025). Default: none.
        utilisation: share of provisioned serving time that is busy (0-1]; the rest is idle capacity at idle
            power. Default: no idle capacity counted.
        tdp_w: board power (W) for chips without a published TDP, or to override it.
        pue, location, year, intensity (gCO2e/kWh), mix ("coal=60,gas=40"): the grid and data centre.
        training_co2e_kg: a training footprint to compare with (adds ``breakeven_requests``).

    Returns:
        Footprint (kind="inference") whose ``details`` hold energy_per_1k_tokens_wh (facility energy per 1000
        tokens served, input + output), energy_per_1k_output_tokens_wh (per 1000 generated tokens, the
        convention of per-output-token leaderboards), energy_per_request_wh, it_energy_per_request_wh,
        gpu_energy_per_output_token_j, co2e_per_request_g and, with a load, daily and yearly figures (all Ranges).
    """
    assumptions: list[Assumption] = []
    c = constants()
    n_total = check_count("params", params)
    if n_total is None:
        raise InputConflictError("params (the model's total parameters) is required")
    n_act = check_count("active_params", active_params) or n_total
    if n_act > n_total:
        raise InputConflictError(f"active_params ({n_act:g}) cannot exceed params ({n_total:g})")
    engine = str(engine or "optimised").lower().replace("optimized", "optimised")  # None: the default
    attention = str(attention or "gqa").lower()
    if engine not in ENGINES:
        raise WattprintError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if attention not in ATTENTION:
        raise WattprintError(f"unknown attention {attention!r}; use one of {', '.join(ATTENTION)}")
    count_i = check_positive("count", count, integer=True)
    if requests_per_day is not None and tokens_per_day is not None:
        raise InputConflictError("give either requests_per_day or tokens_per_day, not both")
    if days is not None and requests_per_day is None and tokens_per_day is None:
        raise InputConflictError("days of serving need a load (requests or tokens per day); without one the "
                                 "footprint covers one request")
    days = check_positive("days", days) or DAYS_PER_YEAR  # None: the default year
    utilisation = check_share("utilisation", utilisation)

    chip, prec, acc = _resolve_chip(hardware, precision, check_positive("tdp_w", tdp_w), assumptions)
    weight_bytes = BYTES_PER_WEIGHT[prec]
    kv_bytes = 1.0 if prec == "fp8" else max(2.0, weight_bytes)  # KV cache stays 16-bit unless fp8 serving
    n_chips = _replica_size(chip, n_total, weight_bytes, int(count_i) if count_i else None, assumptions)

    window = check_positive("sliding_window (tokens)", sliding_window, integer=True)
    given_share = check_share("window_layer_share", window_layer_share)
    if given_share is not None and window is None:
        raise InputConflictError("window_layer_share needs sliding_window (the window's length in tokens)")
    share = given_share if given_share is not None else 1.0
    central: dict[str, float] = {"params": n_total, "active_params": n_act,
                                 "utilisation": utilisation or 1.0,
                                 "sliding_window": window or 0.0, "window_layer_share": share if window else 0.0}
    if window:
        assumptions.append(Assumption(
            "sliding-window attention", f"{window:g} tokens in {share:.3g} of the layers", "given by the user",
            "those layers keep K/V for, and attend to, at most the last window of tokens"))
    ranges: dict[str, tuple[float, float]] = {}

    def take(name: str, given: float | None, what: str, const: str | None = None, integer: bool = False) -> None:
        value = check_positive(what, given, integer=integer)
        if value is not None:
            central[name] = value
            return
        k = c[const or name]
        central[name] = k.value
        ranges[name] = (k.low, k.high)
        assumptions.append(k.assumption(what))

    take("input_tokens", input_tokens, "input tokens per request", "default_input_tokens")
    take("output_tokens", output_tokens, "output tokens per request", "default_output_tokens")
    take("batch_size", batch_size, "batch size (concurrent sequences per replica)", "default_batch_size",
         integer=True)
    for name, what in (("mem_bw_utilisation", "achievable memory-bandwidth utilisation"),
                       ("compute_utilisation", "achievable compute utilisation"),
                       ("power_fraction_memory_bound", "power while memory-bound (fraction of TDP)"),
                       ("power_fraction_compute_bound", "power while compute-bound (fraction of TDP)"),
                       ("idle_power_fraction", "power while waiting (fraction of TDP)"),
                       ("host_power_ratio", "host energy / accelerator energy"),
                       ("layers_aspect_ratio", "d_model / n_layers (model shape)")):
        take(name, None, what)
    if n_act < n_total and weight_bytes < 2.0:
        take("moe_low_bit_saving_realised", None, f"share of the {prec} byte saving an MoE's expert kernels realise")
    if n_chips > 1:
        take("tensor_parallel_efficiency_per_doubling", None, "tensor-parallel efficiency per doubling of GPUs")
    else:
        central["tensor_parallel_efficiency_per_doubling"] = 1.0
    if engine == "eager":
        take("eager_overhead_s_per_layer", None, "CPU launch floor per layer and step (eager engine)")
    else:
        central["eager_overhead_s_per_layer"] = 0.0
    if attention == "gqa":
        take("kv_dim_gqa", None, "KV width per layer (grouped-query attention)")
    else:
        central["kv_dim_gqa"] = 0.0
    assumptions.append(Assumption("attention", attention, note="KV cache size per token; mha for Llama 1/2 7B-13B"))
    if engine == "eager":
        engine_source, engine_note = "", "no CUDA graphs: decode steps bounded by CPU kernel launches"
    else:
        engine_source = ("vLLM team, 'vLLM v0.6.0: 2.7x Throughput Improvement and 5x Latency Reduction' "
                         "(blog, Sept 2024)")
        engine_note = ("a current continuous-batching engine (vLLM >= 0.6, SGLang, TensorRT-LLM) with the GPU kept "
                       "busy; older ones (vLLM < 0.6) spent most of each decode step on the CPU, so the GPU ran longer "
                       "per token and used more energy than this")
    assumptions.append(Assumption("serving engine", engine, engine_source, engine_note))
    if utilisation is not None:
        assumptions.append(Assumption("utilisation of provisioned capacity", f"{utilisation:g}",
                                      "given by the user", "idle share draws idle power and counts for embodied"))

    _fit_batch_to_memory(central, ranges, batch_size is not None, chip, n_chips, engine, attention, weight_bytes,
                         kv_bytes, assumptions)

    def run(p: Mapping[str, float]) -> dict[str, float]:
        return serving_physics(p, chip, n_chips, engine, attention, weight_bytes, kv_bytes)

    per_req = _over_corners(central, ranges, run)
    mid = run(central)
    regime = ("CPU-overhead-bound" if mid["t_floor_s"] > max(mid["t_mem_s"], mid["t_comp_s"])
              else "compute-bound" if mid["t_comp_s"] > mid["t_mem_s"] else "memory-bandwidth-bound")

    # -- how many requests the footprint covers ------------------------------------------------------
    tokens_per_req = central["input_tokens"] + central["output_tokens"]
    if tokens_per_day is not None:
        check_positive("tokens_per_day", tokens_per_day)
        rpd: float | None = float(tokens_per_day) / tokens_per_req
    else:
        rpd = check_positive("requests_per_day", requests_per_day)
    n_requests = rpd * float(days) if rpd is not None else 1.0
    if not math.isfinite(n_requests):
        raise InputConflictError(f"requests over the period overflow ({rpd:g} per day x {days:g} days); "
                                 "check the magnitudes")

    acc_kwh = per_req["accelerator_j"] * n_requests / J_PER_KWH
    host_kwh = per_req["host_j"] * n_requests / J_PER_KWH
    chip_hours = per_req["chip_s"] * n_requests / 3600.0
    inten, pue_r, site_notes = resolve_site(location, year, pue, intensity, mix)
    assumptions.extend(site_notes)
    embodied, emb_notes = embodied_for(acc, 1, chip_hours)  # chip-hours already count every accelerator
    assumptions.extend(emb_notes)
    assumptions.append(Assumption("host energy", "charged as the host ratio x accelerator energy, in 'other'",
                                  c["host_power_ratio"].source))

    details: dict[str, Any] = {}
    wall_h = Range.exact(float(days) * 24.0) if rpd is not None else per_req["latency_s"] / 3600.0
    fp = Footprint(
        energy_by_component={chip.component: ComponentEnergy(acc_kwh, "modelled"),
                             "other": ComponentEnergy(host_kwh, "modelled")},
        pue=pue_r, intensity=inten, embodied_co2e_kg=embodied, assumptions=assumptions, kind="inference",
        chip_hours=chip_hours, wall_time_h=wall_h, details=details,
        market_intensity_g_per_kwh=check_market_intensity(market_intensity))

    it_req_j = per_req["accelerator_j"] + per_req["host_j"]
    fac_req_j = it_req_j * pue_r
    co2e_req_g = fp.total_co2e_kg * 1000.0 / n_requests
    out_tok = central["output_tokens"]
    details.update({
        "hardware": chip.name,
        "accelerators_per_replica": n_chips,
        "precision": prec,
        "engine": engine,
        "regime": regime,
        "period": f"{days:g} days at {rpd:.6g} requests/day" if rpd is not None else "one request",
        "requests": n_requests,
        "energy_per_1k_tokens_wh": fac_req_j / J_PER_WH * (1000.0 / tokens_per_req),  # tokens served: input + output
        "energy_per_1k_output_tokens_wh": fac_req_j / J_PER_WH * (1000.0 / out_tok),  # per generated token
        "energy_per_request_wh": fac_req_j / J_PER_WH,
        "it_energy_per_request_wh": it_req_j / J_PER_WH,
        "gpu_energy_per_request_wh": per_req["accelerator_j"] / J_PER_WH,
        "gpu_energy_per_output_token_j": per_req["accelerator_j"] / out_tok,
        "co2e_per_request_g": co2e_req_g,
        "decode_step_ms": per_req["step_s"] * 1000.0,
        "latency_per_request_s": per_req["latency_s"],
        "throughput_tokens_per_s_per_replica": per_req["tokens_per_s"],
    })
    if rpd is not None:
        details["requests_per_day"] = rpd
        details["energy_per_day_kwh"] = fac_req_j * rpd / J_PER_KWH
        details["energy_per_year_kwh"] = fac_req_j * rpd * DAYS_PER_YEAR / J_PER_KWH
        details["co2e_per_day_kg"] = co2e_req_g * rpd / 1000.0
        details["co2e_per_year_kg"] = co2e_req_g * rpd * DAYS_PER_YEAR / 1000.0
        details["replicas_needed"] = per_req["chip_s"] * rpd / S_PER_DAY / n_chips
    if training_co2e_kg is not None:
        train = training_co2e_kg if isinstance(training_co2e_kg, Range) else Range.exact(
            check_positive("training_co2e_kg", training_co2e_kg) or 0.0)
        details["training_co2e_kg"] = train
        details["breakeven_requests"] = _breakeven(train, co2e_req_g)
        if rpd is not None:
            details["breakeven_days"] = details["breakeven_requests"] / rpd
    return check_finite(fp)


def _breakeven(training_kg: Range, per_request_g: Range) -> Range:
    return training_kg * 1000.0 / per_request_g


def breakeven_requests(training: Footprint, inference: Footprint) -> Range:
    """After how many requests serving has emitted as much CO2e (operational + embodied) as training did."""
    per_req = inference.details.get("co2e_per_request_g")
    if not isinstance(per_req, Range):
        raise WattprintError("the inference footprint has no per-request CO2e; make it with estimate_inference()")
    return _breakeven(training.total_co2e_kg, per_req)
