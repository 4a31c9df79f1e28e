"""Every embedded intensity has a real range: no lifecycle figure of 0, no point-valued generation source."""

from __future__ import annotations

import pytest

from wattprint.data import credits, load_table
from wattprint.intensity import intensity_for, intensity_from_mix


@pytest.mark.parametrize("source", ["lignite", "oil", "other"])
def test_sources_without_a_published_range_still_get_one(source: str) -> None:
    i = intensity_from_mix({source: 100})
    assert i.g_per_kwh.low < i.g_per_kwh.value < i.g_per_kwh.high
    assert i.g_per_kwh.high / i.g_per_kwh.low > 1.3


def test_unknown_generation_spans_the_thermal_sources() -> None:
    f = load_table("factors")["mix_factors"]
    other = f["other"]
    assert other["low"] <= f["biomass"]["low"] and other["high"] >= f["coal"]["high"]
    assert "range_rule" in other


def test_a_zero_in_the_source_data_is_replaced_by_the_year_s_own_mix() -> None:
    # OWID gives the all-hydro Central African Republic 0 gCO2e/kWh; no generation has a lifecycle of 0
    i = intensity_for("CF", 2016)
    hydro = load_table("factors")["mix_factors"]["hydro"]
    assert i.g_per_kwh.value == pytest.approx(hydro["g"], rel=0.05)
    assert i.g_per_kwh.low < i.g_per_kwh.value < i.g_per_kwh.high
    assert "generation mix" in i.source


def test_no_country_year_is_below_every_source_s_lifecycle_factor() -> None:
    floor = min(f["g"] for f in load_table("factors")["mix_factors"].values())
    countries = load_table("countries")["countries"]
    for code, c in countries.items():
        for year in c["years"]:
            assert intensity_for(code, int(year)).g_per_kwh.value >= floor, (code, year)


def test_credits_name_electricity_maps_and_the_cc_by_licence_and_changes() -> None:
    text = "\n".join(credits())
    assert "electricitymaps-contrib" in text
    assert "creativecommons.org/licenses/by/4.0" in text and "Changes:" in text


def test_a_mix_intensity_names_the_range_rules_and_flags_it_uses() -> None:
    src = intensity_from_mix({"hydro": 50, "oil": 50}).source
    # the hydro bound is a published global average incl. reservoir emissions (read), no longer a figure from memory
    assert "hydro range for grid mixes" in src and "Scherer & Pfister 2016" in src and "UNCERTAIN" not in src
    assert "oil range: no range in the reference" in src
    assert "UNCERTAIN" not in intensity_from_mix({"coal": 60, "gas": 40}).source
