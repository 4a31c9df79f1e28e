"""Inference (serving) estimator: energy per token, per request, per day and per year -> Footprint.

A physical roofline model of LLM serving on one replica (``count`` accelerators holding one copy of the model).
``estimate_inference`` reads as its steps: check the inputs, resolve the chip, assume what the user did not give
(sourced ranges), size the replica, fit the batch to its memory, evaluate every corner, then build the footprint
and its details. The steps and the model live beside this module:

* ``serving_inputs.py``: the input checks, the load, and the values the model is evaluated at (given or assumed);
* ``serving_replica.py``: the replica and how many chips it gets (given, or sized for the load);
* ``serving_footprint.py``: per-request figures over the corners, the period's totals, the footprint and its
  details, and the break-even with training;
* ``serving_constants.py``: the sourced constants (``refdata/inference_model.csv``) and unit conversions;
* ``serving_chip.py``: the accelerator, the weight precision and the peak it computes at;
* ``roofline.py``: prefill and decode time, power and energy of one replica at one point, and the corners;
* ``serving_memory.py``: weights plus KV cache must fit the replica (its size, the largest batch that fits);
* ``serving_load.py``: the batch a load sustains, the replicas it keeps busy or provisioned.

Energy then goes through the shared footprint model (PUE, grid intensity, embodied emissions amortised over the
chip-hours the service keeps busy or provisioned). Every constant comes from ``refdata/inference_model.csv``
(embedded as ``estimate/inference_model.csv``) with its source and range; the range of every output is the
min/max over all corners of the ranges of the inputs the user did not give.
"""

from __future__ import annotations

from ..footprint import Assumption, Footprint
from ..quantities import Range
from .attention_width import take_attention_widths
from .common import both_names, check_finite, check_positive, given_flags
from .compressed_attention import compressed_cache_precision, take_compressed_attention
from .hybrid import take_hybrid
from .model_preset import apply_model
from .roofline import kv_bytes_per_token, transformer_shape
from .serving_chip import family_efficiency, resolve_chip, stored_bytes
from .serving_chip import kv_cache_precision as kv_cache_precision_of
from .serving_constants import constants
from .serving_footprint import (
    breakeven_requests,
    compare_training,
    evaluate,
    fill_details,
    period_footprint,
    period_totals,
)
from .serving_inputs import assume_values, check_experts, check_inputs, check_load, engine_notes
from .serving_load import check_fleet, load_notes
from .serving_replica import check_serving_unit, fit_replica, hold_for_load, size_for_load
from .sparse_attention import take_sparse_attention

# what other modules import from here, wherever it now lives
__all__ = ["breakeven_requests", "constants", "estimate_inference", "transformer_shape"]


