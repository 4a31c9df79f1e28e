"""The roofline physics of LLM serving on one replica (``count`` accelerators holding one copy of the model),
on plain floats:

* **prefill** is compute-bound: ``2 x N_active`` FLOPs per input token at ``peak x compute_utilisation``;
* **decode** runs one step per output token for a batch of ``B`` sequences. Each step reads the weights once
  (shared by the batch; an MoE its shared weights and only the experts its batch routes to, and with 8- or 4-bit
  weights only part of the expert weights' byte saving shows in the time, as measured for fused-MoE kernels: see
  ``moe_weight_read``) plus
  every sequence's KV cache, and does
  ``2 x N_active x B`` FLOPs, so
  ``t_step = max(bytes / achievable bandwidth, FLOPs / achievable FLOP/s, CPU launch floor)`` — memory-bound
  at small batch, compute-bound at large batch; an un-optimised ("eager") engine cannot go below the time its
  CPU needs to launch one step's kernels;
* **hybrid models** (Qwen3-Next, Granite 4.0-H, Nemotron-H) keep a KV cache in their softmax-attention layers
  only; their recurrent layers (linear attention, Mamba2) hold a fixed-size state per sequence instead, which
  each decode step reads and writes once, however long the context;
* **power** while busy goes from the memory-bound to the compute-bound fraction of TDP with the step's
  compute share; while the GPU waits on the CPU it draws its idle fraction;
* **host** (CPU, DRAM, NICs, fans) is charged as a sourced ratio of accelerator energy;
* optional **idle capacity** (``utilisation`` < 1): provisioned replicas that wait draw idle power.

``over_corners`` evaluates a point function at the central values and every corner of the ranges.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..quantities import Range
from .common import too_large


@dataclass(frozen=True)
class Chip:
    """What the model needs to know about one accelerator (from the catalogue or given)."""

    name: str
    tdp_w: float
    memory_bw_tbs: float
    peak_flops: float  # FLOP/s at the compute precision
    memory_gb: float | None
    component: str  # "gpu" or "accelerator"


# FLOPs per value of a recurrent layer's state per token: a multiply-add (2) in each of three passes over the state,
# the read-out (o = S q), the rank-1 update (S += v k^T) and the decay (Mamba2) or delta-rule correction (S k,
# Gated DeltaNet); the short convolution's FLOPs are its weights', counted in 2 x N
RECURRENT_FLOPS_PER_STATE_VALUE = 6.0


def transformer_shape(active_params: float, aspect: float) -> tuple[float, float]:
    """(d_model, n_layers) of a dense transformer with ``active_params`` parameters: N = 12 L d^2, d = aspect L."""
    d_model = (aspect * active_params / 12.0) ** (1.0 / 3.0)
    return d_model, max(1.0, d_model / aspect)


def _window(p: Mapping[str, float]) -> tuple[float, float] | None:
    """(window length in tokens, share of layers using it), or None for a model without a sliding window."""
    window, share = p.get("sliding_window", 0.0), p.get("window_layer_share", 0.0)
    return (window, share) if window > 0 and share > 0 else None


def attended(context: float, p: Mapping[str, float]) -> float:
    """Tokens of context a layer-averaged token attends to (and keeps K/V for): all ``context`` tokens in
    full-attention layers, at most ``sliding_window`` in the ``window_layer_share`` of layers that use one
    (Mistral 7B, Gemma 2/3, gpt-oss); ``context`` itself when the model has no window."""
    w = _window(p)
    if w is None:
        return context
    window, share = w
    return (1.0 - share) * context + share * min(context, window)


def capped_over_prompt(l_in: float, cap: float) -> float:
    """Sum over a prompt's positions of min(position, cap): l_in^2 / 2, or cap·l_in - cap^2/2 past the cap."""
    return l_in * l_in / 2.0 if l_in <= cap else cap * l_in - cap * cap / 2.0


def _attended_over_prompt(l_in: float, p: Mapping[str, float]) -> float:
    """Sum over a prompt's positions of the tokens each attends to, layer-averaged: l_in^2 / 2 under causal full
    attention; a window W caps each position at W, W·l_in - W^2/2 once the prompt is longer than W; so does a
    sparse attention's top-k (``sparse_topk``: DeepSeek-V3.2)."""
    full = capped_over_prompt(l_in, p.get("sparse_topk") or math.inf)
    w = _window(p)
    if w is None:
        return full
    window, share = w
    return (1.0 - share) * full + share * capped_over_prompt(l_in, window)


