"""DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): the main attention reads and attends to the top-k tokens a
lightning indexer selects; the indexer scores every past token and keeps its own FP8 key per token and layer beside
the full latent cache (which still holds every token)."""

from __future__ import annotations

import pytest

from wattprint.data.models import find_model
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.roofline import Chip, kv_bytes_per_token, serving_physics
from wattprint.estimate.serving_constants import constants
from wattprint.estimate.sparse_attention import indexer_flops_per_attended
from wattprint.estimate.training import estimate_training

H200 = Chip("H200", 700.0, 4.8, 989e12, 141.0, "gpu")


def test_v3_2_is_v3_with_sparse_attention() -> None:
    v3, v32 = find_model("deepseek-ai/DeepSeek-V3.1").spec, find_model("deepseek-ai/DeepSeek-V3.2-Exp").spec
    assert (v3.name, v32.name) == ("DeepSeek-V3", "DeepSeek-V3.2")
    assert (v32.params, v32.active_params, v32.experts, v32.kv_widths) == (v3.params, v3.active_params, v3.experts,
                                                                           v3.kv_widths)
    assert v3.sparse_attention is None
    sa = v32.sparse_attention
    assert sa is not None and (sa.topk, sa.indexer_heads, sa.indexer_head_dim) == (2048, 64, 128)
    assert sa.indexer_bytes == 128 + 4  # vLLM's indexer cache: FP8 values and one fp32 scale per 128
    glm = find_model("zai-org/GLM-5").spec.sparse_attention
    assert glm is not None and (glm.topk, glm.indexer_heads) == (2048, 32)
    assert find_model("DeepSeek-V3.2-Speciale").spec.name == "DeepSeek-V3.2"


def _point(**sparse: float) -> dict[str, float]:
    c = {k: v.value for k, v in constants().items() if isinstance(v.value, float)}
    return {**c, "params": 671e9, "active_params": 37e9, "batch_size": 16.0, "input_tokens": 60_000.0,
            "output_tokens": 1000.0, "utilisation": 1.0, "moe_shared_share": 0.4, "kv_widths": 61 * 576 / 2,
            "n_layers": 61.0, **sparse}


SPARSE = {"sparse_topk": 2048.0, "indexer_bytes_per_token": 61 * 132.0,
          "indexer_flops_per_token": indexer_flops_per_attended(61, 64, 128)}


def test_the_indexer_keys_are_held_beside_the_cache() -> None:
    dense, sparse = _point(), _point(**SPARSE)
    assert kv_bytes_per_token(sparse, "gqa", 2.0) - kv_bytes_per_token(dense, "gqa", 2.0) == 61 * 132


def test_decode_reads_the_top_k_and_every_indexer_key() -> None:
    res = serving_physics(_point(**SPARSE), H200, 8, "optimised", "gqa", 1.0, 2.0)
    dense = serving_physics(_point(), H200, 8, "optimised", "gqa", 1.0, 2.0)
    bandwidth = 8 * 4.8e12 * constants()["mem_bw_utilisation"].value * 0.85 ** 3
    context = 60_000 + 500
    latent = 61 * 576 * 2.0
    saved = 16 * ((context - 2048) * latent - context * 61 * 132) / bandwidth
    assert dense["t_mem_s"] - res["t_mem_s"] == pytest.approx(saved, rel=1e-9)
    short = {**_point(**SPARSE), "input_tokens": 1000.0, "output_tokens": 200.0}
    plain = {**_point(), "input_tokens": 1000.0, "output_tokens": 200.0}
    # below the top-k it reads everything, and the indexer on top
    assert serving_physics(short, H200, 8, "optimised", "gqa", 1.0, 2.0)["t_mem_s"] > \
        serving_physics(plain, H200, 8, "optimised", "gqa", 1.0, 2.0)["t_mem_s"]


def test_a_long_prompt_costs_v3_2_less_than_v3() -> None:
    def run(model: str, tokens: int) -> float:
        fp = estimate_inference(model=model, hardware="H200", count=8, input_tokens=tokens, output_tokens=1000,
                                batch_size=16)
        return float(fp.details["decode_step_ms"].value)

    assert run("DeepSeek-V3.2", 100_000) < 0.9 * run("DeepSeek-V3.1", 100_000)
    assert run("DeepSeek-V3.2", 1000) == pytest.approx(run("DeepSeek-V3.1", 1000), rel=0.05)


def test_the_estimate_says_so() -> None:
    fp = estimate_inference(model="DeepSeek-V3.2", hardware="H200", count=8, input_tokens=2000, output_tokens=500)
    (note,) = [a for a in fp.assumptions if a.what == "sparse attention"]
    assert note.value.startswith("DeepSeek-V3.2: the main attention reads and attends to the top 2,048 tokens")
    assert "132 bytes per token and layer" in note.value
    v3 = estimate_inference(model="DeepSeek-V3", hardware="H200", count=8, input_tokens=2000, output_tokens=500)
    assert not [a for a in v3.assumptions if a.what == "sparse attention"]


def test_training_attention_over_the_top_k_plus_the_indexer() -> None:
    fp = estimate_training(model="DeepSeek-V3.2", tokens=1e12, hardware="H800", count=2048, seq_len=131072)
    (note,) = [a for a in fp.assumptions if a.what == "attention compute"]
    # main attention: each position attends to min(position, 2048): mean over 131,072 positions
    mean_selected = (2048 * 131072 - 2048 ** 2 / 2) / 131072
    main = 12 * 61 * 128 * (192 + 128) / 2 * mean_selected * 1e12
    indexer = 3 * 2 * 61 * 64 * 128 * (131072 / 2) * 1e12
    assert note.value.startswith(f"{main + indexer:.4g} FLOP")
    assert "top 2,048 tokens its indexer (64 heads x 128)" in note.note


def test_data_models_lists_the_top_k(capsys: pytest.CaptureFixture[str]) -> None:
    from wattprint.cli import main

    assert main(["data", "models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "mla top-2048" in rows["DeepSeek-V3.2"] and "top-" not in rows["DeepSeek-V3"]
