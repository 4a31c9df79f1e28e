"""A check the tests of added catalogue rows share: each row names where its figures come from and its year, and
says that some are unconfirmed."""

from __future__ import annotations

from typing import Any

from wattprint.data import find_accelerator


def sourced_uncertain_row(name: str, year: int, cited: str) -> Any:
    """The catalogue row ``name`` resolves to, asserted to carry ``year``, ``cited`` in its source and the UNCERTAIN
    flag with its note (values read only in copies or derived are said, not hidden)."""
    acc = find_accelerator(name)[0]
    assert acc.year == year and cited in acc.source
    assert acc.uncertain and "UNCERTAIN" in acc._raw["uncertain_note"]
    return acc
