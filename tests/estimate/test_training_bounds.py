"""A training estimate that cannot be carried out as stated is refused with one line naming the inputs, where it
used to print an absurd figure with exit 0 (a bad-input probe):

* a wall time past the hardware's service life (--count 1 typed for 1k: 158,000 years on one A100), or --days past it;
* a total above the whole world's annual emissions (where no count gives a wall time to check: --chip-hours 1e30);
* fewer than one chip implied by the chip-hours (or the compute) over the days given (--chip-hours 100 --days 10);
* an MFU a slip factor below any published training's (1e-30), FLOPs below the smallest training's (6 x 1000 x 1000),
  or chip-hours too few for those at the chip's full peak (--chip-hours 1e-30, --count 8 --days 1e-30)."""

from __future__ import annotations

from typing import Any

import pytest

from wattprint import data
from wattprint.data import world_annual_co2e_kg
from wattprint.errors import InputConflictError
from wattprint.estimate import utilisation
from wattprint.estimate.common import SLIP_BELOW
from wattprint.estimate.training import estimate_training


def _life_years() -> float:
    """The longest service life the accelerators' embodied emissions are amortised over (the data's, 6 years)."""
    return data.embodied_accelerator(data.find_accelerator("A100")[0]).lifetime_years.high


def _refused(match: str, **kw: Any) -> str:
    with pytest.raises(InputConflictError, match=match) as e:
        estimate_training(**{"hardware": "A100", **kw})
    assert "\n" not in str(e.value)
    return str(e.value)


def test_a_wall_time_past_the_service_life_is_refused_naming_count_and_size() -> None:
    life = _life_years()
    assert life == 6
    # ~160,000 years (the figure follows the fitted MFU model; the refusal and what it names do not)
    said = _refused(r"wall time 1[56]\d,000 years on 1 chip exceeds the hardware's 6-year service life: check --count",
                    count=1, params=1e12, tokens=100e12)
    assert "--params 1e+12, --tokens 1e+14" in said
    _refused(r"wall time 4,\d\d0,000 years on 64 chips .* or --flops 1e\+30", count=64, flops=1e30)
    _refused(r"on 8 chips exceeds .* or --chip-hours 1e\+06", count=8, chip_hours=1e6)  # 14 years
    _refused(r"1[01]\d years on 1 chip .* --model Llama-3\.1-8B, --tokens 1\.5e\+13", model="Llama-3.1-8B",
             tokens=15e12, hardware="H100", count=1)
    # the same trainings on the chips they ran on pass (Llama 3.1 8B: ~1.46M H100-hours)
    fp = estimate_training(model="Llama-3.1-8B", tokens=15e12, hardware="H100", count=1024)
    assert fp.wall_time_h is not None and fp.wall_time_h.high < life * 24 * 365.25


def test_a_wall_time_past_the_service_life_at_the_central_mfu_only_is_noted() -> None:
    fp = estimate_training(params=7e9, tokens=2e12, hardware="A100", count=3)  # 7.4 years, 4.8 at the MFU's high end
    note = next(a for a in fp.assumptions if a.what == "wall time")
    years = float(note.value.removesuffix(" years on 3 chips"))  # ~7.5 (the fitted MFU model's figure)
    assert 6 < years < 9 and "service life at the central MFU" in note.note
    assert not any(a.what == "wall time" for a in estimate_training(params=7e9, tokens=2e12, hardware="A100",
                                                                     count=64).assumptions)


def test_days_past_the_service_life_are_the_input_named() -> None:
    _refused(r"--days 1e\+30 \(2\.74e\+27 years of wall time\) exceeds the hardware's 6-year service life: check "
             r"--days", count=8, days=1e30)
    _refused(r"--days 100000 \(274 years", params=7e9, tokens=2e12, days=1e5)
    _refused(r"--days 3000 \(8\.21 years", chip_hours=1e7, days=3000)
    long = estimate_training(count=8, days=2000, hardware="A100")  # 5.5 years: long, but within it
    assert long.wall_time_h is not None


def test_chip_hours_alone_have_no_wall_time_to_check() -> None:
    fp = estimate_training(chip_hours=1.72e6, hardware="A100")  # as many chip-hours as 200 years on one chip
    assert fp.wall_time_h is None and fp.chip_hours.value == 1.72e6
    with_count = estimate_training(chip_hours=1.72e6, hardware="A100", count=2048)
    assert with_count.wall_time_h is not None and with_count.wall_time_h.value == pytest.approx(1.72e6 / 2048)


@pytest.mark.parametrize(("kw", "named"), [
    ({"params": 1e30, "tokens": 1e12}, "--params 1e+30, --tokens 1e+12 (counts are absolute"),
    ({"params": 7e9, "tokens": 1e30}, "--params 7e+09, --tokens 1e+30"),
    ({"chip_hours": 1e30}, "--chip-hours 1e+30"),
    ({"flops": 1e40}, "--flops 1e+40"),
    ({"model": "Llama-3.1-8B", "tokens": 1e30}, "--model Llama-3.1-8B, --tokens 1e+30"),
])
def test_a_training_above_the_worlds_annual_emissions_is_refused_naming_its_inputs(
    kw: dict[str, Any], named: str
) -> None:
    said = _refused("the world's annual emissions", **kw)
    world, _ = world_annual_co2e_kg()
    assert f"({world / 1e12:.3g} GtCO2e): no training emits that; check the magnitudes of {named}" in said


