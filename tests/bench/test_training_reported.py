"""Mode 1 of bench/training_accuracy.py (reported inputs) must stay within its bounds: B ±2%, A/C ±15%."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "training-runs.csv").exists(), reason="../shared/data not present")
def test_reported_inputs_within_bounds() -> None:
    bench = load_script("bench/training_accuracy.py")
    results = bench.reported_mode(SHARED)
    assert len(results) >= 20  # the dev rows with hours, power and energy
    bad = [f"{r['id']} {r['what']}: ratio {r['ratio']:.4f} (±{r['tolerance']:.0%})" for r in results if not r["within"]]
    assert not bad, "; ".join(bad)
