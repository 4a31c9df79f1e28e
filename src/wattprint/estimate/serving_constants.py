"""The sourced constants of the serving model (``refdata/inference_model.csv``) and the unit conversions it uses.

Every constant has a central value, a low-high range, a unit and a source; the CSV is embedded as
``estimate/inference_model.csv`` and read once, on first use.
"""

from __future__ import annotations

import csv
import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ..errors import InputConflictError
from ..footprint import HOURS_PER_YEAR, Assumption
from ..quantities import Range
from .common import CHIPS_BOUND_SAID, MAX_CHIPS_AT_ONCE

J_PER_KWH = 3.6e6
J_PER_WH = 3600.0
S_PER_DAY = 86400.0
DAYS_PER_YEAR = HOURS_PER_YEAR / 24.0


@dataclass(frozen=True)
class Constant:
    """One sourced model constant: central value, low-high range, unit and source."""

    name: str
    value: float
    low: float
    high: float
    unit: str
    source: str
    year: int
    note: str

    @property
    def range(self) -> Range:
        return Range(self.value, self.low, self.high)

    def assumption(self, what: str, fmt: str = ".3g") -> Assumption:
        return Assumption(what, f"{self.range:{fmt}} {self.unit}",
                          self.source, self.note)


@lru_cache(maxsize=1)
def constants() -> dict[str, Constant]:
    """The sourced constants of the inference model, by name (loaded lazily from the embedded CSV)."""
    text = resources.files(__package__).joinpath("inference_model.csv").read_text(encoding="utf-8")
    out: dict[str, Constant] = {}
    for row in csv.DictReader(text.splitlines()):
        out[row["name"]] = Constant(row["name"], float(row["value"]), float(row["low"]), float(row["high"]),
                                    row["unit"], row["source"], int(row["year"]), row["note"])
    return out


def check_chips_chosen(what: str, chips: float, fix: str) -> None:
    """Refuse a replica or a fleet the estimate sizes itself beyond the bound a given --count meets
    (common.MAX_CHIPS_AT_ONCE), which only a mistyped input reaches. ``what`` says what needs ``chips``
    accelerators at once (inf: past the floating-point range), ``fix`` which flag to check."""
    if chips <= MAX_CHIPS_AT_ONCE:
        return
    amount = f"~{chips:.3g}" if math.isfinite(chips) else f"more than {sys.float_info.max:.3g}"
    raise InputConflictError(f"{what} needs {amount} accelerators at once, {CHIPS_BOUND_SAID}; {fix}")
