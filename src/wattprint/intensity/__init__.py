"""Grid carbon intensity by location and year, or from a generation mix, with its basis always attached.

Locations (forgiving): ISO 3166 alpha-2 / alpha-3 codes and country names ("FR", "FRA", "France", "UK",
"South Korea"); sub-national grids ("US-CA", "California", "CA-QC", "Quebec"); Nordic bidding zones ("SE3",
"NO1"; Finland's zone as "zone:FI" since "FI" is the country); cloud regions ("aws:us-east-1",
"gcp:europe-west4", "azure:westeurope"; "google:" / "microsoft:" / "amazon:" also accepted). A name that is
both a country and a US state ("Georgia") means the country; use "US-GA" for the state.

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
from ..errors import InputConflictError, UnknownNameError, normalise_name
from ..footprint import Assumption, Intensity
from ..quantities import Range

__all__ = ["Location", "resolve_location", "intensity_for", "intensity_lookup", "intensity_from_mix", "parse_mix",
           "given_intensity_note",
           "locations", "generation_mix", "mix_sources"]

KINDS = ("country", "subnational", "zone", "cloud")
_PROVIDERS = {"aws": "aws", "amazon": "aws", "gcp": "gcp", "google": "gcp", "googlecloud": "gcp", "azure": "azure",
              "microsoft": "azure"}
_COUNTRY_BASIS = "lifecycle, average (OWID/Ember)"


@dataclass(frozen=True)
class Location:
    """A place with grid data. ``key``: ISO alpha-3 "FRA", sub-national "US-CA"/"CA-QC", zone "SE3",
    cloud "aws:us-east-1"; ``kind``: "country" | "subnational" | "zone" | "cloud"."""

    key: str
    name: str
    kind: str
    country_iso3: str | None


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
    if not isinstance(text, str) or not text.strip():
        raise UnknownNameError("location", str(text), _candidates())
    s = text.strip()
    if len(s) <= 3 and s.isalpha() and s.isascii():  # an ISO code: the country table suffices
        iso3 = _country_codes().get(normalise_name(s))
        if iso3 is not None:
            return _country_records()[iso3][0]
    recs = _records()
    if ":" in s:
        prefix, rest = s.split(":", 1)
        p = normalise_name(prefix)
        if p == "zone":
            key = rest.strip().upper()
            key = "zone:FI" if key == "FI" else key
            if key in recs and recs[key][0].kind == "zone":
                return recs[key][0]
            raise UnknownNameError("grid zone", rest, [k for k, (loc, _) in recs.items() if loc.kind == "zone"])
        if p in _PROVIDERS:
            prov = _PROVIDERS[p]
            region = rest.strip().lower().replace(" ", "")
            key = f"{prov}:{region}"
            if key in recs:
                return recs[key][0]
            cloud = [k for k in recs if k.startswith(prov + ":")]
            raise UnknownNameError(f"{prov} region", rest.strip(), cloud, "see `wattprint data regions --kind cloud`")
    hit = _aliases().get(normalise_name(s))
    if hit is not None:
        return recs[hit][0]
    # a bare cloud region name ("us-east-1", "europe-west4") when it is unique across providers
    bare = [k for k in recs if ":" in k and not k.startswith("zone:") and k.split(":", 1)[1] == s.lower()]
    if len(bare) == 1:
        return recs[bare[0]][0]
    raise UnknownNameError("location", s, _candidates(), "ISO code, country, US-XX, CA-XX, SE1-4, NO1-5 or "
                           "provider:region; see `wattprint data regions`")


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
    return "Our World in Data energy data (April-2022 release, BP Statistical Review + Ember); CC BY 4.0"


def check_year(year: Any) -> int | None:
    """A calendar year as an int (None passes through); a fraction, NaN, or a year <= 0 is an error."""
    if year is None:
        return None
    if (isinstance(year, bool) or not isinstance(year, (int, float)) or not math.isfinite(year)
            or year != int(year) or year <= 0):
        raise InputConflictError(f"year must be a whole year such as 2023, got {year!r}")
    return int(year)


def intensity_lookup(location: str | None, year: int | None = None) -> tuple[Intensity, list[Assumption]]:
    """Like :func:`intensity_for`, plus the assumptions made (year substituted, world average used ...)."""
    notes: list[Assumption] = []
    year = check_year(year)
    if location is None or (isinstance(location, str) and not location.strip()):
        w = _world()
        if year is not None and year != w.year:  # the world table is one year: say so rather than ignore it
            w = _world(f"; {year} asked for, but the world average exists for {w.year} only (give a location "
                       "to use another year)")
        notes.append(Assumption("location", "none given: world average", w.source,
                                "give --location for a much narrower range"))
        return w, notes
    loc = resolve_location(location)
    raw = _raw(loc)
    years = sorted(int(y) for y in raw["years"])
    if year is None:
        used = years[-1]
    elif year in years:
        used = year
    elif year > years[-1]:
        used = years[-1]
        notes.append(Assumption("intensity year", str(used), "",
                                f"{year} not in the data for {loc.name}; latest available year {used} used"))
    elif year < years[0]:
        raise InputConflictError(f"no intensity data for {loc.name} before {years[0]} (asked for {year}); "
                                 f"available years: {years[0]}-{years[-1]}")
    else:
        used = max(y for y in years if y <= year)
        notes.append(Assumption("intensity year", str(used), "",
                                f"{year} not in the data for {loc.name}; nearest earlier year {used} used"))
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
    if notes:
        source = f"{source}; {notes[-1].note}"
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
    default); empty dict where the data have no mix."""
    loc = resolve_location(location)
    raw = _raw(loc)
    years = sorted(int(y) for y in raw["years"])
    used = years[-1] if year is None else max([y for y in years if y <= year] or [years[0]])
    rec = _year(raw, str(used))
    mix = rec.get("mix")
    if mix is None and loc.kind == "country":  # country mixes live in their own table (see build_data.py)
        mix = load_table("mixes")["countries"].get(loc.key, {}).get(str(used), {}).get("mix")
    if isinstance(mix, dict):
        return {k: float(v) for k, v in mix.items()}
    if isinstance(mix, list):
        keys = load_table("mixes")["meta"]["mix_keys"]
        return {k: float(v) for k, v in zip(keys, mix, strict=True) if v}
    return {}


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
    out: dict[str, float] = {}
    parts = [p for p in re.split(r"[,;]", text or "") if p.strip()]
    if not parts:
        raise InputConflictError(f"empty generation mix {text!r}; write e.g. coal=60,gas=40")
    for part in parts:
        m = re.fullmatch(r"\s*([A-Za-z][A-Za-z _\-]*?)\s*[=:]?\s*([-+0-9.eE]+)\s*%?\s*", part)
        if not m:
            raise InputConflictError(f"cannot read {part.strip()!r} in mix {text!r}; write e.g. coal=60,gas=40")
        src = _canonical_source(m.group(1))
        try:
            share = float(m.group(2))
        except ValueError:
            raise InputConflictError(f"not a number: {m.group(2)!r} in mix {text!r}") from None
        if src in out:
            raise InputConflictError(f"source {src!r} given twice in mix {text!r}")
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
                     source="IPCC AR5 WG3 Annex III Table A.III.2 (Schloemer et al. 2014) lifecycle medians, "
                            "range = min-max; lignite WNA 2011; oil/other Electricity Maps defaults")
