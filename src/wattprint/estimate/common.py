"""Helpers shared by the training and inference estimators: input checks, site (PUE + intensity), embodied."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..errors import InputConflictError, shown
from ..footprint import Assumption, Footprint, Intensity, amortised_embodied_kg, check_pue
from ..quantities import Range, is_number


def to_float(name: str, value: Any) -> float:
    """``float(value)`` for a number of any type; one past the floating-point range (a huge int or Fraction) is
    a clear error rather than an OverflowError."""
    try:
        return float(value)
    except OverflowError:
        raise InputConflictError(f"{name} {number_text(value)} is too large: it leaves the floating-point "
                                 "range") from None
    except (TypeError, ValueError, ArithmeticError):
        raise InputConflictError(f"{name} must be a number, got {number_text(value)}") from None


# bytes per stored value (a weight, an activation) for each precision name users write: data-format definitions,
# not estimates
ATTENTION = ("gqa", "mha", "mqa")  # the attention kinds a parameter count can stand for
BYTES_PER_VALUE = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5}
# the estimators' keywords whose command-line flag is not the keyword with dashes
_FLAGS = {"window_layer_share": "--window-layers"}


def flag(keyword: str) -> str:
    """The command-line flag of an estimator's keyword argument: ``--tdp-w`` for ``tdp_w``."""
    return _FLAGS.get(keyword, "--" + keyword.replace("_", "-"))


def both_names(keyword: str) -> str:
    """An input as errors name it, for the command line and the API alike: "--tdp-w (tdp_w)"."""
    return f"{flag(keyword)} ({keyword})"


def number_text(value: Any) -> str:
    """A number the user gave, as compact as exact: a float by ``:g`` where that reads back the same (7e+09, not
    7000000000.0; 2, not 2.0), else as given (``shown``)."""
    if isinstance(value, float) and float(f"{value:g}") == value:
        return f"{value:g}"
    return shown(value)


def real_number(name: str, value: Any) -> float:
    """``value`` as a float if it is a real number of any type (``is_number``), else a clear error naming ``name``
    (a string, even "8", a bool, a list, a complex number); one past the floating-point range too (``to_float``)."""
    if not is_number(value):
        raise InputConflictError(f"{name} must be a number, got {number_text(value)}")
    return to_float(name, value)


def check_positive(name: str, value: Any, allow_zero: bool = False, integer: bool = False) -> float | None:
    """``value`` as a float (None passes through); negative, zero (unless allowed), NaN, inf, or a fraction where
    ``integer`` asks for a count, is an error. Any real number type is accepted (int, float, numpy scalars,
    Fraction, Decimal); a bool, a string or None where a number is needed is not. ``name`` is the input as errors
    name it (``both_names``: "--tdp-w (tdp_w)")."""
    if value is None:
        return None
    v = real_number(name, value)
    if math.isnan(v) or math.isinf(v):
        raise InputConflictError(f"{name} must be a finite number, got {number_text(value)}")
    if v < 0 or (v == 0 and not allow_zero):
        raise InputConflictError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {number_text(value)}")
    if integer and not v.is_integer():
        raise InputConflictError(f"{name} must be a whole number, got {number_text(value)}")
    return v + 0.0  # -0.0 (typed "-0") is zero: it would print as "-0"


def check_count(name: str, value: Any) -> float | None:
    """A count of parameters or tokens: positive and at least one (a count under one lost its suffix: 7B = 7e9)."""
    v = check_positive(name, value)
    if v is not None and v < 1:
        raise InputConflictError(f"{name} is a count, got {number_text(v)}: write 7B or 7e9 for seven billion")
    return v


def check_count_at_least(name: str, value: Any, minimum: float, too_few: str, example: str) -> float | None:
    """A count (check_count) of at least ``minimum``: fewer is a count that lost its suffix ("7" for 7B), said as
    "``name`` ``v`` is ``too_few``", with the suffix it likely had and ``example`` of absolute counts."""
    v = check_count(name, value)
    if v is not None and v < minimum:
        hint = f"did you mean {v:g}B ({v * 1e9:g})?" if v < 1000 else "write the count in full or with a suffix."
        raise InputConflictError(f"{name} {number_text(v)} is {too_few}: {hint} Counts are absolute: {example}")
    return v


