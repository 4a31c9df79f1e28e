"""Years and mix shares of any numeric type: numpy scalars are numbers, a huge int is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from wattprint.errors import InputConflictError
from wattprint.intensity import check_year, intensity_from_mix


def test_a_year_may_be_a_numpy_int_and_a_huge_int_is_refused_clearly() -> None:
    assert check_year(np.int64(2021)) == 2021
    assert check_year(2021.0) == 2021
    for bad in (10**400, 2021.5, float("nan"), True, "2021", 0):
        with pytest.raises(InputConflictError, match="whole year"):
            check_year(bad)


def test_mix_shares_may_be_numpy_numbers_and_a_huge_int_is_refused_clearly() -> None:
    assert intensity_from_mix({"coal": np.float32(60), "gas": np.int64(40)}).g_per_kwh.value == pytest.approx(
        intensity_from_mix({"coal": 60, "gas": 40}).g_per_kwh.value)
    with pytest.raises(InputConflictError, match="too large"):
        intensity_from_mix({"coal": 10**400})
    with pytest.raises(InputConflictError, match="finite"):
        intensity_from_mix({"coal": float("inf")})
