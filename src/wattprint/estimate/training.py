"""Predict the footprint of a training run before it runs.

    compute    C = training FLOPs, or 6 x N_active x D (params x tokens)
    chip-hours = given, or count x days x 24, or C / (peak FLOP/s x MFU x 3600)
    IT energy  = chip-hours x (accelerator W + host W per accelerator) / 1000     (kWh, before PUE)
                 or chip-hours x power_w / 1000 when the all-in power per chip is given
    then the footprint model: x PUE -> x grid intensity -> operational CO2e; + embodied (amortised).

For fixed hardware, count, precision and site, everything is linear in C.

``estimate_training`` reads as its steps: check the inputs, then the chip at its precision, the compute, the
chip-hours and wall time, the IT energy, the site, embodied emissions and the footprint. The steps live beside this
module:

* ``training_compute.py``: the FLOPs (given, or 6·N·D with attention at a context) and their checks;
* ``training_time.py``: the chip at its precision, the MFU (given, modelled or implied) and the chip-hours and
  wall time;
* ``training_power.py``: IT energy per component (all-in W per chip, or a fraction of TDP plus the host).

Units: compute in FLOP, time in hours (chip-hours, wall hours), energy in kWh.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputConflictError, WattprintError, shown
from ..footprint import Assumption, Footprint
from ..quantities import Range
from .common import (
    both_names,
    check_chips_at_once,
    check_count_at_least,
    check_finite,
    check_market_intensity,
    check_positive,
    embodied_for,
    number_text,
    resolve_site,
)
from .model_preset import Preset, apply_model
from .training_compute import MIN_COUNT, MIN_FLOPS, teacher_flops, training_flops
from .training_power import check_power_fraction, it_energy
from .training_time import (
    TrainingChip,
    central_service_life_note,
    check_days_within_service_life,
    check_mfu_floor,
    check_wall_within_service_life,
    chip_hours_from_inputs,
    resolve_chip,
    size_run,
    wall_time,
)


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


def estimate_training(
    *,
    model: str | None = None,
    flops: float | None = None,
    params: float | None = None,
    active_params: float | None = None,
    tokens: float | None = None,
    chip_hours: float | None = None,
    gpu_hours: float | None = None,
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
    teacher_params: float | Sequence[float] | None = None,
    teacher_tokens: float | None = None,
) -> Footprint:
    """Footprint of a training run (kind="training") with ranges and the assumptions behind it.

    Any consistent subset of: ``flops`` (FLOP); ``params`` (+ ``active_params`` for MoE) and ``tokens``;
    ``chip_hours`` (or ``gpu_hours``, the same input by the name papers use); ``count`` x ``days``.
    ``hardware`` is a forgiving chip name ("A100", "H100 SXM", "TPU v4"); ``count`` chips as the catalogue
    counts them. ``mfu`` (0-1, of the dense peak at ``precision``) defaults to the fitted model;
    ``power_fraction`` (of TDP, accelerator only) defaults per family and gets host power added per server;
    ``power_w`` is the all-in average W per chip as papers state it (replaces both). ``pue``: number or preset
    name. Site: ``location`` or ``intensity`` (gCO2e/kWh) or ``mix`` ("coal=60,gas=40"); none -> world average
    with a wide range. ``market_intensity`` (gCO2e/kWh, contractual factor of the supply) adds a market-based
    operational CO2e (no embodied) beside the location-based one. ``seq_len`` (training context in tokens, a whole
    number) adds causal attention's FLOPs to 6·N·D: a 128k context roughly triples an 8B model's compute; one that
    would take the total past ``training_compute.MAX_FLOPS_OVER_6ND`` x 6·N·D is refused as a unit slip.
    ``teacher_params`` (the active parameters of a knowledge-distillation teacher, or a list of them) adds the
    teachers' forward passes, 2 x N_teacher x tokens each (``teacher_tokens`` if they ran over fewer or more tokens
    than the student's); it needs parameters and tokens, since given FLOPs or chip-hours already hold it.

    ``model``: a published model's name instead of ``params`` / ``active_params`` ("Llama-3.1-8B", "DeepSeek-V3";
    ``wattprint data models`` lists them); a given count more than published rounding (15 %) from its count is an
    error, one within it is used and the assumptions say so.

    MoE: ``active_params`` below ``params`` makes the run an MoE (the MFU model's MoE term; compute from the active
    parameters). ``active_params`` without ``params`` is taken for an MoE whose total is unknown, with a note (a
    training estimate needs no total). ``moe`` (True / False, None = inferred so) overrides that reading (with
    ``model``, one that contradicts the model's card is refused). With
    ``days``, the wall time is the days given.

    A run that cannot be carried out as stated is refused (InputConflictError naming the inputs): a wall time past
    the hardware's service life (the longest its embodied emissions are amortised over), fewer than one chip over
    the days given, a total above the whole world's annual emissions, or an MFU, FLOPs or chip-hours below any
    training's. A wall time past the chips' central service life but within the longest is noted.
    """
    from .. import data

    if gpu_hours is not None:
        if chip_hours is not None and chip_hours != gpu_hours:
            raise InputConflictError(f"chip_hours ({shown(chip_hours)}) and gpu_hours ({shown(gpu_hours)}) are the "
                                     "same input (accelerator-hours) given twice; give one")
        chip_hours = gpu_hours
    preset = apply_model(model, params, active_params, shape=seq_len is not None)
    params, active_params = preset.params, preset.active_params
    _check_moe_of_model(moe, preset)
    given, fraction_notes = _checked_inputs(
        flops=flops, params=params, active_params=active_params, tokens=tokens, seq_len=seq_len,
        chip_hours=chip_hours, hours_named="gpu_hours" if gpu_hours is not None else "chip_hours", days=days,
        count=count, power_w=power_w, power_fraction=power_fraction, mfu=mfu,
        moe=moe, hardware=hardware)
    acc, variants, hardware_notes = data.find_accelerator(given.hardware)
    if (unit_note := data.count_unit_assumption(acc, given.count)) is not None:
        hardware_notes = [*hardware_notes, unit_note]
    # no training outlasts its chips: the longest service life the embodied emissions are amortised over bounds it
    life = data.embodied_accelerator(acc).lifetime_years
    service_life_years = life.high
    check_days_within_service_life(given.days, service_life_years)
    chip, precision_notes = resolve_chip(acc, variants, precision)
    compute, n_active, compute_notes = training_flops(
        given.flops, given.params, given.active_params, given.tokens, given.seq_len, preset)
    teachers, d_teacher = _checked_teachers(teacher_params, teacher_tokens, given)
    if teachers:
        assert compute is not None and given.tokens is not None  # _checked_teachers refuses a run without them
        extra, teacher_note = teacher_flops(teachers, given.tokens, d_teacher)
        compute += extra
        compute_notes = [*compute_notes, teacher_note]
    input_hours, chips, chip_hour_notes = chip_hours_from_inputs(given.chip_hours, given.count, given.days)
    is_moe, moe_notes = _mixture_of_experts(given.params, given.active_params, given.moe)
    try:
        hours, run_mfu, mfu_notes = size_run(compute, input_hours, given.mfu, chip, n_active, is_moe)
    except InputConflictError as e:  # say where chip-hours the user did not type came from
        if given.chip_hours is None and input_hours is not None:
            raise InputConflictError(f"{e} (chip-hours = {given.count:g} chips x {given.days:g} days x 24)") from None
        raise
    if preset.name is not None and given.mfu is None and input_hours is None:
        mfu_notes = [*mfu_notes, *_hybrid_mfu_note(preset.name)]
    wall, chip_details, wall_notes = wall_time(given.days, chips, given.count, hours)
    if given.days is None and given.count is not None:
        wall_notes += check_wall_within_service_life(wall, given.count, service_life_years,
                                                     _flags(given, model, *_SIZING))
    # within the longest life but past the central one, as the days given or as chip-hours / count: said alike
    wall_notes += central_service_life_note(wall, given.count, life, "--days" if given.days is not None else "--count")
    energy, energy_notes = it_energy(acc, variants, hours, given.power_w, given.power_fraction)
    inten, pue_r, site_notes = resolve_site(location, year, pue, intensity, mix)
    # embodied depends on chip-hours only: count chips for wall hours = chip-hours x 1 chip
    embodied, embodied_notes = embodied_for(acc, 1.0, hours)
    if math.isnan(hours.value):  # pragma: no cover - guarded by input checks
        raise InputConflictError("could not size the run from the inputs")
    return check_finite(Footprint(
        energy_by_component_kwh=energy,
        pue=pue_r,
        intensity=inten,
        embodied_co2e_kg=embodied,
        assumptions=[*preset.notes, *hardware_notes, *fraction_notes, *precision_notes, *compute_notes,
                     *chip_hour_notes, *moe_notes, *mfu_notes, *wall_notes, *energy_notes, *site_notes,
                     *embodied_notes],
        kind="training",
        chip_hours=hours,
        wall_time_h=wall,
        market_intensity_g_per_kwh=check_market_intensity(market_intensity),
        details=_details(chip, compute, run_mfu, chip_details),
    ), refuse_naming=", ".join(filter(None, (_flags(given, model, *_SIZING, "days", "count", "power_w",
                                                    "power_fraction"), _teacher_flags(teachers, d_teacher)))))


# the inputs that size a run's compute and time, as named in errors about its size
_SIZING = ("flops", "params", "active_params", "tokens", "seq_len", "chip_hours", "mfu")


def _flags(given: _Inputs, model: str | None, *fields: str) -> str:
    """The given inputs among ``fields`` (names of _Inputs) as flags with their values ("--params 7e+09, --tokens
    2e+12"); parameters that came from ``model`` are named by it."""
    named: list[str] = []
    for field in fields:
        value = getattr(given, field)
        if value is None:
            continue
        flag = f"--model {model}" if model is not None and field in ("params", "active_params") else \
            f"--{field.replace('_', '-')} {value:g}"
        if flag not in named:
            named.append(flag)
    return ", ".join(named)


def check_training_count(name: str, value: Any) -> float | None:
    """A parameter or token count (check_count), refused where it can only be a count that lost its suffix."""
    return check_count_at_least(name, value, MIN_COUNT, "fewer than any training has", "7B = 7e9, 1.4T = 1.4e12")


def _checked_inputs(
    *, flops: Any, params: Any, active_params: Any, tokens: Any, seq_len: Any, chip_hours: Any, hours_named: str,
    days: Any, count: Any, power_w: Any, power_fraction: Any, mfu: Any, moe: Any, hardware: str | None,
) -> tuple[_Inputs, list[Assumption]]:
    """(the inputs as checked floats, the note on a low power fraction). Each check raises on its input in this
    order, so the first bad input is the one reported, by its flag and keyword (``hours_named``: the keyword the
    chip-hours came as, chip_hours or gpu_hours)."""
    flops = check_positive(both_names("flops"), flops)
    if flops is not None and flops < MIN_FLOPS:
        raise InputConflictError(
            f"{both_names('flops')} {number_text(flops)} is fewer than any training has (6 x {MIN_COUNT} parameters x "
            f"{MIN_COUNT} tokens = {MIN_FLOPS:g} FLOP): give the training compute in FLOP, e.g. 3.14e23")
    params = check_training_count(both_names("params"), params)
    active_params = check_training_count(both_names("active_params"), active_params)
    tokens = check_training_count(both_names("tokens"), tokens)
    seq_len = check_positive("--seq-len (seq_len, the context length in tokens)", seq_len, integer=True)
    chip_hours = check_positive(both_names(hours_named), chip_hours)
    days = check_positive(both_names("days"), days)
    count = check_positive("--count (count, chips)", count, integer=True)
    check_chips_at_once(both_names("count"), count)
    power_w = check_positive("--power-w (power_w, W per chip)", power_w)
    power_fraction = check_positive("--power-fraction (power_fraction, of TDP)", power_fraction)
    fraction_notes = check_power_fraction(power_fraction) if power_fraction is not None else []
    mfu = check_positive(both_names("mfu"), mfu)
    if mfu is not None and mfu > 1:
        raise InputConflictError(f"{both_names('mfu')} is a fraction of peak (0-1], got {number_text(mfu)}")
    check_mfu_floor(mfu)
    if power_w is not None and power_fraction is not None:
        raise InputConflictError("give either --power-w (power_w, all-in W per chip) or --power-fraction "
                                 "(power_fraction, of TDP), not both")
    if moe is not None and not isinstance(moe, bool):
        raise InputConflictError(f"moe must be True, False or None (None: an MoE when active parameters are given "
                                 f"below the total, or without one), got {moe!r}")
    if hardware is None:
        raise WattprintError("--hardware (hardware=...) is required, e.g. A100; list names with 'wattprint data "
                             "gpus'")
    return _Inputs(flops, params, active_params, tokens, seq_len, chip_hours, days, count, power_w, power_fraction,
                   mfu, moe, hardware), fraction_notes


def _teacher_flags(teachers: list[float], d_teacher: float | None) -> str:
    """The distillation inputs given, as flags ("--teacher-params 8e+09,7e+10"), for errors about a run's size."""
    if not teachers:
        return ""
    flags = f"--teacher-params {','.join(f'{t:g}' for t in teachers)}"
    return flags + (f", --teacher-tokens {d_teacher:g}" if d_teacher is not None else "")


def _checked_teachers(teacher_params: Any, teacher_tokens: Any, given: _Inputs) -> tuple[list[float], float | None]:
    """(the teachers' parameter counts, their tokens or None): each a count as --params is; teachers only add to a
    compute from parameters x tokens (given FLOPs or chip-hours already hold their passes)."""
    if teacher_params is None:
        if teacher_tokens is not None:
            raise InputConflictError("--teacher-tokens (teacher_tokens=...) without --teacher-params "
                                     "(teacher_params=...): give the teachers' parameters too")
        return [], None
    many = teacher_params if isinstance(teacher_params, (list, tuple)) else [teacher_params]
    if not many or any(t is None for t in many):
        raise InputConflictError("--teacher-params (teacher_params=...) is empty or holds None: give each teacher's "
                                 "parameters")
    teachers = [check_training_count(both_names("teacher_params"), t) for t in many]
    d_teacher = check_training_count(both_names("teacher_tokens"), teacher_tokens)
    if given.flops is not None or given.tokens is None or (given.params is None and given.active_params is None):
        raise InputConflictError("distillation teachers add their forward passes to 6 x parameters x tokens: give "
                                 "--params (or --model) and --tokens with --teacher-params; given FLOPs or "
                                 "chip-hours already include the teachers' compute")
    return [t for t in teachers if t is not None], d_teacher  # none is None: checked above


def _check_moe_of_model(moe: Any, preset: Preset) -> None:
    """Refuse ``moe`` True for a named dense model, or False for a named MoE: the model's card says which it is
    (serving refuses an attention that contradicts the model the same way)."""
    if preset.name is None or not isinstance(moe, bool):  # no model, or not a bool (_checked_inputs says so)
        return
    named_moe = preset.active_params is not None and preset.params is not None and \
        preset.active_params < preset.params
    if moe != named_moe:
        what = (f"an MoE, {number_text(preset.active_params or 0.0)} of {number_text(preset.params or 0.0)} "
                "parameters active" if named_moe else "a dense model")
        raise InputConflictError(f"moe={moe} contradicts model {preset.name!r} ({what}); give one of them")


def _mixture_of_experts(
    params: float | None, active_params: float | None, moe: bool | None
) -> tuple[bool, list[Assumption]]:
    """(whether the run is an MoE, notes): as ``moe`` says, else inferred from the parameters given."""
    # active parameters below the total are an MoE's; active parameters without a total too (the user said these
    # are the *active* ones): only the MFU model uses it, and it needs no total (nor do memory and embodied here)
    inferred_moe = active_params is not None and (params is None or active_params < params)
    is_moe = moe if moe is not None else inferred_moe
    if is_moe and active_params is not None and params is None:
        return is_moe, [Assumption(
            "mixture of experts", f"{active_params:.4g} active parameters, total not given", "given by the user",
            "active parameters without --params are taken for an MoE whose total is unknown: the MFU model's MoE "
            "term applies and the compute uses the active parameters; nothing in a training estimate needs the "
            "total (for a dense model, give --params alone)")]
    return is_moe, []


def _hybrid_mfu_note(model: str) -> list[Assumption]:
    """A note where the named model is a hybrid: the MFU model was fitted on transformer trainings only."""
    from ..data.models import find_model

    spec = find_model(model).spec
    if spec.recurrent is None:
        return []
    r = spec.recurrent
    return [Assumption(
        "MFU of a hybrid", f"{spec.name}: {r.layers} {r.kind} layers beside {spec.attention_layers} attention layers",
        "wattprint's MFU model (fitted on published transformer trainings; hybrid and state-space ones not fitted)",
        "the MFU model was fitted on transformer trainings; recurrent layers run other kernels (chunked scans), "
        "so this run may reach another MFU than the range says; give --mfu if you know it")]


def _details(
    chip: TrainingChip, compute: float | None, run_mfu: Range | None, chip_details: dict[str, Any]
) -> dict[str, Any]:
    """The footprint's details: hardware, precision, training FLOPs, MFU, then the chips (count or average busy)."""
    details: dict[str, Any] = {"hardware": chip.acc.name, "precision": chip.precision}
    if compute is not None:
        details["training_flops"] = Range.exact(compute)
    if run_mfu is not None:
        details["mfu"] = run_mfu
    return {**details, **chip_details}