def check_market_intensity(value: Any) -> float | None:
    """A contractual (market-based) gCO2e/kWh: >= 0 (a zero-carbon contract is 0), and not a unit slip."""
    from ..intensity import given_intensity_note

    g = check_positive("--market-intensity (market_intensity, gCO2e/kWh)", value, allow_zero=True)
    if g is not None:
        given_intensity_note(g, "market intensity")
    return g


def check_share(name: str, value: Any) -> float | None:
    """``value`` as a float if it is a share in (0, 1] (None passes through), else a clear error."""
    if value is None:
        return None
    v = to_float(name, value) if is_number(value) else math.nan
    if not 0 < v <= 1:
        raise InputConflictError(f"{name} must be in (0, 1], got {number_text(value)}")
    return v


# input checks, not data: how far below (a chip's idle draw, the lowest TDP) or above (the highest TDP, a chip's own)
# a power may lie before it is taken for a unit slip (kW typed as W is a factor 1000; a server's power, ~8x); an MFU
# is held to the same factor below the lowest a published training reaches
SLIP_BELOW = 10.0
SLIP_ABOVE = 2.0


def idle_fraction() -> Range:
    """Board power of a powered, waiting accelerator as a fraction of its TDP (sourced in inference_model.csv)."""
    from .inference import constants

    return constants()["idle_power_fraction"].range


def check_low_power(what: str, watts: float, tdp: Range, chip: str) -> list[Assumption]:
    """A power per chip below what the chip draws idle gets a note; ten times lower is taken for a unit slip."""
    idle = idle_fraction().low
    floor = idle * tdp.low
    if watts < floor / SLIP_BELOW:
        raise InputConflictError(
            f"{what} {watts:g} W per chip is far below the ~{floor:.0f} W a powered {chip} draws idle: give watts "
            "(a figure in kW needs x1000)")
    if watts < floor:
        return [Assumption(what, f"{watts:g} W", "given by the user",
                           f"below the ~{floor:.0f} W a powered {chip} draws idle ({idle:g} x TDP): "
                           "check the units, or that it is an average over the run's hours only")]
    return []


def check_board_power(watts: float, acc: Any, what: str = "board power") -> list[Assumption]:
    """A given board power (TDP override): outside the catalogue's span of TDPs by a slip factor is an error; far
    from the chip's own datasheet TDP, a note. ``what`` names the figure in the error (a chip without a TDP has
    only the catalogue's span to check an all-in power against)."""
    from ..data import accelerators

    tdps = [a.tdp_w for a in accelerators() if a.tdp_w]
    low, high = min(tdps) / SLIP_BELOW, max(tdps) * SLIP_ABOVE
    if not low <= watts <= high:
        raise InputConflictError(
            f"{what} {watts:g} W is outside what any accelerator draws (catalogue TDPs {min(tdps):g}-"
            f"{max(tdps):g} W): give watts per chip, not kW or a server's power")
    own = acc.tdp_w
    if own and not own / SLIP_ABOVE <= watts <= own * SLIP_ABOVE:
        return [Assumption("board power (given)", f"{watts:g} W", "given by the user",
                           f"{watts / own:.2g}x the {own:g} W TDP of {acc.name}'s datasheet: check it is one chip's")]
    return []


def check_finite(fp: Footprint, refuse_naming: str, work: str = "training") -> Footprint:
    """``fp``, or a clear error when the inputs were so large that a figure overflowed (JSON has no infinity, and a
    result of inf helps nobody), or when its total is above the whole world's annual emissions: no ``work``
    (training or service) emits that, so the error names the inputs given (``refuse_naming``, as flags with their
    values) whose magnitudes to check."""

    def bad(x: Any) -> bool:
        if isinstance(x, dict):
            return any(bad(v) for v in x.values())
        if isinstance(x, list):
            return any(bad(v) for v in x)
        return isinstance(x, float) and not math.isfinite(x)

    if bad(fp.to_dict()):
        raise too_large()
    # a plausibility bound, not a model input: no training or service comes within orders of magnitude of the
    # world's emissions, so an estimate above them comes from a slip in the inputs (a count's magnitude, days ...)
    refuse_above_world("total", fp.total_co2e_kg.value, f"check the magnitudes of {refuse_naming}"
                       + (" (counts are absolute: 7B = 7e9, 2T = 2e12)" if "params" in refuse_naming
                          or "--tokens" in refuse_naming else ""), work)
    return fp


