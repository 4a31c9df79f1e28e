"""Inference estimator: defects found by a probe of the CLI, each pinned by a test that failed before its fix.

1. a low-bit MoE with nearly all weights active cost up to 2.8x the dense model of the same total size (the
   fused-MoE byte penalty applied to every weight, whatever the share of expert weights);
2. break-even days with a load in tokens per day paired corners that do not exist (requests / requests per day);
3. parameter counts that lost their suffix ("7") and fractional token counts were accepted;
4. a given utilisation of 1 still got the "idle capacity not counted ... count it with --utilisation" note.
"""

from __future__ import annotations

import re

import pytest

from wattprint.cli import main
from wattprint.errors import InputConflictError
from wattprint.estimate.inference import constants, estimate_inference
from wattprint.footprint import Footprint
from wattprint.quantities import Range

DEEPSEEK = 671e9  # total parameters of the MoE the probe used


def serve(params: float, **kw: object) -> Footprint:
    base: dict[str, object] = {"hardware": "H100", "input_tokens": 500, "output_tokens": 500, "intensity": 400.0,
                               "pue": 1.2}
    base.update(kw)
    return estimate_inference(params, **base)  # type: ignore[arg-type]


def per_1k(fp: Footprint) -> Range:
    r = fp.details["energy_per_1k_tokens_wh"]
    assert isinstance(r, Range)
    return r


# -- 1. low-bit MoE vs the dense model of the same total size -----------------------------------------------
@pytest.mark.parametrize(("precision", "weight_bytes"), [("fp8", 1.0), ("int8", 1.0), ("int4", 0.5), ("bf16", 2.0)])
@pytest.mark.parametrize("active", [400e9, 600e9, 670e9])
def test_an_moe_costs_at_most_its_expert_shares_penalty_more_than_the_dense_model(
        precision: str, weight_bytes: float, active: float) -> None:
    """At a batch that reads all weights, an MoE step costs at most the dense model's plus the measured kernel
    shortfall on its expert share e = 1 - active/total: (1 + e x (1 - s) x (2 - bytes) / bytes). The probe: 671B
    with 670B active, int4, batch 8 on 16 x H100 gave 18.5 Wh per 1k tokens against 6.6 for the dense model, the
    whole penalty on every weight."""
    s = constants()["moe_low_bit_saving_realised"].value
    e = 1 - active / DEEPSEEK
    bound = 1 + e * (1 - s) * (2 - weight_bytes) / weight_bytes if weight_bytes < 2 else 1.0
    kw = {"count": 32 if precision == "bf16" else 16, "batch_size": 64, "precision": precision}
    dense, moe = per_1k(serve(DEEPSEEK, **kw)), per_1k(serve(DEEPSEEK, active_params=active, **kw))
    assert moe.value <= dense.value * bound * (1 + 1e-9)


@pytest.mark.parametrize("precision", ["fp8", "int4"])
def test_the_low_bit_moe_penalty_fades_to_nothing_as_active_reaches_total(precision: str) -> None:
    """The penalty applies to the expert weights (taken as the inactive share, 1 - active/total): an MoE with all
    but a sliver of its weights active costs what the dense model does (continuous at active = total)."""
    kw = {"count": 16, "batch_size": 8, "precision": precision}
    dense = per_1k(serve(DEEPSEEK, **kw))
    nearly = per_1k(serve(DEEPSEEK, active_params=DEEPSEEK * (1 - 1e-6), **kw))
    for n, d in ((nearly.value, dense.value), (nearly.low, dense.low), (nearly.high, dense.high)):
        assert n == pytest.approx(d, rel=1e-4)


def test_the_penalty_applies_to_the_routed_experts_at_batch_one() -> None:
    """At batch 1 with tiny contexts decode reads the active weights: the shared ones (S, from the given expert
    counts) at the format's bytes, the routed ones (active - S) in the time of 1 + (1 - r) x (1 - s) bytes at fp8
    (s, the realised share of the byte saving; r = k/E, the routed pool's share each token reads). The assumptions
    say how S was found."""
    s = constants()["moe_low_bit_saving_realised"].value
    moe = {"params": 120e9, "active_params": 60e9, "count": 4, "batch_size": 1, "input_tokens": 1,
           "output_tokens": 64, "experts": 8, "experts_per_token": 2}

    def step_ms(precision: str) -> float:
        return float(serve(**moe, precision=precision).details["decode_step_ms"].value)  # type: ignore[arg-type]

    shared = (8 * 60 - 2 * 120) / (8 - 2)  # 40B of the 60B active
    expected = (shared + (60 - shared) * (1 + (1 - 2 / 8) * (1 - s))) / (2 * 60)  # fp8 vs bf16 bytes read
    assert step_ms("fp8") / step_ms("bf16") == pytest.approx(expected, rel=0.02)
    fp = serve(**moe, precision="fp8")  # type: ignore[arg-type]
    note = next(a for a in fp.assumptions if a.what.startswith("MoE shared weights"))
    assert note.value.startswith("0.667 ") and "experts_per_token" in note.source


