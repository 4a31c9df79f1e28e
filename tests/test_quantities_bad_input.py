"""Bad input to the public quantities (Range, parse_count): the project's one-line input error, never a bare
ValueError or an absurd number."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

import wattprint
from wattprint.cli import main
from wattprint.errors import InputConflictError, WattprintError
from wattprint.quantities import float_text, parse_count


@pytest.mark.parametrize("args", [(5e5, 6e5, 4e5), (1.0, 2.0, 3.0), (math.nan, math.nan, math.nan),
                                  (1.0, math.nan, 2.0), ("1", 0, 2), (10**400, 1, 2**2000)])
def test_an_impossible_range_is_an_input_error(args: tuple[object, object, object]) -> None:
    with pytest.raises(InputConflictError) as e:
        wattprint.Range(*args)  # type: ignore[arg-type]  # what a user can pass, typed or not
    assert isinstance(e.value, WattprintError) and isinstance(e.value, ValueError)  # `except ValueError` still works
    assert "\n" not in str(e.value) and len(str(e.value)) < 200


def test_an_inverted_range_names_which_number_is_which() -> None:
    with pytest.raises(InputConflictError, match=r"value=500000\.0, low=600000\.0, high=400000\.0"):
        wattprint.Range(5e5, 6e5, 4e5)


def test_catching_wattprint_errors_around_an_estimate_catches_a_bad_range_given_to_it() -> None:
    with pytest.raises(WattprintError):
        wattprint.estimate_inference(7e9, training_co2e_kg=wattprint.Range(5e5, 6e5, 4e5), requests_per_day=1000)


@pytest.mark.parametrize(("text", "message"), [
    ("7e9B", "7e9B: give either an exponent (7e9) or a suffix (7B), not both"),
    ("1.4e12T", "1.4e12T: give either an exponent (1.4e12) or a suffix (1.4T), not both"),
    ("7E9 b", "7E9 b: give either an exponent (7E9) or a suffix (7b), not both"),
    ("1e3k", "1e3k: give either an exponent (1e3) or a suffix (1k), not both"),
    ("7e0B", "7e0B: give either an exponent (7e0) or a suffix (7B), not both"),
])
def test_a_count_with_both_an_exponent_and_a_suffix_is_refused(text: str, message: str) -> None:
    with pytest.raises(InputConflictError) as e:
        parse_count(text)
    assert str(e.value) == message


def test_a_long_count_with_exponent_and_suffix_is_refused_without_repeating_it() -> None:
    with pytest.raises(InputConflictError, match="not both") as e:
        parse_count("1" * 500 + "e9B")
    assert len(str(e.value)) < 200


@pytest.mark.parametrize(("text", "value"), [
    ("7b", 7e9), ("125m", 125e6), ("1.4T", 1.4e12), ("1,000", 1e3), ("1_000B", 1e12), ("\uff17B", 7e9),
    ("\uff17e\uff19", 7e9), ("7e9", 7e9), ("7E9", 7e9), ("12,000B", 12e12), (" 70M ", 70e6),
])
def test_counts_written_one_way_are_still_read(text: str, value: float) -> None:
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["seven", "7BB", "7bn", "1.5e", "7,5B"])
def test_a_count_that_is_not_a_number_is_an_input_error(text: str) -> None:
    with pytest.raises(InputConflictError):
        parse_count(text)


def test_exponent_and_suffix_on_the_command_line_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["estimate", "training", "--params", "7e9B", "--tokens", "1T", "--hardware", "A100", "--count", "8"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "7e9B: give either an exponent (7e9) or a suffix (7B), not both" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("text", ["1e-400", "-1e-400", "0.5e-330", "1_0e-400"])
def test_a_number_too_close_to_zero_for_a_float_is_said_as_given_not_read_as_0(text: str) -> None:
    """float() reads 1e-400 as 0: a check downstream then said "got 0", a value never given (or took it as 0)."""
    with pytest.raises(OverflowError, match=f"'{text}' is too close to zero: it leaves the floating-point range"):
        float_text(text)
    with pytest.raises(InputConflictError, match=f"'{text}' is too close to zero"):
        parse_count(text)


@pytest.mark.parametrize("text", ["0", "-0.0", "0e-400", "0.000e5"])
def test_a_zero_written_out_is_still_zero(text: str) -> None:
    assert float_text(text) == 0 and parse_count(text) == 0


def test_a_number_near_the_bottom_of_the_float_range_is_still_read() -> None:
    assert 0 < float_text("1e-320") < 1e-319  # subnormal, but not zero


@pytest.mark.parametrize("text", ["7__0B", "_7", "7_", "7_B", "1__000"])
def test_an_underscore_only_separates_digits_in_a_count(text: str) -> None:
    # '7__0B' was read as 70B and '_7' as 7, where Python's own literals refuse both
    with pytest.raises(InputConflictError, match="an underscore may only separate digits"):
        parse_count(text)
    assert parse_count("7_000_000") == 7e6 and parse_count("1_000.5") == 1000.5


@pytest.mark.parametrize("make", [
    lambda: wattprint.Range.exact("5"), lambda: wattprint.Range.exact(10**400), lambda: wattprint.Range.exact(None),
    lambda: wattprint.Range(1, 0, 2) * None, lambda: wattprint.Range(1, 0, 2) + "x",
    lambda: wattprint.Range.relative(1, "a", 2), lambda: wattprint.Range(Decimal("sNaN"), 0, 1),
])
def test_every_way_to_make_a_range_refuses_what_is_no_number_on_one_line(make: Any) -> None:
    # Range('5', 0, 2) was refused but Range.exact('5') accepted; exact(10**400) raised OverflowError, * None and
    # + 'x' a TypeError or ValueError from deep inside
    with pytest.raises(InputConflictError, match="Range value and bounds must"):
        make()


def test_a_range_takes_any_real_number_and_shows_no_negative_zero() -> None:
    r = wattprint.Range(Decimal("1.5"), Fraction(1, 2), 2)
    assert (r.value, r.low, r.high) == (1.5, 0.5, 2.0) and all(type(x) is float for x in (r.value, r.low, r.high))
    assert str(wattprint.Range(-0.0, 0, 0)) == "0"
