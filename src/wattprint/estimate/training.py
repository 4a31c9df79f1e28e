"""Predict the footprint of a training run before it runs.

    compute    C = training FLOPs, or 6 x N_active x D (params x tokens)
    chip-hours = given, or count x days x 24, or C / (peak FLOP/s x MFU x 3600)
    IT energy  = chip-hours x (accelerator W + host W per accelerator) / 1000     (kWh, before PUE)
                 or chip-hours x power_w / 1000 when the all-in power per chip is given
    then the footprint model: x PUE -> x grid intensity -> operational CO2e; + embodied (amortised).

For fixed hardware, count, precision and site, everything is linear in C.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import InputConflictError, WattprintError
from ..footprint import Assumption, ComponentEnergy, Footprint
from ..quantities import Range
from . import utilisation
from .common import (
    check_board_power,
    check_count,
    check_finite,
    check_low_power,
    check_market_intensity,
    check_positive,
    component_key,
    embodied_for,
    idle_fraction,
    resolve_site,
    too_large,
)

HOURS_PER_DAY = 24.0
SECONDS_PER_HOUR = 3600.0
FLOPS_PER_PARAM_TOKEN = 6  # forward 2 + backward 4 multiply-adds per parameter per token (Kaplan et al. 2020)
# causal attention, forward + backward, per layer, model width and token of context (derivation in _attention_flops)
ATTENTION_FLOPS_PER_LAYER_WIDTH_TOKEN = 6.0
CONSISTENCY_TOLERANCE = 0.01  # relative mismatch allowed between chip-hours and count x days x 24
# Given FLOPs below this fraction of 6·N·D contradict the model size and tokens: the model FLOPs of a transformer
# are at least ~6·N·D, and counting N without the embeddings (as some papers do) lowers it by ~20-40% at most.
MIN_FLOPS_OVER_6ND = 0.5
# ... and above this multiple they contradict them too: attention adds at most 12·L·d·T per token (PaLM, Chowdhery
# et al. 2022, App. B, without the causal half that _attention_flops takes), which for a ~1B model (16 layers x
# 2048) at a 128k context brings the total to ~8x 6·N·D, and counting full activation recomputation adds a third
# (~11x); nothing published lies further above 6·N·D.
MAX_FLOPS_OVER_6ND = 12.0
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8")


def _peak(acc: Any, variants: list[Any], precision: str) -> Range:
    """Dense peak FLOP/s at ``precision``: the chosen chip, with a range over the variants a family covers."""
    central = acc.peak_flops(precision)
    vals = [central]
    for v in variants:
        try:
            vals.append(v.peak_flops(precision))
        except WattprintError:
            continue
    return Range(central, min(vals), max(vals))


def _tdp(acc: Any, variants: list[Any]) -> Range | None:
    if acc.tdp_w is None:
        return None
    vals = [acc.tdp_w] + [v.tdp_w for v in variants if v.tdp_w is not None]
    return Range(acc.tdp_w, min(vals), max(vals))


def _attention_flops(n_active: float, tokens: float, seq_len: float) -> tuple[float, Assumption]:
    """Causal self-attention's training FLOPs, which 6·N·D leaves out: per token and layer, QK^T and AV over on
    average half the context, 2·2·d·seq/2 forward, x3 with the backward pass: 6·L·d·seq per token (PaLM, Chowdhery
    et al. 2022, App. B counts 12·L·d·seq without the causal half). L and d come from an assumed model shape."""
    from .inference import constants, transformer_shape

    aspect = constants()["layers_aspect_ratio"]
    d_model, n_layers = transformer_shape(n_active, aspect.value)
    extra = ATTENTION_FLOPS_PER_LAYER_WIDTH_TOKEN * n_layers * d_model * seq_len * tokens
    return extra, Assumption(
        "attention compute",
        f"{extra:.4g} FLOP = {ATTENTION_FLOPS_PER_LAYER_WIDTH_TOKEN:g} x {n_layers:.0f} layers x {d_model:.0f} width "
        f"x {seq_len:.4g} context x {tokens:.4g} tokens",
        "Chowdhery et al. 2022, 'PaLM', App. B (attention FLOPs), causal half",
        f"layers and width from {n_active:.4g} active parameters at d_model / n_layers = {aspect.value:g} "
        f"({aspect.source}); the MFU model was fitted on 6·N·D, so at a short context this counts the attention its "
        "trainings already absorbed a little twice")


def _flops(
    flops: float | None, params: float | None, active: float | None, tokens: float | None,
    seq_len: float | None = None,
) -> tuple[float | None, float | None, list[Assumption]]:
    """(training FLOPs, active parameters, notes); FLOPs None when neither FLOPs nor params x tokens are given.
    ``seq_len`` (training context) adds causal attention's FLOPs to 6·N·D."""
    notes: list[Assumption] = []
    if seq_len is not None and flops is not None:
        raise InputConflictError("a context length adds attention FLOPs to 6 x parameters x tokens; with --flops, "
                                 "give the total (attention included) instead")
    if active is not None and params is not None and active > params:
        raise InputConflictError(f"active parameters ({active:.4g}) exceed total parameters ({params:.4g})")
    n_active = active if active is not None else params
    what = "active parameters" if active is not None else "parameters"
    if flops is not None:
        if n_active is None or tokens is None:
            return flops, n_active, [Assumption("training compute", f"{flops:.4g} FLOP", "given by the user")]
        six_nd = FLOPS_PER_PARAM_TOKEN * n_active * tokens
        if not math.isfinite(six_nd):
            raise too_large()
        ratio = flops / six_nd
        if ratio < MIN_FLOPS_OVER_6ND:
            raise InputConflictError(
                f"FLOPs ({flops:.4g}) are {ratio:.2g}x 6 x {what} x tokens ({six_nd:.4g}): a transformer's training "
                "compute is at least about that; check the units"
                + ("" if active is not None else ", or give --active-params for an MoE")
            )
        if ratio > MAX_FLOPS_OVER_6ND:
            raise InputConflictError(
                f"FLOPs ({flops:.4g}) are {ratio:.3g}x 6 x {what} x tokens ({six_nd:.4g}): even long-context "
                f"attention and recomputation stay below {MAX_FLOPS_OVER_6ND:g}x; check the units, or give "
                "FLOPs or parameters x tokens, not both"
            )
        return flops, n_active, [Assumption(
            "training compute", f"{flops:.4g} FLOP (given; {ratio:.3g}x 6 x {what} x tokens = {six_nd:.4g})",
            "given by the user",
            "the given FLOPs are used and the tokens only checked against them; FLOPs above 6ND come from attention "
            "at long context or from counting recomputation",
        )]
    if n_active is not None and tokens is not None:
        c = FLOPS_PER_PARAM_TOKEN * n_active * tokens
        if not math.isfinite(c):
            raise too_large()
        notes.append(
            Assumption(
                "training compute",
                f"{c:.4g} FLOP = 6 x {n_active:.4g} {what} x {tokens:.4g} tokens",
                "Kaplan et al. 2020, 'Scaling Laws for Neural Language Models' (C = 6ND)",
                "ignores attention FLOPs (small below ~8k context; give --seq-len to add them)"
                if seq_len is None else "the weights' matrix products",
            )
        )
        if seq_len is not None:
            extra, note = _attention_flops(n_active, tokens, seq_len)
            if not math.isfinite(extra):
                raise too_large()
            ratio = (c + extra) / c
            if ratio > MAX_FLOPS_OVER_6ND:
                raise InputConflictError(
                    f"a {seq_len:.4g}-token context adds attention FLOPs ({extra:.4g}) that bring the total to "
                    f"{ratio:.3g}x 6 x {what} x tokens: even long-context trainings stay below "
                    f"{MAX_FLOPS_OVER_6ND:g}x; check the units (--seq-len is the context in tokens, e.g. 8192 or 128k)")
            notes.append(note)
            c += extra
        return c, n_active, notes
    if seq_len is not None:
        raise InputConflictError("a context length needs --params and --tokens (attention FLOPs scale with both)")
    if tokens is not None and n_active is None:
        raise InputConflictError("tokens given without parameters: add --params (and --active-params for MoE)")
    if n_active is not None and tokens is None and params is not None:
        raise InputConflictError("parameters given without tokens: add --tokens (or give --flops)")
    return None, n_active, notes


