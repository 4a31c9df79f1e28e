#!/usr/bin/env python3
"""Build the compact JSON tables embedded in ``wattprint.data`` from the gathered reference data.

Reads ``../shared/data`` (the project's sourced CSV/JSON files, see its PROVENANCE*.md) and the repo's own
sourced tables in ``refdata/``; writes ``src/wattprint/data/tables/*.json``. Re-runnable and deterministic
(sorted keys, rounded floats), so a rebuild into a temporary folder must equal the committed tables.

Not embedded (reference only / uncertain licence): ``codecarbon/private_infra/world_energy_mix.csv``,
``emission-factors-electricitymaps.csv``, ``codecarbon/private_infra/2016/global_energy_mix-old.json``.

    python scripts/build_data.py [--shared PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "src" / "wattprint" / "data" / "tables"
REFDATA = REPO / "refdata"

LB_PER_MWH_TO_G_PER_KWH = 0.45359237  # 1 lb = 0.45359237 kg (exact, by definition)
MIX_KEYS = ["coal", "gas", "oil", "nuclear", "hydro", "wind", "solar", "biofuel", "other_renewable_exc_biofuel"]
# OWID mix category -> lifecycle factor row of emission-factors-by-source.csv
MIX_TO_FACTOR = {
    "coal": "coal",
    "gas": "gas",
    "oil": "oil",
    "nuclear": "nuclear",
    "hydro": "hydro",
    "wind": "wind",
    "solar": "solar",
    "biofuel": "biomass",
    "other_renewable_exc_biofuel": "geothermal",
}
# how the reference files' notes mark a value that no primary source confirmed
UNCERTAIN_NOTE = re.compile(r"uncertain|not verified|not an? [\w -]*?(?:figure|tdp)|rough", re.IGNORECASE)


def uncertain_sentences(notes: str) -> str:
    """The sentences (or ;-clauses) of a row's notes that say which of its values no primary source confirmed; a
    sentence is not cut inside a parenthesis ("(TF32 value per Neuron docs; treat as uncertain)")."""
    parts, depth, start = [], 0, 0
    for m in re.finditer(r"[()\[\]]|(?<=[.;])\s+", notes):
        if m.group() in "([":
            depth += 1
        elif m.group() in ")]":
            depth = max(depth - 1, 0)
        elif depth == 0:
            parts.append(notes[start:m.start()])
            start = m.end()
    parts.append(notes[start:])
    return " ".join(s.strip() for s in parts if UNCERTAIN_NOTE.search(s))


PRECISIONS = {
    "fp32": "peak_fp32_tflops",
    "tf32": "peak_tf32_tflops",
    "bf16": "peak_bf16_tflops",
    "fp16": "peak_fp16_tflops",
    "fp8": "peak_fp8_tflops",
    "int8": "peak_int8_tops",
}

# licence attributions, printed by `wattprint data credits` and written into README.md's credits block by main()
ATTR_CODECARBON = (
    "Contains data from CodeCarbon (https://github.com/mlco2/codecarbon), MIT License, Copyright (c) 2019 "
    "Mila, BCG Gamma, CometML, Haverford College; (c) 2023 Code Carbon NGO. (CPU TDPs, 2022/23 country mix, "
    "US-state, Canadian and Nordic tables.)"
)
ATTR_OWID = (
    "Source: Our World in Data \u2013 Energy dataset (github.com/owid/energy-data), based on BP Statistical Review "
    "of World Energy / Energy Institute and Ember; CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). "
    "Changes: generation shares computed from TWh, values rounded, rows joined to ISO 3166 codes."
)
ATTR_GCP = (
    "Google Cloud region carbon data \u00a9 Google LLC, from github.com/GoogleCloudPlatform/region-carbon-info, "
    "licensed under the Apache License 2.0 (no changes made to the values)."
)
ATTR_CCF = (
    "AWS/Azure region emission factors from Cloud Carbon Footprint (github.com/cloud-carbon-footprint/"
    "cloud-carbon-footprint, Apache-2.0), based on US EPA eGRID2020, carbonfootprint.com (2021) and EEA data."
)
ATTR_IPCC = (
    "Lifecycle factors per generation source: IPCC, 2014: Annex III (Schl\u00f6mer et al.), Table A.III.2, in "
    "Climate Change 2014: Mitigation of Climate Change, WG III contribution to AR5, Cambridge University Press; "
    "lignite: World Nuclear Association 2011; hydro mix bound: Scherer & Pfister 2016, PLOS ONE 11(9): e0161947; "
    "oil and unknown ('other') generation: default "
    "emission factors from Electricity Maps (github.com/electricitymaps/electricitymaps-contrib, "
    "config/defaults.yaml; MIT), mostly based on IPCC 2014."
)
ATTR_EGRID = ("US EPA eGRID state output emission rates (public domain): eGRID2016 via CodeCarbon; eGRID2023 "
              "(rev. 2, 2025) as parsed from EPA's workbook by two public repositories (refdata/us_states_egrid.csv).")
ATTR_EPOCH = (
    "Accelerator specifications from vendor datasheets, cross-checked against Epoch AI, \"Data on Machine "
    "Learning Hardware\" (CC BY 4.0, https://creativecommons.org/licenses/by/4.0/), the source of a few values "
    "vendors do not publish (marked in the notes); values rounded."
)
ATTR_EMBODIED_PUE = (
    "Embodied emissions: NVIDIA HGX H100 / HGX B200 Product Carbon Footprint summaries; Luccioni et al. 2022 "
    "(BLOOM); Falk et al. 2025; Schneider et al. 2025; Boavizta/EcoLogits. PUE: Google, AWS, Microsoft, Meta "
    "reports; Uptime Institute surveys."
)
ATTR_REFDATA = (
    "Training utilisation and power: published trainings and papers listed in `refdata/mfu_observations.csv` and "
    "`refdata/power_observations.csv`; inference measurements in `refdata/inference_measurements.csv` (ML.ENERGY "
    "leaderboard, Chung et al. 2025; Hugging Face AI Energy Score leaderboard; MLCommons MLPerf Inference Power "
    "results; and others, each row with its source)."
)
ATTR_EQUIVALENTS = (
    "Equivalents: US EPA Greenhouse Gas Equivalencies Calculator; UK DESNZ greenhouse gas conversion factors 2024."
)
README = REPO / "README.md"


# -- helpers ------------------------------------------------------------------------------------
def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k is not None} for row in csv.DictReader(f)]


def num(text: str | None) -> float | None:
    if text is None or text.strip() == "":
        return None
    return float(text)


def rnd(x: float | None, digits: int = 4) -> float | None:
    """Round for compact, deterministic output (significant digits kept for small values)."""
    if x is None:
        return None
    r = round(float(x), digits)
    return int(r) if r == int(r) and abs(r) < 1e15 else r


def is_true(text: str) -> bool:
    return text.strip().lower() in ("true", "yes", "1")


def weighted_quantile(values: list[float], weights: list[float], q: float) -> float:
    pairs = sorted(zip(values, weights, strict=True))
    total = sum(w for _, w in pairs)
    acc = 0.0
    for v, w in pairs:
        acc += w
        if acc >= q * total:
            return v
    return pairs[-1][0]


# -- accelerators -------------------------------------------------------------------------------
def _match_rule(rules: list[dict[str, str]], row: dict[str, Any]) -> dict[str, str]:
    for r in rules:
        m = r["match"]
        if m == "*":
            return r
        if m.startswith("vendor:") and row["vendor"] == m.split(":", 1)[1]:
            return r
        if m.startswith("form:consumer") and "consumer" in row["form_factor"].lower():
            return r
        if row["name"] in [x.strip() for x in m.split(";")]:
            return r
    raise SystemExit(f"no rule matches accelerator {row['name']!r}")


def _apply_tdp_range(row: dict[str, Any], t: dict[str, str] | None) -> None:
    """A TDP no vendor publishes (refdata/tdp_ranges.csv): a derived one keeps its value with the range the figures
    in use span; an analyst's estimate is no default at all (``tdp_w`` None: the user gives the power), and is kept
    as ``tdp_estimate_w`` for listings and the error that asks for it."""
    if t is None:
        return
    low, high, tdp = float(t["low_w"]), float(t["high_w"]), row["tdp_w"]
    if tdp is None or not low <= tdp <= high:
        raise SystemExit(f"refdata/tdp_ranges.csv: {row['name']!r} range {low:g}-{high:g} W must hold its TDP {tdp}")
    if t["basis"] not in ("derived", "estimate"):
        raise SystemExit(f"refdata/tdp_ranges.csv: basis of {row['name']!r} must be derived or estimate")
    row["tdp"] = {"basis": t["basis"], "low": rnd(low), "high": rnd(high), "source": t["source"], "note": t["note"]}
    if t["basis"] == "estimate":
        row["tdp_estimate_w"], row["tdp_w"] = tdp, None


def _apply_superchip(row: dict[str, Any], s: dict[str, str], catalogue: dict[str, dict[str, str]],
                     cpus: dict[str, dict[str, str]]) -> None:
    """A chip on a module with its host CPU (refdata/superchips.csv): where the catalogue's TDP is the whole module's
    (``module_w``), the GPU's own power replaces it (``tdp_w``: the rating of the same GPU in another form, ranged
    over the limits in use; the module's figure kept as ``module_tdp_w``); in every case the CPU and its memory on the
    module are the host's, rated W per GPU (``module_host``), so the host model counts them once."""
    name = row["name"]
    if s["module_w"]:
        module, gpu_as = float(s["module_w"]), catalogue.get(s["gpu_same_as"])
        if row["tdp_w"] != module:
            raise SystemExit(f"refdata/superchips.csv: {name!r} has a catalogue TDP of {row['tdp_w']} W, not the "
                             f"module's {module:g} W: review the row")
        if gpu_as is None or num(gpu_as["tdp_w"]) is None:
            raise SystemExit(f"refdata/superchips.csv: {name!r} names {s['gpu_same_as']!r}, no catalogue chip with "
                             "a TDP")
        gpu, low, high = float(gpu_as["tdp_w"]), float(s["gpu_low_w"]), float(s["gpu_high_w"])
        if not low <= gpu <= high < module:
            raise SystemExit(f"refdata/superchips.csv: {name!r} range {low:g}-{high:g} W must hold the GPU's {gpu:g} W "
                             f"and stay below the module's {module:g} W")
        row["tdp_w"], row["module_tdp_w"] = rnd(gpu), rnd(module)
        row["tdp"] = {"basis": "gpu-of-module", "low": rnd(low), "high": rnd(high),
                      "source": s["gpu_source"], "year": int(s["year"]), "note": s["gpu_note"]}
    cpu = cpus.get(s["host_cpu"])
    if cpu is None or num(cpu["tdp_w"]) is None:
        raise SystemExit(f"refdata/superchips.csv: {name!r} names {s['host_cpu']!r}, no CPU with a TDP in cpus.csv")
    per_gpu = float(cpu["tdp_w"]) * float(s["host_cpu_share"]) / int(s["gpus_per_module"])
    row["module_host"] = {"cpu": s["host_cpu"], "cpu_w": rnd(per_gpu), "gpus_per_module": int(s["gpus_per_module"]),
                          "source": s["host_source"], "year": int(s["year"]), "note": s["host_note"]}


