"""scripts/fit_utilisation.py: the size knees are weighted by cross-validation, and the shipped model is its output."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from wattprint.estimate.utilisation import KneeComponent, model_table, predict_mfu, shipped_components

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


def test_the_weight_goes_to_the_knee_where_the_size_gain_stops() -> None:
    fit = load_script("scripts/fit_utilisation.py")
    ref = {"params": 1e10, "ridge": A100[0] / A100[1], "ridge_chip": "A100", "year": 2020}
    for true_knee in (3e10, 3e11):
        model = fit.knee_average(_synthetic(true_knee, ref))
        assert [c.knee for c in model.components] == list(fit.KNEE_GRID)
        assert sum(c.weight for c in model.components) == pytest.approx(1.0)
        best = max(model.components, key=lambda c: c.weight)
        assert best.knee == true_knee and best.weight > 0.5, model.scores


def test_knees_that_score_alike_get_alike_weights_and_more_families_sharpen_them() -> None:
    fit = load_script("scripts/fit_utilisation.py")
    tie = fit.knee_weights([1.25, 1.23, 1.23], 30)
    assert tie[1] == pytest.approx(tie[2]) and tie[0] < tie[1]
    # weight ∝ m^-n, m = median |ln error|: the likelihood of n families' held-out errors at that scale
    w = fit.knee_weights([1.25, 1.23], 30)
    assert w[0] / w[1] == pytest.approx((math.log(1.25) / math.log(1.23)) ** -30)
    assert fit.knee_weights([1.25, 1.23], 60)[1] > w[1] > 0.5


def test_the_averaged_mfu_is_the_weighted_geometric_mean_of_the_knees_fits() -> None:
    comps = shipped_components()
    assert len(comps) > 1 and sum(c.weight for c in comps) == pytest.approx(1.0)
    for n, (peak, bw) in ((1e9, H100), (8e9, A100), (70e9, H100)):
        each = [predict_mfu(n, peak, bw, components=[KneeComponent(c.knee, 1.0, c.coef)]).mfu.value for c in comps]
        averaged = predict_mfu(n, peak, bw).mfu.value
        expected = sum(c.weight * math.log(v) for c, v in zip(comps, each, strict=True))
        assert math.log(averaged) == pytest.approx(expected)
        assert min(each) <= averaged <= max(each) and min(each) < max(each)


def _predictions(components: list[KneeComponent], ref: dict[str, Any]) -> list[float]:
    """ln(MFU) of 1B, 8B and 70B dense trainings on an A100-like and an H100-like chip."""
    table = {**model_table(), "mfu": {**model_table()["mfu"], "reference": ref}}
    return [math.log(predict_mfu(n, peak, bw, components=components, table=table).mfu.value)
            for peak, bw in (A100, H100) for n in (1e9, 8e9, 70e9)]


def test_one_training_less_moves_the_model_little_where_two_knees_tie() -> None:
    """A size gain that stops between two knees of the grid: the two score nearly alike, and dropping one training
    flips which is best. The single best knee's model then jumps; the weighted one must move far less."""
    fit = load_script("scripts/fit_utilisation.py")
    ref = {"params": 1e10, "ridge": A100[0] / A100[1], "ridge_chip": "A100", "year": 2020}
    obs = _synthetic(math.sqrt(3e10 * 1e11), ref)
    full = fit.knee_average(obs)
    less = fit.knee_average([o for o in obs if o["id"] != "f0-3"])

    def best_only(model: Any) -> list[KneeComponent]:
        c = model.components[model.scores.index(min(model.scores))]
        return [KneeComponent(c.knee, 1.0, c.coef)]

    assert best_only(full)[0].knee != best_only(less)[0].knee  # the pick flips: 3e10 <-> 1e11
    def shift(before: list[KneeComponent], after: list[KneeComponent]) -> float:
        return max(abs(a - b) for a, b in zip(_predictions(before, ref), _predictions(after, ref), strict=True))

    jump, moved = shift(best_only(full), best_only(less)), shift(full.components, less.components)
    assert moved < jump / 2, (moved, jump)


@pytest.mark.skipif(not (SHARED / "training-runs.csv").exists(), reason="../shared/data not present")
def test_shipped_model_is_what_the_fit_script_builds() -> None:
    fit = load_script("scripts/fit_utilisation.py")
    whole = fit.build(SHARED)
    assert whole["power"] == model_table()["power"], "rerun scripts/fit_utilisation.py"
    built = whole["mfu"]
    shipped = model_table()["mfu"]
    assert built["reference"] == shipped["reference"], "rerun scripts/fit_utilisation.py"
    for new, old in zip(built["components"], shipped["components"], strict=True):
        assert (new["knee"], new["weight"]) == pytest.approx((old["knee"], old["weight"]), abs=1e-9), "rerun the script"
        assert new["coef"] == pytest.approx(old["coef"], abs=1e-9), "rerun scripts/fit_utilisation.py"
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


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")
def test_distilled_trainings_are_not_fitted_but_are_named_and_real() -> None:
    """A distilled training's 6·N·D leaves out its teachers' forward passes, so its "MFU" is none: the trainings of
    refdata/mfu_exclusions.csv are rows of the tables (no stale id), each with its reason, and none of them is among
    the observations fitted or in the shipped model."""
    import csv

    fit = load_script("scripts/fit_utilisation.py")
    excluded = fit.exclusions()
    assert {"llama3.2-1b", "llama3.2-3b"} <= set(excluded)
    assert all("distillation" in why for why in excluded.values())
    with open(ROOT / "refdata" / "mfu_observations.csv", encoding="utf-8") as f:
        ids = {r["id"] for r in csv.DictReader(f)}
    ids |= {d["id"] for d in fit.blind_rows(SHARED)}
    assert set(excluded) <= ids
    fitted = {o["id"] for o in fit.load_observations(SHARED)}
    assert not fitted & set(excluded)
    assert not {o["id"] for o in model_table()["mfu"]["observations"]} & set(excluded)
    assert "llama3.2-1b" in {d["id"] for d in fit.blind_rows(SHARED)}  # still scored by the benchmark
