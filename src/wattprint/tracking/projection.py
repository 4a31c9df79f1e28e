"""Projecting a run's final energy and CO2e from its progress (``run.progress(step, total_steps)``).

Method (O(1) state, any step, not only after whole epochs):

* Energy is read at each call (the last sample plus the last interval's power times the time since, so a
  call between samples does not see a flat line). Steps and energy since the previous *window* close a window
  once it spans at least one sampling interval; its energy per step is one observation ``r_i``, weighted by
  its number of steps. Energy spent before the first call (start-up, data loading) is not per-step work and
  is counted once, not extrapolated.
* Central projection: energy so far + remaining steps x ``r_recent`` (the latest window), so a job whose
  power changed part-way is projected at its new rate.
* Range of the rate for the remaining steps:
  ``[min(r_recent, r_mean), max(r_recent, r_mean)]`` (recent vs whole-run average: a drift so far), widened by
  ``Z`` standard deviations of the window rates scaled to the remaining work (``s x sqrt(w / remaining)``,
  the spread of an average over the remaining windows), then by an allowance for changes not seen yet,
  ``UNSEEN_CHANGE x (1 - fraction done)`` (relative), which shrinks to nothing as the run nears its end.
* The IT energy, so far and to come, carries the measured energy's own range relative to its value (that of
  modelled components: the same devices are read the same way), so at the end the range is the footprint's.
* Facility energy = IT x PUE (range); CO2e = facility x intensity (range) + embodied CO2e scaled to the
  projected duration: embodied so far (over the whole elapsed time, start-up counted once) + the time still to
  come at the current hardware's rate (for a run measured on one set of hardware: embodied so far x projected /
  elapsed duration), where projected = elapsed + remaining steps x the time per step observed since the first call
  (widened by the same allowance for unseen changes).
* No full window since the first call (one observation, or steps over less than a sampling interval, whose
  difference carries the readings' granularity rather than a rate): the energy so far cannot be split into start-up and
  per-step work, so the final energy lies between the energy so far (all of it was start-up) and energy so far /
  fraction done (none of it was), widened above by the allowance; the central value takes the latter, and the
  range of the duration (for embodied CO2e) starts likewise at the elapsed time.
* No data, no projection: at step 0, or before the first sampling interval has closed (no power measured yet),
  the result says so: its range starts at the amount so far and is unbounded above (stored as null).

The range narrows as progress grows because every term scales with the remaining work; it widens when a
change of power is observed (as it should). A change larger than the allowance that happens later than the
projection cannot be foreseen; once it is observed, the next projections follow it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..quantities import Range
from ..storage.records import J_PER_KWH
from .live import SECONDS_PER_HOUR

# method parameters (statistics, not physical data): ~95 % for normal noise; allowance for unseen change
Z = 2.0
UNSEEN_CHANGE = 0.5

METHOD = (
    "energy so far + remaining steps x energy per step of the latest window; range from recent vs average "
    f"energy per step, {Z:g} sd of per-window variation scaled to the remaining work, and an allowance for "
    f"unseen changes of {UNSEEN_CHANGE:.0%} x remaining fraction; x the measured energy's range (modelled "
    "components), PUE and grid intensity; embodied scaled to the projected duration (elapsed + remaining steps x "
    "time per step)"
)

ONE_OBSERVATION = (
    "no full window since the first call (one observation, or steps over less than a sampling interval): the "
    "energy so far cannot be split into start-up and per-step work; range from the energy "
    "so far (all start-up) to energy so far / fraction done (no start-up; the central value) widened by an "
    f"allowance for unseen changes of {UNSEEN_CHANGE:.0%} x remaining fraction; x the measured energy's range "
    "(modelled components), PUE and grid intensity; embodied likewise from the elapsed time to elapsed / fraction "
    "done"
)

NO_INTERVAL_YET = (
    "no measured interval yet (power is known once the first sampling interval has closed): nothing to project "
    "from; the range starts at the energy so far"
)


@dataclass(frozen=True)
class Projection:
    """Projected final totals of a run. ``energy_kwh`` is facility energy (IT x PUE)."""

    fraction_done: float
    energy_kwh: Range
    co2e_kg: Range
    method: str
    step: int | float = 0  # a float for fractional progress (epochs: 0.9 of 1)
    total_steps: int | float = 0
    energy_so_far_kwh: float = 0.0
    windows: int = 0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"fraction_done": self.fraction_done, "step": self.step, "total_steps": self.total_steps}
        d.update(self.energy_kwh.as_fields("projected_energy_kwh"))
        d.update(self.co2e_kg.as_fields("projected_co2e_kg"))
        d["energy_so_far_kwh"] = self.energy_so_far_kwh
        d["windows"] = self.windows
        d["method"] = self.method
        return d


class Projector:
    """Per-step energy statistics over windows of at least ``min_window_s`` seconds (O(1) memory)."""

    def __init__(self, min_window_s: float) -> None:
        self.min_window_s = min_window_s
        self._w_step: float | None = None
        self._w_t = 0.0
        self._w_e = 0.0
        self._weight = 0.0  # steps observed in closed windows
        self._n = 0  # closed windows
        self._mean = 0.0
        self._m2 = 0.0
        self.recent: float | None = None
        self._first: tuple[float, float, float] | None = None  # (step, t, energy) at the first call

    def observe(self, step: float, t: float, energy_j: float) -> None:
        """Record progress ``step`` at monotonic time ``t`` (s) with IT energy so far ``energy_j`` (J)."""
        if self._w_step is None or step < self._w_step:  # first call, or steps restarted: new baseline
            self._w_step, self._w_t, self._w_e = step, t, energy_j
            if self._first is None:
                self._first = (step, t, energy_j)
            return
        d_steps = step - self._w_step
        # a window closes once it spans a sampling interval and its energy has grown: energy read between samples
        # is bridged with the last interval's power, which after a power drop can overshoot the next reading, so
        # a flat span is the bridge catching up, not a step that cost nothing
        if d_steps <= 0 or t - self._w_t < self.min_window_s or energy_j <= self._w_e:
            return
        rate = (energy_j - self._w_e) / d_steps
        # weighted Welford update (West 1979): weights are the window's steps
        self._weight += d_steps
        self._n += 1
        delta = rate - self._mean
        self._mean += delta * d_steps / self._weight
        self._m2 += d_steps * delta * (rate - self._mean)
        self.recent = rate
        self._w_step, self._w_t, self._w_e = step, t, energy_j

    @property
    def windows(self) -> int:
        return self._n

    @property
    def one_observation(self) -> bool:
        """True until a window has closed since the first call: before that the energy so far is known only as
        start-up plus per-step work together (steps over less than a sampling interval carry the granularity of
        the readings and the extrapolation between them, not a rate)."""
        return self.recent is None

    def rate_band(self, step: float, t: float, energy_j: float, remaining: float, fraction_done: float
                  ) -> tuple[float, float, float]:
        """(low, central, high) energy per step (J) for the remaining steps."""
        if self.recent is None:  # one observation: 0 if all the energy so far was start-up, energy / step if none
            rate = energy_j / step if step > 0 else 0.0
            lo, hi = 0.0, rate
        else:
            rate = self.recent
            lo, hi = min(rate, self._mean), max(rate, self._mean)
            if self._n > 1 and remaining > 0:
                sd = math.sqrt(max(0.0, self._m2 / self._weight))
                mean_window = self._weight / self._n
                noise = Z * sd * math.sqrt(min(1.0, mean_window / remaining))
                lo, hi = lo - noise, hi + noise
        allowance = 1.0 + UNSEEN_CHANGE * (1.0 - fraction_done)
        return max(0.0, lo / allowance), rate, hi * allowance

    def time_per_step(self, step: float, t: float, elapsed_s: float) -> float:
        """Seconds per step since the first call (start-up before it is not per-step time); the whole elapsed
        time per step where no step has passed since then."""
        if self._first is not None and step > self._first[0]:
            return max(0.0, t - self._first[1]) / (step - self._first[0])
        return elapsed_s / step if step > 0 else 0.0

    def project(
        self,
        step: float,
        total_steps: float,
        t: float,
        energy_j: float,
        elapsed_s: float,
        pue: Range,
        intensity_g_per_kwh: Range,
        embodied_kg: Range,
        no_data: str | None = None,
        measured: Range | None = None,
        embodied_rate_kg_per_h: Range | None = None,
    ) -> Projection:
        """Projected final facility energy and CO2e (see the module docstring). ``embodied_kg`` is the embodied
        CO2e of the ``elapsed_s`` so far; ``no_data`` says why there is nothing to project from (open range).
        ``measured``: the IT energy's range relative to its value (the modelled components' uncertainty; None:
        exact), which the energy to come shares. ``embodied_rate_kg_per_h``: the embodied CO2e each further hour
        adds (a resumed run's earlier segments may have run on other hardware); None: the average so far."""
        total = max(total_steps, 1)
        step = min(max(step, 0), total)
        fraction = step / total
        so_far_kwh = energy_j / J_PER_KWH
        measured = measured or Range.exact(1.0)
        if no_data is not None or step == 0:
            # the totals so far are known; how much more is not: unbounded above
            facility = Range.exact(so_far_kwh) * measured * pue
            co2e = facility * intensity_g_per_kwh / 1000.0 + embodied_kg
            method = no_data or "no progress yet: nothing to project from; the range starts at the energy so far"
            return Projection(fraction, Range(facility.value, facility.low, math.inf),
                              Range(co2e.value, co2e.low, math.inf), method, step,
                              total_steps if no_data is not None else total, so_far_kwh * pue.value, self._n)
        remaining = total - step
        lo, mid, hi = self.rate_band(step, t, energy_j, remaining, fraction)
        it_kwh = Range(energy_j + remaining * mid, energy_j + remaining * lo, energy_j + remaining * hi) / J_PER_KWH
        facility = it_kwh * measured * pue
        embodied = embodied_kg
        if elapsed_s > 0 and remaining > 0:
            one = self.one_observation  # the elapsed time may all have been start-up
            left_s = remaining * (elapsed_s / step if one else self.time_per_step(step, t, elapsed_s))
            allowance = 1.0 + UNSEEN_CHANGE * (1.0 - fraction)
            duration = Range(elapsed_s + left_s, elapsed_s if one else elapsed_s + left_s / allowance,
                             elapsed_s + left_s * allowance)
            if embodied_rate_kg_per_h is None:
                embodied = embodied_kg * (duration / elapsed_s)
            else:
                embodied = embodied_kg + embodied_rate_kg_per_h * ((duration - elapsed_s) / SECONDS_PER_HOUR)
        co2e = facility * intensity_g_per_kwh / 1000.0 + embodied
        method = ONE_OBSERVATION if self.one_observation else METHOD
        return Projection(fraction, facility, co2e, method, step, total, so_far_kwh * pue.value, self._n)
