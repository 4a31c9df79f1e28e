"""Stored runs as flat rows, one per run, for a spreadsheet or a paper's table (``wattprint runs export``), and the
rates derived from a run's figures (mean power, CO2e per hour) that its summary and ``runs show`` carry too.

Every row has the columns of :data:`COLUMNS`, in that order, whatever the run holds: a field a run lacks (stored by
an earlier version of wattprint, killed before its first summary, or not measured: no GPU) is empty in CSV and null in
JSON. Units are in the names: energies in kWh (``energy_kwh`` at the facility, after PUE; ``it_energy_kwh`` and the
components' before it), mean power in W (IT energy / duration, before PUE), CO2e in kg, CO2e rates in g/h.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from .records import J_PER_KWH

SECONDS_PER_HOUR = 3600.0  # definition
GRAMS_PER_KG = 1000.0  # definition
# the components a tracked run charges (devices: "cpu" packages, "gpu"s, "ram"); each has its own columns
COMPONENTS = ("cpu", "gpu", "ram")
_ENDS = ("", "_low", "_high")
_RANGED = ("energy_kwh", "it_energy_kwh")
_CO2E = ("operational_co2e_kg", "embodied_co2e_kg", "total_co2e_kg")
# the keys of :func:`rates`, each with its _low and _high
RATE_KEYS: tuple[str, ...] = tuple(f"{k}{e}" for k in ("mean_power_w", "it_mean_power_w", "operational_co2e_g_per_h",
                                                       "total_co2e_g_per_h") for e in _ENDS)
# the keys of a stored run's dict (:meth:`~wattprint.storage.RunRecord.to_dict`) that the columns are made of, its
# rates aside: every reader of the store gives each of them, null where the run lacks it (see stored_run_dict)
RUN_KEYS: tuple[str, ...] = (
    "id", "project", "status", "damaged", "started_at", "ended_at", "duration_s", "exit_code", "signal",
    *(f"{k}{e}" for k in _RANGED for e in _ENDS), "energy_by_component_kwh",
    "pue", "pue_low", "pue_high", "pue_source", "pue_preset",
    "intensity_g_per_kwh", "intensity_g_per_kwh_low", "intensity_g_per_kwh_high", "intensity_unit",
    "intensity_caveat", "intensity_basis", "intensity_year", "intensity_given", "location", "location_detail",
    *(f"{k}{e}" for k in _CO2E for e in _ENDS), "chip_hours", "chip_hours_low", "chip_hours_high", "hardware", "meta",
)

COLUMNS: tuple[str, ...] = (
    "id", "project", "status", "writer_gone", "damaged", "started_at", "ended_at", "duration_s", "exit_code", "signal",
    *(f"{k}{e}" for k in _RANGED for e in _ENDS),
    *(f"{c}_energy_kwh{e}" for c in COMPONENTS for e in _ENDS),
    *(f"{c}_basis" for c in COMPONENTS),
    *(f"{c}_mean_power_w{e}" for c in COMPONENTS for e in _ENDS), *(f"it_mean_power_w{e}" for e in _ENDS),
    "pue", "pue_low", "pue_high", "pue_source", "pue_preset",
    "intensity_g_per_kwh", "intensity_g_per_kwh_low", "intensity_g_per_kwh_high", "intensity_unit",
    "intensity_caveat", "intensity_basis", "intensity_year", "intensity_given",
    "location", "location_key", "country_iso", "region", "cloud_provider", "cloud_region",
    *(f"{k}{e}" for k in _CO2E for e in _ENDS),
    *(f"{k}_co2e_g_per_h{e}" for k in ("operational", "total") for e in _ENDS),
    "chip_hours", "chip_hours_low", "chip_hours_high",
    "gpus", "gpus_catalogue", "gpu_count", "cpu_model", "cpu_sockets", "cpu_logical", "cpus_allocated", "vm",
    "ram_gib", "ram_allocated_gib",
    "host", "wattprint_version", "python_version", "os",
)


def rates(d: Mapping[str, Any], duration_s: Any) -> dict[str, Any]:
    """The rates of a run's figures ``d`` over ``duration_s``: ``mean_power_w`` (component -> W, IT energy before
    PUE / duration; with ``mean_power_w_low``/``_high``), ``it_mean_power_w`` (their sum, with its range), and
    ``operational_co2e_g_per_h`` and ``total_co2e_g_per_h`` (with their ranges). {} where the duration is not > 0;
    a figure the run lacks gives no rate."""
    seconds = stored_number(duration_s)
    if seconds is None or seconds <= 0:
        return {}
    w_per_kwh = J_PER_KWH / seconds
    out: dict[str, Any] = {}
    comps = d.get("energy_by_component_kwh")
    comps = comps if isinstance(comps, Mapping) else {}
    for end in _ENDS:
        per = {k: kwh * w_per_kwh for k, c in comps.items()
               if isinstance(c, Mapping) and (kwh := stored_number(c.get(f"kwh{end}"))) is not None}
        out[f"mean_power_w{end}"] = per
    for end in _ENDS:
        it = stored_number(d.get(f"it_energy_kwh{end}"))
        out[f"it_mean_power_w{end}"] = None if it is None else it * w_per_kwh
    g_per_h_per_kg = GRAMS_PER_KG * SECONDS_PER_HOUR / seconds
    for key in ("operational_co2e", "total_co2e"):
        for end in _ENDS:
            kg = stored_number(d.get(f"{key}_kg{end}"))
            out[f"{key}_g_per_h{end}"] = None if kg is None else kg * g_per_h_per_kg
    return out


def row(d: Mapping[str, Any]) -> dict[str, Any]:
    """A stored run (:meth:`~wattprint.storage.RunRecord.to_dict`) as one row of :data:`COLUMNS`."""
    out: dict[str, Any] = dict.fromkeys(COLUMNS)
    for key in ("id", "project", "status", "started_at", "ended_at", "location", "intensity_unit", "intensity_caveat",
                "intensity_basis", "pue_source", "pue_preset"):
        out[key] = _text(d.get(key))
    for key in ("duration_s", "exit_code", "signal", "pue", "pue_low", "pue_high", "intensity_g_per_kwh",
                "intensity_g_per_kwh_low", "intensity_g_per_kwh_high", "intensity_year",
                *(f"chip_hours{e}" for e in _ENDS),
                *(f"{k}{e}" for k in (*_RANGED, *_CO2E) for e in _ENDS)):
        out[key] = stored_number(d.get(key))
    out["intensity_given"] = _flag(d.get("intensity_given"))
    damaged = d.get("damaged")
    # the stored columns read as empty because they are not JSON: the row's other figures come from what is left.
    # A list, as `runs show --json` gives it; a CSV cell joins it (summary;meta)
    out["damaged"] = [str(c) for c in damaged] if isinstance(damaged, list) and damaged else None
    derived = rates(d, d.get("duration_s"))
    comps = _mapping(d.get("energy_by_component_kwh"))
    for c in COMPONENTS:
        comp = _mapping(comps.get(c))
        for e in _ENDS:
            out[f"{c}_energy_kwh{e}"] = stored_number(comp.get(f"kwh{e}"))
            out[f"{c}_mean_power_w{e}"] = stored_number(_mapping(derived.get(f"mean_power_w{e}")).get(c))
        out[f"{c}_basis"] = _text(comp.get("basis"))
    for key in ("it_mean_power_w", "operational_co2e_g_per_h", "total_co2e_g_per_h"):
        for e in _ENDS:
            out[key + e] = stored_number(derived.get(key + e))
    out.update(_place(_mapping(d.get("location_detail"))))
    out.update(_hardware(_mapping(d.get("hardware"))))
    meta = _mapping(d.get("meta"))
    for key in ("host", "wattprint_version", "python_version", "os"):
        out[key] = _text(meta.get(key))
    return out


def _place(loc: Mapping[str, Any]) -> dict[str, Any]:
    cloud = _mapping(loc.get("cloud"))
    return {"location_key": _text(loc.get("key")), "country_iso": _text(loc.get("country_iso")),
            "region": _text(loc.get("region")), "cloud_provider": _text(cloud.get("provider")),
            "cloud_region": _text(cloud.get("region"))}


def _hardware(hw: Mapping[str, Any]) -> dict[str, Any]:
    gpus = [g for g in hw.get("gpus") or [] if isinstance(g, Mapping)]
    counts = [int(n) for g in gpus if (n := stored_number(g.get("count"))) is not None]
    cpu = _mapping(hw.get("cpu"))
    return {"gpus": gpu_text(gpus, "name"), "gpus_catalogue": gpu_text(gpus, "catalogue"),
            "gpu_count": sum(counts) if gpus else None, "cpu_model": _text(cpu.get("model")),
            "cpu_sockets": stored_number(cpu.get("sockets")), "cpu_logical": stored_number(cpu.get("logical_cpus")),
            "cpus_allocated": stored_number(cpu.get("allocated_cpus")), "vm": _flag(cpu.get("vm")),
            "ram_gib": stored_number(hw.get("ram_gib")),
            "ram_allocated_gib": stored_number(hw.get("ram_allocated_gib"))}


def gpu_text(gpus: Iterable[Mapping[str, Any]], key: str = "name") -> str | None:
    """"2 x NVIDIA H100 80GB HBM3" (the model card's ``hardware_used`` form) from stored ``hardware["gpus"]``,
    by the driver's ``name`` or the ``catalogue`` name; None without GPUs (or a GPU without that name)."""
    parts = []
    for g in gpus:
        name, n = _text(g.get(key)), stored_number(g.get("count"))
        if name is None or n is None:
            return None
        parts.append(f"{int(n)} x {name}")
    return ", ".join(parts) or None


def write_csv(rows: Iterable[Mapping[str, Any]], out: IO[str]) -> None:
    """``rows`` under a header of :data:`COLUMNS` (RFC 4180, as the csv module writes it); None is an empty cell,
    True/False are ``true``/``false``, a list (``damaged``) its items joined by ``;``."""
    import csv

    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _cell(v) for k, v in r.items()})