def _unusual_mfu(mfu: float, precision: str, what: str, source: str) -> list[Assumption]:
    """A note when an MFU lies outside the fitted model's bounds, where every published training lies."""
    low, high = utilisation.model_table()["mfu"]["bounds"]
    if low <= mfu <= high:
        return []
    return [Assumption(what, f"{mfu:.3g} of the {precision} peak", source,
                       f"outside {low:g}-{high:g}, where every published training in the fit lies: check the units "
                       "(or the run idled most of its hours)")]


# input checks, not data: how far past a datasheet limit a figure may go before it is taken for a unit slip
SLIP_OVER_RATED_SERVER = 2.0  # all-in W per chip vs the server's rated maximum per accelerator
SLIP_OVER_TDP = 1.5  # a power fraction of TDP vs the TDP itself (85 % typed as 85)


def _check_all_in_power(power_w: float, acc: Any, variants: list[Any]) -> list[Assumption]:
    """An all-in power per chip above its server's rated maximum per accelerator gets a note; more than twice that
    (a node's power given as a chip's, kW as W ...) is an error. A chip without a published TDP is checked against
    the catalogue's span of TDPs, as a given board power is."""
    tdp = _tdp(acc, variants)
    if tdp is None:
        return check_board_power(power_w, acc, "--power-w (per chip, all-in)")
    rated = utilisation.rated_server_watts_per_accelerator(acc.family, tdp.high)
    if power_w > SLIP_OVER_RATED_SERVER * rated:
        raise InputConflictError(
            f"--power-w {power_w:g} W per chip is more than {SLIP_OVER_RATED_SERVER:g}x the most a {acc.name} "
            f"server is rated to draw per accelerator (~{rated:.0f} W, host included): give the average power of one "
            "chip with its share of the host, not of a whole node")
    if power_w > rated:
        return [Assumption("average power per chip (all-in)", f"{power_w:g} W", "given by the user",
                           f"above the ~{rated:.0f} W a {acc.name} server is rated to draw per accelerator at most; "
                           "if the figure includes the facility overhead, give it without and pass --pue")]
    return check_low_power("--power-w", power_w, tdp, acc.name)


