"""The run's side of ``run.progress(step, total_steps)``: the energy at the call, checks of the step counts, and
the last good projection; the projection itself is :mod:`wattprint.tracking.projection`'s."""

from __future__ import annotations

import dataclasses
import math
import reprlib
import threading
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from ..errors import WattprintWarning, shown
from ..quantities import Range
from .figures import embodied_over
from .live import SECONDS_PER_HOUR
from .projection import NO_INTERVAL_YET, Projection, Projector

if TYPE_CHECKING:
    from .snapshot import Snapshot

MAX_STEPS = 2**53  # progress(): whole numbers up to here are exact in a float

# the kind of warning about steps past the total (those about bad arguments are kinds of bad_steps())
PAST_TOTAL = "past total"


class _OfSnapshot:
    """What a projection takes from one snapshot, worked out once for it (a training loop calls progress() many
    times between two samples): the IT energy (J) and power (W) read, the measured energy's relative range, and
    the embodied CO2e basis (earlier segments' kg and hours, kg per hour on this segment's hardware)."""

    __slots__ = ("snap", "energy_j", "power_w", "measured", "embodied")

    def __init__(self, snap: Snapshot, embodied: Callable[[Snapshot], tuple[Range, float, Range]]) -> None:
        self.snap = snap
        self.energy_j = snap.it_energy_j
        self.power_w = max(0.0, sum(snap.power_w.values()))
        self.measured = measured_range(snap)
        self.embodied = embodied(snap)


class RunProgress:
    """The progress() calls of one run: a :class:`~wattprint.tracking.projection.Projector` fed with the energy
    at each call, and ``last``, the latest projection made from good arguments (the summary carries it).

    Thread-safe: calls from several threads update the projector one at a time. Each kind of mistake in the
    arguments (:func:`bad_steps`), and a step past the total, is warned about once per run."""

    def __init__(self, interval_s: float) -> None:
        self.projector = Projector(interval_s)
        self.last: Projection | None = None
        self._energy_j = 0.0  # the energy so far the latest call used (J)
        self._of_snap: _OfSnapshot | None = None  # the latest snapshot's figures
        self._warned: set[str] = set()  # kinds of warning given
        self._lock = threading.Lock()

    def project(self, step: Any, total_steps: Any, snap: Snapshot, ended: bool, pue: Range, intensity: Range,
                embodied: Callable[[Snapshot], tuple[Range, float, Range]]) -> Projection:
        """The projection at ``step`` of ``total_steps`` from the latest snapshot, bridged to now unless the run
        has ``ended``; ``embodied(snap)`` is the basis of the embodied CO2e (:func:`.figures.embodied_over`): the
        earlier segments' (kg) and their hours, and what each hour on this segment's hardware adds (kg/h).
        Bad arguments warn (attributed to the caller of ``Run.progress``; once per kind of mistake per run) and
        give a projection that says why; so does a step past the total (once per run): it counts as done."""
        bad = bad_steps(step, total_steps)
        s: int | float = 0
        t: int | float = 0
        if bad is None:
            s, t = whole(step), whole(total_steps)
        refused = f"no projection: {bad[1]}" if bad is not None else None
        with self._lock:  # one call at a time updates the projector (training loops may call from several threads)
            proj = self._project(s, t, refused, snap, ended, pue, intensity, embodied)
            if bad is not None:  # it says the step and total it was given, not the 0 it projected from
                proj = dataclasses.replace(proj, step=given(step), total_steps=given(total_steps))
            else:
                self.last = proj  # a bad call must not replace the last good projection
            kind = bad[0] if bad is not None else PAST_TOTAL if s > t else None
            if kind in self._warned:
                kind = None
            elif kind is not None:
                self._warned.add(kind)
        if kind is not None:  # outside the lock: a warning filter or hook may call progress() again
            self._warn(step, total_steps, bad[1] if bad is not None else None)
        return proj

    def _project(self, s: int | float, t: int | float, refused: str | None, snap: Snapshot, ended: bool,
                 pue: Range, intensity: Range, embodied: Callable[[Snapshot], tuple[Range, float, Range]]
                 ) -> Projection:
        """The projection at ``s`` of ``t``, the projector fed first; ``refused``: why the arguments were refused
        (no projection)."""
        of = self._of_snap
        if of is None or of.snap is not snap:  # a new sample: its figures once, not at every step
            of = self._of_snap = _OfSnapshot(snap, embodied)
        now = time.monotonic()
        energy = of.energy_j
        if not ended and now > snap.t:  # bridge to now with the last interval's power
            energy += of.power_w * (now - snap.t)
        else:
            now = snap.t
        # never below what an earlier call reported: after a power drop the bridge (last interval's power) can
        # overshoot the next reading, and energy spent does not go back
        energy = self._energy_j = max(energy, self._energy_j)
        elapsed = snap.elapsed_s + (now - snap.t)
        embodied_kg = partial(embodied_over, of.embodied, elapsed / SECONDS_PER_HOUR)  # worked out when read
        no_data = refused
        if no_data is None and snap.samples == 0 and not ended:
            # only the start reading: no power yet, so `energy` is not the energy at this step either
            no_data = NO_INTERVAL_YET
        if no_data is None:
            self.projector.observe(s, now, energy)
        return self.projector.project(s, t, energy, elapsed, pue, intensity, embodied_kg, no_data=no_data,
                                      measured=of.measured, embodied_rate_kg_per_h=of.embodied[2])

    @staticmethod
    def _warn(step: Any, total_steps: Any, why: str | None) -> None:
        """The one warning of its kind for this run (4: this, project, Run.progress, its caller)."""
        call = f"wattprint: run.progress({reprlib.repr(step)}, {reprlib.repr(total_steps)})"
        if why is not None:
            msg = f"{call}: {why}; no projection made (each such call returns a projection that says so; this " \
                  "mistake is warned about once per run)"
        else:
            msg = f"{call}: step {reprlib.repr(step)} is past total_steps {reprlib.repr(total_steps)}; steps past " \
                  "the total count as done (fraction_done 1). Are both counted in the same units (steps, not " \
                  "epochs)? (warned once per run)"
        warnings.warn(msg, WattprintWarning, stacklevel=4)


