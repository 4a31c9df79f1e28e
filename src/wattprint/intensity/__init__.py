"""Grid carbon intensity by location and year, or from a generation mix, with its basis always attached.

Locations (forgiving): ISO 3166 alpha-2 / alpha-3 codes and country names ("FR", "FRA", "France", "UK",
"South Korea"); sub-national grids ("US-CA", "California", "CA-QC", "Quebec"); Nordic bidding zones ("SE3",
"NO1"; Finland's zone as "zone:FI" since "FI" is the country); cloud regions ("aws:us-east-1",
"gcp:europe-west4", "azure:westeurope"; "google:" / "microsoft:" / "amazon:" also accepted; a bare region id
such as "us-east-1" is read as its one provider's region, with a note); a group of countries ("EU", "EU27",
"European Union": the generation-weighted mean of its members, ranged over them); "World" / "global" for the world
average (as no location). A name of two different places ("Georgia": the country and the US state) is refused
as ambiguous; their codes ("GEO", "GE", "US-GA") say which.

Sources differ in basis (lifecycle vs direct combustion, national average vs grid region), so every
:class:`~wattprint.footprint.Intensity` carries ``basis``, ``year`` and ``source``; nothing is mixed silently.

Ranges (gCO2e/kWh): for a location-year, low/high span the values of the same location over the three years
up to the one used (same basis only; for a year missing from the data, also the next year it has), widened to at
least a per-source relative band (``refdata/factors.csv``: national +-5%, eGRID 2016 +-10%, Cloud Carbon
Footprint +-15%, Nordic zones +-50%). Mix-based values use the per-source lifecycle min/max. No location -> the
world average with a wide range (generation-weighted 10th-90th percentile of countries), of the year asked for
(2000-2020 from that year's national values) or the latest.

    >>> i = intensity_from_mix(parse_mix("coal=60,gas=40"))
    >>> round(i.g_per_kwh.value, 1)
    688.0
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ..data import load_table
from ..errors import InputConflictError, echo, shown
from ..footprint import Assumption, Intensity
from ..quantities import Range, is_number
from .locations import (  # noqa: F401  (private names: tests clear their caches)
    KINDS,
    WORLD,
    WORLD_NAMES,
    Location,
    _aliases,
    _country_codes,
    _country_records,
    _raw,
    _records,
    location_aliases,
    locations,
    resolve_location,
    resolve_location_noted,
)
from .mix import given_intensity_note, intensity_from_mix, mix_sources, parse_mix

__all__ = ["Location", "resolve_location", "resolve_location_noted", "intensity_for", "intensity_lookup",
           "intensity_from_mix", "parse_mix", "given_intensity_note", "locations", "location_aliases",
           "generation_mix", "generation_mix_lookup", "mix_sources", "check_year", "replaced_grid_note", "KINDS",
           "WORLD", "WORLD_NAMES"]

_COUNTRY_BASIS = "lifecycle, average (OWID/Ember)"

# -- intensity for a location ------------------------------------------------------------------------
def _year(raw: dict[str, Any], year: str) -> dict[str, Any]:
    """One year of a location: {"g": gCO2e/kWh, ...}. Countries store bare values, with the source of the
    years not from the table's default source in ``year_src`` (see scripts/build_data.py)."""
    rec = raw["years"][year]
    if isinstance(rec, dict):
        return rec
    src = raw.get("year_src", {}).get(year) or load_table("countries")["meta"]["year_src_default"]
    return {"g": rec, "src": src}


def _rel(raw: dict[str, Any]) -> float:
    key = raw.get("rel") or "intensity_rel_country"
    if key == "intensity_rel_country":
        key = "intensity_rel_floor_country"
    return float(load_table("factors")["factors"][key]["value"])


def _world(year: int | None = None, asked: str | None = None) -> tuple[Intensity, list[Assumption]]:
    """The world average for ``year`` (None: the latest) with the year notes; ``asked`` is the name it was asked
    for by ("World"), None where no location was given. Past years come from that year's national values; the
    latest from each country's latest year (a newer data release)."""
    w = load_table("factors")["world"]
    past = w.get("years", {})
    latest = int(w["year"])
    used, notes = _pick_year(WORLD, sorted([int(y) for y in past] + [latest]), year)
    rec, source = (w, w["source"]) if used == latest else (past[str(used)], w["years_source"])
    why = "no location given, world average" if asked is None else f"{echo(asked)}: the world average"
    note = f"; {notes[-1].note}" if notes else ""
    span = w.get("years_span") if used == latest else None  # the latest figure mixes countries' latest years
    return Intensity(Range(float(rec["value"]), float(rec["low"]), float(rec["high"])), location="world",
                     basis=w["basis"], year=used, source=f"{why}: {source}{note}",
                     years=(int(span[0]), int(span[1])) if span else None), notes


