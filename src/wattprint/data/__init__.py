"""Embedded reference data: accelerators, CPUs, RAM, embodied emissions, PUE, equivalence factors.

Tables live in ``tables/*.json`` (built by ``scripts/build_data.py`` from the project's sourced data; every
table keeps its source, licence and year). They are loaded lazily on first use and cached, so importing this
module reads no file. Look-ups accept forgiving names and raise :class:`~wattprint.errors.UnknownNameError`
listing the closest valid names.

    >>> from wattprint.data import find_accelerator
    >>> acc, variants, notes = find_accelerator("A100")
    >>> acc.name
    'NVIDIA A100 SXM4 80GB'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..errors import InputConflictError, UnknownNameError, echo, normalise_name
from ..footprint import Assumption
from ..quantities import Range, decimal_point_hint
from .catalogue import (
    TB,
    TFLOPS,
    Accelerator,
    _accels,
    _by_name,
    accelerator_names,
    accelerators,
    load_table,
    table_meta,
)

if TYPE_CHECKING:
    from .hardware_names import find_accelerator, uncertain_values_assumption

# the name resolver (regular expressions, driver spellings) loads on first use: a tracker on a machine without
# accelerators never needs it
_LAZY = {"find_accelerator", "uncertain_values_assumption"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import hardware_names

        value = getattr(hardware_names, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "TB", "TFLOPS", "Accelerator", "EmbodiedFactor", "EquivalenceFactor", "accelerator_names", "accelerators",
    "find_accelerator", "uncertain_values_assumption", "embodied_accelerator", "embodied_host_server",
    "embodied_cpu_server", "server_logical_cpus", "accelerators_per_server", "cpu_tdp_w", "cpu_watts_per_core",
    "ram_watts_per_gb", "pue_preset", "pue_presets", "default_pue", "given_pue_note", "equivalence_factors",
    "load_table", "table_meta", "world_annual_co2e_kg", "measured_energy_band",
]



@dataclass(frozen=True)
class EmbodiedFactor:
    """Manufacturing emissions per unit (kgCO2e, a Range) and the service lifetime (years) to amortise over."""

    kg_per_unit: Range
    lifetime_years: Range
    unit: str
    source: str
    note: str = ""


def _factor(key: str) -> dict[str, Any]:
    f: dict[str, Any] = load_table("factors")["factors"][key]
    return f


def world_annual_co2e_kg() -> tuple[float, str]:
    """(the world's annual greenhouse-gas emissions in kgCO2e, its source and year): the bound past which an
    estimate can only come from a slip in its inputs."""
    f = _factor("world_annual_co2e_kg")
    return float(f["value"]), f"{f['source']} ({f['year']})"


# the sensor behind a measured component: GPU drivers (NVML, AMD SMI) for "gpu", RAPL for the CPU packages and RAM
_SENSOR_BAND = {"gpu": ("measured_rel_gpu", "the GPU driver's (NVML / AMD SMI)"),
                "cpu": ("measured_rel_rapl", "RAPL's"), "ram": ("measured_rel_rapl", "RAPL's")}


def measured_energy_band(component: str) -> tuple[float, Assumption]:
    """(relative accuracy band of a measured ``component``'s energy, +-; the assumption that says it and its
    source). The range of a measured figure is reading x (1 -+ band); its central value is the reading."""
    key, sensor = _SENSOR_BAND.get(component, _SENSOR_BAND["cpu"])
    f = _factor(key)
    rel = float(f["value"])
    return rel, Assumption(f"measured {component} energy range", f"+-{rel:.0%} of the reading ({sensor} accuracy)",
                           f"{f['source']} ({f['year']})", f["note"])


def _range(d: dict[str, Any], value_key: str = "value") -> Range:
    v = float(d[value_key])
    lo = d.get("low")
    hi = d.get("high")
    return Range(v, float(lo) if lo is not None else v, float(hi) if hi is not None else v)


def _lifetime(key: str) -> Range:
    return _range(_factor(key))


def embodied_accelerator(acc: Accelerator) -> EmbodiedFactor:
    """Embodied kgCO2e per chip (chip/module only, no host share), with the amortisation lifetime."""
    e = acc._raw.get("embodied") if acc._raw else None
    if e is None:  # an Accelerator built by hand: use the class fallback of a catalogue row
        e = next(a._raw["embodied"] for a in _accels() if a._raw["embodied"]["fallback"])
    kg = Range(float(e["kg"]), float(e["low"]), float(e["high"]))
    life = _factor("accelerator_lifetime_years")
    note = e["note"]
    if e["uncertain"]:
        note = ("UNCERTAIN. " + note) if "UNCERTAIN" not in note else note
    return EmbodiedFactor(kg, _lifetime("accelerator_lifetime_years"), "kgCO2e per chip",
                          f"{e['source']}; lifetime: {life['source']}", note)


def embodied_host_server() -> EmbodiedFactor:
    """Embodied kgCO2e per GPU server excluding its accelerators, with the amortisation lifetime."""
    f = _factor("host_server_embodied_kg")
    life = _factor("server_lifetime_years")
    return EmbodiedFactor(_range(f), _lifetime("server_lifetime_years"), "kgCO2e per server (excluding accelerators)",
                          f"{f['source']}; lifetime: {life['source']}", f["note"])


def embodied_cpu_server() -> EmbodiedFactor:
    """Embodied kgCO2e of a 2-socket rack server without accelerators (machines with no GPU, VMs' hosts)."""
    f = _factor("cpu_server_embodied_kg")
    life = _factor("server_lifetime_years")
    return EmbodiedFactor(_range(f), _lifetime("server_lifetime_years"), "kgCO2e per server (no accelerators)",
                          f"{f['source']}; lifetime: {life['source']}", f["note"])


def server_logical_cpus() -> tuple[Range, Assumption]:
    """Logical CPUs of a typical 2-socket server: the share of a host a VM's vCPUs stand for."""
    f = _factor("server_logical_cpus")
    r = _range(f)
    return r, Assumption("logical CPUs per host server", f"{r:.4g}", f["source"], f["note"])


def _catalogue_row(acc: Accelerator) -> dict[str, Any]:
    """The built table's row of ``acc`` (an Accelerator made elsewhere, e.g. in a test, takes its namesake's)."""
    return acc._raw or _by_name().get(acc.name, acc)._raw


def accelerators_per_server(acc: Accelerator) -> int:
    """Accelerators per host server for this chip (8 for HGX-class, 4 for MI250X nodes and TPU hosts ...)."""
    raw = _catalogue_row(acc)
    return int(raw["per_server"]["n"]) if raw else 8


def count_unit(acc: Accelerator) -> dict[str, Any] | None:
    """What one counted ``acc`` is where software counts its parts instead (refdata/count_units.csv): unit, parts,
    parts_name, others_count, source; None for a chip software counts as the catalogue does."""
    raw = _catalogue_row(acc)
    unit = raw.get("count_unit") if raw else None
    return dict(unit) if unit else None


def count_unit_assumption(acc: Accelerator, count: float | None) -> Assumption | None:
    """What one counted ``acc`` is, where the software people read counts its parts instead (an MI250X package of
    2 GCDs that ROCm lists as 2 GPUs; a TPU v3 chip of 2 TensorCores that slice names count): None for other chips.
    ``count`` (None: the replica size is chosen) is echoed with its parts."""
    unit = count_unit(acc)
    if unit is None:
        return None
    short = unit["parts_name"].split(" (")[0]
    value = (f"{count:g} {acc.name} {unit['unit']}s ({count * unit['parts']:g} {short})" if count is not None
             else f"{acc.name} {unit['unit']}s ({unit['parts']} {short} each)")
    return Assumption("what a count counts", value, unit["source"],
                      f"one {unit['unit']} = {unit['parts']} {unit['parts_name']}; {unit['others_count']}")


def accelerators_per_server_source(acc: Accelerator) -> str:
    raw = _catalogue_row(acc)
    return str(raw["per_server"]["source"]) if raw else ""


# -- CPUs and RAM ---------------------------------------------------------------------------------
_CPU_NOISE = re.compile(r"\((r|tm)\)|\bcpu\b|\bprocessor\b|@.*$|\b\d+-core\b|\bwith radeon.*$", re.IGNORECASE)


def _cpu_key(text: str) -> str:
    t = _CPU_NOISE.sub(" ", text)
    return "".join(ch for ch in t.lower().replace("+", "plus") if ch.isalnum())


@lru_cache(maxsize=1)
def _cpu_index() -> dict[str, tuple[float, str, str]]:
    t = load_table("cpus")
    idx: dict[str, tuple[float, str, str]] = {}
    cc_src = "CodeCarbon cpu_power.csv (manufacturer TDP; MIT)"
    for name, tdp in t["codecarbon"].items():
        idx.setdefault(_cpu_key(name), (float(tdp), name, cc_src))
    for name, (tdp, _cores, src) in t["repo"].items():
        # "Intel Xeon Platinum 8480+ / 8480C", "AMD EPYC 7A53 (Trento)": each variant under its full name, without
        # the code name that /proc/cpuinfo never shows
        variants = re.sub(r"\s*\([^)]*\)", "", name).split(" / ")
        head = variants[0].rsplit(" ", 1)[0]
        for i, variant in enumerate(variants):
            full = f"{head} {variant.strip()}" if i and " " not in variant.strip() else variant
            idx[_cpu_key(full)] = (float(tdp), name, src)
    return idx


def credits() -> list[str]:
    """The licence attributions of the embedded tables, each once (``wattprint data credits``; README.md)."""
    seen: list[str] = []
    for t in ("accelerators", "cpus", "factors", "countries", "regions"):
        for line in table_meta(t).get("attributions", []):
            if str(line) not in seen:
                seen.append(str(line))
    return seen


def max_cpu_tdp_w() -> float:
    """The highest TDP of any CPU in the catalogue (W): a bound on what one socket can draw."""
    return max(tdp for tdp, _, _ in _cpu_index().values())


def cpu_tdp_w(model_name: str) -> tuple[float, str] | None:
    """TDP in W of a CPU model (forgiving: '/proc/cpuinfo' strings work) and its source; None if unknown."""
    key = _cpu_key(model_name)
    if not key:
        return None
    idx = _cpu_index()
    if key in idx:
        tdp, name, src = idx[key]
        return tdp, f"{name}: {src}"
    # vendor prefixes differ between sources ("AMD EPYC 7742" vs "EPYC 7742"): compare without them
    for prefix in ("intel", "amd"):
        alt = key[len(prefix):] if key.startswith(prefix) else prefix + key
        if alt in idx:
            tdp, name, src = idx[alt]
            return tdp, f"{name}: {src}"
    return None


def cpu_watts_per_core() -> tuple[Range, Assumption]:
    """Generic CPU power per physical core (W) when the model is unknown: TDP/cores of server CPUs."""
    d = _factor("cpu_w_per_core")
    r = _range(d)
    return r, Assumption("CPU power per core", f"{r:.3g} W/core", d["source"],
                         "used because the CPU model's TDP is unknown")


def ram_watts_per_gb() -> tuple[Range, Assumption]:
    """RAM power in W per GB of memory (allocated), with the rule's sources."""
    f = _factor("ram_w_per_gb")
    r = _range(f)
    return r, Assumption("RAM power", f"{r:.4g} W/GB", f["source"], f["note"])


# -- PUE -----------------------------------------------------------------------------------------
def pue_presets() -> list[dict[str, Any]]:
    """PUE presets (name, aliases, value, low, high, year, source ...)."""
    presets: list[dict[str, Any]] = load_table("factors")["pue_presets"]
    return presets


def _preset_names() -> list[str]:
    return [p["preset"] for p in pue_presets()] + [a for p in pue_presets() for a in p["aliases"]]


def pue_preset(name: str) -> tuple[Range, Assumption]:
    """PUE by preset: "hyperscale"/"cloud", "enterprise"/"on-premise", "colocation", "average"/"industry",
    "google", "aws", "azure"/"microsoft", "meta". Unknown -> UnknownNameError with closest names."""
    key = normalise_name(name)
    for p in pue_presets():
        if key in {normalise_name(p["preset"])} | {normalise_name(a) for a in p["aliases"]}:
            r = Range(float(p["value"]), float(p["low"]), float(p["high"]))
            note = f"{p['what']}, {p['year']} ({p['scope']})"
            if p["note"]:
                note += f"; {p['note']}"
            if p["uncertain"]:
                note = "UNCERTAIN. " + note
            return r, Assumption("PUE", f"{r:.3g} (preset '{p['preset']}')", p["source"], note)
    if (hint := decimal_point_hint(name)) is not None:  # "1,2": a number with a decimal comma, not a name
        raise InputConflictError(f"PUE {echo(name.strip())} is not a number ({hint})")
    raise UnknownNameError("PUE preset", name, _preset_names(), "or give a number >= 1",
                           examples=[p["preset"] for p in pue_presets()])


# an input check, not data: how far past the highest sourced PUE class a given PUE may go before it is taken for a
# slip (150 for 1.50, a percentage, a ratio inverted ...)
PUE_SLIP_FACTOR = 2.0


def given_pue_note(value: float, source: str = "given by the user") -> Assumption | None:
    """A note for a given PUE above the highest of the preset classes' ranges (the least efficient facilities in the
    sources); an error beyond ``PUE_SLIP_FACTOR`` times that. None for an ordinary value."""
    worst = max(pue_presets(), key=lambda p: float(p["high"]))
    top = float(worst["high"])
    if value > PUE_SLIP_FACTOR * top:
        raise InputConflictError(
            f"PUE {value:g} means the facility draws {value:g}x what its IT equipment does; the least efficient "
            f"class in the sources reaches {top:g} ({worst['what']}): give a number such as 1.5")
    if value > top:
        return Assumption("PUE", f"{value:g}", source,
                          f"above {top:g}, the top of the least efficient class in the sources ({worst['what']}, "
                          f"{worst['source']})")
    return None


_PROVIDER_PRESET = {"aws": "aws", "gcp": "google", "azure": "azure"}


def default_pue(location: str | None) -> tuple[Range, Assumption]:
    """PUE when the user gives none: a cloud region -> its provider's fleet value; otherwise the industry
    average with a range from hyperscale to enterprise facilities."""
    if location:
        from ..intensity import resolve_location

        loc = resolve_location(location)
        if loc.kind == "cloud":
            return pue_preset(_PROVIDER_PRESET[loc.key.split(":", 1)[0]])
    return pue_preset("average")


# -- equivalents ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class EquivalenceFactor:
    """kgCO2e per everyday unit (a km by car, a flight, a smartphone charge ...), with source and year."""

    name: str
    unit: str
    kg_co2e_per_unit: float
    source: str
    year: int
    uncertain: bool = False
    note: str = ""


def equivalence_factors() -> list[EquivalenceFactor]:
    """Sourced everyday equivalents (refdata/equivalents.csv); ``uncertain`` where no primary source was re-read."""
    return [EquivalenceFactor(e["name"], e["unit"], float(e["kg_co2e_per_unit"]), e["source"], int(e["year"]),
                              bool(e.get("uncertain")), e.get("note", ""))
            for e in load_table("factors")["equivalents"]]