def selected(context: float, p: Mapping[str, float]) -> float:
    """Tokens of a ``context`` the main attention reads: all, or a sparse attention's top-k (``sparse_topk``)."""
    return min(context, p.get("sparse_topk") or math.inf)


def flops_view(p: Mapping[str, float]) -> Mapping[str, float]:
    """``p`` as attention FLOPs see it: where the window layers' share of the FLOPs differs from their share of the
    cache (``window_flops_share``: Gemma 4's global layers run wider heads), that share in the window's place."""
    if "window_flops_share" not in p:
        return p
    return {**p, "window_layer_share": p["window_flops_share"]}


def mean_attended(context: float, p: Mapping[str, float]) -> float:
    """Tokens a position of a ``context``-token sequence attends to on average, layer-averaged (causal): context / 2
    under full attention, less in the layers with a sliding window shorter than the sequence."""
    return _attended_over_prompt(context, p) / context


def sequence_flops(p: Mapping[str, float], n_layers: float, d_model: float, attended_tokens: float,
                   named: str = "attention_flops_decode") -> float:
    """FLOPs of one token's mixing of its sequence beyond the weights' 2·N: QK^T and AV over ``attended_tokens``
    in the softmax-attention layers, at a named model's own head widths (``named``: per token attended, decode's or
    prefill's, attention_width.take_attention_widths) or else 4·L·d per token attended of the assumed shape (PaLM,
    Chowdhery et al. 2022, App. B) in all layers but a hybrid's ``attention_layer_share``; plus a hybrid's recurrent
    layers' passes over their fixed-size state, or a compressed attention's window (``window_flops_per_token``)."""
    per_attended = p.get(named, 0.0) or 4.0 * n_layers * d_model * p.get("attention_layer_share", 1.0)
    return (per_attended * attended_tokens + RECURRENT_FLOPS_PER_STATE_VALUE * p.get("recurrent_state_values", 0.0)
            + p.get("window_flops_per_token", 0.0))  # a compressed attention's uncompressed window, fixed in size


def kv_bytes_per_token(p: Mapping[str, float], attention: str, kv_bytes: float) -> float:
    """Bytes of K and V per token of context: 2 x layers x KV width (GQA's, or d_model for MHA) x bytes; a named
    model's own widths summed over its layers (``kv_widths``) where known."""
    if p.get("kv_widths", 0.0) > 0:
        shape_bytes = 2.0 * p["kv_widths"] * kv_bytes
    else:
        d_model, n_layers = transformer_shape(p["active_params"], p["layers_aspect_ratio"])
        kv_width = p["kv_dim_gqa"] if attention in ("gqa", "mqa") else d_model  # mqa: its one head's width
        shape_bytes = 2.0 * n_layers * kv_width * kv_bytes
    shape_bytes += p.get("indexer_bytes_per_token", 0.0)  # a sparse attention's indexer keys, held beside the cache
    # a given batch that fits only with a smaller cache than the assumed shape's caps it (fit_batch_to_memory)
    return min(shape_bytes, p.get("kv_bytes_per_token_max", math.inf))


def moe_shared(n_total: float, n_act: float, shared_share: float) -> float:
    """Parameters every token of an MoE reads (attention, embeddings, shared experts, dense layers):
    ``shared_share`` x active (0 for a dense model, whose weights all count as shared). The rest of the weights,
    total - shared, are the routed experts' pool, of which each token reads active - shared."""
    return n_total if n_act >= n_total else shared_share * n_act


def shared_from_expert_counts(n_total: float, n_act: float, experts: int, per_token: int) -> float:
    """Parameters every token reads, from an MoE's counts: active = shared + k/E x (total - shared), so shared =
    (E x active - k x total) / (E - k) (Mixtral 8x7B: (8 x 12.9B - 2 x 46.7B) / 6 = 1.63B)."""
    return (experts * n_act - per_token * n_total) / (experts - per_token)


