"""Models released in 2025 behind `--model`: Kimi K2, GLM-4.5 / -Air (and GLM-4.6), Qwen3-Coder-480B-A35B,
MiniMax-M2, ERNIE 4.5 300B-A47B, SmolLM3 3B, OLMo 2 32B, and the Mistral Small 3.1 / 3.2 family on the Mistral Small
3 row. Each was an unknown name; each now brings its sourced counts, KV cache shape and context window."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.data.models import find_model
from wattprint.errors import InputConflictError
from wattprint.estimate.inference import estimate_inference
from wattprint.footprint import Footprint


@pytest.mark.parametrize(("query", "expected", "precision"), [
    ("moonshotai/Kimi-K2-Instruct", "Kimi-K2", None), ("Kimi K2", "Kimi-K2", None),
    ("moonshotai/Kimi-K2-Instruct-0905", "Kimi-K2", None),
    ("zai-org/GLM-4.5", "GLM-4.5", None), ("zai-org/GLM-4.6", "GLM-4.5", None), ("glm-4.5-air", "GLM-4.5-Air", None),
    ("Qwen/Qwen3-Coder-480B-A35B-Instruct", "Qwen3-Coder-480B-A35B", None),
    ("Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "Qwen3-Coder-480B-A35B", "fp8"),
    ("MiniMaxAI/MiniMax-M2", "MiniMax-M2", None), ("baidu/ERNIE-4.5-300B-A47B-PT", "ERNIE-4.5-300B-A47B", None),
    ("HuggingFaceTB/SmolLM3-3B", "SmolLM3 3B", None), ("allenai/OLMo-2-0325-32B-Instruct", "OLMo 2 32B", None),
    ("mistralai/Mistral-Small-3.1-24B-Instruct-2503", "Mistral Small 24B", None),
    ("mistralai/Magistral-Small-2506", "Mistral Small 24B", None),
])
def test_the_names_resolve(query: str, expected: str, precision: str | None) -> None:
    match = find_model(query)
    assert match.spec.name == expected and match.name_precision == precision


def test_the_counts_and_shapes_are_the_developers() -> None:
    kimi = find_model("Kimi-K2").spec
    assert (kimi.params, kimi.active_params, kimi.experts, kimi.experts_per_token) == (1000e9, 32e9, 384, 8)
    assert kimi.weights == "fp8" and kimi.layers == 61  # ships block-FP8 weights
    glm = find_model("GLM-4.5").spec
    assert (glm.params, glm.active_params, glm.experts, glm.experts_per_token) == (355e9, 32e9, 160, 8)
    air = find_model("GLM-4.5-Air").spec
    assert (air.params, air.active_params, air.experts) == (106e9, 12e9, 128)
    coder = find_model("Qwen3-Coder-480B-A35B").spec
    assert (coder.params, coder.active_params, coder.experts, coder.layers) == (480e9, 35e9, 160, 62)
    minimax = find_model("MiniMax-M2").spec
    assert (minimax.params, minimax.active_params, minimax.weights) == (230e9, 10e9, "fp8")
    smol = find_model("SmolLM3-3B").spec
    assert smol.params == pytest.approx(3.075e9) and smol.layers == 36 and smol.experts is None
    olmo = find_model("OLMo-2-32B").spec
    assert olmo.params == pytest.approx(32.23e9) and olmo.layers == 64 and olmo.attention == "gqa"


def test_a_latent_kv_cache_is_far_smaller_than_the_gqa_default() -> None:
    """Kimi K2's multi-head latent attention keeps 576 values per layer and token (512 latent + 64 RoPE), as
    DeepSeek-V3's does: named, its cache is a fraction of what the parameter counts alone assume, so a decode step
    over a long context reads less and takes less time. (Its prefill costs more: 64 heads x (192 + 128) is wider
    attention than the shape the counts alone assume.)"""
    kimi, deepseek = find_model("Kimi-K2").spec, find_model("DeepSeek-V3").spec
    assert kimi.kv_widths == deepseek.kv_widths == 61 * 576 / 2  # K and V halves of the latent, 61 layers each
    kw = dict(input_tokens=60000, output_tokens=1000, hardware="H200", count=16, batch_size=64)
    named = estimate_inference(model="moonshotai/Kimi-K2-Instruct", **kw)
    counts = estimate_inference(1000e9, active_params=32e9, experts=384, experts_per_token=8, precision="fp8", **kw)
    assert named.details["decode_step_ms"].value < 0.8 * counts.details["decode_step_ms"].value


def _window_notes(fp: Footprint) -> list[str]:
    """The values of the estimate's context-window assumptions (none where the request fits as shipped)."""
    return [a.value for a in fp.assumptions if a.what == "context window"]


