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


@pytest.mark.parametrize(("location", "year"), [("US-CA", 2016), ("aws:eu-west-1", None)])
def test_a_co2_only_intensity_is_labelled_co2_and_its_co2e_carries_the_caveat(location: str, year: int | None) -> None:
    ci = intensity_for(location, year)
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


@pytest.mark.parametrize("location", ["FRA", "aws:us-east-1", "gcp:europe-west4", "US-CA"])
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


def test_a_us_state_is_the_egrid2023_co2e_rate_and_2016_stays_co2_only() -> None:
    # the states were eGRID2016's CO2 rates, ten years old; eGRID2023 (rev. 2) gives the CO2e rate of each
    now, then = intensity_for("US-WV"), intensity_for("US-WV", 2016)
    assert now.year == 2023 and now.gases == "CO2e" and "eGRID2023" in now.basis and "STC2ERTA" in now.source
    assert now.g_per_kwh.value == pytest.approx(1968.869 * 0.4536, rel=1e-3)  # lb/MWh -> g/kWh
    assert then.year == 2016 and then.gases == "CO2" and "eGRID 2016" in then.basis
    # each year's range spans its own release only (the bases differ): the 2016 figure does not widen 2023's
    assert now.g_per_kwh.low == pytest.approx(now.g_per_kwh.value * 0.9, rel=1e-6)
    assert now.g_per_kwh.high == pytest.approx(now.g_per_kwh.value * 1.1, rel=1e-6)
    assert intensity_for("US-VT").g_per_kwh.value == pytest.approx(52.239 * 0.4536, rel=1e-3)