def test_fewer_than_one_chip_over_the_days_given_is_refused() -> None:
    _refused(r"--chip-hours 100 over --days 10 is 0\.42 chips: fewer than one", chip_hours=100, days=10)
    # the compute's chip-hours over the days: 1B x 20B tokens is ~280 A100-hours, 0.012 chips over 1000 days
    _refused(r"2\d\d chip-hours over --days 1000 are 0\.01\d chips .*: fewer than one; check --days", params=1e9,
             tokens=20e9, days=1000)
    # under one chip at the central MFU but not over its whole range (~280 chip-hours, 180-440, over 15 days): noted
    fp = estimate_training(params=1e9, tokens=20e9, days=15, hardware="A100")
    note = next(a for a in fp.assumptions if a.what == "average chips busy")
    assert "under one chip at the central MFU" in note.note
    # one chip or more, given or implied, is a training
    one = estimate_training(chip_hours=240, days=10, hardware="A100")
    assert one.details["average_chips_busy"] == pytest.approx(1)
    busy = estimate_training(chip_hours=1.72e6, days=35, hardware="A100")
    assert busy.details["average_chips_busy"] == pytest.approx(2047.6, 1e-3)
    assert estimate_training(chip_hours=1.72e6, count=2048, hardware="A100").details["count"] == 2048


def test_a_given_mfu_a_slip_factor_below_every_published_training_is_refused() -> None:
    low, high = utilisation.model_table()["mfu"]["bounds"]
    assert (low, high) == (0.02, 0.75)
    for kw in ({}, {"count": 8}, {"chip_hours": 1e5}):  # refused whether or not it sizes the run
        _refused(r"--mfu \(mfu\) 1e-30 is far below the 0\.02 every published training reaches", params=7e9,
                 tokens=2e12, mfu=1e-30, **kw)
    _refused(r"--mfu \(mfu\) 0.0019 is far below", params=7e9, tokens=2e12, count=64, mfu=0.0019)
    # at or above the floor (0.02 / 10), a note says it is outside the fit
    fp = estimate_training(params=7e9, tokens=2e12, count=4096, mfu=low / SLIP_BELOW, hardware="A100")
    assert any(a.what == "MFU given" and "outside 0.02-0.75" in a.note for a in fp.assumptions)


def test_fewer_flops_or_chip_hours_than_the_smallest_training_are_refused() -> None:
    _refused(r"--flops \(flops\) 1e-30 is fewer than any training has \(6 x 1000 parameters x 1000 tokens = "
             r"6e\+06 FLOP\)", flops=1e-30, count=8)
    # 6 x the fewest parameters x the fewest tokens a count may say is the least a training computes
    assert estimate_training(flops=6e6, hardware="A100", count=8).chip_hours.value > 0
    _refused(r"chip-hours 1e-30 are fewer than any training takes: .* needs 5\.3e-12 on NVIDIA A100", chip_hours=1e-30)
    _refused(r"chip-hours 1\.92e-28 are fewer .*\(chip-hours = 8 chips x 1e-30 days x 24\)", count=8, days=1e-30)
    # with the compute, the MFU the chip-hours imply says more than the floor
    _refused(r"needs 8\.9e\+303x the bf16 peak", flops=1e22, chip_hours=1e-300)
    assert estimate_training(chip_hours=1e-3, hardware="A100").chip_hours.value == 1e-3  # 3.6 s of one chip


def test_a_wall_time_past_the_central_service_life_within_the_longest_is_noted() -> None:
    """--chip-hours 1e5 --count 2 on H100s is 5.7 years: past the chips' central 5-year life, within the longest
    (6), it passed with nothing said while the embodied CO2e charged each chip 1.14 of its manufacturing emissions.
    --days within that band is said the same way, naming --days; the longest life's checks are unchanged."""
    life = data.embodied_accelerator(data.find_accelerator("H100")[0]).lifetime_years
    assert (life.value, life.high) == (5, 6)
    fp = estimate_training(chip_hours=1e5, count=2, hardware="H100")
    (note,) = [a for a in fp.assumptions if a.what == "wall time"]
    assert note.value == "5.7 years on 2 chips"
    assert note.note.startswith("past the chips' central 5-year service life (within the longest, 6 years)")
    assert note.note.endswith("check --count")
    (days,) = [a for a in estimate_training(count=8, days=2000, hardware="A100").assumptions if a.what == "wall time"]
    assert days.value == "5.48 years on 8 chips" and "central 5-year service life" in days.note
    assert days.note.endswith("check --days")
    (flops,) = [a for a in estimate_training(params=7e9, tokens=2e12, days=2000, hardware="A100").assumptions
                if a.what == "wall time"]
    assert flops.value == "5.48 years"  # no count given: the chips busy are an average, said in their own note
    # within the central life: nothing; past the longest at the central MFU only: its own note, once
    assert not [a for a in estimate_training(chip_hours=8e4, count=2, hardware="H100").assumptions
                if a.what == "wall time"]  # 4.56 years
    past = [a for a in estimate_training(params=7e9, tokens=2e12, hardware="A100", count=3).assumptions
            if a.what == "wall time"]
    assert len(past) == 1 and "6-year service life at the central MFU" in past[0].note
