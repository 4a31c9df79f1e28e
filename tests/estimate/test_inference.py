"""Inference estimator: physics, ranges, load, breakeven, errors, CLI and the accuracy benchmark."""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
from pathlib import Path

import pytest

from wattprint.errors import InputConflictError, UnknownNameError, WattprintError
from wattprint.estimate.inference import breakeven_requests, constants, estimate_inference
from wattprint.footprint import ComponentEnergy, Footprint, Intensity
from wattprint.quantities import Range

from ..scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


def est(**kw: object) -> Footprint:
    base: dict[str, object] = {"hardware": "H100 SXM5 80GB", "input_tokens": 500, "output_tokens": 500,
                               "batch_size": 32, "intensity": 400.0, "pue": 1.2}
    base.update(kw)
    params = base.pop("params", 8e9)
    return estimate_inference(params, **base)  # type: ignore[arg-type]


def test_per_1k_tokens_counts_every_token_served_per_1k_output_tokens_only_the_generated() -> None:
    d = estimate_inference(7e9, hardware="H100", input_tokens=400, output_tokens=100, batch_size=8,
                           intensity=400.0).details
    per_request = d["energy_per_request_wh"].value
    assert d["energy_per_1k_tokens_wh"].value == pytest.approx(per_request * 1000 / 500)
    assert d["energy_per_1k_output_tokens_wh"].value == pytest.approx(per_request * 1000 / 100)


def test_returns_inference_footprint_with_per_request_figures() -> None:
    fp = est()
    assert fp.kind == "inference"
    d = fp.to_dict()
    for key in ("energy_per_1k_tokens_wh", "energy_per_1k_output_tokens_wh", "energy_per_request_wh",
                "co2e_per_request_g", "gpu_energy_per_output_token_j", "energy_kwh", "it_energy_kwh", "total_co2e_kg"):
        assert key in d and f"{key}_low" in d and f"{key}_high" in d, key
        assert d[f"{key}_low"] <= d[key] <= d[f"{key}_high"]
    assert set(d["energy_by_component_kwh"]) == {"gpu", "other"}
    assert d["assumptions"]
    json.dumps(d)  # serialisable


def test_batching_cuts_energy_per_token_and_bigger_models_cost_more() -> None:
    e = {b: est(batch_size=b).details["gpu_energy_per_output_token_j"].value for b in (1, 8, 64)}
    assert e[1] > e[8] > e[64]
    small = est(params=7e9).details["gpu_energy_per_output_token_j"].value
    big = est(params=70e9, count=4).details["gpu_energy_per_output_token_j"].value
    assert big > 5 * small


def test_memory_bound_at_batch_one_and_compute_bound_at_large_batch() -> None:
    assert est(batch_size=1).details["regime"] == "memory-bandwidth-bound"
    assert est(batch_size=4096, input_tokens=10, output_tokens=10).details["regime"] == "compute-bound"
    assert est(batch_size=1, engine="eager", params=1e9).details["regime"] == "CPU-overhead-bound"


def test_batch_one_decode_is_weights_over_bandwidth() -> None:
    """At batch 1 with tiny prompts the step is (weights + small KV) / (bandwidth x utilisation)."""
    c = constants()
    d = est(batch_size=1, input_tokens=1, output_tokens=2).details
    expected_ms = 8e9 * 2 / (3.35e12 * c["mem_bw_utilisation"].value) * 1000
    assert d["decode_step_ms"].value == pytest.approx(expected_ms, rel=0.01)


def test_lower_precision_reads_fewer_bytes() -> None:
    bf16 = est(batch_size=1).details["gpu_energy_per_output_token_j"].value
    fp8 = est(batch_size=1, precision="fp8").details["gpu_energy_per_output_token_j"].value
    assert fp8 < 0.7 * bf16


def test_moe_active_params_cost_less_than_dense() -> None:
    dense = est(params=47e9, count=2, batch_size=1).details["gpu_energy_per_output_token_j"].value
    moe = est(params=47e9, active_params=13e9, count=2, batch_size=1).details["gpu_energy_per_output_token_j"].value
    assert moe < 0.5 * dense


def test_moe_decode_reads_the_weights_its_batch_routes_to() -> None:
    """Tokens of a batch share weights: a Mixtral-like MoE (13B of 47B used per token) reads its shared weights S
    (attention, embeddings: a sourced share of the active ones) once per step and of the routed pool R = 47B - S a
    share r = (13B - S) / R per token: at batch 2, S + (13B - S) x (2 - r), not 2 x 13B; all 47B once the batch is
    large. Its expert counts (8, 2 per token) give S exactly: (8 x 13 - 2 x 47) / (8 - 2) = 1.67B, and r = 2/8."""

    def step_ms(batch: int, **kw: int) -> float:  # tiny contexts: the step reads weights, hardly any KV cache
        fp = est(params=47e9, active_params=13e9, count=2, batch_size=batch, input_tokens=1, output_tokens=2, **kw)
        return float(fp.details["decode_step_ms"].value)

    for shared, kw in ((constants()["moe_shared_share"].value * 13, {}),
                       ((8 * 13 - 2 * 47) / 6, {"experts": 8, "experts_per_token": 2})):
        r = (13 - shared) / (47 - shared)
        assert step_ms(2, **kw) / step_ms(1, **kw) == pytest.approx((shared + (13 - shared) * (2 - r)) / 13, rel=0.02)
        assert step_ms(64, **kw) / step_ms(1, **kw) == pytest.approx(47 / 13, rel=0.05)


