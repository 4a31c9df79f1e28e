"""Hybrid models (Qwen3-Next, Qwen3.5, Nemotron-H, Granite 4.0-H, Falcon-H1, Kimi Linear, MiniMax-01, Jamba): a
KV cache in their softmax-attention layers only, and a fixed-size recurrent state per sequence in the rest, which
each decode step reads and writes whatever the context; attention FLOPs in the attention layers only."""

from __future__ import annotations

import json

import pytest

from tests.scripts import load_script
from wattprint.cli import main
from wattprint.data.models import find_model
from wattprint.estimate.hybrid import attention_layer_share
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.roofline import Chip, serving_physics
from wattprint.estimate.serving_constants import constants
from wattprint.estimate.serving_memory import most_held
from wattprint.estimate.training import estimate_training

H100 = Chip("H100", 700.0, 3.35, 989e12, 80.0, "gpu")


def test_qwen3_next_is_read_from_its_config() -> None:
    # transformers' Qwen3NextConfig (the 80B-A3B checkpoint's values): 48 layers, full attention every 4th, 2 K/V
    # heads of 256; Gated DeltaNet with 32 value heads and 16 key heads of 128, a 4-wide short convolution
    spec = find_model("Qwen/Qwen3-Next-80B-A3B-Instruct").spec
    assert (spec.layers, spec.attention_layers) == (48, 12)
    assert spec.kv_widths == 12 * 2 * 256  # K (or V) widths over the attention layers only
    r = spec.recurrent
    assert r is not None and (r.kind, r.layers) == ("gated-deltanet", 36)
    assert r.state_values == 32 * 128 * 128
    assert r.conv_values == (4 - 1) * (2 * 16 * 128 + 32 * 128)
    assert (r.state_bytes, r.conv_bytes) == (2.0, 2.0)  # vLLM's "auto": the model's bf16
    assert r.bytes_per_sequence() == 36 * (524288 * 2 + 24576 * 2)


def test_state_formats_follow_the_engine_defaults_per_model() -> None:
    # vLLM keeps Nemotron-H's and Qwen3.5's SSM state in fp32 and Kimi's KDA state in fp32; others in the model dtype
    assert find_model("nvidia/NVIDIA-Nemotron-Nano-9B-v2").spec.recurrent.state_bytes == 4.0  # type: ignore[union-attr]
    assert find_model("Qwen/Qwen3.5-27B").spec.recurrent.state_bytes == 4.0  # type: ignore[union-attr]
    assert find_model("Kimi-Linear-48B-A3B-Instruct").spec.recurrent.state_bytes == 4.0  # type: ignore[union-attr]
    assert find_model("ibm-granite/granite-4.0-h-tiny").spec.recurrent.state_bytes == 2.0  # type: ignore[union-attr]
    # a transformer has none
    assert find_model("Llama-3.1-8B").spec.recurrent is None
    assert find_model("Llama-3.1-8B").spec.attention_layers is None


def test_attention_share_counts_sequence_mixers() -> None:
    assert attention_layer_share(48, 12, 36) == 0.25  # Qwen3-Next: 3 Gated DeltaNet layers to 1 attention
    # Nemotron-H 8B's config counts 24 MLP-only blocks among its 52 layers: 4 attention of 28 mixers
    assert attention_layer_share(52, 4, 24) == pytest.approx(4 / 28)
    assert attention_layer_share(24, 24, 24) == 1.0  # Falcon-H1: attention and Mamba2 side by side in every layer
    assert attention_layer_share(32, None, 0) == 1.0  # a transformer


def _point(**hybrid: float) -> dict[str, float]:
    c = {k: v.value for k, v in constants().items() if isinstance(v.value, float)}
    return {**c, "params": 80e9, "active_params": 3e9, "batch_size": 64.0, "input_tokens": 100_000.0,
            "output_tokens": 1000.0, "utilisation": 1.0, "moe_shared_share": 0.49, "kv_widths": 12 * 2 * 256,
            "n_layers": 48.0, **hybrid}


def _hybrid(state_bytes: float = 36 * (524288 * 2 + 24576 * 2)) -> dict[str, float]:
    return {"attention_layer_share": 0.25, "recurrent_state_values": 36 * 524288.0,
            "recurrent_state_bytes": state_bytes, "state_tokens": state_bytes / (2 * 12 * 2 * 256 * 2)}


