"""Predict the footprint of a training run before it runs.

    compute    C = training FLOPs, or 6 x N_active x D (params x tokens)
    chip-hours = given, or count x days x 24, or C / (peak FLOP/s x MFU x 3600)
    IT energy  = chip-hours x (accelerator W + host W per accelerator) / 1000     (kWh, before PUE)
                 or chip-hours x power_w / 1000 when the all-in power per chip is given
    then the footprint model: x PUE -> x grid intensity -> operational CO2e; + embodied (amortised).

For fixed hardware, count, precision and site, everything is linear in C.

``estimate_training`` reads as its steps: check the inputs, resolve the chip at its precision, the compute
(``training_compute.py``), the chip-hours given or from the compute and the MFU, the wall time, the IT energy
(``training_power.py``), then the site, embodied emissions and the footprint. Units: compute in FLOP, peaks in
FLOP/s, MFU as a fraction of the peak at the run's precision, time in hours (chip-hours, wall hours).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputConflictError, WattprintError
from ..footprint import Assumption, Footprint
from ..quantities import Range
from . import utilisation
from .common import (
    check_count,
    check_finite,
    check_market_intensity,
    check_positive,
    embodied_for,
    resolve_site,
    too_large,
)
from .training_compute import training_flops
from .training_power import check_power_fraction, it_energy

if TYPE_CHECKING:
    from ..data.catalogue import Accelerator

HOURS_PER_DAY = 24.0
SECONDS_PER_HOUR = 3600.0
CONSISTENCY_TOLERANCE = 0.01  # relative mismatch allowed between chip-hours and count x days x 24
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8")


@dataclass(frozen=True)
class _Inputs:
    """The checked inputs: compute in FLOP, parameters and tokens as counts, the context in tokens, chip-hours,
    days, chips; power as the all-in W per chip or a fraction of TDP; MFU as a fraction of peak."""

    flops: float | None
    params: float | None
    active_params: float | None
    tokens: float | None
    seq_len: float | None
    chip_hours: float | None
    days: float | None
    count: float | None
    power_w: float | None
    power_fraction: float | None
    mfu: float | None
    moe: bool | None
    hardware: str


@dataclass(frozen=True)
class _Chip:
    """The accelerator at the run's precision: its dense peak (FLOP/s, ranged over the variants a family covers),
    and its default precision's peak, the one the MFU model was fitted against."""

    acc: Accelerator
    precision: str
    peak: Range
    default_precision: str
    default_peak: float


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
    ``training_compute.MAX_FLOPS_OVER_6ND`` x 6·N·D is refused as a unit slip.

    MoE: ``active_params`` below ``params`` makes the run an MoE (the MFU model's MoE term; compute from the active
    parameters). ``active_params`` without ``params`` is taken for an MoE whose total is unknown, with a note (a
    training estimate needs no total). ``moe`` (True / False, None = inferred so) overrides that reading. With
    ``days``, the wall time is the days given.
    """
    from .. import data

    given, fraction_notes = _checked_inputs(
        flops=flops, params=params, active_params=active_params, tokens=tokens, seq_len=seq_len,
        chip_hours=chip_hours, days=days, count=count, power_w=power_w, power_fraction=power_fraction, mfu=mfu,
        moe=moe, hardware=hardware)
    acc, variants, hardware_notes = data.find_accelerator(given.hardware)
    chip, precision_notes = _resolve_chip(acc, variants, precision)
    compute, n_active, compute_notes = training_flops(
        given.flops, given.params, given.active_params, given.tokens, given.seq_len)
    hours_given, chips, chip_hour_notes = _chip_hours(given.chip_hours, given.count, given.days)
    is_moe, moe_notes = _mixture_of_experts(given.params, given.active_params, given.moe)
    hours, run_mfu, mfu_notes = _size_run(compute, hours_given, given.mfu, chip, n_active, is_moe)
    wall, chip_details, wall_notes = _wall_time(given.days, chips, given.count, hours)
    energy, energy_notes = it_energy(acc, variants, hours, given.power_w, given.power_fraction)
    inten, pue_r, site_notes = resolve_site(location, year, pue, intensity, mix)
    # embodied depends on chip-hours only: count chips for wall hours = chip-hours x 1 chip
    embodied, embodied_notes = embodied_for(acc, 1.0, hours)
    if math.isnan(hours.value):  # pragma: no cover - guarded by input checks
        raise InputConflictError("could not size the run from the inputs")
    return check_finite(Footprint(
        energy_by_component=energy,
        pue=pue_r,
        intensity=inten,
        embodied_co2e_kg=embodied,
        assumptions=[*hardware_notes, *fraction_notes, *precision_notes, *compute_notes, *chip_hour_notes,
                     *moe_notes, *mfu_notes, *wall_notes, *energy_notes, *site_notes, *embodied_notes],
        kind="training",
        chip_hours=hours,
        wall_time_h=wall,
        market_intensity_g_per_kwh=check_market_intensity(market_intensity),
        details=_details(chip, compute, run_mfu, chip_details),
    ))


def _checked_inputs(
    *, flops: Any, params: Any, active_params: Any, tokens: Any, seq_len: Any, chip_hours: Any, days: Any,
    count: Any, power_w: Any, power_fraction: Any, mfu: Any, moe: Any, hardware: str | None,
) -> tuple[_Inputs, list[Assumption]]:
    """(the inputs as checked floats, the note on a low power fraction). Each check raises on its input in this
    order, so the first bad input is the one reported."""
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
    fraction_notes = check_power_fraction(power_fraction) if power_fraction is not None else []
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
    return _Inputs(flops, params, active_params, tokens, seq_len, chip_hours, days, count, power_w, power_fraction,
                   mfu, moe, hardware), fraction_notes


def _resolve_chip(
    acc: Accelerator, variants: list[Accelerator], precision: str | None
) -> tuple[_Chip, list[Assumption]]:
    """The chip at the precision given (one of PRECISIONS, any case) or at its default, with a note for the
    default."""
    notes: list[Assumption] = []
    if precision is None:
        precision = acc.default_precision()
        notes.append(Assumption("precision", precision, "default: bf16 where the chip has it, else fp16, else fp32"))
    else:
        precision = precision.lower() if isinstance(precision, str) else str(precision)
        if precision not in PRECISIONS:
            raise InputConflictError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    peak = _peak(acc, variants, precision)
    default_precision = acc.default_precision()
    return _Chip(acc, precision, peak, default_precision, acc.peak_flops(default_precision)), notes


def _peak(acc: Accelerator, variants: list[Accelerator], precision: str) -> Range:
    """Dense peak FLOP/s at ``precision``: the chosen chip, with a range over the variants a family covers."""
    central = acc.peak_flops(precision)
    vals = [central]
    for v in variants:
        try:
            vals.append(v.peak_flops(precision))
        except WattprintError:
            continue
    return Range(central, min(vals), max(vals))


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


def _mixture_of_experts(
    params: float | None, active_params: float | None, moe: bool | None
) -> tuple[bool, list[Assumption]]:
    """(whether the run is an MoE, notes): as ``moe`` says, else inferred from the parameters given."""
    # active parameters below the total are an MoE's; active parameters without a total too (the user said these
    # are the *active* ones): only the MFU model uses it, and it needs no total (nor do memory and embodied here)
    inferred_moe = active_params is not None and (params is None or active_params < params)
    is_moe = moe if moe is not None else inferred_moe
    if not (is_moe and active_params is not None and params is None):
        return is_moe, []
    return is_moe, [Assumption(
        "mixture of experts", f"{active_params:.4g} active parameters, total not given", "given by the user",
        "active parameters without --params are taken for an MoE whose total is unknown: the MFU model's MoE "
        "term applies and the compute uses the active parameters; nothing in a training estimate needs the "
        "total (for a dense model, give --params alone)")]


def _size_run(
    compute: float | None, chip_hours: float | None, mfu: float | None, chip: _Chip, n_active: float | None,
    is_moe: bool,
) -> tuple[Range, Range | None, list[Assumption]]:
    """(chip-hours, MFU of the peak at the run's precision or None, notes): the chip-hours given (their MFU implied
    by the compute, when given), else C / (peak FLOP/s x MFU x 3600)."""
    if chip_hours is not None:
        implied, notes = _implied_mfu(compute, chip_hours, mfu, chip)
        return Range.exact(chip_hours), implied, notes
    if compute is None:
        raise InputConflictError(
            "not enough to size the run: give --flops, or --params and --tokens, or --chip-hours, "
            "or --count and --days"
        )
    return _chip_hours_from_compute(compute, mfu, chip, n_active, is_moe)


def _chip_hours_from_compute(
    compute: float, mfu: float | None, chip: _Chip, n_active: float | None, is_moe: bool
) -> tuple[Range, Range, list[Assumption]]:
    """(chip-hours, MFU, notes): the compute over the FLOP/s a chip achieves at the MFU given or modelled."""
    if mfu is not None:
        run_mfu = Range.exact(mfu)
        achieved = chip.peak * run_mfu
        notes = [Assumption("MFU", f"{mfu:.3g} of the {chip.precision} peak", "given by the user"),
                 *_unusual_mfu(mfu, chip.precision, "MFU given", "given by the user")]
    else:
        achieved, run_mfu, notes = _modelled_mfu(chip, n_active, is_moe)
    return Range.exact(compute) / (achieved * SECONDS_PER_HOUR), run_mfu, notes


def _modelled_mfu(chip: _Chip, n_active: float | None, is_moe: bool) -> tuple[Range, Range, list[Assumption]]:
    """(achieved FLOP/s per chip, MFU of the peak at the run's precision, notes) from the fitted MFU model."""
    acc = chip.acc
    # the model's MFU is relative to the default-precision peak (fp8 is a term of the model); a slower
    # precision (fp32, tf32) caps the chip at its own peak, so the model is applied to that roofline
    slower = chip.peak.value < chip.default_peak
    model_peak = chip.peak.value if slower else chip.default_peak
    if n_active is None:  # FLOPs alone: the size term over the sizes of the published trainings
        est = utilisation.predict_mfu_any_size(model_peak, acc.memory_bandwidth(), moe=is_moe,
                                               fp8=chip.precision == "fp8", chip_year=acc.year)
    else:
        est = utilisation.predict_mfu(n_active, model_peak, acc.memory_bandwidth(), moe=is_moe,
                                      fp8=chip.precision == "fp8", chip_year=acc.year)
    achieved = est.mfu * (chip.peak * (model_peak / chip.peak.value))  # carries the variants' spread too
    run_mfu = est.mfu * (model_peak / chip.peak.value)
    notes = [Assumption("MFU (model FLOPs utilisation)", f"{run_mfu:.3g} of the {chip.precision} peak",
                        est.source, est.explanation)]
    if slower:
        notes.append(Assumption(
            "MFU at a slower precision",
            f"{chip.precision}: peak {chip.peak.value / chip.default_peak:.2g}x the {chip.default_precision} peak",
            "modelled",
            "the MFU model was fitted on bf16/fp16 (and fp8) trainings and is applied here "
            f"to the {chip.precision} peak and its roofline: an extrapolation"))
    return achieved, run_mfu, notes


def _implied_mfu(
    compute: float | None, chip_hours: float, mfu: float | None, chip: _Chip
) -> tuple[Range | None, list[Assumption]]:
    """(the MFU that the compute and the chip-hours given imply, notes); None without compute. Above the peak, or
    off a given MFU by more than 5 %, is an error."""
    if compute is None:
        if mfu is None:
            return None, []
        return None, [Assumption("MFU", f"{mfu:g} given, not used", "given by the user",
                                 "the chip-hours fix the time; the MFU would only check them against the FLOPs "
                                 "(give --flops, or --params and --tokens)")]
    implied = compute / (chip_hours * SECONDS_PER_HOUR * chip.peak.value)
    if not math.isfinite(implied) or implied == 0:  # chip-hours too small or too large for a ratio
        raise too_large()
    if implied > 1:
        raise InputConflictError(
            f"impossible: {compute:.4g} FLOP in {chip_hours:.4g} chip-hours needs {implied:.2f}x the "
            f"{chip.precision} peak of {chip.acc.name}"
        )
    if mfu is not None and abs(implied - mfu) > 0.05 * mfu:
        raise InputConflictError(
            f"MFU {mfu:g} contradicts FLOPs and chip-hours (they imply {implied:.3g}); drop one of them"
        )
    return Range.exact(implied), _unusual_mfu(implied, chip.precision, "implied MFU", "FLOPs / (chip-hours x peak)")


def _unusual_mfu(mfu: float, precision: str, what: str, source: str) -> list[Assumption]:
    """A note when an MFU lies outside the fitted model's bounds, where every published training lies."""
    low, high = utilisation.model_table()["mfu"]["bounds"]
    if low <= mfu <= high:
        return []
    return [Assumption(what, f"{mfu:.3g} of the {precision} peak", source,
                       f"outside {low:g}-{high:g}, where every published training in the fit lies: check the units "
                       "(or the run idled most of its hours)")]


def _wall_time(
    days: float | None, count: float | None, given_count: float | None, chip_hours: Range
) -> tuple[Range | None, dict[str, Any], list[Assumption]]:
    """(wall time in hours, the chips' details, notes): the days given, else chip-hours / chips; None with neither.
    ``count`` is the chips given or implied by chip-hours / (days x 24); the details say which."""
    details: dict[str, Any] = {}
    notes: list[Assumption] = []
    wall: Range | None
    if days is not None:
        # the days given are the wall time; chip-hours within the tolerance of count x days x 24 are kept as given
        wall = Range.exact(days * HOURS_PER_DAY)
        if count is None:  # chip-hours from the FLOPs: the chips busy on average over those days
            busy = chip_hours / (days * HOURS_PER_DAY)
            notes.append(Assumption("average chips busy", f"{busy:.4g} = chip-hours / (days x 24)", "implied",
                                    "the chip-hours come from the FLOPs and the MFU; the days fix the wall time"))
            details["average_chips_busy"] = busy
    else:
        wall = chip_hours / count if count is not None else None
    if count is not None:
        details["count" if given_count is not None else "average_chips_busy"] = count
    return wall, details, notes


def _details(
    chip: _Chip, compute: float | None, run_mfu: Range | None, chip_details: dict[str, Any]
) -> dict[str, Any]:
    """The footprint's details: hardware, precision, training FLOPs, MFU, then the chips (count or average busy)."""
    details: dict[str, Any] = {"hardware": chip.acc.name, "precision": chip.precision}
    if compute is not None:
        details["training_flops"] = Range.exact(compute)
    if run_mfu is not None:
        details["mfu"] = run_mfu
    return {**details, **chip_details}
