"""Named models (--model / model=): a published architecture fills the counts, experts, attention, sliding window
and weight format a user did not give; a given count that contradicts it is refused; unknown names list the
closest ones. Rows come from refdata/dense_models.csv and refdata/moe_architectures.csv."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest

from wattprint.cli import main
from wattprint.data.models import find_model, models
from wattprint.errors import InputConflictError, UnknownNameError
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.training import estimate_training


@pytest.mark.parametrize(("query", "expected", "precision"), [
    ("Llama 3.1 8B", "Llama 3.1 8B", None),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct", "Llama 3.1 8B", None),  # organisation and release words dropped
    ("llama-2-7b-chat-hf", "Llama 2 7B", None),
    ("Qwen/Qwen3-235B-A22B-Instruct-2507-FP8", "Qwen3-235B-A22B", "fp8"),  # a date and a quantisation word
    ("deepseek-ai/DeepSeek-R1-0528", "DeepSeek-V3", None),  # same architecture, listed as an alias
    ("google/gemma-2-9b-it", "Gemma 2 9B", None),
    ("TheBloke/Mistral-7B-Instruct-v0.1-AWQ", "Mistral 7B v0.1", "int4"),
    ("nvidia/Llama-3.3-70B-Instruct-FP4", "Llama 3.3 70B", "int4"),  # NVFP4 releases: read as 4-bit weights
    ("facebook/opt-13b", "OPT 13B", None),  # a decimal point tells 13B from 1.3B
    ("opt-1.3b", "OPT 1.3B", None),
    ("HuggingFaceTB/SmolLM2-135M-Instruct", "SmolLM2 135M", None),
])
def test_models_resolve_by_the_names_people_use(query: str, expected: str, precision: str | None) -> None:
    match = find_model(query)
    assert (match.spec.name, match.name_precision) == (expected, precision)


def test_an_unknown_model_lists_the_closest_names() -> None:
    with pytest.raises(UnknownNameError) as e:
        find_model("Qwen3")
    assert e.value.suggestions and all(s.startswith("Qwen3") for s in e.value.suggestions[:3])
    assert "wattprint data models" in str(e.value)


def test_every_row_is_a_consistent_architecture() -> None:
    specs = models()
    assert len(specs) >= 40
    names = [s.name for s in specs]
    assert len(set(names)) == len(names)
    for s in specs:
        assert s.source and 1e8 < s.params < 1e13  # the largest open models of 2026 hold 2.4-2.8T (Qwen3.8, Kimi K3)
        assert s.attention in ("gqa", "mha", "mqa")
        if s.active_params is not None:  # an MoE: k/E of the routed pool fits in the active parameters
            assert s.experts and s.experts_per_token and s.experts_per_token < s.experts
            assert s.experts_per_token / s.experts * s.params <= 1.05 * s.active_params < s.params
        assert (s.sliding_window is None) == (s.window_layer_share is None)
        if s.window_layer_share is not None:
            assert 0 < s.window_layer_share <= 1
    # every name and alias finds its own model: none is shadowed by another model's name as names are read
    for s in specs:
        for name in (s.name, *s.aliases):
            assert find_model(name).spec.name == s.name, name


def test_a_named_model_fills_the_serving_inputs_and_says_so() -> None:
    # a context too short for the KV cache to matter: naming the model is spelling out its counts (beyond them it
    # also brings its own KV cache shape: test_a_named_dense_model_brings_its_own_kv_cache_shape)
    kw: dict[str, object] = {"hardware": "H100", "count": 2, "batch_size": 64, "input_tokens": 1, "output_tokens": 2,
                             "intensity": 400.0}
    named = estimate_inference(model="openai/gpt-oss-120b", **kw)  # type: ignore[arg-type]
    spelled = estimate_inference(117e9, active_params=5.1e9, experts=128, experts_per_token=4, precision="int4",
                                 sliding_window=128, window_layer_share=0.5, **kw)  # type: ignore[arg-type]
    assert named.details["gpu_energy_per_output_token_j"].value == pytest.approx(
        spelled.details["gpu_energy_per_output_token_j"].value, rel=0.01)
    note = next(a for a in named.assumptions if a.what == "model")
    assert note.value.startswith("gpt-oss-120b") and "openai/gpt-oss" in note.source
    for filled in ("params", "active_params", "experts", "precision", "sliding_window"):
        assert filled in note.note


def test_given_values_win_over_the_named_model_where_they_agree() -> None:
    fp = estimate_inference(model="Llama-3.1-8B", params=8e9, precision="fp8", hardware="H100", intensity=400.0)
    note = next(a for a in fp.assumptions if a.what == "model")
    assert "params" not in note.note.split(";")[0]  # the given 8e9, within rounding of 8.03e9, is kept
    assert fp.details["precision"] == "fp8"


@pytest.mark.parametrize("estimate", [
    lambda **kw: estimate_inference(hardware="H100", intensity=400.0, **kw),
    lambda **kw: estimate_training(tokens=1e12, hardware="H100", count=64, **kw),
])
@pytest.mark.parametrize(("kw", "said"), [
    ({"model": "Llama-3.1-8B", "params": 7.5e9}, ["the given params 7.5e+09 used instead of its 8.03e+09"]),
    ({"model": "Mixtral-8x7B", "params": 45e9, "active_params": 12e9},
     ["the given params 4.5e+10 used instead of its 4.67e+10",
      "the given active_params 1.2e+10 used instead of its 1.29e+10"]),
    ({"model": "Llama-3.1-405B", "params": 405.8e9}, ["the given params 4.058e+11 used instead of its 4.0585e+11"]),
])
def test_a_given_count_within_rounding_of_the_named_models_is_said_to_be_used(
        estimate: Any, kw: dict[str, object], said: list[str]) -> None:
    """The given count, within COUNT_TOLERANCE of the model's, is the one used, but the model's line said only its
    own count ("8.03e+09 parameters -- all its values were given"): it names both."""
    note = next(a for a in estimate(**kw).assumptions if a.what == "model")
    for words in said:
        assert words in note.note


def test_the_same_count_as_the_named_models_is_not_said_to_replace_it() -> None:
    """8.03B parsed (8029999999.999999) and 8.03e9 are the model's own count: nothing is used instead of it."""
    for params in (8.03e9, 8029999999.999999):
        note = next(a for a in estimate_inference(model="Llama-3.1-8B", params=params, hardware="H100",
                                                  intensity=400.0).assumptions if a.what == "model")
        assert "instead" not in note.note


