"""What a table row is named says what its figure counts (a probe of `wattprint estimate training|inference`):

* the market-based figure is operational CO2e only: printed under the total as "market-based CO2e 0 kgCO2e" with
  33 tCO2e embodied above it, it read as a market-based total;
* the serving throughput is output tokens per decode step time (prefill excluded), while the replicas needed count
  prefill too: "throughput tokens per s per replica" read as the rate the replicas are sized by.

The JSON keys keep their names."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.estimate.inference import estimate_inference

# the README's DeepSeek-V3 example: a zero-carbon contract, and embodied CO2e of tens of tonnes
DEEPSEEK = ["estimate", "training", "--params", "671B", "--active-params", "37B", "--tokens", "14.8T", "--hardware",
            "H800", "--count", "2048", "--precision", "fp8", "--location", "CN", "--market-intensity", "0"]
SERVE = ["estimate", "inference", "--params", "70B", "--hardware", "A100", "--count", "4", "--batch-size", "32",
         "--requests-per-day", "100k", "--location", "US-CA"]


def _rows(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The table's rows, label -> figure (the rows before the equivalents and assumptions)."""
    assert main(argv) == 0
    out = capsys.readouterr().out
    rows: dict[str, str] = {}
    for line in out.splitlines()[1:]:
        if not line.startswith("  ") or line.strip().startswith(("total CO2e is about", "assumptions", "- ")):
            continue
        label, _, figure = line.strip().partition("  ")
        rows[label.strip()] = figure.strip()
    return rows


def test_the_market_based_row_says_it_is_operational_only(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows(DEEPSEEK, capsys)
    assert "market-based CO2e" not in rows
    assert rows["market-based operational CO2e"] == "0 kgCO2e"
    assert rows["embodied CO2e"].endswith("tCO2e")  # what the market-based figure leaves out, and the total holds
    assert main([*DEEPSEEK, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["market_based_co2e_kg"] == 0.0 and d["embodied_co2e_kg"] > 1e4  # the key keeps its name
    market = next(a for a in d["assumptions"] if a["what"] == "market-based intensity")
    assert "operational CO2e only, without the embodied" in market["note"]


def test_the_serving_throughput_row_says_it_is_decode_output_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _rows(SERVE, capsys)
    assert "throughput tokens per s per replica" not in rows
    assert "decode output tokens per s per replica" in rows and "replicas needed" in rows
    # what the label says: the batch's output tokens per decode step, no prefill (the JSON key keeps its name)
    fp = estimate_inference(70e9, hardware="A100", count=4, batch_size=32, requests_per_day=1e5)
    d = fp.to_dict()
    assert d["throughput_tokens_per_s_per_replica"] == pytest.approx(d["batch_size"] / (d["decode_step_ms"] / 1000))
