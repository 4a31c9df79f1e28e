"""Training time: the chip at the run's precision, its MFU and the chip-hours and wall time of the run.

    chip-hours = given (checked against count x days x 24, and against the compute: the MFU they imply),
                 or count x days x 24, or C / (peak FLOP/s x MFU x 3600), MFU given or from the fitted model
    wall time  = the days given, or chip-hours / count; within the hardware's service life, on at least one chip

Units: compute in FLOP; peaks in FLOP/s; MFU as a fraction of the dense peak at the run's precision; time in hours.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputConflictError, WattprintError
from ..footprint import HOURS_PER_YEAR, Assumption
from ..quantities import Range
from . import utilisation
from .common import BYTES_PER_VALUE, SLIP_BELOW, check_chips_at_once, too_large
from .training_compute import MIN_COUNT, MIN_FLOPS

if TYPE_CHECKING:
    from ..data.catalogue import Accelerator

HOURS_PER_DAY = 24.0
SECONDS_PER_HOUR = 3600.0
CONSISTENCY_TOLERANCE = 0.01  # relative mismatch allowed between chip-hours and count x days x 24
# relative mismatch allowed between an MFU given and the one FLOPs and chip-hours imply: published MFUs are
# rounded to two digits (0.38 for 0.376-0.384, ~1 %) and often count FLOPs slightly differently (6ND or with attention)
MFU_TOLERANCE = 0.05
PRECISIONS = ("fp32", "tf32", "bf16", "fp16", "fp8")


@dataclass(frozen=True)
class TrainingChip:
    """The accelerator at the run's precision: its dense peak (FLOP/s, ranged over the variants a family covers),
    and its default precision's peak, the one the MFU model was fitted against."""

    acc: Accelerator
    precision: str
    peak: Range
    default_precision: str
    default_peak: float


def resolve_chip(
    acc: Accelerator, variants: list[Accelerator], precision: str | None
) -> tuple[TrainingChip, list[Assumption]]:
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
    return TrainingChip(acc, precision, peak, default_precision, acc.peak_flops(default_precision)), notes


def _peak(acc: Accelerator, variants: list[Accelerator], precision: str) -> Range:
    """Dense peak FLOP/s at ``precision``: the chosen chip, with a range over the variants a family covers."""
    central = acc.peak_flops(precision, PRECISIONS)  # the error names only the peaks a training can be run at
    vals = [central]
    for v in variants:
        try:
            vals.append(v.peak_flops(precision))
        except WattprintError:
            continue
    return Range(central, min(vals), max(vals))


def chip_hours_from_inputs(
    chip_hours: float | None, count: float | None, days: float | None
) -> tuple[float | None, float | None, list[Assumption]]:
    """(chip-hours, count, notes) from what was given: the chip-hours given, else count x days x 24, else None;
    checks count x days against chip-hours. With chip-hours and days, the count is the chips busy on average."""
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
            check_chips_at_once("chip-hours / (days x 24)", count)
            if count < 1:  # the days given are the wall time, and a training keeps its chips busy all of it
                raise InputConflictError(
                    f"--chip-hours {chip_hours:g} over --days {days:g} is {count:.2g} chips: fewer than one; the days "
                    "are the training's wall time: check both, or give --chip-hours alone")
            notes.append(Assumption("average chips busy", f"{count:.4g} = chip-hours / (days x 24)", "implied"))
        return chip_hours, count, notes
    if count is not None and days is not None:
        ch = count * days * HOURS_PER_DAY
        notes.append(Assumption("chip-hours", f"{ch:.6g} = {count:.6g} chips x {days:.6g} days x 24", "given"))
        return ch, count, notes
    return None, count, notes