def test_defaults_widen_the_range_and_are_listed() -> None:
    fp = estimate_inference(8e9, hardware="H100", intensity=400.0, pue=1.2)
    r = fp.details["energy_per_request_wh"]
    assert r.high / r.low > 3
    whats = " ".join(a.what for a in fp.assumptions)
    for w in ("batch size", "input tokens", "output tokens", "memory-bandwidth", "hardware variant", "precision"):
        assert w in whats


def test_daily_and_yearly_scale_with_load() -> None:
    one = est(requests_per_day=1000)
    two = est(requests_per_day=2000)
    assert two.details["energy_per_day_kwh"].value == pytest.approx(2 * one.details["energy_per_day_kwh"].value)
    assert one.details["energy_per_year_kwh"].value == pytest.approx(
        one.details["energy_per_day_kwh"].value * 365.25)
    # a year of serving: facility energy = per-request facility energy x requests
    per_req_kwh = one.details["energy_per_request_wh"].value / 1000
    assert one.energy_kwh.value == pytest.approx(per_req_kwh * 1000 * 365.25, rel=1e-9)
    tok = est(tokens_per_day=1000 * 1000)  # 1000 tokens per request -> 1000 requests/day
    assert tok.details["requests_per_day"] == pytest.approx(1000)


def test_idle_capacity_adds_energy_and_chip_hours() -> None:
    busy = est(requests_per_day=1e5)
    half = est(requests_per_day=1e5, utilisation=0.5)
    assert half.it_energy_kwh.value > busy.it_energy_kwh.value
    assert half.chip_hours is not None and busy.chip_hours is not None
    assert half.chip_hours.value == pytest.approx(2 * busy.chip_hours.value)


def test_breakeven_with_training_footprint() -> None:
    inf = est(requests_per_day=1e6)
    training = Footprint({"gpu": ComponentEnergy(Range.exact(1e6), "given")}, pue=Range.exact(1.0),
                         intensity=Intensity.fixed(400))
    n = breakeven_requests(training, inf)
    per_req_kg = inf.details["co2e_per_request_g"].value / 1000
    assert n.value == pytest.approx(training.total_co2e_kg.value / per_req_kg)
    assert n.low <= n.value <= n.high
    inline = est(requests_per_day=1e6, training_co2e_kg=training.total_co2e_kg.value)
    assert inline.details["breakeven_requests"].value == pytest.approx(n.value)
    assert inline.details["breakeven_days"].value == pytest.approx(n.value / 1e6)


def test_more_gpus_per_replica_is_not_free() -> None:
    one = est(params=8e9, count=1, batch_size=1).details["gpu_energy_per_output_token_j"].value
    eight = est(params=8e9, count=8, batch_size=1).details["gpu_energy_per_output_token_j"].value
    assert eight > one


@pytest.mark.parametrize(
    "kw, err",
    [
        ({"params": -1.0}, InputConflictError),
        ({"params": float("nan")}, InputConflictError),
        ({"batch_size": 0}, InputConflictError),
        ({"active_params": 9e9}, InputConflictError),
        ({"params": 70e9, "count": 1}, InputConflictError),  # 140 GB of weights on one 80 GB GPU
        ({"requests_per_day": 1, "tokens_per_day": 1}, InputConflictError),
        ({"utilisation": 1.5}, InputConflictError),
        ({"utilisation": True}, InputConflictError),
        ({"engine": "turbo"}, WattprintError),
        ({"precision": "fp7"}, WattprintError),
        ({"hardware": "H1000000"}, UnknownNameError),
    ],
)
def test_bad_input_raises_user_errors(kw: dict[str, object], err: type[Exception]) -> None:
    with pytest.raises(err):
        est(**kw)


def test_embedded_constants_match_refdata() -> None:
    embedded = ROOT / "src" / "wattprint" / "estimate" / "inference_model.csv"
    assert embedded.read_text(encoding="utf-8") == (ROOT / "refdata" / "inference_model.csv").read_text(
        encoding="utf-8")
    for k in constants().values():
        assert k.low <= k.value <= k.high and k.source, k.name


