"""Inference (serving) estimator: energy per token, per request, per day and per year -> Footprint.

A physical roofline model of LLM serving on one replica (``count`` accelerators holding one copy of the model).
``estimate_inference`` reads as its steps: check the inputs, resolve the chip, assume what the user did not give
(sourced ranges), size the replica, fit the batch to its memory, evaluate every corner, then build the footprint
and its details. The model itself lives beside this module:

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

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputConflictError, WattprintError
from ..footprint import Assumption, ComponentEnergy, Footprint
from ..quantities import Range
from .common import (
    check_count,
    check_finite,
    check_market_intensity,
    check_positive,
    check_share,
    embodied_for,
    resolve_site,
    too_large,
)
from .roofline import (
    Chip,
    kv_bytes_per_token,
    moe_expert_share,
    over_corners,
    serving_physics,
    transformer_shape,
)
from .serving_chip import BYTES_PER_WEIGHT, COMPUTE_PRECISION, resolve_chip, stored_bytes
from .serving_constants import DAYS_PER_YEAR, J_PER_KWH, J_PER_WH, S_PER_DAY, Constant, constants
from .serving_load import (
    BATCH_FIXED_POINT_STEPS,
    BATCH_FIXED_POINT_TOL,
    IDLE_NOTE_BELOW_REPLICAS,
    Load,
    load_notes,
    serve_point,
)
from .serving_memory import fit_batch_to_memory, replica_size

# what other modules import from here, wherever it now lives
__all__ = [
    "ATTENTION", "BATCH_FIXED_POINT_STEPS", "BATCH_FIXED_POINT_TOL", "BYTES_PER_WEIGHT", "COMPUTE_PRECISION",
    "DAYS_PER_YEAR", "ENGINES", "IDLE_NOTE_BELOW_REPLICAS", "J_PER_KWH", "J_PER_WH", "S_PER_DAY", "Chip", "Constant",
    "breakeven_requests", "constants", "estimate_inference", "serving_physics", "transformer_shape",
]

ENGINES = ("optimised", "eager")
ATTENTION = ("gqa", "mha")
# relative margin by which a larger replica must beat a smaller one's energy per request to be chosen (ties and
# rounding noise keep the fewer chips)
SIZING_TIE_TOL = 1e-6
# an input check, not data: fewer parameters than this is a count that lost its suffix (7 for 7B), not an LLM. The
# smallest published language models have a few million (the TinyStories models, Eldan & Li 2023: coherent English
# below 10 million parameters; Pythia's smallest, 14M); a million stays below all of them
MIN_LLM_PARAMS = 1e6


# -- the steps' values ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Inputs:
    """The user's model, engine and period inputs, checked and normalised (None: not given)."""

    params: float
    active_params: float
    engine: str  # "optimised" or "eager"
    attention: str  # "gqa" or "mha"
    attention_given: bool  # a non-default attention the user named
    count: int | None  # accelerators per replica
    days: float  # days of serving the footprint covers (with a load)
    utilisation: float | None  # busy share of provisioned time
    dedicated: bool


@dataclass
class _Values:
    """The model's parameter values: central values, the (low, high) ranges of those the user did not give, and the
    assumptions that say where each assumed one comes from."""

    central: dict[str, float]
    ranges: dict[str, tuple[float, float]]
    assumptions: list[Assumption]

    def take(self, name: str, given: float | None, what: str, const: str | None = None,
             integer: bool = False) -> None:
        """The given value (checked) or else the sourced constant ``const`` (default ``name``) and its range."""
        value = check_positive(what, given, integer=integer)
        if value is not None:
            self.central[name] = value
            return
        k = constants()[const or name]
        self.central[name] = k.value
        self.ranges[name] = (k.low, k.high)
        self.assumptions.append(k.assumption(what))


@dataclass(frozen=True)
class _Replica:
    """One copy of the model being served: its chip, accelerators, engine, attention and bytes per stored weight and
    per K or V value."""

    chip: Chip
    count: int
    engine: str
    attention: str
    weight_bytes: float
    kv_bytes: float

    def physics(self, p: Mapping[str, float]) -> dict[str, float]:
        """serving_physics of this replica at point ``p`` (J and s per request)."""
        return serving_physics(p, self.chip, self.count, self.engine, self.attention, self.weight_bytes,
                               self.kv_bytes)


