"""argparse value types shared by the command groups: a bad value is a one-line usage error (exit 2)."""

from __future__ import annotations

import argparse
import math
from typing import Any


def count(text: str) -> float:
    """Absolute count: 7e9, 7000000000, 7B, 1.4T."""
    from ..quantities import parse_count

    try:
        return parse_count(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def counts(text: str) -> list[float]:
    """Comma-separated absolute counts: "8B,70B" -> [8e9, 7e10]."""
    parts = [p.strip() for p in text.split(",")]
    if not all(parts):
        raise argparse.ArgumentTypeError(f"not a list of counts: {text!r} (write e.g. 8B or 8B,70B)")
    return [count(p) for p in parts]


def number(text: str) -> float:
    """A number option's value (of estimate and of run: one wording for all); one a float cannot hold (1e400,
    1e-400) is said as given, not as the inf or 0 float() makes of it; one with a decimal comma (1,5) says to write
    a point."""
    from ..quantities import decimal_point_hint, float_text

    if not text.strip():  # as every option given "" says: --intensity "$G" with G unset
        raise argparse.ArgumentTypeError("given an empty value: give one, or leave the option out")
    try:
        return float_text(text)
    except ValueError:
        hint = decimal_point_hint(text)
        raise argparse.ArgumentTypeError(f"not a number: {text!r}" + (f" ({hint})" if hint else "")) from None
    except OverflowError as e:  # "1e400", "1e-400": said as given
        raise argparse.ArgumentTypeError(str(e)) from None


def fraction(text: str) -> float:
    """A fraction option's value (--mfu, --power-fraction, --utilisation, --window-layers), read as :func:`number`;
    a percentage ("40%") is refused with the fraction it stands for ("write 0.4")."""
    try:
        return number(text)
    except argparse.ArgumentTypeError as e:
        percent = text.strip()
        if not percent.endswith("%"):
            raise
        from ..quantities import float_text

        try:
            meant = f"write {float_text(percent[:-1].strip()) / 100:g}"
        except (ValueError, OverflowError):
            meant = "write 0.4 for 40 %"
        raise argparse.ArgumentTypeError(f"{e} (a fraction: {meant})") from None


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


def given_once(action: argparse.Action, parser: argparse.ArgumentParser, value: object) -> None:
    """An option given twice with different values is a usage error: argparse keeps the last without a word, so
    ``--count 64 ... --count 8`` ran with 8. The same value twice passes. Parsers that record what was given (the
    command line's, cli._Parser) are checked; others are not."""
    given: dict[str, object] | None = getattr(parser, "given_values", None)
    if given is None:
        return
    if action.dest in given and not _same(given[action.dest], value):
        def said(v: object) -> str:
            return f"{v:g}" if isinstance(v, float) else repr(v)

        raise argparse.ArgumentError(action, f"given twice ({said(given[action.dest])}, then {said(value)}); "
                                             "give it once")
    given[action.dest] = value


def _same(a: object, b: object) -> bool:
    """Equal values, or the same number written two ways (``--pue 1.1 --pue 1.10``; names are compared as given,
    blanks and case aside)."""
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str):
        try:
            return float(a) == float(b)
        except ValueError:
            return a.strip().lower() == b.strip().lower()
    return False


class Once(argparse._StoreAction):
    """argparse's 'store' (the default action), checked by :func:`given_once`."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
        option_string: str | None = None,
    ) -> None:
        if option_string is not None:  # an option, not a positional argument
            refuse_blank(self, values)
            given_once(self, parser, values)
        super().__call__(parser, namespace, values, option_string)


def refuse_blank(action: argparse.Action, value: object) -> None:
    """An option given an empty value is a usage error: read as not given, ``--location "$SITE"`` with SITE unset
    ran with the world average without a word."""
    if isinstance(value, str) and not value.strip():
        raise argparse.ArgumentError(action, "given an empty value: give one, or leave the option out")


class JoinWords(argparse.Action):
    """Stores the words of a multi-word name given without quotes (``--hardware TPU v4``) as one string."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
        option_string: str | None = None,
    ) -> None:
        words = values if isinstance(values, list) else [values]
        joined = " ".join(str(w) for w in words)
        refuse_blank(self, joined)
        given_once(self, parser, joined)
        setattr(namespace, self.dest, joined)