# -- CLI --------------------------------------------------------------------------------------------
def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from wattprint.cli import build_parser, main

    parser = build_parser()
    names = [a for a in parser._subparsers._group_actions[0].choices] if parser._subparsers else []  # type: ignore[union-attr]
    if "estimate" in names:
        try:
            code = main(["estimate", "inference", *argv])
        except SystemExit as e:  # argparse errors exit 2 after printing one line
            code = int(e.code or 0)
    else:  # the `estimate` group (training helper) is not there yet: mount ours on a local group
        from wattprint.cli import _Parser
        from wattprint.cli.estimate_inference import add_inference_parser

        top = _Parser(prog="wattprint estimate")
        add_inference_parser(top.add_subparsers(parser_class=_Parser))
        try:
            args = top.parse_args(["inference", *argv])
            code = args.handler(args)
        except WattprintError as e:
            print(f"wattprint: error: {e}", file=__import__("sys").stderr)
            code = 2
        except SystemExit as e:
            code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["--params", "8B", "--hardware", "H100", "--batch-size", "64", "--input-tokens", "1k",
                         "--output-tokens", "500", "--requests-per-day", "1M", "--intensity", "300",
                         "--training-co2e-kg", "5e4", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    for key in ("energy_kwh", "it_energy_kwh", "energy_by_component_kwh", "chip_hours", "operational_co2e_kg",
                "embodied_co2e_kg", "total_co2e_kg", "energy_per_request_wh", "co2e_per_year_kg",
                "breakeven_requests", "assumptions"):
        assert key in d, key
    assert d["requests_per_day"] == 1e6 and d["breakeven_requests_low"] <= d["breakeven_requests"]
    assert math.isfinite(d["energy_per_1k_tokens_wh_high"])


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["--params", "70B", "--count", "4", "--location", "FRA"], capsys)
    assert code == 0 and "energy per request" in out and "assumptions" in out


@pytest.mark.parametrize("argv", [["--params=-7B"], ["--params", "7B", "--hardware", "nope-gpu"],
                                  ["--params", "7X"], ["--params", "70B", "--count", "1"]])
def test_cli_bad_input_exits_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_add_inference_parser_does_not_define_register() -> None:
    import wattprint.cli.estimate_inference as mod

    assert not hasattr(mod, "register")
    top = argparse.ArgumentParser()
    p = mod.add_inference_parser(top.add_subparsers())
    assert p.get_default("handler") is mod.run_inference


# -- accuracy benchmark ------------------------------------------------------------------------------
def _bench() -> object:
    return load_script("bench/inference_accuracy.py")


def test_accuracy_benchmark_meets_target() -> None:
    bench = _bench()
    if not bench.MEASUREMENTS.exists():  # type: ignore[attr-defined]
        pytest.skip("refdata/inference_measurements.csv is absent")
    result = bench.run_benchmark()  # type: ignore[attr-defined]
    s = result["summary"]
    assert s["n"] >= 15
    assert s["median_factor"] <= 1.5, bench.summary_markdown(s)  # type: ignore[attr-defined]
    assert s["share_within_2"] >= 0.75, bench.summary_markdown(s)  # type: ignore[attr-defined]
    # the ranges are honest: most published figures fall inside the predicted low-high
    assert s["ranged"] >= 0.9 * s["n"] and s["coverage"] >= 0.8, bench.summary_markdown(s)  # type: ignore[attr-defined]
    # gross-error guard (a unit slip is x1000 or x3600): large MoE at batch 2048+ on B200 sits near x5 low
    assert all(0.1 < r["ratio"] < 10 for r in result["rows"])


def test_a_scored_measurement_the_estimator_refuses_is_a_miss_in_the_benchmark_not_a_crash(tmp_path: Path) -> None:
    """A measured configuration the estimator will not predict (its memory model holds fewer sequences than the run
    held) counts against the figures and is named, rather than stopping the benchmark or leaving the scored set."""
    bench = _bench()
    if not bench.MEASUREMENTS.exists():  # type: ignore[attr-defined]
        pytest.skip("refdata/inference_measurements.csv is absent")
    with bench.MEASUREMENTS.open(encoding="utf-8") as f:  # type: ignore[attr-defined]
        rows = list(csv.DictReader(f))
    ok = next(r for r in rows if r["scored"] == "yes" and r["count"] == "1" and r["batch_size"] == "1")
    too_big = {**ok, "id": "too-big", "batch_size": "1e6"}  # a million sequences on one GPU
    path = tmp_path / "m.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(ok))
        w.writeheader()
        w.writerows([ok, too_big])
    s = bench.run_benchmark(path)["summary"]  # type: ignore[attr-defined]
    assert s["n"] == 2 and [rid for rid, _ in s["refused"]] == ["too-big"]
    assert s["share_within_2"] <= 0.5  # the refused row is a miss
    assert "too-big" in bench.summary_markdown(s)  # type: ignore[attr-defined]


def test_accuracy_benchmark_holds_on_sources_beside_ml_energy() -> None:
    """Most rows come from one leaderboard; the independent ones (HF AI Energy Score: eager transformers at batch
    1; MLPerf Inference Power: TensorRT-LLM servers at large batch) must meet the target on their own too."""
    bench = _bench()
    if not bench.MEASUREMENTS.exists():  # type: ignore[attr-defined]
        pytest.skip("refdata/inference_measurements.csv is absent")
    rows = bench.run_benchmark()["rows"]  # type: ignore[attr-defined]
    others = [r["ratio"] for r in rows if not r["source"].startswith("ML.ENERGY")]
    assert len({r["source"] for r in rows if not r["source"].startswith("ML.ENERGY")}) >= 2
    assert len(others) >= 30
    assert 10 ** statistics.median(abs(math.log10(x)) for x in others) <= 1.5


