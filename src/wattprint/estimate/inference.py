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
    shape_bytes = 2.0 * n_layers * kv_width * kv_bytes
    # a given batch that fits only with a smaller cache than the assumed shape's caps it (_fit_batch_to_memory)
    return min(shape_bytes, p.get("kv_bytes_per_token_max", math.inf))


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


# -- load: concurrency and provisioned replicas ------------------------------------------------------
# Reporting thresholds (not physical constants): below this busy share of one replica the idle time a dedicated
# replica would add is stated; the load-capped batch is solved to this relative tolerance in at most so many steps.
IDLE_NOTE_BELOW_REPLICAS = 0.5
BATCH_FIXED_POINT_TOL = 1e-6
BATCH_FIXED_POINT_STEPS = 60


@dataclass(frozen=True)
class _Load:
    """The serving load as given: requests or tokens (input + output) per day, or neither (one request)."""

    requests_per_day: float | None
    tokens_per_day: float | None
    batch_assumed: bool
    dedicated: bool

    def per_day(self, p: Mapping[str, float]) -> float | None:
        """Requests per day at this point (tokens per day / this point's input + output tokens per request)."""
        if self.tokens_per_day is not None:
            return self.tokens_per_day / (p["input_tokens"] + p["output_tokens"])
        return self.requests_per_day


def _batch_for_load(p: Mapping[str, float], rpd: float, physics: Callable[[Mapping[str, float]], dict[str, float]],
                    count: int) -> float:
    """Concurrent sequences the load sustains on a replica (Little's law: arrival rate (1/s) x time a request
    spends in the system (s)), at least 1 and at most the assumed batch ``B = p["batch_size"]``. A load that keeps
    at least one replica busy at B (replicas needed >= 1) fills its replicas' batches: B. Otherwise one replica
    serves it all and, since the time per request depends on the batch, b = min(B, max(1, rate x latency(b))) is
    solved by iteration from B (latency grows with b, so the steps fall monotonically to the fixed point)."""
    cap, rate = p["batch_size"], rpd / S_PER_DAY

    def at(b: float) -> dict[str, float]:
        return physics({**p, "batch_size": b, "utilisation": 1.0})

    r = at(cap)
    if rate * r["chip_s"] / count >= 1.0:  # busy replicas the load needs at the assumed batch
        return cap
    b = cap
    for _ in range(BATCH_FIXED_POINT_STEPS):
        nb = min(cap, max(1.0, rate * r["latency_s"]))
        if abs(nb - b) <= BATCH_FIXED_POINT_TOL * b:
            return nb
        b = nb
        r = at(b)
    return b


def _serve_point(p: Mapping[str, float], physics: Callable[[Mapping[str, float]], dict[str, float]], load: _Load,
                 count: int, tdp_w: float) -> dict[str, float]:
    """serving_physics at one point, with what depends on its own values: the batch the load sustains (assumed
    batch), the replicas provisioned (dedicated), per-token figures (J per token, this point's lengths) and, with
    a load, per-day energies (J/day), chip-seconds per day and replica counts."""
    point = dict(p)
    rpd = load.per_day(point)
    if rpd is not None and load.batch_assumed:
        point["batch_size"] = _batch_for_load(point, rpd, physics, count)
    busy = physics({**point, "utilisation": 1.0})
    out: dict[str, float] = {}
    if rpd is not None:
        replicas = busy["chip_s"] * rpd / S_PER_DAY / count  # busy replicas (utilisation 1)
        if not math.isfinite(replicas):
            raise too_large()
        provisioned = max(1.0, math.ceil(replicas))
        if load.dedicated:
            point["utilisation"] = replicas / provisioned
        # idle accelerator energy (J/day) of the ceil(replicas) replicas left idle between requests
        idle_day = count * tdp_w * p["idle_power_fraction"] * (provisioned - replicas) * S_PER_DAY
        out.update({"replicas_busy": replicas, "replicas_provisioned": replicas / point["utilisation"],
                    "dedicated_idle_j_day": idle_day * (1.0 + p["host_power_ratio"])})
    res = busy if point["utilisation"] == 1.0 else physics(point)
    out.update(res)
    it_j = res["accelerator_j"] + res["host_j"]
    out.update({"batch_size": point["batch_size"],
                "it_j_per_token": it_j / (p["input_tokens"] + p["output_tokens"]),
                "it_j_per_output_token": it_j / p["output_tokens"],
                "accelerator_j_per_output_token": res["accelerator_j"] / p["output_tokens"]})
    if rpd is not None:
        out.update({"requests_per_day": rpd, "accelerator_j_day": res["accelerator_j"] * rpd,
                    "host_j_day": res["host_j"] * rpd, "chip_s_day": res["chip_s"] * rpd})
    return out