def test_the_state_is_read_and_written_every_step() -> None:
    plain = serving_physics(_point(), H100, 4, "optimised", "gqa", 2.0, 2.0)
    hybrid = serving_physics(_point(**_hybrid()), H100, 4, "optimised", "gqa", 2.0, 2.0)
    bandwidth = 4 * 3.35e12 * constants()["mem_bw_utilisation"].value * 0.85 ** 2
    state = 64 * 2 * _hybrid()["recurrent_state_bytes"]
    assert hybrid["t_mem_s"] - plain["t_mem_s"] == pytest.approx(state / bandwidth, rel=1e-9)


def test_attention_flops_run_in_the_attention_layers_only() -> None:
    full = serving_physics(_point(), H100, 4, "optimised", "gqa", 2.0, 2.0)
    quarter = serving_physics(_point(attention_layer_share=0.25), H100, 4, "optimised", "gqa", 2.0, 2.0)
    assert quarter["t_comp_s"] < full["t_comp_s"]
    assert quarter["prefill_j"] < 0.75 * full["prefill_j"]  # a 100k prompt's attention is most of its prefill


def test_memory_holds_the_state_beside_the_cache() -> None:
    # at 2,000 tokens the 37.7 MiB state is worth ~1,600 tokens of this model's 24 KiB-per-token cache
    p = _point(input_tokens=2000.0, **_hybrid())
    fewer = most_held(p, H100, 4, "optimised", "gqa", 2.0, 2.0)
    more = most_held(_point(input_tokens=2000.0), H100, 4, "optimised", "gqa", 2.0, 2.0)
    held = (2000 + 500) * 12 * 2 * 256 * 2 * 2 + _hybrid()["recurrent_state_bytes"]
    assert fewer == int((0.9 * 320e9 - 160e9) // held)
    assert 0.5 * more < fewer < 0.7 * more


def _per_output_token(fp: object) -> float:
    return float(fp.details["gpu_energy_per_output_token_j"].value)  # type: ignore[attr-defined]


def test_a_hybrid_costs_little_more_at_a_long_context_than_a_transformer_of_its_size() -> None:
    def cost(model: str | None, tokens: int) -> float:
        kw = dict(model=model) if model else dict(params=80e9, active_params=3e9, experts=512, experts_per_token=10,
                                                   attention="gqa")
        return _per_output_token(estimate_inference(**kw, hardware="H100", count=4, input_tokens=tokens,
                                                    output_tokens=1000, batch_size=8))

    hybrid = cost("Qwen3-Next-80B-A3B", 100_000) / cost("Qwen3-Next-80B-A3B", 1000)
    transformer = cost(None, 100_000) / cost(None, 1000)
    # not far less: its 12 attention layers' 16 heads x 256 are twice its hidden width (2,048), so a long prompt's
    # prefill attention is that of ~24 layers of its size; its decode reads a quarter of the cache
    assert hybrid < 0.65 * transformer
    assert hybrid > 1.0  # its 12 attention layers still read a growing cache


def test_the_estimate_says_what_the_hybrid_layers_hold() -> None:
    fp = estimate_inference(model="Qwen3-Next-80B-A3B", hardware="H100", count=4, input_tokens=2000,
                            output_tokens=500)
    (note,) = [a for a in fp.assumptions if a.what == "hybrid layers"]
    assert note.value.startswith("Qwen3-Next-80B-A3B: 12 of 48 layers softmax attention")
    assert "36 gated-deltanet layers with a fixed state of 37.7 MiB per sequence" in note.value
    assert "transformers" in note.source
    parallel = estimate_inference(model="tiiuae/Falcon-H1-7B-Instruct", hardware="H100", input_tokens=2000,
                                  output_tokens=500)
    (note,) = [a for a in parallel.assumptions if a.what == "hybrid layers"]
    assert "44 of 44 layers softmax attention" in note.value and "each beside 44 mamba2 mixers" in note.value
    llama = estimate_inference(model="Llama-3.1-8B", hardware="H100", input_tokens=2000, output_tokens=500)
    assert not [a for a in llama.assumptions if a.what == "hybrid layers"]


def test_training_attention_runs_over_the_attention_layers() -> None:
    spec = find_model("Qwen3-Next-80B-A3B").spec
    fp = estimate_training(model="Qwen3-Next-80B-A3B", tokens=1e12, hardware="H100", count=1024, seq_len=32768)
    (note,) = [a for a in fp.assumptions if a.what == "attention compute"]
    # 12 x 12 attention layers x (16 heads x 256) x the causal half of the context, plus 3 x 6 FLOPs per state value
    attention = 12 * 12 * 16 * 256 * 16384 * 1e12
    recurrent = 3 * 6 * 36 * 524288 * 1e12
    assert note.value.startswith(f"{attention + recurrent:.4g} FLOP = 12 x 12 layers")
    assert f"softmax attention in 12 of its {spec.layers} layers" in note.note


def test_data_models_lists_the_hybrids(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "models"]) == 0
    out = capsys.readouterr().out
    assert "gqa 12/48 + gated-deltanet" in out and "mla 7/27 + kda" in out and "gqa 24/24 + mamba2" in out
    assert main(["data", "models", "--json"]) == 0
    rows = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert rows["Granite-4.0-H-Tiny"]["recurrent"]["layers"] == 36
    assert rows["Llama 3.1 8B"]["recurrent"] is None


