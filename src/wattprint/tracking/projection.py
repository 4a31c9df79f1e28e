"""Projecting a run's final energy and CO2e from its progress (``run.progress(step, total_steps)``).

Method (O(1) state, any step, not only after whole epochs):

* Energy is read at each call (the last sample plus the last interval's power times the time since, so a
  call between samples does not see a flat line). Steps and energy since the previous *window* close a window
  once it spans at least one sampling interval; its energy per step is one observation ``r_i``, weighted by
  its number of steps. Energy spent before the first call (start-up, data loading) is not per-step work and
  is counted once, not extrapolated. A call at an earlier step than the last (an earlier checkpoint reloaded in
  the same process) starts a new window there: the windows closed so far keep their energy and time per step.
* Steady state: the windows since the first call, or since the latest lasting change of rate:
  ``CHANGE_WINDOWS`` windows in a row that all cost more per step than every earlier window of the steady state,
  or all less, by over ``CHANGE_MARGIN`` (a new regime: warm-up over, a faster compiled graph, another phase of
  the job), start a new one with those windows but the first (which may straddle the change), and with the
  previous one's spread of rates relative to its average (its first window or two do not show the spread of the
  readings, out of which a further change must stand). A single costlier window (an evaluation, a checkpoint
  save) is part of the steady state.
* Central projection: energy so far + remaining steps x ``r_cycle``, the energy per step over whole cycles of the
  steady state. A window that cost more per step than the steady average before it (a peak: the window holding an
  evaluation or checkpoint) ends a cycle of such a periodic cost; ``r_cycle`` is taken from the first peak to the
  latest, so a cost that recurs every k steps is counted once per k steps whatever the step of the call. The first
  peak is the first of the costliest kind (one costlier than every earlier peak by over ``CHANGE_MARGIN`` starts
  the count again: windows above the average by noise only came before the first evaluation); with one peak the
  cycle runs from the steady state's start (a partial cycle: the first call may fall anywhere in one). Windows
  after the latest peak are left out until they span more steps than any cycle so far (the recurring cost has
  stopped); then, as where there is no peak, the steady average up to the latest window is used.
* Range of the rate for the remaining steps: from ``r_cycle`` and the steady average, widened by ``Z`` standard
  deviations of the steady windows' rates scaled to the remaining work (``s x sqrt(w / remaining)``, the spread of
  an average over the remaining windows) and by one more (above) or one fewer (below) of the costliest window's
  energy spread over the remaining steps (a periodic cost may fall or not fall in the few steps left), but never
  below the cheapest steady window's rate (or the low end of the spread a new steady state starts with); a
  latest window outside every earlier one's rate (a change that may be starting) is inside it too. Then widened
  by an allowance for changes not seen yet, ``UNSEEN_CHANGE x (1 - fraction done)`` (relative), which shrinks to
  nothing as the run nears its end.
* The IT energy, so far and to come, carries the measured energy's own range relative to its value (that of
  modelled components: the same devices are read the same way), so at the end the range is the footprint's.
* Facility energy = IT x PUE (range); CO2e = facility x intensity (range) + embodied CO2e scaled to the
  projected duration: embodied so far (over the whole elapsed time, start-up counted once) + the time still to
  come at the current hardware's rate (for a run measured on one set of hardware: embodied so far x projected /
  elapsed duration), where projected = elapsed + remaining steps x the time per step over the same windows as
  ``r_cycle`` (widened by the same allowance for unseen changes).
* No full window since the first call (one observation, or steps over less than a sampling interval, whose
  difference carries the readings' granularity rather than a rate): the energy so far cannot be split into
  start-up and per-step work, so the final energy lies between the energy so far (all of it was start-up) and
  energy so far / fraction done (none of it was), widened above by the allowance. There is no central value
  (``central`` False, null in JSON): the top of that range charges all start-up as per-step work. The range of the
  duration (for embodied CO2e) runs likewise from the elapsed time.
* No data, no projection: at step 0, or before the first sampling interval has closed (no power measured yet),
  the result says so: no central value, and a range that starts at the amount so far and is unbounded above
  (stored as null).

The range narrows as progress grows because every term scales with the remaining work; it widens when a
change of power is observed (as it should). A change larger than the allowance that happens later than the
projection cannot be foreseen; once it is observed, the next projections follow it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial
from typing import TYPE_CHECKING, Any, TypeGuard

from ..quantities import Range
from ..storage.records import J_PER_KWH, JsonShape, SlotPatch
from .live import SECONDS_PER_HOUR

# method parameters (statistics, not physical data): ~95 % for normal noise; allowance for unseen change; windows in
# a row beyond every earlier rate that make a lasting change (one alone is an evaluation or a checkpoint save), and
# by how much beyond (relative): readings steady to a fraction of a percent must not make every drift a new regime
Z = 2.0
UNSEEN_CHANGE = 0.5
CHANGE_WINDOWS = 2
CHANGE_MARGIN = 0.1

METHOD = (
    "energy so far + remaining steps x energy per step over whole cycles of the steady state (between windows "
    "costlier than the average before them, so a periodic evaluation or checkpoint counts once per cycle; the "
    f"steady state restarts after {CHANGE_WINDOWS} windows in a row over {CHANGE_MARGIN:.0%} beyond "
    f"every earlier rate); range from that vs the steady average, {Z:g} sd of per-window variation scaled to the "
    "remaining work, one costliest window more or less, and an allowance for "
    f"unseen changes of {UNSEEN_CHANGE:.0%} x remaining fraction; x the measured energy's range (modelled "
    "components), PUE and grid intensity; embodied scaled to the projected duration (elapsed + remaining steps x "
    "time per step over the same windows)"
)

ONE_OBSERVATION = (
    "no full window since the first call (one observation, or steps over less than a sampling interval): the "
    "energy so far cannot be split into start-up and per-step work, so there is no central value yet (energy so "
    "far / fraction done would charge all start-up as per-step work); range from the energy so far (all start-up) "
    "to energy so far / fraction done (no start-up) widened by an "
    f"allowance for unseen changes of {UNSEEN_CHANGE:.0%} x remaining fraction; x the measured energy's range "
    "(modelled components), PUE and grid intensity; embodied likewise from the elapsed time to elapsed / fraction "
    "done"
)

NO_INTERVAL_YET = (
    "no measured interval yet (power is known once the first sampling interval has closed): nothing to project "
    "from; no central value, the range starts at the energy so far"
)


# a projection's flat JSON fields, in to_dict()'s order: every JSON form of one carries them all (null: unknown or
# unbounded), a stored one too, whose live merge patch leaves a null out (stored_fields)
FIGURES = tuple(f"{name}{end}" for name in ("projected_energy_kwh", "projected_co2e_kg")
                for end in ("", "_low", "_high"))
FIELDS = ("fraction_done", "step", "total_steps", "made_at_elapsed_s", *FIGURES, "energy_so_far_kwh", "windows",
          "method")


@dataclass(frozen=True)
class Projection:
    """Projected final totals of a run. ``energy_kwh`` is facility energy (IT x PUE).

    ``central`` False: there is no central projection yet (one observation, or nothing to project from): the
    ``value`` of ``energy_kwh`` and ``co2e_kg`` is then the amount so far, the low end of what the run may come
    to, not an estimate of it (:meth:`to_dict` writes null for it). ``elapsed_s``: the run time (s) at which it
    was made."""

    fraction_done: float
    energy_kwh: Range
    co2e_kg: Range
    method: str
    step: int | float = 0  # a float for fractional progress (epochs: 0.9 of 1)
    total_steps: int | float = 0
    energy_so_far_kwh: float = 0.0
    windows: int = 0
    central: bool = True
    elapsed_s: float = 0.0

    @classmethod
    def deferred(cls, figures: Callable[[], tuple[Range, Range]], fraction_done: float, method: str,
                 step: int | float, total_steps: int | float, energy_so_far_kwh: float, windows: int, central: bool,
                 elapsed_s: float) -> Projection:
        """A projection whose ``energy_kwh`` and ``co2e_kg`` are ``figures()``, worked out when first read (from what
        was known when it was made: the same numbers): a training loop calls ``progress()`` at every step and reads
        a projection now and then, and their interval arithmetic is most of the cost of a call."""
        p = object.__new__(cls)
        p.__dict__.update(fraction_done=fraction_done, method=method, step=step, total_steps=total_steps,
                          energy_so_far_kwh=energy_so_far_kwh, windows=windows, central=central, elapsed_s=elapsed_s,
                          _figures=figures)
        return p

    if not TYPE_CHECKING:  # the type checker sees the fields, not a catch-all

        def __getattr__(self, name: str) -> Any:
            # called only for an attribute not set: the figures of a deferred projection, on their first read (two
            # threads reading them at once work out the same numbers)
            d = self.__dict__
            figures = d.get("_figures") if name in _DEFERRED else None
            if figures is not None:
                d["energy_kwh"], d["co2e_kg"] = figures()
                d.pop("_figures", None)
            if name in _DEFERRED and name in d:
                return d[name]
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (or copied) with its figures worked out, as one made with them."""
        return type(self), tuple(getattr(self, f.name) for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON fields (:data:`FIELDS`, all of them; energies in kWh, CO2e in kg, ``made_at_elapsed_s`` in s):
        ``projected_energy_kwh`` / ``projected_co2e_kg`` are None without a central value, and a ``_high`` is None
        where unbounded (strict JSON has no infinity)."""
        d: dict[str, Any] = {"fraction_done": self.fraction_done, "step": self.step, "total_steps": self.total_steps,
                             "made_at_elapsed_s": self.elapsed_s}
        d.update(self.energy_kwh.as_fields("projected_energy_kwh"))
        d.update(self.co2e_kg.as_fields("projected_co2e_kg"))
        if not self.central:
            d["projected_energy_kwh"] = d["projected_co2e_kg"] = None
        d["energy_so_far_kwh"] = self.energy_so_far_kwh
        d["windows"] = self.windows
        d["method"] = self.method
        return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in d.items()}

    def into_patch(self, patch: SlotPatch) -> SlotPatch | dict[str, Any]:
        """``patch`` (a run's live figures between full summaries) with this projection as its ``projection``: its
        numbers as more slots, so the sampler thread formats nothing. A projection with a null or unbounded field
        goes as a dict (rare: before the first window closes); in a JSON merge patch a null removes the key, so a
        stored live projection lacks the keys that a full summary stores as null (:func:`stored_fields` puts them
        back for every reader)."""
        fields = self.to_dict()
        method = fields.pop("method")
        values = tuple(fields.values())
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            return {**patch.to_dict(), "projection": {**fields, "method": method}}
        shape = _SHAPES.get(method)
        if shape is None:  # one per method text: a handful
            shape = _SHAPES[method] = ("projection", (*((k, None) for k in fields), ("method", method)))
        return SlotPatch((*patch.shape, shape), (*patch.values, *values))


_SHAPES: dict[str, tuple[str, JsonShape]] = {}
_DEFERRED = ("energy_kwh", "co2e_kg")  # the fields of a deferred projection worked out on first read


# what a projection's method says once a reader (of the store, or in the process: Run.summary()) has raised its
# figures to the run's totals
RAISED = ("figures below the run's totals since it was made raised to them, bound by bound (the final total "
          "is never below what has been measured)")

# each projected figure and the stored total that is the run's amount so far of it (facility kWh; CO2e with
# embodied, as projected)
_SO_FAR = (("projected_energy_kwh", "energy_kwh"), ("projected_co2e_kg", "total_co2e_kg"))


def stored_fields(stored: dict[str, Any], totals: dict[str, Any] | None = None) -> dict[str, Any]:
    """A projection as every reader gives it, stored or in the process that measures the run: every field of
    :meth:`Projection.to_dict` (:data:`FIELDS`, then any other it holds), null where it has none, as where a live
    merge patch left a null out or an older version stored none.

    ``totals``: the run's summary, as stored (``stored_run_dict``) or as the process measuring it has it now
    (``Run.summary()``, and the totals ``TrainingSession.metrics()`` logs). Its totals (facility ``energy_kwh``,
    ``total_co2e_kg``) go on growing after the last ``progress()`` call, whose projection is kept and stored as it
    was made, so a projected figure may be below them: that one is raised to them, value to value, low to low and
    high to high (each bound of a projection is priced with the same PUE, intensity and modelled components' bound
    as that of the totals; the low is not raised to the central total, which would claim more than the measurement
    does). A null (no central value, or unbounded above) stays null; ``energy_so_far_kwh`` and
    ``made_at_elapsed_s`` still say when it was made, and its ``method`` says it was raised (:data:`RAISED`)."""
    d = {**dict.fromkeys(FIELDS), **stored}
    if totals is None:
        return d
    raised = False
    for figure, total in _SO_FAR:
        for end in ("", "_low", "_high"):
            projected, so_far = d.get(figure + end), totals.get(total + end)
            if _finite(projected) and _finite(so_far) and projected < so_far:
                d[figure + end], raised = so_far, True
    if raised and isinstance(d.get("method"), str):
        d["method"] = f"{d['method']}; {RAISED}"
    return d


def _finite(x: object) -> TypeGuard[float]:
    """A number that can be compared (not a bool, an infinity or NaN)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


class _Windows:
    """Closed windows' statistics, weighted by their steps: count, sums, weighted mean and squared deviations of
    the energy per step (weighted Welford update, West 1979), lowest and highest rate, costliest window (J)."""

    __slots__ = ("n", "steps", "energy_j", "seconds", "mean", "m2", "low", "high", "top_j")

    def __init__(self) -> None:
        self.n = 0
        self.steps = self.energy_j = self.seconds = self.mean = self.m2 = self.top_j = 0.0
        self.low, self.high = math.inf, -math.inf

    def add(self, steps: float, seconds: float, energy_j: float) -> None:
        rate = energy_j / steps
        self.n += 1
        self.steps += steps
        self.energy_j += energy_j
        self.seconds += seconds
        delta = rate - self.mean
        self.mean += delta * steps / self.steps
        self.m2 += steps * delta * (rate - self.mean)
        self.low, self.high = min(self.low, rate), max(self.high, rate)
        self.top_j = max(self.top_j, energy_j)

    @property
    def sd(self) -> float:
        """Weighted standard deviation of the windows' energy per step (J)."""
        return math.sqrt(max(0.0, self.m2 / self.steps)) if self.n > 1 else 0.0

    def totals(self) -> tuple[float, float, float]:
        """(steps, J, s) of all its windows so far."""
        return self.steps, self.energy_j, self.seconds


class Projector:
    """Per-step energy statistics over windows of at least ``min_window_s`` seconds (O(1) memory): the steady
    state, the cycles of a periodic cost in it, and the windows that may be a lasting change (module docstring)."""

    def __init__(self, min_window_s: float) -> None:
        self.min_window_s = min_window_s
        self._w_step: float | None = None
        self._w_t = 0.0
        self._w_e = 0.0
        self._n = 0  # closed windows, all told
        self.recent: float | None = None  # the latest window's energy per step (J)
        self._restart(_Windows())

    def _restart(self, steady: _Windows, spread: tuple[float, float] | None = None) -> None:
        """A steady state from ``steady``'s windows on (a new regime's first windows, or none). ``spread``: the
        range of rates of the steady state before it, relative to its average, which its own starts as wide as: a
        new regime's first window or two do not show the spread of the readings, and a change must stand out of
        that spread."""
        self._steady = steady
        low, high = steady.low, steady.high
        if spread is not None:
            low, high = min(low, steady.mean * spread[0]), max(high, steady.mean * spread[1])
        self._settled = (low, high)  # rate range of its windows outside the current streak
        self._streak = _Windows()  # the latest windows in a row beyond that range, all on one side
        self._streak_rest = _Windows()  # those after its first (which may straddle a change of rate)
        self._side = 0  # +1: above it, -1: below it
        # cycles: cumulative (steps, J, s) of the steady windows at the first and the latest window costlier than
        # the average before it (a peak; None: none yet), the first being the first of the costliest kind; the
        # highest peak rate; the most steps between two peaks (or from the start to the first)
        self._first_peak: tuple[float, float, float] | None = None
        self._last_peak: tuple[float, float, float] | None = None
        self._peak_rate = 0.0
        self._longest_cycle = 0.0

    def observe(self, step: float, t: float, energy_j: float) -> None:
        """Record progress ``step`` at monotonic time ``t`` (s) with IT energy so far ``energy_j`` (J)."""
        if self._w_step is None or step < self._w_step:
            # first call, or steps went back (an earlier checkpoint reloaded): a new window from here; the windows
            # closed so far keep their energy and time per step (the same steps cost the same again)
            self._w_step, self._w_t, self._w_e = step, t, energy_j
            return
        d_steps = step - self._w_step
        # a window closes once it spans a sampling interval and its energy has grown: energy read between samples
        # is bridged with the last interval's power, which after a power drop can overshoot the next reading, so
        # a flat span is the bridge catching up, not a step that cost nothing
        if d_steps <= 0 or t - self._w_t < self.min_window_s or energy_j <= self._w_e:
            return
        self._close(d_steps, t - self._w_t, energy_j - self._w_e)
        self._w_step, self._w_t, self._w_e = step, t, energy_j

    def _close(self, steps: float, seconds: float, energy_j: float) -> None:
        rate = energy_j / steps
        self._n += 1
        self.recent = rate
        steady = self._steady
        above_average = steady.n > 0 and rate > steady.mean
        steady.add(steps, seconds, energy_j)
        if above_average:  # the end of a cycle of a periodic cost (or, in noisy windows, of a short one)
            self._peak(rate)
        if steady.n == 1:
            self._settled = (rate, rate)
            return
        low, high = self._settled
        side = 1 if rate > high * (1.0 + CHANGE_MARGIN) else -1 if rate * (1.0 + CHANGE_MARGIN) < low else 0
        if side == 0 or side != self._side:  # the streak so far (if any) ends: its windows are steady ones
            self._settled = (min(low, self._streak.low), max(high, self._streak.high))
            self._streak, self._streak_rest, self._side = _Windows(), _Windows(), side
            if side == 0:
                return
        if self._streak.n:
            self._streak_rest.add(steps, seconds, energy_j)
        self._streak.add(steps, seconds, energy_j)
        streak = self._streak
        if streak.n >= CHANGE_WINDOWS:
            # a lasting change of rate: a new steady state from the streak's second window on (the first may have
            # begun before the change, its rate between the old and the new), as noisy as the old one was
            settled_steps, settled_n = steady.steps - streak.steps, steady.n - streak.n
            mean = (steady.energy_j - streak.energy_j) / settled_steps if settled_steps > 0 else 0.0
            spread = (low / mean, high / mean) if settled_n > 1 and mean > 0 else None
            self._restart(self._streak_rest, spread)

    def _peak(self, rate: float) -> None:
        """A steady window at ``rate`` cost more per step than the average before it: the end of a cycle. One
        costlier than every earlier peak by over CHANGE_MARGIN is the first of a new kind (an evaluation after
        windows that were above the average by noise only): cycles are counted from it, and from the start."""
        totals = self._steady.totals()
        if self._first_peak is None or rate > self._peak_rate * (1.0 + CHANGE_MARGIN):
            self._first_peak, self._longest_cycle = totals, totals[0]
        else:
            assert self._last_peak is not None
            self._longest_cycle = max(self._longest_cycle, totals[0] - self._last_peak[0])
        self._peak_rate = max(self._peak_rate, rate)
        self._last_peak = totals

    @property
    def windows(self) -> int:
        return self._n

    @property
    def one_observation(self) -> bool:
        """True until a window has closed since the first call: before that the energy so far is known only as
        start-up plus per-step work together (steps over less than a sampling interval carry the granularity of
        the readings and the extrapolation between them, not a rate)."""
        return self._steady.n == 0

    def _cycle(self) -> tuple[float, float, float]:
        """(steps, J, s) of the steady windows the central rate is taken over: whole cycles, from the first peak to
        the latest (from the start where they are one); all of them where there is no peak, or where the windows
        after the latest span more steps than any cycle so far."""
        steady, first, last = self._steady, self._first_peak, self._last_peak
        if first is None or last is None or steady.steps - last[0] > self._longest_cycle:
            return steady.totals()
        if first is last:
            return last
        return last[0] - first[0], last[1] - first[1], last[2] - first[2]

    def rate_band(self, step: float, energy_j: float, remaining: float, fraction_done: float
                  ) -> tuple[float, float, float]:
        """(low, central, high) energy per step (J) for the remaining steps (the central one is no estimate with
        one observation: see :attr:`one_observation`)."""
        if self.one_observation:  # 0 if all the energy so far was start-up, energy / step if none of it
            rate = energy_j / step if step > 0 else 0.0
            lo, mid, hi = 0.0, rate, rate
        else:
            steady = self._steady
            steps, energy, _ = self._cycle()
            mid = energy / steps
            lo, hi = min(mid, steady.mean), max(mid, steady.mean)
            if remaining > 0:
                mean_window = steady.steps / steady.n
                noise = Z * steady.sd * math.sqrt(min(1.0, mean_window / remaining))
                burst = steady.top_j / remaining  # one costliest window more, or fewer, in the steps left
                lo, hi = max(min(steady.low, self._settled[0]), lo - noise - burst), hi + noise + burst
            if self._side and self.recent is not None:  # beyond every earlier window: a change may be starting
                lo, hi = min(lo, self.recent), max(hi, self.recent)
        allowance = 1.0 + UNSEEN_CHANGE * (1.0 - fraction_done)
        return max(0.0, lo / allowance), mid, hi * allowance

    def time_per_step(self) -> float | None:
        """Seconds per step over the windows of the central rate (start-up before the first call is not per-step
        time; a reload of an earlier checkpoint adds no steps, only a window after it does); None before a window
        has closed."""
        steps, _, seconds = self._cycle()
        return seconds / steps if steps > 0 else None

    def project(
        self,
        step: float,
        total_steps: float,
        energy_j: float,
        elapsed_s: float,
        pue: Range,
        intensity_g_per_kwh: Range,
        embodied_kg: Range | Callable[[], Range],
        no_data: str | None = None,
        measured: Range | None = None,
        embodied_rate_kg_per_h: Range | None = None,
    ) -> Projection:
        """Projected final facility energy and CO2e (see the module docstring) at ``step`` of ``total_steps``, with
        the IT energy so far ``energy_j`` (J) and ``elapsed_s`` of run time (the windows' times are
        :meth:`observe`'s). ``embodied_kg`` is the embodied CO2e of the ``elapsed_s`` so far (or a function giving
        it, called when the figures are first read: see :meth:`Projection.deferred`); ``no_data`` says why there is
        nothing to project from (open range). ``measured``: the IT energy's range relative to its value (the
        modelled components' uncertainty; None: exact), which the energy to come shares. ``embodied_rate_kg_per_h``:
        the embodied CO2e each further hour adds (a resumed run's earlier segments may have run on other hardware);
        None: the average so far."""
        total = max(total_steps, 1)
        step = min(max(step, 0), total)
        fraction = step / total
        so_far_kwh = energy_j / J_PER_KWH
        measured = measured or Range.exact(1.0)
        if no_data is not None or step == 0:
            # the totals so far are known; how much more is not: unbounded above
            facility = Range.exact(so_far_kwh) * measured * pue
            co2e = facility * intensity_g_per_kwh / 1000.0 + (embodied_kg() if callable(embodied_kg) else embodied_kg)
            method = no_data or "no progress yet: nothing to project from; no central value, the range starts at " \
                                "the energy so far"
            return Projection(fraction, Range(facility.value, facility.low, math.inf),
                              Range(co2e.value, co2e.low, math.inf), method, step,
                              total_steps if no_data is not None else total, so_far_kwh * pue.value, self._n,
                              central=False, elapsed_s=elapsed_s)
        remaining = total - step
        one = self.one_observation  # the energy and the elapsed time so far may all have been start-up
        band = self.rate_band(step, energy_j, remaining, fraction)
        tps = None if one else self.time_per_step()
        # the figures from what is known now, worked out when first read (Projection.deferred)
        figures = partial(_figures, step, remaining, fraction, energy_j, elapsed_s, one, band, tps, pue,
                          intensity_g_per_kwh, embodied_kg, measured, embodied_rate_kg_per_h)
        return Projection.deferred(figures, fraction, ONE_OBSERVATION if one else METHOD, step, total,
                                   so_far_kwh * pue.value, self._n, central=not one, elapsed_s=elapsed_s)


def _figures(step: float, remaining: float, fraction: float, energy_j: float, elapsed_s: float, one: bool,
             band: tuple[float, float, float], tps: float | None, pue: Range, intensity_g_per_kwh: Range,
             embodied_kg: Range | Callable[[], Range], measured: Range, embodied_rate_kg_per_h: Range | None
             ) -> tuple[Range, Range]:
    """(facility energy, CO2e) of a projection (:meth:`Projector.project`), from its rate ``band`` (low, central,
    high J per step; no central one with ``one`` observation) and ``tps`` (s per step; None: unknown)."""
    lo, mid, hi = band
    # with one observation the value is the energy so far (no central value: see Projection)
    it_kwh = Range(energy_j + (0.0 if one else remaining * mid), energy_j + remaining * lo,
                   energy_j + remaining * hi) / J_PER_KWH
    facility = it_kwh * measured * pue
    embodied = embodied_kg() if callable(embodied_kg) else embodied_kg
    if elapsed_s > 0 and remaining > 0:
        allowance = 1.0 + UNSEEN_CHANGE * (1.0 - fraction)
        if tps is None:
            left_s = remaining * elapsed_s / step
            duration = Range(elapsed_s, elapsed_s, elapsed_s + left_s * allowance)
        else:
            left_s = remaining * tps
            duration = Range(elapsed_s + left_s, elapsed_s + left_s / allowance, elapsed_s + left_s * allowance)
        if embodied_rate_kg_per_h is None:
            embodied = embodied * (duration / elapsed_s)
        else:
            embodied = embodied + embodied_rate_kg_per_h * ((duration - elapsed_s) / SECONDS_PER_HOUR)
    co2e = facility * intensity_g_per_kwh / 1000.0 + embodied
    return facility, co2e
