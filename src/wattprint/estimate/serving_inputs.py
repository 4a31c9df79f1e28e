"""The serving estimate's inputs: the user's model, engine, period and load, checked against each other, and the
values the model is evaluated at (the given ones, and for the rest the sourced constants of
``inference_model.csv`` with their ranges and the assumptions that say where each comes from).

Units: parameter counts are absolute (7B = 7e9), request lengths and batches in tokens and sequences, the period
in days, loads in requests or tokens (input + output) per day, utilisations and shares in (0, 1].
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from ..errors import InputConflictError, UnknownNameError, shown
from ..footprint import Assumption
from .common import (
    ATTENTION,
    both_names,
    check_chips_at_once,
    check_count_at_least,
    check_positive,
    check_share,
    flag,
    number_text,
)
from .engines import ENGINE_NAMES, ENGINES, engine_names_help
from .model_preset import ContextWindow
from .roofline import shared_from_expert_counts
from .serving_constants import DAYS_PER_YEAR, constants
from .serving_load import Load

_LENGTHS = ("input_tokens", "output_tokens")  # a request's lengths, in tokens: what a context window bounds

# an input check, not data: fewer parameters than this is a count that lost its suffix (7 for 7B), not an LLM. The
# smallest published language models have a few million (the TinyStories models, Eldan & Li 2023: coherent English
# below 10 million parameters; Pythia's smallest, 14M); a million stays below all of them
MIN_LLM_PARAMS = 1e6
# an input check, not data: a period of serving longer than this is days in the wrong unit (a year in seconds is
# 31,536,000 "days"), not a service. Electronic computers are younger than a century (ENIAC, 1945), so no service
# has run that long; the bound stays above any planned one, and a century is a clean figure to state
MAX_SERVING_YEARS = 100.0


@dataclass(frozen=True)
class Inputs:
    """The user's model, engine and period inputs, checked and normalised (None: not given)."""

    params: float
    active_params: float
    engine: str  # "optimised" or "eager"
    attention: str  # "gqa", "mqa" or "mha"
    attention_given: bool  # a non-default attention the user named
    count: int | None  # accelerators per replica
    days: float  # days of serving the footprint covers (with a load)
    utilisation: float | None  # busy share of provisioned time
    dedicated: bool
    engine_named: str | None = None  # the serving stack the user named ("vllm"), where not the class itself
    attention_of: str | None = None  # the named model whose attention this is


@dataclass
class Values:
    """The model's parameter values: central values, the (low, high) ranges of those the user did not give, and the
    assumptions that say where each assumed one comes from."""

    central: dict[str, float]
    ranges: dict[str, tuple[float, float]]
    assumptions: list[Assumption]

    def take(self, name: str, given: float | None, what: str, const: str | None = None,
             integer: bool = False) -> None:
        """The given value (checked) or else the sourced constant ``const`` (default ``name``) and its range."""
        value = check_positive(both_names(name), given, integer=integer)
        if value is not None:
            self.central[name] = value
            return
        k = constants()[const or name]
        self.central[name] = k.value
        self.ranges[name] = (k.low, k.high)
        self.assumptions.append(k.assumption(what))


def check_params(name: str, value: Any) -> float | None:
    """A parameter count (None passes through): a count (check_count), and at least MIN_LLM_PARAMS, since fewer is
    a count that lost its suffix ("7" for 7B) rather than a language model."""
    return check_count_at_least(name, value, MIN_LLM_PARAMS, "far fewer parameters than any language model (the "
                                "smallest published have a few million)", "7B = 7e9, 125M = 1.25e8")


