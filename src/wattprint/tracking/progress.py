"""The run's side of ``run.progress(step, total_steps)``: the energy at the call, checks of the step counts, and
the last good projection; the projection itself is :mod:`wattprint.tracking.projection`'s."""

from __future__ import annotations

import dataclasses
import math
import reprlib
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import WattprintWarning, shown
from ..quantities import Range
from .live import SECONDS_PER_HOUR
from .projection import NO_INTERVAL_YET, Projection, Projector

if TYPE_CHECKING:
    from .snapshot import Snapshot

MAX_STEPS = 2**53  # progress(): whole numbers up to here are exact in a float


class RunProgress:
    """The progress() calls of one run: a :class:`~wattprint.tracking.projection.Projector` fed with the energy
    at each call, and ``last``, the latest projection made from good arguments (the summary carries it)."""

    def __init__(self, interval_s: float) -> None:
        self.projector = Projector(interval_s)
        self.last: Projection | None = None
        self._energy_j = 0.0  # the energy so far the latest call used (J)

    def project(self, step: Any, total_steps: Any, snap: Snapshot, ended: bool, pue: Range, intensity: Range,
                embodied: Callable[[float], tuple[Range, Range]]) -> Projection:
        """The projection at ``step`` of ``total_steps`` from the latest snapshot, bridged to now unless the run
        has ``ended``; ``embodied(hours)`` is the embodied CO2e over that many hours of the run (kg) and what each
        further hour on this segment's hardware adds (kg/h). Bad arguments warn (attributed to the caller of
        ``Run.progress``) and give a projection that says why."""
        now = time.monotonic()
        energy = snap.it_energy_j
        if not ended and now > snap.t:  # bridge to now with the last interval's power
            energy += max(0.0, sum(snap.power_w.values())) * (now - snap.t)
        else:
            now = snap.t
        # never below what an earlier call reported: after a power drop the bridge (last interval's power) can
        # overshoot the next reading, and energy spent does not go back
        energy = self._energy_j = max(energy, self._energy_j)
        elapsed = snap.elapsed_s + (now - snap.t)
        embodied_kg, embodied_rate = embodied(elapsed / SECONDS_PER_HOUR)
        why = bad_steps(step, total_steps)
        no_data: str | None = None
        s: int | float = 0
        t: int | float = 0
        if why is not None:
            warnings.warn(f"wattprint: run.progress({reprlib.repr(step)}, {reprlib.repr(total_steps)}): {why}; "
                          "no projection made",
                          WattprintWarning, stacklevel=3)  # 3: this, Run.progress, its caller
            no_data = f"no projection: {why}"
        else:
            s, t = whole(step), whole(total_steps)
            if snap.samples == 0 and not ended:
                # only the start reading: no power yet, so `energy` is not the energy at this step either
                no_data = NO_INTERVAL_YET
            else:
                self.projector.observe(s, now, energy)
        proj = self.projector.project(s, t, energy, elapsed, pue, intensity, embodied_kg, no_data=no_data,
                                      measured=measured_range(snap), embodied_rate_kg_per_h=embodied_rate)
        if why is not None:  # it says the step and total it was given, not the 0 it projected from
            return dataclasses.replace(proj, step=given(step), total_steps=given(total_steps))
        self.last = proj  # a bad call must not replace the last good projection
        return proj


def measured_range(snap: Snapshot) -> Range:
    """The charged IT energy's range relative to its value (1 where exact): the modelled components' uncertainty,
    which the energy still to come shares (the same devices, read the same way)."""
    value = low = high = 0.0
    for v, lo, hi in snap.charged_j.values():
        value, low, high = value + v, low + min(lo, v), high + max(hi, v)
    return Range(1.0, low / value, high / value) if value > 0 else Range.exact(1.0)


def bad_steps(step: Any, total_steps: Any) -> str | None:
    """Why ``progress(step, total_steps)`` cannot be projected from, or None."""
    s, why = step_number("step", step)
    if why is None:
        t, why = step_number("total_steps", total_steps)
    if why is not None:
        return why
    if not (math.isfinite(s) and s >= 0):
        return "step must be a finite number >= 0"
    if not (math.isfinite(t) and t >= 1):
        return "total_steps must be a finite number >= 1"
    if t >= MAX_STEPS:  # beyond it step counts are not exact in a float, and the projection overflows
        return f"total_steps must be below 2**53 ({MAX_STEPS:.4g})"
    return None


def step_number(name: str, x: Any) -> tuple[float, str | None]:
    """``x`` as a float, or why it is not a step count: not a number (text, such as "5", is refused as the
    estimators refuse it; a bool is a slip), or too large for a float. A number of any type passes (int, float,
    numpy scalars), and so does what converts to one without being text (a 0-d tensor or array)."""
    if type(x).__name__ in ("bool", "bool_"):  # True (or numpy's) is an int to Python, a slip to the user
        return math.nan, f"{name} must be a number, not {x!r}"
    if isinstance(x, str | bytes | bytearray):
        return math.nan, f"{name} must be a number, not text: got {shown(x)}"
    try:
        return float(x), None
    except OverflowError:
        return math.nan, f"{name} {shown(x)} is too large: it leaves the floating-point range"
    except (TypeError, ValueError, ArithmeticError):
        return math.nan, f"{name} must be a number, got {shown(x)}"


def whole(x: Any) -> int | float:
    """A step count: an int where it is whole, else the float (fractional progress, such as epochs: 0.9 of 1)."""
    if isinstance(x, int):
        return x
    v = float(x)
    return int(v) if v.is_integer() else v


def given(x: Any) -> int | float:
    """A step count as given to a refused ``progress()`` call, for its projection to say: the number where it is
    one (NaN, -1, inf and 1e308 included; True as 1), NaN where it is not a number at all."""
    if isinstance(x, bool):
        return int(x)
    if isinstance(x, int | float):
        return x
    if isinstance(x, str | bytes | bytearray):  # refused as text, whatever it spells
        return math.nan
    try:
        return whole(x)
    except (TypeError, ValueError, ArithmeticError):
        return math.nan
