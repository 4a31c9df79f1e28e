"""Groups of countries as a location ("EU"): the members' generation-weighted mean, ranged over the members, with
its mix, its past years and what is said; a wider name ("Europe") is refused with the group suggested first."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.data import load_table
from wattprint.errors import UnknownNameError
from wattprint.estimate.training import estimate_training
from wattprint.intensity import generation_mix, intensity_for, intensity_lookup, resolve_location


def _members() -> list[str]:
    return list(load_table("regions")["groups"]["EU27"]["members"])


@pytest.mark.parametrize("text", ["EU", "eu", "EU-27", "EU27", "EU27_2020", "European Union", "european union"])
def test_the_eus_names_resolve_to_the_group(text: str) -> None:
    loc = resolve_location(text)
    assert (loc.key, loc.kind, loc.country_iso3) == ("EU27", "group", None)


def test_the_members_are_the_27_without_the_united_kingdom() -> None:
    members = _members()
    assert len(members) == len(set(members)) == 27
    assert {"FRA", "DEU", "POL", "SWE", "HRV", "MLT"} <= set(members)
    assert not {"GBR", "NOR", "CHE", "ISL"} & set(members)
    assert all(resolve_location(m).kind == "country" for m in members)


@pytest.mark.parametrize("year", [2000, 2015, 2021, 2023])
def test_the_figure_is_the_members_generation_weighted_mean(year: int) -> None:
    """Recomputed from the members' own figures and generation: the group's emissions over its generation."""
    gen = load_table("mixes")["countries"]
    members = _members()
    g = {m: intensity_for(m, year).g_per_kwh.value for m in members}
    twh = {m: gen[m][str(year)]["gen_twh"] for m in members}
    expected = sum(g[m] * twh[m] for m in members) / sum(twh.values())
    got = intensity_for("EU", year)
    assert got.year == year
    assert got.g_per_kwh.value == pytest.approx(expected, abs=0.1)
    # the range is where in the EU the run is: inside the members' span, far wider than a country's +-5%
    r = got.g_per_kwh
    assert min(g.values()) <= r.low < 0.5 * r.value < r.value < r.high <= max(g.values())


def test_the_latest_year_and_a_gap_year() -> None:
    latest = intensity_for("EU")
    assert latest.year == 2023
    assert latest.basis == "lifecycle, average (OWID/Ember)"
    assert intensity_for("EU", 2019).g_per_kwh.value > latest.g_per_kwh.value  # coal's fall since 2019
    i, notes = intensity_lookup("EU", 2022)
    assert i.year == 2021
    assert any("2022 not in the data" in a.note for a in notes)
    with pytest.raises(Exception, match="before 2000"):
        intensity_for("EU", 1995)


def test_the_mix_agrees_with_embers_review_of_2023() -> None:
    """Ember's European Electricity Review 2024 on the EU in 2023: renewables 44%, wind and solar 27%, fossil
    fuels under a third (refdata/country_groups.csv's cross-check)."""
    mix = generation_mix("EU", 2023)
    assert sum(mix.values()) == pytest.approx(100, abs=1)
    renewable = sum(mix.get(k, 0) for k in ("hydro", "wind", "solar", "biomass", "geothermal"))
    assert renewable == pytest.approx(44, abs=1)
    assert mix["wind"] + mix["solar"] == pytest.approx(27, abs=1)
    assert mix["coal"] + mix["gas"] + mix["oil"] < 100 / 3


def test_an_estimate_says_the_group_and_how_to_narrow_it() -> None:
    fp = estimate_training(chip_hours=1000, hardware="A100", location="EU")
    loc = [a for a in fp.assumptions if a.what == "location"]
    assert len(loc) == 1 and "EU27" in loc[0].value and "give the country" in loc[0].note
    grid = [a for a in fp.assumptions if a.what == "grid carbon intensity"]
    assert grid and "European Union (27)" in grid[0].value
    france = estimate_training(chip_hours=1000, hardware="A100", location="France")
    assert france.operational_co2e_kg.value < fp.operational_co2e_kg.value
    assert fp.operational_co2e_kg.low <= france.operational_co2e_kg.value * 1.5  # France lies inside the EU's range


@pytest.mark.parametrize("text", ["Europe", "europe", "EUROPE"])
def test_europe_is_refused_with_the_eu_suggested_first(text: str) -> None:
    with pytest.raises(UnknownNameError) as e:
        resolve_location(text)
    assert e.value.suggestions[0] == "EU27"
    assert "wider than European Union (27)" in str(e.value)


def test_the_cli_lists_the_group(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "regions", "--kind", "group", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in rows] == ["EU27"]
    assert rows[0]["g_per_kwh"] == pytest.approx(intensity_for("EU").g_per_kwh.value)
    assert main(["estimate", "training", "--chip-hours", "1000", "--hardware", "A100", "--location", "Europe"]) == 2
    assert "EU27" in capsys.readouterr().err