@dataclass(frozen=True)
class _Period:
    """What the footprint covers, summed over it: ``days`` of serving a load, or one request."""

    requests_per_day: Range | None  # None: no load, one request
    requests: Range
    accelerator_j: Range
    host_j: Range
    chip_s: Range


# -- the steps of estimate_inference, in order ------------------------------------------------------
def _check_params(name: str, value: Any) -> float | None:
    """A parameter count (None passes through): a count (check_count), and at least MIN_LLM_PARAMS, since fewer is
    a count that lost its suffix ("7" for 7B) rather than a language model."""
    v = check_count(name, value)
    if v is not None and v < MIN_LLM_PARAMS:
        hint = f"did you mean {v:g}B ({v * 1e9:g})?" if v < 1000 else "write the count in full or with a suffix."
        raise InputConflictError(
            f"{name} {v:g} is far fewer parameters than any language model (the smallest published have a few "
            f"million): {hint} Counts are absolute: 7B = 7e9, 125M = 1.25e8")
    return v


def _check_inputs(params: float, active_params: float | None, engine: str, attention: str, count: int | None,
                  requests_per_day: float | None, tokens_per_day: float | None, days: float | None,
                  utilisation: float | None, dedicated: bool) -> _Inputs:
    """The model size (parameter counts), engine, attention, replica count, period (days) and utilisation, checked
    against each other; the load itself is checked once the batch is known (_check_load)."""
    n_total = _check_params("params", params)
    if n_total is None:
        raise InputConflictError("params (the model's total parameters) is required")
    n_act = _check_params("active_params", active_params) or n_total
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
    period_days = check_positive("days", days) or DAYS_PER_YEAR  # None: the default year
    share = check_share("utilisation", utilisation)
    if not isinstance(dedicated, bool):
        raise InputConflictError(f"dedicated must be True or False, got {dedicated!r}")
    if dedicated and share is not None:
        raise InputConflictError("give either utilisation or dedicated, not both (dedicated sets the utilisation)")
    if dedicated and requests_per_day is None and tokens_per_day is None:
        raise InputConflictError("dedicated replicas need a load (requests or tokens per day)")
    return _Inputs(n_total, n_act, engine, attention, attention_given, int(count_i) if count_i else None,
                   period_days, share, dedicated)


def _assume_values(inputs: _Inputs, prec: str, weight_bytes: float, input_tokens: float | None,
                   output_tokens: float | None, batch_size: float | None, sliding_window: int | None,
                   window_layer_share: float | None, assumptions: list[Assumption]) -> _Values:
    """The point the model is evaluated at: the given values, and for the rest the sourced constants with their
    ranges (request lengths in tokens, batch, achievable utilisations, power fractions, host ratio, model shape)."""
    window = check_positive("sliding_window (tokens)", sliding_window, integer=True)
    given_share = check_share("window_layer_share", window_layer_share)
    if given_share is not None and window is None:
        raise InputConflictError("window_layer_share needs sliding_window (the window's length in tokens)")
    share = given_share if given_share is not None else 1.0
    central: dict[str, float] = {"params": inputs.params, "active_params": inputs.active_params,
                                 "utilisation": inputs.utilisation or 1.0,
                                 "sliding_window": window or 0.0, "window_layer_share": share if window else 0.0}
    if window:
        assumptions.append(Assumption(
            "sliding-window attention", f"{window:g} tokens in {share:.3g} of the layers", "given by the user",
            "those layers keep K/V for, and attend to, at most the last window of tokens"))
    values = _Values(central, {}, assumptions)
    # whole tokens, at least one each (a request of 0.5 tokens is a slip; check_positive's integer check)
    values.take("input_tokens", input_tokens, "input tokens per request", "default_input_tokens", integer=True)
    values.take("output_tokens", output_tokens, "output tokens per request", "default_output_tokens", integer=True)
    values.take("batch_size", batch_size, "batch size (concurrent sequences per replica)", "default_batch_size",
                integer=True)
    for name, what in (("mem_bw_utilisation", "achievable memory-bandwidth utilisation"),
                       ("compute_utilisation", "achievable compute utilisation"),
                       ("power_fraction_memory_bound", "power while memory-bound (fraction of TDP)"),
                       ("power_fraction_compute_bound", "power while compute-bound (fraction of TDP)"),
                       ("idle_power_fraction", "power while waiting (fraction of TDP)"),
                       ("host_power_ratio", "host energy / accelerator energy"),
                       ("layers_aspect_ratio", "d_model / n_layers (model shape)")):
        values.take(name, None, what)
    if inputs.active_params < inputs.params and weight_bytes < 2.0:
        values.take("moe_low_bit_saving_realised", None,
                    f"share of the {prec} byte saving an MoE's expert kernels realise")
        expert = moe_expert_share(inputs.params, inputs.active_params)
        assumptions.append(Assumption(
            "expert weights (share the MoE kernel shortfall applies to)",
            f"{expert:.3g} of the weights (1 - active/total)", "derived from the given parameter counts",
            "the inactive experts' share, a lower bound of the expert weights' (shared weights count as active); the "
            "rest are read at the format's full saving; the shortfall fades to nothing as active parameters reach the "
            "total"))
    if inputs.attention == "gqa":
        values.take("kv_dim_gqa", None, "KV width per layer (grouped-query attention)")
    else:
        central["kv_dim_gqa"] = 0.0
    return values


