"""generation_mix: its keys are sources intensity_from_mix accepts, its years follow intensity_for's rules, and
misuse is a clear WattprintError."""

from __future__ import annotations

import pytest

from wattprint.errors import InputConflictError, WattprintError
from wattprint.intensity import generation_mix, intensity_from_mix, mix_sources, parse_mix


@pytest.mark.parametrize("where", ["FR", "Poland", "India", "CA-QC", "CA-AB"])
def test_a_returned_mix_feeds_intensity_from_mix(where: str) -> None:
    mix = generation_mix(where)
    assert mix and set(mix) <= set(mix_sources())
    i = intensity_from_mix(mix)
    assert i.g_per_kwh.low <= i.g_per_kwh.value <= i.g_per_kwh.high


def test_owid_categories_map_to_the_canonical_sources() -> None:
    fr = generation_mix("FR", 2021)
    assert "biofuel" not in fr and "other_renewable_exc_biofuel" not in fr
    assert fr["biomass"] > 0
    assert sum(fr.values()) == pytest.approx(100, abs=2)


@pytest.mark.parametrize(("where", "year", "first"), [("FR", 1800, "2000"), ("CA-QC", 2010, "2016")])
def test_a_year_before_the_data_is_refused(where: str, year: int, first: str) -> None:
    with pytest.raises(InputConflictError, match=f"before {first}"):
        generation_mix(where, year)


def test_a_year_after_the_data_or_in_a_gap_falls_back_and_is_said() -> None:
    from wattprint.intensity import generation_mix_lookup

    latest = generation_mix("CA-QC")
    mix, notes = generation_mix_lookup("CA-QC", 2040)
    assert mix == latest and notes and "2040" in notes[0].note
    mix, notes = generation_mix_lookup("CA-QC", 2020)
    assert mix == generation_mix("CA-QC", 2016) and mix != latest and "2016" in notes[0].value
    assert generation_mix_lookup("FR", 2010)[1] == []  # a year in the data: nothing to say


@pytest.mark.parametrize(("call", "args"), [
    (generation_mix, ("FR", "x")), (generation_mix, ("FR", 2010.5)), (parse_mix, (123,)), (parse_mix, ([1],)),
    (generation_mix, ("World",)),
])
def test_misuse_is_a_clear_error(call: object, args: tuple[object, ...]) -> None:
    with pytest.raises(WattprintError):
        call(*args)  # type: ignore[operator]