def test_a_given_batch_shortens_an_assumed_prompt_rather_than_being_refused() -> None:
    # 1024 sequences of Llama-3-8B on one H100 fit only with short prompts: the default prompt length (an
    # assumption) is cut to fit and said so
    fp = estimate_inference(8e9, hardware="H100", batch_size=1024, output_tokens=480, intensity=400.0)
    capped = next(a for a in fp.assumptions if a.what == "input tokens per request capped by memory")
    most = int(capped.value.split()[-1])
    assert 1 <= most < 500
    # given lengths are not ours to change: they fit only at the small end of the assumed KV size (said) ...
    fp = estimate_inference(8e9, hardware="H100", batch_size=1024, input_tokens=500, output_tokens=480,
                            intensity=400.0)
    assert any(a.what == "KV cache per token" and "small end" in a.note for a in fp.assumptions)
    # ... and a batch that cannot fit even there is refused on the given count ...
    with pytest.raises(InputConflictError, match="lower --batch-size"):
        estimate_inference(8e9, hardware="H100", count=1, batch_size=4096, input_tokens=500, output_tokens=480,
                           intensity=400.0)
    # ... while, with no count given, it gets the fewest chips that hold it as a count would (the user did not
    # count them), with the KV cache at the small end as for 1024 on one chip (said)
    fp = estimate_inference(8e9, hardware="H100", batch_size=4096, input_tokens=500, output_tokens=480,
                            intensity=400.0)
    sized = next(a for a in fp.assumptions if a.what == "accelerators per replica")
    assert sized.value.startswith("4 ") and "given batch of 4096 sequences" in sized.value
    assert any(a.what == "KV cache per token" and "small end" in a.note for a in fp.assumptions)


def test_the_batch_error_states_the_cache_at_the_lengths_it_names() -> None:
    """The need is computed before the levers move the assumed lengths: at 750 tokens a sequence of an 8B GQA
    model holds ~750 x 131 kB, so a million of them need ~1e5 GB whether the lengths were given or assumed."""
    for lengths in ({}, {"input_tokens": 500, "output_tokens": 500}):
        with pytest.raises(InputConflictError, match=r"1e\+06 x 750 tokens .* needs ~([5-9]\.\d+e\+04|1\.\d+e\+05) GB"):
            estimate_inference(model="llama-3.1-8b", hardware="H100", count=1, batch_size=1e6, **lengths)


def test_continuous_batching_holds_the_mean_context_a_static_batch_the_full_one() -> None:
    # Llama-3-8B-like on one H100: 16 GB of weights, 0.06-0.13 MB of GQA KV cache per token (assumed shape);
    # 1150 sequences of 500 in + 500 out fit at the mean context (750 tokens) at the small end of that range,
    # but not at the full one (1000 tokens) whatever the shape
    kw = {"hardware": "H100", "count": 1, "input_tokens": 500, "output_tokens": 500, "batch_size": 1150,
          "intensity": 400.0}
    served = estimate_inference(8e9, engine="optimised", **kw)
    assert served.energy_kwh.value > 0
    with pytest.raises(InputConflictError, match=r"full context \(static batch\)"):
        estimate_inference(8e9, engine="eager", **kw)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"batch_size": 0.5}, "whole number"),
        # 7B fp16 on one H100: 14 GB of weights; 4096 sequences x 4k tokens of GQA KV cache (~2 TB) cannot fit
        ({"batch_size": 4096, "input_tokens": 3000, "output_tokens": 1000}, r"KV cache.*1 x NVIDIA H100"),
        # even one sequence of 9 million tokens (~0.5 TB of KV cache) cannot fit on one H100, whatever the batch
        ({"input_tokens": 9e6, "output_tokens": 100}, r"one sequence of 9\.0001e\+06 tokens.*shorten the context"),
        # and a billion is longer than any model's context window
        ({"input_tokens": 1e9, "output_tokens": 100}, "context window"),
    ],
)
def test_batch_that_is_not_a_batch_or_cannot_fit_is_refused(kw: dict[str, float], match: str) -> None:
    with pytest.raises(InputConflictError, match=match):
        estimate_inference(params=7e9, hardware="H100", count=1, requests_per_day=1000, **kw)  # type: ignore[arg-type]


def test_inputs_whose_result_overflows_are_refused() -> None:
    with pytest.raises(InputConflictError, match="overflow"):
        estimate_inference(params=7e9, hardware="H100", requests_per_day=1e308, days=365)
    # a load or a model past any cluster is refused before its figures overflow, naming the flag that drives it
    with pytest.raises(InputConflictError, match="more than the 1e\\+07 .*check --requests-per-day"):
        estimate_inference(params=7e9, hardware="H100", requests_per_day=1e305, days=365)
    # found by fuzzing the CLI: NaN ranges and divisions by zero deep in the serving model, now a clear error
    with pytest.raises(InputConflictError, match="params 1e\\+300.*more than the 1e\\+07 .*check --params"):
        estimate_inference(params=1e300, input_tokens=2e6, requests_per_day=1)
    with pytest.raises(InputConflictError, match="chips at once"):  # refused before it reaches the maths
        estimate_inference(params=7e9, count=2**996, requests_per_day=1)


def test_a_large_batch_that_fits_is_served() -> None:
    fp = estimate_inference(params=7e9, hardware="H100", count=1, batch_size=256, input_tokens=500,
                            output_tokens=500, requests_per_day=1000)
    assert fp.energy_kwh.value > 0


