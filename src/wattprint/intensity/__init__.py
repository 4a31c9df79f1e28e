"""Grid carbon intensity by location and year, or from a generation mix, with its basis always attached.

Locations (forgiving): ISO 3166 alpha-2 / alpha-3 codes and country names ("FR", "FRA", "France", "UK",
"South Korea"); sub-national grids ("US-CA", "California", "CA-QC", "Quebec"); Nordic bidding zones ("SE3",
"NO1"; Finland's zone as "zone:FI" since "FI" is the country); cloud regions ("aws:us-east-1",
"gcp:europe-west4", "azure:westeurope"; "google:" / "microsoft:" / "amazon:" also accepted; a bare region id
such as "us-east-1" is read as its one provider's region, with a note); "World" / "global" for the world
average (as no location). A name that is both a country and a US state ("Georgia") means the country; use
"US-GA" for the state.

Sources differ in basis (lifecycle vs direct combustion, national average vs grid region), so every
:class:`~wattprint.footprint.Intensity` carries ``basis``, ``year`` and ``source``; nothing is mixed silently.

Ranges (gCO2e/kWh): for a location-year, low/high span the values of the same location over the three years
up to the one used (same basis only), widened to at least a per-source relative band (``refdata/factors.csv``:
national +-5%, eGRID 2016 +-10%, Cloud Carbon Footprint +-15%, Nordic zones +-50%). Mix-based values use the
per-source lifecycle min/max. No location -> the world average with a wide range (generation-weighted
quartiles of countries).

    >>> i = intensity_from_mix(parse_mix("coal=60,gas=40"))
    >>> round(i.g_per_kwh.value, 1)
    688.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..data import load_table
from ..errors import AmbiguousNameError, InputConflictError, UnknownNameError, echo, normalise_name
from ..footprint import Assumption, Intensity
from ..quantities import Range

__all__ = ["Location", "resolve_location", "resolve_location_noted", "intensity_for", "intensity_lookup",
           "intensity_from_mix", "parse_mix", "given_intensity_note", "locations", "location_aliases",
           "generation_mix", "generation_mix_lookup", "mix_sources", "WORLD", "WORLD_NAMES"]

KINDS = ("country", "subnational", "zone", "cloud")
_PROVIDERS = {"aws": "aws", "amazon": "aws", "gcp": "gcp", "google": "gcp", "googlecloud": "gcp", "azure": "azure",
              "microsoft": "azure"}
_COUNTRY_BASIS = "lifecycle, average (OWID/Ember)"


@dataclass(frozen=True)
class Location:
    """A place with grid data. ``key``: ISO alpha-3 "FRA", sub-national "US-CA"/"CA-QC", zone "SE3",
    cloud "aws:us-east-1"; ``kind``: "country" | "subnational" | "zone" | "cloud", or "world" for :data:`WORLD`
    (the world average, what no location gives)."""

    key: str
    name: str
    kind: str
    country_iso3: str | None


WORLD = Location("world", "World average", "world", None)
# names of the world average; a location given as one of these is the same as none given
WORLD_NAMES = ("World", "world average", "global", "global average", "worldwide")
_WORLD_NAMES = frozenset(normalise_name(n) for n in WORLD_NAMES)


def _is_world(text: str) -> bool:
    return normalise_name(text) in _WORLD_NAMES


# -- the location index ----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _country_records() -> dict[str, tuple[Location, dict[str, Any]]]:
    """ISO alpha-3 -> (Location, raw record with 'years'): the countries alone (one table to parse)."""
    out: dict[str, tuple[Location, dict[str, Any]]] = {}
    for iso3, c in load_table("countries")["countries"].items():
        name = c.get("common_name") or c.get("iso_name") or c["name"]
        out[iso3] = (Location(iso3, name, "country", iso3), c)
    return out


@lru_cache(maxsize=1)
def _records() -> dict[str, tuple[Location, dict[str, Any]]]:
    """key -> (Location, raw record with 'years', 'basis', 'source', 'rel')."""
    out = dict(_country_records())
    reg = load_table("regions")
    for key, r in reg["subnational"].items():
        out[key] = (Location(key, r["name"], "subnational", r["country"]), r)
    for key, r in reg["zones"].items():
        zkey = key if key[:2] != "FI" else "zone:FI"
        out[zkey] = (Location(zkey, r["name"], "zone", r["country"]), r)
    for key, r in reg["cloud"].items():
        out[key] = (Location(key, r["name"], "cloud", r["country"]), r)
    return out


def _country_aliases(idx: dict[str, str]) -> None:
    """Add the countries' ISO alpha-2 codes, names and aliases to ``idx`` (earlier entries win)."""
    recs = _country_records()
    for iso3, (_loc, raw) in recs.items():
        for alias in (raw.get("iso2"), raw["name"], raw.get("iso_name"), raw.get("common_name")):
            n = normalise_name(alias) if alias else ""
            if n:
                idx.setdefault(n, iso3)
    for alias, iso3 in load_table("countries")["aliases"].items():
        n = normalise_name(alias)
        if n and iso3 in recs:
            idx.setdefault(n, iso3)