def estimate_inference(
    params: float | None = None,
    *,
    model: str | None = None,
    active_params: float | None = None,
    input_tokens: float | None = None,
    output_tokens: float | None = None,
    requests_per_day: float | None = None,
    tokens_per_day: float | None = None,
    days: float | None = None,
    hardware: str | None = None,
    count: int | None = None,
    batch_size: float | None = None,
    precision: str | None = None,
    engine: str = "optimised",
    attention: str | None = None,
    sliding_window: int | None = None,
    window_layer_share: float | None = None,
    experts: int | None = None,
    experts_per_token: int | None = None,
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
    kv_cache_precision: str | None = None,
) -> Footprint:
    """Estimate the footprint of serving an LLM.

    Args:
        params: total parameters (count); ``active_params``: per-token active parameters of an MoE (default: all).
        model: a published model's name instead ("Llama-3.1-8B-Instruct", "openai/gpt-oss-120b"; ``wattprint data
            models`` lists them): its parameter counts, expert counts, attention, KV cache shape, depth, sliding
            window and weight format fill whatever is not given; a given count more than published rounding
            (15 %) from its count is an error, one within it is used and the assumptions say so; given expert
            counts, attention or sliding window must be the model's (a window's share of the layers within the
            same rounding), else they are an error. A given precision is a choice of format, not checked.
        input_tokens / output_tokens: tokens per request (prompt / generated); defaults are sourced ranges.
        requests_per_day or tokens_per_day (input + output tokens): load. With one of them the footprint covers
            ``days`` days of serving (default one year; more than ``MAX_SERVING_YEARS``, a century, is refused as
            days in the wrong unit); without, it covers one request and ``days`` is refused.
        hardware, count: accelerator name (default: H100, said in the assumptions) and accelerators per replica
            (default: the power of 2, from the fewest that hold the weights and one sequence to those that hold
            the default batch, that serves a request with the least energy at the load, or at a full load without
            one; with a given ``batch_size``, the fewest that hold that batch, or under a load the sequences it
            keeps in flight of it).
        batch_size: sequences decoded together per replica (continuous-batching concurrency). Default: a sourced
            range, cut to what fits in memory and, with a load, to the concurrency the load keeps in flight per
            replica (Little's law: arrival rate x time per request, at least one sequence). A given batch is
            used as given without a load; with one, a batch the load cannot fill is cut the same way to the
            sequences it keeps in flight (an engine batches only the requests waiting), and an assumption names
            both batches; the replica and its memory then hold those sequences, not the batch given, so the
            figures are those of the batch the load forms. A given batch may shorten assumed request lengths to
            fit the memory, but not below their sourced ranges: a batch that fits only with shorter requests is an
            error naming the most that fit.
        precision: weight format (fp32, tf32, bf16, fp16, fp8, int8, int4; fp4, nvfp4 and mxfp4 are read as 4-bit
            weights, as int4); engine: "optimised" (vLLM, TGI,
            TensorRT-LLM, compiled PyTorch) or "eager" (plain Hugging Face transformers / PyTorch); a stack's own
            name ("vllm", "sglang", "tgi", "tensorrt-llm", "transformers") is read as its class.
        kv_cache_precision: the format the engine stores K and V in: "auto" or None (the default: the model's
            activations, 16-bit whatever the weights, as vLLM's and SGLang's kv_cache_dtype "auto"), "fp8" (also
            "fp8_e4m3", "fp8_e5m2": vLLM --kv-cache-dtype fp8, TensorRT-LLM's FP8 cache), "int8", "bf16", "fp16".
        attention: "gqa" (grouped-query, most models since 2023; the default), "mha" (Llama 1/2 7B-13B, older
            models) or "mqa" (multi-query: one K/V head, as in Falcon 7B, StarCoder, PaLM); a named ``model`` has
            its own, and a different one given with it is an error.
        sliding_window, window_layer_share: a model whose layers (all, or this share of them) attend only to the
            last ``sliding_window`` tokens keeps K/V and attention FLOPs for at most that many there: Mistral 7B
            v0.1 (4096, all; Jiang et al. 2023), Gemma 2 (4096, every other layer; Gemma Team 2024), Gemma 3
            (1024, 5 of 6; Google Developers Blog, "Gemma explained: What's new in Gemma 3", 2025), gpt-oss (128,
            alternate layers; gpt-oss model card, 2025). Default: none.
        experts, experts_per_token: an MoE's routed experts per layer and per token (e.g. 128 and 8, as model
            cards state them): they give the weights every token reads (attention, embeddings, shared experts),
            which a decode step reads once whatever its batch. Default: a sourced share of the active parameters
            with its range (published MoE architectures).
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

    Raises:
        InputConflictError: for bad or contradictory inputs, and for a total above the whole world's annual
            emissions, which no service emits (the error names the inputs given whose magnitudes to check).
    """
    sizing = given_flags(model, params=params, active_params=active_params, input_tokens=input_tokens,
                         output_tokens=output_tokens, requests_per_day=requests_per_day,
                         tokens_per_day=tokens_per_day, days=days, utilisation=utilisation, count=count,
                         batch_size=batch_size)
    preset = apply_model(model, params, active_params, serving=True, experts=experts,
                         experts_per_token=experts_per_token, attention=attention, precision=precision,
                         sliding_window=sliding_window, window_layer_share=window_layer_share)
    params, active_params, experts, experts_per_token = (preset.params, preset.active_params, preset.experts,
                                                         preset.experts_per_token)
    attention = preset.attention if preset.attention is not None else "gqa"  # None: the default, as documented
    precision = preset.precision
    sliding_window, window_layer_share = preset.sliding_window, preset.window_layer_share  # type: ignore[assignment]
    inputs = check_inputs(params, active_params, engine, attention, count, requests_per_day, tokens_per_day, days,
                          utilisation, dedicated, preset.attention_of)
    assumptions: list[Assumption] = list(preset.notes)
    chip, prec, acc = resolve_chip(hardware, precision, check_positive(both_names("tdp_w"), tdp_w), assumptions)
    from ..data import count_unit_assumption

    if (unit_note := count_unit_assumption(acc, inputs.count)) is not None:
        assumptions.append(unit_note)
    kv_prec = kv_cache_precision_of(kv_cache_precision)
    compressed = preset.compressed_attention is not None  # its engines keep one cache format (its assumption says)
    if compressed:
        kv_prec = compressed_cache_precision(kv_prec, preset.name)
    weight_bytes, kv_bytes = stored_bytes(prec, kv_prec)
    if compressed:  # said by the compressed-attention assumption (take_compressed_attention)
        pass
    elif kv_prec is not None:
        assumptions.append(Assumption("KV cache precision", f"{kv_prec}: {kv_bytes:g} byte(s) per K or V value",
                                      "given by the user"))
    elif weight_bytes < 2.0:  # quantised weights: the cache is not quantised with them unless asked for
        assumptions.append(Assumption(
            "KV cache precision", f"16-bit ({kv_bytes:g} bytes per K or V value), not {prec} as the weights",
            "vLLM docs, 'Quantized KV Cache' (an FP8 cache is opt-in, kv_cache_dtype='fp8'; 'auto' stores the "
            "model's activation dtype)", "the engines' default; give --kv-cache-precision fp8 for an FP8 cache"))
    values = assume_values(inputs, prec, weight_bytes, input_tokens, output_tokens, batch_size, sliding_window,
                           window_layer_share, check_experts(inputs, experts, experts_per_token), assumptions,
                           kv_widths=preset.kv_widths, layers=preset.layers, context=preset.context)
    take_attention_widths(values.central, preset, inputs.engine, assumptions)
    take_compressed_attention(values.central, preset, inputs.attention, kv_bytes, assumptions)
    take_sparse_attention(values.central, preset.name, preset.layers, preset.sparse_attention, preset.source,
                          assumptions)
    take_hybrid(values.central, preset.name, preset.layers, preset.attention_layers, preset.recurrent,
                kv_bytes_per_token(values.central, inputs.attention, kv_bytes), preset.source, assumptions)
    span = acc.tdp_range_w() if tdp_w is None else None
    if span is not None and span[0] < span[1]:  # a derived TDP: its span is one more assumed range
        values.central["tdp_scale"] = 1.0
        values.ranges["tdp_scale"] = (span[0] / chip.tdp_w, span[1] / chip.tdp_w)
    if (efficiency := family_efficiency(acc.family)) is not None:  # engines realise less of this family's spec
        values.take("chip_efficiency", None, f"serving efficiency on {acc.name}", efficiency)
    load = check_load(requests_per_day, tokens_per_day, inputs.days, batch_assumed=batch_size is None,
                      dedicated=inputs.dedicated)
    # a given batch under a load: the replica and its memory hold what the load keeps in flight, not the batch given
    hold = hold_for_load(values, inputs, chip, weight_bytes, kv_bytes, load)
    replica = size_for_load(values, inputs, chip, weight_bytes, kv_bytes, load, hold)
    check_serving_unit(replica, inputs.count, values.central)
    assumptions.extend(engine_notes(inputs))
    fit_replica(values, replica, inputs, load, hold)
    # each corner's load is still cut from the batch given, but to no more than the replica holds (the hold at least)
    cap = None if hold is None else max(hold, replica.most_held(values.central))
    per_req, regime = evaluate(values, replica, load, cap)
    if "replicas_busy" in per_req:  # a load: the replicas it keeps busy or provisioned, at the central values
        busy = per_req["replicas_busy"].value
        check_fleet(busy, busy / per_req["replicas_provisioned"].value, load, replica.count, chip.name)
    period = period_totals(per_req, load, inputs.days)
    if period.requests_per_day is not None:
        assumptions.extend(load_notes(per_req, values.central, load, constants(), replica.count, chip.name,
                                      utilisation_given=inputs.utilisation is not None))
    fp = period_footprint(per_req, period, chip, acc, inputs.days, location, year, pue, intensity, mix,
                          market_intensity, assumptions)
    co2e_req_g = fill_details(fp, per_req, period, replica, acc, prec, regime, inputs.days, inputs.dedicated)
    if training_co2e_kg is not None:
        compare_training(fp.details, training_co2e_kg, co2e_req_g)
    return check_finite(fp, sizing, "service")