def write_json(items: Iterable[Any], out: IO[str], default: Callable[[Any], Any] | None = None) -> None:
    """``items`` as one JSON array, each written as it comes (no list of them is held): the text of
    ``json.dumps(list(items), indent=2, default=default, allow_nan=False)``, then a newline."""
    import json

    # an item's own lines indented once more: a JSON text has no newline but between its tokens (a string's is \n)
    sep = "[\n  "
    for item in items:
        out.write(sep + json.dumps(item, indent=2, default=default, allow_nan=False).replace("\n", "\n  "))
        sep = ",\n  "
    out.write("[]\n" if sep.startswith("[") else "\n]\n")


# a text cell a spreadsheet would evaluate as a formula (OWASP's "CSV injection"): a run id or project is the user's
# text, but a shared export opened in a spreadsheet must not run it
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(v: Any) -> Any:
    """One CSV cell: None empty, True/False ``true``/``false``, a list its items joined by ``;``, text that starts
    like a formula quoted with ``'`` (numbers stay numbers)."""
    if isinstance(v, list):
        v = ";".join(str(x) for x in v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def _mapping(x: Any) -> Mapping[str, Any]:
    return x if isinstance(x, Mapping) else {}


def stored_number(x: Any) -> float | int | None:
    """A stored figure: a finite number, else None (a store may hold null, text, or an infinity of old)."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return x


def _text(x: Any) -> str | None:
    return x if isinstance(x, str) else None


def _flag(x: Any) -> bool | None:
    return x if isinstance(x, bool) else None