@lru_cache(maxsize=1)
def _country_codes() -> dict[str, str]:
    """normalised ISO code, name or alias -> ISO alpha-3, from the country table alone.

    For a code of two or three letters this gives what :func:`_aliases` gives: no region key is letters only
    (sub-national keys hold a dash, zones a digit or a ``zone:`` prefix, cloud regions a colon), and regions'
    names and aliases rank after countries'. So the usual ``--location FR`` never parses the regions table.
    """
    idx = {normalise_name(k): k for k in _country_records()}
    _country_aliases(idx)
    return idx


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    """normalised alias -> key; earlier (more specific) entries win."""
    idx: dict[str, str] = {}

    def add(alias: str, key: str) -> None:
        n = normalise_name(alias)
        if n:
            idx.setdefault(n, key)

    recs = _records()
    for key in recs:  # exact keys first
        add(key, key)
    _country_aliases(idx)
    for key, (loc, raw) in recs.items():
        if loc.kind == "subnational":
            add(loc.name, key)
            for a in raw.get("aliases", []):
                add(a, key)
    for key, (loc, _raw) in recs.items():
        if loc.kind == "zone":
            add(key.replace("zone:", ""), key)
    return idx


def locations(kind: str | None = None) -> list[Location]:
    """Known locations, optionally of one kind ("country", "subnational", "zone", "cloud")."""
    if kind is not None and kind not in KINDS:
        raise UnknownNameError("location kind", kind, KINDS)
    locs = [loc for loc, _ in _records().values() if kind is None or loc.kind == kind]
    return sorted(locs, key=lambda x: (KINDS.index(x.kind), x.key))


def _candidates() -> list[str]:
    recs = _records()
    return list(recs) + [loc.name for loc, _ in recs.values()]


def resolve_location(text: str) -> Location:
    """Resolve a forgiving location name; UnknownNameError with the closest names if unknown."""
    return resolve_location_noted(text)[0]


