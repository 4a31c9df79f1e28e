"""The footprint model: energy per component -> facility energy -> operational CO2e, plus embodied.

One model for measured and predicted work. Each step is a small function with its units::

    IT energy (kWh, per component, before PUE)
      x PUE                                  -> facility energy ``energy_kwh``
      x grid intensity (gCO2e/kWh) / 1000    -> operational CO2e (kg, location-based)
    + units x kgCO2e/unit x hours used / lifetime hours -> embodied CO2e (kg)
    = total CO2e (kg)

    >>> fp = Footprint(energy_by_component_kwh={"gpu": ComponentEnergy(Range.exact(10), "given")},
    ...                pue=Range.exact(1.2), intensity=Intensity.fixed(400))
    >>> round(fp.operational_co2e_kg.value, 3)
    4.8
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from .quantities import Range

Basis = Literal["measured", "modelled", "given"]
HOURS_PER_YEAR = 24 * 365.25  # calendar arithmetic, not a data constant


@dataclass(frozen=True)
class Assumption:
    """One input that was assumed or resolved, with where its number comes from."""

    what: str
    value: str
    source: str = ""
    note: str = ""

    def to_dict(self) -> dict[str, str]:
        d = {"what": self.what, "value": self.value, "source": self.source}
        if self.note:
            d["note"] = self.note
        return d

    def __str__(self) -> str:
        s = f"{self.what}: {self.value}"
        if self.note:
            s += f" — {self.note}"
        if self.source:
            s += f" [{self.source}]"
        return s


@dataclass(frozen=True)
class Intensity:
    """Grid carbon intensity of the electricity used, in gCO2e/kWh, with its basis and source.

    ``basis`` names what the factor counts (e.g. "lifecycle, average" or "direct combustion,
    average"); sources differ in basis, so it always travels with the number.
    """

    g_per_kwh: Range
    location: str = "given"
    basis: str = "unspecified"
    year: int | None = None
    source: str = "given by the user"
    gases: str = "CO2e"  # what the factor counts: "CO2e" (greenhouse gases as CO2e) or "CO2" (carbon dioxide alone)
    years: tuple[int, int] | None = None  # first and last data year behind a figure that mixes years (world)

    @classmethod
    def fixed(cls, g_per_kwh: float, location: str = "given", source: str = "given by the user") -> Intensity:
        return cls(Range.exact(g_per_kwh), location=location, source=source)

    @property
    def unit(self) -> str:
        """The factor's unit as its source states it: gCO2e/kWh, or gCO2/kWh for a CO2-only factor."""
        return f"g{self.gases}/kWh"

    @property
    def caveat(self) -> str:
        """What the operational "CO2e" computed with this factor leaves out ('' where nothing is known to)."""
        if self.gases != "CO2":
            return ""
        if "direct" in self.basis:  # what the stack emits: nothing from fuel supply or plant construction
            return "CO2 only: excludes CH4, N2O and upstream emissions"
        return "CO2 only: excludes CH4 and N2O"

    @property
    def year_span(self) -> str:
        """"2009-2023" where the figure mixes data years, else the year ('' where none is stated)."""
        if self.years and self.years[0] != self.years[1]:
            return f"{self.years[0]}-{self.years[1]}"
        return str(self.year) if self.year else ""

    def assumption(self) -> Assumption:
        span = self.year_span
        year = f", data years {span}" if span and span != str(self.year) else (f", {self.year}" if self.year else "")
        return Assumption(
            "grid carbon intensity",
            f"{self.g_per_kwh:.4g} {self.unit} ({self.location}{year}; {self.basis})",
            self.source,
            f"operational CO2e here is {self.caveat}" if self.caveat else "",
        )


@dataclass(frozen=True)
class ComponentEnergy:
    """IT energy of one component (before PUE), in kWh, and how it was obtained. ``includes_host``: the figure is
    an all-in power per chip (a paper's system power per accelerator, ``--power-w``, a TPU's system-level
    fraction), so the host's share is in it and no cpu/ram/other component stands beside it."""

    kwh: Range
    basis: Basis
    includes_host: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {**self.kwh.as_fields("kwh"), "basis": self.basis}
        if self.includes_host:  # only then: a measured run's components never carry it
            d["includes_host"] = True
        return d


# -- the steps of the model, each a small function with units ---------------------------------
def facility_energy_kwh(it_energy_kwh: Range, pue: Range) -> Range:
    """Facility energy (kWh) = IT energy (kWh) x PUE (dimensionless, >= 1)."""
    return it_energy_kwh * pue


def operational_co2e_kg(facility_kwh: Range, intensity_g_per_kwh: Range) -> Range:
    """Operational emissions (kgCO2e) = facility energy (kWh) x intensity (gCO2e/kWh) / 1000."""
    return facility_kwh * intensity_g_per_kwh / 1000.0


def amortised_embodied_kg(
    units: float | Range, kg_per_unit: Range, hours_used: Range, lifetime_years: Range
) -> Range:
    """Embodied emissions charged to a job (kgCO2e).

    units x manufacturing kgCO2e per unit x (hours the units were used / service lifetime in hours).
    """
    return kg_per_unit * units * hours_used / (lifetime_years * HOURS_PER_YEAR)


def check_pue(value: float, where: str = "") -> float:
    """``value`` if it is a PUE (facility energy / IT energy: finite and >= 1), else a clear error."""
    if not (value >= 1.0 and math.isfinite(value)):
        from .errors import InputConflictError
        from .estimate.common import number_text  # here, not at the top: estimate.common imports this module

        raise InputConflictError(f"PUE{' from ' + where if where else ''} must be a finite number >= 1 "
                                 f"(facility energy / IT energy), got {number_text(value)}")
    return value


MARKET_ASSUMPTION = "market-based intensity"


@dataclass
class Footprint:
    """Energy and emissions of one piece of work, measured or predicted, with ranges and assumptions.

    ``energy_by_component_kwh`` holds IT energy before PUE (``gpu``/``accelerator``, ``cpu``, ``ram``,
    ``other``). ``energy_kwh`` is facility energy (IT x PUE), the figure emissions are computed from.
    """

    energy_by_component_kwh: dict[str, ComponentEnergy]
    pue: Range
    intensity: Intensity
    embodied_co2e_kg: Range = field(default_factory=lambda: Range.exact(0.0))
    assumptions: list[Assumption] = field(default_factory=list)
    kind: str = "estimate"
    chip_hours: Range | None = None
    wall_time_h: Range | None = None
    market_intensity_g_per_kwh: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_pue(self.pue.low)
        check_pue(self.pue.high)
        if self.market_intensity_g_per_kwh is not None and not any(
                a.what == MARKET_ASSUMPTION for a in self.assumptions):
            from .intensity.mix import given_intensity_note  # only with a market figure: keeps the import light

            slip = given_intensity_note(self.market_intensity_g_per_kwh, "market intensity")
            self.assumptions.append(Assumption(
                MARKET_ASSUMPTION, f"{self.market_intensity_g_per_kwh:.4g} gCO2e/kWh", "given by the user",
                "contractual factor of the supply (market-based method, GHG Protocol Scope 2 Guidance 2015), applied "
                "to the facility energy: the market-based figure is operational CO2e only, without the embodied; the "
                "location-based figure stays the headline" + (f"; {slip}" if slip else "")))

    # -- derived figures ---------------------------------------------------------------------
    @property
    def it_energy_kwh(self) -> Range:
        out = Range.exact(0.0)
        for c in self.energy_by_component_kwh.values():
            out = out + c.kwh
        return out

    @property
    def energy_kwh(self) -> Range:
        return facility_energy_kwh(self.it_energy_kwh, self.pue)

    @property
    def operational_co2e_kg(self) -> Range:
        return operational_co2e_kg(self.energy_kwh, self.intensity.g_per_kwh)

    @property
    def market_based_co2e_kg(self) -> Range | None:
        """Operational CO2e at the contractual intensity (market-based); its range is the facility energy's."""
        if self.market_intensity_g_per_kwh is None:
            return None
        return operational_co2e_kg(self.energy_kwh, Range.exact(self.market_intensity_g_per_kwh))

    @property
    def total_co2e_kg(self) -> Range:
        return self.operational_co2e_kg + self.embodied_co2e_kg

    def equivalents(self) -> list[dict[str, Any]]:
        """The total expressed in everyday terms (km by car, flights, phone charges ...), sourced."""
        from .data import equivalence_factors

        out = []
        kg = self.total_co2e_kg
        for f in equivalence_factors():
            out.append(
                {
                    "name": f.name,
                    "unit": f.unit,
                    **(kg / f.kg_co2e_per_unit).as_fields("amount"),
                    "source": f.source,
                    "year": f.year,
                    "uncertain": f.uncertain,
                    **({"note": f.note} if f.uncertain else {}),
                }
            )
        return out

    # -- output ------------------------------------------------------------------------------
    def to_dict(self, equivalents: bool = False, assumptions: bool = True) -> dict[str, Any]:
        """Flat JSON-ready dict; every figure has ``<name>_low`` and ``<name>_high`` beside it.

        ``equivalents=True`` adds the total in everyday terms (loads the equivalence table);
        ``assumptions=False`` leaves the assumption list out (figures only).
        """
        d: dict[str, Any] = {"kind": self.kind}
        d.update(self.energy_kwh.as_fields("energy_kwh"))
        d.update(self.it_energy_kwh.as_fields("it_energy_kwh"))
        d["energy_by_component_kwh"] = {k: c.to_dict() for k, c in self.energy_by_component_kwh.items()}
        # the range beside the figure, as for every other one (each component's dict carries it too)
        d["energy_by_component_kwh_low"] = {k: c.kwh.low for k, c in self.energy_by_component_kwh.items()}
        d["energy_by_component_kwh_high"] = {k: c.kwh.high for k, c in self.energy_by_component_kwh.items()}
        d.update(self.pue.as_fields("pue"))
        d.update(self.intensity.g_per_kwh.as_fields("intensity_g_per_kwh"))
        d["intensity_basis"] = self.intensity.basis
        d["intensity_unit"] = self.intensity.unit
        # what the operational "CO2e" leaves out with this intensity (a CO2-only one: eGRID 2016, EEA); None: nothing
        d["intensity_caveat"] = self.intensity.caveat or None
        d["intensity_year"] = self.intensity.year  # the newest data year; intensity_years: the span behind it
        i = self.intensity
        d["intensity_years"] = list(i.years) if i.years else ([i.year, i.year] if i.year else None)
        d["intensity_source"] = self.intensity.source
        d["location"] = self.intensity.location
        if self.chip_hours is not None:
            d.update(self.chip_hours.as_fields("chip_hours"))
        if self.wall_time_h is not None:
            d.update(self.wall_time_h.as_fields("wall_time_h"))
        elif self.chip_hours is not None:  # chip-hours without a chip count: no wall time, but the same keys
            d.update(dict.fromkeys(("wall_time_h", "wall_time_h_low", "wall_time_h_high")))
        d.update(self.operational_co2e_kg.as_fields("operational_co2e_kg"))
        d.update(self.embodied_co2e_kg.as_fields("embodied_co2e_kg"))
        d.update(self.total_co2e_kg.as_fields("total_co2e_kg"))
        if self.market_based_co2e_kg is not None:
            d.update(self.market_based_co2e_kg.as_fields("market_based_co2e_kg"))
        for k, v in self.details.items():
            if isinstance(v, Range):
                d.update(v.as_fields(k))
            else:
                d[k] = v
        if equivalents:
            d["equivalents"] = self.equivalents()
        if assumptions:
            d["assumptions"] = [a.to_dict() for a in self.assumptions]
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default)

    def table(self, title: str = "", assumptions: bool = True, equivalents: bool = True) -> str:
        """A plain-text table for the terminal (``assumptions=False`` leaves out the assumption list)."""
        rows: list[tuple[str, str]] = []
        if self.wall_time_h is not None:
            rows.append(("wall time", _fmt_scaled(self.wall_time_h, _TIME_UNITS)))
        if self.chip_hours is not None:
            rows.append(("chip-hours", _fmt(self.chip_hours, "h")))
        for name, comp in self.energy_by_component_kwh.items():
            host = ", host share incl." if comp.includes_host else ""
            rows.append((f"  {name} energy (IT, {comp.basis}{host})", _fmt_energy(comp.kwh)))
        rows.append(("IT energy", _fmt_energy(self.it_energy_kwh)))
        rows.append(("PUE", format(self.pue, ".3g")))
        rows.append(("facility energy", _fmt_energy(self.energy_kwh)))
        rows.append(("grid intensity", _fmt(self.intensity.g_per_kwh, self.intensity.unit)))
        # a CO2-only intensity says so on the row (the assumptions say what it leaves out)
        only = f" ({self.intensity.caveat.split(':')[0]})" if self.intensity.caveat else ""
        rows.append((f"operational CO2e{only}", _fmt_mass(self.operational_co2e_kg)))
        rows.append(("embodied CO2e", _fmt_mass(self.embodied_co2e_kg)))
        rows.append(("total CO2e", _fmt_mass(self.total_co2e_kg)))
        if self.market_based_co2e_kg is not None:  # operational only: beside the total, the row must not read as one
            rows.append(("market-based operational CO2e", _fmt_mass(self.market_based_co2e_kg)))
        for k, v in self.details.items():
            if isinstance(v, Range):
                rows.append(_detail_row(k, v))
        width = max(len(r[0]) for r in rows)
        lines = [title] if title else []
        lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
        if equivalents and self.total_co2e_kg.value > 0:
            eq = "; ".join(f"{_amount(e['amount'])} {e['unit']}" + (" (UNCERTAIN factor)" if e["uncertain"] else "")
                           for e in _readable(self.equivalents()))
            lines.append(f"  total CO2e is about: {eq}")
        if assumptions and self.assumptions:
            lines.append("  assumptions:")
            lines += [f"    - {a}" for a in self.assumptions]
        return "\n".join(lines)


