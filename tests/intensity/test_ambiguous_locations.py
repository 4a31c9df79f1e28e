"""A name of two different places ("Georgia": the country and the US state) is refused with both, never one of them
picked silently; codes (GEO, GE, US-GA) still resolve exactly. Checked over the whole of the tables."""

from __future__ import annotations

import pytest

from wattprint.cli import main
from wattprint.data import load_table
from wattprint.errors import AmbiguousNameError, normalise_name
from wattprint.estimate.training import estimate_training
from wattprint.intensity import resolve_location
from wattprint.intensity.locations import region_id_form


def _ambiguity(text: str) -> AmbiguousNameError:
    with pytest.raises(AmbiguousNameError) as e:
        resolve_location(text)
    return e.value


@pytest.mark.parametrize("text", ["Georgia", "georgia", " GEORGIA "])
def test_georgia_is_the_country_or_the_us_state_and_says_both(text: str) -> None:
    err = _ambiguity(text)
    assert err.suggestions == ["GEO", "US-GA"]
    msg = str(err)
    assert "the country Georgia (GEO)" in msg and "the US state Georgia (US-GA)" in msg
    assert "give GEO or US-GA" in msg and "\n" not in msg


@pytest.mark.parametrize(("text", "key"), [("GEO", "GEO"), ("geo", "GEO"), ("GE", "GEO"), ("US-GA", "US-GA"),
                                           ("us_ga", "US-GA")])
def test_the_codes_of_an_ambiguous_name_resolve_exactly(text: str, key: str) -> None:
    assert resolve_location(text).key == key


def _codes_and_names() -> tuple[dict[str, str], dict[str, set[str]]]:
    """From the tables, independently of the resolver: (normalised code -> key: record keys, ISO alpha-2 codes and
    zone ids, the first of each winning as documented ("FI" is Finland, its zone "zone:FI"), normalised name ->
    the keys of every place it names: countries' names and aliases, sub-national grids' names and aliases, and
    cloud region ids in the form a bare id is matched in). A cloud region's display name ("Georgia" for
    gcp:us-east2) is no name a location resolves by, only one its suggestions show."""
    countries, regions = load_table("countries"), load_table("regions")
    codes: dict[str, str] = {}
    names: dict[str, set[str]] = {}
    zones = {key: key if key != "FI" else "zone:FI" for key in regions["zones"]}  # "FI" is the country's code
    for key in [*countries["countries"], *regions["subnational"], *zones.values(), *regions["cloud"]]:
        codes.setdefault(normalise_name(key), key)
    for iso3, c in countries["countries"].items():
        if c.get("iso2"):
            codes.setdefault(normalise_name(c["iso2"]), iso3)
    for zone, key in zones.items():
        codes.setdefault(normalise_name(zone), key)
    for iso3, c in countries["countries"].items():
        for n in (c["name"], c.get("iso_name"), c.get("common_name")):
            if n:
                names.setdefault(normalise_name(n), set()).add(iso3)
    for alias, iso3 in countries["aliases"].items():
        if iso3 in countries["countries"]:  # not an alias of a country without data (Vatican): refused as such
            names.setdefault(normalise_name(alias), set()).add(iso3)
    for key, r in regions["subnational"].items():
        for n in (r["name"], *r.get("aliases", [])):
            names.setdefault(normalise_name(n), set()).add(key)
    for key, r in regions["cloud"].items():
        if "(geography" not in r["name"]:  # Azure's geographies are no bare region ids ("UK" is the country)
            names.setdefault(region_id_form(key.split(":", 1)[1]), set()).add(key)
    return codes, names


def test_every_name_of_two_places_in_the_tables_is_refused_or_is_a_code() -> None:
    codes, names = _codes_and_names()
    shared = {n: keys for n, keys in names.items() if len(keys) > 1}
    assert "georgia" in shared  # the check has something to check
    for n, keys in sorted(shared.items()):
        if n in codes:  # a code ("FI": Finland, not its zone) resolves to what it is the code of
            assert resolve_location(n).key == codes[n], n
            continue
        err = _ambiguity(n)
        assert set(err.suggestions) == keys, n
        for key in err.suggestions:  # each suggestion resolves to the place it names
            assert resolve_location(key).key == key


def test_a_name_of_one_place_still_resolves_to_it() -> None:
    codes, names = _codes_and_names()
    for n, keys in names.items():
        if len(keys) == 1 and n not in codes:
            (key,) = keys
            if ":" in key:  # a bare cloud id: its own tests (a provider's id form may read as several)
                continue
            assert resolve_location(n).key == key, n


def test_the_estimators_and_the_cli_refuse_it_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(AmbiguousNameError):
        estimate_training(chip_hours=100, hardware="A100", location="Georgia")
    assert estimate_training(chip_hours=100, hardware="A100", location="US-GA").intensity.location == "Georgia (US-GA)"
    code = main(["estimate", "training", "--chip-hours", "100", "--hardware", "A100", "--location", "Georgia"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "ambiguous location 'Georgia'" in err and "US-GA" in err


@pytest.mark.parametrize("text", ["Congo", "congo", " CONGO "])
def test_congo_is_either_congo_and_says_both(text: str) -> None:
    """"Congo" is the Republic of the Congo's own name and the common short one of the DR Congo, whose grids differ
    many-fold: it used to resolve to the Republic of the Congo silently."""
    err = _ambiguity(text)
    assert err.suggestions == ["COG", "COD"]
    assert "give COG or COD" in str(err) and "\n" not in str(err)


@pytest.mark.parametrize(("text", "key"), [("COG", "COG"), ("CG", "COG"), ("Republic of the Congo", "COG"),
                                           ("Congo-Brazzaville", "COG"), ("COD", "COD"), ("CD", "COD"),
                                           ("DRC", "COD"), ("DR Congo", "COD"), ("Congo-Kinshasa", "COD")])
def test_each_congo_still_resolves_by_its_code_or_full_name(text: str, key: str) -> None:
    assert resolve_location(text).key == key


def test_the_cli_refuses_congo_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["estimate", "training", "--chip-hours", "100", "--hardware", "A100", "--location", "Congo"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "ambiguous location 'Congo'" in err and "COD" in err
