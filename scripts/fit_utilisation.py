"""Fit the training estimator's MFU and power model and write src/wattprint/data/tables/utilisation_model.json.

Inputs (re-runnable, offline):
- ../shared/data/training-runs.csv: dev rows with chip-hours and model FLOPs (or params x tokens) give
  *effective* MFU = 6·N_active·D / (chip-hours x peak) (same selection as the benchmark's blind mode);
- refdata/mfu_observations.csv: further published trainings (effective, from chip-hours) and reported
  per-step MFU figures, each with its source;
- refdata/mfu_exclusions.csv: trainings of either table whose compute is not 6·N·D (distillation), not fitted;
- ../shared/data/accelerators.csv: dense peak FLOP/s at the chip's default precision;
- refdata/power_observations.csv: GPU-only and all-in power fractions, DGX server ratings, host load.

    python scripts/fit_utilisation.py [--shared ../shared/data]

The benchmark imports ``load_observations`` and ``knee_average`` to refit without the family it scores.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from wattprint.data import TB, TFLOPS  # noqa: E402
from wattprint.estimate.common import BYTES_PER_VALUE  # noqa: E402
from wattprint.estimate.utilisation import KneeComponent, architecture, features, fit_mfu  # noqa: E402

OUT = ROOT / "src" / "wattprint" / "data" / "tables" / "utilisation_model.json"
# knees of the size term (active parameters above which size no longer changes the MFU); the model averages one fit
# per knee, weighted by its leave-one-family-out error (knee_average, knee_weights)
KNEE_GRID = (1e10, 3e10, 1e11, 3e11, 1e12)
REFERENCE_CHIP = "NVIDIA A100 SXM4 80GB"  # normalisation point of the ridge (peak / bandwidth)
REFERENCE_ELEMENT_BYTES = BYTES_PER_VALUE["bf16"]  # the precision of the reference peak (load_peaks takes bf16 first)
BOUNDS = [0.02, 0.75]  # sanity bounds on an effective MFU (no published training outside them)
RIDGE = 1.0  # keeps coefficients of rarely seen features (fp8: one training) near zero
HUBER_DELTA = 0.15  # ln units: residuals beyond ~x1.16 are down-weighted
QUANTILES = (0.1, 0.9)  # residual quantiles that set the MFU range
# the estimator's compute is 6·N_active·D, a transformer's; state-space and hybrid models are kept in the
# table (as found) but not fitted
TRANSFORMER_ARCHS = ("dense", "MoE")

# free-text hardware of dev rows without a hardware_id -> the catalogue row a user would get by family name
HARDWARE_FALLBACK = {"NVIDIA P100": "NVIDIA Tesla P100 SXM2", "NVIDIA A100-80GB": "NVIDIA A100 SXM4 80GB"}
# leave-one-family-out groups for dev rows (trainings of one developer series share code and clusters)
FAMILY_PREFIXES = ("llama1", "llama2", "llama3", "llama4", "bloom", "gopher", "glam", "granite", "starcoder", "olmo")


def dev_family(row_id: str) -> str:
    if row_id.startswith("patterson21-") and ("p100" in row_id or "tpuv2" in row_id):
        return "patterson21-wmt"
    for p in FAMILY_PREFIXES:
        if row_id.startswith(p):
            return p
    return row_id


def load_peaks(shared: Path) -> dict[str, tuple[float, str, float | None, int | None]]:
    """Catalogue name -> (dense peak FLOP/s at default precision, family, memory bandwidth B/s or None,
    release year or None), over the shared accelerator table and the repository's additions to it (the
    catalogue's own two sources)."""
    out = {}
    for table in (shared / "accelerators.csv", ROOT / "refdata" / "accelerators_extra.csv"):
        out.update(_table_peaks(table))
    return out


def _table_peaks(path: Path) -> dict[str, tuple[float, str, float | None, int | None]]:
    out = {}
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            bw = float(r["memory_bw_tbs"]) * TB if r["memory_bw_tbs"] else None
            year = int(r["year"]) if r["year"] else None
            for col in ("peak_bf16_tflops", "peak_fp16_tflops", "peak_fp32_tflops"):
                if r[col]:
                    out[r["name"]] = (float(r[col]) * TFLOPS, r["family"], bw, year)
                    break
    return out