def test_an_mha_model_gets_its_attention_and_a_windowed_model_its_window() -> None:
    mha = estimate_inference(model="Llama 2 7B", hardware="A100", intensity=400.0)
    said = next(a for a in mha.assumptions if a.what == "attention")
    assert said.value == "mha" and "Llama 2 7B" in said.source and "user" not in said.source
    # one K/V head is multi-query attention, whatever the card calls it; saying so keeps the model's exact cache
    falcon = estimate_inference(model="falcon-7b", hardware="H100", intensity=400.0)
    assert next(a for a in falcon.assumptions if a.what == "attention").value == "mqa"
    told = estimate_inference(model="falcon-7b", attention="MQA", hardware="H100", intensity=400.0)
    assert told.energy_kwh == falcon.energy_kwh
    gemma = estimate_inference(model="gemma-2-9b-it", hardware="H100", intensity=400.0)
    assert any(a.what == "sliding-window attention" and a.value.startswith("4096 tokens") for a in gemma.assumptions)


@pytest.mark.parametrize(("kw", "said"), [
    ({"model": "Llama-3.1-8B", "params": 70e9}, "--params (params) 7e+10 contradicts model 'Llama 3.1 8B'"),
    ({"model": "Mixtral-8x7B", "active_params": 3e9}, "--active-params (active_params) 3e+09 contradicts"),
    # a dense model is all active, with or without --params beside it
    ({"model": "Llama-3.1-8B", "active_params": 4e9},
     "--active-params (active_params) 4e+09 contradicts model 'Llama 3.1 8B'"),
    ({"model": "Llama-3.1-8B", "params": 8e9, "active_params": 4e9},
     "--active-params (active_params) 4e+09 contradicts"),
])
def test_a_count_that_contradicts_the_named_model_is_refused(kw: dict[str, object], said: str) -> None:
    with pytest.raises(InputConflictError, match=re.escape(said)):
        estimate_inference(hardware="H100", **kw)  # type: ignore[arg-type]
    with pytest.raises(InputConflictError, match=re.escape(said)):
        estimate_training(tokens=1e12, hardware="H100", count=64, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("model", "attention", "has"), [
    ("Llama-3.1-8B", "mqa", "gqa"), ("Llama 2 7B", "gqa", "mha"), ("falcon-7b", "mha", "mqa"),
    # latent attention is served with a GQA-like cache shape: 'gqa' was taken as agreeing with it
    ("DeepSeek-V3", "gqa", "mla"), ("Kimi-K2", "gqa", "mla"), ("Llama-3.1-8B", "mla", "gqa")])
