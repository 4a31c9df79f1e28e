"""Benchmark: predicted vs published LLM-serving energy, at matching scope and batch size.

Reads ``refdata/inference_measurements.csv`` (published per-token / per-request measurements with their scope,
batch size, hardware, model and tokens), predicts each scored row with ``wattprint.estimate_inference`` from
only what the row states (parameters, hardware, GPUs, batch, precision, engine, attention and its sliding window,
an MoE's expert counts from its model card, token lengths where published), and compares the figure of the same scope:

* scope ``gpu``: accelerator energy only (``gpu_energy_per_output_token_j``; the published figure divides all
  GPU energy, prefill included, by the output tokens);
* scope ``server``: IT energy (accelerators + host);
* scope ``full-stack``: facility energy with the row's PUE.

Nothing is fitted to these rows: the model's constants come from ``refdata/inference_model.csv`` and their own
sources. Target: median |log10(pred/published)| within log10(1.5) (a factor 1.5).

    python bench/inference_accuracy.py [--update-readme]
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # the checkout's package, as the usage line says, installed or not
sys.path.insert(0, str(ROOT / "bench"))

from readme_block import replace_readme_block  # noqa: E402

MEASUREMENTS = ROOT / "refdata" / "inference_measurements.csv"
RESULTS = ROOT / "bench" / "results" / "inference_accuracy.md"
TARGET_FACTOR = 1.5


def _num(text: str) -> float | None:
    return float(text) if text.strip() else None


def _int(text: str) -> int | None:
    return int(text) if text.strip() else None


def predict(row: dict[str, str], by_name: bool = False) -> float:
    """The model's figure for one measurement row, in the row's metric and scope; ``by_name``: the row's model is
    also named (``model=``), so a named model's own KV shape, depth, attention and window are used."""
    return predict_range(row, by_name)[0]


def predict_range(row: dict[str, str], by_name: bool = False) -> tuple[float, float | None, float | None]:
    """(central, low, high) of :func:`predict`; low and high where the estimate gives that figure's own range
    (GPU energy per output token, any energy per request), None where the figure is derived from two ranged ones
    (server or full-stack energy per output token: each corner has its own token count)."""
    from wattprint.estimate.inference import estimate_inference

    count = _num(row["count"])
    fp = estimate_inference(
        None if by_name else float(row["params"]),  # named: the model's own counts, not the row's rounded ones
        model=row["model"] if by_name else None,
        active_params=None if by_name else _num(row["active_params"]),
        input_tokens=_num(row["input_tokens"]),
        output_tokens=_num(row["output_tokens"]),
        hardware=row["hardware"],
        count=int(count) if count else None,
        batch_size=_num(row["batch_size"]),
        precision=row["precision"] or None,
        engine=row["engine"] or "optimised",
        attention=row["attention"] or "gqa",
        sliding_window=_num(row.get("sliding_window", "")),
        window_layer_share=_num(row.get("window_layer_share", "")),
        experts=None if by_name else _int(row.get("experts", "")),
        experts_per_token=None if by_name else _int(row.get("experts_per_token", "")),
        pue=_num(row["pue"]) or 1.0,
        intensity=400.0,  # irrelevant to energy; fixed so no location lookup is needed
    )
    d = fp.details
    scope, metric = row["scope"], row["metric"]
    per_req = {"gpu": d["gpu_energy_per_request_wh"], "server": d["it_energy_per_request_wh"],
               "full-stack": d["energy_per_request_wh"]}[scope]
    if metric == "energy_per_output_token_j":
        if scope == "gpu":
            r = d["gpu_energy_per_output_token_j"]
            return float(r.value), float(r.low), float(r.high)
        out_tokens = d["gpu_energy_per_request_wh"].value * 3600.0 / d["gpu_energy_per_output_token_j"].value
        return float(per_req.value * 3600.0 / out_tokens), None, None
    if metric == "energy_per_request_wh":
        return float(per_req.value), float(per_req.low), float(per_req.high)
    raise ValueError(f"unknown metric {metric!r} in row {row['id']}")


def weights_kind(row: dict[str, str]) -> str:
    """'dense' or 'MoE' with the stored weight format (the groups in which the README names weaknesses)."""
    active, total = _num(row["active_params"]), float(row["params"])
    arch = "MoE" if active is not None and active < total else "dense"
    return f"{arch}, {row['precision'] or 'default'} weights"


