"""Inference estimator: a given batch under a load. A probe found `--batch-size 64 --requests-per-day 1000` (8B on an
H100) priced each request at batch 64, 25x below batch 1, though 1000 requests a day keep ~0.05 sequences in flight
and a batch of 64 never forms; only "idle capacity not counted" was said. A given batch the load cannot fill is now
cut to what the load keeps in flight (Little's law, as for an assumed batch), and an assumption says so; a load that
fills it, or no load at all, keeps it as given."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wattprint.cli import main
from wattprint.estimate.inference import estimate_inference
from wattprint.footprint import Assumption, Footprint

SERVE = ["estimate", "inference", "--params", "8B", "--hardware", "H100", "--input-tokens", "1000",
         "--output-tokens", "500"]
PROBE = [*SERVE, "--requests-per-day", "1000"]
CAPPED = "batch size capped by load"


def _cli_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main([*argv, "--json"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def _serve(**kw: Any) -> Footprint:
    return estimate_inference(8e9, hardware="H100", input_tokens=1000, output_tokens=500, intensity=400.0, pue=1.2,
                              **kw)


def _capped(fp: Footprint) -> list[Assumption]:
    return [a for a in fp.assumptions if a.what == CAPPED]


def test_the_probe_command_is_priced_at_the_batch_its_load_forms_and_says_why(
        capsys: pytest.CaptureFixture[str]) -> None:
    given = _cli_json([*PROBE, "--batch-size", "64"], capsys)
    batch_one = _cli_json([*PROBE, "--batch-size", "1"], capsys)
    no_load = _cli_json([*SERVE, "--batch-size", "64"], capsys)  # batch 64's energy per request, as given
    assert given["batch_size"] == 1.0 and no_load["batch_size"] == 64.0
    # the batch-1 energy per request (1.06 Wh), not batch 64's (0.043 Wh, 25x less)
    assert given["energy_per_request_wh"] == pytest.approx(batch_one["energy_per_request_wh"], rel=1e-9)
    assert given["energy_per_request_wh"] > 10 * no_load["energy_per_request_wh"]
    note = next(a for a in given["assumptions"] if a["what"] == CAPPED)
    text = f"{note['value']} {note['note']}"
    for said in ("batch 64 given", "1000 requests a day", "sequences in flight", "computed at batch 1",
                 "--batch-size"):
        assert said in text, said
    assert "Little's law" in note["source"]
    assert not any(a["what"] == CAPPED for a in no_load["assumptions"])


def test_a_load_that_fills_the_given_batch_keeps_it() -> None:
    # 1e7 requests a day keep many replicas busy at batch 64: each replica's batch is full
    fp = _serve(batch_size=64, requests_per_day=1e7)
    assert fp.details["batch_size"].value == fp.details["batch_size"].low == 64
    assert fp.details["replicas_needed"].value > 1
    assert fp.details["energy_per_request_wh"].value == pytest.approx(
        _serve(batch_size=64).details["energy_per_request_wh"].value, rel=1e-9)
    assert not _capped(fp)


def test_a_load_between_keeps_its_concurrency_and_names_both_batches() -> None:
    fp = _serve(batch_size=64, requests_per_day=2e5)
    b = fp.details["batch_size"]
    assert 1 < b.value < 64
    # Little's law: the load keeps no more sequences in flight than the batch computed at, on one replica
    assert 2e5 / 86400 * fp.details["latency_per_request_s"].value <= b.value * (1 + 1e-3)
    assert fp.details["replicas_needed"].value <= 1 + 1e-3
    (note,) = _capped(fp)
    assert "batch 64 given" in note.note and "200000 requests a day" in note.note
    assert f"computed at batch {b.value:.3g}" in note.note


def test_a_load_in_tokens_per_day_is_named_as_given() -> None:
    fp = _serve(batch_size=64, tokens_per_day=1.5e6)  # 1000 requests of 1500 tokens
    assert fp.details["batch_size"].value == 1
    (note,) = _capped(fp)
    assert "1.5e+06 tokens a day" in note.note and "computed at batch 1" in note.note


def test_without_a_load_a_given_batch_stays_as_given() -> None:
    # what the inference benchmark relies on: measured batches at matching scope, no load
    fp = _serve(batch_size=64)
    assert fp.details["batch_size"].value == 64 and not _capped(fp)


def test_the_capped_batch_is_counted_in_words_that_agree_with_it() -> None:
    # "1 concurrent sequences per replica" read as a typo next to the figures; more than one stays plural
    one = _capped(_serve(batch_size=64, requests_per_day=1000))[0].value
    assert one.startswith("1 concurrent sequence per replica"), one
    assumed = _capped(_serve(requests_per_day=1e5))[0].value
    assert "concurrent sequences per replica" in assumed and not assumed.startswith("1 "), assumed