def resolve_location_noted(text: str) -> tuple[Location, list[Assumption]]:
    """:func:`resolve_location`, plus a note where the name was read loosely (a bare cloud region id)."""
    if not isinstance(text, str) or not text.strip():
        raise UnknownNameError("location", str(text), _candidates())
    s = text.strip()
    if len(s) <= 3 and s.isalpha() and s.isascii():  # an ISO code: the country table suffices
        iso3 = _country_codes().get(normalise_name(s))
        if iso3 is not None:
            return _country_records()[iso3][0], []
    if _is_world(s):
        return WORLD, []
    recs = _records()
    if ":" in s:
        prefix, rest = s.split(":", 1)
        p = normalise_name(prefix)
        if p == "zone":
            key = rest.strip().upper()
            key = "zone:FI" if key == "FI" else key
            if key in recs and recs[key][0].kind == "zone":
                return recs[key][0], []
            raise UnknownNameError("grid zone", rest, [k for k, (loc, _) in recs.items() if loc.kind == "zone"])
        if p in _PROVIDERS:
            prov = _PROVIDERS[p]
            region = rest.strip().lower().replace(" ", "")
            key = f"{prov}:{region}"
            if key in recs:
                return recs[key][0], []
            cloud = [k for k in recs if k.startswith(prov + ":")]
            raise UnknownNameError(f"{prov} region", rest.strip(), cloud, "see `wattprint data regions --kind cloud`")
    hit = _aliases().get(normalise_name(s))
    if hit is not None:
        return recs[hit][0], []
    # a bare region id ("us-east-1", "europe-west4"): read as that provider's region, and said, since the
    # provider also sets the default PUE. Azure's geographies ("asia", "uk", "europe") are not region ids:
    # a bare "Asia" or "UK" must not become an undocumented cloud average.
    bare = [k for k, (loc, _) in recs.items() if loc.kind == "cloud" and "(geography" not in loc.name
            and k.split(":", 1)[1] == s.lower()]
    if len(bare) > 1:
        raise AmbiguousNameError("location", s, bare, "write provider:region")
    if bare:
        note = f"{echo(s)} read as {bare[0]} (write provider:region to be explicit)"
        return recs[bare[0]][0], [Assumption("location", bare[0], "", note)]
    raise UnknownNameError("location", s, _candidates(), "ISO code, country, US-XX, CA-XX, SE1-4, NO1-5, "
                           "provider:region or World; see `wattprint data regions`")


def location_aliases() -> dict[str, list[str]]:
    """key -> the other names that resolve to it (ISO codes, country names and aliases, sub-national names),
    for search; the normalised forms of these are what :func:`resolve_location` matches."""
    out: dict[str, list[str]] = {}
    recs = _records()
    for iso3, (_loc, raw) in _country_records().items():
        out[iso3] = [a for a in (raw.get("iso2"), raw["name"], raw.get("iso_name"), raw.get("common_name")) if a]
    for alias, iso3 in load_table("countries")["aliases"].items():
        if iso3 in out:
            out[iso3].append(alias)
    for key, (loc, raw) in recs.items():
        if loc.kind == "subnational":
            out[key] = [loc.name, *raw.get("aliases", [])]
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}


# -- intensity for a location ------------------------------------------------------------------------
def _raw(loc: Location) -> dict[str, Any]:
    return (_country_records() if loc.kind == "country" else _records())[loc.key][1]


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


def _world(year_note: str = "") -> Intensity:
    w = load_table("factors")["world"]
    return Intensity(Range(float(w["value"]), float(w["low"]), float(w["high"])), location="world",
                     basis=w["basis"], year=int(w["year"]),
                     source=f"no location given, world average: {w['source']}{year_note}")


def _country_source(src: str) -> str:
    if src == "codecarbon":
        return ("Our World in Data energy data (2024 release, based on Ember and Energy Institute), via CodeCarbon "
                "global_energy_mix.json; CC BY 4.0 / MIT")
    if src == "mix":  # see scripts/build_data.py repair_implausible_years
        return ("computed from the year's generation mix (Our World in Data; CC BY 4.0) x IPCC AR5 lifecycle factors, "
                "range = per-source min-max: the source's 0 gCO2e/kWh lies below every generation's lifecycle factor")
    return "Our World in Data energy data (April-2022 release, BP Statistical Review + Ember); CC BY 4.0"


