"""The intensity's unit and years say what its source counts: a CO2-only factor (eGRID 2016 state rates, EEA) is
labelled gCO2/kWh and the operational "CO2e" computed from it carries a caveat (the JSON key stays
operational_co2e_kg); the world average, which mixes countries' latest data years, gives the span beside
intensity_year (which stays an int)."""

from __future__ import annotations

import json

import pytest

from wattprint.footprint import ComponentEnergy, Footprint, Intensity
from wattprint.intensity import intensity_for, intensity_lookup
from wattprint.quantities import Range


def _fp(intensity: Intensity) -> Footprint:
    return Footprint({"gpu": ComponentEnergy(Range.exact(10.0), "given")}, pue=Range.exact(1.2), intensity=intensity)


@pytest.mark.parametrize("location", ["US-CA", "aws:eu-west-1"])
def test_a_co2_only_intensity_is_labelled_co2_and_its_co2e_carries_the_caveat(location: str) -> None:
    ci = intensity_for(location)
    assert ci.gases == "CO2" and ci.unit == "gCO2/kWh"
    fp = _fp(ci)
    table = fp.table()
    assert f"{ci.g_per_kwh.value:.4g} ({ci.g_per_kwh.low:.4g}–{ci.g_per_kwh.high:.4g}) gCO2/kWh" in table
    assert "gCO2e/kWh" not in table
    assert "operational CO2e (CO2 only)" in table
    d = json.loads(fp.to_json())
    assert d["operational_co2e_kg"] == pytest.approx(12.0 * ci.g_per_kwh.value / 1000)  # key and figure unchanged
    assert d["intensity_unit"] == "gCO2/kWh"
    assert d["intensity_caveat"] == "CO2 only: excludes CH4, N2O and upstream emissions"
    said = ci.assumption()  # the run's and the estimate's assumption list
    assert "gCO2/kWh" in said.value and "excludes CH4, N2O" in said.note


@pytest.mark.parametrize("location", ["FRA", "aws:us-east-1", "gcp:europe-west4"])
def test_a_co2e_intensity_keeps_its_unit_and_has_no_caveat(location: str) -> None:
    ci = intensity_for(location)
    d = _fp(ci).to_dict()
    assert ci.unit == d["intensity_unit"] == "gCO2e/kWh" and d["intensity_caveat"] is None
    assert "operational CO2e  " in _fp(ci).table() and "gCO2e/kWh" in _fp(ci).table()
    assert d["intensity_years"] == ([d["intensity_year"]] * 2 if d["intensity_year"] else None)


def test_the_world_average_gives_the_span_of_its_data_years_beside_the_newest() -> None:
    ci, _ = intensity_lookup(None)
    d = _fp(ci).to_dict()
    first, last = d["intensity_years"]
    assert isinstance(d["intensity_year"], int) and d["intensity_year"] == last  # the type consumers read stays
    assert first < last  # countries' latest years differ: one year would misstate the mix
    assert f"country data years {first}-{last}; share of generation: {last} " in ci.source
    assert f"(world, data years {first}-{last};" in ci.assumption().value
    past, _ = intensity_lookup(None, 2019)  # a past year is computed from that year's values alone
    assert past.year == 2019 and _fp(past).to_dict()["intensity_years"] == [2019, 2019]