def accelerator_rows(shared: Path) -> list[dict[str, str]]:
    """The catalogue's rows: shared/data/accelerators.csv, then the chips it lacks from refdata/accelerators_extra.csv
    (same columns; a name already in the shared file is an error, not an override)."""
    rows = read_csv(shared / "accelerators.csv")
    extra = read_csv(REFDATA / "accelerators_extra.csv")
    names = {r["name"] for r in rows}
    for r in extra:
        if set(r) != set(rows[0]):
            raise SystemExit("refdata/accelerators_extra.csv: columns differ from shared/data/accelerators.csv")
        if r["name"] in names:
            raise SystemExit(f"refdata/accelerators_extra.csv repeats {r['name']!r}, already in the shared catalogue")
        names.add(r["name"])
    return rows + extra


def build_accelerators(shared: Path) -> dict[str, Any]:
    rows = accelerator_rows(shared)
    emb_rules = read_csv(REFDATA / "embodied_accelerators.csv")
    srv_rules = read_csv(REFDATA / "servers.csv")
    unit_rules = read_csv(REFDATA / "count_units.csv")
    tdp_rows = {r["name"]: r for r in read_csv(REFDATA / "tdp_ranges.csv")}
    superchips = {r["name"]: r for r in read_csv(REFDATA / "superchips.csv")}
    cpus = {r["name"]: r for r in read_csv(shared / "cpus.csv") if r["kind"] == "cpu"}
    names = {r["name"] for r in rows}
    for n in [*tdp_rows, *superchips]:
        if n not in names:
            raise SystemExit(f"refdata/tdp_ranges.csv or superchips.csv names unknown accelerator {n!r}")
    for n in tdp_rows:
        if superchips.get(n, {}).get("module_w"):
            raise SystemExit(f"{n!r}: a module's GPU power comes from refdata/superchips.csv, not tdp_ranges.csv")
    for rules in (emb_rules, srv_rules, unit_rules):
        for r in rules:
            for n in r["match"].split(";"):
                n = n.strip()
                if n != "*" and ":" not in n and n not in names:
                    raise SystemExit(f"refdata rule names unknown accelerator {n!r}")
    out = []
    for r in rows:
        peaks = {k: rnd(num(r[col])) for k, col in PRECISIONS.items() if num(r[col]) is not None}
        row: dict[str, Any] = {
            "name": r["name"],
            "vendor": r["vendor"],
            "family": r["family"],
            "year": int(r["year"]) if r["year"] else None,
            "form_factor": r["form_factor"],
            "tdp_w": rnd(num(r["tdp_w"])),
            "memory_gb": rnd(num(r["memory_gb"])),
            "memory_bw_tbs": rnd(num(r["memory_bw_tbs"])),
            "peak_tflops": peaks,
            "source": r["source"],
            "notes": r["notes"],
            "uncertain": bool(UNCERTAIN_NOTE.search(r["notes"])),
            "uncertain_note": uncertain_sentences(r["notes"]),
        }
        _apply_tdp_range(row, tdp_rows.get(r["name"]))
        if r["name"] in superchips:
            _apply_superchip(row, superchips[r["name"]], {c["name"]: c for c in rows}, cpus)
        e = _match_rule(emb_rules, row)
        row["embodied"] = {
            "kg": rnd(num(e["kg_co2e"])),
            "low": rnd(num(e["low"])),
            "high": rnd(num(e["high"])),
            "source": e["source"],
            "uncertain": is_true(e["uncertain"]),
            "note": e["note"],
            "fallback": e["match"] == "*",
        }
        s = _match_rule(srv_rules, row)
        row["per_server"] = {"n": int(s["accelerators_per_server"]), "source": s["source"], "note": s["note"]}
        # what one counted unit is, where software counts its parts instead (MI250X GCDs, TPU TensorCores)
        u = next((u for u in unit_rules if r["name"] in [x.strip() for x in u["match"].split(";")]), None)
        if u is not None:
            row["count_unit"] = {"unit": u["unit"], "parts": int(u["parts"]), "parts_name": u["parts_name"],
                                 "others_count": u["others_count"], "source": u["source"]}
        out.append(row)
    fams = []
    for f in read_csv(REFDATA / "accelerator_families.csv"):
        variants = [v.strip() for v in f["variants"].split(";") if v.strip()]
        for v in [*variants, f["default"]]:
            if v not in names:
                raise SystemExit(f"family {f['family']!r} names unknown accelerator {v!r}")
        fams.append(
            {
                "family": f["family"],
                "aliases": [a.strip() for a in f["aliases"].split(";") if a.strip()],
                "default": f["default"],
                "variants": variants,
                "note": f["note"],
            }
        )
    # names drivers report that the name matcher cannot tell from a sibling variant ("80GB HBM3": the SXM5)
    driver_names = {}
    for d in read_csv(REFDATA / "accelerator_driver_names.csv"):
        if d["name"] not in names:
            raise SystemExit(f"driver name {d['driver_name']!r} names unknown accelerator {d['name']!r}")
        driver_names[d["driver_name"]] = {"name": d["name"], "source": d["source"]}
    return {
        "meta": {
            "source": "shared/data/accelerators.csv (vendor datasheets, papers; see PROVENANCE-hardware.md); "
            "refdata/accelerators_extra.csv (chips the shared file lacks), accelerator_families.csv, "
            "embodied_accelerators.csv, servers.csv, tdp_ranges.csv, superchips.csv, count_units.csv, "
            "accelerator_driver_names.csv; shared/data/cpus.csv (a superchip's on-module CPU)",
            "licence": "factual figures; Epoch AI cross-check CC BY 4.0",
            "attributions": [ATTR_EPOCH],
        },
        "accelerators": out,
        "families": fams,
        "driver_names": driver_names,
    }