def run_benchmark(path: Path = MEASUREMENTS) -> dict[str, Any]:
    """Predict every scored row; return rows (id, batch, scope, predicted, published, ratio) and a summary."""
    with path.open(encoding="utf-8") as f:
        every = list(csv.DictReader(f))
    rows = [r for r in every if r["scored"].strip().lower() == "yes"]
    context = [{"id": r["id"], "source": r["source"].split(",")[0], "notes": r["notes"]}
               for r in every if r["scored"].strip().lower() != "yes"]
    from wattprint.errors import WattprintError

    out, predicted_rows, refused = [], [], []
    for r in rows:
        try:
            pred, low, high = predict_range(r)
        except WattprintError as e:  # a measured configuration the estimator will not predict: a miss, said
            refused.append((r["id"], str(e)))
            continue
        predicted_rows.append(r)
        pub = float(r["value"])
        out.append({"id": r["id"], "hardware": r["hardware"], "batch": r["batch_size"], "engine": r["engine"],
                    "scope": r["scope"], "metric": r["metric"], "predicted": pred, "published": pub,
                    "covered": None if low is None or high is None else low <= pub <= high,
                    "range_factor": None if not low or high is None else high / low,
                    "ratio": pred / pub, "source": r["source"].split(",")[0], "weights": weights_kind(r)})
    # a refused row counts as a miss of any size: it is in every share's denominator and at the far end of the median
    errs = [abs(math.log10(o["ratio"])) for o in out] + [math.inf] * len(refused)
    median = statistics.median(errs) if errs else float("nan")
    named = _by_name(predicted_rows, out)
    summary = {
        "n": len(errs),
        "refused": refused,
        "median_abs_log10": median,
        "median_factor": 10 ** median,
        "share_within_1_5": sum(e <= math.log10(1.5) for e in errs) / len(errs) if errs else float("nan"),
        "share_within_2": sum(e <= math.log10(2.0) for e in errs) / len(errs) if errs else float("nan"),
        "median_ratio": statistics.median(o["ratio"] for o in out) if out else float("nan"),
        "target_factor": TARGET_FACTOR,
    }
    ranged = [o for o in out if o["covered"] is not None]
    summary["ranged"] = len(ranged)
    summary["coverage"] = sum(o["covered"] for o in ranged) / len(ranged) if ranged else float("nan")
    summary["median_range_factor"] = statistics.median(o["range_factor"] for o in ranged) if ranged else float("nan")
    summary["meets_target"] = summary["median_factor"] <= TARGET_FACTOR
    return {"rows": out, "summary": summary, "context": context, "named": named}


