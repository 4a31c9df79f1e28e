"""`wattprint estimate` argument types: counts with commas, years, precision names."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.quantities import parse_count


def test_a_comma_separates_thousands_and_a_decimal_comma_is_refused() -> None:
    assert parse_count("1,000") == 1000
    assert parse_count("1,234,567.5") == 1234567.5
    assert parse_count("12,000B") == 12e12
    for text in ("7,5B", "1,5T", "1,2,3", "1,0000", ",100"):  # read as 75B, 15T, 123... if the commas were dropped
        with pytest.raises(ValueError, match="comma"):
            parse_count(text)


def test_decimal_comma_on_the_command_line_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["estimate", "training", "--params", "7,5B", "--tokens", "1T", "--hardware", "A100", "--count", "8"])
    assert e.value.code == 2
    assert "decimals with a point" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["2k", "2.02k", "2e3", "abc", "2020.5"])
def test_a_year_is_digits_not_a_count(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["estimate", "training", "--hardware", "A100", "--count", "8", "--days", "1", "--location", "FR",
              "--year", text])
    assert e.value.code == 2
    assert "not a year" in capsys.readouterr().err


def test_precision_names_are_case_insensitive_as_in_the_python_api(capsys: pytest.CaptureFixture[str]) -> None:
    main(["estimate", "training", "--hardware", "H100", "--count", "8", "--params", "1B", "--tokens", "20B",
          "--precision", "FP8", "--location", "FR", "--year", "2021", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert any(a["what"].startswith("MFU") and "of the fp8 peak" in a["value"] for a in out["assumptions"])


def test_gpu_hours_is_the_name_papers_use_for_chip_hours(capsys: pytest.CaptureFixture[str]) -> None:
    main(["estimate", "training", "--gpu-hours", "1.72e6", "--hardware", "A100", "--power-w", "400", "--pue", "1.1",
          "--intensity", "385", "--json"])
    assert json.loads(capsys.readouterr().out)["chip_hours"] == 1.72e6
    with pytest.raises(SystemExit) as e:  # one quantity under two names: giving both differently is a conflict
        main(["estimate", "training", "--gpu-hours", "1000", "--chip-hours", "2000", "--hardware", "A100"])
    assert e.value.code == 2
    assert "given twice" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["-7B", "-7e9", "-1.5T", "-.5"])
def test_a_negative_count_is_refused_as_negative_not_as_a_missing_value(
        text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse took "-7B" and "-7e9" for options and said "--params: expected one argument"."""
    # the option's own check refuses it (a WattprintError: exit status 2, returned), not argparse (SystemExit)
    assert main(["estimate", "training", "--params", text, "--tokens", "1T", "--hardware", "A100", "--count", "8"]) == 2
    err = capsys.readouterr().err
    assert "--params (params) must be > 0" in err and "expected one argument" not in err


@pytest.mark.parametrize("text", ["-inf", "-Infinity", "-nan"])
def test_a_negative_infinity_is_refused_by_the_option_not_taken_for_one(
        text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """argparse took "-inf" for an option and said "--input-tokens: expected one argument"."""
    assert main(["estimate", "inference", "--params", "8B", "--hardware", "H100", "--input-tokens", text]) == 2
    err = capsys.readouterr().err
    assert "--input-tokens (input_tokens) must be a finite number" in err and "expected one argument" not in err


def test_an_unknown_option_is_still_an_unknown_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["estimate", "training", "--params", "7B", "--tokens", "1T", "--hardware", "A100", "-x"])
    assert e.value.code == 2
    assert "unrecognized arguments: -x" in capsys.readouterr().err


