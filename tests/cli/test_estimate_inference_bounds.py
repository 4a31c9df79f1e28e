"""`wattprint estimate inference` on the bad-input probe's commands: each exited 0 with an absurd figure, or 2 without
naming the input; now a one-line error that names the flag (exit 2)."""

from __future__ import annotations

import pytest

from wattprint.cli import main
from wattprint.errors import WattprintError
from wattprint.estimate.training import estimate_training

SERVE = ["estimate", "inference", "--params", "7B"]


@pytest.mark.parametrize(("argv", "said"), [
    (["--hardware", "H100", "--batch-size", "1e6", "--count", "2"], "lower --batch-size to at most "),
    (["--batch-size", "1e12"], "lower --batch-size"),
    (["--requests-per-day", "1e30"], "check --requests-per-day"),
    (["--batch-size", "1e30"], "lower --batch-size"),
    (["--params", "1e30"], "check --params"),
    (["--requests-per-day", "1k", "--days", "1e12"], "check --days (days of serving, not hours or seconds)"),
    (["--params", "235B", "--active-params", "22B", "--count", "8", "--experts-per-token", "8", "--experts", "1e30"],
     "check --experts"),
])
def test_the_probe_commands_are_one_line_errors_naming_the_flag(argv: list[str], said: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    base = ["estimate", "inference"] if "--params" in argv else SERVE
    assert main(base + argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and said in err
    assert "leaves the floating-point range" not in err


@pytest.mark.parametrize(("argv", "named"), [
    (["--utilisation", "1e-300"], "--params 7e+09, --utilisation 1e-300"),
    (["--input-tokens", "100", "--utilisation", "1e-30"], "--params 7e+09, --input-tokens 100, --utilisation 1e-30"),
])
def test_a_service_past_the_worlds_annual_emissions_is_refused_as_a_training_is(
        argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The README says a total above the world's annual emissions is refused; a service printed it (exit 0) with an
    IMPLAUSIBLE RESULT assumption."""
    assert main(SERVE + argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "x the world's annual emissions (57.1 GtCO2e): no service emits that" in err
    assert f"check the magnitudes of {named}" in err


def test_a_training_footprint_past_the_worlds_emissions_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(SERVE + ["--training-co2e-kg", "1e30"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "check --training-co2e-kg" in err


def test_an_estimated_training_is_treated_as_the_training_estimator_treats_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    """--training-tokens 1e30 past the world's emissions: refused where `estimate training` refuses it."""
    with pytest.raises(WattprintError, match="world's annual emissions"):
        estimate_training(params=7e9, tokens=1e30, hardware="H100")
    assert main(SERVE + ["--training-tokens", "1e30"]) == 2
    assert "world's annual emissions" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "named"), [
    (["--training-tokens", "1e30"], "--training-tokens 1e+30"),
    (["--training-tokens", "15T", "--training-count", "1"], "check --training-count"),
])
def test_a_refused_training_names_this_commands_training_flags(argv: list[str], named: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The training estimate's errors said --tokens and --count: here --count is the serving replica's."""
    assert main(SERVE + argv) == 2
    err = capsys.readouterr().err
    assert named in err and " --tokens" not in err and " --count" not in err


@pytest.mark.parametrize(("argv", "chips"), [
    (["--count", "8"], 8),
    (["--batch-size", "1e5"], 16),  # the replica sized to hold the batch: the title said one chip's name only
    (["--params", "70B", "--requests-per-day", "10M"], 4),  # sized for the load
])
def test_the_title_says_the_chips_of_a_replica_of_more_than_one(argv: list[str], chips: int,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main((["estimate", "inference"] if "--params" in argv else SERVE) + argv) == 0
    title = capsys.readouterr().out.splitlines()[0]
    assert f" on {chips:,}x NVIDIA H100 SXM5 80GB per replica (" in title
    assert main(SERVE + ["--count", "1"]) == 0  # one chip: its name alone
    assert " on NVIDIA H100 SXM5 80GB (one request)" in capsys.readouterr().out.splitlines()[0]