def _size_replica(values: _Values, inputs: _Inputs, chip: Chip, weight_bytes: float, kv_bytes: float,
                  sizing_batch: float | None = None, count: int | None = None) -> _Replica:
    """The replica: ``count`` (default: the given count), or the fewest chips that hold the weights and the KV
    cache of ``sizing_batch`` sequences (default: the default batch); then what depends on it and the engine
    (tensor-parallel efficiency across its chips, the eager launch floor)."""
    central = values.central
    if sizing_batch is None:
        sizing_batch = min(central["batch_size"], constants()["default_batch_size"].value)
    n_chips = replica_size(chip, central, weight_bytes, count or inputs.count, sizing_batch, inputs.engine,
                           kv_bytes_per_token(central, inputs.attention, kv_bytes) / 1e9, values.assumptions)
    if n_chips > 1:
        values.take("tensor_parallel_efficiency_per_doubling", None, "tensor-parallel efficiency per doubling of GPUs")
    else:
        central["tensor_parallel_efficiency_per_doubling"] = 1.0
    if inputs.engine == "eager":
        values.take("eager_overhead_s_per_layer", None, "CPU launch floor per layer and step (eager engine)")
    else:
        central["eager_overhead_s_per_layer"] = 0.0
    return _Replica(chip, n_chips, inputs.engine, inputs.attention, weight_bytes, kv_bytes)