def test_an_attention_that_contradicts_the_named_model_is_refused(model: str, attention: str, has: str) -> None:
    with pytest.raises(InputConflictError,
                       match=f"--attention \\(attention\\) '{attention}' contradicts model .*\\({has}\\)"):
        estimate_inference(model=model, attention=attention, hardware="H100")


@pytest.mark.parametrize(("model", "attention", "closest"), [
    ("Llama-3.1-8B", "gqq", "gqa"), ("DeepSeek-V4-Flash", "foo", None), ("DeepSeek-V3", "MLAA", "mla")])
def test_an_unknown_attention_with_a_named_model_is_unknown_not_a_contradiction(
        model: str, attention: str, closest: str | None) -> None:
    # it said "'foo' contradicts model (mqa)": a typo read as a choice the model rules out
    with pytest.raises(UnknownNameError) as caught:
        estimate_inference(model=model, attention=attention, hardware="H100", count=8)
    said = str(caught.value)
    assert said.startswith(f"unknown attention {attention.lower()!r}")
    assert "use one of gqa, mha, mqa, mla" in said and "contradicts" not in said
    assert closest is None or f"closest valid names: {closest}" in said


@pytest.mark.parametrize(("kw", "said"), [
    # the model line still said 8 per token while the shared-weight share changed silently
    ({"model": "Qwen/Qwen3-235B-A22B", "experts": 128, "experts_per_token": 2},
     "--experts-per-token (experts_per_token) 2 contradicts model 'Qwen3-235B-A22B' (8); give one of them"),
    ({"model": "Qwen/Qwen3-235B-A22B", "experts": 64, "experts_per_token": 8},
     "--experts (experts) 64 contradicts model 'Qwen3-235B-A22B' (128)"),
    ({"model": "Llama-3.1-8B", "experts": 8, "experts_per_token": 2},
     "--experts (experts) 8 contradicts model 'Llama 3.1 8B' (a dense model: no routed experts)"),
    # a window for a model without one, or another window than the model's
    ({"model": "Llama-3.1-8B", "sliding_window": 4096},
     "--sliding-window (sliding_window) 4096 contradicts model 'Llama 3.1 8B' (no sliding window); give one of them"),
    ({"model": "Llama-3.1-8B", "sliding_window": 4096, "window_layer_share": 0.5},
     "--sliding-window (sliding_window) 4096 contradicts model 'Llama 3.1 8B' (no sliding window)"),
    ({"model": "gemma-2-9b", "sliding_window": 1024}, "--sliding-window (sliding_window) 1024 contradicts model "
     "'Gemma 2 9B' (4096)"),
    ({"model": "gemma-2-9b", "window_layer_share": 1.0},
     "--window-layers (window_layer_share) 1 contradicts model 'Gemma 2 9B' (0.5)"),
])
def test_an_expert_count_or_window_that_contradicts_the_named_model_is_refused(kw: dict[str, object],
                                                                               said: str) -> None:
    """Parameter counts and attention were checked against a named model; expert counts and the sliding window
    were taken as given, without a word."""
    with pytest.raises(InputConflictError, match=re.escape(said)):
        estimate_inference(hardware="H100", intensity=400.0, **kw)  # type: ignore[arg-type]


