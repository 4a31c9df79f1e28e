"""Serving estimate: absurd inputs that gave figures (exit 0) found by a bad-input probe, each pinned by a test that
failed before its fix.

1. a given batch too large for the replica shrank the assumed requests (to 1 + 3 tokens: 1/800 of the energy per
   request) while the assumptions still printed the sourced 500 (100-2000); now an assumed length moves only within
   its sourced range, is restated where it moves, and a batch that fits only below it is refused, naming the most
   that fit;
2. replicas and fleets the estimate sizes itself skipped the bound a given --count meets (2,097,152 chips per replica
   for a batch of 1e12, 1.7e24 replicas for 1e30 requests a day);
3. the training side of the break-even was not checked against the world's annual emissions (1e30 kg: a break-even
   after 4.8e34 requests), which the training estimate now refuses its own total beyond;
4. inputs whose figures leave the floating-point range were refused without naming the input;
5. any number of experts was accepted (1e30 experts of a 235B MoE).
"""

from __future__ import annotations

import re

import pytest

from wattprint.data import world_annual_co2e_kg
from wattprint.errors import InputConflictError
from wattprint.estimate.common import MAX_CHIPS_AT_ONCE
from wattprint.estimate.inference import constants, estimate_inference
from wattprint.footprint import Footprint
from wattprint.quantities import Range

GRID = {"hardware": "H100", "intensity": 400.0, "pue": 1.2}


def _said(fp: Footprint, what: str) -> str:
    return next(a.value for a in fp.assumptions if a.what == what)


def _first_number(text: str) -> float:
    match = re.match(r"[\d.e+]+", text)
    assert match, text
    return float(match.group())


# -- 1. a given batch and the assumed request lengths --------------------------------------------------------------
@pytest.mark.parametrize("kw", [
    {"batch_size": 1e6, "count": 2},  # the probe: the default lengths cut to 1 and 3 tokens
    {"batch_size": 10_000, "count": 1, "input_tokens": 500, "output_tokens": 500},  # given lengths: refused before
    {"batch_size": 10_000, "count": 1, "input_tokens": 500},  # the assumed output at the low end of its range
])
def test_a_given_batch_that_fits_only_below_the_assumed_lengths_is_refused_with_the_most_that_fit(
        kw: dict[str, float]) -> None:
    with pytest.raises(InputConflictError, match=r"lower --batch-size to at most \d+") as e:
        estimate_inference(7e9, **{**GRID, **kw})  # type: ignore[arg-type]
    most = int(re.search(r"at most (\d+)", str(e.value)).group(1))  # type: ignore[union-attr]
    assert "\n" not in str(e.value)
    # the batch named fits (the assumed lengths at the low ends of their ranges at worst); one more does not
    fp = estimate_inference(7e9, **{**GRID, **kw, "batch_size": most})  # type: ignore[arg-type]
    assert fp.details["batch_size"].value == most
    with pytest.raises(InputConflictError, match="lower --batch-size"):
        estimate_inference(7e9, **{**GRID, **kw, "batch_size": most + 1})  # type: ignore[arg-type]


@pytest.mark.parametrize("kw", [
    {"batch_size": 3000, "count": 1},
    {"batch_size": 1e4}, {"batch_size": 1e5}, {"batch_size": 1e6},  # auto-sized: 1, 1, 1 and 2 chips before
    {"batch_size": 1024, "output_tokens": 480},
])
def test_assumed_lengths_move_only_within_their_ranges_and_say_so_where_they_are_printed(
        kw: dict[str, float]) -> None:
    fp = estimate_inference(8e9, **{**GRID, **kw})  # type: ignore[arg-type]
    for name in ("input", "output"):
        if f"{name}_tokens" in kw:
            continue
        low = constants()[f"default_{name}_tokens"].low
        capped = _said(fp, f"{name} tokens per request capped by memory")
        assert _first_number(capped.split()[-1]) >= low  # it cut the prompt to 1 token on one chip
        # the line that states the assumption gives the value computed with, not the sourced 500 (100-2e+03)
        stated = _said(fp, f"{name} tokens per request")
        assert _first_number(stated) == _first_number(capped.split()[-1]) and not stated.startswith("500")
        note = next(a.note for a in fp.assumptions if a.what == f"{name} tokens per request")
        assert "fit the memory" in note


def test_an_auto_sized_replica_takes_chips_rather_than_shorter_requests() -> None:
    fp = estimate_inference(7e9, batch_size=1e6, **GRID)  # type: ignore[arg-type]
    assert fp.details["accelerators_per_replica"] > 2  # 2 chips held it with 1 + 2 token requests before
    default = estimate_inference(7e9, **GRID)  # type: ignore[arg-type]
    assert fp.details["energy_per_request_wh"].value > default.details["energy_per_request_wh"].value / 50