def moe_weight_read(n_total: float, n_act: float, batch: float, weight_bytes: float, saving_realised: float,
                    shared_share: float) -> float:
    """Bytes-equivalent a decode step spends reading the weights (the time it takes x achievable bandwidth).

    A step reads the shared weights S (``moe_shared``) once, and of the routed experts' pool R = total - S only
    the experts its batch routes to: each token reads a share r = (active - S) / R of the pool (k of E experts),
    and with routing taken as independent across the batch's tokens an expert is read by at least one of them
    with probability 1 - (1 - r)^batch: r at batch 1, all of the pool once the batch is large (dense: S = total,
    always all). Counting the shared weights once per step, not once per token, is what keeps a small batch from
    looking like a large one: at batch 8, Llama 4 Maverick (400B, 17B active, 128 routed experts) reads its ~14B
    shared weights and 8 experts' worth, not 29 % of everything.

    Low-bit MoE (weights below 16 bits): fused-MoE kernels realise only ``saving_realised`` of the byte saving in
    decode time (``moe_low_bit_saving_realised``, measured on grouped expert GEMMs of a few tokens each), so a
    routed weight is read in the time of ``weight_bytes + (1 - r) x (1 - saving_realised) x (2 - weight_bytes)``
    bytes, a shared one in ``weight_bytes``. The (1 - r) lets the shortfall fade as the tokens use more of the
    experts (r -> 1: the expert GEMMs become the dense model's), so the cost is continuous into the dense model;
    with no shared weights it is the inactive share 1 - active/total. A sparse low-bit MoE can so take longer per
    step than a dense model of its total size in the same format, as the kernel measurements behind the constant
    say it does at large batch.
    """
    shared = moe_shared(n_total, n_act, shared_share)
    pool = n_total - shared
    if pool <= 0.0:  # dense
        return n_total * weight_bytes
    r = (n_act - shared) / pool
    read_share = 1.0 - (1.0 - r) ** batch
    shortfall = 0.0 if weight_bytes >= 2.0 else (1.0 - r) * (1.0 - saving_realised) * (2.0 - weight_bytes)
    return shared * weight_bytes + pool * read_share * (weight_bytes + shortfall)