def test_an_expert_count_or_window_that_agrees_with_the_named_model_is_its_own() -> None:
    qwen = estimate_inference(model="Qwen/Qwen3-235B-A22B", hardware="H100", intensity=400.0)
    for given in ({"experts": 128, "experts_per_token": 8}, {"experts": 128}, {"experts_per_token": 8}):
        told = estimate_inference(model="Qwen/Qwen3-235B-A22B", hardware="H100", intensity=400.0,
                                  **given)  # type: ignore[arg-type]
        assert told.energy_kwh == qwen.energy_kwh
    gemma = estimate_inference(model="gemma-2-9b", hardware="H100", intensity=400.0)
    # the window alone takes the model's share of the layers (it took all of them, 1.0)
    window = estimate_inference(model="gemma-2-9b", sliding_window=4096, hardware="H100", intensity=400.0)
    assert window.energy_kwh == gemma.energy_kwh
    # a share within published rounding of the model's (Gemma 3 27B: 52 of 62 layers, 0.8387) is used and said
    rounded = estimate_inference(model="gemma-3-27b", window_layer_share=0.83, hardware="H100", intensity=400.0)
    note = next(a.note for a in rounded.assumptions if a.what == "model")
    assert "the given window_layer_share 0.83 used instead of its 0.8387" in note


def test_training_takes_the_counts_of_a_named_model() -> None:
    named = estimate_training(model="DeepSeek-V3", tokens=14.8e12, hardware="H800", count=2048, precision="fp8")
    spelled = estimate_training(params=671e9, active_params=37e9, tokens=14.8e12, hardware="H800", count=2048,
                                precision="fp8")
    assert named.chip_hours == spelled.chip_hours
    assert any(a.what == "model" for a in named.assumptions)


def test_serving_without_params_or_model_says_what_is_needed() -> None:
    with pytest.raises(InputConflictError, match=r"--params \(params=\.\.\., .* or --model \(model=\.\.\., "):
        estimate_inference(hardware="H100")


def test_the_cli_takes_a_model_name() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["estimate", "inference", "--model", "Qwen/Qwen3-30B-A3B-Instruct-2507", "--hardware", "H100",
                     "--intensity", "400"]) == 0
    assert "Serving Qwen/Qwen3-30B-A3B-Instruct-2507 on" in out.getvalue()
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["estimate", "training", "--model", "llama-3.1-8b", "--tokens", "15T", "--hardware", "H100",
                     "--count", "1024", "--json"]) == 0
    assert json.loads(out.getvalue())["chip_hours"] > 0
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert main(["estimate", "inference", "--model", "llama-9"]) == 2
    assert "unknown model 'llama-9'" in err.getvalue() and "Traceback" not in err.getvalue()
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["data", "models"]) == 0
    assert "gpt-oss-120b" in out.getvalue() and "Llama 3.1 8B" in out.getvalue()
    header, *rows = out.getvalue().splitlines()
    assert "layers" in header.split()
    assert re.match(r"Llama 3\.1 405B\s+405\.9\s+-\s+-\s+126\s", next(r for r in rows if "405B" in r))


