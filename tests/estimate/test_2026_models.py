"""Open-weight models of 2026 behind `--model`: Gemma 4 (window and global layers of their own KV shapes and
widths), Qwen3.6 / Qwen3.8-27B (Qwen3.5's architectures, field for field), GLM-5.2 / 5.3 (GLM-5's shape with a 1M
window), Qwen3.8-2.4T-A95B (a Gated DeltaNet hybrid MoE) and Kimi K3 (KDA with latent attention, MXFP4 experts). Each
was an unknown name."""

from __future__ import annotations

import pytest

from wattprint.data.models import find_model
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.training import estimate_training


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


def test_gemma_4_global_layers_have_their_own_kv_shape() -> None:
    """Gemma 4 31B: 50 window layers of 16 K/V heads x 256, 10 global layers of 4 x 512 (the converter's configs)."""
    spec = find_model("google/gemma-4-31B-it").spec
    assert (spec.params, spec.layers, spec.heads, spec.head_dim, spec.sliding_window) == (30.7e9, 60, 32, 256, 1024)
    assert spec.window_split() == (50, 10) and (spec.global_kv_heads, spec.global_head_dim) == (4, 512)
    assert spec.kv_widths == 50 * 16 * 256 + 10 * 4 * 512
    assert spec.window_kv_share() == pytest.approx(50 * 16 * 256 / spec.kv_widths)
    moe = find_model("google/gemma-4-26B-A4B-it").spec
    assert (moe.params, moe.active_params, moe.experts, moe.experts_per_token) == (25.2e9, 3.8e9, 128, 8)
    assert moe.kv_widths == 25 * 8 * 256 + 5 * 2 * 512



def test_gemma_4_serving_counts_each_layer_kind_at_its_width() -> None:
    """A long context grows the cache by the global layers only (10 x 2 x 4 x 512 x 2 bytes = 81,920 per token), and
    the attention FLOPs by their 512-wide heads; the window layers' part stays at 1,024 tokens."""
    from wattprint.estimate.roofline import attended, flops_view, kv_bytes_per_token

    spec = find_model("gemma-4-31B").spec
    assert spec.window_kv_share() is not None and spec.kv_widths
    p = {"kv_widths": spec.kv_widths, "sliding_window": 1024.0, "window_layer_share": spec.window_kv_share() or 0.0,
         "window_flops_share": 50 * 32 * 512 / (50 * 32 * 512 + 10 * 32 * 1024)}
    per_token = kv_bytes_per_token(p, "gqa", 2.0)
    grow = per_token * (attended(200_000, p) - attended(100_000, p)) / 100_000
    assert grow == pytest.approx(10 * 2 * 4 * 512 * 2)
    flops_grow = (attended(200_000, flops_view(p)) - attended(100_000, flops_view(p))) / 100_000
    assert flops_grow * (50 * 32 * 512 * 2 + 10 * 32 * 1024 * 2) == pytest.approx(10 * 2 * 32 * 1024)
    fp = estimate_inference(model="google/gemma-4-31B-it", hardware="H100", intensity=400)
    note = next(a.value for a in fp.assumptions if a.what == "attention width")
    assert "x 256 in its 50 sliding-window layers, x 512 in its 10 global layers" in note
    assert "71% of them within the window" in note


def test_gemma_4_training_context_counts_the_wide_global_layers() -> None:

    fp = estimate_training(model="gemma-4-31B", tokens=1e12, hardware="H100", count=1024, seq_len=32768)
    note = next(a for a in fp.assumptions if a.what == "attention compute")
    # 12 x (50 layers x 32 x 256 x 1,008 tokens attended on average under the 1,024 window + 10 x 32 x 512 x 16,384)
    per_token = 12 * (50 * 8192 * (1024 - 1024 * 1024 / 2 / 32768) + 10 * 16384 * 16384)
    assert note.value.startswith(f"{per_token * 1e12:.4g} FLOP")


def test_a_blank_precision_is_the_models_own_as_none_is() -> None:
    """estimate_inference(precision='') computed bf16 for a model whose weights ship in 4 bits; the CLI refuses a
    blank value, the API reads it as not given, as it does a blank engine or attention."""
    kw = {"model": "deepseek-ai/DeepSeek-V4-Flash", "hardware": "B200", "intensity": 400}
    blank = estimate_inference(precision="", **kw)  # type: ignore[arg-type]
    assert blank.details["precision"] == "int4"
    assert blank.energy_kwh.value == estimate_inference(**kw).energy_kwh.value  # type: ignore[arg-type]


def test_data_search_finds_a_name_model_takes(capsys: pytest.CaptureFixture[str]) -> None:
    """`data search zai-org/GLM-5.3-FP8` exited 2 with 'GLP' and 'France' as suggestions, though --model takes it."""
    from wattprint.cli import main

    assert main(["data", "search", "zai-org/GLM-5.3-FP8"]) == 0
    out = capsys.readouterr().out
    assert "GLM-5" in out and "as 'zai-org/GLM-5.3-FP8'" in out


@pytest.mark.parametrize(("name", "said"), [
    ("Qwen/Qwen3.6-27B", "Qwen3.6-27B (the architecture of Qwen3.5-27B): "),
    ("GLM-5.3", "GLM-5.3 (the architecture of GLM-5): "),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct", "Llama 3.1 8B: "),  # another spelling of the row's own name
    ("Qwen/Qwen3.5-27B", "Qwen3.5-27B: "),
    ("moonshotai/Kimi-K2.6", "Kimi-K2.6 (the architecture of Kimi-K2): "),
    ("deepseek-ai/DeepSeek-R1", "DeepSeek-R1 (the architecture of DeepSeek-V3): "),
    # spellings of the row's own model, which a rule on the names alone took for other models
    ("Phi-4", "Phi-4 (14B): "), ("gpt2-medium", "GPT-2 355M: "), ("Command R", "Command R (35B): "),
    ("mistralai/Mixtral-8x7B-v0.1", "Mixtral 8x7B: "), ("huggyllama/llama-7b", "Llama 1 7B: "),
    ("deepseek-ai/DeepSeek-V3-0324", "DeepSeek-V3: "),
])
def test_the_model_line_names_the_model_given_where_it_shares_another_rows_shape(name: str, said: str) -> None:
    # a Qwen3.6 estimate read "Qwen3.5-27B: 2.7e+10 parameters ..." as if the user had named another model
    for result in (estimate_inference(model=name, hardware="H200", count=16, requests_per_day=1000),
                   estimate_training(model=name, tokens=1e12, hardware="H100", count=64)):
        line = next(a.value for a in result.assumptions if a.what == "model")
        assert line.startswith(said), line
