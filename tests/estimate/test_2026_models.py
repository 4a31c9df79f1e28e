"""Open-weight models of 2026 behind `--model`: Qwen3.6 / Qwen3.8-27B (Qwen3.5's architectures, field for field),
GLM-5.2 / 5.3 (GLM-5's shape with a 1M window), Qwen3.8-2.4T-A95B (a Gated DeltaNet hybrid MoE) and Kimi K3 (KDA
with latent attention, MXFP4 experts). Each was an unknown name."""

from __future__ import annotations

import pytest

from wattprint.data.models import find_model
from wattprint.estimate.inference import estimate_inference


@pytest.mark.parametrize(("query", "expected"), [
    ("Qwen/Qwen3.6-27B", "Qwen3.5-27B"), ("Qwen/Qwen3.8-27B", "Qwen3.5-27B"), ("Qwen3.6-27B-FP8", "Qwen3.5-27B"),
    ("Qwen/Qwen3.6-35B-A3B", "Qwen3.5-35B-A3B"), ("zai-org/GLM-5.2", "GLM-5"), ("zai-org/GLM-5.3-FP8", "GLM-5"),
    ("Qwen/Qwen3.8-2.4T-A95B", "Qwen3.8-2.4T-A95B"), ("moonshotai/Kimi-K3", "Kimi-K3"),
])
def test_the_names_resolve(query: str, expected: str) -> None:
    assert find_model(query).spec.name == expected


def test_qwen3_8_flagship_is_a_gated_deltanet_hybrid() -> None:
    spec = find_model("Qwen3.8-2.4T-A95B").spec
    assert (spec.params, spec.active_params, spec.experts, spec.experts_per_token) == (2.4e12, 95e9, 512, 10)
    assert (spec.layers, spec.attention_layers, spec.heads, spec.head_dim) == (92, 23, 64, 256)
    assert spec.kv_widths == 23 * 4 * 256  # its softmax-attention layers only
    r = spec.recurrent
    assert r is not None and (r.kind, r.layers) == ("gated-deltanet", 69)
    # 69 layers x 128 value heads x 128 x 128 fp32 values: the 552 MiB per sequence its serving notes state, plus the
    # short convolutions' bf16 inputs
    assert r.bytes_per_sequence() == 69 * (128 * 128 * 128 * 4 + 3 * (2 * 16 * 128 + 128 * 128) * 2)


def test_kimi_k3_is_kda_with_latent_attention_and_4_bit_experts() -> None:
    spec = find_model("moonshotai/Kimi-K3").spec
    assert (spec.params, spec.active_params, spec.experts, spec.experts_per_token) == (2.8e12, 104e9, 896, 16)
    assert spec.latent_attention and (spec.layers, spec.attention_layers, spec.heads) == (93, 24, 96)
    assert spec.kv_widths == 24 * (512 + 64) / 2 and spec.kv_latent_dim == 512
    assert spec.weights == "int4"
    r = spec.recurrent
    assert r is not None and (r.kind, r.layers, r.state_values) == ("kda", 69, 96 * 128 * 128)


def test_glm_5_2_ships_a_million_token_window() -> None:
    long = {"hardware": "B200", "input_tokens": 300_000, "output_tokens": 1000, "intensity": 400}
    notes = {m: [a.value for a in estimate_inference(model=m, **long).assumptions  # type: ignore[arg-type]
                 if a.what == "context window"] for m in ("zai-org/GLM-5", "zai-org/GLM-5.2")}
    assert notes["zai-org/GLM-5.2"] == []
    assert len(notes["zai-org/GLM-5"]) == 1 and "202,752 as shipped" in notes["zai-org/GLM-5"][0]