def check_inputs(params: float | None, active_params: float | None, engine: str, attention: str, count: int | None,
                 requests_per_day: float | None, tokens_per_day: float | None, days: float | None,
                 utilisation: float | None, dedicated: bool, attention_of: str | None = None) -> Inputs:
    """The model size (parameter counts), engine, attention (``attention_of``: the named model it is from), replica
    count, period (days) and utilisation, checked against each other; the load itself is checked once the batch is
    known (check_load)."""
    n_total = check_params(both_names("params"), params)
    if n_total is None:
        raise InputConflictError("--params (params=..., the model's total parameters) or --model (model=..., a "
                                 "published model's name, e.g. 'Llama-3.1-8B') is required")
    n_act = check_params(both_names("active_params"), active_params) or n_total
    if n_act > n_total:
        raise InputConflictError(f"{both_names('active_params')} {number_text(n_act)} cannot exceed "
                                 f"{both_names('params')} {number_text(n_total)}")
    for name, value, names in (("engine", engine, ENGINES), ("attention", attention, ATTENTION)):
        if value is not None and not isinstance(value, str):  # attention=0 read as the default, yet "given"
            raise InputConflictError(f"{both_names(name)} must be a name ({' or '.join(names)}), got {shown(value)}")
    # None or blank: the default
    engine = ((engine or "").strip() or "optimised").lower().replace("optimized", "optimised")
    named = re.sub(r"[\s_]+", "-", engine)
    engine_named = named if named in ENGINE_NAMES else None
    engine = ENGINE_NAMES.get(named, engine)
    attention = ((attention or "").strip() or "gqa").lower()
    attention_given = attention != "gqa" and attention_of is None
    if engine not in ENGINES:
        raise UnknownNameError("engine", engine, [*ENGINES, *ENGINE_NAMES],
                               hint=f"use one of {', '.join(ENGINES)} or a stack's name ({engine_names_help()})")
    if attention == "mla":  # the cache is a latent whose width the parameter counts do not give
        raise InputConflictError("--attention (attention) 'mla' (multi-head latent attention) needs the model's "
                                 "latent cache shape: give --model with a latent-attention model (DeepSeek-V3, "
                                 "Kimi-K2: see `wattprint data models`), or one of "
                                 f"{', '.join(ATTENTION)} for an approximation")
    if attention not in ATTENTION:
        raise UnknownNameError("attention", attention, ATTENTION, hint=f"use one of {', '.join(ATTENTION)}")
    count_i = check_positive(both_names("count"), count, integer=True)
    check_chips_at_once("--count (count, accelerators per replica)", count_i)
    if requests_per_day is not None and tokens_per_day is not None:
        raise InputConflictError(f"give either {both_names('requests_per_day')} or {both_names('tokens_per_day')}, "
                                 "not both")
    if days is not None and requests_per_day is None and tokens_per_day is None:
        raise InputConflictError(f"{both_names('days')} needs a load to serve: --requests-per-day or "
                                 "--tokens-per-day (requests_per_day=... or tokens_per_day=...); without one the "
                                 "footprint covers one request")
    period_days = check_positive(both_names("days"), days) or DAYS_PER_YEAR  # None: the default year
    if period_days > MAX_SERVING_YEARS * DAYS_PER_YEAR:
        raise InputConflictError(
            f"--days (days) {number_text(period_days)} of serving is {period_days / DAYS_PER_YEAR:.3g} years, more "
            f"than the {MAX_SERVING_YEARS:g} an estimate accepts (no computing service has run that long): check "
            "--days (days of serving, not hours or seconds)")
    share = check_share(both_names("utilisation"), utilisation)
    if not isinstance(dedicated, bool):
        raise InputConflictError(f"{both_names('dedicated')} must be True or False, got {dedicated!r}")
    if dedicated and share is not None:
        raise InputConflictError(f"give either {both_names('utilisation')} or --dedicated (dedicated=True), not both "
                                 "(dedicated replicas set the utilisation)")
    if dedicated and requests_per_day is None and tokens_per_day is None:
        raise InputConflictError("--dedicated (dedicated=True) needs a load to serve: --requests-per-day or "
                                 "--tokens-per-day (requests_per_day=... or tokens_per_day=...)")
    return Inputs(n_total, n_act, engine, attention, attention_given, int(count_i) if count_i else None,
                  period_days, share, dedicated, engine_named, attention_of)