def test_a_missing_training_precision_names_only_precisions_training_takes(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The Ascend 910 (fp16 and int8 peaks) at fp32 said '(it has: fp16, int8)', but training's --precision refuses
    int8: the error offered a precision the command does not take."""
    assert main(["estimate", "training", "--hardware", "Ascend 910", "--precision", "fp32", "--params", "1B",
                 "--tokens", "20B", "--count", "8"]) == 2
    err = capsys.readouterr().err
    assert "no published dense fp32 peak (it has: fp16)" in err and "int8" not in err


def test_a_missing_peak_still_names_every_peak_where_the_caller_takes_all() -> None:
    from wattprint.data import find_accelerator
    from wattprint.errors import WattprintError

    with pytest.raises(WattprintError, match=r"\(it has: fp16, int8\)"):
        find_accelerator("Ascend 910")[0].peak_flops("fp32")


def _exit_code(argv: list[str]) -> int | str | None:
    """main()'s exit status, whether argparse refused the value (SystemExit) or the estimator did (returned)."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


def _refused_on_one_line(kind: str, extra: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """stderr of `wattprint estimate KIND` (a 7B model on A100s) with ``extra``, asserted refused: exit 2, one line."""
    base = ["--params", "7B", "--hardware", "A100"] + (["--count", "8"] if kind == "training" else [])
    code = _exit_code(["estimate", kind, *base, *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(("kind", "extra"), [
    ("training", ["--tokens", "1e400"]),
    ("training", ["--tokens", "9" * 300 + "T"]),
    ("training", ["--tokens", "1T", "--days", "1e400"]),
    ("training", ["--tokens", "1T", "--pue", "1e400"]),
    ("inference", ["--requests-per-day", "1e400"]),
    ("inference", ["--pue", "1e400"]),
    ("training", ["--tokens", "1T", "--market-intensity", "1e400"]),
    ("inference", ["--requests-per-day", "1000", "--market-intensity", "1e400"]),
])
def test_a_number_too_large_for_a_float_is_said_as_given(kind: str, extra: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    # float("1e400") is inf: the message named "got inf", a value the user never typed
    err = _refused_on_one_line(kind, extra, capsys)
    given = next(x for x in extra if x.startswith(("1e", "999")))
    assert f"{given[:20]}" in err and "is too large" in err and "got inf" not in err, err


@pytest.mark.parametrize(("kind", "extra"), [
    ("training", ["--tokens", "1T", "--days", "1e-400"]),
    ("training", ["--tokens", "1T", "--mfu", "1e-400"]),
    ("training", ["--tokens", "1T", "--power-w", "1e-400"]),
    ("training", ["--tokens", "1T", "--intensity", "1e-400"]),
    ("training", ["--tokens", "1T", "--pue", "1e-400"]),
    ("training", ["--tokens", "1e-400"]),
    ("inference", ["--requests-per-day", "1000", "--utilisation", "1e-400"]),
    ("inference", ["--requests-per-day", "1000", "--tdp-w", "1e-400"]),
    ("inference", ["--requests-per-day", "1e-400"]),
    ("inference", ["--requests-per-day", "1000", "--pue", "1e-400"]),
])
def test_a_number_too_close_to_zero_for_a_float_is_said_as_given(kind: str, extra: list[str],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # float("1e-400") is 0: the message said "must be > 0, got 0", a value the user never typed (an intensity of
    # 1e-400 was used as 0)
    err = _refused_on_one_line(kind, extra, capsys)
    assert "'1e-400' is too close to zero: it leaves the floating-point range" in err and "got 0" not in err, err


def test_an_infinity_spelled_out_is_still_refused_as_not_finite(capsys: pytest.CaptureFixture[str]) -> None:
    code = _exit_code(["estimate", "training", "--params", "7B", "--tokens", "inf", "--hardware", "A100", "--count",
                       "8"])
    assert code == 2 and "finite" in capsys.readouterr().err


_TRAINING = ["estimate", "training", "--params", "7B", "--tokens", "1T", "--hardware", "H100", "--count", "8"]
_SERVING = ["estimate", "inference", "--params", "7B"]


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The one-line error of a command line refused with status 2, by argparse (a value's type) or by the estimate."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code  # type: ignore[assignment]
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(("argv", "said"), [
    ([*_TRAINING, "--mfu", "40%"], "argument --mfu: not a number: '40%' (a fraction: write 0.4)"),
    ([*_TRAINING, "--power-fraction", "85%"], "argument --power-fraction: not a number: '85%' (a fraction: write "
                                              "0.85)"),
    ([*_SERVING, "--utilisation", "50 %"], "argument --utilisation: not a number: '50 %' (a fraction: write 0.5)"),
    ([*_SERVING, "--sliding-window", "4096", "--window-layers", "50%"],
     "argument --window-layers: not a number: '50%' (a fraction: write 0.5)"),
    ([*_TRAINING, "--mfu", "a%"], "argument --mfu: not a number: 'a%' (a fraction: write 0.4 for 40 %)"),
])
def test_a_percentage_for_a_fraction_says_the_fraction(argv: list[str], said: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert said in _refused(argv, capsys)


@pytest.mark.parametrize(("argv", "said"), [
    ([*_TRAINING, "--pue", "1,2"], "PUE '1,2' is not a number (write decimals with a point: 1.2)"),
    ([*_SERVING, "--pue", "1,15"], "PUE '1,15' is not a number (write decimals with a point: 1.15)"),
    ([*_TRAINING, "--mfu", "0,4"], "argument --mfu: not a number: '0,4' (write decimals with a point: 0.4)"),
    ([*_TRAINING, "--params", "1,5M"], "write decimals with a point: 1.5M)"),  # its own number, not 7.5B
])
def test_a_decimal_comma_says_to_write_a_point(argv: list[str], said: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert said in _refused(argv, capsys)


def test_a_pue_that_is_no_number_with_a_comma_is_still_an_unknown_preset(capsys: pytest.CaptureFixture[str]) -> None:
    assert "unknown PUE preset '1,2x'" in _refused([*_TRAINING, "--pue", "1,2x"], capsys)


def test_a_value_just_above_a_bound_is_said_with_its_digits(capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused([*_TRAINING, "--mfu", "1.0000001"], capsys)
    assert "--mfu (mfu) is a fraction of peak (0-1], got 1.0000001\n" in err


@pytest.mark.parametrize("year", ["1000000", "99999999999999999999"])
def test_a_year_too_large_is_out_of_range_not_fractional(year: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused([*_TRAINING, "--location", "FR", "--year", year], capsys)
    assert f"year {year} is out of range: give a year from 1 to 999,999 (e.g. 2023)" in err
    assert "whole year" not in err


@pytest.mark.parametrize(("kind", "flag"), [("training", "--intensity"), ("training", "--days"),
                                            ("inference", "--intensity")])
def test_a_number_flag_given_an_empty_value_says_so(kind: str, flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    # --intensity "$G" with G unset said "not a number: ''" where --pue and --location say "given an empty value"
    extra = ["--tokens", "1T"] if kind == "training" else ["--requests-per-day", "1000"]
    err = _refused_on_one_line(kind, [*extra, flag, ""], capsys)
    assert "given an empty value" in err, err
