"""``wattprint estimate training|inference``: predict a footprint before the work runs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._args import JoinWords, count, counts, fraction, number, whole, year


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("estimate", help="predict the footprint of a training run or an inference service",
                              description="Predict the energy and CO2e of a training run or of serving an LLM "
                                          "before it runs, from its size, hardware and location.")
    sub = p.add_subparsers(dest="estimate_kind", metavar="KIND", parser_class=type(p))
    _add_training(sub)
    try:
        from .estimate_inference import add_inference_parser
    except ImportError:  # the inference estimator is optional here
        pass
    else:
        add_inference_parser(sub)
    p.set_defaults(handler=lambda args: (p.print_help(sys.stderr), 2)[1])  # no KIND: usage, on stderr as errors


def _add_training(sub: Any) -> None:
    t = sub.add_parser(
        "training",
        help="predict the footprint of a training run",
        description="Footprint of a training run. Give a consistent subset of: --flops; --params (+ --active-params "
        "for MoE) and --tokens; --chip-hours; --count and --days. Counts accept 7e9, 7000000000, 7B, 1.4T.",
    )
    t.add_argument("--flops", type=count, help="training compute in FLOP (e.g. 3.14e23)")
    t.add_argument("--params", type=count, help="parameters (total for MoE), e.g. 7B")
    t.add_argument("--model", metavar="NAME", help="a published model instead of --params/--active-params "
                   "(Llama-3.1-8B, DeepSeek-V3; `wattprint data models` lists them)")
    t.add_argument("--active-params", type=count,
                   help="parameters active per token (MoE); without --params, an MoE of unknown total (noted)")
    t.add_argument("--tokens", type=count, help="training tokens, e.g. 2T")
    t.add_argument("--teacher-params", type=counts, metavar="N[,N...]",
                   help="knowledge distillation: each teacher's (active) parameters, e.g. 8B,70B; adds their forward "
                        "passes, 2 x teacher parameters x tokens")
    t.add_argument("--teacher-tokens", type=count, help="tokens the teachers ran over (default: --tokens)")
    t.add_argument("--seq-len", type=whole, metavar="TOKENS",
                   help="training context length, e.g. 128k: adds causal attention's FLOPs to 6 x params x tokens")
    t.add_argument("--chip-hours", "--gpu-hours", type=count, help="accelerator-hours (GPU-hours, TPU-chip-hours)")
    t.add_argument("--days", type=number, help="wall-clock days")
    t.add_argument("--hardware", required=True, nargs="+", action=JoinWords, metavar="NAME",
                   help="accelerator, e.g. A100, 'H100 SXM', 'TPU v4', MI250X")
    t.add_argument("--count", type=whole, help="number of chips as the catalogue counts them")
    t.add_argument("--precision", type=str.lower, choices=["fp32", "tf32", "bf16", "fp16", "fp8"],
                   help="default: bf16/fp16/fp32")
    t.add_argument("--mfu", type=fraction, help="model FLOPs utilisation 0-1 (default: fitted model with range)")
    t.add_argument("--power-fraction", type=fraction, help="accelerator average power as a fraction of TDP")
    t.add_argument("--power-w", type=number, help="all-in average W per chip (replaces TDP x fraction + host)")
    t.add_argument("--pue", help="PUE number or preset (hyperscale, cloud, enterprise, google, aws ...)")
    t.add_argument("--location", help="country, sub-national region (US-CA) or cloud region (aws:us-east-1)")
    t.add_argument("--year", type=year, help="year of the grid intensity (default: latest)")
    t.add_argument("--intensity", type=number, help="grid intensity in gCO2e/kWh")
    t.add_argument("--mix", help="fuel mix, e.g. coal=60,gas=40")
    t.add_argument("--market-intensity", type=number,
                   help="contractual (market-based) gCO2e/kWh of the supply, reported beside the location-based figure")
    t.add_argument("--json", action="store_true", help="print one JSON object")
    t.set_defaults(handler=_run_training)


def _run_training(args: argparse.Namespace) -> int:
    from ..estimate.training import estimate_training

    fp = estimate_training(
        model=args.model, flops=args.flops, params=args.params, active_params=args.active_params, tokens=args.tokens,
        chip_hours=args.chip_hours, days=args.days, hardware=args.hardware, count=args.count,
        precision=args.precision, mfu=args.mfu, power_fraction=args.power_fraction, power_w=args.power_w,
        pue=args.pue, location=args.location, year=args.year, intensity=args.intensity, mix=args.mix,
        market_intensity=args.market_intensity, seq_len=args.seq_len, teacher_params=args.teacher_params,
        teacher_tokens=args.teacher_tokens,
    )
    if args.json:
        print(json.dumps(fp.to_dict(equivalents=True), indent=2, default=str))
    else:
        print(fp.table("training estimate"))
    return 0
