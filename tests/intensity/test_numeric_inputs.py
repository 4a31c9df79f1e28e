"""Years and mix shares of any numeric type: numpy scalars are numbers, a huge int is a clear error."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from wattprint.errors import InputConflictError
from wattprint.intensity import check_year, intensity_from_mix


def test_a_year_may_be_a_numpy_int_and_a_huge_int_is_refused_clearly() -> None:
    assert check_year(np.int64(2021)) == 2021
    assert check_year(2021.0) == 2021
    for bad in (2021.5, float("nan"), True, "2021", 0):
        with pytest.raises(InputConflictError, match="whole year"):
            check_year(bad)
    with pytest.raises(InputConflictError, match="out of range"):  # a whole number, past any year
        check_year(10**400)


def test_mix_shares_may_be_numpy_numbers_and_a_huge_int_is_refused_clearly() -> None:
    assert intensity_from_mix({"coal": np.float32(60), "gas": np.int64(40)}).g_per_kwh.value == pytest.approx(
        intensity_from_mix({"coal": 60, "gas": 40}).g_per_kwh.value)
    with pytest.raises(InputConflictError, match="too large"):
        intensity_from_mix({"coal": 10**400})
    with pytest.raises(InputConflictError, match="finite"):
        intensity_from_mix({"coal": float("inf")})


def test_an_integral_decimal_or_fraction_is_a_year_as_an_integral_float_is() -> None:
    """Decimal('2023') was refused where 2023.0 was accepted."""
    assert check_year(Decimal("2023")) == 2023 and check_year(Decimal("2023.0")) == 2023
    assert check_year(Fraction(2023)) == 2023 and check_year(np.float64(2023)) == 2023
    for bad in (Decimal("2023.5"), Fraction(4047, 2), Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity")):
        with pytest.raises(InputConflictError, match="whole year"):
            check_year(bad)


@pytest.mark.parametrize("year", [10**6, 10**400, 1e7, Decimal("1e400"), Decimal("1e999999999")])
def test_a_whole_year_past_the_range_is_out_of_range(year: object) -> None:
    """10**6 was "must be a whole year such as 2023": it is one, too large; the message says the range."""
    with pytest.raises(InputConflictError, match=r"^year .* is out of range: give a year from 1 to 999,999"):
        check_year(year)
    assert check_year(999_999) == 999_999


def test_both_estimators_take_a_decimal_year() -> None:
    from wattprint.estimate.inference import estimate_inference
    from wattprint.estimate.training import estimate_training

    for estimate, kw in ((estimate_training, {"tokens": 1e12, "hardware": "A100", "count": 8}),
                         (estimate_inference, {})):
        as_int = estimate(params=7e9, location="FR", year=2021, **kw)  # type: ignore[operator]
        as_decimal = estimate(params=7e9, location="FR", year=Decimal("2021"), **kw)  # type: ignore[operator]
        assert as_decimal.to_dict() == as_int.to_dict()