def _country_source(src: str) -> str:
    if src == "codecarbon":
        return ("Our World in Data energy data (2024 release, based on Ember and Energy Institute), via CodeCarbon "
                "global_energy_mix.json; CC BY 4.0 / MIT")
    if src == "mix":  # see scripts/build_data.py repair_implausible_years
        return ("computed from the year's generation mix (Our World in Data; CC BY 4.0) x IPCC AR5 lifecycle factors, "
                "range = per-source min-max: the source's 0 gCO2e/kWh lies below every generation's lifecycle factor")
    return "Our World in Data energy data (April-2022 release, BP Statistical Review + Ember); CC BY 4.0"


# an input check, not data: the largest year taken. A year past the data gets the latest data year (with a note), so
# the data set no upper bound; this one keeps a year to the digits people write one with, far above any data
MAX_YEAR = 999_999


def check_year(year: Any) -> int | None:
    """A calendar year as an int (None passes through), of any real number type (int, an integral float, Decimal
    or Fraction, numpy scalars); a fraction, NaN, infinity, a year <= 0 or one past ``MAX_YEAR`` is an error."""
    if year is None:
        return None
    got = echo(year) if isinstance(year, str) else shown(year)
    # compared exactly, never through float(): a 400-digit int or Decimal('1e400') is a number, past the range
    try:
        finite = is_number(year) and year - year == 0  # an infinity or a NaN less itself is NaN (a Decimal's raises)
    except ArithmeticError:
        finite = False
    if finite and year > MAX_YEAR:
        raise InputConflictError(f"year {got} is out of range: give a year from 1 to {MAX_YEAR:,} (e.g. 2023)")
    if not finite or year <= 0 or year != math.floor(year):
        raise InputConflictError(f"year must be a whole year such as 2023, got {got}")
    return int(year)


def _spans(years: list[int]) -> str:
    """Sorted years as runs: [2000, 2001, 2002, 2023] -> "2000-2002, 2023" (a gap is not spanned)."""
    runs: list[list[int]] = []
    for y in years:
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def _pick_year(loc: Location, years: list[int], year: int | None, what: str = "intensity"
               ) -> tuple[int, list[Assumption]]:
    """The data year to use for ``year`` (None -> latest): after the data -> the latest, a gap -> the nearest
    earlier year (each said); before the data -> InputConflictError."""
    if year is None or year == years[-1]:
        return years[-1], []
    if year in years:
        return year, []
    if year > years[-1]:
        used = years[-1]
        return used, [Assumption(f"{what} year", str(used), "",
                                 f"{year} not in the data for {loc.name}; latest available year {used} used")]
    if year < years[0]:
        raise InputConflictError(f"no {what} data for {loc.name} before {years[0]} (asked for {year}); "
                                 + (f"the data hold {years[0]} only" if len(years) == 1 else
                                    f"available years: {_spans(years)}"))
    used = max(y for y in years if y <= year)
    return used, [Assumption(f"{what} year", str(used), "",
                             f"{year} not in the data for {loc.name}; nearest earlier year {used} used")]


def intensity_lookup(location: str | None, year: int | None = None) -> tuple[Intensity, list[Assumption]]:
    """Like :func:`intensity_for`, plus the assumptions made (year substituted, world average used, a bare
    cloud region id read as provider:region ...)."""
    notes: list[Assumption] = []
    year = check_year(year)
    loc: Location | None = None
    if location is not None and not (isinstance(location, str) and not location.strip()):
        loc, notes = resolve_location_noted(location)
    if loc is None or loc is WORLD:
        asked = location.strip() if loc is WORLD and isinstance(location, str) else None
        w, world_notes = _world(year, asked)
        notes += world_notes
        given = "none given" if loc is None else f"{echo(location.strip() if isinstance(location, str) else '')}"
        notes.append(Assumption("location", f"{given}: world average", w.source,
                                "give --location for a much narrower range"))
        return w, notes
    raw = _raw(loc)
    years = sorted(int(y) for y in raw["years"])
    year_notes: list[Assumption] = []
    if years == [0]:  # the source gives no year (stored as 0): one figure, whatever year is asked
        used = 0
        if year is not None:
            year_notes.append(Assumption("intensity year", "not stated by the source", "",
                                         f"{year} asked for, but the source gives no year for {loc.name}: the "
                                         "figure is not year-specific"))
    else:
        used, year_notes = _pick_year(loc, [y for y in years if y > 0], year)
    rec = _year(raw, str(used))
    g = float(rec["g"])
    if loc.kind == "country":
        basis, source = _COUNTRY_BASIS, _country_source(rec["src"])
    else:
        basis = rec.get("basis") or raw["basis"]
        source = rec.get("source") or raw["source"]  # a year from another release of the data says its own
    if "low" in rec:  # mix-derived (Canadian provinces, country-years recomputed from their mix): per-source min/max
        rng = Range(g, float(rec["low"]), float(rec["high"]))
    else:
        rel = _rel(raw)
        def basis_of(y: int) -> Any:
            r = _year(raw, str(y))
            return r.get("basis") or raw.get("basis")

        same_basis = basis_of(used)

        # A gap year lies between the year used and the next one in the data: the range reaches that one too,
        # where it is of the same basis (another release may count other gases: never mixed silently).
        later = min((y for y in years if year is not None and used < year < y), default=None)
        other = later is not None and basis_of(later) != same_basis
        window = [float(_year(raw, str(y))["g"]) for y in years
                  if (used - 2 <= y <= used or y == later) and basis_of(y) == same_basis]
        rng = Range(g, min([g * (1 - rel), *window]), max([g * (1 + rel), *window]))
        if later is not None and year_notes:
            said = (f"{later}, the next year in the data, is of another basis ({basis_of(later)}) and not in the "
                    "range" if other else f"the range takes in {later}, the next year in the data")
            year_notes[-1] = replace(year_notes[-1], note=f"{year_notes[-1].note}; {said}")
    year_out = used if used > 0 else None  # 0 = source gives no year
    loc_label = f"{loc.name} ({loc.key})" if loc.name != loc.key else loc.key
    if year_notes:  # the year note travels with the figure (intensity_for has no notes list)
        source = f"{source}; {year_notes[-1].note}"
    return Intensity(rng, location=loc_label, basis=basis, year=year_out, source=source,
                     gases=rec.get("gases") or raw.get("gases") or "CO2e"), notes + year_notes