def _json_default(o: Any) -> Any:
    if isinstance(o, Range):
        return o.to_dict()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _fmt(r: Range, unit: str) -> str:
    return f"{r:.4g} {unit}"


# display units, largest first: (name, size in the base unit); the base unit's own row has size 1
_ENERGY_UNITS = (("TWh", 1e9), ("GWh", 1e6), ("MWh", 1e3), ("kWh", 1.0), ("Wh", 1e-3), ("mWh", 1e-6))
_TIME_UNITS = (("h", 1.0), ("min", 1 / 60), ("s", 1 / 3600), ("ms", 1 / 3.6e6))  # a 2 s run read 0.000556 h
_MASS_UNITS = (("MtCO2e", 1e9), ("ktCO2e", 1e6), ("tCO2e", 1e3), ("kgCO2e", 1.0), ("gCO2e", 1e-3), ("mgCO2e", 1e-6))


def _fmt_scaled(r: Range, units: tuple[tuple[str, float], ...]) -> str:
    """``r`` in the largest unit whose central value, as printed (4 significant digits), is at least 1: 999.99999
    kWh prints as 1 MWh, not 1000 kWh. Values below the smallest unit, and 0, use the base unit or the smallest."""
    v = abs(r.value)
    if v == 0:
        return _fmt(r, next(name for name, size in units if size == 1.0))
    for name, size in units:
        if float(f"{v / size:.4g}") >= 1.0:
            return _fmt(r / size, name)
    name, size = units[-1]
    return _fmt(r / size, name)


