"""The KV cache's format: 16-bit by default whatever the weights (vLLM's and SGLang's kv_cache_dtype "auto"), and
what is said about it; an FP8 (or int8) cache when asked for, halving the bytes each decode step reads; names as
engines spell them, and a clear error for anything else."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.errors import UnknownNameError
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.serving_chip import KV_CACHE_PRECISIONS, stored_bytes
from wattprint.footprint import Footprint

LONG = dict(model="Qwen3-235B-A22B-FP8", hardware="H100", count=8, input_tokens=30000, output_tokens=500,
            batch_size=32)


def _kv_notes(fp: Footprint) -> list[str]:
    return [f"{a.value} | {a.note}" for a in fp.assumptions if a.what == "KV cache precision"]


def test_the_cache_is_16_bit_by_default_whatever_the_weights() -> None:
    assert stored_bytes("fp8") == (1.0, 2.0)
    assert stored_bytes("int4") == (0.5, 2.0)
    assert stored_bytes("bf16") == (2.0, 2.0)
    assert stored_bytes("fp32") == (4.0, 4.0)
    assert stored_bytes("fp8", "fp8") == (1.0, 1.0)
    assert stored_bytes("bf16", "int8") == (2.0, 1.0)


def test_quantised_weights_say_the_cache_is_not_and_how_to_make_it() -> None:
    (note,) = _kv_notes(estimate_inference(**LONG))
    assert note.startswith("16-bit (2 bytes per K or V value), not fp8 as the weights")
    assert "--kv-cache-precision fp8" in note
    assert not _kv_notes(estimate_inference(model="Llama-3.1-8B", hardware="H100", input_tokens=2000,
                                            output_tokens=500))  # 16-bit weights: nothing to say


def test_an_fp8_cache_reads_fewer_bytes_on_a_long_context() -> None:
    default = estimate_inference(**LONG)
    fp8 = estimate_inference(**LONG, kv_cache_precision="fp8")
    assert _kv_notes(fp8) == ["fp8: 1 byte(s) per K or V value | "]
    # 30k tokens of context per sequence: the cache is most of what a decode step reads, so halving it shows
    assert fp8.details["decode_step_ms"].value < 0.9 * default.details["decode_step_ms"].value
    assert fp8.energy_kwh.value < default.energy_kwh.value
    auto = estimate_inference(**LONG, kv_cache_precision="auto")
    assert auto.energy_kwh.value == default.energy_kwh.value


@pytest.mark.parametrize("text", ["fp8", "FP8", "fp8_e4m3", "fp8-e5m2", "FP8 E4M3"])
def test_engines_spellings_are_read(text: str) -> None:
    fp = estimate_inference(8e9, hardware="H100", input_tokens=2000, output_tokens=500, kv_cache_precision=text)
    assert _kv_notes(fp)[0].startswith("fp8: 1 byte")


@pytest.mark.parametrize("bad", ["fp4", "int3", "e4m3fn!"])
def test_an_unknown_format_is_refused_with_the_valid_ones(bad: str) -> None:
    with pytest.raises(UnknownNameError, match="KV cache precision") as e:
        estimate_inference(8e9, hardware="H100", kv_cache_precision=bad)
    assert e.value.suggestions and set(e.value.suggestions) <= set(KV_CACHE_PRECISIONS)


def test_the_cli_takes_both_flag_names(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["estimate", "inference", "--model", "Qwen3-235B-A22B-FP8", "--hardware", "H100", "--count", "8",
            "--input-tokens", "30000", "--output-tokens", "500", "--batch-size", "32", "--json"]
    assert main(base) == 0
    default = json.loads(capsys.readouterr().out)["energy_kwh"]
    for flag in ("--kv-cache-precision", "--kv-cache-dtype"):
        assert main([*base, flag, "fp8"]) == 0
        assert json.loads(capsys.readouterr().out)["energy_kwh"] < default
    assert main([*base, "--kv-cache-dtype", "fp4"]) == 2
    err = capsys.readouterr().err
    assert "unknown KV cache precision 'fp4'" in err and "Traceback" not in err
