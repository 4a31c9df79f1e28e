"""How a location, a year, a mix or a given intensity become the site of an estimate, and what is said about it:
bare cloud region ids, Azure geographies, sources without a year, ignored years, the world average, aliases,
and how much of the user's text an error repeats."""

from __future__ import annotations

import pytest

from wattprint.cli import main
from wattprint.errors import InputConflictError, UnknownNameError, WattprintError
from wattprint.estimate.training import estimate_training
from wattprint.footprint import Footprint
from wattprint.intensity import intensity_for, intensity_lookup, resolve_location


def _train(**kw: object) -> Footprint:
    return estimate_training(chip_hours=1000, hardware="A100", **kw)  # type: ignore[arg-type]


def _notes(fp: Footprint) -> str:
    return "\n".join(str(a) for a in fp.assumptions)


# -- 1. bare names ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["Asia", "asiapacific", "europe", "uk", "unitedstates"])
def test_an_azure_geography_is_not_read_from_a_bare_name(text: str) -> None:
    """Geographies are Azure's undocumented averages, not regions: a bare name must not land on one."""
    try:
        loc = resolve_location(text)
    except UnknownNameError:
        return
    assert loc.kind != "cloud", f"{text!r} -> {loc.key}"


@pytest.mark.parametrize(("text", "key"), [("us-east-1", "aws:us-east-1"), ("eastus", "azure:eastus"),
                                           ("europe-west4", "gcp:europe-west4")])
def test_a_bare_region_id_resolves_and_is_said(text: str, key: str) -> None:
    assert resolve_location(text).key == key
    _i, notes = intensity_lookup(text)
    said = f"{text!r} read as {key} (write provider:region to be explicit)"
    assert any(said == n.note for n in notes)
    fp = _train(location=text)
    assert said in _notes(fp)
    # the explicit form says nothing of the kind
    assert "read as" not in _notes(_train(location=key))


def test_a_bare_region_id_is_said_when_a_mix_replaces_its_grid_too() -> None:
    assert "'us-east-1' read as aws:us-east-1" in _notes(_train(location="us-east-1", mix="coal=100"))


def test_an_explicit_geography_still_works() -> None:
    assert resolve_location("azure:asia").key == "azure:asia"


# -- 2. sources that give no year -----------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["azure:westeurope", "aws:eu-west-1"])
def test_a_year_on_a_region_whose_source_gives_none_is_said_so(key: str) -> None:
    i, notes = intensity_lookup(key, 2015)
    assert i.year is None
    assert i.g_per_kwh == intensity_for(key).g_per_kwh  # not refused, the same figure
    text = i.source + " ".join(n.note for n in notes)
    assert "year 0" not in text and "source gives no year" in text and "not year-specific" in text
    assert "2015" in text
    assert "no year" not in intensity_for(key).source  # nothing asked, nothing said


# -- 4. --year with a mix or a given intensity ---------------------------------------------------------------------
def test_a_given_intensity_carries_no_year_and_the_year_is_noted_unused() -> None:
    fp = _train(intensity=300, year=1800)
    grid = next(a for a in fp.assumptions if a.what == "grid carbon intensity")
    assert "1800" not in grid.value
    assert any(a.what == "year" and "1800" in a.value and "not used" in a.value for a in fp.assumptions)


def test_a_mix_with_a_year_notes_the_year_unused() -> None:
    fp = _train(mix="coal=100", year=1800)
    assert any(a.what == "year" and "not used" in a.value for a in fp.assumptions)
    assert "not used" not in _notes(_train(mix="coal=100"))  # no year, no note


def test_a_mix_with_a_location_says_the_location_only_sets_the_pue() -> None:
    fp = _train(mix="coal=100", location="FR", year=2010)
    loc = next(a for a in fp.assumptions if a.what == "location")
    assert "France" in loc.note and "not used" in loc.note and "PUE" in loc.note
    assert any(a.what == "year" and "2010" in a.value for a in fp.assumptions)
    assert "2010" not in next(a for a in fp.assumptions if a.what == "grid carbon intensity").value