def test_a_named_dense_model_brings_its_own_kv_cache_shape() -> None:
    # Llama 3.1 8B: 32 layers x 8 KV heads x 128 = 32,768 K widths; K and V in bf16: 131,072 bytes per token, so a
    # 100k-token prompt with 1k out holds 100,500 tokens (continuous batching) = 13.2 GB per sequence
    fp = estimate_inference(model="Llama-3.1-8B", hardware="H100", input_tokens=100_000, output_tokens=1000,
                            intensity=400.0)
    capped = next(a for a in fp.assumptions if a.what == "batch size capped by memory")
    assert "~13.2 GB of KV cache per sequence" in capped.note and capped.value == "at most 4 sequences"
    assert not any(a.what.startswith("KV width") for a in fp.assumptions)  # no assumed width: the model's own
    # Gemma 2 9B keeps 2x the KV width of a Llama-like 8 x 128 (8 heads x 256) in 42 layers: more per token
    gemma = estimate_inference(model="gemma-2-9b-it", hardware="H100", input_tokens=3000, output_tokens=1000,
                               intensity=400.0, sliding_window=None)
    note = next(a for a in gemma.assumptions if a.what == "model")
    assert "KV cache of 1.72e+05 values per token" in note.value


def test_a_named_model_launches_its_own_layers_on_an_eager_engine() -> None:
    """An eager engine cannot step faster than it launches every layer's kernels: a named model brings its real
    depth. Qwen2.5 0.5B has 24 layers where the shape rule (d_model / n_layers ~ 128) gives a 0.49B model ~14."""
    from wattprint.estimate.inference import constants

    per_layer = constants()["eager_overhead_s_per_layer"].value
    named = estimate_inference(model="Qwen2.5-0.5B", hardware="H100", engine="eager", batch_size=1,
                               intensity=400.0)
    counted = estimate_inference(0.49e9, hardware="H100", engine="eager", batch_size=1, intensity=400.0)
    assert named.details["decode_step_ms"].value == pytest.approx(24 * per_layer * 1000)  # floor-bound at batch 1
    assert counted.details["decode_step_ms"].value < 0.7 * named.details["decode_step_ms"].value
    assert "24 layers" in next(a for a in named.assumptions if a.what == "model").value
    # an optimised engine (CUDA graphs) has no per-layer floor: the depth changes nothing there
    fast = estimate_inference(model="Qwen2.5-0.5B", hardware="H100", batch_size=1, intensity=400.0)
    assert fast.details["decode_step_ms"].value < 0.5 * named.details["decode_step_ms"].value


def _said(fp: object, what: str) -> list[object]:
    return [a for a in fp.assumptions if a.what == what]  # type: ignore[attr-defined]


def test_every_model_has_a_sourced_context_window() -> None:
    for s in models():
        assert s.context_tokens and s.context_tokens >= 1024 and s.context_source, s.name
        assert s.max_context_tokens is None or s.max_context_tokens >= s.context_tokens, s.name
    spec = {s.name: s for s in models()}
    assert (spec["Llama 2 7B"].context_tokens, spec["Llama 2 7B"].max_context_tokens) == (4096, 4096)
    assert spec["Llama 3.1 8B"].context_tokens == 131072
    assert spec["BLOOM 176B"].max_context_tokens is None  # ALiBi: 2048 is the training length, not a limit