def test_default_batch_range_is_cut_to_what_fits_in_memory() -> None:
    # 70B in bf16 on 2 x A100-80GB: 140 GB of weights leave ~20 GB for KV cache, not enough for the default 128
    # (a load that keeps many replicas busy, so the batch is not cut by the load as well)
    tight = estimate_inference(params=70e9, hardware="A100", count=2, requests_per_day=1e7)
    cap = next(a for a in tight.assumptions if a.what == "batch size capped by memory")
    most = int(cap.value.split()[-2])
    assert 8 <= most < 128 and "140 GB of weights" in (cap.note or "")
    roomy = estimate_inference(params=70e9, hardware="A100", count=4, requests_per_day=1e7)
    assert not any(a.what == "batch size capped by memory" for a in roomy.assumptions)
    # the best case (lowest energy per request, at the largest batch) is now the largest batch that fits
    at_most = estimate_inference(params=70e9, hardware="A100", count=2, requests_per_day=1e7, batch_size=most)
    assert tight.details["energy_per_request_wh"].low == pytest.approx(at_most.details["energy_per_request_wh"].low)


@pytest.mark.parametrize("kw", [{"params": None}, {"params": 7e9, "engine": 3}, {"params": 7e9, "attention": "x"},
                                {"params": 7e9, "precision": 3}, {"params": 7e9, "mix": 5}])
def test_api_misuse_is_a_clear_wattprint_error(kw: dict[str, object]) -> None:
    # found by fuzzing the Python API: these were AttributeError / AssertionError / TypeError
    with pytest.raises(WattprintError):
        estimate_inference(requests_per_day=10, **kw)  # type: ignore[arg-type]


def test_none_means_the_default_for_engine_attention_and_days() -> None:
    fp = estimate_inference(params=7e9, requests_per_day=10, engine=None, attention=None, days=None)  # type: ignore[arg-type]
    assert fp.details["period"].startswith("365.25 days")


def test_accuracy_benchmark_lists_every_context_row_with_its_reason() -> None:
    bench = _bench()
    if not bench.MEASUREMENTS.exists():  # type: ignore[attr-defined]
        pytest.skip("refdata/inference_measurements.csv is absent")
    with bench.MEASUREMENTS.open(encoding="utf-8") as f:  # type: ignore[attr-defined]
        unscored = {r["id"]: r["notes"] for r in csv.DictReader(f) if r["scored"].strip().lower() != "yes"}
    result = bench.run_benchmark()  # type: ignore[attr-defined]
    assert {c["id"] for c in result["context"]} == set(unscored)
    text = bench.to_markdown(result)  # type: ignore[attr-defined]
    for rid, notes in unscored.items():
        assert f"`{rid}`" in text and notes in text


def test_prefill_at_long_context_grows_faster_than_the_prompt() -> None:
    """Causal attention over the prompt is quadratic in its length: doubling a 64k prompt to 128k more than doubles
    the prefill (the weights' part alone would double it), while at short prompts the growth stays near linear."""

    def latency(l_in: float) -> float:
        fp = estimate_inference(8e9, input_tokens=l_in, output_tokens=1, batch_size=1, hardware="H100",
                                intensity=400)
        return float(fp.details["latency_per_request_s"].value)

    assert latency(128_000) / latency(64_000) > 2.5
    assert latency(1_000) / latency(500) < 2.1


# -- sliding-window attention -----------------------------------------------------------------------
def _j_per_token(fp: Footprint) -> float:
    return float(fp.details["gpu_energy_per_output_token_j"].value)


def test_a_window_longer_than_the_context_changes_nothing() -> None:
    plain = est(input_tokens=2000, output_tokens=1000)
    wide = est(input_tokens=2000, output_tokens=1000, sliding_window=4096)
    assert _j_per_token(wide) == pytest.approx(_j_per_token(plain))


def test_a_window_shorter_than_a_long_context_cuts_decode_and_prefill_energy_by_layer_share() -> None:
    kw: dict[str, object] = {"input_tokens": 32000, "output_tokens": 4000, "batch_size": 8}
    plain, half, every = (est(**kw), est(**kw, sliding_window=1024, window_layer_share=0.5),
                          est(**kw, sliding_window=1024))
    assert _j_per_token(every) < _j_per_token(half) < _j_per_token(plain)
    # the windowed layers attend to 1024 of ~34k tokens: most of the attention traffic goes
    assert _j_per_token(every) < 0.8 * _j_per_token(plain)
    assert any(a.what == "sliding-window attention" and "0.5 of the layers" in a.value for a in half.assumptions)


def test_a_batch_whose_full_attention_kv_cache_cannot_fit_fits_with_its_window() -> None:
    kw: dict[str, object] = {"params": 120e9, "active_params": 5.1e9, "precision": "int4", "count": 1,
                             "input_tokens": 500, "output_tokens": 8000, "batch_size": 128}
    with pytest.raises(InputConflictError, match="KV cache"):
        est(**kw)
    assert _j_per_token(est(**kw, sliding_window=128)) > 0


@pytest.mark.parametrize(("kw", "match"), [
    ({"window_layer_share": 0.5}, r"--window-layers \(window_layer_share\) needs --sliding-window"),
    ({"sliding_window": 1024, "window_layer_share": 1.5}, r"\(0, 1\]"),
    ({"sliding_window": 1024, "window_layer_share": True}, r"\(0, 1\]"),
    ({"sliding_window": 0}, "> 0"),
    ({"sliding_window": 100.5}, "whole number"),
])
def test_bad_window_inputs_are_clear_errors(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InputConflictError, match=match):
        est(**kw)


