"""A number with a low-high range that flows through arithmetic.

Every figure wattprint reports is a :class:`Range`: a central value plus the bounds that follow from
the ranges of the assumed inputs. Arithmetic is interval arithmetic, so the bounds are worst-case
(all inputs at their extremes together), which is what a reader needs to trust a "no more than".

    >>> Range(2.0, 1.5, 3.0) * 10
    Range(value=20.0, low=15.0, high=30.0)
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass

from .errors import ECHO_LIMIT, InputConflictError, echo, shown

Number = int | float


@dataclass(frozen=True)
class Range:
    """A central ``value`` with ``low <= value <= high``; an exact number has low == value == high."""

    value: float
    low: float
    high: float

    def __post_init__(self) -> None:
        for name in ("value", "low", "high"):
            x = getattr(self, name)
            if type(x) is not float or x != x:  # a float other than NaN as it is (the common case, kept fast)
                object.__setattr__(self, name, _bound(x))
        if not (self.low <= self.value <= self.high):
            # tolerate float noise from arithmetic on equal bounds: relative to the magnitudes involved, so a
            # small quantity (kWh of one request) is held to the same standard as a large one
            eps = 1e-12 * max(abs(self.low), abs(self.value), abs(self.high))
            if math.isfinite(eps) and self.low - eps <= self.value <= self.high + eps:
                object.__setattr__(self, "low", min(self.low, self.value))
                object.__setattr__(self, "high", max(self.high, self.value))
            else:
                raise InputConflictError(f"Range needs low <= value <= high, got value={shown(self.value)}, "
                                         f"low={shown(self.low)}, high={shown(self.high)}")

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def exact(cls, value: Number) -> Range:
        """A number known exactly (given by the user or measured)."""
        v = _bound(value)
        return cls(v, v, v)

    @classmethod
    def of(cls, x: Range | Number) -> Range:
        """Coerce a plain number to an exact Range; pass a Range through."""
        return x if isinstance(x, Range) else cls.exact(x)

    @classmethod
    def relative(cls, value: Number, low_factor: float, high_factor: float) -> Range:
        """``value`` with bounds at ``value * low_factor`` and ``value * high_factor`` (ordered, so a negative
        value or factors given high first still make a valid range)."""
        v = _bound(value)
        a, b = v * _bound(low_factor), v * _bound(high_factor)
        return cls(v, min(a, b), max(a, b))

    # -- properties ---------------------------------------------------------------------------
    @property
    def is_exact(self) -> bool:
        return self.low == self.high

    def contains(self, x: Number) -> bool:
        return self.low <= x <= self.high

    def width_factor(self) -> float:
        """high / low: how many-fold the range spans (inf when low is 0)."""
        return math.inf if self.low <= 0 else self.high / self.low

    # -- arithmetic (interval) -----------------------------------------------------------------
    def __add__(self, other: Range | Number) -> Range:
        o = Range.of(other)
        return Range(self.value + o.value, self.low + o.low, self.high + o.high)

    __radd__ = __add__

    def __sub__(self, other: Range | Number) -> Range:
        o = Range.of(other)
        return Range(self.value - o.value, self.low - o.high, self.high - o.low)

    def __rsub__(self, other: Range | Number) -> Range:
        return Range.of(other) - self

    def __mul__(self, other: Range | Number) -> Range:
        o = Range.of(other)
        corners = (self.low * o.low, self.low * o.high, self.high * o.low, self.high * o.high)
        return Range(self.value * o.value, min(corners), max(corners))

    __rmul__ = __mul__

    def __truediv__(self, other: Range | Number) -> Range:
        o = Range.of(other)
        if o.low <= 0 <= o.high:
            raise ZeroDivisionError("division by a range that contains zero")
        return self * Range(1.0 / o.value, 1.0 / o.high, 1.0 / o.low)

    def __rtruediv__(self, other: Range | Number) -> Range:
        return Range.of(other) / self

    def scale(self, factor: float) -> Range:
        return self * factor

    def round(self, digits: int = 6) -> Range:
        return Range(round(self.value, digits), round(self.low, digits), round(self.high, digits))

    # -- output -------------------------------------------------------------------------------
    def as_fields(self, name: str) -> dict[str, float]:
        """``{name: value, name_low: low, name_high: high}`` for flat JSON output."""
        return {name: self.value, f"{name}_low": self.low, f"{name}_high": self.high}

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}

    def __format__(self, spec: str) -> str:
        value, low, high = (format(x + 0.0, spec) for x in (self.value, self.low, self.high))  # -0.0 as 0
        if low == value == high:  # exact, or bounds apart by float rounding only ("8766 (8766–8766)")
            return value
        return f"{value} ({low}–{high})"

    def __str__(self) -> str:
        return format(self, ".4g")


def is_number(value: object) -> bool:
    """A real number of any numeric type (int, float, numpy scalars, Fraction, Decimal), but not a bool."""
    if type(value) is float or type(value) is int:  # the usual case, without importing numbers (a tracker's start)
        return True
    import numbers  # first use only: a float Range never asks

    if isinstance(value, bool) or type(value).__name__ == "bool_":  # numpy's bool is not numbers.Real either
        return False
    if isinstance(value, numbers.Real):
        return True
    decimal = sys.modules.get("decimal")  # a Decimal exists only once its module is imported: never imported here
    return decimal is not None and isinstance(value, decimal.Decimal)


def _bound(x: object) -> float:
    """A Range's value, bound or factor as a float: any real number (:func:`is_number`); InputConflictError for
    anything else (a string, None, a bool, NaN) and for a number no float holds."""
    if not is_number(x):
        raise InputConflictError(f"Range value and bounds must be numbers (not NaN), got {shown(x)}")
    try:
        f = float(x)  # type: ignore[arg-type]  # a real number: is_number
    except OverflowError:
        raise InputConflictError(f"Range value and bounds must fit a float (at most ~1.8e308), got {shown(x)}") \
            from None
    except (TypeError, ValueError):  # Decimal('sNaN'), an object whose __float__ refuses
        raise InputConflictError(f"Range value and bounds must be numbers (not NaN), got {shown(x)}") from None
    if math.isnan(f):
        raise InputConflictError(f"Range value and bounds must be numbers (not NaN), got {shown(x)}")
    return f


def total(ranges: list[Range]) -> Range:
    """Sum of ranges (exact zero for an empty list)."""
    out = Range.exact(0.0)
    for r in ranges:
        out = out + r
    return out


def format_count(n: float) -> str:
    """A count as people write model sizes: 7B, 1.4T, 125M, 950 (the suffixes ``parse_count`` reads).

    >>> format_count(7e10)
    '70B'
    """
    for suffix, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.4g}{suffix}"
    return f"{n:.4g}"


def float_text(text: str) -> float:
    """``float(text)``, except that a number written out that a float cannot hold raises OverflowError, as float()
    of a too-large int does, its message saying the number as given: one too large ("1e400", which float() reads as
    inf: only an infinity spelled out, "inf", is infinite) or too close to zero ("1e-400", which float() reads as
    0: only a zero written out is zero). ValueError where the text is no number."""
    value = float(text)
    if math.isinf(value) and "inf" not in text.lower():
        raise OverflowError(too_large_text(text))
    if value == 0 and _nonzero_digit(text):
        raise OverflowError(too_small_text(text))
    return value


def too_large_text(text: str) -> str:
    """What a message says of a number written out that a float cannot hold: "'1e400' is too large: ..."."""
    return f"{echo(text)} is too large: it leaves the floating-point range"


def too_small_text(text: str) -> str:
    """What a message says of a number written out that a float holds as 0: "'1e-400' is too close to zero: ..."
    (not the "got 0" of a check that sees only the float)."""
    return f"{echo(text)} is too close to zero: it leaves the floating-point range (a float reads it as 0)"


def _nonzero_digit(text: str) -> bool:
    """True when the number in ``text`` has a digit other than 0 before its exponent: it is not zero as written."""
    mantissa = re.split("[eE]", text, maxsplit=1)[0]
    return any(ch.isdecimal() and int(ch) != 0 for ch in mantissa)


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_DIGIT_GROUPS = re.compile(r"(?<=\d)_(?=\d)")  # the underscores a Python literal allows: between two digits
_COUNT_SUFFIXES = "kKmMbBGtTP"  # the letters parse_count reads after a count (7B, 1.4T, 125m)


def decimal_point_hint(text: str, suffixes: str = "") -> str | None:
    """For a number written with a decimal comma ("1,2"; with ``suffixes``, the letters a count may end in, "7,5B"),
    what a message says to write instead: "write decimals with a point: 1.2". None for other text (and for text too
    long to repeat)."""
    given = text.strip()
    number = given.rstrip(suffixes) if suffixes else given
    if number.count(",") != 1 or len(given) > ECHO_LIMIT:
        return None
    try:
        float(number.replace(",", "."))
    except ValueError:
        return None
    return f"write decimals with a point: {given.replace(',', '.')}"


def parse_count(text: str) -> float:
    """Parse an absolute count as users write it: ``7e9``, ``7000000000``, ``7B``, ``1.4T``, ``70M``; the
    lower-case ``7b``, ``15t``, ``125m`` of model names too (a count has no milli-, so ``m`` is million).

    >>> parse_count("1.4T")
    1400000000000.0
    """
    s = text.strip()
    if "_" in s:  # as in a Python literal: one underscore between two digits (7_000_000), nowhere else
        if _DIGIT_GROUPS.sub("", s).count("_"):
            raise InputConflictError(f"not a number: {echo(text)} (an underscore may only separate digits, as in "
                                     "7_000_000)")
        s = s.replace("_", "")
    if "," in s:
        # a comma is a thousands separator only (1,000 or 1,234,567.5); "7,5B" is a decimal comma, read as 75B
        # if the commas were dropped, so it is refused rather than guessed
        if not _THOUSANDS.fullmatch(s.rstrip(_COUNT_SUFFIXES).strip()):
            hint = decimal_point_hint(text, _COUNT_SUFFIXES) or "write decimals with a point: 7.5B"
            raise InputConflictError(f"not a number: {echo(text)} (a comma may only separate thousands, as in "
                                     f"1,000; {hint})")
        s = s.replace(",", "")
    suffixes = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "b": 1e9, "B": 1e9, "G": 1e9, "t": 1e12, "T": 1e12,
                "P": 1e15}
    mult, suffix = 1.0, ""
    if s and s[-1] in suffixes:
        suffix = s[-1]
        mult = suffixes[suffix]
        s = s[:-1]
    try:
        value = float_text(s) * mult
    except ValueError:
        raise InputConflictError(f"not a number: {echo(text)} (write e.g. 7e9, 7000000000, 7B or 1.4T)") from None
    except OverflowError:  # inf or 0 as float() reads it: said below, as given
        value = float(s)
    if suffix and "e" in s.lower():  # "7e9B" is 7e18: both scales given, one of them surely by mistake
        raise InputConflictError(_exponent_and_suffix(text, s.strip(), suffix))
    if value == 0 and _nonzero_digit(s):  # "1e-400": said as given, not as the 0 a float makes of it
        raise InputConflictError(too_small_text(text))
    if math.isinf(value) and "inf" not in s.lower():  # "1e400", "9e300T": said as given, not as "inf"
        raise InputConflictError(too_large_text(text))
    return value


def _exponent_and_suffix(text: str, number: str, suffix: str) -> str:
    """The message for a count with both an exponent and a suffix, showing the two ways it was likely meant:
    "7e9B: give either an exponent (7e9) or a suffix (7B), not both"."""
    given = text.strip()
    if len(given) > ECHO_LIMIT:  # the two readings would repeat a wall of text twice more
        return f"{echo(given)}: give either an exponent or a suffix (as in 7e9 or 7B), not both"
    mantissa = re.split("[eE]", number, maxsplit=1)[0]
    return f"{given}: give either an exponent ({number}) or a suffix ({mantissa}{suffix}), not both"
