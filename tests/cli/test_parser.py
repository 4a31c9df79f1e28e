"""The command line's parser (cli._Parser): an option given twice with different values is a one-line usage
error (argparse kept the last without a word: `--count 64 ... --count 8` ran with 8), and a command group called
without its sub-command prints its usage on stderr with exit 2, as an error is said, leaving stdout empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattprint.cli import main

TRAIN = ["estimate", "training", "--hardware", "A100", "--count", "64", "--days", "2"]


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    return err


@pytest.mark.parametrize(("argv", "said"), [
    ([*TRAIN, "--count", "8"], "argument --count: given twice (64, then 8)"),
    ([*TRAIN, "--hardware", "H100"], "argument --hardware: given twice ('A100', then 'H100')"),
    ([*TRAIN, "--hardware", "TPU", "v4"], "given twice ('A100', then 'TPU v4')"),
    ([*TRAIN, "--location", "FR", "--location", "DE"], "argument --location: given twice ('FR', then 'DE')"),
    ([*TRAIN, "--days", "3"], "argument --days: given twice (2, then 3)"),
    (["estimate", "inference", "--params", "7B", "--params", "8B"], "given twice (7e+09, then 8e+09)"),
    (["runs", "list", "--limit", "1", "--limit", "2"], "argument --limit: given twice (1, then 2)"),
    (["run", "--interval", "1", "--interval", "2", "--", "true"], "argument --interval: given twice (1, then 2)"),
])
def test_an_option_given_twice_with_different_values_is_an_error(
        argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert said in _usage_error(argv, capsys)


@pytest.mark.parametrize("flag", ["--interval", "--pue", "--intensity"])
@pytest.mark.parametrize("given", ["1e400", "-1e400"])
def test_a_number_of_run_too_large_for_a_float_is_said_as_given(
        flag: str, given: str, capsys: pytest.CaptureFixture[str]) -> None:
    """float() reads 1e400 as inf: the message said "got inf", a value the user never gave."""
    err = _usage_error(["run", f"{flag}={given}", "--", "true"], capsys)
    assert f"argument {flag}: '{given}' is too large: it leaves the floating-point range" in err, err
    assert "inf" not in err


@pytest.mark.parametrize("flag", ["--interval", "--pue", "--intensity"])
@pytest.mark.parametrize("given", ["1e-400", "-1e-400"])
def test_a_number_of_run_too_close_to_zero_for_a_float_is_said_as_given(
        flag: str, given: str, capsys: pytest.CaptureFixture[str]) -> None:
    """float() reads 1e-400 as 0: --interval said "must be > 0 seconds, got 0" and --pue "got 0", values the user
    never gave; --intensity ran with 0."""
    err = _usage_error(["run", f"{flag}={given}", "--", "true"], capsys)
    assert f"argument {flag}: '{given}' is too close to zero: it leaves the floating-point range" in err, err
    assert "got 0" not in err


@pytest.mark.parametrize("flag", ["--interval", "--intensity"])
def test_a_number_of_run_that_is_no_number_is_said_as_estimate_says_it(
        flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    """run said argparse's "invalid float value: 'abc'" where estimate says "not a number: 'abc'"."""
    err = _usage_error(["run", flag, "abc", "--", "true"], capsys)
    estimate_err = _usage_error([*TRAIN, "--intensity", "abc"], capsys)
    assert f"argument {flag}: not a number: 'abc'\n" in err, err
    assert err.partition(f"argument {flag}: ")[2] == estimate_err.partition("argument --intensity: ")[2]


def test_the_same_value_twice_and_options_after_the_command_of_run_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*TRAIN, "--count", "64", "--days", "2.0", "--json"]) == 0
    # the same number written two ways, the same name in another case: the same value
    assert main([*TRAIN, "--pue", "1.1", "--pue", "1.10", "--location", "FR", "--location", "fr", "--json"]) == 0
    capsys.readouterr()
    # after `--`, `wattprint run` passes everything to the command: an option there is the command's
    monkeypatch.setenv("WATTPRINT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert main(["run", "--db", str(tmp_path / "runs.db"), "--interval", "1", "--", "echo", "--interval", "2"]) == 0


@pytest.mark.parametrize("argv", [[], ["estimate"], ["data"], ["runs"]])
def test_a_group_without_its_sub_command_prints_its_usage_on_stderr(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("usage: wattprint")


@pytest.mark.parametrize("argv", [
    [*TRAIN, "--pue", ""], [*TRAIN, "--location", " "], [*TRAIN, "--mix", ""],
    ["estimate", "inference", "--model", "llama-3.1-8b", "--engine", ""],
    ["estimate", "inference", "--params", "7B", "--attention", ""],
    ["estimate", "training", "--hardware", "", "--count", "8", "--days", "2"],
])
def test_an_option_given_an_empty_value_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """An unset shell variable (`--location "$SITE"`) was read as the option left out: the world average, silently."""
    assert "given an empty value" in _usage_error(argv, capsys)


@pytest.mark.parametrize("argv, prog", [(["data", "models", "foo"], "wattprint data models"),
                                        (["demo", "--bogus"], "wattprint demo"),
                                        (["runs", "list", "extra"], "wattprint runs list")])
def test_a_leftover_word_is_refused_by_the_command_that_was_given_it(
        argv: list[str], prog: str, capsys: pytest.CaptureFixture[str]) -> None:
    """It was "wattprint: error: unrecognized arguments: foo", as if the top level had been given it."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert capsys.readouterr().err.strip() == f"{prog}: error: unrecognized arguments: {argv[-1]}"