def measured_range(snap: Snapshot) -> Range:
    """The charged IT energy's range relative to its value (1 where exact): the modelled components' uncertainty,
    which the energy still to come shares (the same devices, read the same way)."""
    value = low = high = 0.0
    for v, lo, hi in snap.charged_j.values():
        value, low, high = value + v, low + min(lo, v), high + max(hi, v)
    return Range(1.0, low / value, high / value) if value > 0 else Range.exact(1.0)


def bad_steps(step: Any, total_steps: Any) -> tuple[str, str] | None:
    """(kind of mistake, why) ``progress(step, total_steps)`` cannot be projected from, or None. The kind names the
    argument and the rule it breaks, not the value: warnings are given once per kind per run."""
    if type(step) is int and type(total_steps) is int and 1 <= total_steps < MAX_STEPS and 0 <= step <= total_steps:
        return None  # the common case (every training step), without the float conversions below
    s, why = step_number("step", step)
    if why is not None:
        return "step not a number", why
    t, why = step_number("total_steps", total_steps)
    if why is not None:
        return "total_steps not a number", why
    if not (math.isfinite(s) and s >= 0):
        return "step out of range", "step must be a finite number >= 0"
    if not (math.isfinite(t) and t >= 1):
        return "total_steps out of range", "total_steps must be a finite number >= 1"
    if t >= MAX_STEPS:  # beyond it step counts are not exact in a float, and the projection overflows
        return "total_steps out of range", f"total_steps must be below 2**53 ({MAX_STEPS:.4g})"
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
