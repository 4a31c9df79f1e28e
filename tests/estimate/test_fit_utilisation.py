"""scripts/fit_utilisation.py: the size knee is chosen by cross-validation, and the shipped model is its output."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from wattprint.estimate.utilisation import model_table

from ..scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"

A100 = (312e12, 2.039e12)  # dense bf16 peak FLOP/s, memory bandwidth B/s: ridge = the reference's
H100 = (989e12, 3.35e12)  # ridge ~1.9x the reference's


def _synthetic(true_knee: float, ref: dict[str, Any]) -> list[dict[str, Any]]:
    """Trainings whose ln(MFU) follows the model's form with a size term that stops at ``true_knee``."""
    obs = []
    sizes = (3e8, 1e9, 3e9, 1e10, 3e10, 1e11, 3e11, 1e12)
    for fam, (peak, bw) in enumerate((A100, H100, A100, H100, A100, H100)):
        harder = max(math.log2(peak / bw / ref["ridge"]), 0.0)
        for i, n in enumerate(sizes):
            small = min(math.log10(n / true_knee), 0.0)
            wobble = 0.04 * math.sin(7.0 * fam + 3.0 * i)  # deterministic scatter, well inside the signal
            mfu = math.exp(math.log(0.45) + 0.10 * small - 0.25 * harder + 0.30 * small * harder + wobble)
            obs.append({"id": f"f{fam}-{i}", "family": f"f{fam}", "training": f"f{fam}-{i}", "active_params": n,
                        "peak": peak, "bandwidth": bw, "year": 2022, "moe": False, "fp8": False,
                        "basis": "effective", "mfu": mfu, "reference": ref})
    return obs


def test_select_knee_finds_where_the_size_gain_stops() -> None:
    fit = load_script("scripts/fit_utilisation.py")
    ref = {"params": 1e10, "ridge": A100[0] / A100[1], "ridge_chip": "A100", "year": 2020}
    for true_knee in (3e10, 3e11):
        knee, scores = fit.select_knee(_synthetic(true_knee, ref))
        assert knee == true_knee, scores
        assert [k for k, _ in scores] == list(fit.KNEE_GRID)


@pytest.mark.skipif(not (SHARED / "training-runs.csv").exists(), reason="../shared/data not present")
def test_shipped_model_is_what_the_fit_script_builds() -> None:
    fit = load_script("scripts/fit_utilisation.py")
    whole = fit.build(SHARED)
    assert whole["power"] == model_table()["power"], "rerun scripts/fit_utilisation.py"
    built = whole["mfu"]
    shipped = model_table()["mfu"]
    assert built["reference"] == shipped["reference"], "rerun scripts/fit_utilisation.py"
    assert built["coef"] == pytest.approx(shipped["coef"], abs=1e-9), "rerun scripts/fit_utilisation.py"
    assert built["residual_quantiles_ln"] == pytest.approx(shipped["residual_quantiles_ln"], abs=1e-9)


def test_a_size_term_that_would_favour_smaller_models_is_held_at_zero() -> None:
    """Data in which small models reach *more* of the peak (noise, or one developer's tiny models) must not give a
    negative size coefficient: the fit holds it at zero and refits the rest."""
    fit = load_script("scripts/fit_utilisation.py")
    ref = {"params": 1e11, "ridge": A100[0] / A100[1], "ridge_chip": "A100", "year": 2020}
    obs = _synthetic(1e11, ref)
    for o in obs:  # invert the size effect on the reference-ridge chip: smaller -> higher MFU
        if o["peak"] == A100[0]:
            o["mfu"] *= (1e11 / o["active_params"]) ** 0.05
    unconstrained = fit.fit_mfu(fit.design(obs), ridge=fit.RIDGE, huber_delta=fit.HUBER_DELTA)
    assert unconstrained[1] < 0  # the data alone would say smaller is better
    coef = fit.fit(obs)
    assert coef[1] == 0.0 and coef[6] >= 0.0


def _power_row(hardware: str, value: float, measured: bool, scope: str = "gpu-only") -> dict[str, str]:
    return {"kind": "gpu_fraction", "hardware": hardware, "scope": scope, "value": str(value),
            "measured": "true" if measured else "false", "source": f"src {hardware} {value}"}


def test_gpu_power_fraction_is_the_measured_mean_per_architecture_and_spans_every_figure() -> None:
    fit = load_script("scripts/fit_utilisation.py")
    families = {"H": "Hopper", "GH": "Hopper (Grace Hopper superchip)", "A": "Ampere"}
    rows = [_power_row("H", 0.86, True), _power_row("GH", 0.90, True), _power_row("A", 0.70, True),
            _power_row("A", 1.00, False),  # the TDP convention: widens the range, not the central value
            _power_row("A", 1.10, True, scope="system")]  # incl. the host: not a GPU-only figure
    g = fit.gpu_fractions(rows, families)
    assert g["by_family"]["Hopper"]["value"] == pytest.approx(0.88)
    assert g["by_family"]["Ampere"]["value"] == pytest.approx(0.70)
    assert g["default"]["value"] == pytest.approx((0.86 + 0.90 + 0.70) / 3)
    assert all((e["low"], e["high"]) == (0.70, 1.00) for e in [g["default"], *g["by_family"].values()])


def test_shipped_gpu_power_fractions_differ_by_architecture() -> None:
    from wattprint.estimate.utilisation import gpu_fraction

    hopper, note = gpu_fraction("Hopper")
    ampere, _ = gpu_fraction("Ampere")
    assert hopper.value > ampere.value and "measured" in note.note and "Hopper" in note.note
    assert gpu_fraction("Hopper (Grace Hopper superchip)")[0] == hopper  # the module's GPU is a Hopper
    other, other_note = gpu_fraction("CDNA 3")  # no measured figure: the mean over all architectures
    assert ampere.value < other.value < hopper.value and "all architectures" in other_note.note
    assert hopper.low <= ampere.value and hopper.high >= 1.0  # the spread of every figure, TDP convention incl.