def _size_for_load(values: _Values, inputs: _Inputs, chip: Chip, weight_bytes: float, kv_bytes: float,
                   load: Load) -> _Replica:
    """The replica when neither its count nor the batch is given: of the powers of 2 of chips from the fewest that
    hold the weights and one sequence up to those that hold the default batch, the one that serves a request with
    the least IT energy (central values; the fewest chips on a tie), as an operator sizing a service would. Each
    candidate runs at the batch its memory holds and, with a load, that the load keeps in flight (Little's law); a
    load one such replica cannot keep up with is spread over several (scale-out), so a larger replica is chosen
    only where its larger batch or shorter steps pay for its extra chips. Without this choice a load just above
    what a small replica serves forced a large replica at a small batch, and the energy per request rose with the
    load; without a load the request is served as under a full load."""
    if inputs.count is not None or not load.batch_assumed:
        return _size_replica(values, inputs, chip, weight_bytes, kv_bytes)

    def scratch() -> _Values:  # sizing trials leave the values and their assumptions as they were
        return _Values(dict(values.central), dict(values.ranges), [])

    n = _size_replica(scratch(), inputs, chip, weight_bytes, kv_bytes, 1.0).count
    largest = _size_replica(scratch(), inputs, chip, weight_bytes, kv_bytes).count
    best: tuple[float, int, float] | None = None  # (IT J per request, chips, batch)
    while n <= largest:
        trial = scratch()
        replica = _size_replica(trial, inputs, chip, weight_bytes, kv_bytes, count=n)
        try:
            fit_batch_to_memory(trial.central, trial.ranges, False, chip, n, inputs.engine, inputs.attention,
                                weight_bytes, kv_bytes, trial.assumptions)
        except InputConflictError:  # not even one sequence fits on so few chips
            n *= 2
            continue
        point = serve_point(trial.central, replica.physics, load, n, chip.tdp_w)
        it_j = point["accelerator_j"] + point["host_j"]
        if best is None or it_j < best[0] * (1.0 - SIZING_TIE_TOL):
            best = (it_j, n, point["batch_size"])
        n *= 2
    if best is None or best[1] == largest:
        return _size_replica(values, inputs, chip, weight_bytes, kv_bytes)
    values.assumptions.append(Assumption(
        "accelerators per replica", f"{best[1]} (of the powers of 2 that hold the weights and the load's KV cache, "
        f"the one with the least energy per request: ~{best[2]:.3g} sequence{'' if best[2] == 1 else 's'} in flight "
        "per replica)",
        constants()["gpu_memory_utilization"].source,
        "sized for the load (without one: a full load), not for the default batch; a load one replica cannot keep up "
        "with is spread over several; give --count to set it"))
    return _size_replica(values, inputs, chip, weight_bytes, kv_bytes, count=best[1])


def _engine_notes(inputs: _Inputs) -> list[Assumption]:
    """Assumptions about how the model is served: its attention, the engine and a given utilisation."""
    notes = [Assumption(
        "attention", inputs.attention,
        "given by the user" if inputs.attention_given else "Llama 3 / Mistral / Qwen2 model cards (2024): "
        "grouped-query attention; Touvron et al. 2023 (Llama 2): GQA only at 34B/70B, so 7B/13B keep multi-head "
        "attention",
        "KV cache size per token; mha for Llama 1/2 7B-13B and older models")]
    if inputs.engine == "eager":
        engine_source = constants()["eager_overhead_s_per_layer"].source
        engine_note = "no CUDA graphs: decode steps bounded by CPU kernel launches"
    else:
        engine_source = ("vLLM team, 'vLLM v0.6.0: 2.7x Throughput Improvement and 5x Latency Reduction' "
                         "(blog, Sept 2024)")
        engine_note = ("a current continuous-batching engine (vLLM >= 0.6, SGLang, TensorRT-LLM) with the GPU kept "
                       "busy; older ones (vLLM < 0.6) spent most of each decode step on the CPU, so the GPU ran longer "
                       "per token and used more energy than this")
    notes.append(Assumption("serving engine", inputs.engine, engine_source, engine_note))
    if inputs.utilisation is not None:
        notes.append(Assumption("utilisation of provisioned capacity", f"{inputs.utilisation:g}",
                                "given by the user", "idle share draws idle power and counts for embodied"))
    return notes


def _check_load(requests_per_day: float | None, tokens_per_day: float | None, days: float, batch_assumed: bool,
                dedicated: bool) -> Load:
    """The load (requests or input + output tokens per day), checked, and that its total over ``days`` is finite."""
    if tokens_per_day is not None:
        check_positive("tokens_per_day", tokens_per_day)
    rpd_given = check_positive("requests_per_day", requests_per_day)
    per_day = rpd_given if rpd_given is not None else tokens_per_day
    if per_day is not None and not math.isfinite(float(per_day) * float(days)):
        raise InputConflictError(f"requests over the period overflow ({per_day:g} per day x {days:g} days); "
                                 "check the magnitudes")
    return Load(rpd_given, float(tokens_per_day) if tokens_per_day is not None else None,
                batch_assumed=batch_assumed, dedicated=dedicated)


