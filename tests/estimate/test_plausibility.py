"""A total above the whole world's annual emissions (57.1 GtCO2e, UNEP 2024) comes from a slip in the inputs: the
estimates said nothing of it (1e300 requests a day, a utilisation of 1e-300, 1e40 training FLOPs each gave figures
past 1e20 kgCO2e with no note). A training that would emit it is refused, naming its inputs
(tests/estimate/test_training_bounds.py); a service was only flagged (an IMPLAUSIBLE RESULT assumption, exit 0),
although the README says such a total is refused: it is now refused as a training is."""

from __future__ import annotations

import re

import pytest

from wattprint.data import world_annual_co2e_kg
from wattprint.errors import InputConflictError
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.training import estimate_training
from wattprint.footprint import Footprint


def _flagged(fp: Footprint) -> bool:
    return any(a.what == "IMPLAUSIBLE RESULT" for a in fp.assumptions)


@pytest.mark.parametrize(("make", "named"), [
    (lambda: estimate_inference(7e9, utilisation=1e-300), "--params 7e+09, --utilisation 1e-300"),
    (lambda: estimate_inference(model="Llama-3.1-8B", utilisation=1e-300), "--model Llama-3.1-8B, --utilisation"),
])
def test_a_service_whose_total_is_above_the_worlds_annual_emissions_is_refused(make: object, named: str) -> None:
    world, source = world_annual_co2e_kg()
    assert world == 57.1e12 and "UNEP" in source
    with pytest.raises(InputConflictError) as e:
        make()  # type: ignore[operator]
    said = str(e.value)
    assert "x the world's annual emissions (57.1 GtCO2e): no service emits that" in said
    assert f"check the magnitudes of {named}" in said and "\n" not in said


@pytest.mark.parametrize("make", [
    lambda: estimate_inference(7e9, requests_per_day=1e9),
    lambda: estimate_inference(405e9, requests_per_day=1e9, days=365),  # a 405B model at a billion requests a day
    lambda: estimate_inference(405e9, requests_per_day=1e9, days=365, dedicated=True),
    lambda: estimate_inference(model="DeepSeek-V3", requests_per_day=1e10, days=3650),  # ten years, 1e10 a day
    lambda: estimate_inference(7e9, requests_per_day=1e10, days=36500),  # a century, the longest period accepted
    lambda: estimate_training(hardware="H100", count=16384, params=405e9, tokens=15.6e12),  # Llama 3.1 405B
])
def test_large_real_workloads_are_not_refused(make: object) -> None:
    fp = make()  # type: ignore[operator]
    assert 0 < fp.total_co2e_kg.value < world_annual_co2e_kg()[0] and not _flagged(fp)


@pytest.mark.parametrize("kw", [
    {"params": 7e9, "tokens": 1e12, "count": 1.5e12},  # --count 1.5T typed for --tokens 1.5T
    {"flops": 1e25, "days": 1e-300},  # the FLOPs' chip-hours squeezed into no time
    {"chip_hours": 1e6, "days": 1e-6},  # chip-hours over days in the wrong unit
])
def test_more_chips_at_once_than_any_cluster_holds_is_refused(kw: dict[str, float]) -> None:
    with pytest.raises(InputConflictError, match=r"chips at once, more than the 1e\+07 \(10 million\)"):
        estimate_training(hardware="H100", **kw)  # type: ignore[arg-type]
    # the largest real jobs pass: Llama 3 405B ran on 16k H100s, clusters of ~200k exist
    assert estimate_training(params=7e9, tokens=1e12, hardware="H100", count=200_000).wall_time_h is not None


def test_the_refusal_says_the_bound_it_applies() -> None:
    """5 million chips at once are accepted (the bound is 1e7, well above any cluster), so the refusal above the bound
    saying "more than any cluster holds" was contradicted by what it let through: it names the bound."""
    assert estimate_training(params=7e9, tokens=1e12, hardware="H100", count=5_000_000).wall_time_h is not None
    with pytest.raises(InputConflictError) as e:
        estimate_training(params=7e9, tokens=1e12, hardware="H100", count=20_000_000)
    said = str(e.value)
    assert "2e+07 chips at once, more than the 1e+07 (10 million) an estimate accepts" in said
    assert "more than any cluster holds" not in said


def test_a_replica_beyond_any_cluster_is_refused() -> None:
    with pytest.raises(InputConflictError, match="chips at once"):
        estimate_inference(7e9, hardware="H100", count=10**9)


@pytest.mark.parametrize("days", [1e12, 31_536_000, 36_600])  # 2.7 billion years; a year in seconds; 100.2 years
def test_a_period_of_serving_past_a_century_is_refused(days: float) -> None:
    """1k requests a day for 1e12 days (2.7 billion years) gave 453 MtCO2e, exit 0: below the world's annual
    emissions, yet days in the wrong unit, not a service."""
    said = rf"--days \(days\) {re.escape(f'{days:g}')} of serving is .* years, more than the 100 an estimate accepts"
    with pytest.raises(InputConflictError, match=said + ".*check --days"):
        estimate_inference(7e9, requests_per_day=1e3, days=days)
    assert estimate_inference(7e9, requests_per_day=1e3, days=36_500).total_co2e_kg.value > 0
