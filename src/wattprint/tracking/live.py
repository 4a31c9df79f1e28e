"""The run's figures between full summaries, as plain float arithmetic.

Between two full summaries (``FULL_SUMMARY_EVERY_S``) nothing but the charged energies and the elapsed time
changes, and every figure is linear in them: facility energy = IT energy x PUE, operational CO2e = facility
energy x intensity, embodied CO2e = (kgCO2e per hour of this run's hardware share) x hours. So the sampler
thread does not rebuild a :class:`~wattprint.footprint.Footprint` (some fifty Range objects) at every
interval: it evaluates these products on floats. The bounds are those interval arithmetic gives, since every
factor is non-negative (low x low, high x high). Keys that cannot change between full summaries (PUE,
intensity, location, assumptions) are left out: the result is a JSON merge patch over the last full summary.
"""

from __future__ import annotations

from typing import Any

from ..quantities import Range
from .projection import J_PER_KWH

SECONDS_PER_HOUR = 3600.0  # definition


class LiveFigures:
    """Frozen factors of one full summary; :meth:`patch` gives the figures at a later reading.

    ``pue`` (dimensionless) and ``intensity`` (gCO2e/kWh) are the run's; ``embodied_kg_per_h`` is the
    embodied CO2e charged per hour of run time at the full summary's hardware share (kgCO2e/h).
    """

    __slots__ = ("pue", "intensity", "embodied_kg_per_h")

    def __init__(self, pue: Range, intensity: Range, embodied_kg_per_h: Range) -> None:
        for name, r in (("PUE", pue), ("intensity", intensity), ("embodied rate", embodied_kg_per_h)):
            if r.low < 0:
                raise ValueError(f"{name} must be >= 0 for the live figures, got {r}")
        self.pue = pue
        self.intensity = intensity
        self.embodied_kg_per_h = embodied_kg_per_h

    def patch(self, charged_j: dict[str, tuple[float, float, float]], basis: dict[str, str], elapsed_s: float,
              n_gpus: int) -> dict[str, Any]:
        """The changing figures of ``Footprint.to_dict()`` for these charged energies (J: value, low, high per
        component), component bases, run time (s) and GPU count, with the same names and ``_low``/``_high``."""
        comps: dict[str, Any] = {}
        it = [0.0, 0.0, 0.0]
        for comp in sorted(charged_j):
            v, lo, hi = charged_j[comp]
            kwh = (v / J_PER_KWH, min(lo, v) / J_PER_KWH, max(hi, v) / J_PER_KWH)
            b = basis.get(comp) or "measured"
            comps[comp] = {"kwh": kwh[0], "kwh_low": kwh[1], "kwh_high": kwh[2],
                           "basis": "measured" if b == "measured" else "modelled"}
            for i in range(3):
                it[i] += kwh[i]
        pue, ci = self.pue, self.intensity
        fac = (it[0] * pue.value, it[1] * pue.low, it[2] * pue.high)
        op = (fac[0] * ci.value / 1000.0, fac[1] * ci.low / 1000.0, fac[2] * ci.high / 1000.0)
        hours = elapsed_s / SECONDS_PER_HOUR
        rate = self.embodied_kg_per_h
        emb = (rate.value * hours, rate.low * hours, rate.high * hours)
        out: dict[str, Any] = {}
        _fields(out, "energy_kwh", fac)
        _fields(out, "it_energy_kwh", it)
        out["energy_by_component_kwh"] = comps
        if n_gpus:
            _fields(out, "chip_hours", (n_gpus * hours,) * 3)
        _fields(out, "wall_time_h", (hours,) * 3)
        _fields(out, "operational_co2e_kg", op)
        _fields(out, "embodied_co2e_kg", emb)
        _fields(out, "total_co2e_kg", tuple(op[i] + emb[i] for i in range(3)))
        return out


def _fields(out: dict[str, Any], name: str, v: Any) -> None:
    out[name], out[f"{name}_low"], out[f"{name}_high"] = v[0], v[1], v[2]