def reference(shared: Path) -> dict[str, Any]:
    """The normalisation point of the ridge term: the reference chip's ridge point (FLOP per byte, at its default
    precision, whose tensors take ``element_bytes`` bytes an element), its peak (FLOP/s) and bandwidth (B/s), and
    its year. The size knee (``params``) is added per fit (``with_knee``)."""
    peak, _, bw, year = load_peaks(shared)[REFERENCE_CHIP]
    assert bw is not None and year is not None
    return {"ridge": peak / bw, "ridge_chip": REFERENCE_CHIP, "year": year, "peak": peak, "bandwidth": bw,
            "element_bytes": REFERENCE_ELEMENT_BYTES}


def num(text: str) -> float | None:
    return float(text) if text and text.strip() else None


def blind_rows(shared: Path) -> list[dict[str, Any]]:
    """Dev rows usable blind: chip-hours not assumed, model FLOPs (not hardware FLOPs) or params x tokens."""
    out = []
    with open(shared / "training-runs.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["split"] != "dev" or r["chip_hours_basis"] in ("", "assumed") or not r["chip_hours"]:
                continue
            if r["flops_basis"] == "hardware-flops":
                continue
            total = num(r["params_total_B"])
            active = num(r["params_active_B"]) or total
            tokens = num(r["training_tokens_B"])
            flops = num(r["training_flops"])
            if flops is None and (active is None or tokens is None):
                continue
            hw = r["hardware_id"] or HARDWARE_FALLBACK.get(r["hardware"], "")
            if not hw or active is None:
                continue
            out.append(
                {
                    "id": r["id"],
                    "family": dev_family(r["id"]),
                    "training": r["id"],
                    "hardware": hw,
                    "hardware_text": r["hardware"],
                    "params": total * 1e9 if total else None,
                    "active_params": active * 1e9,
                    "tokens": tokens * 1e9 if tokens else None,
                    "flops": flops,
                    "chip_hours": float(r["chip_hours"]),
                    "n_chips": num(r["n_chips"]),
                    "moe": "moe" in r["arch"].lower(),
                    "fp8": r["precision"] == "fp8",
                    "row": r,
                }
            )
    return out


def exclusions(refdata: Path = ROOT / "refdata") -> dict[str, str]:
    """Trainings whose compute is not 6·N·D (knowledge distillation: the teachers' forward passes), so that
    6·N·D / (chip-hours x peak) is no MFU: id -> why (refdata/mfu_exclusions.csv). They are left out of the fit;
    the benchmark still scores them."""
    with open(refdata / "mfu_exclusions.csv", encoding="utf-8") as f:
        return {r["id"]: r["reason"] for r in csv.DictReader(f)}


def load_observations(
    shared: Path, refdata: Path = ROOT / "refdata", knee: float = KNEE_GRID[0]
) -> list[dict[str, Any]]:
    """All MFU observations: dev-derived (effective) + refdata table (effective or step), with features inputs;
    ``knee`` = the size term's knee they carry (``knee_average`` sets each grid value in turn). Trainings of
    ``exclusions`` are left out."""
    peaks = load_peaks(shared)
    excluded = exclusions(refdata)
    obs: list[dict[str, Any]] = []
    for d in blind_rows(shared):
        if d["id"] in excluded:
            continue
        peak, _, bw, year = peaks[d["hardware"]]
        flops = d["flops"] or 6 * d["active_params"] * d["tokens"]
        obs.append(
            {
                "id": d["id"], "family": d["family"], "training": d["training"], "hardware": d["hardware"],
                "active_params": d["active_params"], "peak": peak, "bandwidth": bw, "year": year, "moe": d["moe"],
                "fp8": d["fp8"], "basis": "effective", "mfu": flops / (d["chip_hours"] * 3600 * peak),
                # the publication, as the table cites it: the table itself is reference data kept beside the
                # repository, which users of the package do not have
                "source": f"{d['row'].get('source') or 'published training'} (dev row {d['id']} of the "
                "published-training table training-runs.csv)",
            }
        )
    with open(refdata / "mfu_observations.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["arch"] not in TRANSFORMER_ARCHS or r["id"] in excluded:
                continue  # 6·N·D is not such a model's training compute, so its "MFU" is not comparable
            peak, _, bw, year = peaks[r["hardware"]]
            active = (num(r["params_active_B"]) or float(r["params_total_B"])) * 1e9
            if r["mfu"]:
                mfu = float(r["mfu"])
            else:  # from chip-hours: effective (billed/wall time) or step (logged iteration time) as `basis` says
                mfu = 6 * active * float(r["tokens_B"]) * 1e9 / (float(r["chip_hours"]) * 3600 * peak)
            obs.append(
                {
                    "id": r["id"], "family": r["family"], "training": r["training"], "hardware": r["hardware"],
                    "active_params": active, "peak": peak, "bandwidth": bw, "year": year, "moe": r["arch"] == "MoE",
                    "fp8": r["precision"] == "fp8",
                    "basis": r["basis"], "mfu": mfu, "source": r["source"],
                }
            )
    return with_knee(obs, reference(shared), knee)


def with_knee(obs: list[dict[str, Any]], ref: dict[str, Any], knee: float | None = None) -> list[dict[str, Any]]:
    """Copies of ``obs`` carrying the normalisation points ``ref`` (its knee replaced by ``knee`` if given)."""
    ref = ref if knee is None else {**ref, "params": knee}
    return [{**o, "reference": ref} for o in obs]


def _features(o: dict[str, Any]) -> list[float]:
    return features(o["active_params"], o["peak"], o["bandwidth"], o["moe"], o["fp8"], o["basis"] == "step",
                    o["reference"], o["year"])


def design(obs: list[dict[str, Any]]) -> list[tuple[list[float], float]]:
    return [
        (_features(o), o["mfu"])
        for o in obs
    ]


# columns whose coefficient must not be negative: a smaller model's matrix products are never easier to keep busy,
# so neither size term may say that shrinking a model raises its MFU (1 = small_model, 6 = small_x_ridge)
NONNEGATIVE = (1, 6)


def fit(obs: list[dict[str, Any]]) -> list[float]:
    """Coefficients [b0, b_small, b_ridge, b_moe, b_fp8, b_step, b_both, b_old] (see wattprint.estimate.utilisation).

    A size coefficient that comes out negative is held at zero and the rest refitted (an active-set step), so the
    model never claims that a smaller model reaches more of the peak."""
    rows = design(obs)
    held: set[int] = set()
    while True:
        coef = fit_mfu([([0.0 if i in held else x for i, x in enumerate(xs)], y) for xs, y in rows],
                       ridge=RIDGE, huber_delta=HUBER_DELTA)
        negative = {i for i in NONNEGATIVE if i not in held and coef[i] < 0}
        if not negative:
            return coef
        held |= negative


def residual(coef: list[float], o: dict[str, Any]) -> float:
    """ln(observed MFU) - ln(predicted MFU) for one observation."""
    xs = _features(o)
    return math.log(o["mfu"]) - sum(b * x for b, x in zip(coef, xs, strict=True))


Fits = dict[tuple[float, frozenset[str]], list[float]]  # (knee, observations fitted) -> coefficients


def fit_at(obs: list[dict[str, Any]], knee: float, fits: Fits) -> list[float]:
    """``fit`` of ``obs`` with the size knee ``knee``, memoised in ``fits``: the leave-outs of ``knee_average``
    fit the same subsets again (the benchmark's nested leave-outs, many times)."""
    key = (knee, frozenset(f"{o['id']}|{o['basis']}" for o in obs))
    if key not in fits:
        fits[key] = fit(with_knee(obs, obs[0]["reference"], knee))
    return fits[key]


def knee_weights(scores: list[float], n_families: int) -> list[float]:
    """Weights of the knees' fits from their leave-one-family-out median factor errors ``scores`` over
    ``n_families`` left-out families: w ∝ m^-n, with m = ln(score) the median |ln error| and n = n_families.

    Why this form: the fits have the same number of coefficients, so they compare by the likelihood of their
    held-out errors; for errors of a location-scale law at the fitted scale m that likelihood is ∝ m^-n (Akaike
    weights; the pseudo-Bayesian model averaging of Yao et al. 2018 with leave-out errors). m is the median |ln
    error|, a robust scale (a few odd trainings should not decide it, as in the Huber fit) and the benchmark's
    headline measure; n counts families, not trainings, because the errors of one family share its developer's
    code, clusters and reporting, which is why the cross-validation leaves out whole families: they are the
    independent evidence. No constant is tuned: the sharpness, 1/n, is set by how much evidence there is, and
    knees that score alike get alike weights, so one training more or less shifts weight a little instead of
    switching knee.
    """
    logs = [-n_families * math.log(max(math.log(s), sys.float_info.min)) for s in scores]
    top = max(logs)
    raw = [math.exp(v - top) for v in logs]
    return [r / sum(raw) for r in raw]


class KneeAverage(NamedTuple):  # not a dataclass: the benchmark and tests load this file outside sys.modules
    """The model fitted on some observations: one fit per knee of KNEE_GRID with its weight, each knee's
    leave-one-family-out median factor error, and the averaged model's leave-one-family-out ln residuals."""

    components: list[KneeComponent]
    scores: list[float]
    n_families: int
    residuals: list[float]

    def quantiles(self) -> tuple[float, float]:
        """The ln-residual quantiles (QUANTILES) of the cross-validated residuals: the MFU range around the centre."""
        return quantile(self.residuals, QUANTILES[0]), quantile(self.residuals, QUANTILES[1])


def knee_average(obs: list[dict[str, Any]], fits: Fits | None = None) -> KneeAverage:
    """Fit ``obs`` at every knee of KNEE_GRID and weight the fits by their leave-one-family-out errors over the
    effective observations (``knee_weights``); everything, weights included, comes from ``obs`` alone, so a
    caller that leaves a family out of ``obs`` scores it honestly.

    The averaged model's cross-validated residuals (each family predicted by the fits without it, averaged with
    these weights) set the range: their spread is the error on an unseen developer, which is what a user's run
    is; in-sample residuals would understate it.
    """
    fits = {} if fits is None else fits
    families = sorted({o["family"] for o in obs if o["basis"] == "effective"})
    per_knee: list[list[float]] = []
    for knee in KNEE_GRID:
        resid: list[float] = []
        for fam in families:
            coef = fit_at([o for o in obs if o["family"] != fam], knee, fits)
            held = [o for o in obs if o["family"] == fam and o["basis"] == "effective"]
            resid += [residual(coef, o) for o in with_knee(held, obs[0]["reference"], knee)]
        per_knee.append(resid)
    scores = [math.exp(statistics.median(abs(r) for r in resid)) for resid in per_knee]
    weights = knee_weights(scores, len(families))
    averaged = [sum(w * resid[i] for w, resid in zip(weights, per_knee, strict=True))
                for i in range(len(per_knee[0]))]
    components = [KneeComponent(knee, w, tuple(fit_at(obs, knee, fits)))
                  for knee, w in zip(KNEE_GRID, weights, strict=True)]
    return KneeAverage(components, scores, len(families), averaged)


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def gpu_fractions(rows: list[dict[str, str]], families: dict[str, str]) -> dict[str, Any]:
    """GPU-only average training power as a fraction of TDP: per architecture the mean of its *measured* figures,
    elsewhere the mean of all measured ones; the range is the spread of every sourced GPU-only figure (measured,
    assumed and the TDP convention, an upper bound), for one family's few trainings do not show how far another
    training on it may lie."""
    gpu = [r for r in rows if r["kind"] == "gpu_fraction" and r["scope"] == "gpu-only"]
    for r in gpu:
        if r["hardware"] not in families:
            raise SystemExit(f"power_observations.csv names {r['hardware']!r}, which is not in accelerators.csv")
    measured = [r for r in gpu if r["measured"] == "true"]
    low, high = min(float(r["value"]) for r in gpu), max(float(r["value"]) for r in gpu)
    spread = f"range = the spread of all {len(gpu)} sourced GPU-only figures (measured, assumed, TDP convention)"

    def entry(rs: list[dict[str, str]], what: str) -> dict[str, Any]:
        return {"value": statistics.mean(float(r["value"]) for r in rs), "low": low, "high": high,
                "source": "; ".join(dict.fromkeys(r["source"] for r in rs)),
                "note": f"mean of {len(rs)} measured GPU-only figure(s) {what}; {spread}"}

    by_family: dict[str, Any] = {}
    for fam in sorted({architecture(families[r["hardware"]]) for r in measured}):
        by_family[fam] = entry([r for r in measured if architecture(families[r["hardware"]]) == fam],
                               f"of {fam} trainings")
    return {"default": entry(measured, "over all architectures (none measured on this one)"),
            "by_family": by_family}


def power_section(refdata: Path, families: dict[str, str]) -> dict[str, Any]:
    """Power defaults: GPU-only fractions, all-in fractions (TPUs, P100), DGX-class host power, host load.
    ``families`` maps catalogue chip names to their family."""
    with open(refdata / "power_observations.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    gpu = gpu_fractions(rows, families)
    all_in: dict[str, Any] = {}
    for name in sorted({r["hardware"] for r in rows if r["kind"] == "all_in_fraction"}):
        rs = [r for r in rows if r["kind"] == "all_in_fraction" and r["hardware"] == name]
        v = [float(r["value"]) for r in rs]
        all_in[name] = {"value": statistics.mean(v), "low": min(v), "high": max(v),
                        "source": "; ".join(r["source"] for r in rs)}
    ram = next(r for r in rows if r["kind"] == "ram_w_per_gb")
    ram_w = float(ram["value"])
    classes: dict[str, Any] = {}
    ratios: dict[str, list[float]] = {"cpu": [], "ram": [], "other": []}
    for r in (r for r in rows if r["kind"] == "server"):
        meta = dict(kv.split("=") for kv in r["note"].split(";"))
        n = int(meta["accelerators"])
        tdp = float(r["tdp_w"])
        non_acc = float(r["value"]) - n * tdp
        cpu = float(meta["cpu_w"])
        ram_part = float(meta["ram_gb"]) * ram_w
        parts = {"cpu": cpu / n, "ram": ram_part / n, "other": (non_acc - cpu - ram_part) / n}
        classes[r["hardware"]] = {
            "name": r["source"].split(" datasheet")[0], "source": r["source"] + "; RAM W/GB: " + ram["source"],
            **{f"{k}_w_per_accelerator": v for k, v in parts.items()},
        }
        for part, watts in parts.items():
            ratios[part].append(watts / tdp)
    load = next(r for r in rows if r["kind"] == "host_load")
    return {
        "gpu_fraction": gpu,
        "all_in_fraction": all_in,
        "host": {
            "classes": classes,
            "generic_ratio_of_tdp": {**{k: statistics.mean(v) for k, v in ratios.items()},
                                     "source": "mean over " + ", ".join(c["name"] for c in classes.values())},
            "load": {"value": float(load["value"]), "low": float(load["low"]), "high": float(load["high"]),
                     "source": load["source"], "note": load["note"]},
        },
    }


def build(shared: Path) -> dict[str, Any]:
    obs = load_observations(shared)
    model = knee_average(obs)
    n_eff = sum(o["basis"] == "effective" for o in obs)
    q_lo, q_hi = model.quantiles()
    ref = reference(shared)
    return {
        "mfu": {
            "form": "ln(mfu) = sum over the components of weight * (b0 + b_small*small + b_ridge*harder + b_moe*[MoE] "
            "+ b_fp8*[fp8] (+ b_step*[reported per-step MFU], fitting only) + b_both*small*harder "
            "+ b_old*[chip_year < year_ref]); small = min(log10(N_active/knee),0) with the component's knee, "
            "harder = max(log2((peak/bandwidth)/ridge_ref),0)",
            "features": ["intercept", "small_model", "ridge_above_ref", "moe", "fp8", "step_basis", "small_x_ridge",
                         "older_chip"],
            "components": [{"knee": c.knee, "weight": c.weight, "lofo_median_factor_error": score,
                            "coef": list(c.coef)} for c, score in zip(model.components, model.scores, strict=True)],
            "reference": ref,
            "bounds": BOUNDS,
            "residual_quantiles_ln": [q_lo, q_hi],
            "range_note": f"{int(QUANTILES[0] * 100)}th-{int(QUANTILES[1] * 100)}th percentile of the "
            f"leave-one-family-out residuals over {n_eff} published trainings",
            "fit": {"method": "Huber-weighted ridge least squares on ln(MFU), one fit per size knee", "ridge": RIDGE,
                    "huber_delta_ln": HUBER_DELTA, "n_observations": len(obs),
                    "knee_weighting": {
                        "rule": "weight proportional to m^-n: m = the knee's leave-one-family-out median |ln error| "
                        "over all effective observations, n = the number of families left out",
                        "n_families": model.n_families,
                        "why": "the knees' fits have equal numbers of coefficients, so they compare by the likelihood "
                        "of their held-out errors, which at a fitted error scale m is proportional to m^-n (Akaike "
                        "weights; pseudo-BMA, Yao et al. 2018, Bayesian Analysis 13(3)); families, not trainings, "
                        "are the independent units (one family's errors share code, clusters and reporting); no "
                        "tuned constant; a near-tie of two knees splits the weight instead of flipping the model"}},
            "source": "fitted by scripts/fit_utilisation.py on " + f"{len(obs)} published MFU figures of "
            f"{len({o['training'] for o in obs})} trainings "
            "(the dev rows of the published-training table training-runs.csv and refdata/mfu_observations.csv; "
            "each figure's publication in the model's observations, each training's fit in "
            "bench/results/training_accuracy.md)",
            "observations": [
                {k: o[k] for k in ("id", "family", "hardware", "active_params", "basis", "mfu", "source")} for o in obs
            ],
        },
        "power": power_section(ROOT / "refdata", {name: v[1] for name, v in load_peaks(shared).items()}),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args(argv)
    model = build(args.shared)
    OUT.write_text(json.dumps(model, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    weights = ", ".join(f"{c['knee']:.0e} {c['weight']:.3f}" for c in model["mfu"]["components"])
    print(f"wrote {OUT.relative_to(ROOT)}: size knees (active parameters) and weights {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
