"""Where a grid is: forgiving location names -> :class:`Location` (countries, sub-national grids, Nordic zones,
cloud regions, the world average), with the notes a loose reading needs. See :mod:`wattprint.intensity`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..data import load_table
from ..errors import AmbiguousNameError, UnknownNameError, echo, normalise_name
from ..footprint import Assumption

KINDS = ("country", "subnational", "zone", "cloud")
_PROVIDERS = {"aws": "aws", "amazon": "aws", "gcp": "gcp", "google": "gcp", "googlecloud": "gcp", "azure": "azure",
              "microsoft": "azure"}


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


def _raw(loc: Location) -> dict[str, Any]:
    return (_country_records() if loc.kind == "country" else _records())[loc.key][1]