def test_releases_that_ship_a_longer_window_are_told_apart() -> None:
    """GLM-4.6 (202,752 positions) on GLM-4.5's row (131,072); Mistral Small 3.1 (131,072) on the row of Mistral
    Small 3 (2501: 32,768); Kimi K2 0905 (256K) on Kimi K2's (128K). The longer release's window fits without a
    word; the first release is said to need it; beyond every release's window is refused."""
    cases = [("zai-org/GLM-4.6", "zai-org/GLM-4.5", 190_000, "131,072", 250_000),
             ("mistralai/Mistral-Small-3.1-24B-Instruct-2503", "mistralai/Mistral-Small-24B-Instruct-2501", 100_000,
              "32,768", 140_000),
             ("moonshotai/Kimi-K2-Instruct-0905", "moonshotai/Kimi-K2-Instruct", 200_000, "131,072", 300_000),
             ("moonshotai/Kimi-K2-Thinking", "moonshotai/Kimi-K2-Instruct", 200_000, "131,072", 300_000)]
    for longer, first, tokens, first_window, beyond in cases:
        kw = dict(input_tokens=tokens, output_tokens=1000, hardware="H200", count=8)
        assert not _window_notes(estimate_inference(model=longer, **kw)), longer
        (note,) = _window_notes(estimate_inference(model=first, **kw))
        assert f"{first_window} as shipped" in note, note
        with pytest.raises(InputConflictError):
            estimate_inference(model=longer, input_tokens=beyond, output_tokens=1000, hardware="H200", count=8)


@pytest.mark.parametrize("model", ["Kimi-K2", "GLM-4.5", "GLM-4.5-Air", "Qwen3-Coder-480B-A35B", "MiniMax-M2",
                                   "ERNIE-4.5-300B-A47B", "SmolLM3-3B", "OLMo-2-32B",
                                   # and those of test_late_2025_models
                                   "zai-org/GLM-4.7", "GLM-5", "DeepSeek-V3.2", "Kimi-K2.5", "Mistral-Large-3"])
def test_the_cli_serves_and_trains_them(model: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each serves on as many H200s as its weights need (GLM-5's 1.49 TB of bf16 weights: 16) and trains."""
    assert main(["estimate", "inference", "--model", model, "--hardware", "H200", "--requests-per-day", "100k",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_co2e_kg"] > 0
    assert main(["estimate", "training", "--model", model, "--tokens", "10T", "--hardware", "H100", "--count",
                 "2048", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chip_hours"] > 0


def _precision(fp: Footprint) -> str:
    (a,) = [a for a in fp.assumptions if a.what == "precision"]
    return a.value


def test_a_release_that_ships_other_weights_is_served_in_them() -> None:
    """Kimi K2 Thinking has Kimi K2's shape but ships INT4 weights (its routed experts, QAT): named, it is served
    at int4 and says which release set it; Kimi K2's other releases keep their FP8, and a precision the name or
    the user gives still wins."""
    kw = dict(input_tokens=2000, output_tokens=500, hardware="H200", count=8, requests_per_day=1e5)
    thinking = estimate_inference(model="moonshotai/Kimi-K2-Thinking", **kw)
    assert _precision(thinking).startswith("int4 (the format the thinking release of Kimi-K2")
    for other in ("moonshotai/Kimi-K2-Instruct", "Kimi-K2-Instruct-0905", "Kimi-K2-Base"):
        assert _precision(estimate_inference(model=other, **kw)).startswith("fp8 (the format Kimi-K2's"), other
    assert _precision(estimate_inference(model="Kimi-K2-Thinking-FP8", **kw)).startswith("fp8 (named in")
    given = estimate_inference(model="Kimi-K2-Thinking", precision="fp8", **kw)
    assert not [a for a in given.assumptions if a.what == "precision" and "release" in a.value]
    # half the bytes of weights read per decode step: a decode-heavy service costs less per request
    decode = dict(kw, input_tokens=200, output_tokens=2000)
    assert (estimate_inference(model="Kimi-K2-Thinking", **decode).energy_kwh.value
            < estimate_inference(model="Kimi-K2-Instruct", **decode).energy_kwh.value)
    # the release word matters only where the table tells it apart: Qwen3's Thinking-2507 keeps its 16-bit weights
    assert find_model("Qwen/Qwen3-30B-A3B-Thinking-2507").release_weights is None


def test_latent_attention_is_listed_and_taken_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    """`data models` lists DeepSeek's and Kimi K2's attention as mla (served as GQA with the latent cache); ``mla``
    given with such a model is its own attention; with another model it contradicts it, and without a model
    (no latent shape to size the cache by) it is refused with what to give."""
    assert main(["data", "models"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert rows["Kimi-K2"][6] == rows["DeepSeek-V3"][5] == "mla"  # Kimi-K2's name carries the " *" flag
    assert rows["GLM-4.5"][5] == "gqa"
    kw = dict(input_tokens=2000, output_tokens=500, hardware="H200", count=8, requests_per_day=1e4)
    assert (estimate_inference(model="Kimi-K2", attention="mla", **kw).energy_kwh.value
            == estimate_inference(model="Kimi-K2", **kw).energy_kwh.value)
    with pytest.raises(InputConflictError, match="contradicts model 'Llama 3.1 8B'"):
        estimate_inference(model="Llama-3.1-8B", attention="mla", input_tokens=2000, output_tokens=500,
                           hardware="H200", requests_per_day=1e4)
    with pytest.raises(InputConflictError, match="latent cache shape: give --model"):
        estimate_inference(8e9, attention="MLA", input_tokens=2000, output_tokens=500, hardware="H200",
                           requests_per_day=1e4)