def size_run(
    compute: float | None, chip_hours: float | None, mfu: float | None, chip: TrainingChip, n_active: float | None,
    is_moe: bool,
) -> tuple[Range, Range | None, list[Assumption]]:
    """(chip-hours, MFU of the peak at the run's precision or None, notes): the chip-hours given (their MFU implied
    by the compute, when given), else C / (peak FLOP/s x MFU x 3600)."""
    if chip_hours is not None:
        fewest = MIN_FLOPS / (chip.peak.high * SECONDS_PER_HOUR)
        if compute is None and chip_hours < fewest:  # with the compute, the MFU they imply says more
            raise InputConflictError(
                f"chip-hours {chip_hours:.3g} are fewer than any training takes: the smallest ({MIN_FLOPS:g} FLOP = "
                f"6 x {MIN_COUNT} parameters x {MIN_COUNT} tokens) needs {fewest:.2g} on {chip.acc.name} at its "
                f"full {chip.precision} peak; give accelerator-hours")
        implied, notes = _implied_mfu(compute, chip_hours, mfu, chip)
        return Range.exact(chip_hours), implied, notes
    if compute is None:
        raise InputConflictError(
            "not enough to size the run: give --flops (flops=...), or --params and --tokens (params=..., "
            "tokens=...), or --chip-hours (chip_hours=...), or --count and --days (count=..., days=...)"
        )
    return _chip_hours_from_compute(compute, mfu, chip, n_active, is_moe)


