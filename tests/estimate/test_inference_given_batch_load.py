"""Inference estimator: a given batch under a load. A probe found `--batch-size 64 --requests-per-day 1000` (8B on an
H100) priced each request at batch 64, 25x below batch 1, though 1000 requests a day keep ~0.05 sequences in flight
and a batch of 64 never forms; only "idle capacity not counted" was said. A given batch the load cannot fill is now
cut to what the load keeps in flight (Little's law, as for an assumed batch), and an assumption says so; a load that
fills it, or no load at all, keeps it as given."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from wattprint.cli import main
from wattprint.errors import InputConflictError
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


# -- the replica and its memory follow the batch the load forms, not the batch given --------------------------------
SEVEN_B = ["estimate", "inference", "--params", "7B", "--hardware", "H100"]
FIGURES = ("energy_per_request_wh", "energy_per_1k_tokens_wh", "energy_per_year_kwh", "gpu_energy_per_output_token_j",
           "total_co2e_kg")


def _same_figures(given: dict[str, Any], cut: dict[str, Any]) -> None:
    """Every figure, central and both ends of its range, within 1e-9 of the run at the batch the load forms."""
    for name in FIGURES:
        for end in ("", "_low", "_high"):
            assert given[name + end] == pytest.approx(cut[name + end], rel=1e-9), name + end
    assert given["accelerators_per_replica"] == cut["accelerators_per_replica"]


def _memory_caps(out: dict[str, Any]) -> list[str]:
    return [a["what"] for a in out["assumptions"] if "capped by memory" in a["what"]]


@pytest.mark.parametrize(("batch", "load"), [("2000", "100"), ("1e6", "10")])
def test_a_batch_the_load_cannot_fill_does_not_shorten_the_requests(batch: str, load: str,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # --batch-size 2000 at 100 requests a day was fitted to the memory at 2000 sequences: the assumed 500 + 500 tokens
    # became 100 + 230, and the service, computed at batch 1, reported half the energy of the same run at batch 1
    # (0.42 against 0.92 Wh per request); 1e6 at 10 a day took a 256-chip replica, 4.46 Wh per 1k tokens against 0.92
    given = _cli_json([*SEVEN_B, "--requests-per-day", load, "--batch-size", batch], capsys)
    cut = _cli_json([*SEVEN_B, "--requests-per-day", load, "--batch-size", "1"], capsys)
    assert given["batch_size"] == given["batch_size_high"] == 1.0
    _same_figures(given, cut)
    assert given["accelerators_per_replica"] == 1
    assert _memory_caps(given) == []
    said = {a["what"]: a["value"] for a in given["assumptions"]}
    assert all(said[f"{x} tokens per request"].startswith("500 (") for x in ("input", "output"))
    assert said[CAPPED].endswith(f"not the {float(batch):g} given")


def test_a_given_count_is_kept_and_holds_what_the_load_forms() -> None:
    # 2000 sequences of 7B fit one H100 only with the assumed requests cut to 100 + 230 tokens: fitted so without a
    # load, but 100 requests a day keep one in flight, which fits at the assumed lengths
    kw: dict[str, Any] = {"hardware": "H100", "count": 1, "requests_per_day": 100, "intensity": 400.0, "pue": 1.2}
    given = estimate_inference(7e9, batch_size=2000, **kw)
    one = estimate_inference(7e9, batch_size=1, **kw)
    assert given.details["accelerators_per_replica"] == 1
    for name in ("energy_per_request_wh", "energy_per_1k_tokens_wh"):
        g, o = given.details[name], one.details[name]
        assert (g.value, g.low, g.high) == pytest.approx((o.value, o.low, o.high), rel=1e-9)
    assert _capped(given) and not any("capped by memory" in a.what for a in given.assumptions)
    no_load = estimate_inference(7e9, batch_size=2000, **{k: v for k, v in kw.items() if k != "requests_per_day"})
    assert any("capped by memory" in a.what for a in no_load.assumptions)
    # a batch the given count cannot hold at all is refused as before, whatever the load
    with pytest.raises(InputConflictError, match="lower --batch-size"):
        estimate_inference(7e9, batch_size=1e6, **kw)


def test_a_load_in_tokens_per_day_holds_what_it_forms_too() -> None:
    kw: dict[str, Any] = {"hardware": "H100", "tokens_per_day": 1e5, "intensity": 400.0, "pue": 1.2}
    given = estimate_inference(7e9, batch_size=1e6, **kw)
    one = estimate_inference(7e9, batch_size=1, **kw)
    assert given.details["accelerators_per_replica"] == 1  # 256 before
    g, o = given.details["energy_per_request_wh"], one.details["energy_per_request_wh"]
    assert (g.value, g.low, g.high) == pytest.approx((o.value, o.low, o.high), rel=1e-9)


def test_a_load_that_fills_more_than_the_memory_holds_cuts_the_lengths_only_for_the_batch_it_forms() -> None:
    # 8B on one H100 at 2M requests a day: one replica keeps up only with ~600 sequences in flight, which fit with
    # the prompt cut to ~411 tokens; the batch of 2000 given was fitted instead (prompt 100, output 200 tokens) and
    # computed at ~43 sequences
    kw: dict[str, Any] = {"hardware": "H100", "requests_per_day": 2e6, "intensity": 400.0, "pue": 1.2}
    fp = estimate_inference(8e9, batch_size=2000, **kw)
    said = {a.what: a.value for a in fp.assumptions}
    found = re.search(r"a batch of (\d+) sequences \(as many as the load keeps in flight of the 2000 given\)",
                      said["accelerators per replica"])
    assert found, said["accelerators per replica"]
    held = int(found.group(1))
    b = fp.details["batch_size"]
    assert 100 < b.value <= held < 2000 and b.high <= held  # no corner forms more than the replica holds
    assert "output tokens per request capped by memory" not in said
    capped_input = int(said["input tokens per request capped by memory"].split()[-1])
    assert 100 < capped_input < 500
    # the figures of the run given that batch
    at_held = estimate_inference(8e9, batch_size=held, **kw)
    for name in ("energy_per_request_wh", "batch_size"):
        g, h = fp.details[name], at_held.details[name]
        assert (g.value, g.low, g.high) == pytest.approx((h.value, h.low, h.high), rel=1e-6), name


def test_no_corner_forms_a_batch_the_replica_cannot_hold() -> None:
    # 200k requests a day keep ~10 sequences in flight at the central values, so the replica holds those; a slow
    # corner whose load one replica cannot keep up with fills its batch, but only as far as the memory holds (the
    # 2000 given at 500 + 500 tokens need ~190 GB of KV cache on an 80 GB chip)
    fp = estimate_inference(8e9, hardware="H100", batch_size=2000, requests_per_day=2e5, intensity=400.0, pue=1.2)
    b = fp.details["batch_size"]
    assert 1 < b.value < 20 and b.high < 1000
    assert not any("capped by memory" in a.what for a in fp.assumptions)
    (note,) = _capped(fp)
    assert "batch 2000 given" in note.note


def test_the_replica_note_counts_one_sequence_in_the_singular() -> None:
    note = next(a for a in _serve(batch_size=1).assumptions if a.what == "accelerators per replica")
    assert "KV cache for 1 sequence)" in note.value, note.value
    note = next(a for a in _serve(batch_size=4).assumptions if a.what == "accelerators per replica")
    assert "KV cache for 4 sequences)" in note.value, note.value