@pytest.mark.parametrize(("field", "value", "says"), [
    ("recurrent", "rwkv", "none of"), ("state_precision", "fp8", "none of"), ("recurrent_layers", "49", "recurrent"),
    ("recurrent_state", "0", "positive"),
])
def test_the_build_refuses_a_bad_hybrid_row(field: str, value: str, says: str) -> None:
    build = load_script("scripts/build_data.py")
    row = {"model": "X", "layers": "48", "attention_layers": "12", "recurrent": "gated-deltanet",
           "recurrent_layers": "36", "recurrent_state": "524288", "conv_state": "24576", "state_precision": "bf16"}
    assert build._recurrent(row)["layers"] == 36
    with pytest.raises(SystemExit, match=says):
        build._recurrent({**row, field: value})


def test_a_hybrids_training_says_the_mfu_model_is_a_transformers() -> None:
    fp = estimate_training(model="Qwen3-Next-80B-A3B", tokens=15e12, hardware="H100", count=2048)
    (note,) = [a for a in fp.assumptions if a.what == "MFU of a hybrid"]
    assert note.value == "Qwen3-Next-80B-A3B: 36 gated-deltanet layers beside 12 attention layers"
    assert "--mfu" in note.note
    given = estimate_training(model="Qwen3-Next-80B-A3B", tokens=15e12, hardware="H100", count=2048, mfu=0.3)
    assert not [a for a in given.assumptions if a.what == "MFU of a hybrid"]
    llama = estimate_training(model="Llama-3.1-8B", tokens=15e12, hardware="H100", count=2048)
    assert not [a for a in llama.assumptions if a.what == "MFU of a hybrid"]


def test_data_search_finds_models_by_the_attention_words_data_models_shows(capsys: pytest.CaptureFixture[str]) -> None:
    def keys(text: str) -> set[str]:
        assert main(["data", "search", text]) == 0
        return {line.split()[1] for line in capsys.readouterr().out.splitlines()[1:] if line.startswith("model")}

    assert {"Nemotron-H-8B", "Granite-4.0-H-Tiny", "Falcon-H1-7B"} <= keys("mamba2")
    assert "Qwen3-Next-80B-A3B" in keys("gated-deltanet") and "Qwen3-Next-80B-A3B" in keys("hybrid")
    assert keys("top-2048") == {"DeepSeek-V3.2", "GLM-5"}
    assert "Llama" not in " ".join(keys("hybrid"))


def test_a_hybrids_state_passes_are_counted_without_a_context_too() -> None:
    """They do not depend on the context: with --seq-len or without, the same FLOPs per token (a probe found them
    only with it)."""
    state = 3 * 6 * 36 * 524288 * 1e12
    fp = estimate_training(model="Qwen3-Next-80B-A3B", tokens=1e12, hardware="H100", count=64)
    (note,) = [a for a in fp.assumptions if a.what == "recurrent-layer compute"]
    assert note.value.startswith(f"{state:.4g} FLOP")
    assert fp.details["training_flops"].value == pytest.approx(6 * 3e9 * 1e12 + state)
    short = estimate_training(model="Qwen3-Next-80B-A3B", tokens=1e12, hardware="H100", count=64, seq_len=1)
    assert short.details["training_flops"].value == pytest.approx(6 * 3e9 * 1e12 + state, rel=1e-4)
    llama = estimate_training(model="Llama-3.1-8B", tokens=1e12, hardware="H100", count=64)
    assert not [a for a in llama.assumptions if a.what == "recurrent-layer compute"]
