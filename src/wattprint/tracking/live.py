"""The run's figures between full summaries, as plain float arithmetic.

Between two full summaries (``FULL_SUMMARY_EVERY_S``) nothing but the charged energies and the elapsed time
changes, and every figure is linear in them: facility energy = IT energy x PUE, operational CO2e = facility
energy x intensity, embodied CO2e = (kgCO2e per hour of this run's hardware share) x hours. So the sampler
thread does not rebuild a :class:`~wattprint.footprint.Footprint` (some fifty Range objects) at every
interval: it evaluates these products on floats. The bounds are those interval arithmetic gives, since every
factor is non-negative (low x low, high x high). Keys that cannot change between full summaries (PUE,
intensity, location, assumptions) are left out: the result is a JSON merge patch over the last full summary,
handed to the store as its shape and numbers (:class:`~wattprint.storage.SlotPatch`), so that SQLite, not the
sampler's thread, formats the numbers into JSON.
"""

from __future__ import annotations

from typing import Any

from ..quantities import Range
from ..storage.records import J_PER_KWH, JsonShape, SlotPatch

SECONDS_PER_HOUR = 3600.0  # definition


class LiveFigures:
    """Frozen factors of one full summary; :meth:`patch` gives the figures at a later reading.

    ``pue`` (dimensionless) and ``intensity`` (gCO2e/kWh) are the run's; ``embodied_kg_per_h`` is the
    embodied CO2e charged per hour of run time at the full summary's hardware share (kgCO2e/h). A resumed run's
    earlier ``earlier_h`` hours come with their own ``earlier_chip_h`` and ``earlier_embodied_kg``: the rate and
    the GPU count apply to the hours after them.
    """

    __slots__ = ("pue", "intensity", "embodied_kg_per_h", "earlier_h", "earlier_chip_h", "earlier_embodied_kg",
                 "_shapes")

    def __init__(self, pue: Range, intensity: Range, embodied_kg_per_h: Range, earlier_h: float = 0.0,
                 earlier_chip_h: float = 0.0, earlier_embodied_kg: Range | None = None) -> None:
        for name, r in (("PUE", pue), ("intensity", intensity), ("embodied rate", embodied_kg_per_h)):
            if r.low < 0:
                raise ValueError(f"{name} must be >= 0 for the live figures, got {r}")
        self.pue = pue
        self.intensity = intensity
        self.embodied_kg_per_h = embodied_kg_per_h
        self.earlier_h = earlier_h
        self.earlier_chip_h = earlier_chip_h
        self.earlier_embodied_kg = earlier_embodied_kg or Range.exact(0.0)
        self._shapes: dict[tuple[tuple[tuple[str, str], ...], bool], JsonShape] = {}

    def patch(self, charged_j: dict[str, tuple[float, float, float]], basis: dict[str, str], elapsed_s: float,
              n_gpus: float) -> dict[str, Any]:
        """The changing figures of ``Footprint.to_dict()`` for these charged energies (J: value, low, high per
        component), component bases, run time (s) and GPU count, with the same names and ``_low``/``_high``."""
        return self.slots(charged_j, basis, elapsed_s, n_gpus).to_dict()

    def slots(self, charged_j: dict[str, tuple[float, float, float]], basis: dict[str, str], elapsed_s: float,
              n_gpus: float) -> SlotPatch:
        """:meth:`patch` as a shape and its numbers: the store has SQLite write the JSON (no float formatting
        on the tracker's thread at every interval). The shape is cached per set of components and bases."""
        comp_values: list[float] = []
        comp_bases: list[tuple[str, str]] = []
        it = it_lo = it_hi = 0.0
        for comp in sorted(charged_j):
            v, lo, hi = charged_j[comp]
            kwh, kwh_lo, kwh_hi = v / J_PER_KWH, min(lo, v) / J_PER_KWH, max(hi, v) / J_PER_KWH
            comp_values += (kwh, kwh_lo, kwh_hi)
            comp_bases.append((comp, "measured" if (basis.get(comp) or "measured") == "measured" else "modelled"))
            it, it_lo, it_hi = it + kwh, it_lo + kwh_lo, it_hi + kwh_hi
        pue, ci, rate = self.pue, self.intensity, self.embodied_kg_per_h
        fac, fac_lo, fac_hi = it * pue.value, it_lo * pue.low, it_hi * pue.high
        op, op_lo, op_hi = fac * ci.value / 1000.0, fac_lo * ci.low / 1000.0, fac_hi * ci.high / 1000.0
        hours = elapsed_s / SECONDS_PER_HOUR
        seg_h = max(0.0, hours - self.earlier_h)  # this segment's: the rate and GPU count are its hardware's
        before = self.earlier_embodied_kg
        emb, emb_lo, emb_hi = (before.value + rate.value * seg_h, before.low + rate.low * seg_h,
                               before.high + rate.high * seg_h)
        chip_h = self.earlier_chip_h + n_gpus * seg_h
        chips = bool(n_gpus or self.earlier_chip_h)
        gpu_hours = (chip_h,) * 3 if chips else ()
        key = (tuple(comp_bases), chips)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = _shape(*key)
        bounds = (*comp_values[1::3], *comp_values[2::3])  # energy_by_component_kwh_low, then _high
        return SlotPatch(shape, (fac, fac_lo, fac_hi, it, it_lo, it_hi, *comp_values, *bounds, *gpu_hours, hours,
                                 hours, hours, op, op_lo, op_hi, emb, emb_lo, emb_hi, op + emb, op_lo + emb_lo,
                                 op_hi + emb_hi))


def _triple(name: str) -> JsonShape:
    return ((name, None), (name + "_low", None), (name + "_high", None))


def _shape(comp_bases: tuple[tuple[str, str], ...], gpus: bool) -> JsonShape:
    """The patch's keys in the order of :meth:`LiveFigures.slots`' numbers (None = a number)."""
    comps = tuple((c, (*_triple("kwh"), ("basis", b))) for c, b in comp_bases)
    bounds = tuple((f"energy_by_component_kwh_{end}", tuple((c, None) for c, _ in comp_bases))
                   for end in ("low", "high"))
    return (*_triple("energy_kwh"), *_triple("it_energy_kwh"), ("energy_by_component_kwh", comps), *bounds,
            *(_triple("chip_hours") if gpus else ()), *_triple("wall_time_h"), *_triple("operational_co2e_kg"),
            *_triple("embodied_co2e_kg"), *_triple("total_co2e_kg"))