def given_flags(model: Any, **given: Any) -> str:
    """The inputs given (keyword arguments, None: not given) as flags with their values, after ``--model NAME`` if
    one was named ("--model Llama-3.1-8B, --requests-per-day 1e+09"): what an error asks to check. A value that is
    no real number ("7B", [8], 1+0j, a 400-digit int) is refused here (``real_number``), by its flag and keyword,
    as the estimator's own checks would refuse it: this runs before them."""
    named = [f"--model {model}"] if model is not None else []
    return ", ".join(named + [f"{flag(k)} {real_number(both_names(k), v):g}" for k, v in given.items()
                              if v is not None])


def refuse_above_world(what: str, kg: float, check: str, work: str = "training") -> None:
    """Refuse a CO2e (``kg``, named ``what``) above the whole world's annual emissions: no ``work`` (a training, a
    service) emits that, so only a slip in the inputs gives it; ``check`` says which inputs to look at."""
    from ..data import world_annual_co2e_kg

    world, _source = world_annual_co2e_kg()
    if kg > world:
        raise InputConflictError(f"{what} {kg:.3g} kgCO2e is {kg / world:.3g}x the world's annual emissions "
                                 f"({world / 1e12:.3g} GtCO2e): no {work} emits that; {check}")


# an input check, not data: more accelerators at once than this is a count with a stray suffix (--count 1.5T for
# --tokens 1.5T) or days in the wrong unit, not a job. The largest single AI clusters built by 2025 hold a few
# hundred thousand (xAI's Colossus, Memphis: ~200,000 GPUs, xAI 2025); none holds a million. The bound sits well
# above them (50x Colossus), so that no real or planned job is refused, while a stray suffix (a factor of 1000 or
# more on a real count) still is
MAX_CHIPS_AT_ONCE = 1e7
# what the refusals say of the bound: the bound itself, not "more than any cluster holds", which counts between the
# largest cluster and the bound (5M chips, accepted) would contradict
CHIPS_BOUND_SAID = (f"more than the {MAX_CHIPS_AT_ONCE:.3g} ({MAX_CHIPS_AT_ONCE / 1e6:g} million) an estimate "
                    "accepts (the largest clusters hold a few hundred thousand)")


def check_chips_at_once(what: str, chips: float | None) -> None:
    """Refuse ``chips`` (accelerators in use at the same time: a count, or chip-hours / wall hours) above
    MAX_CHIPS_AT_ONCE, which only a mistyped count or time gives."""
    if chips is not None and chips > MAX_CHIPS_AT_ONCE:
        raise InputConflictError(
            f"{what}: {chips:.3g} chips at once, {CHIPS_BOUND_SAID}; check the count's suffix and the days (counts "
            "are absolute: --count 1024, --tokens 1.5T)")


def too_large() -> InputConflictError:
    """The error for inputs whose results leave the floating-point range."""
    return InputConflictError("the inputs are too large (or too small): a result leaves the floating-point range; "
                              "check the magnitudes (counts are absolute: 7e9 or 7B parameters, 2e12 or 2T tokens)")


def _finite_pue(v: float, given: Any) -> Range:
    if not math.isfinite(v):
        raise InputConflictError(f"PUE must be a finite number >= 1 (facility energy / IT energy), got {shown(given)}")
    return Range.exact(v)


def resolve_pue(pue: float | str | Range | None, location: str | None) -> tuple[Range, Assumption]:
    """PUE from a number, a preset name ("hyperscale", "google" ...) or the default for the location (None or blank
    text: not given, as ``wattprint run`` reads a blank --pue)."""
    from .. import data

    if pue is None or (isinstance(pue, str) and not pue.strip()):  # blank = not given, as a blank location
        return data.default_pue(location)
    if isinstance(pue, Range):
        r = pue
    elif isinstance(pue, str):
        from ..quantities import float_text

        try:
            v = float_text(pue)
        except ValueError:
            return data.pue_preset(pue)
        except OverflowError as e:  # "1e400", "1e-400": said as given, not as the inf or 0 float() makes of it
            raise InputConflictError(f"PUE {e}") from None
        r = _finite_pue(v, pue)
    elif is_number(pue):
        r = _finite_pue(to_float("PUE", pue), pue)
    else:
        raise InputConflictError(f"PUE must be a number (e.g. 1.1) or a preset name, got {shown(pue)}")
    check_pue(r.low)
    check_pue(r.high)
    note = data.given_pue_note(r.high)
    return r, note or Assumption("PUE", f"{r:.3g}", "given by the user")