def assume_values(inputs: Inputs, prec: str, weight_bytes: float, input_tokens: float | None,
                  output_tokens: float | None, batch_size: float | None, sliding_window: int | None,
                  window_layer_share: float | None, experts: tuple[int, int] | None,
                  assumptions: list[Assumption], kv_widths: float | None = None,
                  layers: int | None = None, context: ContextWindow | None = None) -> Values:
    """The point the model is evaluated at: the given values, and for the rest the sourced constants with their
    ranges (request lengths in tokens, batch, achievable utilisations, power fractions, host ratio, model shape)."""
    window = check_positive("--sliding-window (sliding_window, tokens)", sliding_window, integer=True)
    given_share = check_share(both_names("window_layer_share"), window_layer_share)
    if given_share is not None and window is None:
        raise InputConflictError(f"{both_names('window_layer_share')} needs --sliding-window (sliding_window=..., the "
                                 "window's length in tokens)")
    share = given_share if given_share is not None else 1.0
    central: dict[str, float] = {"params": inputs.params, "active_params": inputs.active_params,
                                 "utilisation": inputs.utilisation or 1.0,
                                 "sliding_window": window or 0.0, "window_layer_share": share if window else 0.0}
    if window:
        assumptions.append(Assumption(
            "sliding-window attention", f"{window:g} tokens in {share:.3g} of the layers", "given by the user",
            "those layers keep K/V for, and attend to, at most the last window of tokens"))
    values = Values(central, {}, assumptions)
    # whole tokens, at least one each (a request of 0.5 tokens is a slip; check_positive's integer check)
    values.take("input_tokens", input_tokens, "input tokens per request", "default_input_tokens", integer=True)
    values.take("output_tokens", output_tokens, "output tokens per request", "default_output_tokens", integer=True)
    values.take("batch_size", batch_size, "batch size (concurrent sequences per replica)", "default_batch_size",
                integer=True)
    if context is not None:
        fit_context(values, context)
    longest = constants()["max_context_tokens"]
    if central["input_tokens"] + central["output_tokens"] > longest.value:
        raise InputConflictError(
            f"{tokens_text(central['input_tokens'] + central['output_tokens'])} tokens per request (input + output) "
            f"is longer than any published model's context window ({longest.value:,.0f} tokens, Llama 4 Scout); "
            "check --input-tokens / --output-tokens")
    for name, what in (("mem_bw_utilisation", "achievable memory-bandwidth utilisation"),
                       ("compute_utilisation", "achievable compute utilisation"),
                       ("power_fraction_memory_bound", "power while memory-bound (fraction of TDP)"),
                       ("power_fraction_compute_bound", "power while compute-bound (fraction of TDP)"),
                       ("idle_power_fraction", "power while waiting (fraction of TDP)"),
                       ("host_power_ratio", "host energy / accelerator energy"),
                       ("layers_aspect_ratio", "d_model / n_layers (model shape)")):
        values.take(name, None, what)
    if inputs.active_params < inputs.params:
        take_moe_split(values, inputs, experts, weight_bytes, prec)
    if layers:  # a named model's own depth (the model assumption cites it), for the per-layer launch overhead
        central["n_layers"] = float(layers)
    if kv_widths:  # a named model's own KV shape (the model assumption cites it): no assumed width
        central["kv_widths"] = kv_widths
        central["kv_dim_gqa"] = 0.0
    elif inputs.attention == "gqa":
        values.take("kv_dim_gqa", None, "KV width per layer (grouped-query attention)")
    elif inputs.attention == "mqa":  # one K/V head: the same slot, its own sourced width
        values.take("kv_dim_gqa", None, "KV width per layer (multi-query attention: one K/V head)", "kv_dim_mqa")
    else:
        central["kv_dim_gqa"] = 0.0
    return values


