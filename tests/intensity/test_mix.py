"""Intensity from a generation mix: IPCC AR5 lifecycle arithmetic, validation, basis."""

from __future__ import annotations

import math

import pytest

from wattprint.errors import InputConflictError, UnknownNameError
from wattprint.intensity import generation_mix, intensity_from_mix, parse_mix


def test_coal_gas_mix_uses_ipcc_medians() -> None:
    i = intensity_from_mix(parse_mix("coal=60,gas=40"))
    assert i.g_per_kwh.value == pytest.approx(0.6 * 820 + 0.4 * 490)
    assert i.g_per_kwh.low == pytest.approx(0.6 * 740 + 0.4 * 410)
    assert i.g_per_kwh.high == pytest.approx(0.6 * 910 + 0.4 * 650)
    assert "lifecycle" in i.basis and "IPCC" in i.source


def test_fractions_and_percent_agree() -> None:
    a = intensity_from_mix({"coal": 0.6, "gas": 0.4})
    b = intensity_from_mix({"coal": 60, "natural gas": 40})
    assert a.g_per_kwh == b.g_per_kwh


def test_parse_mix_forms() -> None:
    assert parse_mix("coal: 60%; natural gas 40") == {"coal": 60.0, "gas": 40.0}
    assert parse_mix("hydro=100") == {"hydro": 100.0}


def test_unknown_source_lists_closest() -> None:
    with pytest.raises(UnknownNameError) as e:
        parse_mix("coall=60,gas=40")
    assert "coal" in e.value.suggestions


@pytest.mark.parametrize("mix", [{"coal": -10, "gas": 110}, {"coal": math.nan, "gas": 40}])
def test_negative_or_nan_is_a_conflict(mix: dict[str, float]) -> None:
    with pytest.raises(InputConflictError):
        intensity_from_mix(mix)


def test_shares_must_sum_to_100_or_1() -> None:
    with pytest.raises(InputConflictError, match="sum"):
        intensity_from_mix({"coal": 60, "gas": 20})
    with pytest.raises(InputConflictError):
        parse_mix("")
    with pytest.raises(InputConflictError):
        parse_mix("coal=abc")


def test_hydro_upper_bound_is_not_the_tropical_reservoir_extreme() -> None:
    i = intensity_from_mix({"hydro": 100})
    assert i.g_per_kwh.value == 24 and i.g_per_kwh.high < 300


def test_generation_mix_of_a_country() -> None:
    mix = generation_mix("France")
    assert mix["nuclear"] > 50
    assert sum(mix.values()) == pytest.approx(100, abs=2)


@pytest.mark.parametrize("mix", [{1: 100}, {"coal": 60, "Coal": 40}, {"gas": 50, "natural gas": 50}])
def test_a_mix_mapping_with_odd_or_repeated_sources_is_refused(mix: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(InputConflictError):
        intensity_from_mix(mix)


def test_an_unknown_source_close_to_none_lists_the_valid_sources() -> None:
    """'unobtanium' is close to no source name: the error showed no name at all (the standard: an unknown name
    comes with valid ones). The grid's main sources come first."""
    with pytest.raises(UnknownNameError) as e:
        parse_mix("unobtanium=100")
    msg = str(e.value)
    assert "valid names include coal, gas, oil, nuclear, hydro, wind, solar, biomass" in msg


def test_a_share_of_minus_zero_is_none_and_not_shown() -> None:
    # '--mix coal=-0,gas=100' read 'mix: gas 100%, coal -0%'
    i = intensity_from_mix(parse_mix("coal=-0,gas=100"))
    assert i.location == "mix: gas 100%"
    assert i.g_per_kwh == intensity_from_mix({"gas": 100}).g_per_kwh


def test_shares_scaled_to_their_sum_say_so() -> None:
    # 99.5 % given: used as 100 %, and the source says the shares were scaled; an exact sum says nothing
    i = intensity_from_mix({"coal": 60, "gas": 39.5})
    assert "the shares given sum to 99.5, each scaled to make 100" in i.source
    exact = intensity_from_mix({"coal": 0.6 / 0.995, "gas": 0.395 / 0.995})
    assert i.g_per_kwh.value == pytest.approx(exact.g_per_kwh.value)
    assert "scaled" not in intensity_from_mix({"coal": 0.1, "gas": 0.2, "solar": 0.7}).source
    assert "scaled" not in intensity_from_mix({"coal": 60, "gas": 40}).source
