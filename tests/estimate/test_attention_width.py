"""Serving attention FLOPs at a named model's own heads and head widths (not a shape assumed from its parameter
count); latent attention (DeepSeek) decodes absorbed, over its cached latent, and prefills as multi-head attention."""

from __future__ import annotations

import pytest

from wattprint.data.models import find_model
from wattprint.estimate.attention_width import attention_flops_per_attended
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.roofline import Chip, serving_physics
from wattprint.estimate.serving_constants import constants

H200 = Chip("H200", 700.0, 4.8, 989e12, 141.0, "gpu")


def _width_note(**kw: object) -> str:
    fp = estimate_inference(hardware="H200", intensity=400, **kw)  # type: ignore[arg-type]
    notes = [a.value for a in fp.assumptions if a.what == "attention width"]
    assert len(notes) == 1
    return notes[0]


def test_the_formula_counts_both_products_in_every_layer() -> None:
    # Llama 3.1 8B: 32 layers of 32 heads x 128; QK^T and AV each 2 FLOPs per value
    assert attention_flops_per_attended(32, 32, 128, 128) == 2 * 32 * 32 * (128 + 128)
    # DeepSeek-V3 absorbed decode: 128 heads over the 576-wide cached entry and the 512-wide latent
    assert attention_flops_per_attended(61, 128, 576, 512) == pytest.approx(1.699e7, rel=1e-3)


def test_named_models_state_their_own_widths() -> None:
    assert "64 query heads x 128 in 64 softmax-attention layers: 2.097e+06" in _width_note(model="Qwen3-32B")
    # a hybrid counts its attention layers only (Qwen3-Next: 12 of 48)
    assert "16 query heads x 256 in 12 softmax-attention layers: 1.966e+05" in _width_note(
        model="Qwen3-Next-80B-A3B")


def test_latent_attention_decodes_absorbed_on_an_optimised_engine_only() -> None:
    optimised = _width_note(model="DeepSeek-V3", count=8)
    assert "(192 query/key + 128 value) in prefill" in optimised
    assert "576-wide cached latent + RoPE key and AV over the 512-wide latent" in optimised
    assert "4.997e+06 (prefill) and 1.699e+07 (decode)" in optimised
    eager = _width_note(model="DeepSeek-V3", count=8, engine="eager")  # transformers runs decode the prefill way
    assert "absorbed" not in eager and "4.997e+06 FLOP per token per token attended" in eager


def test_unnamed_models_keep_the_assumed_shape() -> None:
    fp = estimate_inference(params=8e9, hardware="H200", intensity=400)
    assert not [a for a in fp.assumptions if a.what == "attention width"]


def test_named_widths_set_the_long_prompt_prefill() -> None:
    """Qwen3-30B-A3B runs attention 48 layers x 32 heads x 128 wide, ~2.3x the shape from 3.3B active: a long
    prompt's prefill, where attention dominates, costs more named than from its counts alone."""
    common = {"hardware": "H200", "input_tokens": 100_000, "output_tokens": 10, "batch_size": 1, "intensity": 400}
    spec = find_model("Qwen3-30B-A3B").spec
    named = estimate_inference(model="Qwen3-30B-A3B", **common)  # type: ignore[arg-type]
    counts = estimate_inference(params=spec.params, active_params=spec.active_params, experts=spec.experts,
                                experts_per_token=spec.experts_per_token, **common)  # type: ignore[arg-type]
    assert named.details["gpu_energy_per_request_wh"].value > 1.5 * counts.details["gpu_energy_per_request_wh"].value


def _point(**extra: float) -> dict[str, float]:
    c = {k: v.value for k, v in constants().items() if isinstance(v.value, float)}
    return {**c, "params": 32.8e9, "active_params": 32.8e9, "batch_size": 64.0, "input_tokens": 30_000.0,
            "output_tokens": 1000.0, "utilisation": 1.0, "kv_widths": 64 * 8 * 128.0, "n_layers": 64.0, **extra}


def test_serving_physics_uses_each_phase_its_width() -> None:
    plain = serving_physics(_point(), H200, 2, "optimised", "gqa", 2.0, 2.0)
    wide_decode = serving_physics(_point(attention_flops_decode=4e7, attention_flops_prefill=1e3), H200, 2,
                                  "optimised", "gqa", 2.0, 2.0)
    context = 30_000 + 500
    flops = 2 * H200.peak_flops * constants()["compute_utilisation"].value * \
        constants()["tensor_parallel_efficiency_per_doubling"].value
    assert wide_decode["t_comp_s"] == pytest.approx(64 * (2 * 32.8e9 + 4e7 * context) / flops, rel=1e-9)
    assert wide_decode["t_comp_s"] > plain["t_comp_s"]
    # the prefill's own (here tiny) width, not decode's: its attention all but vanishes
    assert wide_decode["prefill_j"] < plain["prefill_j"]