def _load_notes(per_req: Mapping[str, Range], central: Mapping[str, float], load: _Load, c: Mapping[str, Constant],
                count: int, chip_name: str) -> list[Assumption]:
    """Assumptions the load adds: the batch it caps, dedicated replicas, or the idle time left uncounted."""
    notes: list[Assumption] = []
    b = per_req["batch_size"]
    if load.batch_assumed and b.low < central["batch_size"] and b.value < central["batch_size"]:
        notes.append(Assumption(
            "batch size capped by load", f"{b.value:.3g} ({b.low:.3g}–{b.high:.3g}) concurrent sequences per replica",
            "Little's law (J. D. C. Little, Operations Research 9(3), 1961): mean requests in a system = arrival "
            "rate x mean time each spends in it",
            "the requests per day, times the time a request takes at that batch, keep no more sequences in flight "
            "(at least one); give --batch-size to set it"))
    busy = per_req["replicas_busy"]
    if load.dedicated:
        prov = per_req["replicas_provisioned"]
        notes.append(Assumption(
            "dedicated replicas", f"{prov.value:.3g} ({prov.low:.3g}–{prov.high:.3g}) of {count} x {chip_name}, all "
            f"period; busy share {busy.value / prov.value:.2g}", "given by the user (dedicated)",
            "ceil(replicas needed) provisioned the whole time; their idle time draws idle power and counts for "
            "embodied emissions"))
    elif central["utilisation"] == 1.0 and busy.value < IDLE_NOTE_BELOW_REPLICAS:
        idle_kwh = per_req["dedicated_idle_j_day"] * (DAYS_PER_YEAR / J_PER_KWH)
        notes.append(Assumption(
            "idle capacity not counted", f"the load keeps {busy.value:.2g} of one replica busy "
            f"({busy.low:.2g}–{busy.high:.2g})", c["idle_power_fraction"].source,
            f"only busy time is charged (a shared service); one dedicated replica ({count} x {chip_name}) kept up all "
            f"year would add ~{idle_kwh.value:.3g} ({idle_kwh.low:.3g}–{idle_kwh.high:.3g}) kWh/year of idle energy "
            "(accelerators + host, before PUE); count it with dedicated=True (--dedicated) or --utilisation"))
    return notes


# -- inputs ----------------------------------------------------------------------------------------
def _held_output_share(engine: str) -> float:
    """Share of the output a sequence's KV cache holds on average while a batch runs: all of it in a static batch
    (``eager``: the sequences reach their full context together), half with continuous batching (staggered)."""
    return 1.0 if engine == "eager" else 0.5


def _held_tokens(p: Mapping[str, float], engine: str) -> float:
    """Tokens of context whose K/V a sequence holds on average while its batch runs (a sliding window caps them)."""
    return _attended(p["input_tokens"] + _held_output_share(engine) * p["output_tokens"], p)


def _kv_need_tokens(p: Mapping[str, float], batch: float, engine: str) -> float:
    """Tokens of K/V a replica must hold for ``batch`` sequences: the batch at its held context, and at least one
    sequence at its full context (input + output, a sliding window capping it)."""
    full = _attended(p["input_tokens"] + p["output_tokens"], p)
    return max(batch * _held_tokens(p, engine), full)


def _longest_that_fits(p: Mapping[str, float], name: str, floor: float, batch: float, engine: str,
                       kv_token_gb: float, free_gb: float) -> float:
    """The largest whole ``name`` (tokens) in [floor, current] whose batch fits ``free_gb`` at ``kv_token_gb`` GB
    of K/V per token (the held context grows with it, so a bisection), given that ``floor`` itself fits."""
    lo, hi = math.ceil(floor), max(math.ceil(floor), math.floor(p[name]))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        ok = _kv_need_tokens({**p, name: float(mid)}, batch, engine) * kv_token_gb <= free_gb * (1.0 + 1e-9)
        lo, hi = (mid, hi) if ok else (lo, mid - 1)
    return float(lo)