def replaced_grid_note(loc: Location, what: str, pue_given: bool) -> Assumption:
    """The note for a location whose grid a given intensity or fuel mix (``what``) replaces: it then serves only
    as the PUE default, or not at all when the PUE is given too."""
    role = "is not used (the PUE is given too)" if pue_given else "sets only the PUE default"
    return Assumption("location", loc.key, "",
                      f"{loc.name}'s grid intensity not used (the {what} replaces it); the location {role}")


def intensity_for(location: str | None, year: int | None = None) -> Intensity:
    """Grid intensity (gCO2e/kWh, a Range) for a location and year, with basis, year and source.

    ``location`` None -> world average with a wide range and a note; ``year`` None -> latest available.
    A year after the data -> the latest year, a gap -> the nearest earlier year (said in ``source``); a year
    before the data -> InputConflictError.
    """
    return intensity_lookup(location, year)[0]


def generation_mix(location: str, year: int | None = None) -> dict[str, float]:
    """Electricity generation shares (%) by source for a country or Canadian province (latest year by
    default); empty dict where the data have no mix (sub-national US grids, zones, cloud regions).

    Keys are the canonical sources of :func:`mix_sources` (OWID's "biofuel" -> "biomass", its "other
    renewables excl. biofuel" -> "geothermal", as the build maps them to lifecycle factors), so the result can
    be passed to :func:`intensity_from_mix`. Years follow :func:`intensity_for`: before the data ->
    InputConflictError, a gap or a later year -> the nearest earlier / latest year (said by
    :func:`generation_mix_lookup`)."""
    return generation_mix_lookup(location, year)[0]


def _mix_years(loc: Location, raw: dict[str, Any]) -> dict[int, Any]:
    """year -> the stored mix (a dict, or a list in the order of the mixes table's ``mix_keys``)."""
    if loc.kind == "country":  # country mixes live in their own table (see build_data.py)
        return {int(y): r["mix"] for y, r in load_table("mixes")["countries"].get(loc.key, {}).items()
                if r.get("mix")}
    return {int(y): r["mix"] for y, r in raw["years"].items() if isinstance(r, dict) and r.get("mix")}


def generation_mix_lookup(location: str, year: int | None = None) -> tuple[dict[str, float], list[Assumption]]:
    """Like :func:`generation_mix`, plus the assumptions made (year substituted, bare region id read ...)."""
    year = check_year(year)
    loc, notes = resolve_location_noted(location)
    if loc is WORLD:
        raise InputConflictError("no generation mix for the world average: give a country or a Canadian province")
    by_year = _mix_years(loc, _raw(loc))
    if not by_year:
        return {}, notes
    used, year_notes = _pick_year(loc, sorted(by_year), year, "generation mix")
    mix = by_year[used]
    if isinstance(mix, list):
        mix = dict(zip(load_table("mixes")["meta"]["mix_keys"], mix, strict=True))
    to_factor = load_table("countries")["meta"]["mix_to_factor"]
    out: dict[str, float] = {}
    for k, v in mix.items():
        if v:
            src = to_factor.get(k, k)
            out[src] = out.get(src, 0.0) + float(v)
    return out, notes + year_notes
