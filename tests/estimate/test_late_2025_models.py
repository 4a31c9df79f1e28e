"""Models released from late 2025 behind `--model`: GLM-4.7 (GLM-4.5's shape), GLM-5 (latent attention with sparse
attention), DeepSeek-V3.2 (DeepSeek-V3's shape with sparse attention), Kimi-K2.5 / K2.6 (Kimi-K2's text model, INT4
weights) and Mistral Large 3 (latent attention, 128 experts, top-4). Each was an unknown name; each now brings its
sourced shape, weight format and window."""

from __future__ import annotations

import pytest

from wattprint.data.models import find_model
from wattprint.errors import InputConflictError, UnknownNameError
from wattprint.estimate.inference import estimate_inference


@pytest.mark.parametrize(("query", "expected", "weights"), [
    ("zai-org/GLM-4.7", "GLM-4.5", None), ("zai-org/GLM-4.7-FP8", "GLM-4.5", "fp8"),
    ("zai-org/GLM-5", "GLM-5", None), ("zai-org/GLM-5.1", "GLM-5", None), ("GLM-5-FP8", "GLM-5", "fp8"),
    ("deepseek-ai/DeepSeek-V3.2", "DeepSeek-V3.2", "fp8"), ("deepseek-ai/DeepSeek-V3.2-Exp", "DeepSeek-V3.2", "fp8"),
    ("moonshotai/Kimi-K2.5", "Kimi-K2", "int4"), ("moonshotai/Kimi-K2.6", "Kimi-K2", "int4"),
    ("moonshotai/Kimi-K2-Instruct", "Kimi-K2", "fp8"),
    ("mistralai/Mistral-Large-3-675B-Instruct-2512", "Mistral Large 3", "fp8"),
    ("Mistral-Large-3-675B-Instruct-2512-NVFP4", "Mistral Large 3", "int4"),
])
def test_the_names_resolve_with_the_weights_they_ship(query: str, expected: str, weights: str | None) -> None:
    match = find_model(query)
    assert match.spec.name == expected
    assert (match.name_precision or match.release_weights or match.spec.weights) == weights


def test_glm_4_7_flash_is_another_model() -> None:
    """GLM-4.7-Flash (30B-A3B, another architecture) must not become GLM-4.7's 355B row."""
    with pytest.raises(UnknownNameError):
        find_model("zai-org/GLM-4.7-Flash")


def test_the_new_shapes_are_the_developers() -> None:
    glm5 = find_model("GLM-5").spec
    assert (glm5.params, glm5.active_params, glm5.experts, glm5.experts_per_token, glm5.layers) == (
        744e9, 40e9, 256, 8, 78)
    assert glm5.latent_attention and (glm5.qk_head_dim, glm5.v_head_dim) == (256, 256)
    assert glm5.kv_widths == 78 * (512 + 64) / 2  # one latent + one RoPE key per layer and token
    ml3 = find_model("Mistral-Large-3").spec
    assert (ml3.params, ml3.active_params, ml3.experts, ml3.experts_per_token, ml3.layers) == (673e9, 39e9, 128, 4, 61)
    assert ml3.latent_attention and ml3.weights == "fp8"
    assert find_model("mistral-large-2407").spec.name == "Mistral Large 2 (123B)"  # the older key is untouched


def _windows(model: str, tokens: int) -> list[str]:
    fp = estimate_inference(model=model, input_tokens=tokens, output_tokens=1000, hardware="H200", count=8)
    return [a.value for a in fp.assumptions if a.what == "context window"]


def test_the_releases_windows_are_told_apart() -> None:
    """GLM-4.7 ships 202,752 positions (GLM-4.5: 131,072); Kimi-K2.5 / K2.6 262,144 (Kimi-K2: 131,072)."""
    assert not _windows("zai-org/GLM-4.7", 190_000)
    assert "131,072 as shipped" in _windows("zai-org/GLM-4.5", 190_000)[0]
    assert not _windows("moonshotai/Kimi-K2.6", 200_000)
    assert not _windows("mistralai/Mistral-Large-3-675B-Instruct-2512", 200_000)
    with pytest.raises(InputConflictError):
        _windows("zai-org/GLM-5", 250_000)


# the CLI serves and trains each of them: test_newer_models.test_the_cli_serves_and_trains_them