def _evaluate(values: _Values, replica: _Replica, load: Load) -> tuple[dict[str, Range], str]:
    """Per-request figures (and, with a load, per-day ones) over all corners of the assumed ranges, and the regime
    of a decode step at the central values."""

    def run(p: Mapping[str, float]) -> dict[str, float]:
        return serve_point(p, replica.physics, load, replica.count, replica.chip.tdp_w)

    per_req = over_corners(values.central, values.ranges, run)
    mid = replica.physics({**values.central, "batch_size": per_req["batch_size"].value})
    regime = ("CPU-overhead-bound" if mid["t_floor_s"] > max(mid["t_mem_s"], mid["t_comp_s"])
              else "compute-bound" if mid["t_comp_s"] > mid["t_mem_s"] else "memory-bandwidth-bound")
    return per_req, regime


def _period(per_req: Mapping[str, Range], load: Load, days: float) -> _Period:
    """Requests, accelerator and host energy (J) and chip-seconds the footprint covers: ``days`` of the load, each
    corner with its own request count (tokens per day / its own lengths), or one request without a load."""
    if load.requests_per_day is not None or load.tokens_per_day is not None:
        acc_j, host_j, chip_s = (per_req[k] * float(days) for k in ("accelerator_j_day", "host_j_day", "chip_s_day"))
        period = _Period(per_req["requests_per_day"], per_req["requests_per_day"] * float(days), acc_j, host_j, chip_s)
    else:
        period = _Period(None, Range.exact(1.0), per_req["accelerator_j"], per_req["host_j"], per_req["chip_s"])
    if not all(math.isfinite(x.high) for x in (period.requests, period.accelerator_j, period.host_j, period.chip_s)):
        raise too_large()
    return period


def _footprint(per_req: Mapping[str, Range], period: _Period, chip: Chip, acc: Any, days: float,
               location: str | None, year: int | None, pue: float | str | Range | None, intensity: float | None,
               mix: str | dict[str, float] | None, market_intensity: float | None,
               assumptions: list[Assumption]) -> Footprint:
    """The period's energy through the site (PUE, grid intensity) and embodied emissions over its chip-hours; its
    ``details`` are filled in by _fill_details."""
    inten, pue_r, site_notes = resolve_site(location, year, pue, intensity, mix)
    assumptions.extend(site_notes)
    embodied, emb_notes = embodied_for(acc, 1, period.chip_s / 3600.0)  # chip-hours already count every accelerator
    assumptions.extend(emb_notes)
    assumptions.append(Assumption("host energy", "charged as the host ratio x accelerator energy, in 'other'",
                                  constants()["host_power_ratio"].source))
    wall_h = Range.exact(float(days) * 24.0) if period.requests_per_day is not None else per_req["latency_s"] / 3600.0
    return Footprint(
        energy_by_component={chip.component: ComponentEnergy(period.accelerator_j / J_PER_KWH, "modelled"),
                             "other": ComponentEnergy(period.host_j / J_PER_KWH, "modelled")},
        pue=pue_r, intensity=inten, embodied_co2e_kg=embodied, assumptions=assumptions, kind="inference",
        chip_hours=period.chip_s / 3600.0, wall_time_h=wall_h, details={},
        market_intensity_g_per_kwh=check_market_intensity(market_intensity))


