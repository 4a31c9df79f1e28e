"""A total above the whole world's annual emissions (57.1 GtCO2e, UNEP 2024) comes from a slip in the inputs: the
estimates said nothing of it (1e300 requests a day, a utilisation of 1e-300, 1e40 training FLOPs each gave figures
past 1e20 kgCO2e with no note). It is now the first assumption; the figures stay as computed."""

from __future__ import annotations

import pytest

from wattprint.data import world_annual_co2e_kg
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.training import estimate_training
from wattprint.footprint import Footprint


def _flagged(fp: Footprint) -> bool:
    return bool(fp.assumptions) and fp.assumptions[0].what == "IMPLAUSIBLE RESULT"


@pytest.mark.parametrize("make", [
    lambda: estimate_inference(7e9, requests_per_day=1e300),
    lambda: estimate_inference(7e9, utilisation=1e-300),
    lambda: estimate_training(hardware="A100", count=64, flops=1e40),
    lambda: estimate_training(hardware="A100", count=64, days=1e12),
])
def test_a_total_above_the_worlds_annual_emissions_is_flagged_first(make: object) -> None:
    fp = make()  # type: ignore[operator]
    world, source = world_annual_co2e_kg()
    assert world == 57.1e12 and "UNEP" in source and fp.total_co2e_kg.value > world
    assert _flagged(fp)
    assert "check the magnitudes" in fp.assumptions[0].note and "world" in fp.assumptions[0].value


@pytest.mark.parametrize("make", [
    lambda: estimate_inference(7e9, requests_per_day=1e9),
    lambda: estimate_training(hardware="H100", count=16384, params=405e9, tokens=15.6e12),  # Llama 3.1 405B
])
def test_large_real_workloads_are_not_flagged(make: object) -> None:
    assert not _flagged(make())  # type: ignore[operator]