def tokens_text(n: float) -> str:
    """A token count as people write it (12,345), or in powers of ten where it runs past any context (1e+300)."""
    return f"{n:,.0f}" if n < 1e15 else f"{n:.3g}"


def fit_context(values: Values, window: ContextWindow) -> None:
    """Request lengths against a named model's context window. Assumed lengths (defaults) are cut to fit it: to
    the shipped window where the given ones leave room for the assumed ranges' low ends, else to the most any
    release allows where they leave that room there, else to whichever leaves one token each; first their ranges'
    high ends, then, if need be, their central values. Then given lengths longer than any release of the model
    allows -> an error; longer than its shipped config allows -> an assumption that says what it takes."""
    central, ranges = values.central, values.ranges
    assumed: list[str] = [n for n in _LENGTHS if n in ranges]
    given = sum(central[n] for n in _LENGTHS if n not in ranges)
    caps = [c for c in (window.tokens, window.most) if c is not None]
    lows = given + sum(ranges[n][0] for n in assumed)
    # the assumed lengths keep their ranges' low ends where any window allows (a long prompt given for a model with
    # an extension takes the extension, not a one-token answer); else one token each
    cap = next((c for c in caps if lows <= c), None) or next((c for c in caps if given + len(assumed) <= c), None)
    if cap is not None and assumed:
        _cut_assumed_lengths(values, assumed, cap, window)
    total = central["input_tokens"] + central["output_tokens"]
    parts = " + ".join(f"{n.split('_')[0]} {tokens_text(central[n])}{' assumed' if n in ranges else ''}"
                       for n in _LENGTHS)
    length = f"{tokens_text(total)} tokens per request ({parts})"
    if window.most is not None and total > window.most:
        shipped = f" ({window.tokens:,} as shipped)" if window.tokens != window.most else ""
        if assumed and given >= window.most:  # the given lengths alone fill it: the assumed ones are not the slip
            said = " + ".join(f"{n.split('_')[0]} {tokens_text(central[n])}" for n in _LENGTHS
                              if n not in ranges)
            verb, free = "leave" if " + " in said else "leaves", " or ".join(n.split("_")[0] for n in assumed)
            lower = " / ".join(flag(n) for n in _LENGTHS if n not in ranges)  # the given ones: one, or both
            raise InputConflictError(
                f"{said} given {verb} no room for any {free} in "
                f"{window.model}'s context window of {window.most:,} tokens{shipped}; lower {lower}, or give the "
                "parameter counts instead of the model for a long-context derivative of it")
        raise InputConflictError(
            f"{length} do not fit {window.model}'s context window of {window.most:,} tokens{shipped}; lower "
            "--input-tokens / --output-tokens, or give the parameter counts instead of the model for a long-context "
            "derivative of it")
    if total > window.tokens:
        what = ("its positions (ALiBi) have no hard limit, but it was trained on no longer sequences"
                if window.most is None else f"it takes a release or setting that allows up to {window.most:,} "
                "(rope scaling such as YaRN, or the long-context release under the same name); see the source")
        values.assumptions.append(Assumption(
            "context window", f"{length} > {window.model}'s {window.tokens:,} as shipped", window.source, what))


