"""DeepSeek-V4's compressed attention: layers caching one entry per 4 tokens (attending to the top-k an indexer picks)
or per 128 tokens (attending to all), every layer also to its last 128 tokens; FP8 entries of 584 bytes, as vLLM
keeps them. The figures below are the model's counts worked by hand (and DeepSeek's own ratios to V3.2 reproduced
by them within a few points)."""

from __future__ import annotations

import pytest

from wattprint.cli import main
from wattprint.data.models import find_model
from wattprint.errors import InputConflictError
from wattprint.estimate.compressed_attention import decode_attention_flops, serving_terms
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.roofline import kv_bytes_per_token
from wattprint.estimate.training import estimate_training


def test_the_layer_groups_and_formats_are_the_configs() -> None:
    flash, pro = find_model("deepseek-ai/DeepSeek-V4-Flash").spec, find_model("DeepSeek-V4-Pro").spec
    assert (flash.params, flash.active_params, flash.experts, flash.experts_per_token) == (284e9, 13e9, 256, 6)
    assert (pro.params, pro.active_params, pro.experts, pro.heads) == (1.6e12, 49e9, 384, 128)
    fa, pa = flash.compressed_attention, pro.compressed_attention
    assert fa is not None and pa is not None
    assert (fa.swa_layers, fa.sparse_layers, fa.dense_layers, fa.topk) == (2, 21, 20, 512)
    assert (pa.swa_layers, pa.sparse_layers, pa.dense_layers, pa.topk) == (0, 30, 31, 1024)
    # vLLM's fp8_ds_mla entry: 448 FP8 no-RoPE values, 64 bf16 RoPE values, 7 scales, 1 pad; indexer keys as V3.2's
    assert (fa.entry_bytes, fa.indexer_bytes) == (584, 132)
    assert (fa.sparse_state_bytes, fa.dense_state_bytes) == (8 * 2 * 2 * 512 * 4 + 8 * 2 * 2 * 128 * 4,
                                                              128 * 2 * 512 * 4)
    assert flash.weights == "int4" and find_model("DeepSeek-V4-Flash-Base").release_weights == "fp8"


@pytest.mark.parametrize(("model", "per_token"), [
    ("DeepSeek-V4-Flash", 21 * (584 + 132) / 4 + 20 * 584 / 128),  # 3,850 bytes per token of context
    ("DeepSeek-V4-Pro", 30 * (584 + 132) / 4 + 31 * 584 / 128),  # 5,511
])
def test_the_cache_per_token_of_context(model: str, per_token: float) -> None:
    spec = find_model(model).spec
    assert spec.compressed_attention is not None and spec.heads
    p = {**serving_terms(spec.compressed_attention, spec.heads), "kv_widths": spec.kv_widths or 0.0}
    assert kv_bytes_per_token(p, "mqa", 1.0) == pytest.approx(per_token, rel=1e-12)


@pytest.mark.parametrize(("model", "context", "gflop"), [
    ("DeepSeek-V4-Flash", 8192, 3.00), ("DeepSeek-V4-Flash", 131_072, 16.09),
    ("DeepSeek-V4-Pro", 8192, 11.63), ("DeepSeek-V4-Pro", 131_072, 34.53),
])
def test_decode_attention_flops(model: str, context: int, gflop: float) -> None:
    """Window (128 per layer) + top-k entries (ratio 4) + all entries (ratio 128), 2 x (512 + 512) FLOPs per head and
    entry, and the indexer's 2 x 64 x 128 per ratio-4 entry scored."""
    assert decode_attention_flops(find_model(model).spec, context) / 1e9 == pytest.approx(gflop, abs=0.006)


def _step_growth(model: str, count: int | None) -> float:
    def step(tokens: int) -> float:
        fp = estimate_inference(model=model, hardware="B200", count=count, input_tokens=tokens, output_tokens=1000,
                                batch_size=32, intensity=400)
        return float(fp.details["decode_step_ms"].value)

    return step(128_000) - step(2000)


def test_a_long_context_costs_its_decode_steps_little() -> None:
    """From 2k to 128k tokens of context a V3.2 decode step reads every token's indexer key (61 layers x 132 bytes);
    V4-Pro's reads ~1,131 bytes per token for its ratio-128 entries and indexer keys, and its top-k entries."""
    assert _step_growth("DeepSeek-V4-Pro", 8) < 0.35 * _step_growth("DeepSeek-V3.2", 8)


def test_its_cache_is_fp8_whatever_is_asked() -> None:
    fp = estimate_inference(model="DeepSeek-V4-Flash", hardware="B200", intensity=400)
    notes = {a.what: a for a in fp.assumptions}
    assert "16-bit" not in str(notes.get("KV cache precision"))
    assert "the only format vLLM serves it with" not in notes["compressed attention"].note
    assert "FP8 with scales" in notes["compressed attention"].note
    with pytest.raises(InputConflictError, match="keeps its cache as FP8 entries"):
        estimate_inference(model="DeepSeek-V4-Flash", hardware="B200", kv_cache_precision="bf16", intensity=400)
    same = estimate_inference(model="DeepSeek-V4-Flash", hardware="B200", kv_cache_precision="fp8", intensity=400)
    assert same.energy_kwh.value == fp.energy_kwh.value


def test_training_counts_its_compressed_attention() -> None:
    flash = estimate_training(model="DeepSeek-V4-Flash", tokens=1e12, hardware="H100", count=2048, seq_len=32768)
    note = next(a for a in flash.assumptions if a.what == "attention compute")
    # forward per token at 32k: top-k part 21 x 64 x 2048 / 4 x 1984 tokens (the causal mean under the 2,048 cap),
    # whole-context part 106,496 x 16,384, window 43 x 128 x 131,072 x (1 - 64 / 32,768); x3 with the backward
    forward = 688_128 * 1984 + 106_496 * 16_384 + 43 * 128 * 131_072 * (1 - 64 / 32_768)
    assert f"{3 * forward:.4g} FLOP per token" in note.value
    v32 = estimate_training(model="DeepSeek-V3.2", tokens=1e12, hardware="H100", count=2048, seq_len=32768)
    assert flash.details["training_flops"].value < v32.details["training_flops"].value


def test_data_models_says_what_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "search", "compressed"]) == 0
    out = capsys.readouterr().out
    assert "DeepSeek-V4-Flash" in out and "DeepSeek-V4-Pro" in out
    assert main(["data", "models"]) == 0
    assert "compressed c4x21 c128x20 top-512" in capsys.readouterr().out