def resolve_site(
    location: str | None,
    year: int | None,
    pue: float | str | Range | None,
    intensity: float | None,
    mix: str | dict[str, float] | None,
) -> tuple[Intensity, Range, list[Assumption]]:
    """Grid intensity and PUE for where the work runs, with the assumptions behind them.

    Precedence for intensity: explicit gCO2e/kWh > fuel mix > location (country / sub-national / cloud
    region, ``year`` or latest) > world average with a wide range.
    """
    from .. import intensity as grid

    if intensity is not None and mix is not None:
        raise InputConflictError("give either --intensity (intensity, gCO2e/kWh) or --mix (mix, a fuel mix), not "
                                 "both")
    year = grid.check_year(year)
    if isinstance(location, str) and not location.strip():
        location = None  # blank = not given, for the intensity and the PUE alike
    notes: list[Assumption] = []
    loc = None
    asked_world: str | None = None
    if location is not None:  # resolved once: a loose reading (bare "us-east-1") is said once, below
        loc, loc_notes = grid.resolve_location_noted(location)
        notes += loc_notes
        if loc is grid.WORLD:  # "World" is the world average, as no location, but asked for by name
            asked_world, location = location, None
        else:
            location = loc.key
    if intensity is not None or mix is not None:
        what = "given intensity" if intensity is not None else "fuel mix"
        if intensity is not None:
            g = check_positive("--intensity (intensity, gCO2e/kWh)", intensity, allow_zero=True)
            assert g is not None
            note = grid.given_intensity_note(g)
            # not tied to a data year: --year names the year of a location's grid data, which is not used
            inten = Intensity(Range.exact(g), location=location or "given", basis="given by the user", year=None,
                              source="given by the user" + (f"; {note}" if note else ""))
        else:
            assert mix is not None
            inten = grid.intensity_from_mix(grid.parse_mix(mix) if isinstance(mix, str) else mix)
            if location:
                inten = dataclasses.replace(inten, location=f"{location}, {inten.location}")
        if loc is not None and loc is not grid.WORLD:
            notes.append(grid.replaced_grid_note(loc, what, pue_given=pue is not None))
        if year is not None:
            notes.append(Assumption("year", f"{year} (not used)", "",
                                    f"the {what} is not tied to a data year; the year only selects a location's "
                                    "grid data"))
        notes.insert(0, inten.assumption())
    else:
        # the tracker's lookup: a year substituted is said in the intensity's source; no location (or "World") adds
        # the hint to give one, as a tracked run shows it. The reading of a given location was noted above.
        inten, lookup_notes = grid.intensity_lookup(location or asked_world, year)
        notes.insert(0, inten.assumption())
        if loc is None or loc is grid.WORLD:
            notes += lookup_notes
    pue_r, pue_a = resolve_pue(pue, location)
    notes.append(pue_a)
    return inten, pue_r, notes


def embodied_for(acc: Any, count: float, hours: Range) -> tuple[Range, list[Assumption]]:
    """Embodied kgCO2e of ``count`` accelerators (and their share of host servers) used for ``hours``.

    units x kgCO2e per unit x hours / lifetime, for the chips and for ceil-free fractional servers
    (count / accelerators per server): a job on 4 of 8 GPUs is charged half a server.
    """
    from .. import data

    chip = data.embodied_accelerator(acc)
    server = data.embodied_host_server()
    per_server = data.accelerators_per_server(acc)
    kg_chip = amortised_embodied_kg(count, chip.kg_per_unit, hours, chip.lifetime_years)
    kg_host = amortised_embodied_kg(count / per_server, server.kg_per_unit, hours, server.lifetime_years)
    notes = [
        Assumption(
            "embodied emissions per accelerator",
            f"{chip.kg_per_unit:.4g} kgCO2e over {chip.lifetime_years:.3g} years",
            chip.source,
            chip.note,
        ),
        Assumption(
            "embodied emissions per host server (excl. accelerators)",
            f"{server.kg_per_unit:.4g} kgCO2e over {server.lifetime_years:.3g} years, "
            f"{per_server} accelerators per server",
            server.source,
            server.note,
        ),
    ]
    return kg_chip + kg_host, notes


def component_key(acc: Any) -> str:
    """``gpu`` for GPUs, ``accelerator`` for TPUs, Trainium, Gaudi ..."""
    return "gpu" if acc.vendor in ("NVIDIA", "AMD") else "accelerator"