def test_cli_passes_the_window(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["--params", "8B", "--input-tokens", "32k", "--output-tokens", "4k", "--batch-size", "8",
                         "--sliding-window", "1k", "--window-layers", "0.5", "--intensity", "400", "--json"], capsys)
    assert code == 0
    assert any(a["what"] == "sliding-window attention" for a in json.loads(out)["assumptions"])


def test_an_assumed_prompt_is_shortened_with_the_window_in_mind() -> None:
    # gpt-oss-120b at 3072 sequences on one B200 (ML.ENERGY v3.0 GPQA ran it): it fits only once the assumed prompt
    # is cut, and only when the cut counts the window (a linear count of held tokens finds no prompt short enough)
    fp = estimate_inference(117e9, active_params=5e9, hardware="B200", count=1, precision="int4", batch_size=3072,
                            output_tokens=1794, sliding_window=128, window_layer_share=0.5, intensity=400.0)
    capped = next(a for a in fp.assumptions if a.what == "input tokens per request capped by memory")
    assert 1 <= int(capped.value.split()[-1]) < 500


def test_low_bit_moe_weights_realise_only_the_measured_part_of_their_byte_saving() -> None:
    """At batch 1 decode is memory-bound: a dense model's fp8 weights halve the weight-read time; an MoE's shared
    weights too, its routed experts' only by the sourced realised share (fused-MoE kernels: FP8 10-17% faster than
    BF16, not 2x), scaled by 1 - r (r: the routed pool's share each token reads)."""
    share = constants()["moe_low_bit_saving_realised"].value
    assert 0 < share < 1
    shared = constants()["moe_shared_share"].value * 12  # B, of the 12B active
    r = (12 - shared) / (120 - shared)

    def step_ms(**kw: object) -> float:
        fp = est(batch_size=1, input_tokens=1, output_tokens=64, **kw)
        return float(fp.details["decode_step_ms"].value)

    dense_ratio = step_ms(params=30e9, count=1, precision="fp8") / step_ms(params=30e9, count=1, precision="bf16")
    moe = {"params": 120e9, "active_params": 12e9, "count": 4}  # the same replica for both formats
    moe_ratio = step_ms(**moe, precision="fp8") / step_ms(**moe, precision="bf16")
    assert dense_ratio == pytest.approx(0.5, rel=0.05)
    routed_fp8 = 1 + (1 - r) * (1 - share)  # bytes-equivalent per routed weight (bf16: 2)
    assert moe_ratio == pytest.approx((shared + (12 - shared) * routed_fp8) / (2 * 12), rel=0.05)
    assert moe_ratio > dense_ratio * 1.2
    fp8 = est(**moe, precision="fp8")
    assert any(a.what.startswith("share of the fp8 byte saving") for a in fp8.assumptions)
    assert not any("byte saving" in a.what for a in est(**moe, precision="bf16").assumptions)


def test_given_board_power_is_checked_for_unit_slips() -> None:
    with pytest.raises(InputConflictError, match="outside what any accelerator draws"):
        estimate_inference(params=7e9, hardware="A100", tdp_w=1e9)
    with pytest.raises(InputConflictError, match="outside what any accelerator draws"):
        estimate_inference(params=7e9, hardware="A100", tdp_w=0.4)
    far = estimate_inference(params=7e9, hardware="A100", tdp_w=1500)
    assert any(a.what == "board power (given)" for a in far.assumptions)
    near = estimate_inference(params=7e9, hardware="A100", tdp_w=300)
    assert not any(a.what == "board power (given)" for a in near.assumptions)


def test_flags_that_would_be_ignored_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputConflictError, match="needs a load"):
        estimate_inference(params=7e9, days=30)
    assert estimate_inference(params=7e9, requests_per_day=100, days=30).details["period"].startswith("30 days")
    code, _, err = _cli(["--params", "7B", "--training-hardware", "A100", "--training-count", "64"], capsys)
    assert code == 2 and "--training-tokens" in err
    code, _, err = _cli(["--params", "7B", "--days", "30"], capsys)
    assert code == 2 and "needs a load" in err


def test_a_parameter_count_below_one_is_refused() -> None:
    with pytest.raises(InputConflictError, match="is a count"):
        estimate_inference(params=0.5)


@pytest.mark.parametrize("year", [-1, 0, 2.5, float("nan")])
def test_both_estimators_refuse_a_year_that_is_not_a_calendar_year(year: float) -> None:
    from wattprint.estimate.training import estimate_training

    with pytest.raises(InputConflictError, match="whole year"):
        estimate_inference(params=7e9, year=year)  # type: ignore[arg-type]
    for where in ({}, {"location": "FR"}, {"intensity": 50}):
        with pytest.raises(InputConflictError, match="whole year"):
            estimate_training(params=7e9, tokens=1e12, hardware="A100", count=8, year=year, **where)  # type: ignore[arg-type]