# -- CPUs ---------------------------------------------------------------------------------------
def build_cpus(shared: Path) -> dict[str, Any]:
    repo_rows = {}
    per_core = []
    years: list[int] = []
    for r in read_csv(shared / "cpus.csv"):
        if r["kind"] != "cpu":
            continue
        tdp, cores = num(r["tdp_w"]), num(r["cores"])
        if tdp is not None:
            uncertain = bool(UNCERTAIN_NOTE.search(r["notes"]))
            src = f"{r['source']} ({r['year']})" + (f" [UNCERTAIN: {r['notes']}]" if uncertain else "")
            repo_rows[r["name"]] = [rnd(tdp), int(cores) if cores else None, src]
            if cores and not uncertain:  # the generic per-core figure rests on confirmed TDPs only
                per_core.append(tdp / cores)
                years.append(int(r["year"]))
    cc: dict[str, float | None] = {}
    for r in read_csv(shared / "codecarbon" / "hardware" / "cpu_power.csv"):
        try:
            tdp = num(r["TDP"])
        except ValueError:  # a few malformed upstream cells (e.g. "27.29.5"): skip rather than guess
            continue
        if r["Name"] and tdp is not None and tdp > 0:
            cc[r["Name"]] = rnd(tdp)
    return {
        "meta": {
            "source": "shared/data/cpus.csv (Intel ARK, AMD product pages); CodeCarbon codecarbon/data/hardware/"
            "cpu_power.csv (manufacturer TDPs compiled by CodeCarbon contributors)",
            "licence": "CodeCarbon data MIT",
            "attributions": [ATTR_CODECARBON],
        },
        "repo": repo_rows,
        "codecarbon": cc,
        "per_core_w": {
            "value": rnd(statistics.median(per_core), 3),
            "low": rnd(min(per_core), 3),
            "high": rnd(max(per_core), 3),
            "n": len(per_core),
            "year": max(years),
            "source": "Green Algorithms rule (Lannelongue et al. 2021: per-core power = TDP / cores) applied "
            "to current server CPUs (Intel ARK, AMD product pages; median, min-max)",
        },
    }


# -- factors (RAM, embodied host, lifetimes, PUE presets, equivalents, per-source lifecycle) --------
def _cite_rows_above(source: str, pue_rows: list[dict[str, str]]) -> str:
    """pue.csv's class rows cite "Equinix rows above": a reader of our output does not see those rows, so their
    figures are written in ("Equinix (design target, new builds) 1.3 (2024); ..."); a citation that already gives
    its figures ("Microsoft 1.16-1.17 rows above") only loses the pointer."""

    def figures(match: re.Match[str]) -> str:
        rows = [r for r in pue_rows if r["operator_or_class"].startswith(match.group(1) + " ")]
        if not rows:
            return match.group(1)
        return "; ".join(f"{r['operator_or_class']} {r['pue']} ({r['year']})" for r in rows)

    return re.sub(r"(\S+) rows above", figures, source)


def build_factors(shared: Path, world: dict[str, Any]) -> dict[str, Any]:
    factors = {}
    for r in read_csv(REFDATA / "factors.csv"):
        factors[r["key"]] = {
            "value": rnd(num(r["value"])),
            "low": rnd(num(r["low"])),
            "high": rnd(num(r["high"])),
            "unit": r["unit"],
            "source": r["source"],
            "year": int(r["year"]),
            "note": r["note"],
        }
    pue_rows = read_csv(shared / "pue.csv")
    presets = []
    for p in read_csv(REFDATA / "pue_presets.csv"):
        match = [r for r in pue_rows if r["operator_or_class"] == p["operator_or_class"] and r["year"] == p["year"]]
        if len(match) != 1:
            raise SystemExit(f"PUE preset {p['preset']!r}: {len(match)} rows in pue.csv match")
        m = match[0]
        value = num(m["pue"])
        low = num(p["low"]) if p["low"] else (num(m["low"]) if m["low"] else value)
        high = num(p["high"]) if p["high"] else (num(m["high"]) if m["high"] else value)
        presets.append(
            {
                "preset": p["preset"],
                "aliases": [a.strip() for a in p["aliases"].split(";") if a.strip()],
                "value": rnd(value),
                "low": rnd(low),
                "high": rnd(high),
                "year": int(m["year"]),
                "what": m["operator_or_class"],
                "scope": m["scope"],
                "source": _cite_rows_above(m["source"], pue_rows),
                "uncertain": is_true(p["uncertain"]) or "UNCERTAIN" in m["notes"],
                "note": p["note"],
            }
        )
    equivalents = [
        {
            "name": r["name"],
            "unit": r["unit"],
            "kg_co2e_per_unit": rnd(num(r["kg_co2e_per_unit"]), 6),
            "source": r["source"],
            "year": int(r["year"]),
            "uncertain": is_true(r["uncertain"]),
            "note": r["note"],
        }
        for r in read_csv(REFDATA / "equivalents.csv")
    ]
    sources = {}
    for r in read_csv(shared / "emission-factors-by-source.csv"):
        sources[r["source"]] = {
            "g": rnd(num(r["g_co2e_per_kwh"])),
            "low": rnd(num(r["low"])),
            "high": rnd(num(r["high"])),
            "reference": r["reference"],
        }
    _fill_missing_ranges(sources)
    overrides = {r["factor"]: r for r in read_csv(REFDATA / "mix_factor_ranges.csv")}
    for name, o in overrides.items():
        s = sources[name]
        s["mix_low"], s["mix_high"], s["mix_range_source"] = rnd(num(o["low"])), rnd(num(o["high"])), o["source"]
    aliases = {}
    for r in read_csv(REFDATA / "mix_source_aliases.csv"):
        if r["source"] not in sources:
            raise SystemExit(f"mix alias for unknown source {r['source']!r}")
        for a in [r["source"], *[x.strip() for x in r["aliases"].split(";") if x.strip()]]:
            aliases[a] = r["source"]
    return {
        "meta": {
            "factors": "refdata/factors.csv (sources per row)",
            "pue": "shared/data/pue.csv + refdata/pue_presets.csv",
            "equivalents": "refdata/equivalents.csv",
            "sources": "shared/data/emission-factors-by-source.csv",
            "attributions": [ATTR_IPCC, ATTR_EMBODIED_PUE, ATTR_REFDATA, ATTR_EQUIVALENTS],
        },
        "factors": factors,
        "pue_presets": presets,
        "equivalents": equivalents,
        "mix_factors": sources,
        "mix_aliases": aliases,
        "world": world,
    }