# -- 2. chips the estimate chooses itself --------------------------------------------------------------------------
@pytest.mark.parametrize(("kw", "flag"), [
    ({"batch_size": 1e12}, "lower --batch-size"),  # 2,097,152 chips per replica before
    ({"batch_size": 1e30}, "lower --batch-size"),  # "a result leaves the floating-point range" before
    ({"requests_per_day": 1e30}, "check --requests-per-day"),  # 1.7e24 replicas before
    ({"tokens_per_day": 1e33}, "check --tokens-per-day"),
    ({"requests_per_day": 1e9, "utilisation": 1e-6}, "check --utilisation"),
    ({"requests_per_day": 1e30, "count": 8}, "check --requests-per-day"),  # a given count, a fleet sized for it
])
def test_a_replica_or_fleet_beyond_any_cluster_is_refused_naming_the_flag(kw: dict[str, float], flag: str) -> None:
    with pytest.raises(InputConflictError, match=f"more than the 1e\\+07 \\(10 million\\).*{flag}"):
        estimate_inference(7e9, **{**GRID, **kw})  # type: ignore[arg-type]


def test_the_largest_real_services_stay_within_the_bound() -> None:
    fp = estimate_inference(7e9, requests_per_day=1e10, **GRID)  # type: ignore[arg-type]
    assert fp.details["replicas_needed"].value * fp.details["accelerators_per_replica"] < MAX_CHIPS_AT_ONCE
    assert estimate_inference(405e9, batch_size=4096, **GRID).details["accelerators_per_replica"] <= 64  # type: ignore[arg-type]


# -- 3. the training side of the break-even ------------------------------------------------------------------------
@pytest.mark.parametrize("training", [1e30, Range(1e30, 1e29, 1e31), 1.01 * world_annual_co2e_kg()[0]])
def test_a_training_footprint_above_the_worlds_emissions_is_refused_as_the_training_estimate_refuses_it(
        training: float | Range) -> None:
    with pytest.raises(InputConflictError, match=r"x the world's annual emissions.*check --training-co2e-kg"):
        estimate_inference(7e9, training_co2e_kg=training, **GRID)  # type: ignore[arg-type]


def test_a_real_training_footprint_still_gives_the_break_even() -> None:
    fp = estimate_inference(7e9, training_co2e_kg=5e6, **GRID)  # type: ignore[arg-type]  # a frontier training
    assert fp.details["breakeven_requests"].value > 0
    assert all(a.what != "IMPLAUSIBLE RESULT" for a in fp.assumptions)


# -- 4. the input whose figures overflow is named ------------------------------------------------------------------
@pytest.mark.parametrize(("kw", "named"), [
    ({"params": 1e30}, r"params 1e\+30 .*check --params"),
    ({"params": 1e300, "requests_per_day": 1}, "check --params"),
    ({"params": 7e9, "batch_size": 1e30}, "--batch-size"),
    ({"params": 7e9, "batch_size": 1e308}, "--batch-size"),
    ({"params": 7e9, "requests_per_day": 1e6, "days": 1e300}, r"--days \(days\) 1e\+300 .*check --days"),
])
def test_the_input_whose_figures_would_overflow_is_named(kw: dict[str, float], named: str) -> None:
    with pytest.raises(InputConflictError, match=named) as e:
        estimate_inference(**{**GRID, **kw})  # type: ignore[arg-type]
    assert "the inputs are too large" not in str(e.value)  # the message that named none


# -- 5. the number of experts --------------------------------------------------------------------------------------
def test_more_experts_than_the_routed_parameters_can_hold_are_refused() -> None:
    moe = {"params": 235e9, "active_params": 22e9, "count": 8, "experts_per_token": 8, **GRID}
    with pytest.raises(InputConflictError, match=r"experts 1e\+30 .*under one.*check --experts"):
        estimate_inference(experts=10**30, **moe)  # type: ignore[arg-type]
    bound = int(235e9 - 22e9 + 8)  # (params - active) / (experts - experts_per_token) >= 1 parameter each
    with pytest.raises(InputConflictError, match="check --experts"):
        estimate_inference(experts=bound + 1, **moe)  # type: ignore[arg-type]
    assert estimate_inference(experts=bound, **moe).total_co2e_kg.value > 0  # type: ignore[arg-type]
    assert estimate_inference(experts=128, **moe).total_co2e_kg.value > 0  # type: ignore[arg-type]  # Qwen3-235B