def test_a_chip_whose_tdp_is_only_an_estimate_needs_the_power_given() -> None:
    with pytest.raises(WattprintError, match=r"no published TDP \(~500 W is only an analyst's estimate\).*--tdp-w"):
        estimate_inference(params=8e9, hardware="Trainium2", requests_per_day=1000)
    fp = estimate_inference(params=8e9, hardware="Trainium2", requests_per_day=1000, tdp_w=500)
    assert fp.energy_kwh.value > 0


def test_a_derived_tdp_says_where_it_comes_from_and_its_span_widens_the_range() -> None:
    fp = estimate_inference(params=8e9, hardware="GB200", requests_per_day=1000)
    acc = [a for a in fp.assumptions if a.what == "accelerator"]
    assert len(acc) == 1 and "publishes no per-GPU TDP" in acc[0].note
    # A10G: 300 W, but 150 W is also in use; the board power given (300 W) has no span
    ranged = estimate_inference(params=7e9, hardware="A10G", count=1, requests_per_day=10_000)
    fixed = estimate_inference(params=7e9, hardware="A10G", count=1, requests_per_day=10_000, tdp_w=300)
    gpu_r, gpu_f = ranged.energy_by_component_kwh["gpu"].kwh, fixed.energy_by_component_kwh["gpu"].kwh
    assert gpu_r.value == pytest.approx(gpu_f.value) and gpu_r.high == pytest.approx(gpu_f.high)
    assert gpu_r.low == pytest.approx(gpu_f.low * 150 / 300, rel=0.02)