def _shrink_to_fit(central: dict[str, float], ranges: dict[str, tuple[float, float]], batch: float, engine: str,
                   kv_token_gb: float, kv_small_gb: float, free_gb: float, free_most_gb: float) -> list[str] | None:
    """Make ``batch`` sequences fit ``free_gb`` (GB) by moving assumed values, one lever at a time, each only as far
    as needed: the assumed input, then output, length down to the low end of its sourced range; the KV cache per
    token (GB) down to the small end of the assumed model shape's range; the memory the engine fills from
    ``free_gb`` up to ``free_most_gb`` (GB beside the weights at the default and the highest memory share); then the
    assumed lengths below their ranges, down to one token. Given values are never moved. Every step keeps the cache
    as full as the memory allows, so energy per token falls steadily as the batch grows. Returns the levers moved
    (None: no fit)."""
    kv = kv_token_gb
    levers: list[tuple[str, float]] = [(n, ranges[n][0]) for n in ("input_tokens", "output_tokens") if n in ranges]
    levers += [("kv", kv_small_gb), ("memory", free_most_gb)]
    levers += [(n, 1.0) for n in ("input_tokens", "output_tokens") if n in ranges]
    moved: list[str] = []
    room = free_gb

    def fits(p: Mapping[str, float], kv_gb: float) -> bool:
        return _kv_need_tokens(p, batch, engine) * kv_gb <= room * (1.0 + 1e-9)

    for name, floor in levers:
        if fits(central, kv):
            return moved
        if name == "kv":
            kv = max(floor, free_gb / _kv_need_tokens(central, batch, engine))
            central["kv_bytes_per_token_max"] = kv * 1e9
            moved.append("kv")
            continue
        if name == "memory":
            room = min(floor, _kv_need_tokens(central, batch, engine) * kv)
            central["kv_memory_gb"] = room
            moved.append("memory")
            continue
        floor = min(floor, central[name])
        at_floor = fits({**central, name: floor}, kv)
        value = _longest_that_fits(central, name, floor, batch, engine, kv, room) if at_floor else floor
        central[name] = value
        low, high = ranges[name]
        ranges[name] = (min(low, value), min(high, value))
        moved.append(name)
    return moved if fits(central, kv) else None


def _fit_notes(central: dict[str, float], moved: list[str], batch: float, kv_token_gb: float,
               kv_small_gb: float, weights_gb: float, capacity_gb: float) -> list[Assumption]:
    """What _shrink_to_fit moved, as assumptions (the values the model then computes with)."""
    why = (f"the given batch of {batch:g} sequences fits the memory only so; assumed values move in this order, each "
           "only as far as needed: input then output length to the low end of their ranges, the KV cache per token "
           "to the small end of the assumed shape's, the memory share above the engine default, then the lengths "
           "below their ranges")
    notes = []
    for name in dict.fromkeys(moved):  # each lever once, in order
        if name == "kv":
            kv_kb = central["kv_bytes_per_token_max"] / 1e3
            notes.append(Assumption(
                "KV cache per token", f"at most {kv_kb:.3g} kB (assumed shape: central ~{kv_token_gb * 1e6:.3g} kB, "
                f"small end ~{kv_small_gb * 1e6:.3g} kB)", constants()["kv_dim_gqa"].source,
                note=f"{why}; computed with this smaller cache"))
        elif name == "memory":
            share = constants()["gpu_memory_utilization"]
            used = (weights_gb + central.pop("kv_memory_gb")) / capacity_gb
            notes.append(Assumption(
                "memory the engine fills", f"{used:.0%} of {capacity_gb:.3g} GB (default {share.value:.0%})",
                share.source, f"{why}; set the engine's memory share (vLLM --gpu-memory-utilization) this high"))
        else:
            what = "input tokens per request" if name == "input_tokens" else "output tokens per request"
            notes.append(Assumption(f"{what} capped by memory", f"at most {central[name]:g}",
                                    constants()["gpu_memory_utilization"].source,
                                    f"{why}; give --input-tokens / --output-tokens to set them"))
    return notes