def test_a_request_longer_than_any_release_of_the_named_model_allows_is_refused() -> None:
    with pytest.raises(InputConflictError) as e:
        estimate_inference(model="Llama-2-7b-chat-hf", input_tokens=8000, output_tokens=500, hardware="A100")
    said = str(e.value)
    assert "8,500 tokens per request (input 8,000 + output 500)" in said and "Llama 2 7B" in said
    assert "4,096" in said
    # the same lengths without the name: counts alone have no window (a long-context derivative is the user's call)
    assert estimate_inference(6.74e9, input_tokens=8000, output_tokens=500, hardware="A100").energy_kwh.value > 0
    # the bound is input + output: 4,096 fits
    fp = estimate_inference(model="llama-2-7b", input_tokens=3596, output_tokens=500, hardware="A100")
    assert not _said(fp, "context window")
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert main(["estimate", "inference", "--model", "gpt2", "--output-tokens", "1100"]) == 2
    assert "output 1,100 given leaves no room for any input" in err.getvalue() and "1,024" in err.getvalue()
    assert "; lower --output-tokens, or give" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_beyond_the_shipped_window_but_within_an_extension_is_an_assumption() -> None:
    fp = estimate_inference(model="Qwen/Qwen3-8B", input_tokens=60000, output_tokens=500, hardware="H100")
    (note,) = _said(fp, "context window")
    assert "60,500" in note.value and "40,960" in note.value and "131,072" in note.note and "YaRN" in note.note
    assert "Qwen3-8B" in note.source or "Qwen3 8B" in note.source
    with pytest.raises(InputConflictError, match="131,072 tokens \\(40,960 as shipped\\)"):
        estimate_inference(model="qwen3-8b", input_tokens=140000, output_tokens=500, hardware="H100")
    # no hard limit: said, never refused
    fp = estimate_inference(model="bloom", input_tokens=6000, hardware="A100", count=8)
    (note,) = _said(fp, "context window")
    assert "ALiBi" in note.note and "2,048" in note.value


def test_assumed_request_lengths_are_cut_to_the_named_models_window() -> None:
    """GPT-2's 1,024 positions: the default lengths' ranges (input up to 2,000, output up to 1,000) cannot all be
    served; with a given output the assumed input shrinks to what is left, and the figures follow."""
    fp = estimate_inference(model="gpt2", hardware="A100")
    (inp,) = _said(fp, "input tokens per request")
    (out,) = _said(fp, "output tokens per request")
    high = [float(re.search(r"–([\d.e+]+)\)", a.value).group(1)) for a in (inp, out)]  # type: ignore[union-attr]
    assert sum(high) <= 1024 and all(h >= 500 for h in high), (inp.value, out.value)
    assert "1,024-token context window" in inp.note
    free = estimate_inference(124.4e6, hardware="A100")  # the counts alone: the full default ranges
    assert fp.energy_kwh.value == pytest.approx(free.energy_kwh.value, rel=0.05)
    assert fp.energy_kwh.high < free.energy_kwh.high
    fp = estimate_inference(model="gpt2", hardware="A100", output_tokens=1000)
    (inp,) = _said(fp, "input tokens per request")
    assert inp.value == "24 tokens per request", inp.value  # cut to one value: not printed as "24 (24–24)"
    per_request = fp.details["energy_per_request_wh"].value
    full = estimate_inference(model="gpt2", hardware="A100", output_tokens=1000, input_tokens=24)
    assert per_request == pytest.approx(full.details["energy_per_request_wh"].value, rel=1e-9)


def test_the_models_table_shows_each_context_window() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["data", "models"]) == 0
    header, *rows = out.getvalue().splitlines()
    col = header.index("context")
    cell = {r.split("  ")[0].strip(" *"): r[col:col + 20].strip() for r in rows if "  " in r}
    assert cell["Llama 2 7B"] == "4K" and cell["Llama 3.1 8B"] == "128K"
    assert cell["Qwen3 8B"] == "40K (up to 128K)" and cell["BLOOM 176B"] == "2K (+)"
    assert cell["Mistral Nemo 12B"].startswith("128k") and cell["Llama 4 Scout"] == "10M"


