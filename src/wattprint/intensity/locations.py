"""Where a grid is: forgiving location names -> :class:`Location` (countries, sub-national grids, Nordic zones,
cloud regions, the world average), with the notes a loose reading needs. See :mod:`wattprint.intensity`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..data import load_table
from ..errors import AmbiguousNameError, UnknownNameError, WattprintError, echo, normalise_name
from ..footprint import Assumption

KINDS = ("country", "subnational", "zone", "cloud", "group")
_PROVIDERS = {"aws": "aws", "amazon": "aws", "amazonwebservices": "aws", "gcp": "gcp", "google": "gcp",
              "googlecloud": "gcp", "googlecloudplatform": "gcp", "azure": "azure", "microsoft": "azure",
              "microsoftazure": "azure"}


@dataclass(frozen=True)
class Location:
    """A place with grid data. ``key``: ISO alpha-3 "FRA", sub-national "US-CA"/"CA-QC", zone "SE3",
    cloud "aws:us-east-1", group of countries "EU27"; ``kind``: "country" | "subnational" | "zone" | "cloud" |
    "group", or "world" for :data:`WORLD` (the world average, what no location gives)."""

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
    for key, r in reg.get("groups", {}).items():
        out[key] = (Location(key, r["name"], "group", None), r)
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
    (sub-national keys hold a dash, zones a digit or a ``zone:`` prefix, cloud regions a colon), and no name of two
    or three letters names a region too (which :func:`_ambiguous_names` would refuse; a test checks the tables).
    So the usual ``--location FR`` never parses the regions table.
    """
    idx = {normalise_name(k): k for k in _country_records()}
    _country_aliases(idx)
    return idx


@lru_cache(maxsize=1)
def _aliases() -> dict[str, str]:
    """normalised code or name -> key: codes first (record keys, ISO alpha-2, a zone's id without ``zone:``;
    the earlier wins, so "FI" is Finland, not its zone), then each name that names one place only (see
    :func:`_ambiguous_names`)."""
    idx: dict[str, str] = {}

    def add(alias: str | None, key: str) -> None:
        n = normalise_name(alias) if alias else ""
        if n:
            idx.setdefault(n, key)

    recs = _records()
    for key in recs:  # exact keys first
        add(key, key)
    for iso3, (_loc, raw) in _country_records().items():
        add(raw.get("iso2"), iso3)
    for key, (loc, _raw) in recs.items():
        if loc.kind == "zone":
            add(key.replace("zone:", ""), key)
    for n, keys in _place_names().items():
        if len(keys) == 1:
            add(n, keys[0])
    return idx


@lru_cache(maxsize=1)
def _place_names() -> dict[str, list[str]]:
    """normalised name -> the keys of the places it names: countries' names and aliases, sub-national grids' names
    and aliases, and a cloud region whose bare id is also one of these names (none is today; a test checks the
    tables). A cloud region's display name ("Georgia" for gcp:us-east2) resolves to nothing: it is not one."""
    out: dict[str, list[str]] = {}

    def add(alias: str | None, key: str) -> None:
        n = normalise_name(alias) if alias else ""
        if n and key not in out.setdefault(n, []):
            out[n].append(key)

    recs = _records()
    for iso3, (_loc, raw) in _country_records().items():
        for alias in (raw["name"], raw.get("iso_name"), raw.get("common_name")):
            add(alias, iso3)
    for alias, iso3 in load_table("countries")["aliases"].items():
        if iso3 in recs:
            add(alias, iso3)
    for key, (loc, raw) in recs.items():
        if loc.kind in ("subnational", "group"):
            for alias in (loc.name, *raw.get("aliases", [])):
                add(alias, key)
    for key, (loc, _raw) in recs.items():
        if loc.kind == "cloud" and "(geography" not in loc.name:
            region = region_id_form(key.split(":", 1)[1])
            if region in out:
                out[region].append(key)
    return out