def _by_name(rows: list[dict[str, str]], out: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows whose model is in the named-model table (--model), predicted again by its name: the model's own
    parameter and expert counts, KV cache shape, depth, attention and sliding window, with the row's hardware, batch,
    precision and lengths. Rows the estimator refuses so (a named model's real KV cache that does not fit the
    given batch and lengths) are listed with the reason, not scored."""
    from wattprint.data.models import find_model
    from wattprint.errors import WattprintError

    counts, names, refused = [], [], []
    for r, o in zip(rows, out, strict=True):
        try:
            find_model(r["model"])
        except WattprintError:
            continue
        try:
            names.append(predict(r, by_name=True) / float(r["value"]))
            counts.append(o["ratio"])
        except WattprintError as e:
            refused.append((r["id"], str(e)))

    def stats(ratios: list[float]) -> tuple[float, float]:
        e = [abs(math.log10(x)) for x in ratios]
        return 10 ** statistics.median(e), sum(x <= math.log10(1.5) for x in e) / len(e)

    return {"n": len(names), "by_name": stats(names) if names else None, "by_counts": stats(counts) if counts
            else None, "refused": refused}


def named_markdown(named: dict[str, Any]) -> str:
    if not named["n"]:
        return ""
    (fn, wn), (fc, wc) = named["by_name"], named["by_counts"]
    text = (f"Named models (`--model`): on the {named['n']} rows whose model is in `wattprint data models`, naming "
            f"it (its own counts, KV cache shape, depth, attention and window) gives a median error x{fn:.2f} and "
            f"{100 * wn:.0f}% within x1.5, against x{fc:.2f} and {100 * wc:.0f}% from the parameter counts alone.")
    if named["refused"]:
        many = len(named["refused"]) > 1
        text += (f" {len(named['refused'])} more such {'rows are' if many else 'row is'} refused when named: "
                 + "; ".join(f"{rid} ({why.split(';')[0]})" for rid, why in named["refused"]) + ".")
    return text


def _refused_text(refused: list[tuple[str, str]]) -> str:
    """The scored rows the estimator refuses (counted as misses in the figures before it), with the reason."""
    if not refused:
        return ""
    return (f"; {len(refused)} of them refused by the estimator, counted as misses: "
            + "; ".join(f"{rid} ({why.split(';')[0]})" for rid, why in refused))


def summary_markdown(s: dict[str, Any]) -> str:
    return (f"Inference estimator vs {s['n']} published measurements at matching scope and batch size: "
            f"median error x{s['median_factor']:.2f} (target <= x{s['target_factor']}), "
            f"{100 * s['share_within_1_5']:.0f}% within x1.5, {100 * s['share_within_2']:.0f}% within x2, "
            f"median ratio predicted/published {s['median_ratio']:.2f}{_refused_text(s['refused'])}. The "
            "published figure lies inside the "
            f"predicted low-high range for {100 * s['coverage']:.0f}% of the {s['ranged']} rows whose figure has its "
            f"own range (a median high/low of x{s['median_range_factor']:.1f}: the range takes every assumed input at "
            "its worst-case corner, so it is wide).")


def to_markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = ["# Inference estimator accuracy", "",
             "Generated by `python bench/inference_accuracy.py` from `refdata/inference_measurements.csv`. "
             "Each row is predicted from its published parameters, hardware, GPUs, batch size, precision, engine, "
             "token lengths, and for MoE models their expert counts (model cards) only; constants come from "
             "`refdata/inference_model.csv` (nothing fitted to rows).",
             "", summary_markdown(s), "", named_markdown(result["named"]), "",
             "| row | hardware | batch | engine | scope | predicted | published | ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for o in result["rows"]:
        unit = "J/token" if o["metric"] == "energy_per_output_token_j" else "Wh/request"
        lines.append(f"| {o['id']} | {o['hardware']} | {o['batch']} | {o['engine']} | {o['scope']} | "
                     f"{o['predicted']:.3g} {unit} | {o['published']:.3g} {unit} | {o['ratio']:.2f} |")
    lines += ["", "Context only (`scored=no` in the CSV), each with the reason it is not scored:", ""]
    lines += [f"- `{c['id']}` ({c['source']}): {c['notes']}" for c in result.get("context", [])]
    return "\n".join(lines) + "\n"


def _group_table(rows: list[dict[str, Any]], key: str, title: str) -> list[str]:
    """Markdown rows: per value of ``key``, the row count, median error factor and median predicted/published."""
    groups: dict[str, list[float]] = {}
    for o in rows:
        groups.setdefault(o[key], []).append(o["ratio"])
    lines = [f"| {title} | rows | median error | median predicted/published |", "|---|---|---|---|"]
    for name, ratios in groups.items():
        err = 10 ** statistics.median(abs(math.log10(r)) for r in ratios)
        lines.append(f"| {name} | {len(ratios)} | x{err:.2f} | {statistics.median(ratios):.2f} |")
    return lines


def readme_block(result: dict[str, Any]) -> str:
    rows = result["rows"]
    lines = [summary_markdown(result["summary"]), ""]
    if named := named_markdown(result["named"]):
        lines += [named, ""]
    lines += _group_table(rows, "source", "source") + [""]
    lines += _group_table(rows, "hardware", "accelerator") + [""]
    lines += _group_table(sorted(rows, key=lambda o: o["weights"]), "weights", "model and weights") + [""]
    lines.append("Full table: [bench/results/inference_accuracy.md](bench/results/inference_accuracy.md).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--update-readme", action="store_true", help="replace the bench:inference block in README.md")
    args = ap.parse_args(argv)
    result = run_benchmark()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(to_markdown(result), encoding="utf-8")
    print(to_markdown(result))
    if args.update_readme:
        replace_readme_block("inference", readme_block(result))
    return 0 if result["summary"]["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