# The reference gives no range for lignite, oil and unknown generation; a point value would make every mix with
# them look exact. Fossil sources take the widest relative spread of the fossil rows whose IPCC range is known;
# 'other' is Electricity Maps' unknown-thermal default, so it spans the thermal sources' ranges.
FOSSIL_WITH_RANGE = ("coal", "gas")
THERMAL = ("coal", "gas", "oil", "biomass")


def _fill_missing_ranges(sources: dict[str, dict[str, Any]]) -> None:
    rel_lo = min(sources[k]["low"] / sources[k]["g"] for k in FOSSIL_WITH_RANGE)
    rel_hi = max(sources[k]["high"] / sources[k]["g"] for k in FOSSIL_WITH_RANGE)
    for name in ("lignite", "oil"):
        f = sources[name]
        if f["low"] is None and f["high"] is None:
            f["low"], f["high"] = round(f["g"] * rel_lo), round(f["g"] * rel_hi)
            f["range_rule"] = (f"no range in the reference: the widest relative spread of the IPCC fossil rows "
                               f"({', '.join(FOSSIL_WITH_RANGE)}: x{rel_lo:.3g}-x{rel_hi:.3g})")
    f = sources["other"]
    if f["low"] is None and f["high"] is None:
        f["low"] = min(sources[k]["low"] for k in THERMAL)
        f["high"] = max(sources[k]["high"] for k in THERMAL)
        f["range_rule"] = f"unknown thermal generation: spans the ranges of {', '.join(THERMAL)}"


# -- countries ------------------------------------------------------------------------------------
# a past year gets a world average only where at least this share of the countries in the data report it: the
# April-2022 OWID release has 2021 for only 75 of 209 countries, and a mean over those would not be the world's
WORLD_YEAR_MIN_COUNTRY_SHARE = 0.95