@lru_cache(maxsize=1)
def _ambiguous_names() -> dict[str, list[str]]:
    """normalised name -> keys, for each name of two or more different places that is no code ("Georgia": the
    country GEO and the US state US-GA): refused, never one of them picked silently (their grids differ)."""
    codes = _aliases()
    return {n: keys for n, keys in _place_names().items() if len(keys) > 1 and n not in codes}


# how an ambiguous name's places are told apart in the message
_SUBNATIONAL_WORDS = {"USA": "US state", "CAN": "Canadian province or territory"}


def _described(key: str) -> str:
    """A place as an ambiguity names it: "the country Georgia (GEO)", "the US state Georgia (US-GA)"."""
    loc = _records()[key][0]
    if loc.kind == "subnational":
        what = _SUBNATIONAL_WORDS.get(loc.country_iso3 or "", "sub-national grid")
    else:
        what = {"country": "country", "zone": "grid zone", "cloud": "cloud region", "group": "group of countries"}[
            loc.kind]
    return f"the {what} {loc.name} ({key})"


def _refuse_an_ambiguous_name(text: str) -> None:
    keys = _ambiguous_names().get(normalise_name(text))
    if keys:
        raise AmbiguousNameError("location", text, keys, f"give {' or '.join(keys)}",
                                 shown=[_described(k) for k in keys])


def locations(kind: str | None = None) -> list[Location]:
    """Known locations, optionally of one kind ("country", "subnational", "zone", "cloud", "group")."""
    if kind is not None and kind not in KINDS:
        raise UnknownNameError("location kind", kind, KINDS)
    locs = [loc for loc, _ in _records().values() if kind is None or loc.kind == kind]
    return sorted(locs, key=lambda x: (KINDS.index(x.kind), x.key))


# -- suggestions for a name that is not known ------------------------------------------------------------
class UnknownLocationError(UnknownNameError):
    """An unknown location (or grid zone, or cloud region): ``suggestions`` holds names that each resolve, by
    :func:`resolve_location`, to the place suggested; the message shows a zone's or cloud region's display name
    beside its key ("aws:us-east-1 (US East (N. Virginia))"), the key being what resolves."""

    def __init__(self, kind: str, name: str, picks: list[tuple[str, str]], hint: str = "",
                 examples: list[str] | None = None) -> None:
        super().__init__(kind, name, [valid for valid, _ in picks], hint, examples or (), ranked=True,
                         shown=[shown for _, shown in picks])


def _shown(key: str) -> tuple[str, str]:
    """(a name that resolves to ``key``, how a suggestion shows it): a country's or sub-national grid's name where
    that name resolves to it ("France", "California"), else the key, with the display name beside it for a zone or
    cloud region ("aws:us-east-1 (US East (N. Virginia))"), a name that means something else ("US-GA (Georgia)") or
    one with a comma, which a list of names would split ("VIR (Virgin Islands, U.S.)")."""
    loc = _records()[key][0]
    plain = loc.kind in ("country", "subnational") and "," not in loc.name
    if plain and _aliases().get(normalise_name(loc.name)) == key:
        return loc.name, loc.name
    if normalise_name(loc.name) == normalise_name(key):
        return key, key
    return key, f"{key} ({loc.name})"


def _similarity(n: str, m: str) -> float:
    """How close normalised text ``n`` is to normalised name ``m`` (0..1): their sequence similarity, raised where
    one holds the other ("tokyo" in "asiapacifictokyo", "virginia" in "useastnvirginia"); 1 only if equal."""
    import difflib  # only on the error path: keeps importing wattprint cheap

    if not n or not m:
        return 0.0
    if n == m:
        return 1.0
    r = difflib.SequenceMatcher(None, n, m, autojunk=False).ratio()
    if len(n) >= 3 and n in m:
        r = max(r, 0.7 + 0.3 * len(n) / len(m))
    if len(m) >= 4 and m in n:
        r = max(r, 0.6 + 0.3 * len(m) / len(n))
    prefix = len(os.path.commonprefix([n, m]))  # a tie goes to the name that starts alike ("usca" for "uscal")
    return min(r + 0.05 * prefix / max(len(n), len(m)), 0.99)