def _check_power_fraction(fraction: float) -> list[Assumption]:
    """A power fraction of TDP above 1 is possible only past a raised power limit; far above is a unit slip. Below
    a waiting chip's idle draw is noted."""
    if fraction > SLIP_OVER_TDP:
        raise InputConflictError(
            f"power fraction {fraction:g} is a fraction of TDP (boards hold their average power at or below their "
            f"power limit, the TDP by default); for 85 % write 0.85")
    idle = idle_fraction().low
    if fraction < idle:
        return [Assumption("power fraction (given)", f"{fraction:g} x TDP", "given by the user",
                           f"below the {idle:g} x TDP a powered accelerator draws idle: check it is a fraction, "
                           "not a percentage or a share of a node")]
    return []


def _chip_hours(
    chip_hours: float | None, count: float | None, days: float | None
) -> tuple[float | None, float | None, list[Assumption]]:
    """(chip-hours, count, notes) from what was given; checks count x days against chip-hours."""
    notes: list[Assumption] = []
    if chip_hours is not None and count is not None and days is not None:
        implied = count * days * HOURS_PER_DAY
        if abs(implied - chip_hours) > CONSISTENCY_TOLERANCE * chip_hours:
            raise InputConflictError(
                f"chip-hours ({chip_hours:.6g}) contradict count x days x 24 ({count:.6g} x {days:.6g} x 24 "
                f"= {implied:.6g}); give two of the three"
            )
    if chip_hours is not None:
        notes.append(Assumption("chip-hours", f"{chip_hours:.6g}", "given by the user"))
        if count is None and days is not None:
            # the average number of chips busy, not a count of chips (it need not be whole)
            count = chip_hours / (days * HOURS_PER_DAY)
            what = "average chips busy"
            if count < 1:
                notes.append(Assumption(what, f"{count:.3g} = chip-hours / (days x 24)", "implied",
                                        "under one chip busy over the whole period: the wall time is the days given, "
                                        "the chips were idle or off for part of it (idle time is not counted)"))
            else:
                notes.append(Assumption(what, f"{count:.4g} = chip-hours / (days x 24)", "implied"))
        return chip_hours, count, notes
    if count is not None and days is not None:
        ch = count * days * HOURS_PER_DAY
        notes.append(Assumption("chip-hours", f"{ch:.6g} = {count:.6g} chips x {days:.6g} days x 24", "given"))
        return ch, count, notes
    return None, count, notes