def check_year(year: Any) -> int | None:
    """A calendar year as an int (None passes through); a fraction, NaN, or a year <= 0 is an error."""
    if year is None:
        return None
    if (isinstance(year, bool) or not isinstance(year, (int, float)) or not math.isfinite(year)
            or year != int(year) or year <= 0):
        got = echo(year) if isinstance(year, str) else repr(year)
        raise InputConflictError(f"year must be a whole year such as 2023, got {got}")
    return int(year)


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
                                 f"available years: {years[0]}-{years[-1]}")
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
        w = _world()
        if year is not None and year != w.year:  # the world table is one year: say so rather than ignore it
            w = _world(f"; {year} asked for, but the world average exists for {w.year} only (give a location "
                       "to use another year)")
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
    notes += year_notes
    rec = _year(raw, str(used))
    g = float(rec["g"])
    if loc.kind == "country":
        basis, source = _COUNTRY_BASIS, _country_source(rec["src"])
    else:
        basis = rec.get("basis") or raw["basis"]
        source = raw["source"]
    if "low" in rec:  # mix-derived (Canadian provinces): per-source lifecycle min/max
        rng = Range(g, float(rec["low"]), float(rec["high"]))
    else:
        rel = _rel(raw)
        same_basis = rec.get("basis") or raw.get("basis")
        window = [float(r["g"]) for r in (_year(raw, str(y)) for y in years if used - 2 <= y <= used)
                  if (r.get("basis") or raw.get("basis")) == same_basis]
        rng = Range(g, min([g * (1 - rel), *window]), max([g * (1 + rel), *window]))
    year_out = used if used > 0 else None  # 0 = source gives no year
    loc_label = f"{loc.name} ({loc.key})" if loc.name != loc.key else loc.key
    if year_notes:  # the year note travels with the figure (intensity_for has no notes list)
        source = f"{source}; {year_notes[-1].note}"
    return Intensity(rng, location=loc_label, basis=basis, year=year_out, source=source), notes


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


# -- intensity from a mix ----------------------------------------------------------------------------
def mix_sources() -> list[str]:
    """Generation sources with lifecycle factors (IPCC AR5 WG3 Annex III, plus lignite/oil/other)."""
    return sorted(load_table("factors")["mix_factors"])


def _canonical_source(name: str) -> str:
    aliases = load_table("factors")["mix_aliases"]
    norm = {normalise_name(a): s for a, s in aliases.items()}
    hit = norm.get(normalise_name(name))
    if hit is None:
        raise UnknownNameError("generation source", name, list(aliases))
    return str(hit)


def parse_mix(text: str) -> dict[str, float]:
    """Parse "coal=60,gas=40" (also "coal:60", "coal 60%", ";" separators) into {source: share}.

    Source names are canonicalised (e.g. "natural gas" -> "gas"); unknown names raise UnknownNameError with
    the closest; values must be numbers (validated further by :func:`intensity_from_mix`)."""
    if text is not None and not isinstance(text, str):
        raise InputConflictError(f"a generation mix is text such as 'coal=60,gas=40' (intensity_from_mix takes a "
                                 f"dict); got {echo(text)} ({type(text).__name__})")
    out: dict[str, float] = {}
    parts = [p for p in re.split(r"[,;]", text or "") if p.strip()]
    if not parts:
        raise InputConflictError(f"empty generation mix {echo(text or '')}; write e.g. coal=60,gas=40")
    for part in parts:
        m = re.fullmatch(r"\s*([A-Za-z][A-Za-z _\-]*?)\s*[=:]?\s*([-+0-9.eE]+)\s*%?\s*", part)
        if not m:
            raise InputConflictError(f"cannot read {echo(part.strip())} in mix {echo(text)}; write e.g. "
                                     "coal=60,gas=40")
        src = _canonical_source(m.group(1))
        try:
            share = float(m.group(2))
        except ValueError:
            raise InputConflictError(f"not a number: {echo(m.group(2))} in mix {echo(text)}") from None
        if src in out:
            raise InputConflictError(f"source {src!r} given twice in mix {echo(text)}")
        out[src] = share
    return out


def _bound(f: dict[str, Any], side: str) -> float:
    """Per-source bound for mixes: the mix-specific override, else the literature min/max, else the median."""
    for key in (f"mix_{side}", side, "g"):
        if f.get(key) is not None:
            return float(f[key])
    return float(f["g"])


# an input check, not data: how far past the most carbon-intensive sourced generation a given intensity may go
# before it is taken for a unit slip (g per MWh, lb, a total instead of a rate)
INTENSITY_SLIP_FACTOR = 2.0


