"""Grid intensity from a generation mix ("coal=60,gas=40") with per-source lifecycle factors and their ranges,
and the plausibility check of a given intensity. See :mod:`wattprint.intensity`."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ..data import load_table
from ..errors import InputConflictError, UnknownNameError, echo, normalise_name
from ..footprint import Intensity
from ..quantities import Range


def mix_sources() -> list[str]:
    """Generation sources with lifecycle factors (IPCC AR5 WG3 Annex III, plus lignite/oil/other)."""
    return sorted(load_table("factors")["mix_factors"])


def _canonical_source(name: str) -> str:
    aliases = load_table("factors")["mix_aliases"]
    norm = {normalise_name(a): s for a, s in aliases.items()}
    hit = norm.get(normalise_name(name))
    if hit is None:  # nothing close ("unobtanium"): the sources themselves show what a valid name is
        sources = mix_sources()
        common = [s for s in _COMMON_SOURCES if s in sources]
        raise UnknownNameError("generation source", name, list(aliases),
                               examples=common + [s for s in sources if s not in common])
    return str(hit)


# the sources an unknown-source message shows first (it lists eight): the grid's main ones, not alphabetical order
_COMMON_SOURCES = ("coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "biomass")


def parse_mix(text: str) -> dict[str, float]:
    """Parse "coal=60,gas=40" (also "coal:60", "coal 60%", ";" separators) into {source: share}.

    Source names are canonicalised (e.g. "natural gas" -> "gas"); unknown names raise UnknownNameError with
    the closest; values must be numbers (validated further by :func:`intensity_from_mix`)."""
    if text is not None and not isinstance(text, str):
        raise InputConflictError(f"a generation mix is text such as 'coal=60,gas=40' (intensity_from_mix takes a "
                                 f"dict); got {echo(text)} ({type(text).__name__})")
    out: dict[str, float] = {}
    parts = [p for p in re.split(r"[,;]", text or "") if p.strip()]
    if not parts:
        raise InputConflictError(f"empty generation mix {echo(text or '')}; write e.g. coal=60,gas=40")
    for part in parts:
        m = re.fullmatch(r"\s*([A-Za-z][A-Za-z _\-]*?)\s*[=:]?\s*([-+0-9.eE]+)\s*%?\s*", part)
        if not m:
            raise InputConflictError(f"cannot read {echo(part.strip())} in mix {echo(text)}; write e.g. "
                                     "coal=60,gas=40")
        src = _canonical_source(m.group(1))
        try:
            share = float(m.group(2))
        except ValueError:
            raise InputConflictError(f"not a number: {echo(m.group(2))} in mix {echo(text)}") from None
        if src in out:
            raise InputConflictError(f"source {src!r} given twice in mix {echo(text)}")
        out[src] = share
    return out


def _bound(f: dict[str, Any], side: str) -> float:
    """Per-source bound for mixes: the mix-specific override, else the literature min/max, else the median."""
    for key in (f"mix_{side}", side, "g"):
        if f.get(key) is not None:
            return float(f[key])
    return float(f["g"])


# an input check, not data: how far past the most carbon-intensive sourced generation a given intensity may go
# before it is taken for a unit slip (g per MWh, lb, a total instead of a rate)
INTENSITY_SLIP_FACTOR = 2.0


def given_intensity_note(g_per_kwh: float, what: str = "intensity") -> str:
    """'' for a plausible given grid intensity (gCO2e/kWh); a note below 1 (every generation source's lifecycle
    minimum is above it: kgCO2e/kWh given as g?); an error past ``INTENSITY_SLIP_FACTOR`` times the highest
    lifecycle factor of any source (IPCC AR5's maxima). 0 passes: a contractual zero-carbon supply."""
    factors = load_table("factors")["mix_factors"]
    most = {k: float(f["high"] if f.get("high") is not None else f["g"]) for k, f in factors.items()}
    top_name = max(most, key=lambda k: most[k])
    top = most[top_name]
    if g_per_kwh > INTENSITY_SLIP_FACTOR * top:
        raise InputConflictError(
            f"{what} {g_per_kwh:g} gCO2e/kWh is more than {INTENSITY_SLIP_FACTOR:g}x the highest lifecycle factor of "
            f"any generation source ({top:g}, {top_name}'s IPCC AR5 maximum): give grams per kWh (e.g. 400)")
    if 0 < g_per_kwh < 1:
        return (f"{what} below 1 gCO2e/kWh, under every source's lifecycle minimum: if it is kgCO2e/kWh, "
                "give it x1000")
    return ""


def intensity_from_mix(mix: dict[str, float]) -> Intensity:
    """Lifecycle intensity of a generation mix (shares in % summing to 100, or fractions summing to 1).

    value = sum(share x IPCC AR5 median); low/high = sum(share x min/max) (hydro's upper bound from Scherer & Pfister
    2016, see refdata/mix_factor_ranges.csv). Negative or NaN shares -> InputConflictError."""
    if not isinstance(mix, Mapping):
        raise InputConflictError(f"a generation mix maps sources to shares, e.g. {{'coal': 60, 'gas': 40}}; "
                                 f"got {mix!r}")
    if not mix:
        raise InputConflictError("empty generation mix")
    import numbers  # here, not at the top: a tracker imports this module at start-up and needs no mix

    factors = load_table("factors")["mix_factors"]
    shares: dict[str, float] = {}
    for name, share in mix.items():
        if not isinstance(name, str):
            raise InputConflictError(f"a generation mix maps source names to shares, e.g. {{'coal': 60}}; got the "
                                     f"key {name!r}")
        src = _canonical_source(name)
        if src in shares:  # as parse_mix: 'gas' and 'natural gas' are one source
            raise InputConflictError(f"source {src!r} given twice in the mix ({name!r})")
        if isinstance(share, bool) or not isinstance(share, numbers.Real):
            raise InputConflictError(f"mix share for {name!r} must be a number, got {share!r}")
        try:
            value = float(share)
        except OverflowError:  # an int past the float range
            raise InputConflictError(f"mix share for {name!r} is too large to be a share") from None
        if not math.isfinite(value):
            raise InputConflictError(f"mix share for {name!r} must be a finite number, got {share!r}")
        if value < 0:
            raise InputConflictError(f"mix share for {name!r} is negative ({value:g})")
        shares[src] = value + 0.0  # -0.0 -> 0.0: a share given as "-0" is none, not a negative one
    total = sum(shares.values())
    if not (abs(total - 100.0) <= 0.5 or abs(total - 1.0) <= 0.005):
        raise InputConflictError(f"mix shares sum to {total:g}; give percentages summing to 100 or fractions "
                                 "summing to 1")
    v = lo = hi = 0.0
    for src, share in shares.items():
        f = factors[src]
        w = share / total  # normalise away rounding (e.g. 99.9)
        v += w * f["g"]
        lo += w * _bound(f, "low")
        hi += w * _bound(f, "high")
    label = ", ".join(f"{s} {100 * x / total:.3g}%" for s, x in sorted(shares.items(), key=lambda kv: -kv[1])
                      if x > 0)
    return Intensity(Range(v, lo, hi), location=f"mix: {label}",
                     basis="lifecycle, average (per-source IPCC AR5 medians)",
                     year=None,
                     source=_mix_source(shares) + _scaled_note(total))


def _scaled_note(total: float) -> str:
    """What was done to shares that sum to nearly, not exactly, 100 % (or 1): each scaled by the same factor."""
    whole = 100.0 if total > 2.0 else 1.0
    if math.isclose(total, whole, rel_tol=1e-9):
        return ""
    return f"; the shares given sum to {total:g}, each scaled to make {whole:g}"


def _mix_source(shares: Mapping[str, float]) -> str:
    """Where a mix intensity's factors and range come from, flagging the ones no primary source confirmed."""
    factors = load_table("factors")["mix_factors"]
    parts = ["IPCC AR5 WG3 Annex III Table A.III.2 (Schloemer et al. 2014) lifecycle medians, range = min-max; "
             "lignite WNA 2011; oil/other Electricity Maps defaults"]
    for src in sorted(s for s in shares if shares[s] > 0):
        f = factors[src]
        if f.get("range_rule"):
            parts.append(f"{src} range: {f['range_rule']}")
        if f.get("mix_range_source"):
            parts.append(f"{src} range for grid mixes: {f['mix_range_source']}")
    return "; ".join(parts)