def _fmt_energy(kwh: Range) -> str:
    """Energy in mWh ... TWh, whichever reads best."""
    return _fmt_scaled(kwh, _ENERGY_UNITS)


def _fmt_mass(kg: Range) -> str:
    """CO2e in mg ... Mt, whichever reads best."""
    return _fmt_scaled(kg, _MASS_UNITS)


# an everyday equivalent below this many units ("2.4e-08 flights") tells a reader nothing; the table leaves it out
READABLE_EQUIVALENT = 0.01


def _readable(equivalents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The equivalents worth printing: those of at least READABLE_EQUIVALENT units, or else the largest one, so a
    tiny footprint still gets one comparison (JSON keeps them all)."""
    kept = [e for e in equivalents if e["amount"] >= READABLE_EQUIVALENT]
    return kept or sorted(equivalents, key=lambda e: e["amount"])[-1:]


def _amount(x: float) -> str:
    """An everyday amount as people write it: 3 significant digits, thousands separated (2,100 km, not 2.1e+03);
    scientific notation only beyond a billion or below a thousandth."""
    if x != 0 and (abs(x) >= 1e9 or abs(x) < 1e-3):
        return f"{x:.3g}"
    rounded = float(f"{x:.3g}")
    return f"{rounded:,.0f}" if abs(rounded) >= 1000 else f"{rounded:g}"


# unit suffixes of detail names -> how the table shows them: energies and masses rescaled like the headline rows
# (with their factor to kWh / kg) but never below their own unit (per-token figures are read in Wh and g); the
# rest in their own unit
_DETAIL_UNITS = {"j": "J", "s": "s", "ms": "ms", "h": "h"}
_DETAIL_SCALED = {"wh": (_ENERGY_UNITS[:-1], 1e-3), "kwh": (_ENERGY_UNITS[:-2], 1.0), "g": (_MASS_UNITS[:-1], 1e-3),
                  "kg": (_MASS_UNITS[:-2], 1.0)}

_DETAIL_WORDS = {"it": "IT", "co2e": "CO2e", "gpu": "GPU"}
# details whose name alone misreads in the table (the JSON keeps the name): the serving throughput is batch / decode
# step time, output tokens only, while the replicas needed count prefill too, so the two must not read as one rate
_DETAIL_LABELS = {"throughput_tokens_per_s_per_replica": "decode output tokens per s per replica"}


def _detail_row(name: str, value: Range) -> tuple[str, str]:
    """A detail's table row: its name in words and its unit after the number (energy_per_request_wh ->
    "energy per request", "0.25 (0.1–0.5) Wh")."""
    if name in _DETAIL_LABELS:
        return _DETAIL_LABELS[name], format(value, ".4g")
    words = name.split("_")
    unit = _DETAIL_UNITS.get(words[-1]) if len(words) > 1 else None
    scaled = _DETAIL_SCALED.get(words[-1]) if len(words) > 1 else None
    if unit is None and scaled is None:
        return name.replace("_", " "), format(value, ".4g")
    label = " ".join(_DETAIL_WORDS.get(w, w) for w in words[:-1])
    if scaled is not None:
        units, to_base = scaled
        return label, _fmt_scaled(value * to_base, units)
    return label, f"{value:.4g} {unit}"


def is_finite_positive(x: float) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0