def _fill_details(fp: Footprint, per_req: Mapping[str, Range], period: _Period, replica: _Replica, acc: Any,
                  prec: str, regime: str, days: float, dedicated: bool) -> Range:
    """Fill ``fp.details`` with the per-token, per-request (Wh, gCO2e) and, with a load, per-day and per-year
    figures; returns the CO2e of one request (g)."""
    it_req_j = per_req["accelerator_j"] + per_req["host_j"]
    fac_req_j = it_req_j * fp.pue
    # one request's CO2e from its own energy and chip-time (not the period's total over a ranged request count)
    embodied_req, _ = embodied_for(acc, 1, per_req["chip_s"] / 3600.0)
    co2e_req_g = (fac_req_j / J_PER_KWH * fp.intensity.g_per_kwh) + embodied_req * 1000.0
    rpd, n_requests = period.requests_per_day, period.requests
    details = fp.details
    details.update({
        "hardware": replica.chip.name,
        "accelerators_per_replica": replica.count,
        "precision": prec,
        "engine": replica.engine,
        "regime": regime,
        "batch_size": per_req["batch_size"],
        "period": f"{days:g} days at {rpd.value:.6g} requests/day" if rpd is not None else "one request",
        "requests": n_requests if not n_requests.is_exact else n_requests.value,
        # per token: each corner divides by its own token counts
        "energy_per_1k_tokens_wh": per_req["it_j_per_token"] * fp.pue * (1000.0 / J_PER_WH),  # input + output
        "energy_per_1k_output_tokens_wh": per_req["it_j_per_output_token"] * fp.pue * (1000.0 / J_PER_WH),
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
    return co2e_req_g


def _compare_training(details: dict[str, Any], training_co2e_kg: float | Range, co2e_req_g: Range) -> None:
    """Add the training footprint (kgCO2e) and the requests (and, with a load, days) after which serving has
    emitted as much.

    Each bound is taken at one consistent point of the serving model: requests = training / CO2e per request
    (the fewest at the corner with the most CO2e per request), days = training / CO2e per day (the fewest at the
    corner with the most CO2e per day). Days are not requests / requests per day: with a load in tokens per day the
    request count moves against the request's length (long requests: more CO2e each, fewer of them a day), and
    dividing the two ranges paired the most CO2e per request with the most requests a day, a corner that does not
    exist (a break-even days earlier than the highest daily CO2e allows)."""
    train = training_co2e_kg if isinstance(training_co2e_kg, Range) else Range.exact(
        check_positive("training_co2e_kg", training_co2e_kg) or 0.0)
    details["training_co2e_kg"] = train
    details["breakeven_requests"] = _breakeven(train, co2e_req_g)
    per_day = details.get("co2e_per_day_kg")
    if per_day is not None:
        details["breakeven_days"] = train / per_day


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
    inputs = _check_inputs(params, active_params, engine, attention, count, requests_per_day, tokens_per_day, days,
                           utilisation, dedicated)
    assumptions: list[Assumption] = []
    chip, prec, acc = resolve_chip(hardware, precision, check_positive("tdp_w", tdp_w), assumptions)
    weight_bytes, kv_bytes = stored_bytes(prec)
    values = _assume_values(inputs, prec, weight_bytes, input_tokens, output_tokens, batch_size, sliding_window,
                            window_layer_share, assumptions)
    load = _check_load(requests_per_day, tokens_per_day, inputs.days, batch_assumed=batch_size is None,
                       dedicated=inputs.dedicated)
    replica = _size_for_load(values, inputs, chip, weight_bytes, kv_bytes, load)
    assumptions.extend(_engine_notes(inputs))
    fit_batch_to_memory(values.central, values.ranges, batch_size is not None, chip, replica.count, inputs.engine,
                        inputs.attention, weight_bytes, kv_bytes, assumptions)
    per_req, regime = _evaluate(values, replica, load)
    period = _period(per_req, load, inputs.days)
    if period.requests_per_day is not None:
        assumptions.extend(load_notes(per_req, values.central, load, constants(), replica.count, chip.name,
                                      utilisation_given=inputs.utilisation is not None))
    fp = _footprint(per_req, period, chip, acc, inputs.days, location, year, pue, intensity, mix, market_intensity,
                    assumptions)
    co2e_req_g = _fill_details(fp, per_req, period, replica, acc, prec, regime, inputs.days, inputs.dedicated)
    if training_co2e_kg is not None:
        _compare_training(fp.details, training_co2e_kg, co2e_req_g)
    return check_finite(fp)


def _breakeven(training_kg: Range, per_request_g: Range) -> Range:
    """Requests after which serving at ``per_request_g`` gCO2e each has emitted ``training_kg`` kgCO2e."""
    return training_kg * 1000.0 / per_request_g


def breakeven_requests(training: Footprint, inference: Footprint) -> Range:
    """After how many requests serving has emitted as much CO2e (operational + embodied) as training did."""
    per_req = inference.details.get("co2e_per_request_g")
    if not isinstance(per_req, Range):
        raise WattprintError("the inference footprint has no per-request CO2e; make it with estimate_inference()")
    return _breakeven(training.total_co2e_kg, per_req)
