"""`wattprint estimate inference --training-tokens ...`: the training it estimates for the break-even is named by its
own flags in errors (the command also has --count and --hardware, for serving), and a training chip without a
published TDP says what to do instead of naming a flag this command does not have."""

from __future__ import annotations

import pytest

from wattprint.cli import main

SERVE = ["estimate", "inference", "--params", "7B"]


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(SERVE + argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    return err


@pytest.mark.parametrize(("argv", "said"), [
    (["--training-tokens", "0"], "--training-tokens must be > 0"),
    (["--training-tokens", "1e-3"], "--training-tokens is a count"),
    (["--training-tokens", "2"], "--training-tokens 2 is fewer than any training has: did you mean 2B"),
    (["--training-tokens", "2T", "--training-hardware", "Trainium2"], "~500 W is only an analyst's estimate"),
    (["--training-tokens", "2T", "--training-count", "0"], "--training-count must be > 0"),
    (["--training-tokens", "2T", "--training-hardware", "xyz"], "--training-hardware: unknown hardware 'xyz'"),
    (["--training-tokens", "2T", "--training-hardware", "tpu"], "--training-hardware: ambiguous hardware"),
])
def test_a_training_flag_is_named_in_its_error(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    """They were 'tokens must be > 0', 'count (chips) must be > 0', 'unknown hardware': not the flags given."""
    assert said in _error(argv, capsys)


def test_a_training_chip_without_a_tdp_says_how_to_give_the_training(capsys: pytest.CaptureFixture[str]) -> None:
    """It said 'pass --power-w', a flag `estimate inference` does not have."""
    err = _error(["--hardware", "trainium", "--tdp-w", "300", "--training-tokens", "2T"], capsys)
    assert "--power-w" in err and "wattprint estimate training" in err and "--training-co2e-kg" in err


def test_a_mistake_in_the_serving_hardware_is_said_as_the_serving_estimate_says_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(["--hardware", "xyz", "--training-tokens", "2T"], capsys)
    assert err.startswith("wattprint: error: unknown hardware 'xyz'")


def test_a_valid_training_still_gives_the_break_even(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SERVE + ["--training-tokens", "2T", "--training-hardware", "A100", "--training-count", "64"]) == 0
    assert "breakeven requests" in capsys.readouterr().out
