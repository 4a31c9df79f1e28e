"""argparse value types shared by the command groups: a bad value is a one-line usage error (exit 2)."""

from __future__ import annotations

import argparse
import math


def count(text: str) -> float:
    """Absolute count: 7e9, 7000000000, 7B, 1.4T."""
    from ..quantities import parse_count

    try:
        return parse_count(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def whole(text: str) -> int:
    value = count(text)
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(value)


def year(text: str) -> int:
    """A calendar year as written: digits only (a count's suffixes and exponents are not a year)."""
    t = text.strip()
    if not t.isdigit():
        raise argparse.ArgumentTypeError(f"not a year: {text!r} (write e.g. 2023)")
    return int(t)


class JoinWords(argparse.Action):
    """Stores the words of a multi-word name given without quotes (``--hardware TPU v4``) as one string."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
        option_string: str | None = None,
    ) -> None:
        words = values if isinstance(values, list) else [values]
        setattr(namespace, self.dest, " ".join(str(w) for w in words))