def _match_names(key: str, others: dict[str, list[str]]) -> set[str]:
    """The normalised names a typed text is compared with for ``key``: the key, a cloud region's id alone, the
    display name, and a country's or sub-national grid's other names."""
    loc = _records()[key][0]
    names = [key, loc.name, *others.get(key, [])]
    if loc.kind == "cloud":
        names.append(key.split(":", 1)[1])
    elif loc.kind == "zone":
        names.append(key.replace("zone:", ""))
    return {n for n in map(normalise_name, names) if n}


def _suggest(text: str, keys: list[str] | None = None, n: int = 5, cutoff: float = 0.5) -> list[tuple[str, str]]:
    """The ``n`` locations (of ``keys``, default all) closest to ``text``, by their keys, display names and aliases,
    as (name that resolves, how it is shown); [] if none is close. A typed display name ("Tokyo", "US East (N.
    Virginia)") so gives the keys of the regions it names."""
    t = normalise_name(text)
    if not t:
        return []
    recs = _records()
    others = location_aliases()
    scored: list[tuple[float, int, str]] = []
    for key in keys if keys is not None else list(recs):
        score = max((_similarity(t, m) for m in _match_names(key, others)), default=0.0)
        if score >= cutoff:
            scored.append((-score, KINDS.index(recs[key][0].kind), key))
    return [_shown(key) for _s, _k, key in sorted(scored)[:n]]