def serving_physics(p: Mapping[str, float], chip: Chip, count: int, engine: str, attention: str,
                    weight_bytes: float, kv_bytes: float) -> dict[str, float]:
    """Per-request energy (J) and time (s) of one replica for one set of parameter values.

    ``p`` holds: params, active_params, input_tokens, output_tokens, batch_size and the constants
    mem_bw_utilisation, compute_utilisation, eager_overhead_s_per_layer, power_fraction_memory_bound,
    power_fraction_compute_bound, idle_power_fraction, host_power_ratio, tensor_parallel_efficiency_per_doubling,
    layers_aspect_ratio, kv_dim_gqa, ``utilisation`` (share of provisioned time busy; 1 = no idle), for an MoE
    moe_shared_share and, with sub-16-bit weights, moe_low_bit_saving_realised; optionally sliding_window and
    window_layer_share, kv_widths and n_layers (a named model's KV shape and depth), attention_flops_decode and
    attention_flops_prefill (a named model's attention FLOPs per token attended, from its heads), for a hybrid
    attention_layer_share, recurrent_state_values and recurrent_state_bytes (per sequence), for a sparse attention
    sparse_topk, indexer_bytes_per_token and indexer_flops_per_token (read and computed over the whole context, past
    the top-k), for a compressed attention (DeepSeek-V4) those and window_flops_per_token, its window and compressor
    state in recurrent_state_bytes (compressed_attention.serving_terms), tdp_scale (the chip's
    TDP as a multiple of the catalogue's, where that is a derived figure with a span) and chip_efficiency (a chip
    family's factor on the achievable shares, serving_chip.family_efficiency).
    """
    n_total, n_act = p["params"], p["active_params"]
    batch, l_in, l_out = p["batch_size"], p["input_tokens"], p["output_tokens"]
    tdp_w = chip.tdp_w * p.get("tdp_scale", 1.0)  # a TDP no vendor publishes is ranged (tdp_scale spans it)
    d_model, n_layers = transformer_shape(n_act, p["layers_aspect_ratio"])
    kv_per_token = kv_bytes_per_token(p, attention, kv_bytes)
    # the share of the achievable rates a replica realises: split over GPUs (communication, imbalance) and on a chip
    # family whose spec engines realise less of (serving_chip.family_efficiency)
    realised = p["tensor_parallel_efficiency_per_doubling"] ** math.log2(count) * p.get("chip_efficiency", 1.0)
    bandwidth = count * chip.memory_bw_tbs * 1e12 * p["mem_bw_utilisation"] * realised  # bytes/s
    flops = count * chip.peak_flops * p["compute_utilisation"] * realised  # FLOP/s
    if not (bandwidth > 0 and flops > 0):  # a replica so large that its efficiency underflows to nothing
        raise too_large()
    weights_read = moe_weight_read(n_total, n_act, batch, weight_bytes, p.get("moe_low_bit_saving_realised", 1.0),
                                   p.get("moe_shared_share", 0.0))
    context = attended(l_in + l_out / 2.0, p)  # mean context during decode (capped by a sliding window)
    # a sparse attention reads the top-k tokens' cache and every token's indexer key
    read, indexer = selected(context, p), p.get("indexer_bytes_per_token", 0.0)
    kv_read = batch * (read * (kv_per_token - indexer) + context * indexer)
    # a hybrid's recurrent state, a compressed attention's window and compressor state: read and written
    state_io = batch * 2.0 * p.get("recurrent_state_bytes", 0.0)
    t_mem = (weights_read + kv_read + state_io) / bandwidth
    # attention's own FLOPs (over the context) matter once the context is long; the weights' matmuls are 2·N per token
    flops_read = selected(attended(l_in + l_out / 2.0, flops_view(p)), p)  # as ``read``, by the FLOPs' window share
    t_comp = batch * (2.0 * n_act + sequence_flops(p, n_layers, d_model, flops_read)
                      + p.get("indexer_flops_per_token", 0.0) * context) / flops
    if not (0 < t_mem < math.inf and 0 < t_comp < math.inf):  # magnitudes beyond the floating-point range
        raise too_large()
    # a named model's own depth where known: small models are deeper than the shape rule says (Qwen2.5 0.5B: 24
    # layers, not ~14), and an eager engine launches every layer's kernels
    launched_layers = p.get("n_layers", 0.0) or n_layers
    t_floor = launched_layers * p["eager_overhead_s_per_layer"] if engine == "eager" else 0.0
    t_busy = max(t_mem, t_comp)
    t_step = max(t_busy, t_floor)
    compute_share = min(1.0, t_comp / t_mem)
    f_idle = p["idle_power_fraction"]
    f_busy = p["power_fraction_memory_bound"] + (
        p["power_fraction_compute_bound"] - p["power_fraction_memory_bound"]) * compute_share
    p_decode = tdp_w * (f_idle + (f_busy - f_idle) * t_busy / t_step)  # W per chip, averaged over a step
    # prefill: compute-bound, at the compute-bound power fraction
    # causal attention over the prompt sums 4·L·d·position over its positions: 2·L·d·l_in², beside the weights'
    # 2·N·l_in (a 100k-token prompt to an 8B model more than doubles its prefill); a sliding window caps it
    prompt_attended = mean_attended(l_in, flops_view(p))
    prefill_flops = (2.0 * n_act * l_in + l_in * sequence_flops(p, n_layers, d_model, prompt_attended,
                                                                "attention_flops_prefill")
                     + p.get("indexer_flops_per_token", 0.0) * l_in * l_in / 2.0)  # the indexer scores all, causally
    t_prefill = prefill_flops / flops + (t_floor if engine == "eager" else 0.0)
    p_prefill = tdp_w * p["power_fraction_compute_bound"]
    e_decode = count * p_decode * t_step * l_out / batch  # J per request (its share of the batch's steps)
    e_prefill = count * p_prefill * t_prefill
    busy_replica_s = t_prefill + t_step * l_out / batch  # replica-seconds per request
    idle_replica_s = busy_replica_s * (1.0 / p["utilisation"] - 1.0)
    e_idle = count * tdp_w * f_idle * idle_replica_s
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


def over_corners(central: Mapping[str, float], ranges: Mapping[str, tuple[float, float]],
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