# -- 6. names ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["World", "world average", "global", "GLOBAL"])
def test_world_is_the_world_average(text: str) -> None:
    i, notes = intensity_lookup(text)
    none = intensity_for(None)
    assert (i.g_per_kwh, i.year, i.basis, i.location) == (none.g_per_kwh, none.year, none.basis, none.location)
    # the same figures, but asked for by name rather than assumed for want of a location
    assert i.source.startswith(f"{text!r}: the world average") and "no location given" not in i.source
    assert notes and "world average" in notes[0].value
    fp, without = _train(location=text).to_dict(), _train().to_dict()
    grid = next(a for a in fp["assumptions"] if a["what"] == "grid carbon intensity")
    assert grid["source"].startswith(f"{text!r}: the world average")  # asked for, not assumed
    for key in ("energy_kwh", "operational_co2e_kg", "operational_co2e_kg_low", "operational_co2e_kg_high",
                "total_co2e_kg"):
        assert fp[key] == without[key]


def test_world_with_a_year_says_as_no_location_does() -> None:
    world, none = intensity_for("World", 2010), intensity_for(None, 2010)
    assert world.g_per_kwh == none.g_per_kwh and world.year == none.year == 2010
    world, none = intensity_for("World", 2031), intensity_for(None, 2031)
    assert world.g_per_kwh == none.g_per_kwh and "2031 not in the data" in world.source
    assert "2031 not in the data" in none.source


@pytest.mark.parametrize(("text", "key"), [
    ("Republic of the Congo", "COG"), ("Congo-Brazzaville", "COG"), ("Congo-Kinshasa", "COD"),
    ("Democratic Republic of the Congo", "COD"), ("Deutschland", "DEU"), ("XK", "RKS"), ("xk", "RKS"),
    # World Bank (WDI) names, as data sets keyed by them write them: the two Congos and Koreas apart
    ("Congo, Rep.", "COG"), ("Congo, Dem. Rep.", "COD"), ("Korea, Rep.", "KOR"), ("Korea, Dem. People's Rep.", "PRK"),
    ("Egypt, Arab Rep.", "EGY"), ("Gambia, The", "GMB"), ("Hong Kong SAR, China", "HKG"), ("St. Lucia", "LCA"),
    ("Slovak Republic", "SVK"), ("Lao PDR", "LAO"),
    # ISO 3166-2 codes of places with their own ISO 3166-1 record: not refused as unknown grids of the US or China
    ("US-PR", "PRI"), ("us_pr", "PRI"), ("US-GU", "GUM"), ("CN-HK", "HKG"), ("CN-TW", "TWN"),
])
def test_country_aliases(text: str, key: str) -> None:
    assert resolve_location(text).key == key


# -- 7. long input is not echoed in full ---------------------------------------------------------------------
def test_an_error_does_not_echo_a_long_input_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    long = "Atlantis" * 625  # 5000 characters
    with pytest.raises(UnknownNameError) as e:
        resolve_location(long)
    assert len(str(e.value)) < 600 and "5000 characters" in str(e.value)
    code = main(["estimate", "training", "--chip-hours", "1000", "--hardware", "A100", "--location", long])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and len(err) < 600 and "Atlantis" in err


def test_a_long_mix_is_not_echoed_in_full() -> None:
    from wattprint.intensity import parse_mix

    with pytest.raises(InputConflictError) as e:
        parse_mix("coal=abc" + "x" * 5000)
    assert len(str(e.value)) < 400


def test_a_short_name_is_echoed_whole() -> None:
    with pytest.raises(UnknownNameError, match="'Frnace'"):
        resolve_location("Frnace")


@pytest.mark.parametrize("text", ["Monaco", "MCO", "MC", "Jersey", "Vatican", "Curaçao", "Liechtenstein", "US-MP"])
def test_a_country_without_intensity_data_is_refused_as_such(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A real ISO country or territory the sources give no intensity for is not an unknown name with look-alikes
    ('Monaco' -> Macao, Montana): the message says it is known, has no data, and what to give instead."""
    with pytest.raises(WattprintError, match="no grid carbon intensity") as e:
        resolve_location(text)
    assert "--intensity" in str(e.value) and "closest valid names" not in str(e.value)
    code = main(["estimate", "training", "--chip-hours", "1000", "--hardware", "A100", "--location", text])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "no grid carbon intensity" in err
    # what it asks for works: the same site with its intensity given
    assert main(["estimate", "training", "--chip-hours", "1000", "--hardware", "A100", "--intensity", "50"]) == 0


def test_a_name_spelled_like_a_country_without_data_is_still_unknown() -> None:
    with pytest.raises(UnknownNameError, match="closest valid names"):
        resolve_location("Monacco")