def _cut_assumed_lengths(values: Values, assumed: list[str], cap: int, window: ContextWindow) -> None:
    """Cut the assumed request lengths so that input + output stays within ``cap`` tokens: the high ends first,
    then the central values (towards the low ends), each in proportion to how far it reaches; said in each one's
    assumption."""
    central, ranges = values.central, values.ranges
    total = central["input_tokens"] + central["output_tokens"]
    cut: list[str] = []
    if total > cap:  # the central values too: towards their low ends, below them only if the given ones leave less
        room = cap - sum(central[n] for n in _LENGTHS if n not in assumed)
        lows = sum(ranges[n][0] for n in assumed)
        for n in assumed:
            low = ranges[n][0]
            if room >= lows:
                above = sum(central[m] - ranges[m][0] for m in assumed)
                central[n] = math.floor(low + (central[n] - low) * (room - lows) / above)
            else:
                central[n] = max(1, math.floor(low * room / lows))
            ranges[n] = (min(low, central[n]), central[n])
            cut.append(n)
        total = central["input_tokens"] + central["output_tokens"]
    spread = sum(ranges[n][1] - central[n] for n in assumed)
    if spread > 0 and total + spread > cap:
        keep = max(0.0, cap - total) / spread
        for n in assumed:
            ranges[n] = (ranges[n][0], central[n] + (ranges[n][1] - central[n]) * keep)
            cut.append(n)
    why = (f"cut so that input + output stays within {window.model}'s {cap:,}-token context window "
           f"[{window.source}]")
    for n in set(cut):
        restate_length(values.assumptions, n, central[n], *ranges[n], why)


def restate_length(assumptions: list[Assumption], name: str, value: float, low: float, high: float,
                   why: str) -> None:
    """Restate the assumption of an assumed request length (``name``: input_tokens or output_tokens) at the value
    and range (tokens) the model now computes with, and say ``why`` in its note."""
    what = f"{name.replace('_', ' ')} per request"
    shown = [tokens_text(x) for x in (value, low, high)]
    text = (shown[0] if shown[0] == shown[1] == shown[2] else f"{shown[0]} ({shown[1]}–{shown[2]})") + \
        " tokens per request"
    assumptions[:] = [replace(a, value=text, note=f"{a.note.rstrip('. ')}; {why}") if a.what == what else a
                      for a in assumptions]


_EXPERTS = "--experts (experts, routed experts per MoE layer)"
_EXPERTS_PER_TOKEN = "--experts-per-token (experts_per_token, routed experts each token uses)"


def check_experts(inputs: Inputs, experts: Any, experts_per_token: Any) -> tuple[int, int] | None:
    """(routed experts per MoE layer E, routed experts per token k), checked against the parameter counts, or None
    when neither is given. The counts must leave the shared weights, (E x active - k x total) / (E - k), at zero
    or more: k/E of all the parameters per token beyond the active ones is a conflict. And each routed expert must
    hold a parameter: the routed weights, E x (total - active) / (E - k), over E experts leave each
    (total - active) / (E - k), so E is at most total - active + k (1e30 experts were taken without a word)."""
    if experts is None and experts_per_token is None:
        return None
    if experts is None or experts_per_token is None:
        raise InputConflictError(f"give both {_EXPERTS} and {_EXPERTS_PER_TOKEN}, e.g. 128 and 8")
    e = check_positive(_EXPERTS, experts, integer=True) or 0.0
    k = check_positive(_EXPERTS_PER_TOKEN, experts_per_token, integer=True) or 0.0
    if inputs.active_params >= inputs.params:
        raise InputConflictError("--experts and --experts-per-token (experts, experts_per_token) describe an MoE: "
                                 "give --active-params (active_params=..., parameters active per token) below "
                                 "--params as well")
    if k >= e:
        raise InputConflictError(f"{both_names('experts_per_token')} {k:g} must be fewer than {both_names('experts')} "
                                 f"{e:g}")
    t, a = inputs.params, inputs.active_params
    if (t - a) / (e - k) < 1.0:
        raise InputConflictError(
            f"experts {e:g} leaves each routed expert (params - active_params) / (experts - experts_per_token) = "
            f"{(t - a) / (e - k):.3g} parameters, under one: at most {t - a + k:.4g} experts fit {t:g} parameters "
            f"with {a:g} active; check --experts (routed experts per MoE layer, e.g. 128)")
    # active = shared + k/E x (total - shared), so k/E x total <= active (equal with no shared weights); a little
    # slack, as published counts are rounded (Mixtral 46.7B / 12.9B)
    if k / e * t > 1.05 * a:
        raise InputConflictError(
            f"{k:g} of {e:g} experts per token from {t:g} parameters is {k / e * t:.4g} parameters per token even "
            f"with no shared weights, more than the {a:g} active; check --params, --active-params, --experts and "
            "--experts-per-token (params, active_params, experts, experts_per_token)")
    return int(e), int(k)


