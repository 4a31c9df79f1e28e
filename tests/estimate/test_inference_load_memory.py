"""Inference estimator: batch under a low load, idle capacity, per-token ranges, memory fit, precision notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wattprint.errors import InputConflictError
from wattprint.estimate.inference import constants, estimate_inference
from wattprint.quantities import Range

ROOT = Path(__file__).resolve().parents[2]
GRID = {"intensity": 400.0, "pue": 1.2}


def _wh(**kw: object) -> Range:
    return estimate_inference(8e9, hardware="H100", input_tokens=500, output_tokens=500,  # type: ignore[arg-type]
                              **GRID, **kw).details["energy_per_request_wh"]


def test_a_low_load_decodes_one_sequence_at_a_time_and_says_so() -> None:
    # 10 requests a day keep ~0.0006 sequences in flight (Little's law): batch 1, not the default 32
    low = estimate_inference(8e9, input_tokens=500, output_tokens=500, requests_per_day=10, **GRID)
    assert low.details["energy_per_request_wh"].value == pytest.approx(_wh(batch_size=1).value, rel=1e-6)
    assert any(a.what == "batch size capped by load" and a.source for a in low.assumptions)
    # a load that fills replicas keeps the default batch, as without a load
    high = estimate_inference(8e9, input_tokens=500, output_tokens=500, requests_per_day=1e7, **GRID)
    assert high.details["energy_per_request_wh"].value == pytest.approx(_wh(batch_size=32).value, rel=1e-6)
    assert not any(a.what == "batch size capped by load" for a in high.assumptions)


def test_a_moderate_load_caps_the_batch_at_its_concurrency_in_between() -> None:
    fp = estimate_inference(8e9, input_tokens=500, output_tokens=500, requests_per_day=200_000, **GRID)
    b = fp.details["batch_size"]
    assert 1 < b.value < 32
    # Little's law: rate x latency sequences in flight, at most the batch; and one replica keeps up with the load
    rate = 200_000 / 86400
    assert rate * fp.details["latency_per_request_s"].value <= b.value * (1 + 1e-3)
    assert fp.details["replicas_needed"].value <= 1 + 1e-3


def test_a_load_one_replica_can_serve_gets_one_dedicated_replica() -> None:
    # the Little's-law batch alone asked for 1.1 replicas here (prefill counted in latency and in busy time), and
    # --dedicated then paid for a second replica at 2.5x the energy
    kw: dict[str, object] = {"input_tokens": 1000, "output_tokens": 200, "requests_per_day": 3e5, **GRID}
    fp = estimate_inference(8e9, dedicated=True, **kw)  # type: ignore[arg-type]
    assert fp.details["replicas_needed"].value <= 1 + 1e-3
    assert fp.details["replicas_provisioned"].value == 1
    assert fp.details["batch_size"].value < 32
    # more load never costs more per request
    wh = [estimate_inference(8e9, **{**kw, "requests_per_day": r}).details["energy_per_request_wh"].value
          for r in (1e4, 3e4, 1e5, 3e5, 1e6, 3e6)]  # type: ignore[arg-type]
    assert all(a >= b for a, b in zip(wh, wh[1:], strict=False))


def test_idle_capacity_is_stated_and_counted_with_dedicated() -> None:
    kw: dict[str, object] = {"count": 4, "batch_size": 8, "requests_per_day": 10, **GRID}
    shared = estimate_inference(70e9, **kw)  # type: ignore[arg-type]
    note = next(a for a in shared.assumptions if a.what == "idle capacity not counted")
    assert "kWh/year" in note.note and "--dedicated" in note.note
    ded = estimate_inference(70e9, dedicated=True, **kw)  # type: ignore[arg-type]
    # four H100s at idle all year: 4 x 700 W x 0.08-0.2 x 8766 h >= 1.96 MWh of accelerator energy
    assert ded.energy_by_component_kwh["gpu"].kwh.low > 4 * 700 * 0.08 * 8766 / 1000 * 0.99
    # the idle year dwarfs the busy time (10 requests a day never form the batch of 8: both are at batch 1)
    assert ded.details["energy_per_year_kwh"].value > 100 * shared.details["energy_per_year_kwh"].value
    assert ded.details["replicas_provisioned"].value == 1
    assert ded.chip_hours is not None and ded.chip_hours.value == pytest.approx(4 * 8766, rel=1e-6)
    assert any(a.what == "dedicated replicas" for a in ded.assumptions)


@pytest.mark.parametrize(("kw", "match"), [
    ({"dedicated": True}, r"--dedicated \(dedicated=True\) needs a load"),
    ({"dedicated": True, "requests_per_day": 10, "utilisation": 0.5}, "not both"),
    ({"dedicated": "yes", "requests_per_day": 10}, "True or False"),
])
def test_dedicated_misuse_is_refused(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InputConflictError, match=match):
        estimate_inference(8e9, **kw)  # type: ignore[arg-type]


def test_cli_dedicated(capsys: pytest.CaptureFixture[str]) -> None:
    from wattprint.cli import main

    code = main(["estimate", "inference", "--params", "70B", "--count", "4", "--batch-size", "8",
                 "--requests-per-day", "10", "--dedicated", "--intensity", "400", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and any(a["what"] == "dedicated replicas" for a in out["assumptions"])


def test_per_token_ranges_use_each_corners_own_lengths() -> None:
    fp = estimate_inference(8e9, batch_size=32, **GRID)  # type: ignore[arg-type]
    per_1k = fp.details["energy_per_1k_tokens_wh"]
    corners = [estimate_inference(8e9, batch_size=32, input_tokens=i, output_tokens=o, **GRID)  # type: ignore[arg-type]
               for i in (100, 2000) for o in (200, 1000)]
    # the envelope over the length corners (other assumptions at their own corners inside each) bounds the range
    assert per_1k.high <= max(c.details["energy_per_1k_tokens_wh"].high for c in corners) * (1 + 1e-9)
    assert per_1k.low >= min(c.details["energy_per_1k_tokens_wh"].low for c in corners) * (1 - 1e-9)
    j = fp.details["gpu_energy_per_output_token_j"]
    assert j.high <= max(c.details["gpu_energy_per_output_token_j"].high for c in corners) * (1 + 1e-9)
    # tokens per day: each corner counts its own requests
    tok = estimate_inference(8e9, batch_size=32, tokens_per_day=1e6, **GRID)  # type: ignore[arg-type]
    rpd = tok.details["requests_per_day"]
    assert isinstance(rpd, Range)
    assert rpd.low == pytest.approx(1e6 / 3000) and rpd.high == pytest.approx(1e6 / 300)


def test_energy_per_output_token_falls_steadily_with_a_given_batch() -> None:
    # on the one H100 that holds them all (1024 sequences of 2000 output tokens fit it only with a prompt below the
    # assumed range, so that batch takes a second chip)
    fps = [estimate_inference(8e9, output_tokens=2000, batch_size=b, intensity=400.0) for b in (256, 384, 512, 768)]
    assert all(fp.details["accelerators_per_replica"] == 1 for fp in fps)
    j = [fp.details["gpu_energy_per_output_token_j"].value for fp in fps]
    assert all(a > b for a, b in zip(j, j[1:], strict=False)), j


def test_a_batch_that_fits_only_with_a_smaller_kv_cache_is_computed_with_it() -> None:
    kw: dict[str, object] = {"hardware": "H100", "count": 1, "input_tokens": 500, "output_tokens": 480,
                             "intensity": 400.0}
    fits = estimate_inference(8e9, batch_size=300, **kw)  # type: ignore[arg-type]
    tight = estimate_inference(8e9, batch_size=1024, **kw)  # type: ignore[arg-type]
    note = next(a for a in tight.assumptions if a.what == "KV cache per token")
    assert " kB" in note.value and " MB" not in note.value
    kv_kb = float(note.value.split()[2])
    assert 30 < kv_kb < 141  # below the central ~141 kB of the assumed shape
    # the KV bytes read per decode step are capped by the memory: time per step at 1024 <= weights + free memory
    step = tight.details["decode_step_ms"].value / 1000
    bw = 3.35e12 * constants()["mem_bw_utilisation"].value
    assert step <= (16e9 + 80e9 - 16e9) / bw
    assert tight.details["gpu_energy_per_output_token_j"].value < fits.details["gpu_energy_per_output_token_j"].value


def test_batch_one_is_checked_against_memory_too() -> None:
    fp = estimate_inference(8e9, hardware="H100", count=1, batch_size=1, input_tokens=1_000_000, output_tokens=500)
    assert any(a.what in ("KV cache per token", "memory the engine fills") for a in fp.assumptions)


def test_a_given_count_follows_the_same_memory_share_as_automatic_sizing() -> None:
    share = constants()["gpu_memory_utilization"]
    assert share.source and 0 < share.value <= share.high <= 1
    # 37B bf16 (74 GB) on one 80 GB H100: 92.5 % of its memory, above the engine's default share: said when the
    # count is given, and automatic sizing (the same rule) takes two
    fp = estimate_inference(37e9, hardware="H100", count=1, batch_size=1, input_tokens=100, output_tokens=100)
    assert any(a.what == "memory the engine fills" for a in fp.assumptions)
    auto = estimate_inference(37e9, hardware="H100", input_tokens=100, output_tokens=100)
    assert auto.details["accelerators_per_replica"] == 2


@pytest.mark.parametrize(("hardware", "precision", "maths"), [("A100", "fp8", "bf16"), ("V100", "fp8", "fp16"),
                                                              ("T4", "bf16", "fp16")])
def test_a_precision_the_chip_cannot_compute_in_is_said(hardware: str, precision: str, maths: str) -> None:
    fp = estimate_inference(7e9, hardware=hardware, precision=precision, count=2, batch_size=4, input_tokens=100,
                            output_tokens=100)
    note = next(a for a in fp.assumptions if a.what.startswith(f"{precision} on "))
    assert f"{maths} peak" in note.value and note.source


@pytest.mark.parametrize("kw", [{}, {"engine": "eager", "attention": "mha"},
                                {"count": 1, "batch_size": 1024, "output_tokens": 480}])
def test_every_assumption_has_a_source_or_origin(kw: dict[str, str]) -> None:
    fp = estimate_inference(8e9, requests_per_day=1000, **kw)  # type: ignore[arg-type]
    assert [a.what for a in fp.assumptions if not a.source] == []


def test_an_automatic_replica_is_sized_for_the_batch_the_load_keeps_in_flight() -> None:
    # 8B with 60k-token prompts at 1,000 requests/day keeps one sequence in flight: 2 L4s hold it, not the 16
    # sized for the default batch of 32
    kw: dict[str, object] = {"hardware": "L4", "input_tokens": 60_000, "requests_per_day": 1e3, **GRID}
    auto = estimate_inference(8e9, **kw)  # type: ignore[arg-type]
    given = estimate_inference(8e9, count=2, **kw)  # type: ignore[arg-type]
    assert auto.details["accelerators_per_replica"] == 2
    assert auto.details["energy_per_request_wh"].value == pytest.approx(
        given.details["energy_per_request_wh"].value, rel=1e-6)
    # a load that fills the default batch sizes for it, as without a load
    busy = estimate_inference(70e9, hardware="H100", input_tokens=8000, requests_per_day=1e7, **GRID)
    alone = estimate_inference(70e9, hardware="H100", input_tokens=8000, **GRID)
    assert busy.details["accelerators_per_replica"] == alone.details["accelerators_per_replica"]


def test_energy_per_request_never_rises_with_the_load_when_the_replica_is_sized_automatically() -> None:
    # 8B with 60k-token prompts on L4s: a load just above what one 2-chip replica serves used to force a 16-chip
    # replica at a batch of ~3 (4.6 Wh per request at 10k/day against 3.7 at 3k/day); now it is spread over
    # several 2-chip replicas, and more load never costs more per request
    kw: dict[str, object] = {"hardware": "L4", "input_tokens": 60_000, "output_tokens": 500, **GRID}
    per_request, sizes = [], []
    for rpd in (1e2, 1e3, 3e3, 5e3, 1e4, 3e4, 1e5, 1e6):
        fp = estimate_inference(8e9, requests_per_day=rpd, **kw)  # type: ignore[arg-type]
        per_request.append(fp.details["energy_per_request_wh"].value)
        sizes.append(fp.details["accelerators_per_replica"])
    assert all(b <= a * (1 + 1e-9) for a, b in zip(per_request, per_request[1:], strict=False))
    assert max(sizes) == 2
    # no load: a request is served as under a full load, on the replica that serves it with the least energy
    alone = estimate_inference(8e9, **kw)  # type: ignore[arg-type]
    assert alone.details["energy_per_request_wh"].value == pytest.approx(per_request[-1], rel=1e-6)
    # and that replica is the cheapest of the sizes the user could have given
    given = [estimate_inference(8e9, count=n, requests_per_day=1e6, **kw).details["energy_per_request_wh"].value  # type: ignore[arg-type]
             for n in (2, 4, 8, 16)]
    assert per_request[-1] == pytest.approx(min(given), rel=1e-6)
    text = next(a for a in alone.assumptions if a.what == "accelerators per replica")
    assert "least energy per request" in text.value


@pytest.mark.parametrize(("params", "hardware", "batch", "prompt", "chips"), [
    (8e9, "H100", 128, 8000, 2), (8e9, "H100", 128, 12000, 2), (70e9, "H100", 128, 12000, 8),
    (8e9, "A100", 256, 4000, 2), (8e9, "L4", 64, 1000, 1), (2.6e9, "TPU v5e", 128, 2000, 2)])
def test_a_given_batch_gets_the_fewest_chips_a_count_would_hold_it_on(params: float, hardware: str, batch: int,
                                                                        prompt: int, chips: int) -> None:
    # a batch the default replica could not hold at the central values was sized for at those values, skipping
    # the power of 2 on which it fits as on a given count (8B, H100, 12k prompt: 4 chips and 0.33 Wh per request,
    # where --count 2 holds it at 0.24 Wh)
    kw: dict[str, object] = {"hardware": hardware, "batch_size": batch, "input_tokens": prompt, "output_tokens": 500,
                             "requests_per_day": 1e6, "tdp_w": 700.0 if hardware == "TPU v5e" else None, **GRID}
    auto = estimate_inference(params, **kw)  # type: ignore[arg-type]
    assert auto.details["accelerators_per_replica"] == chips
    counted = estimate_inference(params, count=chips, **kw)  # type: ignore[arg-type]
    assert auto.details["energy_per_request_wh"].value == pytest.approx(
        counted.details["energy_per_request_wh"].value, rel=1e-9)
    if chips > 1:
        with pytest.raises(InputConflictError):
            estimate_inference(params, count=chips // 2, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("params", "hardware", "batch", "extra"), [
    (8e9, "H100", 128, {"requests_per_day": 1e6}), (70e9, "H100", 128, {"requests_per_day": 1e6}),
    (8e9, "A100", 256, {"requests_per_day": 1e6}),
    (2.6e9, "TPU v5e", 128, {"requests_per_day": 1.0, "dedicated": True, "tdp_w": 700.0})])
def test_a_longer_prompt_never_costs_less_at_a_given_batch(params: float, hardware: str, batch: int,
                                                           extra: dict[str, object]) -> None:
    # the replica's size went 1, 4, 2, 2, 8, 4 chips on TPU v5e as the prompt grew (with --dedicated the spare
    # chips idle all period: 13.8 kWh per request at 2000 tokens, 6.9 at 4000)
    chips, wh = [], []
    for prompt in (1000, 2000, 3000, 4000, 6000, 8000, 12000, 16000):
        fp = estimate_inference(params, hardware=hardware, batch_size=batch, input_tokens=prompt,
                                output_tokens=500, **extra, **GRID)  # type: ignore[arg-type]
        chips.append(fp.details["accelerators_per_replica"])
        wh.append(fp.details["energy_per_request_wh"].value)
    assert chips == sorted(chips), chips
    assert all(b >= a for a, b in zip(wh, wh[1:], strict=False)), wh


def test_a_given_batch_does_not_cut_assumed_request_lengths_to_save_chips() -> None:
    # 64 sequences of a 70B model fit 2 H100s with the KV cache per token at the small end of the assumed shape and
    # the memory share raised, at the assumed lengths: 2 chips, the lengths as assumed (cutting the prompt first
    # would shrink the requests to save chips)
    fp = estimate_inference(70e9, hardware="H100", batch_size=64, requests_per_day=1e6, **GRID)
    assert fp.details["accelerators_per_replica"] == 2
    said = {a.what: a.value for a in fp.assumptions}
    assert all(said[f"{x} tokens per request"].startswith("500 (") for x in ("input", "output"))
    assert "KV cache per token" in said and not any("capped by memory" in a.what for a in fp.assumptions)


@pytest.mark.parametrize("kw", [
    {"model": "Llama 3.1 70B", "hardware": "H100", "batch_size": 16, "output_tokens": 200},
    {"model": "Gemma 3 27B", "hardware": "Google TPU v5e", "tdp_w": 200, "batch_size": 16, "dedicated": True},
])
def test_a_length_left_assumed_takes_no_more_chips_than_the_same_length_given(kw: dict[str, Any]) -> None:
    # the trial that sized a given batch cut an assumed length first, then refused the size for the cut: the memory
    # share alone, which holds the batch, was never tried (70B on H100 at batch 16: 4 chips assumed, 2 given)
    common = {"requests_per_day": 1e5, "pue": 1.2, "intensity": 300, **kw}
    assumed = estimate_inference(**common)
    lengths = {k: v for k, v in (("input_tokens", 500), ("output_tokens", 500)) if k not in kw}
    given = estimate_inference(**common, **lengths)
    assert assumed.details["accelerators_per_replica"] <= given.details["accelerators_per_replica"]


def test_no_assumption_prints_a_range_whose_bounds_equal_its_value() -> None:
    import re

    fp = estimate_inference(model="Llama 3.1 8B", hardware="NVIDIA H100 SXM5 80GB", requests_per_day=1,
                            dedicated=True)
    same = re.compile(r"(\S+) \(\1–\1\)")  # "1 (1–1)": the value printed as a range of itself
    assert not [a for a in fp.assumptions if same.search(a.value)], fp.assumptions
    assert not same.search(fp.table())