def _world_average(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """Generation-weighted mean and 10th-90th percentile of per-country year records ({"g", "gen_twh"})."""
    vals = [r["g"] for r in recs if r["gen_twh"]]
    wts = [r["gen_twh"] for r in recs if r["gen_twh"]]
    mean = sum(v * w for v, w in zip(vals, wts, strict=True)) / sum(wts)
    return {"value": rnd(mean, 1), "low": rnd(weighted_quantile(vals, wts, 0.1), 1),
            "high": rnd(weighted_quantile(vals, wts, 0.9), 1), "n_countries": len(vals)}


def _data_years_text(recs: list[dict[str, Any]], years: list[int]) -> str:
    """The data years behind a mean of per-country records: "country data years 2009-2023; share of generation:
    2023 59%, 2022 40%, earlier 1%" (the two newest years by name, the rest together)."""
    gen: dict[int, float] = {}
    for rec, year in zip(recs, years, strict=True):
        gen[year] = gen.get(year, 0.0) + (rec.get("gen_twh") or 0.0)
    total = sum(gen.values())
    newest = sorted(gen, reverse=True)[:2]
    parts = [f"{y} {gen[y] / total:.0%}" for y in newest]
    rest = total - sum(gen[y] for y in newest)
    if rest > 0:
        parts.append(f"earlier {rest / total:.0%}" if rest / total >= 0.005 else "earlier <1%")
    return f"country data years {min(years)}-{max(years)}; share of generation: {', '.join(parts)}"


def _world_years(countries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """World averages for past years, from the OWID per-country rows alone (one release, one basis)."""
    by_year: dict[str, list[dict[str, Any]]] = {}
    for c in countries.values():
        for y, rec in c["years"].items():
            if rec["src"] == "owid":
                by_year.setdefault(y, []).append(rec)
    most = max(len(recs) for recs in by_year.values())
    return {y: _world_average(recs) for y, recs in sorted(by_year.items(), key=lambda kv: int(kv[0]))
            if len(recs) >= WORLD_YEAR_MIN_COUNTRY_SHARE * most}


DEFAULT_YEAR_SRC = "owid"  # most country-years come from OWID's CSV; see compact_country_years


def build_countries(shared: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    iso = read_csv(REFDATA / "iso3166.csv")
    countries: dict[str, dict[str, Any]] = {}
    for r in read_csv(shared / "owid-electricity.csv"):
        code, ci = r["iso_code"], num(r["carbon_intensity_elec"])
        if not code or ci is None:
            continue
        c = countries.setdefault(code, {"name": r["country"], "years": {}})
        shares = [num(r[f"{k}_share_elec"]) for k in MIX_KEYS]
        c["years"][r["year"]] = {
            "g": rnd(ci, 2),
            "src": "owid",
            "gen_twh": rnd(num(r["electricity_generation"]), 2),
            "mix": [rnd(s, 2) if s is not None else None for s in shares],
        }
    gem = json.loads((shared / "codecarbon" / "private_infra" / "global_energy_mix.json").read_text(encoding="utf-8"))
    cc_keys = {
        "coal": "coal_TWh",
        "gas": "gas_TWh",
        "oil": "oil_TWh",
        "nuclear": "nuclear_TWh",
        "hydro": "hydroelectricity_TWh",
        "wind": "wind_TWh",
        "solar": "solar_TWh",
        "biofuel": "biofuel_TWh",
        "other_renewable_exc_biofuel": "other_renewable_exc_biofuel_TWh",
    }
    for code, d in gem.items():
        ci = d.get("carbon_intensity")
        if ci is None or not isinstance(d.get("year"), int):
            continue
        total = d.get("total_TWh") or 0.0
        mix = [
            rnd(100.0 * d[cc_keys[k]] / total, 2) if total > 0 and d.get(cc_keys[k]) is not None else None
            for k in MIX_KEYS
        ]
        c = countries.setdefault(code, {"name": d["country_name"], "years": {}})
        # the CodeCarbon copy is OWID's 2024 release: newer than owid-electricity.csv, so it wins for its year
        c["years"][str(d["year"])] = {"g": rnd(ci, 2), "src": "codecarbon", "gen_twh": rnd(total, 2), "mix": mix}
    iso3_known = {r["alpha3"] for r in iso}
    for r in iso:
        if r["alpha3"] in countries:
            countries[r["alpha3"]]["iso2"] = r["alpha2"]
            countries[r["alpha3"]]["iso_name"] = r["name"]
            if r["common_name"]:
                countries[r["alpha3"]]["common_name"] = r["common_name"]
    for code in countries:
        if code not in iso3_known:
            countries[code]["iso2"] = None
    # ISO countries and territories the sources give no intensity for (Monaco, Jersey, ...): named so that such a
    # location is refused as known but without data, not as an unknown name with look-alikes suggested
    without_data = {r["alpha3"]: {"iso2": r["alpha2"], "name": r["common_name"] or r["name"]}
                    for r in iso if r["alpha3"] not in countries}
    aliases, alias_notes = {}, {}
    for r in read_csv(REFDATA / "country_aliases.csv"):
        aliases[r["alias"]] = r["iso3"]
        if r.get("note"):  # said with the estimate where the alias is not the country itself (Scotland -> GBR)
            alias_notes[r["alias"]] = r["note"]
    # world average: generation-weighted mean of the latest national values; range = the weighted 10th-90th
    # percentile: used when the user gives no location, so it spans where ~80% of the world's electricity is made
    latest_recs = [c["years"][max(c["years"], key=int)] for c in countries.values()]
    data_years = [int(max(c["years"], key=int)) for c in countries.values()]
    world = {
        **_world_average(latest_recs),
        "basis": "lifecycle, average (OWID/Ember)",
        "source": "generation-weighted mean of the latest per-country intensities (OWID 2024 release via "
        f"CodeCarbon global_energy_mix.json; {_data_years_text(latest_recs, data_years)}); range = "
        "generation-weighted 10th-90th percentile of countries (the run could be anywhere)",
        "year": max(data_years),
        # the figure mixes countries' latest years: "year" is the newest, "years" the span
        "years_span": [min(data_years), max(data_years)],
        "cross_check": "CodeCarbon world_average 475 gCO2e/kWh (IEA Global Energy & CO2 Status Report 2019)",
        "years": _world_years(countries),
        "years_source": "generation-weighted mean of that year's per-country intensities (OWID April-2022 "
        "release, a year only where nearly every country reports it); range = that year's generation-weighted "
        "10th-90th percentile of countries. The latest year comes from a newer OWID release whose revised "
        "lifecycle factors put some grids higher (India: 633 gCO2e/kWh in 2021 in this release, 713 in 2023 in "
        "the newer one), so part of a change between a past year and the latest is the release, not the grid",
    }
    table = {
        "meta": {
            "source": "shared/data/owid-electricity.csv (OWID April-2022 release, 2000-2021) and CodeCarbon "
            "global_energy_mix.json (OWID 2024 release, latest year per country, mostly 2022/2023)",
            "licence": "OWID CC BY 4.0; CodeCarbon MIT",
            "attributions": [ATTR_OWID, ATTR_CODECARBON],
            "basis": "lifecycle, average (OWID/Ember)",
            "mix_keys": MIX_KEYS,
            "mix_to_factor": MIX_TO_FACTOR,
        },
        "countries": countries,
        "without_data": without_data,
        "aliases": aliases,
        "alias_notes": alias_notes,
    }
    return table, world


# -- sub-national, zones, cloud ---------------------------------------------------------------------
def _mix_intensity(mix_pct: dict[str, float], factors: dict[str, Any]) -> tuple[float, float, float]:
    total = sum(mix_pct.values())
    v = lo = hi = 0.0
    for src, pct in mix_pct.items():
        f = factors[src]
        share = pct / total
        v += share * f["g"]
        lo += share * (f.get("mix_low") or f["low"] or f["g"])
        hi += share * (f.get("mix_high") or f["high"] or f["g"])
    return v, lo, hi


def build_regions(shared: Path, factors: dict[str, Any]) -> dict[str, Any]:
    pi = shared / "codecarbon" / "private_infra"
    subnational: dict[str, Any] = {}
    usa = json.loads((pi / "2016" / "usa_emissions.json").read_text(encoding="utf-8"))
    for name, d in usa.items():
        if name.startswith("_") or name == "usa":
            continue
        key = f"US-{d['regionCode'].upper()}"
        subnational[key] = {
            "name": name.title().replace(" Of ", " of "),
            "country": "USA",
            "aliases": [],
            "years": {"2016": {"g": rnd(d["emissions"] * LB_PER_MWH_TO_G_PER_KWH, 2)}},
            "basis": "direct combustion CO2 output rate (eGRID 2016)",
            "gases": "CO2",  # eGRID's CO2 rate: no CH4/N2O, no upstream (the CO2e rate is another column)
            "source": "US EPA eGRID2016 state output emission rate (lb CO2/MWh x 0.4536), via CodeCarbon "
            "usa_emissions.json",
            "rel": "intensity_rel_egrid",
        }
    for r in read_csv(REFDATA / "us_states_egrid.csv"):  # a newer release, each year with its own basis and gases
        subnational[f"US-{r['state']}"]["years"][r["data_year"]] = {
            "g": rnd(float(r["co2e_lb_per_mwh"]) * LB_PER_MWH_TO_G_PER_KWH, 2),
            "basis": f"direct combustion CO2e output rate ({r['egrid_release']}, data year {r['data_year']})",
            "gases": "CO2e",  # eGRID's CO2e rate: CO2, CH4 and N2O at the plant; no upstream, no line losses
            "source": f"US EPA {r['egrid_release']} (2025) state annual CO2e total output emission rate STC2ERTA "
            f"(lb/MWh x 0.4536), as parsed from EPA's workbook in {r['co2e_read_in']}",
        }
    prov = {r["name"].lower(): r for r in read_csv(REFDATA / "canada_provinces.csv")}
    ca_map = {
        "naturalGas": "gas",
        "nuclear": "nuclear",
        "petroleum": "oil",
        "biomass": "biomass",
        "coal": "coal",
        "other": "other",
        "solar": "solar",
        "tidal": "hydro",
        "wind": "wind",
        "hydro": "hydro",
    }
    for year in ("2016", "2023"):
        data = json.loads((pi / year / "canada_energy_mix.json").read_text(encoding="utf-8"))
        for name, d in data.items():
            p = prov[name]
            mix: dict[str, float] = {}
            for k, src in ca_map.items():
                mix[src] = mix.get(src, 0.0) + float(d.get(k, 0.0))
            mix = {k: v for k, v in mix.items() if v > 0}
            v, lo, hi = _mix_intensity(mix, factors)
            entry = subnational.setdefault(
                p["code"],
                {
                    "name": p["name"],
                    "country": "CAN",
                    "aliases": [a for a in p["aliases"].split(";") if a],
                    "years": {},
                    "basis": "lifecycle, average (provincial generation mix x IPCC AR5 medians)",
                    "source": "CodeCarbon canada_energy_mix.json (generation shares; 2023 source likely Canada Energy "
                    "Regulator, unverified) x IPCC AR5 WG3 Annex III lifecycle factors",
                    "rel": None,
                },
            )
            entry["years"][year] = {
                "g": rnd(v, 2),
                "low": rnd(lo, 2),
                "high": rnd(hi, 2),
                "mix": {k: rnd(x, 2) for k, x in sorted(mix.items())},
            }
    nordic = json.loads((pi / "nordic_emissions.json").read_text(encoding="utf-8"))
    zones = {}
    for key, d in nordic["data"].items():
        zones[key] = {
            "name": d["description"],
            "country": {"SE": "SWE", "NO": "NOR", "FI": "FIN"}[key[:2]],
            "years": {str(d["year"]): {"g": rnd(d["emission_factor"], 2)}},
            "basis": "average, ENTSO-E historical (basis not stated by CodeCarbon)",
            "source": f"CodeCarbon nordic_emissions.json ({nordic['metadata']['source']}; updated "
            f"{nordic['metadata']['last_updated']})",
            "rel": "intensity_rel_nordic",
        }
    cloud: dict[str, Any] = {}
    for r in read_csv(shared / "cloud-regions.csv"):
        if r["provider"] == "gcp":
            continue
        src = r["source"]
        if "eGRID" in src:
            basis = "direct combustion CO2e output rate, average (eGRID2020 NERC region)"
        elif "EEA" in src:
            basis = "direct CO2 emission intensity, average (EEA)"
        elif "not documented" in src:
            basis = "average, basis not documented"
        else:
            basis = "national average (carbonfootprint.com 2021 factors; basis not stated)"
        year = r["year"] or "0"
        cloud[f"{r['provider']}:{r['region']}"] = {
            "name": r["location"],
            "country": r["country_iso"] or None,
            "years": {year: {"g": rnd(num(r["g_co2e_per_kwh"]), 3)}},
            "basis": basis,
            **({"gases": "CO2"} if "EEA" in src else {}),  # the EEA's indicator is CO2 emission intensity
            "source": f"{src} (Cloud Carbon Footprint constants, snapshot 2024-03)",
            "rel": "intensity_rel_cloud_ccf",
        }
    gcp_country = {
        r["region"]: r["country_iso"] for r in read_csv(shared / "cloud-regions.csv") if r["provider"] == "gcp"
    }
    for path in sorted((shared / "gcp-region-carbon").glob("*.csv")):
        year = path.stem
        rows = read_csv(path)
        for r in rows:
            col = [k for k in r if "carbon intensity" in k.lower()][0]
            g = num(r[col])
            if g is None:
                continue
            lifecycle = col.lower().startswith("lifecycle")
            e = cloud.setdefault(
                f"gcp:{r['Google Cloud Region']}",
                {
                    "name": r["Location"],
                    "country": gcp_country.get(r["Google Cloud Region"]),
                    "years": {},
                    "basis": "",
                    "source": "Google Cloud region carbon data (region-carbon-info, yearly files)",
                    "rel": "intensity_rel_cloud_gcp",
                },
            )
            e["name"] = r["Location"]
            e["years"][year] = {
                "g": rnd(g, 3),
                "cfe": rnd(num(r["Google CFE"]), 3),
                "basis": (
                    "lifecycle, location-based grid average (Google)"
                    if lifecycle
                    else "operational (direct), location-based grid average (Google, from Electricity Maps data)"
                ),
            }
    return {
        "meta": {
            "attributions": [ATTR_EGRID, ATTR_CODECARBON, ATTR_CCF, ATTR_GCP, ATTR_IPCC],
            "licence": "eGRID public domain; CodeCarbon MIT; Cloud Carbon Footprint Apache-2.0; Google Apache-2.0",
        },
        "subnational": subnational,
        "zones": zones,
        "cloud": cloud,
    }


def build_groups(countries: dict[str, Any]) -> dict[str, Any]:
    """Groups of countries a user may name as a location (refdata/country_groups.csv: the EU's 27): per year in
    which every member has a figure, the generation-weighted mean of the members' intensities (= the group's
    emissions / its generation) and mix, with the members' generation-weighted 10th-90th percentile as the range,
    since a run "in the EU" is in one member's grid. Run before the mixes are split off the country records."""
    out: dict[str, Any] = {}
    for r in read_csv(REFDATA / "country_groups.csv"):
        members = r["members"].split(";")
        missing = [m for m in members if m not in countries]
        if missing:
            raise SystemExit(f"refdata/country_groups.csv: {r['key']} names countries without data: {missing}")
        years: dict[str, Any] = {}
        for year in sorted(set.intersection(*(set(countries[m]["years"]) for m in members)), key=int):
            recs = [countries[m]["years"][year] for m in members]
            if not all(rec.get("gen_twh") for rec in recs):
                continue
            gen = sum(rec["gen_twh"] for rec in recs)
            mix = {k: rnd(sum((rec["mix"][i] or 0.0) * rec["gen_twh"] for rec in recs) / gen, 2)
                   for i, k in enumerate(MIX_KEYS)} if all(rec.get("mix") for rec in recs) else None
            avg = _world_average(recs)
            years[year] = {"g": avg["value"], "low": avg["low"], "high": avg["high"],
                           **({"mix": {k: v for k, v in mix.items() if v}} if mix else {})}
        if not years:
            raise SystemExit(f"refdata/country_groups.csv: no year in which every member of {r['key']} has data")
        out[r["key"]] = {
            "name": r["name"], "aliases": [a.strip() for a in r["aliases"].split(";") if a.strip()],
            # wider names the group is the nearest place with data for ("Europe"): suggested, never resolved
            "near": [a.strip() for a in r["near"].split(";") if a.strip()],
            "members": members, "years": years, "basis": "lifecycle, average (OWID/Ember)",
            "source": f"generation-weighted mean of the {len(members)} members' national intensities (Our World in "
            "Data energy data: April-2022 release to 2021, 2024 release for the latest year; CC BY 4.0); range = "
            f"the members' generation-weighted 10th-90th percentile (the run is in one member's grid). Members: "
            f"{r['source']}; {r['note']}",
            **({"cross_check": r["cross_check"]} if r.get("cross_check") else {}),
        }
    return out


def split_mixes(countries: dict[str, Any]) -> dict[str, Any]:
    """Move the per-year generation mixes out of the country table: a location lookup (the tracker's
    start-up) then decodes a fraction of the bytes; only ``generation_mix()`` reads this table."""
    out: dict[str, dict[str, Any]] = {}
    for iso3, c in countries["countries"].items():
        for year, rec in c["years"].items():
            mix = {k: rec.pop(k) for k in ("mix", "gen_twh") if k in rec}
            if mix:
                out.setdefault(iso3, {})[year] = mix
    meta = {k: countries["meta"][k] for k in ("source", "licence", "attributions", "mix_keys")}
    meta["holds"] = "per-country generation mix (% by source, order of mix_keys) and generation (TWh) per year"
    return {"meta": meta, "countries": out}


def repair_implausible_years(countries: dict[str, Any], factors: dict[str, Any]) -> None:
    """Replace a country-year whose intensity is below every generation source's lifecycle median (OWID has
    exact zeros for a few all-hydro grids, e.g. the Central African Republic, where no lifecycle figure is 0) by
    the intensity of that year's own generation mix, with the per-source min-max range (src ``mix``)."""
    floor = min(f["g"] for f in factors.values())
    for code, c in countries["countries"].items():
        for year, rec in c["years"].items():
            mix = {MIX_TO_FACTOR[k]: v for k, v in zip(MIX_KEYS, rec["mix"], strict=True) if v}
            if rec["g"] >= floor:
                continue
            if not mix:
                raise SystemExit(f"{code} {year}: intensity {rec['g']} below any lifecycle factor and no mix to "
                                 "compute it from")
            v, lo, hi = _mix_intensity(mix, factors)
            rec.update({"g": rnd(v, 2), "low": rnd(lo, 2), "high": rnd(hi, 2), "src": "mix",
                        "replaced": rec["g"]})


def compact_country_years(countries: dict[str, Any]) -> None:
    """A country's years as bare intensities ({year: gCO2e/kWh}); the few years from another source than
    OWID's CSV are listed in ``year_src``. Parsing the table is most of a location lookup's cost (the tracker's
    start-up), and a dict per year doubles it."""
    for c in countries["countries"].values():
        src = {y: rec["src"] for y, rec in c["years"].items() if rec["src"] not in (DEFAULT_YEAR_SRC, "mix")}
        # a year computed from its mix keeps its record: its range is the mix's, not the source's band
        c["years"] = {y: ({k: rec[k] for k in ("g", "low", "high", "src", "replaced")} if rec["src"] == "mix"
                          else rec["g"]) for y, rec in c["years"].items()}
        if src:
            c["year_src"] = src
    countries["meta"]["years"] = "years: {year: gCO2e/kWh}; source year_src_default unless year_src names another"
    countries["meta"]["year_src_default"] = DEFAULT_YEAR_SRC


# -- model presets ----------------------------------------------------------------------------------------
def _kv_widths(r: dict[str, str]) -> float | None:
    """K (or V) widths summed over a model's attention layers (its KV cache per token is 2 x this x bytes): layers x
    KV heads x head width; for multi-head latent attention, whose cache holds one latent plus a RoPE key per layer,
    half of layers x (latent + rope) values; a hybrid's softmax-attention layers only (``attention_layers``). None
    where the shape is not in the table."""
    layers = r.get("attention_layers") or r["layers"]
    if (compressed := _compressed_attention(r)) is not None:
        # the part of its cache the top-k caps: the ratio-4 layers' entries, in bytes (its format's FP8 values and
        # scales, counted as 1-byte values); the rest (their indexer keys, the ratio-128 entries) is read whole
        return compressed["sparse_layers"] * compressed["entry_bytes"] / 4 / 2
    if r.get("attention") == "mla" and layers:
        return int(layers) * (int(r["kv_latent_dim"]) + int(r["kv_rope_dim"])) / 2
    if (split := _window_split(r)) is not None:  # window layers and global layers of their own shapes (Gemma 4)
        window_layers, global_layers = split
        return window_layers * int(r["kv_heads"]) * int(r["head_dim"]) + \
            global_layers * int(r["global_kv_heads"]) * int(r["global_head_dim"])
    if layers and r["kv_heads"] and r["head_dim"]:
        return int(layers) * int(r["kv_heads"]) * int(r["head_dim"])
    return None


def _window_split(r: dict[str, str]) -> tuple[int, int] | None:
    """(sliding-window layers, global layers) of a model whose global layers have a KV shape of their own
    (columns global_kv_heads, global_head_dim: Gemma 4), else None."""
    if not r.get("global_head_dim"):
        return None
    window_layers = round(float(r["window_layer_share"]) * int(r["layers"]))
    return window_layers, int(r["layers"]) - window_layers


# the formats a hybrid's recurrent state is kept in (the table's state_precision; bytes from the estimators' table)
STATE_FORMATS = ("fp32", "bf16", "fp16")
RECURRENT_KINDS = ("gated-deltanet", "kda", "lightning", "mamba2", "mamba")


def _recurrent(r: dict[str, str]) -> dict[str, Any] | None:
    """A hybrid model's layers with a fixed-size state (refdata columns recurrent, recurrent_layers,
    recurrent_state, conv_state, state_precision), or None for a transformer. The state is kept in
    ``state_precision`` (the engines' default for the model, per row), the convolution's inputs in the model's
    16-bit activations; at least one attention layer stays (a model with none has no KV cache to compare)."""
    if not r.get("recurrent"):
        return None
    sys.path.insert(0, str(REPO / "src"))
    from wattprint.estimate.common import BYTES_PER_VALUE

    name = r["model"]
    if r["recurrent"] not in RECURRENT_KINDS:
        raise SystemExit(f"{name}: recurrent {r['recurrent']!r} is none of {RECURRENT_KINDS}")
    layers, attention = int(r["recurrent_layers"]), int(r["attention_layers"] or r["layers"])
    if not (0 < layers <= int(r["layers"]) and 0 < attention <= int(r["layers"])):
        raise SystemExit(f"{name}: {layers} recurrent and {attention} attention layers of {r['layers']}")
    if r["state_precision"] not in STATE_FORMATS:
        raise SystemExit(f"{name}: state_precision {r['state_precision']!r} is none of {STATE_FORMATS}")
    state, conv = float(r["recurrent_state"]), float(r["conv_state"] or 0)
    if state <= 0 or conv < 0:
        raise SystemExit(f"{name}: recurrent_state {state:g} and conv_state {conv:g} must be a positive size")
    return {"kind": r["recurrent"], "layers": layers, "state_values": state, "conv_values": conv,
            "state_bytes": BYTES_PER_VALUE[r["state_precision"]], "conv_bytes": BYTES_PER_VALUE["bf16"]}


# the indexer's key cache as vLLM keeps it (DeepseekV32IndexerCache): FP8 values with one fp32 scale per 128 of them
INDEXER_QUANT_BLOCK = 128
INDEXER_SCALE_BYTES = 4


def _sparse_attention(r: dict[str, str]) -> dict[str, Any] | None:
    """DeepSeek Sparse Attention (columns sparse_topk, indexer_heads, indexer_head_dim), or None for dense attention."""
    if not r.get("sparse_topk"):
        return None
    topk, heads, dim = int(r["sparse_topk"]), int(r["indexer_heads"]), int(r["indexer_head_dim"])
    if min(topk, heads, dim) <= 0:
        raise SystemExit(f"{r['model']}: sparse attention needs a positive top-k and indexer shape")
    return {"topk": topk, "indexer_heads": heads, "indexer_head_dim": dim,
            "indexer_bytes": dim + dim // INDEXER_QUANT_BLOCK * INDEXER_SCALE_BYTES}


# DeepSeek-V4's cache entry as vLLM keeps it (fp8_ds_mla, its only CUDA format for V4; flashmla_sparse.py and
# deepseek_v4_attention.py head_bytes): the no-RoPE part in FP8, the RoPE part in bf16, one ue8m0 scale per 64 FP8
# values and one byte of padding
V4_ENTRY_SCALE_BLOCK = 64
V4_ENTRY_PAD_BYTES = 1
# its compressors' per-sequence state (vLLM deepseek_compressor.py CompressorStateCache): fp32 rows of
# 2 x coff x head width (kv and score states), coff x ratio of them, coff = 2 where the ratio is 4 (overlapping
# windows), else 1
COMPRESSOR_STATE_BYTES = 4


def _compressor_state(ratio: int, width: int) -> int:
    coff = 2 if ratio == 4 else 1
    return coff * ratio * 2 * coff * width * COMPRESSOR_STATE_BYTES


def _compressed_attention(r: dict[str, str]) -> dict[str, Any] | None:
    """DeepSeek-V4's compressed attention (column compressed_attention: 'window=128;ratios=0x2,4x21,128x20;
    topk=512;indexer=64x128'), or None. Layers of ratio 4 cache one entry per 4 tokens and attend to the top-k an
    indexer picks, layers of ratio 128 one per 128 tokens and attend to all, every layer also to the last ``window``
    tokens uncompressed; one cached vector of ``head_dim`` (``kv_rope_dim`` of it RoPE) is both K and V."""
    spec = (r.get("compressed_attention") or "").strip()
    if not spec:
        return None
    fields = dict(part.split("=", 1) for part in spec.split(";"))
    groups = {int(ratio): int(n) for ratio, _, n in (g.partition("x") for g in fields["ratios"].split(","))}
    if sum(groups.values()) != int(r["layers"]) or set(groups) - {0, 4, 128}:
        raise SystemExit(f"{r['model']}: compressed_attention ratios {fields['ratios']} must be 0, 4 or 128 over its "
                         f"{r['layers']} layers")
    width, rope = int(r["head_dim"]), int(r["kv_rope_dim"])
    heads, dim = (int(x) for x in fields["indexer"].split("x"))
    nope = width - rope
    return {"window": int(fields["window"]), "topk": int(fields["topk"]), "width": width,
            "swa_layers": groups.get(0, 0), "sparse_layers": groups.get(4, 0), "dense_layers": groups.get(128, 0),
            "entry_bytes": nope + 2 * rope + nope // V4_ENTRY_SCALE_BLOCK + V4_ENTRY_PAD_BYTES,
            "indexer_heads": heads, "indexer_head_dim": dim,
            "indexer_bytes": dim + dim // INDEXER_QUANT_BLOCK * INDEXER_SCALE_BYTES,
            "sparse_state_bytes": _compressor_state(4, width) + _compressor_state(4, dim),
            "dense_state_bytes": _compressor_state(128, width)}


def _model(r: dict[str, str], params_b: str, **moe: Any) -> dict[str, Any]:
    """One row of either table as a preset; ``moe``: the active parameters and expert counts of an MoE row."""
    names = [a.strip() for a in r["aliases"].split(";") if a.strip()]
    return {
        # "+name": another model of this architecture (a later release), not a spelling of this one
        "name": r["model"], "aliases": [a.lstrip("+") for a in names],
        "releases": [a[1:] for a in names if a.startswith("+")],
        "params": float(params_b) * 1e9, "active_params": None, "experts": None, "experts_per_token": None, **moe,
        # multi-head latent attention (DeepSeek) caches a compressed latent: served as GQA with its real cache size;
        # one K/V head is multi-query attention, whatever the model card calls it
        "attention": "mha" if r["attention"] == "mha" else "mqa" if r.get("kv_heads") == "1" else "gqa",
        "latent_attention": r["attention"] == "mla",  # what the model card calls it (listed as "mla")
        "weights": r.get("weights") or None,
        # a release (a word of its name) that ships its weights in another format: "thinking=int4"
        "release_weights": dict((w.strip().lower(), f.strip()) for w, _, f in
                                (x.partition("=") for x in (r.get("release_weights") or "").split(";") if x.strip())),
        "sliding_window": num(r["sliding_window"]), "window_layer_share": num(r["window_layer_share"]),
        # global layers with a KV shape of their own (Gemma 4: fewer, wider K/V heads than the window layers')
        "global_kv_heads": int(r["global_kv_heads"]) if r.get("global_kv_heads") else None,
        "global_head_dim": int(r["global_head_dim"]) if r.get("global_head_dim") else None,
        "kv_widths": _kv_widths(r), "layers": int(r["layers"]) if r["layers"] else None,
        # a hybrid: its softmax-attention layers (the rest, or all in parallel, keep a fixed-size state)
        "attention_layers": int(r["attention_layers"]) if r.get("attention_layers") else None,
        "recurrent": _recurrent(r),
        "sparse_attention": _sparse_attention(r),
        "compressed_attention": _compressed_attention(r),
        # query heads x head width: the width attention's score and value products run at (training FLOPs); no
        # head width for multi-head latent attention, whose query/key and value heads differ in width: its two
        # widths instead (MoE table only)
        "heads": int(r["heads"]) if r["heads"] else None, "head_dim": int(r["head_dim"]) if r["head_dim"] else None,
        "qk_head_dim": int(r["qk_head_dim"]) if r.get("qk_head_dim") else None,
        "v_head_dim": int(r["v_head_dim"]) if r.get("v_head_dim") else None,
        # latent attention's cached latent width: what decode's absorbed score and value products run at
        "kv_latent_dim": int(r["kv_latent_dim"]) if r.get("attention") == "mla" else None,
        "source": r["source"], "year": int(r["year"]) if r["year"] else None, "note": r["note"],
        "uncertain": bool(UNCERTAIN_NOTE.search(r["note"])),
    }


def add_context_windows(models: list[dict[str, Any]]) -> None:
    """Each model's context window (refdata/model_context_windows.csv, one row per model): ``context_tokens`` the
    positions (input + output) its shipped config allows; ``max_context_tokens`` the most any release under its
    name or a documented extension the user enables (YaRN) allows, None for no hard limit (ALiBi);
    ``context_releases`` the releases a word of their name tells apart that ship another window ("2507": 262144)."""
    windows = {r["model"]: r for r in read_csv(REFDATA / "model_context_windows.csv")}
    missing = [m["name"] for m in models if m["name"] not in windows]
    listed = {r["model"] for name in ("dense_models.csv", "moe_architectures.csv") for r in read_csv(REFDATA / name)}
    unknown = sorted(set(windows) - listed)  # rows of excluded MoE models stay, for when they are included
    if missing or unknown:
        raise SystemExit(f"refdata/model_context_windows.csv: no row for {missing}; rows for no model: {unknown}")
    for m in models:
        r = windows[m["name"]]
        native = int(r["context_tokens"])
        most = None if r["max_context_tokens"] == "none" else int(r["max_context_tokens"] or native)
        if most is not None and most < native:
            raise SystemExit(f"{m['name']}: max_context_tokens {most} below context_tokens {native}")
        releases = {}
        for pair in filter(None, (x.strip() for x in r["releases"].split(";"))):
            word, _, tokens = pair.partition("=")
            if most is not None and int(tokens) > most:
                raise SystemExit(f"{m['name']}: release {word} allows {tokens}, above max_context_tokens {most}")
            releases[word.strip().lower()] = int(tokens)
        m.update({"context_tokens": native, "max_context_tokens": most, "context_source": r["source"],
                  "context_releases": releases})


def build_models() -> dict[str, Any]:
    """Published LLM architectures a user can name instead of typing counts: dense models
    (refdata/dense_models.csv) and MoE models (refdata/moe_architectures.csv, rows without an ``excluded`` reason).
    Parameter counts in absolute numbers; every row keeps its source and notes."""
    models = [_model(r, r["params_B"]) for r in read_csv(REFDATA / "dense_models.csv")]
    models += [_model(r, r["params_total_B"], active_params=float(r["params_active_B"]) * 1e9,
                      experts=int(r["experts_routed"]), experts_per_token=int(r["experts_per_token"]))
               for r in read_csv(REFDATA / "moe_architectures.csv") if not r["excluded"]]
    names = [m["name"] for m in models]
    if len(set(names)) != len(names):
        raise SystemExit("refdata/dense_models.csv and moe_architectures.csv name a model twice")
    add_context_windows(models)
    return {
        "meta": {"source": "refdata/dense_models.csv, refdata/moe_architectures.csv (developers' model cards, "
                           "papers and config.json files; per row)", "licence": "factual figures"},
        "models": models,
    }


def build(shared: Path, out: Path) -> list[Path]:
    if not shared.is_dir():
        raise SystemExit(f"shared data folder not found: {shared}")
    out.mkdir(parents=True, exist_ok=True)
    countries, world = build_countries(shared)
    factors = build_factors(shared, world)
    repair_implausible_years(countries, factors["mix_factors"])
    groups = build_groups(countries["countries"])
    mixes = split_mixes(countries)
    compact_country_years(countries)
    cpus = build_cpus(shared)
    # the CPU model's fallback factor sits with the other factors: a VM's tracker then never parses the CPU list
    factors["factors"]["cpu_w_per_core"] = {**cpus.pop("per_core_w"), "unit": "W per physical core (TDP / cores)",
                                            "note": "used where the CPU model's TDP is unknown (VMs, unlisted CPUs)"}
    tables = {
        "accelerators.json": build_accelerators(shared),
        "cpus.json": cpus,
        "factors.json": factors,
        "countries.json": countries,
        "mixes.json": mixes,
        "regions.json": {**build_regions(shared, factors["mix_factors"]), "groups": groups},
        "models.json": build_models(),
    }
    written = []
    for name, obj in tables.items():
        path = out / name
        path.write_text(
            json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8"
        )
        written.append(path)
    return written


def write_readme_credits() -> None:
    """README.md's credits block = what `wattprint data credits` prints from the tables just written."""
    sys.path.insert(0, str(REPO / "src"))
    from wattprint.data import credits

    text = README.read_text(encoding="utf-8")
    start, end = "<!-- credits:start -->\n", "<!-- credits:end -->"
    i, j = text.index(start) + len(start), text.index(end)
    head = ("wattprint embeds compact tables built by `scripts/build_data.py` from the reference files (and the\n"
            "repository's own sourced tables in `refdata/`); `wattprint data credits` prints these lines.\n")
    README.write_text(text[:i] + head + "".join(f"- {line}\n" for line in credits()) + text[j:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument(
        "--shared", type=Path, default=DEFAULT_SHARED, help="reference data folder (default ../shared/data)"
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder for the JSON tables")
    args = ap.parse_args(argv)
    paths = build(args.shared, args.out)
    if args.out.resolve() == DEFAULT_OUT.resolve():
        write_readme_credits()
    total = sum(p.stat().st_size for p in paths)
    for p in paths:
        print(f"{p.name}: {p.stat().st_size / 1024:.1f} KiB")
    print(f"total: {total / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
