"""``wattprint demo``: the main job on a built-in example.

Blind estimates for a few well-known LLM trainings and one inference service (inputs as their
developers published them: parameters, tokens, hardware, chip count, location), then a small network
trained on the CPU while tracked; its measured footprint is printed and stored.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

# Published inputs of well-known trainings (what a user would know before the run). Only inputs live
# here; every physical constant the estimate uses comes from the data tables.
TRAINING_EXAMPLES: tuple[dict[str, Any], ...] = (
    {"name": "GPT-3 175B", "params": 175e9, "tokens": 300e9, "hardware": "V100", "count": 10000,
     "location": "US", "source": "Brown et al. 2020; 10,000 V100 per Patterson et al. 2021"},
    {"name": "BLOOM 176B", "params": 176e9, "tokens": 366e9, "hardware": "A100 SXM4 80GB", "count": 384,
     "location": "FR", "pue": 1.2, "source": "BigScience 2022, arXiv:2211.05100; Luccioni et al. 2022"},
    {"name": "Llama 2 70B", "params": 70e9, "tokens": 2e12, "hardware": "A100 SXM4 80GB", "count": 2048,
     "location": "US", "source": "Touvron et al. 2023, arXiv:2307.09288"},
    {"name": "OLMo 7B", "params": 7e9, "tokens": 2.46e12, "hardware": "MI250X", "count": 1024,
     "location": "FI", "pue": 1.1, "source": "Groeneveld et al. 2024, arXiv:2402.00838 (LUMI)"},
    {"name": "DeepSeek-V3 (MoE)", "params": 671e9, "active_params": 37e9, "tokens": 14.8e12,
     "hardware": "H800", "count": 2048, "precision": "fp8", "location": "CN",
     "source": "DeepSeek-AI 2024, arXiv:2412.19437"},
)

INFERENCE_EXAMPLE: dict[str, Any] = {
    "name": "7B chat model, 1 M requests/day on H100 (California)",
    "params": 7e9, "input_tokens": 400, "output_tokens": 250, "requests_per_day": 1e6,
    "hardware": "H100", "count": 1, "batch_size": 32, "location": "US-CA",
}


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the built-in example: estimates, then a small tracked training",
                       description="Estimate the footprint of a few well-known LLM trainings and one inference "
                                   "service from the inputs their developers published, then train a small network "
                                   "on this machine's CPU while tracked: its measured footprint is printed and stored "
                                   "as a run of project 'demo'.")
    p.add_argument("--db", help="run store URL (default: WATTPRINT_DB, the config file's db, or the per-user store)")
    p.add_argument("--no-train", action="store_true", help="only print the estimates")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(handler=_run)


def _estimates() -> tuple[list[tuple[dict[str, Any], Any]], Any, Any]:
    from ..estimate.inference import breakeven_requests, estimate_inference
    from ..estimate.training import estimate_training

    trainings = []
    for ex in TRAINING_EXAMPLES:
        kwargs = {k: v for k, v in ex.items() if k not in ("name", "source")}
        trainings.append((ex, estimate_training(**kwargs)))
    inf_kwargs = {k: v for k, v in INFERENCE_EXAMPLE.items() if k != "name"}
    serving = estimate_inference(**inf_kwargs)
    llama = next(fp for ex, fp in trainings if ex["name"] == "Llama 2 70B")
    return trainings, serving, breakeven_requests(llama, serving)


def _run(args: argparse.Namespace) -> int:
    trainings, serving, breakeven = _estimates()
    measured = None
    if not args.no_train:
        from ..demo_training import train_demo

        measured = train_demo(db=args.db)
    if args.json:
        out: dict[str, Any] = {
            "trainings": [{"name": ex["name"], "inputs_source": ex["source"], **fp.to_dict()} for ex, fp in trainings],
            "inference": {"name": INFERENCE_EXAMPLE["name"], **serving.to_dict()},
            "breakeven_requests_vs_llama2_70b": breakeven.as_fields("requests"),
        }
        if measured is not None:
            out["tracked_training"] = measured.to_dict()
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(_training_table(trainings))
    print()
    print(serving.table(f"Inference: {INFERENCE_EXAMPLE['name']} (assumptions: --json)", assumptions=False))
    print(f"\n  serving emits as much as the Llama 2 70B training after {breakeven:.3g} requests "
          "(at this load, for a 70B-class training vs a 7B-class service: an illustration of the arithmetic)")
    if measured is not None:
        print()
        title = "Tracked: a small network trained on this machine's CPU (stored; see 'wattprint runs list')"
        print(measured.table(title))
    return 0


def _training_table(trainings: list[tuple[dict[str, Any], Any]]) -> str:
    head = ("training", "chips", "wall time (days)", "facility energy (MWh)", "total (tCO2e)")
    rows = [head]
    for ex, fp in trainings:
        wall = fp.wall_time_h / 24 if fp.wall_time_h is not None else None
        rows.append((
            ex["name"],
            f"{ex['count']:,} x {fp.details.get('hardware', ex['hardware'])}",
            f"{wall:.3g}" if wall is not None else "-",
            f"{fp.energy_kwh / 1000:.3g}",
            f"{fp.total_co2e_kg / 1000:.3g}",
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["Blind estimates of published LLM trainings (central value, range low–high):"]
    for i, r in enumerate(rows):
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    lines.append("  inputs: parameters, tokens, hardware, chip count and location as published; "
                 "MFU, power, PUE and intensity from wattprint's defaults (see --json for the assumptions)")
    return "\n".join(lines)