def given_intensity_note(g_per_kwh: float, what: str = "intensity") -> str:
    """'' for a plausible given grid intensity (gCO2e/kWh); a note below 1 (every generation source's lifecycle
    minimum is above it: kgCO2e/kWh given as g?); an error past ``INTENSITY_SLIP_FACTOR`` times the highest
    lifecycle factor of any source (IPCC AR5's maxima). 0 passes: a contractual zero-carbon supply."""
    factors = load_table("factors")["mix_factors"]
    most = {k: float(f["high"] if f.get("high") is not None else f["g"]) for k, f in factors.items()}
    top_name = max(most, key=lambda k: most[k])
    top = most[top_name]
    if g_per_kwh > INTENSITY_SLIP_FACTOR * top:
        raise InputConflictError(
            f"{what} {g_per_kwh:g} gCO2e/kWh is more than {INTENSITY_SLIP_FACTOR:g}x the highest lifecycle factor of "
            f"any generation source ({top:g}, {top_name}'s IPCC AR5 maximum): give grams per kWh (e.g. 400)")
    if 0 < g_per_kwh < 1:
        return (f"{what} below 1 gCO2e/kWh, under every source's lifecycle minimum: if it is kgCO2e/kWh, "
                "give it x1000")
    return ""


def intensity_from_mix(mix: dict[str, float]) -> Intensity:
    """Lifecycle intensity of a generation mix (shares in % summing to 100, or fractions summing to 1).

    value = sum(share x IPCC AR5 median); low/high = sum(share x min/max) (hydro's upper bound from WNA 2011,
    see refdata/mix_factor_ranges.csv). Negative or NaN shares -> InputConflictError."""
    if not isinstance(mix, Mapping):
        raise InputConflictError(f"a generation mix maps sources to shares, e.g. {{'coal': 60, 'gas': 40}}; "
                                 f"got {mix!r}")
    if not mix:
        raise InputConflictError("empty generation mix")
    factors = load_table("factors")["mix_factors"]
    shares: dict[str, float] = {}
    for name, share in mix.items():
        if not isinstance(name, str):
            raise InputConflictError(f"a generation mix maps source names to shares, e.g. {{'coal': 60}}; got the "
                                     f"key {name!r}")
        src = _canonical_source(name)
        if src in shares:  # as parse_mix: 'gas' and 'natural gas' are one source
            raise InputConflictError(f"source {src!r} given twice in the mix ({name!r})")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or math.isnan(share) or math.isinf(share):
            raise InputConflictError(f"mix share for {name!r} must be a number, got {share!r}")
        if share < 0:
            raise InputConflictError(f"mix share for {name!r} is negative ({share})")
        shares[src] = float(share)
    total = sum(shares.values())
    if not (abs(total - 100.0) <= 0.5 or abs(total - 1.0) <= 0.005):
        raise InputConflictError(f"mix shares sum to {total:g}; give percentages summing to 100 or fractions "
                                 "summing to 1")
    v = lo = hi = 0.0
    for src, share in shares.items():
        f = factors[src]
        w = share / total  # normalise away rounding (e.g. 99.9)
        v += w * f["g"]
        lo += w * _bound(f, "low")
        hi += w * _bound(f, "high")
    label = ", ".join(f"{s} {100 * x / total:.3g}%" for s, x in sorted(shares.items(), key=lambda kv: -kv[1]))
    return Intensity(Range(v, lo, hi), location=f"mix: {label}",
                     basis="lifecycle, average (per-source IPCC AR5 medians)",
                     year=None,
                     source=_mix_source(shares))


def _mix_source(shares: Mapping[str, float]) -> str:
    """Where a mix intensity's factors and range come from, flagging the ones no primary source confirmed."""
    factors = load_table("factors")["mix_factors"]
    parts = ["IPCC AR5 WG3 Annex III Table A.III.2 (Schloemer et al. 2014) lifecycle medians, range = min-max; "
             "lignite WNA 2011; oil/other Electricity Maps defaults"]
    for src in sorted(s for s in shares if shares[s] > 0):
        f = factors[src]
        if f.get("range_rule"):
            parts.append(f"{src} range: {f['range_rule']}")
        if f.get("mix_range_source"):
            parts.append(f"{src} range for grid mixes: {f['mix_range_source']}")
    return "; ".join(parts)
