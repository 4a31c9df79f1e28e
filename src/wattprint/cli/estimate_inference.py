"""`wattprint estimate inference`: the serving footprint of an LLM (per token, per request, per day, per year).

The `estimate` command group lives in cli/estimate.py, which calls :func:`add_inference_parser`.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from ..data.catalogue import FP4_NAMES
from ..errors import InputConflictError, WattprintError
from ..estimate.common import BYTES_PER_VALUE
from ..estimate.engines import engine_names_help
from ..quantities import format_count
from ._args import JoinWords, count, fraction, number, whole, year


def add_inference_parser(estimate_subparsers: Any) -> argparse.ArgumentParser:
    """Add the `inference` sub-command to the `wattprint estimate` group."""
    p = estimate_subparsers.add_parser(
        "inference", help="predict the footprint of serving an LLM",
        description="Predict the energy and CO2e of serving an LLM: per 1k tokens, per request, per day and per "
                    "year (counts accept 7e9, 7000000000, 7B, 1.4T).")
    p.add_argument("--params", type=count, help="total parameters (e.g. 70B); or --model")
    p.add_argument("--model", metavar="NAME",
                   help="a published model instead of the counts (Llama-3.1-8B, openai/gpt-oss-120b; `wattprint data "
                        "models` lists them)")
    p.add_argument("--active-params", type=count, help="active parameters per token (MoE); default: all")
    p.add_argument("--input-tokens", type=count, help="prompt tokens per request (default: sourced range)")
    p.add_argument("--output-tokens", type=count, help="generated tokens per request (default: sourced range)")
    load = p.add_mutually_exclusive_group()
    load.add_argument("--requests-per-day", type=count, help="requests served per day")
    load.add_argument("--tokens-per-day", type=count, help="input + output tokens served per day")
    p.add_argument("--days", type=number,
                   help="days of serving the load the footprint covers (default: one year; at most a century); needs "
                        "--requests-per-day or --tokens-per-day: without a load the footprint is one request's")
    p.add_argument("--hardware", nargs="+", action=JoinWords, metavar="NAME",
                   help="accelerator name (default: H100, said in the assumptions)")
    p.add_argument("--count", type=whole,
                   help="accelerators per replica (default: the power of 2, from the fewest that hold the weights and "
                        "one sequence to those that hold the default batch, with the least energy per request at the "
                        "load, or at a full load without one; with --batch-size, the fewest that hold that batch, or "
                        "under a load the sequences it keeps in flight)")
    p.add_argument("--batch-size", type=count, help="concurrent sequences per replica (default: sourced range; "
                   "with a load, at most the sequences it keeps in flight)")
    p.add_argument("--precision", help=f"weights: {', '.join([*BYTES_PER_VALUE, *FP4_NAMES])} (default: bf16 where "
                   f"supported; {'/'.join(FP4_NAMES)} are read as 4-bit weights, as int4)")
    p.add_argument("--kv-cache-precision", "--kv-cache-dtype", dest="kv_cache_precision", default=None,
                   help="format of the KV cache: auto (default: the model's activations, 16-bit whatever the weights, "
                        "as vLLM's and SGLang's default), fp8 (fp8_e4m3, fp8_e5m2), int8, bf16, fp16")
    p.add_argument("--engine", default="optimised", help="optimised (continuous batching, CUDA graphs) or eager "
                   f"(plain PyTorch launches); or the stack's name: {engine_names_help()}")
    p.add_argument("--attention", default=None,
                   help="gqa (default; a named model's own), mha (older models), mqa (one K/V head) or, with a "
                        "latent-attention --model (DeepSeek-V3, Kimi-K2), mla: KV-cache size")
    p.add_argument("--sliding-window", type=count, default=None, metavar="TOKENS",
                   help="attention window of a sliding-window model (Mistral 7B 4096, Gemma 3 1024, gpt-oss 128)")
    p.add_argument("--window-layers", type=fraction, default=None, metavar="SHARE",
                   help="share of layers using the window (default 1; Gemma 2 0.5, Gemma 3 0.83, gpt-oss 0.5)")
    p.add_argument("--experts", type=whole, metavar="E",
                   help="MoE: routed experts per layer (with --experts-per-token; e.g. 128): default, a sourced "
                        "share of the active parameters is taken as shared weights")
    p.add_argument("--experts-per-token", type=whole, metavar="K", help="MoE: routed experts each token uses (e.g. 8)")
    p.add_argument("--utilisation", type=fraction, help="busy share of provisioned capacity (0-1]; rest idles")
    p.add_argument("--dedicated", action="store_true",
                   help="the load runs on ceil(replicas needed) replicas kept up all period: their idle time counts "
                        "(utilisation = replicas needed / provisioned); needs a load, excludes --utilisation")
    p.add_argument("--tdp-w", type=number, help="board power (W) per chip: required for a chip without a published "
                   "TDP; replaces a published one (the estimate marks it '(given)')")
    p.add_argument("--pue", help="PUE value or preset (hyperscale, cloud, enterprise, average, google ...)")
    p.add_argument("--location", help="country, region (US-CA) or cloud region (aws:us-east-1)")
    p.add_argument("--year", type=year, help="grid intensity year (default: latest)")
    p.add_argument("--intensity", type=number, help="grid intensity in gCO2e/kWh")
    p.add_argument("--mix", help="fuel mix, e.g. coal=60,gas=40")
    p.add_argument("--market-intensity", type=number,
                   help="contractual (market-based) gCO2e/kWh of the supply, reported beside the location-based figure")
    p.add_argument("--training-co2e-kg", type=number, help="training footprint to compare with (kgCO2e)")
    p.add_argument("--training-tokens", type=count,
                   help="estimate the training footprint (6 N D) from these tokens and compare with it")
    p.add_argument("--training-hardware", nargs="+", action=JoinWords, metavar="NAME",
                   help="training accelerator (default: --hardware, else H100)")
    p.add_argument("--training-count", type=whole, help="training accelerator count")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run_inference)
    return p


def _training(args: argparse.Namespace) -> Any:
    """The training footprint to compare with: None, the one given, or the one estimated from --training-tokens."""
    if args.training_tokens is None:
        if args.training_hardware is not None or args.training_count is not None:
            raise WattprintError("--training-hardware and --training-count describe the training estimated from "
                                 "--training-tokens: add --training-tokens")
        return None
    if args.training_co2e_kg is not None:
        raise WattprintError("give either --training-co2e-kg or --training-tokens, not both")
    from ..estimate.training import estimate_training  # owned by the training estimator

    hardware = _training_chip(args)
    kwargs: dict[str, Any] = {"params": args.params, "tokens": args.training_tokens, "hardware": hardware}
    for key, value in (("model", args.model), ("active_params", args.active_params), ("count", args.training_count),
                       ("pue", args.pue), ("location", args.location), ("year", args.year),
                       ("intensity", args.intensity), ("mix", args.mix)):
        if value is not None:
            kwargs[key] = value
    try:
        return estimate_training(**kwargs)
    except InputConflictError as e:  # its flags as this command names them: here --count is the serving replica's
        raise InputConflictError(re.sub(r"--(tokens|count|hardware)\b", r"--training-\1", str(e))) from None


def _training_assumption(training: Any) -> Any:
    """What the serving footprint's break-even rests on: the training estimate and every input it assumed."""
    from ..footprint import Assumption

    return Assumption(
        "training footprint (estimated from --training-tokens)",
        f"{training.total_co2e_kg:.3g} kgCO2e on {training.details['hardware']}"
        + (f" x {training.details['count']:g}" if training.details.get("count") else "")
        + f", {training.chip_hours:.3g} chip-hours",
        "wattprint's training estimator (wattprint estimate training shows it in full)",
        "; ".join(f"{a.what}: {a.value}" for a in training.assumptions))