def take_moe_split(values: Values, inputs: Inputs, experts: tuple[int, int] | None, weight_bytes: float,
                   prec: str) -> None:
    """The MoE's shared share of the active parameters (weights every token reads: attention, embeddings, shared
    experts, dense layers), from the given expert counts or else the sourced constant with its range; with
    sub-16-bit weights also the share of the byte saving the expert kernels realise."""
    t, a = inputs.params, inputs.active_params
    if experts is not None:
        e, k = experts
        share = min(max(shared_from_expert_counts(t, a, e, k) / a, 0.0), 1.0)
        values.central["moe_shared_share"] = share
        values.assumptions.append(Assumption(
            "MoE shared weights (read once per step)", f"{share:.3g} of the active parameters ({share * a:.3g})",
            "derived from the given counts: (experts x active - experts_per_token x params) / (experts - "
            "experts_per_token)", "the rest of the weights are routed experts, read only where the batch routes"))
    else:
        values.take("moe_shared_share", None, "MoE shared weights (share of the active parameters every token "
                    "reads: attention, embeddings, shared experts, dense layers)")
    if weight_bytes < 2.0:
        values.take("moe_low_bit_saving_realised", None,
                    f"share of the {prec} byte saving an MoE's expert kernels realise")


def engine_notes(inputs: Inputs) -> list[Assumption]:
    """Assumptions about how the model is served: its attention, the engine and a given utilisation."""
    if inputs.attention_of is not None:
        attention_source = f"model {inputs.attention_of!r} (its configuration's K/V heads)"
    elif inputs.attention_given:
        attention_source = "given by the user"
    else:
        attention_source = ("Llama 3 / Mistral / Qwen2 model cards (2024): grouped-query attention; Touvron et al. "
                            "2023 (Llama 2): GQA only at 34B/70B, so 7B/13B keep multi-head attention")
    shown = inputs.attention
    if inputs.attention_of is not None:
        from ..data.models import find_model

        if find_model(inputs.attention_of).spec.latent_attention:  # its card's name, not the cache shape it is run as
            shown = "mla (multi-head latent attention: served as gqa with its latent KV cache)"
    notes = [Assumption("attention", shown, attention_source,
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
    shown_engine = inputs.engine + (f" (as {inputs.engine_named!r})" if inputs.engine_named else "")
    notes.append(Assumption("serving engine", shown_engine, engine_source, engine_note))
    if inputs.utilisation is not None:
        notes.append(Assumption("utilisation of provisioned capacity", f"{inputs.utilisation:g}",
                                "given by the user", "idle share draws idle power and counts for embodied"))
    return notes


def check_load(requests_per_day: float | None, tokens_per_day: float | None, days: float, batch_assumed: bool,
               dedicated: bool) -> Load:
    """The load (requests or input + output tokens per day), checked, and that its total over ``days`` is finite."""
    if tokens_per_day is not None:
        check_positive(both_names("tokens_per_day"), tokens_per_day)
    rpd_given = check_positive(both_names("requests_per_day"), requests_per_day)
    per_day = rpd_given if rpd_given is not None else tokens_per_day
    if per_day is not None and not math.isfinite(float(per_day) * float(days)):
        raise InputConflictError(f"requests over the period overflow ({per_day:g} per day x {days:g} days); "
                                 "check the magnitudes")
    return Load(rpd_given, float(tokens_per_day) if tokens_per_day is not None else None,
                batch_assumed=batch_assumed, dedicated=dedicated)
