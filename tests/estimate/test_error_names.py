"""The estimators' input errors name each input by its flag and its keyword, "--tdp-w (tdp_w)", as other messages
of the same commands did ("give its board power with --tdp-w (tdp_w=...)"), and echo a number as the user gave it
or compactly. A probe found Python names on the command line (``--window-layers 2`` -> "window_layer_share must be
in (0, 1], got 2.0"; ``--params -7B`` -> "params must be > 0, got -7000000000.0") and flags alone for an API caller
("hardware is required (e.g. --hardware A100)", "add --tokens")."""

from __future__ import annotations

import pytest

from wattprint.cli import main
from wattprint.errors import WattprintError
from wattprint.estimate.inference import estimate_inference
from wattprint.estimate.training import estimate_training

SERVE = ["estimate", "inference", "--params", "7B"]
TRAIN = ["estimate", "training", "--hardware", "H100"]


@pytest.mark.parametrize(("argv", "said"), [
    (SERVE + ["--sliding-window", "4096", "--window-layers", "2"],
     "--window-layers (window_layer_share) must be in (0, 1], got 2"),
    (SERVE + ["--requests-per-day", "-5"], "--requests-per-day (requests_per_day) must be > 0, got -5"),
    (SERVE + ["--tdp-w", "-300"], "--tdp-w (tdp_w) must be > 0, got -300"),
    (SERVE + ["--training-co2e-kg", "-1"], "--training-co2e-kg (training_co2e_kg) must be > 0, got -1"),
    (SERVE + ["--active-params", "70B"], "--active-params (active_params) 7e+10 cannot exceed --params (params) 7e+09"),
    (["estimate", "inference", "--params", "-7B"], "--params (params) must be > 0, got -7e+09"),
    (SERVE + ["--utilisation", "1.5"], "--utilisation (utilisation) must be in (0, 1], got 1.5"),
    (TRAIN + ["--params", "-7B", "--tokens", "1T"], "--params (params) must be > 0, got -7e+09"),
    (TRAIN + ["--flops", "1e23", "--mfu", "2"], "--mfu (mfu) is a fraction of peak (0-1], got 2"),
    (TRAIN + ["--flops", "1e23", "--days", "-2"], "--days (days) must be > 0, got -2"),
])
def test_the_command_line_sees_the_flag_and_the_keyword_and_the_value_as_typed(
        argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and said in err
    assert ".0," not in err and not err.rstrip().endswith(".0")  # no 2.0 for 2, no 7000000000.0 for 7B


@pytest.mark.parametrize(("make", "said"), [
    (lambda: estimate_training(params=7e9, tokens=1e12), "--hardware (hardware=...) is required"),
    (lambda: estimate_training(hardware="H100", params=7e9), "add --tokens (tokens=...), or give --flops (flops=...)"),
    (lambda: estimate_training(hardware="H100", tokens=1e12), "add --params (params=...)"),
    (lambda: estimate_training(hardware="H100", gpu_hours=-2), "--gpu-hours (gpu_hours) must be > 0, got -2"),
    (lambda: estimate_inference(7e9, sliding_window=4096, window_layer_share=2.0),
     "--window-layers (window_layer_share) must be in (0, 1], got 2"),
    (lambda: estimate_inference(7e9, days=30), "--days (days) needs a load"),
    (lambda: estimate_inference(7e9, experts=128), "give both --experts (experts, "),
    (lambda: estimate_inference(), "--params (params=..., the model's total parameters) or --model (model=..., "),
])
def test_an_api_caller_sees_the_keyword_too(make: object, said: str) -> None:
    with pytest.raises(WattprintError) as e:
        make()  # type: ignore[operator]
    assert said in str(e.value)