def test_a_training_estimated_for_the_break_even_shows_what_it_assumed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(["--params", "7B", "--training-tokens", "2T", "--training-hardware", "A100",
                         "--training-count", "256", "--requests-per-day", "1M", "--location", "FR", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    (training,) = [a for a in d["assumptions"] if a["what"].startswith("training footprint")]
    # the training's own assumptions (hardware choice, MFU, power, its grid) travel with the break-even
    assert "A100 SXM4 80GB" in training["note"] and "MFU" in training["note"] and "France" in training["note"]
    assert float(training["value"].split()[0]) == pytest.approx(d["training_co2e_kg"], rel=0.01)
    code, out, _ = _cli(["--params", "7B", "--training-co2e-kg", "5e4", "--requests-per-day", "1M", "--json"], capsys)
    assert not [a for a in json.loads(out)["assumptions"] if a["what"].startswith("training footprint")]


def test_a_request_longer_than_any_context_window_is_a_slip() -> None:
    # 1e9 typed for 1e3: no published model attends over more than Llama 4 Scout's 10,485,760 tokens, so it is
    # refused rather than sized into thousands of GPUs of KV cache
    with pytest.raises(InputConflictError, match="longer than any published model's context window"):
        estimate_inference(7e9, output_tokens=1e9, intensity=400.0)
    with pytest.raises(InputConflictError, match="context window"):
        estimate_inference(7e9, input_tokens=10_484_000, output_tokens=2000, intensity=400.0)
    estimate_inference(17e9, input_tokens=1_000_000, output_tokens=1000, hardware="H100", count=8, intensity=400.0)


@pytest.mark.parametrize(("named", "engine"), [("vllm", "optimised"), ("TensorRT-LLM", "optimised"),
                                               ("text generation inference", "optimised"), ("SGLang", "optimised"),
                                               ("transformers", "eager"), ("PyTorch", "eager"),
                                               ("llama.cpp", "optimised"), ("Ollama", "optimised")])
def test_a_serving_stack_is_read_as_its_engine_class(named: str, engine: str) -> None:
    fp = estimate_inference(7e9, engine=named, batch_size=1, hardware="H100", intensity=400.0)
    same = estimate_inference(7e9, engine=engine, batch_size=1, hardware="H100", intensity=400.0)
    assert fp.details["engine"] == engine
    assert fp.details["decode_step_ms"].value == same.details["decode_step_ms"].value
    said = next(a for a in fp.assumptions if a.what == "serving engine")
    assert said.value.startswith(engine) and "as '" in said.value
    with pytest.raises(WattprintError, match="unknown engine 'exllama'.*"):
        estimate_inference(7e9, engine="exllama", intensity=400.0)


def test_multi_query_attention_keeps_the_smallest_kv_cache() -> None:
    """MQA keeps one K/V head per layer (its head width), GQA a few, MHA all of them: at long contexts and a large
    batch the KV reads dominate decode, so the energy per token orders mqa < gqa < mha."""
    kw: dict[str, object] = {"hardware": "H100", "count": 2, "batch_size": 64, "input_tokens": 2000,
                             "output_tokens": 500, "intensity": 400.0}
    j = {a: _j_per_token(estimate_inference(7e9, attention=a, **kw)) for a in ("mqa", "gqa", "mha")}  # type: ignore[arg-type]
    assert j["mqa"] < j["gqa"] < j["mha"]
    fp = estimate_inference(7e9, attention="MQA", **kw)  # type: ignore[arg-type]
    width = next(a for a in fp.assumptions if a.what.startswith("KV width per layer (multi-query"))
    assert width.value.startswith("128 (64–256)")


@pytest.mark.parametrize(("batch", "measured_j"), [(1, 2.54), (64, 0.109)])
def test_gh200_gpu_energy_per_output_token_is_near_what_nvml_measured(batch: int, measured_j: float) -> None:
    """Chitty-Venkata et al. 2024, LLM-Inference-Bench (Argonne), arXiv:2411.00136, Fig. 16: Llama-3-8B in fp16 with
    TensorRT-LLM on one GH200, 1024 input and 1024 output tokens, GPU energy per output token from NVML's GPU power:
    2.54 J at batch 1, 0.109 J at batch 64. Charging the whole module's 1000 W (its Grace CPU and LPDDR5X included)
    to the GPU gave 4.1 and 0.157 J (x1.44-1.62 high, where the same bench on H100 SXM is within x1.2); with the
    GPU's own power the estimate is within x1.3."""
    fp = estimate_inference(8.03e9, attention="gqa", hardware="GH200", count=1, batch_size=batch, input_tokens=1024,
                            output_tokens=1024, precision="fp16", engine="trt-llm")
    j = fp.details["gpu_energy_per_output_token_j"].value
    assert measured_j / 1.3 <= j <= measured_j * 1.3


@pytest.mark.parametrize("hardware", ["B200", "GB200", "RTX 5090"])
def test_a_blackwell_estimate_scales_the_achievable_shares_by_its_sourced_factor_and_says_so(hardware: str) -> None:
    k = constants()["serving_efficiency_blackwell"]
    assert k.low < k.value < k.high == 1.0 and "2026" in k.source
    fp = estimate_inference(params=8e9, hardware=hardware, requests_per_day=1e5)
    said = [a for a in fp.assumptions if a.what.startswith("serving efficiency on")]
    assert len(said) == 1 and "0.83" in said[0].value and "Alice" in said[0].source


def test_b200_over_h100_energy_per_token_matches_the_same_script_comparison_it_is_sourced_from() -> None:
    """Spec ratios alone (8 TB/s and 1000 W against 3.35 TB/s and 700 W) give the B200 0.60-0.62 of the H100's
    energy per token for a 7B model; the same vLLM script on both measured 0.735 (Serial Alice, 2026)."""
    def j(hardware: str, batch: int) -> float:
        fp = estimate_inference(params=7.24e9, hardware=hardware, count=1, batch_size=batch, input_tokens=500,
                                output_tokens=500)
        return float(fp.details["gpu_energy_per_output_token_j"].value)

    for batch in (1, 32, 128):
        assert 0.7 <= j("B200", batch) / j("H100", batch) <= 0.77, batch


def test_no_family_factor_where_published_measurements_match_the_model() -> None:
    for hardware in ("H100", "A100", "MI300X"):
        fp = estimate_inference(params=8e9, hardware=hardware, requests_per_day=1e5)
        assert not [a for a in fp.assumptions if a.what.startswith("serving efficiency")], hardware


def test_8_bit_weights_never_run_slower_than_16_bit_maths_on_a_chip_with_slow_8_bit_units() -> None:
    # Blackwell Ultra (B300) cut its int8 units below its bf16 peak: int8 weights are dequantised, not run there
    kw = {"params": 70e9, "tokens_per_day": 1e9, "batch_size": 64, "hardware": "B300"}
    bf16 = estimate_inference(precision="bf16", **kw)  # type: ignore[arg-type]
    int8 = estimate_inference(precision="int8", **kw)  # type: ignore[arg-type]
    fp8 = estimate_inference(precision="fp8", **kw)  # type: ignore[arg-type]
    def wh(fp: Footprint) -> float:
        return float(fp.details["energy_per_1k_tokens_wh"].value)

    assert wh(fp8) <= wh(int8) < wh(bf16)
    note = [a for a in int8.assumptions if a.what.startswith("int8 on")]
    assert len(note) == 1 and "bf16 peak" in note[0].value and "dequantise" in note[0].note
    # where the int8 units are the fast ones (B200), they are used, and nothing is said
    b200 = estimate_inference(precision="int8", **{**kw, "hardware": "B200"})  # type: ignore[arg-type]
    assert not [a for a in b200.assumptions if a.what.startswith("int8 on")]


@pytest.mark.parametrize("name", ["fp4", "NVFP4", "mxfp4"])
def test_4_bit_float_weights_are_served_as_4_bit_weights_and_say_what_is_left_out(name: str) -> None:
    kw: dict[str, object] = {"params": 70e9, "hardware": "B200", "batch_size": 32, "input_tokens": 500,
                             "output_tokens": 500}
    fp4 = estimate_inference(precision=name, **kw)  # type: ignore[arg-type]
    int4 = estimate_inference(precision="int4", **kw)  # type: ignore[arg-type]
    bf16 = estimate_inference(precision="bf16", **kw)  # type: ignore[arg-type]
    j = "gpu_energy_per_output_token_j"
    assert fp4.details[j].value == int4.details[j].value < bf16.details[j].value
    note = next(a for a in fp4.assumptions if a.what == f"{name.lower()} weights")
    assert "0.5 byte" in note.value and "NVFP4" in note.note and "OCP" in note.source


def test_an_unknown_precision_lists_the_4_bit_float_names_too(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _cli(["--params", "7B", "--hardware", "B200", "--precision", "fp3"], capsys)
    assert code == 2 and "fp4/nvfp4/mxfp4" in err and "Traceback" not in err
