"""Each phase's footprint: the run's chain (IT energy per component -> x PUE -> facility energy -> x intensity ->
operational CO2e; + embodied CO2e = total) applied to what was measured between the phase's boundaries.

A phase is priced as its run is (a :class:`~wattprint.footprint.Footprint` built from the run's): the same PUE and
grid intensity (a resumed run's earlier phases are repriced at its last site, as the run is), each component's
range the run's in proportion to the phase's energy of it, and the run's embodied CO2e and chip-hours in proportion
to the phase's share of its duration (amortisation is linear in the hours, at the run's hardware). A phase name's
figures total its occurrences, as :class:`~.phases.PhaseTotal` does; phases that overlap (one nested in another of a
different name) each carry their own figures, so their sums can exceed the run's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import WattprintError
from ..footprint import Assumption, ComponentEnergy, Footprint, Intensity
from ..quantities import Range
from .live import J_PER_KWH, SECONDS_PER_HOUR
from .phases import PhaseTotal

PHASE_ASSUMPTION = Assumption(
    "phase figures", "IT energy measured between the phase's boundaries, at the run's PUE and grid intensity; each "
    "component's range and the embodied CO2e and chip-hours are the run's, in proportion to the phase's energy "
    "and duration")

# the figures a stored phase carries beside its energy_j, duration_s and count: the run's keys, with their ranges
_FIGURES = ("it_energy_kwh", "energy_kwh", "operational_co2e_kg", "embodied_co2e_kg", "total_co2e_kg",
            "market_based_co2e_kg", "chip_hours", "energy_by_component_kwh")
_FIGURE_KEYS = frozenset(k + s for k in _FIGURES for s in ("", "_low", "_high"))


def phase_footprint(total: PhaseTotal, run: Footprint) -> Footprint:
    """The footprint of phase ``total`` of a run whose footprint (so far) is ``run``."""
    comps: dict[str, ComponentEnergy] = {}
    for comp, joules in sorted(total.energy_j.items()):
        kwh = joules / J_PER_KWH
        of_run = run.energy_by_component_kwh.get(comp)
        if of_run is None:  # not in the run's figures (cannot happen for a live run): exact, as measured
            comps[comp] = ComponentEnergy(Range.exact(kwh), "measured")
        else:
            comps[comp] = ComponentEnergy(_in_proportion(of_run.kwh, kwh), of_run.basis)
    share = _time_share(total.duration_s, run.wall_time_h)
    return Footprint(
        energy_by_component_kwh=comps,
        pue=run.pue,
        intensity=run.intensity,
        embodied_co2e_kg=run.embodied_co2e_kg * share,
        assumptions=[*run.assumptions, PHASE_ASSUMPTION],
        kind=run.kind,
        chip_hours=run.chip_hours * share if run.chip_hours is not None else None,
        wall_time_h=Range.exact(total.duration_s / SECONDS_PER_HOUR),
        market_intensity_g_per_kwh=run.market_intensity_g_per_kwh,
    )


def phase_footprints(totals: Mapping[str, PhaseTotal], run: Footprint) -> dict[str, Footprint]:
    """Each phase name's footprint (:func:`phase_footprint`), in the order the names first ended."""
    return {name: phase_footprint(total, run) for name, total in totals.items()}


def phase_summaries(totals: Mapping[str, PhaseTotal], run: Footprint) -> dict[str, dict[str, Any]]:
    """The ``phases`` of a stored summary: each name's energy_j, duration_s and count, and its figures under the
    run's key names (energy_kwh, it_energy_kwh, operational/embodied/total_co2e_kg, each with _low/_high)."""
    return {name: {**total.to_dict(), **figures(phase_footprint(total, run))} for name, total in totals.items()}


def figures(fp: Footprint) -> dict[str, Any]:
    """The figures of a phase's footprint a summary keeps (the PUE, intensity and location are the run's)."""
    return {k: v for k, v in fp.to_dict(assumptions=False).items() if k in _FIGURE_KEYS}


def stored_phase_figures(summary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``phases`` of a stored summary (or a run's ``to_dict()``), each with its figures: as stored where the
    summary has them; for a run stored before phases had them (IT energy only), computed from the phase's stored
    J and duration and the run's stored PUE, intensity, component ranges and embodied CO2e. A phase that cannot be
    priced (the run's figures are missing or unreadable) is given as stored."""
    phases = summary.get("phases")
    if not isinstance(phases, Mapping):
        return {}
    run = stored_footprint(summary)
    out: dict[str, dict[str, Any]] = {}
    for name, stored in phases.items():
        if not isinstance(stored, Mapping):
            continue
        total = PhaseTotal.from_dict(stored)
        if "energy_kwh" in stored or run is None or total is None:
            out[str(name)] = dict(stored)
        else:
            out[str(name)] = {**stored, **figures(phase_footprint(total, run))}
    return out


def stored_footprint(summary: Mapping[str, Any]) -> Footprint | None:
    """The run's footprint rebuilt from its stored figures (enough to price its phases), or None where they are
    missing or not numbers (a run killed before its first summary, a store edited by hand)."""
    try:
        comps = {str(k): ComponentEnergy(_stored_range(c, "kwh"), c.get("basis") if c.get("basis") in (
            "measured", "modelled", "given") else "measured") for k, c in summary["energy_by_component_kwh"].items()}
        hours = (_stored_range(summary, "wall_time_h") if "wall_time_h" in summary
                 else Range.exact(float(summary["duration_s"]) / SECONDS_PER_HOUR))
        return Footprint(
            energy_by_component_kwh=comps,
            pue=_stored_range(summary, "pue"),
            intensity=Intensity(_stored_range(summary, "intensity_g_per_kwh"),
                                location=str(summary.get("location") or "given")),
            embodied_co2e_kg=(_stored_range(summary, "embodied_co2e_kg") if "embodied_co2e_kg" in summary
                              else Range.exact(0.0)),
            kind=str(summary.get("kind") or "measured"),
            chip_hours=_stored_range(summary, "chip_hours") if "chip_hours" in summary else None,
            wall_time_h=hours,
        )
    except (KeyError, TypeError, ValueError, AttributeError, WattprintError):
        return None


def _stored_range(d: Mapping[str, Any], name: str) -> Range:
    """``d[name]`` with its ``_low``/``_high`` bounds (exact where they are missing)."""
    v = float(d[name])
    return Range(v, float(d.get(f"{name}_low", v)), float(d.get(f"{name}_high", v)))


def _in_proportion(of_run: Range, value: float) -> Range:
    """``value`` with the relative bounds of ``of_run`` (exact where the run's figure is 0)."""
    if of_run.value <= 0:
        return Range.exact(value)
    return Range.relative(value, of_run.low / of_run.value, of_run.high / of_run.value)


def _time_share(seconds: float, run_h: Range | None) -> float:
    """The phase's share of the run's duration (0 to 1; 0 for a run without one)."""
    if run_h is None or run_h.value <= 0:
        return 0.0
    return min(1.0, max(0.0, seconds / SECONDS_PER_HOUR / run_h.value))
