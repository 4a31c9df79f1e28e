"""Random flag sets for `wattprint estimate` (seeded, so a failure reproduces): every run ends with exit 0 or 2,
never a traceback, and --json never prints a non-finite number. Found OverflowError, NaN ranges and divisions by
zero at absurd magnitudes before they were guarded."""

from __future__ import annotations

import contextlib
import io
import json
import random

import pytest

from wattprint.cli import main

VALUES = ["0", "-1", "1", "1.5", "7B", "7b", "1e9", "1e300", "nan", "inf", "-inf", "abc", "", "1e-300", "2T", "0.5",
          "100", "1e6", "1,000", " 5 ", "1e20", "3000", "64", "0x10", "1_000", "NaN", "+7", "7e"]
HARDWARE = ["H100", "A100", "TPU v4", "tpu", "MI250X", "h200", "V100", "xyz", "", "T4", "B200", "Gaudi2", "H800",
            "TPU v5e", "v3-128", "K80"]
MODELS = ["Llama-3.1-8B", "openai/gpt-oss-120b", "DeepSeek-V3", "Qwen3", "", "xyz", "gemma-2-9b-it", "7B", "gpt2",
          "opt-1.3b", "HuggingFaceTB/SmolLM-135M"]
LOCATIONS = ["FR", "US-CA", "aws:us-east-1", "gcp:europe-west4", "Narnia", "", "SE3", "zone:FI", "usa", "Scotland",
             "XK"]
TRAINING = {"--flops": VALUES, "--params": VALUES, "--active-params": VALUES, "--tokens": VALUES,
            "--chip-hours": VALUES, "--gpu-hours": VALUES, "--days": VALUES, "--hardware": HARDWARE,
            "--count": VALUES, "--mfu": VALUES,
            "--power-w": VALUES, "--power-fraction": VALUES, "--pue": [*VALUES, "google", "moon"],
            "--location": LOCATIONS, "--year": ["2020", "1999", "2050", "x", "2020.5"], "--intensity": VALUES,
            "--mix": ["coal=60,gas=40", "coal=abc", "x=1", "coal=-5,gas=105", "", "coal=100%"],
            "--precision": ["bf16", "fp8", "fp32", "int4"], "--market-intensity": VALUES, "--model": MODELS}
INFERENCE = {"--params": VALUES, "--active-params": VALUES, "--input-tokens": VALUES, "--output-tokens": VALUES,
             "--requests-per-day": VALUES, "--tokens-per-day": VALUES, "--days": VALUES, "--hardware": HARDWARE,
             "--count": VALUES, "--batch-size": VALUES, "--precision": ["bf16", "fp8", "int4", "fp64"],
             "--model": MODELS, "--experts": [*VALUES, "128", "8"], "--experts-per-token": [*VALUES, "8", "2"],
             "--engine": ["optimised", "eager", "x", "vllm", "TensorRT-LLM"],
             "--attention": ["gqa", "mha", "x", "mqa"], "--utilisation": VALUES,
             "--tdp-w": VALUES, "--pue": [*VALUES, "google"], "--location": LOCATIONS, "--intensity": VALUES,
             "--training-co2e-kg": VALUES, "--training-tokens": VALUES, "--training-hardware": HARDWARE,
             "--training-count": VALUES}


def _no_constant(name: str) -> None:
    raise AssertionError(f"non-finite number {name} in the JSON")


def _argv(rng: random.Random) -> list[str]:
    kind = rng.choice(["training", "inference"])
    flags = TRAINING if kind == "training" else INFERENCE
    argv = ["estimate", kind, "--hardware" if kind == "training" else "--params",
            rng.choice(HARDWARE if kind == "training" else VALUES)]
    for flag in rng.sample(sorted(flags), rng.randint(1, 6)):
        argv += [flag, rng.choice(flags[flag])]
    return [*argv, "--json"] if rng.random() < 0.5 else argv


@pytest.mark.parametrize("seed", range(4))
def test_random_estimate_flags_end_in_a_result_or_a_one_line_error(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        argv = _argv(rng)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as e:  # argparse's usage errors
                rc = e.code  # type: ignore[assignment]
        assert rc in (0, 2), (argv, err.getvalue()[-500:])
        if rc == 2:
            assert "Traceback" not in err.getvalue() and "error" in err.getvalue(), argv
        elif "--json" in argv:
            try:
                json.loads(out.getvalue(), parse_constant=_no_constant)
            except AssertionError as e:
                raise AssertionError(f"{e}: {argv}") from None