def _fit_batch_to_memory(central: dict[str, float], ranges: dict[str, tuple[float, float]], given: bool,
                         chip: Chip, count: int, engine: str, attention: str, weight_bytes: float, kv_bytes: float,
                         assumptions: list[Assumption]) -> None:
    """Weights plus the batch's KV cache must fit in the engine's share (gpu_memory_utilization) of the replica's
    memory (central model shape): the default batch range is cut to the largest batch that fits (a replica cannot
    hold more sequences, however busy it is); a given batch (or the one sequence the default is cut to) that does
    not fit moves assumed values, said in the assumptions (_shrink_to_fit); if none can, it is an error.

    The KV cache a batch holds: a static batch (``eager``: all sequences start together) reaches the full
    context (input + output) in every sequence at once; continuous batching (``optimised``) keeps sequences at
    staggered stages, so at steady state they hold the mean context, input + output / 2. One sequence must fit
    at its full context either way.
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
    usable_gb = _usable_gb(chip, count)
    free_gb = usable_gb - weights_gb
    free_most_gb = _usable_gb(chip, count, most=True) - weights_gb
    where = f"the {count * chip.memory_gb:.3g} GB of {count} x {chip.name}"
    if weights_gb + full * kv_small_gb > _usable_gb(chip, count, most=True):
        raise InputConflictError(
            f"one sequence of {full:g} tokens needs ~{full * kv_small_gb:.3g} GB or more of KV cache beside "
            f"{weights_gb:.3g} GB of weights, more than {where}; shorten the context or raise --count")
    how = "at full context (static batch)" if engine == "eager" else "at the mean context, input + output/2 " \
        "(continuous batching)"
    if not given:
        most = math.floor(free_gb / (held * kv_token_gb))
        low, high = ranges["batch_size"]
        if high > most:
            central["batch_size"] = max(1.0, min(central["batch_size"], most))
            ranges["batch_size"] = (max(1.0, min(low, most)), max(1.0, most))
            assumptions.append(Assumption(
                "batch size capped by memory", f"at most {max(1, most)} sequences",
                constants()["gpu_memory_utilization"].source,
                f"{weights_gb:.3g} GB of weights and ~{held * kv_token_gb:.3g} GB of KV cache per sequence {how} "
                f"in {usable_gb:.3g} GB, the engine's default share of {where}; give --batch-size to set it"))
        if most >= 1:
            return
    batch = central["batch_size"]
    moved = _shrink_to_fit(central, ranges, batch, engine, kv_token_gb, kv_small_gb, free_gb, free_most_gb)
    if moved is None:
        need = _kv_need_tokens(central, batch, engine)
        raise InputConflictError(
            f"batch {batch:g} x {held:g} tokens of context {how} needs ~{need * kv_small_gb:.3g} GB or more "
            f"of KV cache beside {weights_gb:.3g} GB of weights, more than {where}; lower --batch-size or raise "
            "--count")
    assumptions.extend(_fit_notes(central, moved, batch, kv_token_gb, kv_small_gb, weights_gb,
                                  count * chip.memory_gb))


def _usable_gb(chip: Chip, count: int, most: bool = False) -> float:
    """GB of a replica's memory the engine fills with weights and KV cache: gpu_memory_utilization (its central
    value, the engine default; ``most``: its high end, the most it can be set to) x count x GB per chip."""
    share = constants()["gpu_memory_utilization"]
    return (share.high if most else share.value) * count * (chip.memory_gb or 0.0)


def _precision_fallback_note(prec: str, compute_prec: str, chip_name: str, chip_source: str) -> Assumption:
    """What a precision the chip has no maths for means: stored as given, computed at its own peak."""
    stored = f"{BYTES_PER_WEIGHT[prec]:g} byte(s) per weight"
    if prec == "fp8":
        stored += " and an fp8 KV cache"
        how = ("weight-only fp8 storage is real on chips without fp8 maths (vLLM runs fp8 checkpoints on Ampere as "
               "W8A16 through its Marlin kernels, vLLM docs 'FP8 W8A8', 2024)")
    else:
        how = f"the chip has no {COMPUTE_PRECISION[prec]} matrix maths"
    return Assumption(f"{prec} on {chip_name}", f"stored at {stored}; maths at the chip's {compute_prec} peak",
                      chip_source, f"{chip_name} lists no {COMPUTE_PRECISION[prec]} peak: {how}")


def _resolve_chip(hardware: str, precision: str | None, tdp_w: float | None,
                  assumptions: list[Assumption]) -> tuple[Chip, str, Any]:
    from ..data import find_accelerator

    acc, _variants, notes = find_accelerator(hardware)
    assumptions.extend(notes)
    prec = str(precision or acc.default_precision()).lower()
    if prec not in BYTES_PER_WEIGHT:
        raise WattprintError(f"unknown precision {precision!r}; use one of {', '.join(BYTES_PER_WEIGHT)}")
    if precision is None:
        assumptions.append(Assumption(
            "precision", f"{prec} (default for {acc.name})", f"the peak-FLOP/s formats of {acc.name} ({acc.source})",
            "wattprint's rule: bf16 where the chip has it, else fp16, else fp32"))
    compute_prec = COMPUTE_PRECISION[prec]
    if compute_prec not in acc.peak_tflops:  # e.g. fp8/bf16 maths on a chip without them -> its default
        compute_prec = acc.default_precision()
        assumptions.append(_precision_fallback_note(prec, compute_prec, acc.name, acc.source))
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


def _replica_size(chip: Chip, central: Mapping[str, float], weight_bytes: float, count: int | None, batch: float,
                  engine: str, kv_token_gb: float, assumptions: list[Assumption]) -> int:
    """Accelerators per replica: the user's count, or the smallest power of 2 whose usable memory
    (gpu_memory_utilization, the same rule as for a given count) holds the weights (GB = params x bytes / 1e9) and
    the KV cache of ``batch`` sequences (the default batch's central value, or a smaller given batch; central
    lengths and shape). A larger given batch is then fitted like one on a given count (_fit_batch_to_memory)."""
    need_gb = central["params"] * weight_bytes / 1e9
    if chip.memory_gb is None:
        return count or 1
    share = constants()["gpu_memory_utilization"]
    if count is not None:
        if need_gb > _usable_gb(chip, count, most=True):
            raise InputConflictError(
                f"the weights need {need_gb:.4g} GB but {count} x {chip.name} hold {count * chip.memory_gb:.4g} GB; "
                "raise --count or lower --precision")
        if need_gb > _usable_gb(chip, count):
            assumptions.append(Assumption(
                "memory the engine fills", f"weights alone {need_gb / (count * chip.memory_gb):.0%} of "
                f"{count * chip.memory_gb:.4g} GB (default {share.value:.0%})", share.source,
                "the given count holds the weights only above the engine's default memory share"))
        return count
    kv_gb = _kv_need_tokens(central, batch, engine) * kv_token_gb
    n = 1
    while need_gb + kv_gb > _usable_gb(chip, n):
        n *= 2
        if n > 2**40:  # far beyond any machine: the magnitudes are wrong
            raise too_large()
    assumptions.append(Assumption(
        "accelerators per replica", f"{n} (smallest power of 2 whose {share.value:.0%} usable memory holds the "
        f"{need_gb:.4g} GB of weights and ~{kv_gb:.3g} GB of KV cache for {batch:g} sequences)", share.source,
        "give --count to set it"))
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
    dedicated: bool = False,
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
        batch_size: sequences decoded together per replica (continuous-batching concurrency). Default: a sourced
            range, cut to what fits in memory and, with a load, to the concurrency the load keeps in flight per
            replica (Little's law: arrival rate x time per request, at least one sequence).
        precision: weight format (fp32, bf16, fp16, fp8, int8, int4); engine: "optimised" (vLLM, TGI,
            TensorRT-LLM, compiled PyTorch) or "eager" (plain Hugging Face transformers / PyTorch).
        attention: "gqa" (grouped-query, most models since 2023) or "mha" (Llama 1/2 7B-13B, older models).
        sliding_window, window_layer_share: a model whose layers (all, or this share of them) attend only to the
            last ``sliding_window`` tokens keeps K/V and attention FLOPs for at most that many there: Mistral 7B
            v0.1 (4096, all; Jiang et al. 2023), Gemma 2 (4096, every other layer; Gemma Team 2024), Gemma 3
            (1024, 5 of 6; Google Developers Blog, "Gemma explained: What's new in Gemma 3", 2025), gpt-oss (128,
            alternate layers; gpt-oss model card, 2025). Default: none.
        utilisation: share of provisioned serving time that is busy (0-1]; the rest is idle capacity at idle
            power. Default: no idle capacity counted (the assumptions say what a dedicated replica's idle time
            would add when the load keeps less than half of one busy).
        dedicated: the load is served by ceil(replicas needed) replicas provisioned for the whole period, whose
            idle time counts at idle power and for embodied emissions (utilisation = replicas needed / replicas
            provisioned). Needs a load; excludes ``utilisation``.
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
    attention_given = attention is not None and str(attention).lower() != "gqa"
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
    if not isinstance(dedicated, bool):
        raise InputConflictError(f"dedicated must be True or False, got {dedicated!r}")
    if dedicated and utilisation is not None:
        raise InputConflictError("give either utilisation or dedicated, not both (dedicated sets the utilisation)")
    if dedicated and requests_per_day is None and tokens_per_day is None:
        raise InputConflictError("dedicated replicas need a load (requests or tokens per day)")

    chip, prec, acc = _resolve_chip(hardware, precision, check_positive("tdp_w", tdp_w), assumptions)
    weight_bytes = BYTES_PER_WEIGHT[prec]
    kv_bytes = 1.0 if prec == "fp8" else max(2.0, weight_bytes)  # KV cache stays 16-bit unless fp8 serving

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
    if attention == "gqa":
        take("kv_dim_gqa", None, "KV width per layer (grouped-query attention)")
    else:
        central["kv_dim_gqa"] = 0.0
    n_chips = _replica_size(chip, central, weight_bytes, int(count_i) if count_i else None,
                            min(central["batch_size"], c["default_batch_size"].value), engine,
                            _kv_bytes_per_token(central, attention, kv_bytes) / 1e9, assumptions)
    if n_chips > 1:
        take("tensor_parallel_efficiency_per_doubling", None, "tensor-parallel efficiency per doubling of GPUs")
    else:
        central["tensor_parallel_efficiency_per_doubling"] = 1.0
    if engine == "eager":
        take("eager_overhead_s_per_layer", None, "CPU launch floor per layer and step (eager engine)")
    else:
        central["eager_overhead_s_per_layer"] = 0.0
    assumptions.append(Assumption(
        "attention", attention,
        "given by the user" if attention_given else "Llama 3 / Mistral / Qwen2 model cards (2024): grouped-query "
        "attention; Touvron et al. 2023 (Llama 2): GQA only at 34B/70B, so 7B/13B keep multi-head attention",
        "KV cache size per token; mha for Llama 1/2 7B-13B and older models"))
    if engine == "eager":
        engine_source = c["eager_overhead_s_per_layer"].source
        engine_note = "no CUDA graphs: decode steps bounded by CPU kernel launches"
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

    if tokens_per_day is not None:
        check_positive("tokens_per_day", tokens_per_day)
    rpd_given = check_positive("requests_per_day", requests_per_day)
    per_day = rpd_given if rpd_given is not None else tokens_per_day
    if per_day is not None and not math.isfinite(float(per_day) * float(days)):
        raise InputConflictError(f"requests over the period overflow ({per_day:g} per day x {days:g} days); "
                                 "check the magnitudes")
    load = _Load(rpd_given, float(tokens_per_day) if tokens_per_day is not None else None,
                 batch_assumed=batch_size is None, dedicated=dedicated)

    def physics(p: Mapping[str, float]) -> dict[str, float]:
        return serving_physics(p, chip, n_chips, engine, attention, weight_bytes, kv_bytes)

    def run(p: Mapping[str, float]) -> dict[str, float]:
        return _serve_point(p, physics, load, n_chips, chip.tdp_w)

    per_req = _over_corners(central, ranges, run)
    mid = physics({**central, "batch_size": per_req["batch_size"].value})
    regime = ("CPU-overhead-bound" if mid["t_floor_s"] > max(mid["t_mem_s"], mid["t_comp_s"])
              else "compute-bound" if mid["t_comp_s"] > mid["t_mem_s"] else "memory-bandwidth-bound")

    # -- how many requests the footprint covers ------------------------------------------------------
    has_load = load.requests_per_day is not None or load.tokens_per_day is not None
    if has_load:  # per day, each corner with its own request count (tokens per day / its own lengths)
        rpd: Range | None = per_req["requests_per_day"]
        n_requests = per_req["requests_per_day"] * float(days)
        acc_j, host_j, chip_s = (per_req[k] * float(days) for k in ("accelerator_j_day", "host_j_day", "chip_s_day"))
    else:
        rpd, n_requests = None, Range.exact(1.0)
        acc_j, host_j, chip_s = per_req["accelerator_j"], per_req["host_j"], per_req["chip_s"]
    if not all(math.isfinite(x.high) for x in (n_requests, acc_j, host_j, chip_s)):
        raise too_large()
    if has_load:
        assumptions.extend(_load_notes(per_req, central, load, c, n_chips, chip.name))

    inten, pue_r, site_notes = resolve_site(location, year, pue, intensity, mix)
    assumptions.extend(site_notes)
    embodied, emb_notes = embodied_for(acc, 1, chip_s / 3600.0)  # chip-hours already count every accelerator
    assumptions.extend(emb_notes)
    assumptions.append(Assumption("host energy", "charged as the host ratio x accelerator energy, in 'other'",
                                  c["host_power_ratio"].source))

    details: dict[str, Any] = {}
    wall_h = Range.exact(float(days) * 24.0) if has_load else per_req["latency_s"] / 3600.0
    fp = Footprint(
        energy_by_component={chip.component: ComponentEnergy(acc_j / J_PER_KWH, "modelled"),
                             "other": ComponentEnergy(host_j / J_PER_KWH, "modelled")},
        pue=pue_r, intensity=inten, embodied_co2e_kg=embodied, assumptions=assumptions, kind="inference",
        chip_hours=chip_s / 3600.0, wall_time_h=wall_h, details=details,
        market_intensity_g_per_kwh=check_market_intensity(market_intensity))

    it_req_j = per_req["accelerator_j"] + per_req["host_j"]
    fac_req_j = it_req_j * pue_r
    # one request's CO2e from its own energy and chip-time (not the period's total over a ranged request count)
    embodied_req, _ = embodied_for(acc, 1, per_req["chip_s"] / 3600.0)
    co2e_req_g = (fac_req_j / J_PER_KWH * inten.g_per_kwh) + embodied_req * 1000.0
    details.update({
        "hardware": chip.name,
        "accelerators_per_replica": n_chips,
        "precision": prec,
        "engine": engine,
        "regime": regime,
        "batch_size": per_req["batch_size"],
        "period": f"{days:g} days at {rpd.value:.6g} requests/day" if rpd is not None else "one request",
        "requests": n_requests if not n_requests.is_exact else n_requests.value,
        # per token: each corner divides by its own token counts
        "energy_per_1k_tokens_wh": per_req["it_j_per_token"] * pue_r * (1000.0 / J_PER_WH),  # input + output
        "energy_per_1k_output_tokens_wh": per_req["it_j_per_output_token"] * pue_r * (1000.0 / J_PER_WH),
        "energy_per_request_wh": fac_req_j / J_PER_WH,
        "it_energy_per_request_wh": it_req_j / J_PER_WH,
        "gpu_energy_per_request_wh": per_req["accelerator_j"] / J_PER_WH,
        "gpu_energy_per_output_token_j": per_req["accelerator_j_per_output_token"],
        "co2e_per_request_g": co2e_req_g,
        "decode_step_ms": per_req["step_s"] * 1000.0,
        "latency_per_request_s": per_req["latency_s"],
        "throughput_tokens_per_s_per_replica": per_req["tokens_per_s"],
    })
    if rpd is not None:
        details["requests_per_day"] = rpd if not rpd.is_exact else rpd.value
        details["energy_per_day_kwh"] = fp.energy_kwh / float(days)
        details["energy_per_year_kwh"] = fp.energy_kwh * (DAYS_PER_YEAR / float(days))
        details["co2e_per_day_kg"] = fp.total_co2e_kg / float(days)
        details["co2e_per_year_kg"] = fp.total_co2e_kg * (DAYS_PER_YEAR / float(days))
        details["replicas_needed"] = per_req["replicas_busy"]
        if dedicated:
            details["replicas_provisioned"] = per_req["replicas_provisioned"]
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