def _chip_hours_from_compute(
    compute: float, mfu: float | None, chip: TrainingChip, n_active: float | None, is_moe: bool
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


def _modelled_mfu(chip: TrainingChip, n_active: float | None, is_moe: bool) -> tuple[Range, Range, list[Assumption]]:
    """(achieved FLOP/s per chip, MFU of the peak at the run's precision, notes) from the fitted MFU model."""
    # the model's MFU is relative to the default-precision peak (fp8 is a term of the model); a slower
    # precision (fp32, tf32) caps the chip at its own peak, so the model is applied to that roofline
    slower = chip.peak.value < chip.default_peak
    run_mfu, est = _slower_precision_mfu(chip, chip.precision, chip.peak.value, n_active, is_moe)
    extra: list[Assumption] = []
    if slower:
        # ... but a lower peak moves the chip's ridge point down, where the model sees no bandwidth penalty: the
        # same training never runs faster at a slower precision than at the default one, which caps it
        default = _predicted_mfu(chip, chip.default_peak, n_active, is_moe).mfu * (chip.default_peak / chip.peak.value)
        capped = _each(min, run_mfu, default)
        # ... and never slower than at a precision of the same bytes and a lower peak, which it can run (tf32 runs
        # any fp32 training): with their bytes doubled, tf32 and fp32 share a bandwidth-poor chip's penalty, fp32's
        # lower peak does not
        twin = _same_bytes_lower_peak(chip)
        raised = capped
        if twin is not None:  # the twin's FLOP/s as a share of this peak, capped at the default's as this is
            twin_mfu = _slower_precision_mfu(chip, twin[0], twin[1], n_active, is_moe)[0] * (twin[1] / chip.peak.value)
            raised = _each(max, capped, _each(min, twin_mfu, default))
        extra.append(Assumption(
            "MFU at a slower precision",
            f"{chip.precision}: peak {chip.peak.value / chip.default_peak:.2g}x the {chip.default_precision} peak",
            "modelled",
            "the MFU model was fitted on bf16/fp16 (and fp8) trainings and is applied here "
            f"to the {chip.precision} peak and its roofline: an extrapolation"
            + (f"; capped at the FLOP/s the same training reaches at {chip.default_precision}, which a slower "
               "precision cannot beat" if capped != run_mfu else "")
            + (f"; raised to the FLOP/s it reaches at {twin[0]} (values of as many bytes, a lower peak), which "
               f"{chip.precision} can run" if twin is not None and raised != capped else "")))
        run_mfu = raised
    achieved = run_mfu * chip.peak  # carries the variants' spread too
    explanation = est.explanation
    if chip.peak.value > chip.default_peak:  # fp8: the model's factors are of the default peak it is fitted against
        explanation = (f"{est.mfu.value:.3g} of the {chip.default_precision} peak, the one the model is fitted "
                       f"against (its fp8 term included), is {chip.default_peak / chip.peak.value:.2g}x that as a "
                       f"share of the {chip.precision} peak: {explanation}")
    notes = [Assumption("MFU (model FLOPs utilisation)", f"{run_mfu:.3g} of the {chip.precision} peak", est.source,
                        explanation), *extra]
    return achieved, run_mfu, notes


def _slower_precision_mfu(chip: TrainingChip, precision: str, peak: float, n_active: float | None, is_moe: bool
                          ) -> tuple[Range, utilisation.MfuEstimate]:
    """(MFU of ``peak``, the model's estimate) for the chip at ``precision`` of that peak (FLOP/s): the model's MFU
    is relative to the default-precision peak; a slower precision caps the chip at its own peak and its roofline."""
    slower = peak < chip.default_peak
    model_peak = peak if slower else chip.default_peak
    est = _predicted_mfu(chip, model_peak, n_active, is_moe, precision if slower else None)
    return est.mfu * (model_peak / peak), est


def _each(pick: Callable[[float, float], float], a: Range, b: Range) -> Range:
    """``pick`` (min or max) of two ranges bound by bound: central with central, low with low, high with high."""
    return Range(pick(a.value, b.value), pick(a.low, b.low), pick(a.high, b.high))


def _same_bytes_lower_peak(chip: TrainingChip) -> tuple[str, float] | None:
    """(precision, peak FLOP/s) of the chip's slowest other precision whose values take as many bytes as the run's
    and whose peak is lower (fp32 for tf32); None where it has none."""
    twins = []
    for q in PRECISIONS:
        if q == chip.precision or BYTES_PER_VALUE[q] != BYTES_PER_VALUE[chip.precision]:
            continue
        try:
            peak = chip.acc.peak_flops(q)
        except WattprintError:
            continue
        if peak < chip.peak.value:
            twins.append((peak, q))
    if not twins:
        return None
    peak, q = min(twins)
    return q, peak


def _predicted_mfu(chip: TrainingChip, peak: float, n_active: float | None, is_moe: bool,
                   precision: str | None = None) -> utilisation.MfuEstimate:
    """The fitted MFU model for this chip at ``peak`` FLOP/s (over all sizes when the model size is unknown), at
    ``precision`` (None: the default precision the model was fitted at). A precision with larger elements (tf32 and
    fp32 tensors take 4 bytes, bf16 2) moves as many more bytes per FLOP: its ridge is compared per element."""
    element_bytes = BYTES_PER_VALUE[precision] if precision is not None else None
    acc = chip.acc
    if n_active is None:  # FLOPs alone: the size term over the sizes of the published trainings
        return utilisation.predict_mfu_any_size(peak, acc.memory_bandwidth(), moe=is_moe,
                                                fp8=chip.precision == "fp8", chip_year=acc.year,
                                                element_bytes=element_bytes)
    return utilisation.predict_mfu(n_active, peak, acc.memory_bandwidth(), moe=is_moe,
                                   fp8=chip.precision == "fp8", chip_year=acc.year, element_bytes=element_bytes)


def _implied_mfu(
    compute: float | None, chip_hours: float, mfu: float | None, chip: TrainingChip
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
            f"impossible: {compute:.4g} FLOP in {chip_hours:.4g} chip-hours needs {implied:.3g}x the "
            f"{chip.precision} peak of {chip.acc.name}"
        )
    if mfu is not None and abs(implied - mfu) > MFU_TOLERANCE * mfu:
        raise InputConflictError(
            f"MFU {mfu:g} contradicts FLOPs and chip-hours (they imply {implied:.3g}); drop one of them"
        )
    notes = _unusual_mfu(implied, chip.precision, "implied MFU", "FLOPs / (chip-hours x peak)")
    if mfu is not None:
        notes.append(Assumption("MFU", f"{mfu:g} given; FLOPs and chip-hours imply {implied:.3g}", "given by the user",
                                f"within {MFU_TOLERANCE:.0%} of each other: the chip-hours fix the time, so the "
                                "implied value is the one shown"))
    return Range.exact(implied), notes


def check_mfu_floor(mfu: float | None) -> None:
    """A given MFU (fraction of peak) a slip factor below the fitted model's lower bound, under which no published
    training lies, is a unit slip, as one above 1 is; between the two, a note says it (_unusual_mfu)."""
    low, _ = utilisation.model_table()["mfu"]["bounds"]
    if mfu is not None and mfu < low / SLIP_BELOW:
        raise InputConflictError(
            f"--mfu (mfu) {mfu:g} is far below the {low:g} every published training reaches (the MFU model's bounds): "
            "MFU is a fraction of peak, 0.4 for 40 %")


def _unusual_mfu(mfu: float, precision: str, what: str, source: str) -> list[Assumption]:
    """A note when an MFU lies outside the fitted model's bounds, where every published training lies."""
    low, high = utilisation.model_table()["mfu"]["bounds"]
    if low <= mfu <= high:
        return []
    return [Assumption(what, f"{mfu:.3g} of the {precision} peak", source,
                       f"outside {low:g}-{high:g}, where every published training in the fit lies: check the units "
                       "(or the run idled most of its hours)")]


def wall_time(
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
            check_chips_at_once("the FLOPs' chip-hours over the days given", busy.value)
            if busy.high < 1:  # even at the MFU range's low end: the days cannot be the training's wall time
                raise InputConflictError(
                    f"the compute's {chip_hours.value:.3g} chip-hours over --days {days:g} are {busy.value:.2g} chips "
                    f"(at most {busy.high:.2g} over the MFU's range): fewer than one; check --days (wall-clock "
                    "days), or give --count instead")
            notes.append(Assumption("average chips busy", f"{busy:.4g} = chip-hours / (days x 24)", "implied",
                                    "the chip-hours come from the FLOPs and the MFU; the days fix the wall time"
                                    + ("; under one chip at the central MFU, so the days fit only at the MFU range's "
                                       "low end: check them" if busy.value < 1 else "")))
            details["average_chips_busy"] = busy
    else:
        wall = chip_hours / count if count is not None else None
    if count is not None:
        details["count" if given_count is not None else "average_chips_busy"] = count
    return wall, details, notes


def check_days_within_service_life(days: float | None, life_years: float) -> None:
    """Refuse ``days`` of wall time past the hardware's service life (years): no training outlasts its chips."""
    if days is not None and days * HOURS_PER_DAY > life_years * HOURS_PER_YEAR:
        raise InputConflictError(
            f"--days {days:g} ({_years(days * HOURS_PER_DAY)} years of wall time) exceeds the hardware's "
            f"{life_years:g}-year service life: check --days (wall-clock days, not hours or chip-days)")


def check_wall_within_service_life(
    wall: Range | None, count: float, life_years: float, sizing: str
) -> list[Assumption]:
    """Refuse a wall time (hours on ``count`` chips) past the hardware's service life (years) over the whole of its
    range: the run cannot be carried out as stated, and its embodied emissions would be amortised over more than
    the chips' life. Past it at the central value only, a note. ``sizing`` names the inputs that sized the run."""
    life_h = life_years * HOURS_PER_YEAR
    if wall is None or wall.value <= life_h:
        return []
    on = _years_on(wall, count)
    if wall.low > life_h:
        raise InputConflictError(f"wall time {on} exceeds the hardware's {life_years:g}-year service life: check "
                                 f"--count (1k chips is 1000) or {sizing}")
    return [Assumption("wall time", on, "implied",
                       f"past the hardware's {life_years:g}-year service life at the central MFU, within it only "
                       "at the MFU range's high end: check --count")]


def central_service_life_note(wall: Range | None, count: float | None, life: Range, check: str) -> list[Assumption]:
    """A note where the central wall time (hours on ``count`` chips, the days given or chip-hours / count) passes
    the chips' central service life (``life``, years) but not the longest, past which the checks above refuse or
    note: the chips are then charged more embodied CO2e than their whole manufacturing emissions at the central
    lifetime. ``check`` names the input to check."""
    if wall is None or not life.value * HOURS_PER_YEAR < wall.value <= life.high * HOURS_PER_YEAR:
        return []
    return [Assumption("wall time", _years_on(wall, count), "",
                       f"past the chips' central {life.value:g}-year service life (within the longest, {life.high:g} "
                       "years): the embodied CO2e charges the chips more than their whole manufacturing emissions at "
                       f"the central lifetime; check {check}")]


def _years_on(wall: Range, count: float | None) -> str:
    """"5.71 years on 2 chips" (the central wall time; "5.71 years" where no count was given)."""
    on = f" on {count:,.0f} chip{'' if count == 1 else 's'}" if count is not None else ""
    return f"{_years(wall.value)} years{on}"


def _years(hours: float) -> str:
    """``hours`` in years to three significant figures, with thousands separators below a billion."""
    years = float(f"{hours / HOURS_PER_YEAR:.3g}")
    return f"{years:,.0f}" if 1000 <= years < 1e9 else f"{years:.3g}"