def test_breakeven_days_with_requests_per_day_are_requests_over_the_load() -> None:
    """With a fixed request count per day the two ways agree at the central value, and both ends still match the
    CO2e per day."""
    fp = serve(8e9, batch_size=32, requests_per_day=1e6, training_co2e_kg=Range(2e5, 1e5, 4e5))
    d = fp.details
    assert d["breakeven_days"].value == pytest.approx(d["breakeven_requests"].value / 1e6, rel=1e-6)
    assert d["breakeven_days"].low == pytest.approx(1e5 / d["co2e_per_day_kg"].high, rel=1e-9)
    assert d["breakeven_days"].high == pytest.approx(4e5 / d["co2e_per_day_kg"].low, rel=1e-9)


# -- 3. counts ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kw", "match"), [
    ({"params": 7}, r"--params \(params\) 7 .*did you mean 7B"),
    ({"params": 70}, r"--params \(params\) 70 .*did you mean 70B"),
    ({"params": 5e5}, r"--params \(params\) 500000 .*suffix"),
    ({"params": 70e9, "active_params": 13}, r"--active-params \(active_params\) 13 .*did you mean 13B"),
    ({"params": 7e9, "output_tokens": 0.5}, r"--output-tokens \(output_tokens\) must be a whole number, got 0.5$"),
    ({"params": 7e9, "input_tokens": 1.5}, r"--input-tokens \(input_tokens\) must be a whole number, got 1.5$"),
    ({"params": 7e9, "input_tokens": 0}, r"--input-tokens \(input_tokens\) must be > 0, got 0$"),
])
def test_counts_that_are_not_a_model_or_whole_tokens_are_refused(kw: dict[str, float], match: str) -> None:
    with pytest.raises(InputConflictError, match=match):
        estimate_inference(hardware="H100", intensity=400.0, **kw)  # type: ignore[arg-type]


def test_the_smallest_published_language_models_are_accepted() -> None:
    # TinyStories-scale (a few million parameters) and GPT-2 small (124M) are language models, not slips
    for n in (1e6, 3.7e6, 124e6):
        assert per_1k(serve(n)).value > 0


def test_a_parameter_count_without_its_suffix_is_a_one_line_cli_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "inference", "--params", "7"]) == 2
    assert "did you mean 7B" in capsys.readouterr().err
    assert main(["estimate", "inference", "--params", "7B", "--output-tokens", "0.5"]) == 2
    assert "whole number" in capsys.readouterr().err


# -- 4. a given utilisation of 1 -----------------------------------------------------------------------------
def test_a_given_utilisation_of_one_is_not_called_idle_capacity_not_counted() -> None:
    """The user who gives utilisation 1 has said how much idle time counts (none): no note suggests giving it."""
    kw = {"requests_per_day": 100}  # a load that keeps a small share of one replica busy
    given = serve(7e9, utilisation=1.0, **kw)
    whats = [a.what for a in given.assumptions]
    assert "utilisation of provisioned capacity" in whats
    assert "idle capacity not counted" not in whats
    assert "idle capacity not counted" in [a.what for a in serve(7e9, **kw).assumptions]


def test_probe16_market_intensity_in_kg_gets_the_unit_hint_and_context_error_reads_as_numbers() -> None:
    fp = estimate_inference(7e9, hardware="H100", market_intensity=0.3)
    market = next(a for a in fp.assumptions if a.what == "market-based intensity")
    assert "give it x1000" in market.note
    assert "x1000" not in next(a for a in estimate_inference(7e9, hardware="H100", market_intensity=300.0)
                                .assumptions if a.what == "market-based intensity").note
    with pytest.raises(InputConflictError, match=r"10,485,800 tokens .* \(10,485,760 tokens"):
        estimate_inference(7e9, hardware="H100", input_tokens=10_485_300, output_tokens=500)


def test_probe16_idle_capacity_low_end_is_zero_not_rounding_noise() -> None:
    fp = estimate_inference(model="llama-3.1-8b", hardware="H100", requests_per_day=10_000, intensity=50.0)
    idle = next(a for a in fp.assumptions if a.what == "idle capacity not counted")
    assert "e-0" not in idle.note and re.search(r"would add ~[\d.]+ \(0–", idle.note)
