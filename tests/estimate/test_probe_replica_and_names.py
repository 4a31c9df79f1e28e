"""Defects from a probe of the hybrid and sparse-attention presets, each pinned by a test that failed before its fix:

1. a replica of any size up to ten million chips was accepted, the estimator picking 2 million H100s itself for a
   batch of 1e9 (0.24 µs decode steps), since only the training bound on chips at once applied;
2. latent-attention models were called "gqa" (the cache shape they are served as) in the attention assumption and
   in the error for a contradicting --attention, while `data models` calls them mla;
3. a training context past a named model's every window was refused as a unit slip, without naming the window.
"""

from __future__ import annotations

import pytest

from wattprint.errors import InputConflictError
from wattprint.estimate.inference import constants, estimate_inference
from wattprint.estimate.training import estimate_training


def test_the_largest_serving_unit_is_sourced() -> None:
    unit = constants()["largest_serving_unit"]
    assert unit.value == 320 and "DeepSeek-V3" in unit.source and "320 GPUs" in unit.source


def test_a_replica_the_estimate_sizes_past_any_published_unit_is_refused() -> None:
    with pytest.raises(InputConflictError, match="largest published unit serving one copy of a model"):
        estimate_inference(model="Llama-3.1-8B", hardware="H100", batch_size=1e9)
    with pytest.raises(InputConflictError, match="4096 sequence.*need 1024 x NVIDIA H100.*--batch-size"):
        estimate_inference(model="Llama-3.1-8B", hardware="H100", batch_size=4096, input_tokens=100_000)
    # the largest real models fit well within it
    fp = estimate_inference(model="DeepSeek-V3", hardware="H100", input_tokens=2000, output_tokens=500)
    assert fp.details["accelerators_per_replica"] <= 320


@pytest.mark.parametrize(("count", "said"), [(320, False), (512, True), (1_000_000, True)])
def test_a_given_count_past_it_is_said(count: int, said: bool) -> None:
    fp = estimate_inference(model="Llama-3.1-8B", hardware="H100", count=count, input_tokens=1000, output_tokens=200)
    notes = [a for a in fp.assumptions if a.what == "BEYOND PUBLISHED SERVING UNITS"]
    assert bool(notes) == said
    if said:
        assert notes[0].value.startswith(f"{count} accelerators in one replica")
        assert "lower bound" in notes[0].note


def test_latent_attention_is_called_mla() -> None:
    fp = estimate_inference(model="DeepSeek-V3.2", hardware="H200", count=8, input_tokens=2000, output_tokens=500)
    (note,) = [a for a in fp.assumptions if a.what == "attention"]
    assert note.value.startswith("mla (multi-head latent attention: served as gqa")
    with pytest.raises(InputConflictError, match=r"contradicts model 'DeepSeek-V3.2' \(mla\)"):
        estimate_inference(model="DeepSeek-V3.2", hardware="H200", count=8, attention="mha")
    llama = estimate_inference(model="Llama-3.1-8B", hardware="H100", input_tokens=2000, output_tokens=500)
    assert [a.value for a in llama.assumptions if a.what == "attention"] == ["gqa"]


def test_a_context_past_every_window_says_so() -> None:
    with pytest.raises(InputConflictError, match=r"past every window of Qwen3-Next-80B-A3B \(262,144 tokens\)"):
        estimate_training(model="Qwen3-Next-80B-A3B", tokens=1e12, hardware="H100", count=64, seq_len=1_000_000)
    with pytest.raises(InputConflictError) as e:  # no model: no window to name
        estimate_training(params=3e9, tokens=1e12, hardware="H100", count=64, seq_len=1_000_000)
    assert "window" not in str(e.value)