def _training_chip(args: argparse.Namespace) -> str:
    """The training flags checked under their own names before the training estimate reads them (it knows them as
    tokens, count and hardware, which this command also has for serving), and the training chip, which needs a
    published TDP: the training estimate takes no --tdp-w (the serving chips' board power)."""
    from ..data import find_accelerator
    from ..estimate.common import check_positive
    from ..estimate.serving_chip import DEFAULT_HARDWARE
    from ..estimate.training import check_training_count

    check_training_count("--training-tokens", args.training_tokens)
    check_positive("--training-count", args.training_count, integer=True)
    hardware: str = args.training_hardware or args.hardware or DEFAULT_HARDWARE
    try:
        acc = find_accelerator(hardware)[0]
    except WattprintError as e:
        if args.training_hardware is None:
            raise  # --hardware's own mistake, said as the serving estimate would say it
        raise WattprintError(f"--training-hardware: {e}") from None
    if acc.tdp_w is None:
        raise WattprintError(
            f"{acc.no_tdp_reason()}, so the training estimate from --training-tokens cannot size its power "
            "(--tdp-w is the serving chips'): estimate the training with `wattprint estimate training --power-w W "
            "...` and give its CO2e with --training-co2e-kg")
    return hardware


def run_inference(args: argparse.Namespace) -> int:
    from ..estimate.inference import estimate_inference

    training = _training(args)
    fp = estimate_inference(
        args.params, model=args.model, active_params=args.active_params, input_tokens=args.input_tokens,
        output_tokens=args.output_tokens, requests_per_day=args.requests_per_day, tokens_per_day=args.tokens_per_day,
        days=args.days, hardware=args.hardware, count=args.count,
        batch_size=args.batch_size, precision=args.precision, kv_cache_precision=args.kv_cache_precision,
        engine=args.engine, attention=args.attention,
        sliding_window=args.sliding_window, window_layer_share=args.window_layers,
        experts=args.experts, experts_per_token=args.experts_per_token, utilisation=args.utilisation,
        dedicated=args.dedicated, tdp_w=args.tdp_w, pue=args.pue,
        location=args.location, year=args.year,
        intensity=args.intensity, mix=args.mix,
        training_co2e_kg=training.total_co2e_kg if training is not None else args.training_co2e_kg,
        market_intensity=args.market_intensity)
    if training is not None:
        fp.assumptions.append(_training_assumption(training))
    if args.json:
        print(json.dumps(fp.to_dict(equivalents=True), default=str))
    else:
        what = args.model if args.params is None else f"{format_count(args.params)} parameters"
        print(fp.table(title=f"Serving {what} on {_replica(fp.details)} ({fp.details['period']})"))
    return 0


def _replica(details: dict[str, Any]) -> str:
    """The chips of one replica as the title says them: the chip, or "8x <chip> per replica" for more than one."""
    chips = details["accelerators_per_replica"]
    return f"{chips:,}x {details['hardware']} per replica" if chips > 1 else details["hardware"]