def test_a_release_that_ships_another_window_is_told_apart_by_its_name() -> None:
    """Qwen3 4B's -2507 release ships 262,144 positions (refused above 131,072 before); Phi-3-mini-128k is the
    long-context release of its row; a dated release the data do not know is not checked, and says so."""
    fp = estimate_inference(model="Qwen/Qwen3-4B-Instruct-2507", input_tokens=200_000, output_tokens=1000,
                            hardware="H100")
    assert not _said(fp, "context window")
    with pytest.raises(InputConflictError, match="Qwen3 4B"):
        estimate_inference(model="Qwen/Qwen3-4B", input_tokens=300_000, output_tokens=1000, hardware="H100")
    fp = estimate_inference(model="microsoft/Phi-3-mini-128k-instruct", input_tokens=8000, hardware="H100")
    assert not _said(fp, "context window") and "cut" not in _said(fp, "output tokens per request")[0].note
    fp = estimate_inference(model="allenai/OLMo-7B-0724-hf", input_tokens=3000, output_tokens=500, hardware="H100")
    (note,) = _said(fp, "context window")
    assert "not checked for the 0724 release" in note.value and "2,048" in note.note


def test_a_long_prompt_given_for_a_model_with_an_extension_keeps_its_assumed_answer_length() -> None:
    """Qwen3 8B ships 40,960 positions (131,072 with YaRN): a prompt of 40,959 tokens cut the default answer to
    one token, and the estimate fell at the boundary and jumped back past it; it now takes the extension."""
    below = estimate_inference(model="qwen3-8b", input_tokens=40_900, hardware="H100")
    edge = estimate_inference(model="qwen3-8b", input_tokens=40_959, hardware="H100")
    past = estimate_inference(model="qwen3-8b", input_tokens=40_961, hardware="H100")
    assert _said(edge, "output tokens per request")[0].value.startswith("500 (200")
    assert _said(edge, "context window") and _said(past, "context window")
    per_request = [fp.details["energy_per_request_wh"].value for fp in (below, edge, past)]
    assert per_request[0] <= per_request[1] <= per_request[2] < per_request[0] * 1.01


def test_a_prompt_that_fills_the_window_alone_is_blamed_not_the_assumed_answer() -> None:
    with pytest.raises(InputConflictError) as e:
        estimate_inference(model="gpt2", input_tokens=1024, hardware="A100")
    assert "input 1,024 given leaves no room for any output" in str(e.value)
    assert "--output-tokens" not in str(e.value)
    assert "; lower --input-tokens, or give" in str(e.value)  # the one length given: it was "lower them"
    with pytest.raises(InputConflictError) as e:
        estimate_inference(6.74e9, input_tokens=1e300, hardware="A100")
    assert "1e+300 tokens" in str(e.value) and len(str(e.value)) < 300
    # Llama 4 Scout's own window (10,485,760 positions) is inside the bound every request is held to
    with pytest.raises(InputConflictError) as e:
        estimate_inference(model="llama-4-scout", input_tokens=10.3e6, output_tokens=1, hardware="H100", count=8)
    assert "longer than any published model" not in str(e.value) and "KV cache" in str(e.value)


def test_an_active_count_given_for_a_dense_model_is_its_parameter_count_not_an_moe() -> None:
    dense = {"model": "Llama-3.1-8B", "hardware": "H100"}
    as_active = estimate_training(tokens=1e12, count=64, active_params=8e9, **dense)  # type: ignore[arg-type]
    as_params = estimate_training(tokens=1e12, count=64, params=8e9, **dense)  # type: ignore[arg-type]
    assert as_active.chip_hours.value == pytest.approx(as_params.chip_hours.value)
    assert not any("MoE" in a.note or "MoE" in a.value for a in as_active.assumptions)
    served = estimate_inference(active_params=8e9, **dense)  # type: ignore[arg-type]
    assert not any(a.what.startswith("MoE") for a in served.assumptions)
    assert served.energy_kwh.value == pytest.approx(estimate_inference(params=8e9, **dense).energy_kwh.value)  # type: ignore[arg-type]


@pytest.mark.parametrize("argv", [["--model", "Qwen/Qwen3-235B-A22B", "--experts", "128", "--experts-per-token", "2"],
                                  ["--model", "Llama-3.1-8B", "--sliding-window", "4096"]])
def test_the_cli_refuses_a_contradicting_expert_count_or_window_in_one_line(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "inference", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "contradicts model" in err and "give one of them" in err