def estimate_training(
    *,
    flops: float | None = None,
    params: float | None = None,
    active_params: float | None = None,
    tokens: float | None = None,
    chip_hours: float | None = None,
    days: float | None = None,
    hardware: str | None = None,
    count: float | None = None,
    precision: str | None = None,
    mfu: float | None = None,
    power_fraction: float | None = None,
    power_w: float | None = None,
    pue: float | str | Range | None = None,
    location: str | None = None,
    year: int | None = None,
    intensity: float | None = None,
    mix: str | dict[str, float] | None = None,
    moe: bool | None = None,
    market_intensity: float | None = None,
    seq_len: float | None = None,
) -> Footprint:
    """Footprint of a training run (kind="training") with ranges and the assumptions behind it.

    Any consistent subset of: ``flops`` (FLOP); ``params`` (+ ``active_params`` for MoE) and ``tokens``;
    ``chip_hours``; ``count`` x ``days``. ``hardware`` is a forgiving chip name ("A100", "H100 SXM",
    "TPU v4"); ``count`` chips as the catalogue counts them. ``mfu`` (0-1, of the dense peak at
    ``precision``) defaults to the fitted model; ``power_fraction`` (of TDP, accelerator only) defaults per
    family and gets host power added per server; ``power_w`` is the all-in average W per chip as papers
    state it (replaces both). ``pue``: number or preset name. Site: ``location`` or ``intensity``
    (gCO2e/kWh) or ``mix`` ("coal=60,gas=40"); none -> world average with a wide range.
    ``market_intensity`` (gCO2e/kWh, contractual factor of the supply) adds a market-based figure beside the
    location-based one. ``seq_len`` (training context in tokens, a whole number) adds causal attention's FLOPs to
    6·N·D: a 128k context roughly triples an 8B model's compute; one that would take the total past
    ``MAX_FLOPS_OVER_6ND`` x 6·N·D is refused as a unit slip.

    MoE: ``active_params`` below ``params`` makes the run an MoE (the MFU model's MoE term; compute from the active
    parameters). ``active_params`` without ``params`` is taken for an MoE whose total is unknown, with a note (a
    training estimate needs no total). ``moe`` (True / False, None = inferred so) overrides that reading. With
    ``days``, the wall time is the days given.
    """
    from .. import data

    flops = check_positive("flops", flops)
    params = check_count("params", params)
    active_params = check_count("active params", active_params)
    tokens = check_count("tokens", tokens)
    seq_len = check_positive("context length (tokens)", seq_len, integer=True)
    chip_hours = check_positive("chip-hours", chip_hours)
    days = check_positive("days", days)
    count = check_positive("count (chips)", count, integer=True)
    power_w = check_positive("power (W)", power_w)
    power_fraction = check_positive("power fraction", power_fraction)
    fraction_notes = _check_power_fraction(power_fraction) if power_fraction is not None else []
    mfu = check_positive("MFU", mfu)
    if mfu is not None and mfu > 1:
        raise InputConflictError(f"MFU is a fraction of peak (0-1], got {mfu:g}")
    if power_w is not None and power_fraction is not None:
        raise InputConflictError("give either --power-w (all-in W per chip) or a power fraction of TDP, not both")
    if moe is not None and not isinstance(moe, bool):
        raise InputConflictError(f"moe must be True, False or None (None: an MoE when active parameters are given "
                                 f"below the total, or without one), got {moe!r}")
    if hardware is None:
        raise WattprintError("hardware is required (e.g. --hardware A100); list names with 'wattprint data gpus'")

    acc, variants, notes = data.find_accelerator(hardware)
    notes = list(notes) + fraction_notes
    if precision is None:
        precision = acc.default_precision()
        notes.append(Assumption("precision", precision, "default: bf16 where the chip has it, else fp16, else fp32"))
    else:
        precision = precision.lower() if isinstance(precision, str) else str(precision)
        if precision not in PRECISIONS:
            raise InputConflictError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    peak = _peak(acc, variants, precision)
    base_precision = acc.default_precision()
    base_peak = acc.peak_flops(base_precision)

    c, n_active, flop_notes = _flops(flops, params, active_params, tokens, seq_len)
    notes += flop_notes
    given_count = count
    ch, count, ch_notes = _chip_hours(chip_hours, count, days)
    notes += ch_notes
    # active parameters below the total are an MoE's; active parameters without a total too (the user said these
    # are the *active* ones): only the MFU model uses it, and it needs no total (nor do memory and embodied here)
    inferred_moe = active_params is not None and (params is None or active_params < params)
    is_moe = moe if moe is not None else inferred_moe
    if is_moe and active_params is not None and params is None:
        notes.append(Assumption(
            "mixture of experts", f"{active_params:.4g} active parameters, total not given", "given by the user",
            "active parameters without --params are taken for an MoE whose total is unknown: the MFU model's MoE "
            "term applies and the compute uses the active parameters; nothing in a training estimate needs the "
            "total (for a dense model, give --params alone)"))

    details: dict[str, Any] = {"hardware": acc.name, "precision": precision}
    if c is not None:
        details["training_flops"] = Range.exact(c)
    if ch is None:
        if c is None:
            raise InputConflictError(
                "not enough to size the run: give --flops, or --params and --tokens, or --chip-hours, "
                "or --count and --days"
            )
        if mfu is not None:
            mfu_r = Range.exact(mfu)
            eff = peak * mfu_r
            notes.append(Assumption("MFU", f"{mfu:.3g} of the {precision} peak", "given by the user"))
            notes += _unusual_mfu(mfu, precision, "MFU given", "given by the user")
        else:
            # the model's MFU is relative to the default-precision peak (fp8 is a term of the model); a slower
            # precision (fp32, tf32) caps the chip at its own peak, so the model is applied to that roofline
            slower = peak.value < base_peak
            model_peak = peak.value if slower else base_peak
            if n_active is None:  # FLOPs alone: the size term over the sizes of the published trainings
                est = utilisation.predict_mfu_any_size(model_peak, acc.memory_bandwidth(), moe=is_moe,
                                                       fp8=precision == "fp8", chip_year=acc.year)
            else:
                est = utilisation.predict_mfu(n_active, model_peak, acc.memory_bandwidth(), moe=is_moe,
                                              fp8=precision == "fp8", chip_year=acc.year)
            eff = est.mfu * (peak * (model_peak / peak.value))  # carries the variants' spread too
            mfu_r = est.mfu * (model_peak / peak.value)
            notes.append(Assumption("MFU (model FLOPs utilisation)", f"{mfu_r:.3g} of the {precision} peak",
                                    est.source, est.explanation))
            if slower:
                notes.append(Assumption(
                    "MFU at a slower precision", f"{precision}: peak {peak.value / base_peak:.2g}x the {base_precision}"
                    " peak", "modelled",
                    "the MFU model was fitted on bf16/fp16 (and fp8) trainings and is applied here "
                    f"to the {precision} peak and its roofline: an extrapolation"))
        hours = Range.exact(c) / (eff * SECONDS_PER_HOUR)
        chip_hours_r = hours
        details["mfu"] = mfu_r
    else:
        chip_hours_r = Range.exact(ch)
        if mfu is not None and c is None:
            notes.append(Assumption("MFU", f"{mfu:g} given, not used", "given by the user",
                                    "the chip-hours fix the time; the MFU would only check them against the FLOPs "
                                    "(give --flops, or --params and --tokens)"))
        if c is not None:
            implied = c / (ch * SECONDS_PER_HOUR * peak.value)
            if not math.isfinite(implied) or implied == 0:  # chip-hours too small or too large for a ratio
                raise too_large()
            if implied > 1:
                raise InputConflictError(
                    f"impossible: {c:.4g} FLOP in {ch:.4g} chip-hours needs {implied:.2f}x the {precision} peak "
                    f"of {acc.name}"
                )
            if mfu is not None and abs(implied - mfu) > 0.05 * mfu:
                raise InputConflictError(
                    f"MFU {mfu:g} contradicts FLOPs and chip-hours (they imply {implied:.3g}); drop one of them"
                )
            details["mfu"] = Range.exact(implied)
            notes += _unusual_mfu(implied, precision, "implied MFU", "FLOPs / (chip-hours x peak)")

    if days is not None:
        # the days given are the wall time; chip-hours within the tolerance of count x days x 24 are kept as given
        wall: Range | None = Range.exact(days * HOURS_PER_DAY)
        if count is None:  # chip-hours from the FLOPs: the chips busy on average over those days
            busy = chip_hours_r / (days * HOURS_PER_DAY)
            notes.append(Assumption("average chips busy", f"{busy:.4g} = chip-hours / (days x 24)", "implied",
                                    "the chip-hours come from the FLOPs and the MFU; the days fix the wall time"))
            details["average_chips_busy"] = busy
    else:
        wall = chip_hours_r / count if count is not None else None
    if count is not None:
        details["count" if given_count is not None else "average_chips_busy"] = count

    energy: dict[str, ComponentEnergy] = {}
    key = component_key(acc)
    if power_w is not None:
        energy[key] = ComponentEnergy(chip_hours_r * power_w / 1000.0, "given")
        notes.append(Assumption("average power per chip (all-in)", f"{power_w:g} W", "given by the user",
                                "includes the host share; nothing added on top"))
        notes += _check_all_in_power(power_w, acc, variants)
    else:
        tdp = _tdp(acc, variants)
        if tdp is None:
            raise WattprintError(
                f"{acc.name} has no published TDP: pass --power-w (average all-in power per chip in W)"
            )
        all_in = utilisation.all_in_fraction(acc.name) if power_fraction is None else None
        if all_in is not None:
            frac, a = all_in
            energy[key] = ComponentEnergy(chip_hours_r * tdp * frac / 1000.0, "modelled")
            notes.append(a)
        else:
            if power_fraction is not None:
                frac = Range.exact(power_fraction)
                notes.append(Assumption("average accelerator power", f"{power_fraction:g} x TDP", "given by the user",
                                        "above the TDP: possible only where the board's power limit was raised"
                                        if power_fraction > 1 else ""))
            else:
                frac, a = utilisation.gpu_fraction(acc.family)
                notes.append(a)
            energy[key] = ComponentEnergy(chip_hours_r * tdp * frac / 1000.0, "modelled")
            host, a = utilisation.host_watts_per_accelerator(acc.family, tdp.value)
            notes.append(a)
            for part, watts in host.items():
                energy[part] = ComponentEnergy(chip_hours_r * watts / 1000.0, "modelled")
        notes.append(Assumption("TDP", f"{tdp:.4g} W", acc.source))

    inten, pue_r, site_notes = resolve_site(location, year, pue, intensity, mix)
    notes += site_notes
    # embodied depends on chip-hours only: count chips for wall hours = chip-hours x 1 chip
    embodied, emb_notes = embodied_for(acc, 1.0, chip_hours_r)
    notes += emb_notes
    if math.isnan(chip_hours_r.value):  # pragma: no cover - guarded by input checks
        raise InputConflictError("could not size the run from the inputs")
    return check_finite(Footprint(
        energy_by_component=energy,
        pue=pue_r,
        intensity=inten,
        embodied_co2e_kg=embodied,
        assumptions=notes,
        kind="training",
        chip_hours=chip_hours_r,
        wall_time_h=wall,
        market_intensity_g_per_kwh=check_market_intensity(market_intensity),
        details=details,
    ))