def _examples(keys: list[str], n: int = 6) -> list[str]:
    """A few of ``keys`` to show what valid names look like (an Azure geography only if nothing else)."""
    recs = _records()
    plain = [k for k in keys if "(geography" not in recs[k][0].name] or keys
    step = max(1, len(plain) // n)
    return [_shown(k)[1] for k in plain[::step][:n]]


# -- resolution ----------------------------------------------------------------------------------------------
_TRAILING_SEPARATOR = re.compile(r"[-_:/]\s*$")  # "US-", "CA_", "France:": a subdivision or region left out


def region_id_form(text: str) -> str:
    """A cloud region id as matched: lower case, without spaces, hyphens, underscores or other punctuation
    ("West-Europe", "west europe", "us_east_1" -> "westeurope", "useast1"). No two regions of one provider share
    a form (tests check), so both the keys and the typed ids are compared in it."""
    return normalise_name(text)


@lru_cache(maxsize=1)
def _cloud_index() -> dict[str, dict[str, str]]:
    """provider -> {region id form -> key}."""
    out: dict[str, dict[str, str]] = {}
    for key, (loc, _raw) in _records().items():
        if loc.kind == "cloud":
            prov, region = key.split(":", 1)
            out.setdefault(prov, {}).setdefault(region_id_form(region), key)
    return out


def _bare_region(s: str) -> list[str]:
    """Cloud region keys whose id is ``s`` ("us-east-1"; "us east 1", "us_east_1" alike), else whose id form is
    ``s``'s ("eastus" for "East US"); Azure's geographies ("asia", "uk", "europe") are not region ids."""
    recs = _records()
    ids = {k: k.split(":", 1)[1] for k, (loc, _) in recs.items()
           if loc.kind == "cloud" and "(geography" not in loc.name}
    dashed = re.sub(r"[\s_]+", "-", s.strip().lower())
    exact = [k for k, region in ids.items() if region == dashed]
    if exact:
        return exact
    form = region_id_form(s)
    return [k for k, region in ids.items() if form and region_id_form(region) == form]


def resolve_location(text: str) -> Location:
    """Resolve a forgiving location name; UnknownNameError with the closest names if unknown."""
    return resolve_location_noted(text)[0]


_HINT = "ISO code, country, US-XX, CA-XX, SE1-4, NO1-5, provider:region or World; see `wattprint data regions`"
# what an unknown location with nothing close to it is shown: one valid name of each form (a test resolves each)
EXAMPLES = ("France", "FR", "US-CA", "SE3", "aws:us-east-1", "gcp:europe-west4", "World")


def resolve_location_noted(text: str) -> tuple[Location, list[Assumption]]:
    """:func:`resolve_location`, plus a note where the name was read loosely (a bare cloud region id)."""
    if not isinstance(text, str) or not text.strip():
        raise UnknownLocationError("location", str(text), [], _HINT, list(EXAMPLES))
    s = text.strip()
    if len(s) <= 3 and s.isalpha() and s.isascii():  # an ISO code: the country table suffices
        # an alpha-3 code is a record's own key (which the index gives first): no index of every name to build
        iso3 = s.upper() if s.upper() in _country_records() else _country_codes().get(normalise_name(s))
        if iso3 is not None:
            loc = _country_records()[iso3][0]
            return loc, _alias_note(s, loc)
    if _is_world(s):
        return WORLD, []
    recs = _records()
    if ":" in s:
        prefix, rest = s.split(":", 1)
        p = normalise_name(prefix)
        if p == "zone":
            key = normalise_name(rest).upper()
            key = "zone:FI" if key == "FI" else key
            if key in recs and recs[key][0].kind == "zone":
                return recs[key][0], []
            zones = [k for k, (loc, _) in recs.items() if loc.kind == "zone"]
            raise UnknownLocationError("grid zone", rest.strip(), _suggest(rest, zones), examples=zones)
        if p in _PROVIDERS:
            prov = _PROVIDERS[p]
            hit = _cloud_index()[prov].get(region_id_form(rest))
            if hit is not None:
                return recs[hit][0], []
            cloud = sorted(_cloud_index()[prov].values())
            raise UnknownLocationError(f"{prov} region", rest.strip(), _suggest(rest, cloud),
                                       "see `wattprint data regions --kind cloud`", _examples(cloud))
    if _TRAILING_SEPARATOR.search(s):  # "US-": not the country with the subdivision silently dropped
        head = s.rstrip(" -_:/")
        raise UnknownLocationError("location", s, _left_out(head), f"nothing after {s.rstrip()[-1]!r}; {_HINT}",
                                   list(EXAMPLES))
    hit = _aliases().get(normalise_name(s))
    if hit is not None:
        return recs[hit][0], _alias_note(s, recs[hit][0])
    _refuse_an_ambiguous_name(s)
    # a bare region id ("us-east-1", "europe-west4"): read as that provider's region, and said, since the
    # provider also sets the default PUE. Azure's geographies ("asia", "uk", "europe") are not region ids:
    # a bare "Asia" or "UK" must not become an undocumented cloud average.
    bare = _bare_region(s)
    if len(bare) > 1:
        raise AmbiguousNameError("location", s, bare, "write provider:region")
    if bare:
        note = f"{echo(s)} read as {bare[0]} (write provider:region to be explicit)"
        return recs[bare[0]][0], [Assumption("location", bare[0], "", note)]
    _refuse_a_country_without_data(s)
    _refuse_an_unknown_subdivision(s)
    _refuse_a_wider_region(s)
    raise UnknownLocationError("location", s, _suggest(s), _HINT, list(EXAMPLES))


def _refuse_a_wider_region(text: str) -> None:
    """"Europe": no grid and no group with data (Europe is wider than the EU), but a group of countries is the
    nearest place with data: suggested first, before names spelled alike ("gcp:europe-west1")."""
    n = normalise_name(text)
    for key, (loc, raw) in _records().items():
        if loc.kind == "group" and n in {normalise_name(a) for a in raw.get("near", [])}:
            others = [p for p in _suggest(text) if p[0] != key]
            raise UnknownLocationError("location", text, [_shown(key), *others][:5],
                                       f"{echo(text)} is wider than {loc.name}, the nearest group with data; or give "
                                       f"the country; {_HINT}")


class NoGridDataError(WattprintError, LookupError):
    """A real country or territory (ISO 3166) that the embedded intensity data do not cover."""


def _refuse_a_country_without_data(text: str) -> None:
    """Monaco, Jersey, "VAT": an ISO 3166 country or territory with no intensity in the sources is refused as such,
    with what to give instead; not as an unknown name with look-alikes ("Monaco" -> Macao, Montana)."""
    table = load_table("countries")
    names: dict[str, str] = {}
    for iso3, c in table.get("without_data", {}).items():
        for alias in (iso3, c.get("iso2"), c["name"]):
            if alias:
                names.setdefault(normalise_name(alias), iso3)
    for alias, iso3 in table["aliases"].items():
        if iso3 in table.get("without_data", {}):
            names.setdefault(normalise_name(alias), iso3)
    iso3 = names.get(normalise_name(text))
    if iso3 is None:
        return
    name = table["without_data"][iso3]["name"]
    raise NoGridDataError(
        f"no grid carbon intensity for {echo(text)} ({name}, {iso3}): the embedded sources (OWID/Ember, "
        "CodeCarbon) give none for it; give the intensity (--intensity, gCO2e/kWh) or the fuel mix (--mix) of its "
        "supply, or the location of the grid that supplies it")


_SUBDIVISION = re.compile(r"^\s*([A-Za-z]{2,3})\s*[-_]\s*(\w+)\s*$")  # "US-ZZ", "DE-BY": ISO 3166-2 form


def _refuse_an_unknown_subdivision(text: str) -> None:
    """"US-ZZ" or "DE-BY" where the country is known but that grid is not: suggest the country's grids closest to it
    (or the country, where no grid below it has data), not names spelled alike elsewhere ("US-ZZ" -> "Uzbekistan")."""
    m = _SUBDIVISION.match(text)
    if m is None:
        return
    try:
        country = resolve_location(m.group(1))
    except UnknownNameError:
        return
    if country.kind != "country":
        return
    subs = sorted(k for k, (r, _) in _records().items() if r.kind == "subnational" and r.country_iso3 == country.key)
    if not subs:
        raise UnknownLocationError("location", text, [(m.group(1), m.group(1))], f"no grid below the country has "
                                   f"data for {country.name}: give the country; {_HINT}")
    close = _suggest(text, subs) or [_shown(k) for k in subs[:4]]
    raise UnknownLocationError("location", text, [*close[:4], (m.group(1), m.group(1))],
                               f"{len(subs)} grids below the country have data for {country.name}; {_HINT}")


@lru_cache(maxsize=1)
def _alias_notes() -> dict[str, str]:
    return {normalise_name(a): n for a, n in load_table("countries").get("alias_notes", {}).items()}


def _alias_note(text: str, loc: Location) -> list[Assumption]:
    """The note an alias carries where it is not the country itself ("Scotland": the Great Britain grid), and the
    one every name of a group of countries carries: like the world average, an average over where the run may be."""
    if loc.kind == "group":
        members = len(_raw(loc)["members"])
        return [Assumption("location", f"{loc.key}: average of its {members} members", "refdata/country_groups.csv",
                           "give the country (or cloud region) for a much narrower range")]
    said = _alias_notes().get(normalise_name(text))
    return [Assumption("location", f"{echo(text)} -> {loc.name}", "refdata/country_aliases.csv", said)] if said else []


def _left_out(head: str) -> list[tuple[str, str]]:
    """Suggestions for ``head`` followed by a separator and nothing ("US-"): ``head`` where it is a country, with
    a few of its sub-national grids; else the names closest to ``head``."""
    if not head:
        return []
    try:
        loc = resolve_location(head)
    except UnknownNameError:
        return _suggest(head)
    if loc.kind != "country":
        return [_shown(loc.key)] if loc.kind != "world" else [(head, head)]
    subs = sorted(k for k, (r, _) in _records().items() if r.kind == "subnational" and r.country_iso3 == loc.key)
    return [(head, head)] + [_shown(k) for k in subs[:4]]


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
        if loc.kind in ("subnational", "group"):
            out[key] = [loc.name, *raw.get("aliases", [])]
    return {k: list(dict.fromkeys(v)) for k, v in out.items()}


def _raw(loc: Location) -> dict[str, Any]:
    return (_country_records() if loc.kind == "country" else _records())[loc.key][1]
