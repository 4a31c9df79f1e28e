"""Training estimator: arithmetic, input handling and the fitted utilisation model."""

from __future__ import annotations

import json
import math
import re

import pytest

from wattprint.cli import main
from wattprint.errors import InputConflictError, WattprintError
from wattprint.estimate import utilisation
from wattprint.estimate.training import estimate_training
from wattprint.footprint import Footprint


def test_linear_in_flops() -> None:
    a = estimate_training(flops=1e22, params=7e9, hardware="A100", count=64, location="FR")
    b = estimate_training(flops=3e22, params=7e9, hardware="A100", count=64, location="FR")
    for f in ("energy_kwh", "it_energy_kwh", "operational_co2e_kg", "embodied_co2e_kg", "total_co2e_kg"):
        ra, rb = getattr(a, f), getattr(b, f)
        assert rb.value == pytest.approx(3 * ra.value, rel=1e-9)
        assert rb.low == pytest.approx(3 * ra.low, rel=1e-9)
        assert rb.high == pytest.approx(3 * ra.high, rel=1e-9)
    assert a.chip_hours is not None and b.chip_hours is not None
    assert b.chip_hours.value == pytest.approx(3 * a.chip_hours.value)


def test_params_tokens_is_6nd_and_moe_uses_active_params() -> None:
    dense = estimate_training(params=7e9, tokens=1e12, hardware="H100", mfu=0.4)
    given = estimate_training(flops=6 * 7e9 * 1e12, hardware="H100", mfu=0.4)
    assert dense.chip_hours == given.chip_hours
    moe = estimate_training(params=47e9, active_params=7e9, tokens=1e12, hardware="H100", mfu=0.4)
    assert moe.chip_hours == dense.chip_hours
    # with the model's MFU, MoE is predicted less efficient than the same active size dense
    d = estimate_training(params=7e9, tokens=1e12, hardware="H100")
    m = estimate_training(params=47e9, active_params=7e9, tokens=1e12, hardware="H100")
    assert m.chip_hours is not None and d.chip_hours is not None
    assert m.chip_hours.value > d.chip_hours.value


def test_chip_hours_from_mfu_and_peak() -> None:
    fp = estimate_training(flops=312e12 * 3600 * 0.5 * 1000, hardware="NVIDIA A100 SXM4 80GB", mfu=0.5)
    assert fp.chip_hours is not None
    assert fp.chip_hours.value == pytest.approx(1000)
    assert fp.chip_hours.is_exact


def test_power_w_is_all_in_and_nothing_is_added() -> None:
    fp = estimate_training(chip_hours=1000, power_w=300, hardware="V100", pue=1.1, intensity=400)
    assert list(fp.energy_by_component_kwh) == ["gpu"]
    assert fp.energy_by_component_kwh["gpu"].basis == "given"
    assert fp.it_energy_kwh.value == pytest.approx(300.0)
    assert fp.energy_kwh.value == pytest.approx(330.0)
    assert fp.operational_co2e_kg.value == pytest.approx(132.0)


def test_an_all_in_power_says_the_host_share_is_in_it() -> None:
    """--power-w (and a chip whose default power is a system-level figure) put the host's share into the one
    accelerator component: the table and JSON said 'gpu energy (IT, given)', as if it were the GPU alone."""
    given = estimate_training(chip_hours=1000, power_w=300, hardware="A100", pue=1.1, intensity=400)
    tpu = estimate_training(chip_hours=1000, hardware="TPU v3")
    assert given.to_dict()["energy_by_component_kwh"]["gpu"]["includes_host"] is True
    assert tpu.to_dict()["energy_by_component_kwh"]["accelerator"]["includes_host"] is True
    assert "gpu energy (IT, given, host share incl.)" in given.table()
    modelled = estimate_training(chip_hours=1000, hardware="A100", pue=1.1, intensity=400).to_dict()
    assert all("includes_host" not in c for c in modelled["energy_by_component_kwh"].values())  # host parts beside


def test_modelled_power_has_host_parts_and_ranges() -> None:
    fp = estimate_training(chip_hours=1000, hardware="H100 SXM", location="SE")
    assert {"gpu", "cpu", "ram", "other"} <= set(fp.energy_by_component_kwh)
    assert all(c.basis == "modelled" for c in fp.energy_by_component_kwh.values())
    assert fp.it_energy_kwh.low < fp.it_energy_kwh.value < fp.it_energy_kwh.high
    assert fp.embodied_co2e_kg.value > 0
    whats = " ".join(a.what for a in fp.assumptions)
    assert "host power" in whats and "average accelerator power" in whats


def test_tpu_uses_all_in_fraction_without_host() -> None:
    fp = estimate_training(chip_hours=1000, hardware="TPU v3")
    assert set(fp.energy_by_component_kwh) == {"accelerator"}


def test_a_gpu_measured_only_at_system_level_uses_that_all_in_power() -> None:
    # Patterson et al. 2021 measured P100 system power per accelerator (host included): 296 W and 271 W
    fp = estimate_training(chip_hours=1000, hardware="P100")
    assert set(fp.energy_by_component_kwh) == {"gpu"}
    assert fp.it_energy_kwh.value == pytest.approx((296 + 271) / 2, rel=0.01)
    note = next(a for a in fp.assumptions if a.what.startswith("average power per chip (all-in"))
    assert "Patterson" in note.source
    # a GPU without system-level figures keeps the accelerator + host model
    v100 = estimate_training(chip_hours=1000, hardware="V100")
    assert {"gpu", "cpu", "ram", "other"} <= set(v100.energy_by_component_kwh)


def test_default_precision_and_world_average_are_stated() -> None:
    fp = estimate_training(params=1e9, tokens=2e10, hardware="A100")
    text = " ".join(str(a) for a in fp.assumptions).lower()
    assert "precision: bf16" in text
    assert "world" in text
    assert fp.intensity.g_per_kwh.low < fp.intensity.g_per_kwh.high


def test_chip_without_tdp_needs_power_w() -> None:
    with pytest.raises(WattprintError, match="--power-w"):
        estimate_training(chip_hours=100, hardware="TPU v5e")
    fp = estimate_training(chip_hours=100, hardware="TPU v5e", power_w=250)
    assert fp.it_energy_kwh.value == pytest.approx(25.0)


def test_an_analysts_tdp_estimate_is_no_default_and_a_derived_tdp_is_ranged() -> None:
    with pytest.raises(WattprintError, match=r"Trainium2.*~500 W is only an analyst's estimate.*--power-w"):
        estimate_training(chip_hours=100, hardware="Trainium2")
    assert estimate_training(chip_hours=100, hardware="Trainium2", power_w=500).it_energy_kwh.value == 50.0
    fp = estimate_training(chip_hours=100, hardware="GB200")
    (tdp,) = [a for a in fp.assumptions if a.what == "TDP"]
    assert tdp.value.startswith("1200 (1000") and "publishes no per-GPU TDP" in tdp.note
    gpu = fp.energy_by_component_kwh["gpu"].kwh
    # 100 chip-hours: low = 1000 W (B200 in HGX) x 0.70, high = 1200 W x 1.00 (the power fraction's span), in kWh
    assert (gpu.low, gpu.high) == (pytest.approx(70.0), pytest.approx(120.0))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"params": -7e9, "tokens": 1e12}, "params"),
        ({"flops": math.nan}, "finite"),
        ({"chip_hours": 1000, "count": 10, "days": 2}, "contradict"),
        ({"params": 7e9, "active_params": 8e9, "tokens": 1e12}, "exceed"),
        ({"flops": 1e25, "chip_hours": 10}, "impossible"),
        ({"params": 7e9, "tokens": 1e12, "mfu": 1.5}, r"--mfu \(mfu\) is a fraction of peak \(0-1\], got 1.5"),
        ({"chip_hours": 10, "power_w": 300, "power_fraction": 0.8}, "not both"),
        ({"tokens": 1e12}, "without parameters"),
        ({}, "not enough"),
        ({"chip_hours": 10, "intensity": 100, "mix": "coal=100"}, "not both"),
        ({"chip_hours": 10, "pue": 0.9}, "PUE"),
        ({"chip_hours": 10, "pue": float("inf")}, "PUE must be a finite number"),
        ({"count": 1.5, "days": 2}, "whole number"),
        ({"params": 1e300, "tokens": 1e300}, "too large"),  # 6ND overflows: an error, never Infinity in JSON
        # FLOPs far below 6·N·D: a units slip, or an MoE's total parameters given as the model size
        ({"flops": 1e22, "params": 7e9, "tokens": 2e12}, "0.12x 6 x parameters x tokens.*--active-params"),
        ({"flops": 1e22, "params": 47e9, "active_params": 13e9, "tokens": 2e12}, "active parameters(?!.*MoE)"),
        # ... or far above it: no attention or recomputation reaches 12x (here a FLOPs / FLOP/s slip)
        ({"flops": 1e24, "params": 7e9, "tokens": 1e12}, "23.8x 6 x parameters x tokens.*stay below 12x"),
    ],
)
def test_conflicting_or_impossible_inputs(kw: dict[str, object], match: str) -> None:
    with pytest.raises(InputConflictError, match=match):
        estimate_training(hardware="A100", **kw)  # type: ignore[arg-type]


def test_flops_given_with_params_and_tokens_are_used_and_the_gap_is_stated() -> None:
    # FLOPs above 6·N·D are legitimate (long-context attention, recomputation): used, with the ratio shown
    fp = estimate_training(flops=1.2e23, params=7e9, tokens=2e12, hardware="A100", mfu=0.4)
    assert fp.chip_hours is not None
    assert fp.chip_hours.value == pytest.approx(1.2e23 / (312e12 * 0.4 * 3600))
    compute = next(a for a in fp.assumptions if a.what == "training compute")
    assert "1.43x 6 x parameters x tokens = 8.4e+22" in compute.value


def test_count_and_days_give_chip_hours_and_wall_time() -> None:
    fp = estimate_training(count=8, days=2, hardware="A100")
    assert fp.chip_hours is not None and fp.wall_time_h is not None
    assert fp.chip_hours.value == pytest.approx(384)
    assert fp.wall_time_h.value == pytest.approx(48)


A100_BW, V100_BW, H100_BW = 2.039e12, 0.9e12, 3.35e12  # B/s, catalogue (accelerators.csv)


def test_mfu_model_shape() -> None:
    peak = 312e12
    small = utilisation.predict_mfu(1e9, peak, A100_BW).mfu
    big = utilisation.predict_mfu(70e9, peak, A100_BW).mfu
    moe = utilisation.predict_mfu(70e9, peak, A100_BW, moe=True).mfu
    assert small.value <= big.value
    assert moe.value < big.value
    for r in (small, big, moe):
        assert 0 < r.low <= r.value <= r.high < 1


def test_only_chips_past_the_reference_ridge_lose_mfu() -> None:
    slow = utilisation.predict_mfu(70e9, 125e12, V100_BW).mfu  # V100: 139 FLOP/byte
    ref = utilisation.predict_mfu(70e9, 312e12, A100_BW).mfu  # A100 80GB: 153
    fast = utilisation.predict_mfu(70e9, 989e12, H100_BW).mfu  # H100: 295
    assert slow.value == pytest.approx(ref.value)
    assert fast.value < ref.value
    # the same peak with twice the bandwidth is easier to keep busy
    assert utilisation.predict_mfu(70e9, 989e12, 2 * H100_BW).mfu.value > fast.value


def test_chips_older_than_the_reference_lose_mfu_and_say_why() -> None:
    ref = utilisation.model_table()["mfu"]["reference"]
    assert ref["year"] == 2020  # the A100's release year, from the catalogue
    same = utilisation.predict_mfu(70e9, 125e12, V100_BW, chip_year=2020)
    older = utilisation.predict_mfu(70e9, 125e12, V100_BW, chip_year=2018)
    unknown = utilisation.predict_mfu(70e9, 125e12, V100_BW, chip_year=None)
    assert older.mfu.value < same.mfu.value == unknown.mfu.value
    assert "chip from 2018, a generation before" in older.explanation
    assert "generation before" not in same.explanation
    # through the estimator: the catalogue's year reaches the model
    v100 = estimate_training(params=70e9, tokens=1e12, hardware="V100")
    note = next(a for a in v100.assumptions if a.what.startswith("MFU"))
    assert "a generation before" in (note.note or "")


def test_small_models_lose_more_on_high_ridge_chips() -> None:
    def ratio(bw: float, peak: float) -> float:
        return (utilisation.predict_mfu(1e9, peak, bw).mfu.value /
                utilisation.predict_mfu(70e9, peak, bw).mfu.value)

    assert ratio(H100_BW, 989e12) < ratio(A100_BW, 312e12) <= 1.0


def test_unknown_bandwidth_is_taken_at_the_reference_and_said() -> None:
    est = utilisation.predict_mfu(70e9, 989e12, None)
    assert est.mfu.value == pytest.approx(utilisation.predict_mfu(70e9, 312e12, A100_BW).mfu.value)
    assert "bandwidth unpublished" in est.explanation


def test_range_comes_from_the_given_quantiles() -> None:
    est = utilisation.predict_mfu(70e9, 312e12, A100_BW, quantiles=(-0.5, 0.25)).mfu
    assert est.low == pytest.approx(est.value * math.exp(-0.5))
    assert est.high == pytest.approx(est.value * math.exp(0.25))


def test_fit_recovers_known_coefficients() -> None:
    ref = {**utilisation.model_table()["mfu"]["reference"], "params": 1e11}  # a size knee of the grid
    true = [-1.0, 0.3, -0.1, -0.2, 0.1, 0.15, 0.25, -0.2]
    rows = []
    for n in (1e9, 3e9, 1e10, 7e10, 4e11):
        for peak, bw, year in ((125e12, V100_BW, 2018), (312e12, A100_BW, 2020), (989e12, H100_BW, 2022),
                               (2250e12, 8e12, 2024)):
            for moe in (False, True):
                for step in (False, True):
                    x = utilisation.features(n, peak, bw, moe, step and moe, step, ref, year)
                    rows.append((x, math.exp(sum(b * xi for b, xi in zip(true, x, strict=True)))))
    coef = utilisation.fit_mfu(rows, ridge=0.0, huber_delta=0.15)
    assert coef == pytest.approx(true, abs=1e-6)


def test_cli_json_fields(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["estimate", "training", "--params", "7B", "--tokens", "1.4T", "--hardware", "A100",
               "--count", "1024", "--location", "FR", "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    for k in ("energy_kwh", "it_energy_kwh", "chip_hours", "operational_co2e_kg", "embodied_co2e_kg", "total_co2e_kg"):
        assert d[k + "_low"] <= d[k] <= d[k + "_high"]
    assert set(d["energy_by_component_kwh"]) >= {"gpu", "cpu", "ram", "other"}
    for part, c in d["energy_by_component_kwh"].items():  # the components' ranges beside them, as for the rest
        assert d["energy_by_component_kwh_low"][part] == c["kwh_low"] <= c["kwh"] <= c["kwh_high"]
        assert d["energy_by_component_kwh_high"][part] == c["kwh_high"]
    assert d["energy_by_component_kwh_high"]["gpu"] > d["energy_by_component_kwh_low"]["gpu"]
    assert isinstance(d["assumptions"], list) and d["assumptions"]


def test_cli_takes_a_multi_word_hardware_name_without_quotes(capsys: pytest.CaptureFixture[str]) -> None:
    outs = []
    for hw in (["TPU v4"], ["TPU", "v4"]):  # --hardware 'TPU v4' and --hardware TPU v4
        assert main(["estimate", "training", "--chip-hours", "100", "--hardware", *hw, "--count", "8",
                     "--json"]) == 0
        outs.append(json.loads(capsys.readouterr().out))
    assert outs[0] == outs[1] and "TPU v4" in outs[0]["hardware"]


def test_cli_counts_accept_suffixes(capsys: pytest.CaptureFixture[str]) -> None:
    main(["estimate", "training", "--params", "7B", "--tokens", "1.4T", "--hardware", "A100", "--mfu", "0.4",
          "--json"])
    a = json.loads(capsys.readouterr().out)
    main(["estimate", "training", "--params", "7000000000", "--tokens", "1.4e12", "--hardware", "A100", "--mfu",
          "0.4", "--json"])
    b = json.loads(capsys.readouterr().out)
    assert a["chip_hours"] == pytest.approx(b["chip_hours"])


@pytest.mark.parametrize(
    "argv",
    [
        ["--chip-hours", "1000", "--count", "10", "--days", "2", "--hardware", "A100"],
        ["--params=-7B", "--tokens", "1T", "--hardware", "A100"],
        ["--flops", "1e21", "--mfu", "0.4", "--hardware", "TPU v5e"],
        ["--flops", "1e21", "--hardware", "no-such-chip"],
        ["--params", "seven", "--tokens", "1T", "--hardware", "A100"],
        ["--count", "inf", "--days", "1", "--hardware", "A100"],  # was an OverflowError traceback
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        rc = main(["estimate", "training", *argv])
        raise SystemExit(rc)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err and len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("kw", [{"precision": 3}, {"mix": 5}, {"mix": ["coal", 100]}])
def test_api_misuse_is_a_clear_wattprint_error(kw: dict[str, object]) -> None:
    with pytest.raises(WattprintError):
        estimate_training(hardware="A100", chip_hours=10, **kw)  # type: ignore[arg-type]


def test_an_implied_mfu_outside_every_published_training_is_flagged() -> None:
    # 1e20 FLOP in a million H100-hours is an MFU of 3e-5: almost surely a units slip, said in the assumptions
    odd = estimate_training(flops=1e20, chip_hours=1e6, hardware="H100")
    flag = next(a for a in odd.assumptions if a.what == "implied MFU")
    assert "2.81e-05" in flag.value and "check the units" in (flag.note or "")
    plausible = estimate_training(flops=0.4 * 989e12 * 3600 * 1e4, chip_hours=1e4, hardware="H100")  # MFU 0.4
    assert plausible.details["mfu"].value == pytest.approx(0.4, rel=0.01)
    assert not any(a.what == "implied MFU" for a in plausible.assumptions)
    given = estimate_training(params=7e9, tokens=1e12, mfu=0.005, hardware="H100")
    assert any(a.what == "MFU given" and "check the units" in (a.note or "") for a in given.assumptions)


def test_a_nodes_power_given_as_a_chips_is_refused_and_a_high_one_noted() -> None:
    # a DGX A100 is rated 6.5 kW for 8 GPUs (~812 W each, host included): 6.5 kW "per chip" is a node's figure
    with pytest.raises(InputConflictError, match="not of a whole node"):
        estimate_training(params=7e9, tokens=1e12, hardware="A100", power_w=6500)
    high = estimate_training(params=7e9, tokens=1e12, hardware="A100", power_w=1000)
    assert any("rated to draw per accelerator" in (a.note or "") for a in high.assumptions)
    normal = estimate_training(params=7e9, tokens=1e12, hardware="A100", power_w=500)
    assert not any("rated to draw" in (a.note or "") for a in normal.assumptions)
    assert normal.it_energy_kwh.value == pytest.approx(normal.chip_hours.value * 0.5)


def test_a_power_fraction_given_in_percent_is_refused() -> None:
    with pytest.raises(InputConflictError, match="write 0.85"):
        estimate_training(params=7e9, tokens=1e12, hardware="A100", power_fraction=85)
    raised = estimate_training(params=7e9, tokens=1e12, hardware="A100", power_fraction=1.2)
    assert any("power limit was raised" in (a.note or "") for a in raised.assumptions)


def test_a_long_context_adds_causal_attention_flops_to_6nd() -> None:
    from wattprint.estimate.inference import constants, transformer_shape

    base = estimate_training(params=8e9, tokens=1e12, hardware="H100")
    short = estimate_training(params=8e9, tokens=1e12, hardware="H100", seq_len=4096)
    long = estimate_training(params=8e9, tokens=1e12, hardware="H100", seq_len=131072)
    d_model, n_layers = transformer_shape(8e9, constants()["layers_aspect_ratio"].value)
    c0 = base.details["training_flops"].value
    assert c0 == pytest.approx(6 * 8e9 * 1e12)
    assert long.details["training_flops"].value == pytest.approx(c0 + 12 * n_layers * d_model * 131072 / 2 * 1e12)
    assert 1.02 < short.details["training_flops"].value / c0 < 1.15  # small at a usual context
    assert 2.5 < long.details["training_flops"].value / c0 < 4.5  # 128k roughly triples an 8B model's compute
    assert long.chip_hours.value / base.chip_hours.value == pytest.approx(
        long.details["training_flops"].value / c0)  # same MFU: chip-hours follow the compute
    assert any(a.what == "attention compute" for a in long.assumptions)


def _flops(fp: Footprint) -> float:
    return fp.details["training_flops"].value


def _note(fp: Footprint, what: str) -> str | None:
    return next((f"{a.value} | {a.note}" for a in fp.assumptions if a.what == what), None)


def test_a_named_models_layers_set_its_attention_flops() -> None:
    # GPT-2 124M has 12 layers of 12 heads x 64; the shape rule gives a model of its size 9 layers: its own are used
    named = estimate_training(model="gpt2", tokens=1e10, hardware="H100", seq_len=1024)
    n = named.details["training_flops"].value - 6 * 1.244e8 * 1e10
    assert n == pytest.approx(12 * 12 * (12 * 64) * 512 * 1e10, rel=1e-9)
    assert "12 x 12 layers" in (_note(named, "attention compute") or "")


def test_a_named_models_query_heads_set_its_attention_width() -> None:
    # Llama 2 7B: 32 layers of 32 query heads x 128 (N = 12 L d^2 would say 4,190 wide); at a 4,096 context a token
    # attends to 2,048 tokens on average
    fp = estimate_training(model="Llama-2-7b", tokens=1e10, hardware="H100", seq_len=4096)
    assert _flops(fp) - 6 * 6.74e9 * 1e10 == pytest.approx(12 * 32 * (32 * 128) * 2048 * 1e10, rel=1e-12)
    note = _note(fp, "attention compute") or ""
    assert "4096 width" in note and "32 query heads x 128 from its config" in note and "N = 12" not in note, note
    taken = next(a.note for a in fp.assumptions if a.what == "model") or ""
    assert "heads, head_dim" in taken, taken  # the model note says the heads were taken from it


@pytest.mark.parametrize(("model", "n_active", "layers", "width"), [
    ("gemma-2-2b", 2.61e9, 26, 8 * 256),  # 256k vocabulary: N = 12 L d^2 says 2,892 wide
    ("Mixtral-8x7B-v0.1", 12.9e9, 32, 32 * 128),  # active experts' MLPs in N: it says 5,796 wide
])
def test_the_config_width_is_used_where_n_12ld2_would_overstate_it(model: str, n_active: float, layers: int,
                                                                    width: int) -> None:
    fp = estimate_training(model=model, tokens=1e10, hardware="H100", seq_len=4096)
    derived = math.sqrt(n_active / (12 * layers))
    assert derived > 1.3 * width  # the case this guards: the parameters' width is far off the attention's
    # Gemma 2 2B's 4,096-token window covers a 4,096 context: 2,048 attended on average in every layer, as Mixtral's
    assert _flops(fp) - 6 * n_active * 1e10 == pytest.approx(12 * layers * width * 2048 * 1e10, rel=1e-12)


def test_latent_attention_runs_at_the_mean_of_its_query_key_and_value_widths() -> None:
    from wattprint.estimate.model_preset import apply_model

    # DeepSeek-V3's latent attention: 61 layers of 128 query heads, Q/K heads 192 wide (128 + 64 RoPE), V heads 128:
    # QK^T at 128 x 192, AV at 128 x 128, each half of 12 L d attended; N = 12 L d^2 would say 2,245 wide, not 20,480
    preset = apply_model("DeepSeek-V3", None, None, shape=True)
    assert (preset.heads, preset.head_dim, preset.qk_head_dim, preset.v_head_dim) == (128, None, 192, 128)
    fp = estimate_training(model="DeepSeek-V3", tokens=1e10, hardware="H100", seq_len=4096)
    assert _flops(fp) - 6 * 37e9 * 1e10 == pytest.approx(12 * 61 * (128 * (192 + 128) / 2) * 2048 * 1e10, rel=1e-12)
    note = _note(fp, "attention compute") or ""
    assert "20480 width" in note and "128 query heads x (192 query/key + 128 value) / 2" in note, note
    assert "N = 12" not in note, note
    # serving takes them too (prefill's attention), and the latent's width (absorbed decode); training does not
    served = apply_model("DeepSeek-V3", None, None, serving=True)
    assert (served.qk_head_dim, served.v_head_dim, served.kv_latent_dim) == (192, 128, 512)
    assert preset.kv_latent_dim is None


def test_a_model_without_a_head_width_keeps_the_width_its_parameters_give() -> None:
    from wattprint.estimate.model_preset import Preset
    from wattprint.estimate.training_compute import training_flops

    # a model shape without heads at all (layers only): N = 12 L d^2
    flops, _, notes = training_flops(None, 8e9, None, 1e10, 4096, Preset(8e9, None, layers=32, name="x"))
    assert flops == pytest.approx(6 * 8e9 * 1e10 + 12 * 32 * math.sqrt(8e9 / (12 * 32)) * 2048 * 1e10, rel=1e-12)
    assert any("width from N = 12 x layers" in (n.note or "") for n in notes)


def test_a_sliding_window_caps_the_attention_a_training_context_adds() -> None:
    # Mistral 7B attends to 4,096 tokens in every layer: at a 32k context its attention is ~8x below full attention's
    windowed = estimate_training(model="Mistral-7B-v0.1", tokens=1e10, hardware="H100", seq_len=32768)
    full = estimate_training(model="Llama-2-7b", tokens=1e10, hardware="H100", seq_len=32768)
    ratio = (_flops(full) - 6 * 6.74e9 * 1e10) / (_flops(windowed) - 6 * 7.24e9 * 1e10)
    assert 3.5 < ratio < 5.0  # 16,384 vs 3,840 tokens attended on average, at similar widths
    assert "attends to at most 4,096 tokens" in (_note(windowed, "attention compute") or "")


@pytest.mark.parametrize(("model", "seq_len", "said"), [
    ("gpt2", 4096, "past every window of GPT-2 124M (1,024)"),
    ("Llama-2-7b", 8192, "past every window of Llama 2 7B (4,096)"),
    ("Qwen3-8B", 65536, "within the 131,072 tokens"),
    ("Llama-3.1-8B", 131072, None),
    ("gpt2", 1024, None),
])
def test_a_training_context_past_the_named_models_window_is_said_not_refused(model: str, seq_len: int,
                                                                            said: str | None) -> None:
    fp = estimate_training(model=model, tokens=1e10, hardware="H100", seq_len=seq_len)
    note = _note(fp, "context window")
    if said is None:
        assert note is None
    else:
        assert note is not None and said in note, note
    assert _note(estimate_training(model=model, tokens=1e10, hardware="H100"), "context window") is None


def test_a_context_the_named_model_documents_is_never_refused_as_a_unit_error() -> None:
    # Qwen3-30B-A3B: 3.3B active parameters, 48 layers x 32 heads x 128; its 2507 release reaches 262,144 tokens,
    # where attention brings the compute to ~17x 6ND, past the bound that catches a context in the wrong units
    fp = estimate_training(model="Qwen3-30B-A3B", tokens=1e9, hardware="H100", seq_len=262144)
    six_nd = estimate_training(model="Qwen3-30B-A3B", tokens=1e9, hardware="H100")
    assert _flops(fp) / _flops(six_nd) > 12
    assert "within the 262,144 tokens" in (_note(fp, "context window") or "")
    with pytest.raises(InputConflictError, match="check the units"):  # past every window it documents: refused
        estimate_training(model="Qwen3-30B-A3B", tokens=1e9, hardware="H100", seq_len=1_000_000)


def test_a_context_length_without_tokens_names_only_what_is_missing() -> None:
    with pytest.raises(InputConflictError) as e:  # the parameters came from the model
        estimate_training(model="Mistral-7B-v0.1", hardware="H100", seq_len=8192)
    assert "needs --tokens (tokens=...) too" in str(e.value) and "--params" not in str(e.value)


def test_a_dated_release_the_data_do_not_know_is_said_only_with_a_context() -> None:
    with_context = estimate_training(model="OLMo-7B-0724", tokens=1e10, hardware="H100", seq_len=8192)
    assert "not checked for the 0724 release" in (_note(with_context, "context window") or "")
    without = estimate_training(model="OLMo-7B-0724", tokens=1e10, hardware="H100")
    assert _note(without, "context window") is None
    # nor does the model note claim a shape it did not use
    taken = next(a.note for a in without.assumptions if a.what == "model") or ""
    assert taken.startswith("taken from it: params") and "layers" not in taken, taken


@pytest.mark.parametrize("kw", [{"flops": 1e23, "params": 8e9, "tokens": 1e12}, {"chip_hours": 1000, "count": 8}])
def test_a_context_length_without_params_and_tokens_or_with_flops_is_a_clear_error(kw: dict[str, float]) -> None:
    with pytest.raises(InputConflictError, match="context length"):
        estimate_training(hardware="H100", seq_len=8192, **kw)  # type: ignore[arg-type]


def test_cli_seq_len(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["estimate", "training", "--params", "8B", "--tokens", "1T", "--hardware", "H100", "--seq-len", "128k",
               "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert any(a["what"] == "attention compute" for a in d["assumptions"])


@pytest.mark.parametrize("precision", ["fp32", "tf32"])
def test_slower_precision_takes_longer_and_never_needs_more_than_its_peak(precision: str) -> None:
    kw = {"params": 7e9, "tokens": 2e12, "hardware": "A100", "count": 64}
    fast = estimate_training(**kw)
    slow = estimate_training(precision=precision, **kw)
    assert slow.chip_hours is not None and fast.chip_hours is not None
    mfu = slow.details["mfu"]
    assert 0 < mfu.low <= mfu.value <= mfu.high <= 1
    assert slow.chip_hours.value > 1.5 * fast.chip_hours.value
    assert any(a.what == "MFU at a slower precision" for a in slow.assumptions)
    # its own chip-hours read back as a possible run at that precision
    again = estimate_training(flops=6 * 7e9 * 2e12, chip_hours=slow.chip_hours.value, hardware="A100",
                              precision=precision)
    assert again.details["mfu"].value == pytest.approx(mfu.value)


@pytest.mark.parametrize("hardware", ["H100", "B200", "L40S", "MI300X", "A100", "V100"])
@pytest.mark.parametrize("params", [1e8, 1e9, 7e9, 70e9])
@pytest.mark.parametrize("precision", ["fp32", "tf32"])
def test_a_slower_precision_is_never_faster_nor_cheaper_than_the_default(hardware: str, params: float,
                                                                        precision: str) -> None:
    # a lower peak lowers the chip's ridge point, where the MFU model has no bandwidth penalty: without a cap a
    # 1B training on an H100 came out 28 % faster in tf32 than in bf16
    kw = {"params": params, "tokens": 1e12, "hardware": hardware, "count": 64, "pue": 1.1, "intensity": 300}
    default = estimate_training(**kw)
    try:
        slow = estimate_training(precision=precision, **kw)
    except WattprintError:
        return  # the chip has no such precision: said, not estimated
    assert slow.chip_hours is not None and default.chip_hours is not None
    for field in ("low", "value", "high"):
        assert getattr(slow.chip_hours, field) >= getattr(default.chip_hours, field) * (1 - 1e-9)
    assert slow.energy_kwh.value >= default.energy_kwh.value * (1 - 1e-9)
    mfu = slow.details["mfu"]
    assert 0 < mfu.low <= mfu.value <= mfu.high <= 1


def test_a_given_mfu_that_agrees_with_flops_and_chip_hours_is_said() -> None:
    fp = estimate_training(flops=1e23, chip_hours=3.2e5, mfu=0.28, hardware="NVIDIA A100 SXM4 80GB")
    said = [a for a in fp.assumptions if a.what == "MFU"]
    assert len(said) == 1 and said[0].value.startswith("0.28 given") and "imply 0.278" in said[0].value


@pytest.mark.parametrize("key", ["intensity", "market_intensity"])
def test_a_negative_zero_intensity_is_zero(key: str) -> None:
    fp = estimate_training(params=1e9, tokens=1e12, hardware="H100", **{key: -0.0})
    figures = json.dumps(fp.to_dict())
    assert "-0.0" not in figures and "-0 " not in fp.table()


def test_chip_hours_over_days_give_average_chips_busy_not_a_count() -> None:
    fp = estimate_training(chip_hours=1000, days=10, hardware="A100")
    assert "count" not in fp.details
    assert fp.details["average_chips_busy"] == pytest.approx(1000 / 240)
    assert fp.wall_time_h is not None and fp.wall_time_h.value == pytest.approx(240)
    # under one chip busy over the days given: the days are the wall time, which a training fills on whole chips
    with pytest.raises(InputConflictError, match=r"--chip-hours 1 over --days 30 is 0\.0014 chips: fewer than one"):
        estimate_training(chip_hours=1, days=30, hardware="A100")


def test_power_below_idle_is_noted_and_far_below_is_a_unit_slip() -> None:
    kw = {"params": 7e9, "tokens": 2e12, "hardware": "A100", "count": 64}
    with pytest.raises(InputConflictError, match="far below"):
        estimate_training(power_w=0.4, **kw)  # 0.4 kW typed as W
    low = estimate_training(power_w=15, **kw)
    assert any("draws idle" in a.note for a in low.assumptions)
    assert not any("draws idle" in a.note for a in estimate_training(power_w=330, **kw).assumptions)
    frac = estimate_training(power_fraction=0.01, **kw)
    assert any("draws idle" in a.note for a in frac.assumptions)


def test_a_mix_keeps_the_location_it_replaces_and_an_unused_mfu_is_said() -> None:
    fp = estimate_training(params=7e9, tokens=2e12, hardware="A100", count=8, mix="coal=100", location="FR")
    assert fp.intensity.location.startswith("FRA") and "coal" in fp.intensity.location
    with pytest.raises(WattprintError, match="closest valid names"):
        estimate_training(params=7e9, tokens=2e12, hardware="A100", count=8, mix="coal=100", location="Frnace")
    unused = estimate_training(chip_hours=1000, hardware="A100", mfu=0.4)
    assert any(a.what == "MFU" and "not used" in a.value for a in unused.assumptions)


def test_counts_below_one_are_refused_and_sizes_outside_the_fit_are_flagged() -> None:
    for kw in ({"params": 0.5, "tokens": 2e12}, {"params": 7e9, "tokens": 0.5},
               {"params": 7e9, "active_params": 0.2, "tokens": 2e12}):
        with pytest.raises(InputConflictError, match="is a count"):
            estimate_training(hardware="A100", count=8, **kw)  # type: ignore[arg-type]
    lo, hi = utilisation.fitted_size_span()
    inside = estimate_training(params=7e9, tokens=2e12, hardware="A100", count=8)
    outside = estimate_training(params=hi * 10, tokens=2e12, hardware="A100", count=16384)
    mfu_note = [a.note for a in outside.assumptions if a.what.startswith("MFU")]
    assert any("EXTRAPOLATED" in n for n in mfu_note)
    assert not any("EXTRAPOLATED" in a.note for a in inside.assumptions)
    assert lo < 7e9 < hi


def test_a_blank_location_is_no_location_for_intensity_and_pue_alike() -> None:
    kw = {"params": 7e9, "tokens": 1e12, "hardware": "A100", "count": 8}
    none = estimate_training(**kw)
    for blank in ("", " ", "\t"):
        fp = estimate_training(location=blank, **kw)
        assert fp.operational_co2e_kg == none.operational_co2e_kg and fp.pue == none.pue


def test_flops_alone_are_enough_with_an_mfu_range_over_model_sizes_and_stay_linear() -> None:
    a = estimate_training(flops=1e22, hardware="H100", count=64)
    b = estimate_training(flops=3e22, hardware="H100", count=64)
    assert a.chip_hours is not None and b.chip_hours is not None
    assert b.chip_hours.value == pytest.approx(3 * a.chip_hours.value)
    assert b.energy_kwh.high == pytest.approx(3 * a.energy_kwh.high)
    mfu = a.details["mfu"]
    lo_n, _ = utilisation.fitted_size_span()
    for n in (lo_n, 1e9, 7e9, 70e9):  # whatever the size turns out to be, its central MFU is inside the range
        sized = estimate_training(flops=1e22, params=n, tokens=1e22 / (6 * n), hardware="H100", count=64)
        assert mfu.low <= sized.details["mfu"].value <= mfu.high
    assert any("model size not given" in x.note for x in a.assumptions)


def test_the_host_load_factor_is_flagged_uncertain_in_the_assumptions() -> None:
    fp = estimate_training(chip_hours=1000, hardware="H100")
    host = next(a for a in fp.assumptions if a.what.startswith("host power per accelerator"))
    assert "UNCERTAIN" in host.note and "midpoint" in host.note


def _host_w(fp: Footprint) -> float:
    assert fp.chip_hours is not None
    return sum(fp.energy_by_component_kwh[k].kwh.value for k in ("cpu", "ram", "other")) * 1000 / fp.chip_hours.value


def test_a_pcie_card_gets_a_host_share_of_its_own_tdp_not_a_dgx_modules() -> None:
    """The DGX A100/H100 host (412 / 575 W rated per SXM module) went with every chip of the architecture: an A10
    (150 W) drew 248 W of host per card, 2.5x the card, and an H100 PCIe (350 W) 345 W. A PCIe, workstation or
    consumer card gets the generic host share of its own TDP; the SXM modules keep their DGX's."""
    sxm = estimate_training(chip_hours=1000, hardware="H100")
    pcie = estimate_training(chip_hours=1000, hardware="H100 PCIe")
    a10 = estimate_training(chip_hours=1000, hardware="A10")
    a100 = estimate_training(chip_hours=1000, hardware="A100")
    g = utilisation.model_table()["power"]["host"]["generic_ratio_of_tdp"]
    load = utilisation.model_table()["power"]["host"]["load"]["value"]
    share = load * sum(g[k] for k in ("cpu", "ram", "other"))
    assert _host_w(pcie) == pytest.approx(share * 350) and _host_w(a10) == pytest.approx(share * 150)
    assert _host_w(a10) < 150 < _host_w(a100) and _host_w(pcie) < 0.6 * _host_w(sxm)
    note = next(a for a in a10.assumptions if a.what.startswith("host power per accelerator")).note
    assert "not the NVIDIA DGX A100" in note
    assert "DGX H100 rated" in next(a for a in sxm.assumptions if a.what.startswith("host power per accelerator")).note


def test_a_chip_whose_parts_software_counts_says_what_its_count_counts() -> None:
    """An MI250X package is 2 GCDs that ROCm lists as 2 GPUs, a TPU v3 chip 2 TensorCores that slice names count:
    the count's unit is said with its parts, so a count of GCDs or of a slice name's cores is caught by the reader."""
    fp = estimate_training(params=7e9, tokens=2e12, hardware="MI250X", count=1024)
    note = next(a for a in fp.assumptions if a.what == "what a count counts")
    assert note.value == "1024 AMD Instinct MI250X packages (2048 GCDs)" and "half" in note.note
    tpu = estimate_training(params=7e9, tokens=2e12, hardware="TPU v3", count=256, power_w=300)
    assert any(a.value == "256 Google TPU v3 chips (512 TensorCores)" and "v3-8 is 4 chips" in a.note
               for a in tpu.assumptions)
    # a chip counted as software counts it says nothing
    h100 = estimate_training(params=7e9, tokens=2e12, hardware="H100", count=8)
    assert not any(a.what == "what a count counts" for a in h100.assumptions)


def _watts_per_chip(hardware: str) -> dict[str, float]:
    """Central W per chip by component: the kWh of 1000 chip-hours."""
    fp = estimate_training(chip_hours=1000, hardware=hardware)
    return {k: c.kwh.value for k, c in fp.energy_by_component_kwh.items()}


def test_a_gh200_module_holds_its_gpu_and_its_grace_cpu_once() -> None:
    """The GH200 datasheet's 1000 W is the whole module: Grace CPU, GPU, HBM and LPDDR5X (configurable 450-1000 W).
    Charging it to the accelerator and a server's CPU and RAM on top counted the Grace CPU and its memory twice, so
    what sits on the module came to more than the module's maximum. The GPU is charged its own power and the module's
    Grace CPU (its LPDDR5X included) is the host's CPU and RAM."""
    w = _watts_per_chip("GH200")
    assert w["gpu"] + w["cpu"] + w["ram"] <= 1000  # everything on the module, within the module's maximum
    assert w["ram"] == 0  # the LPDDR5X is inside the Grace figure, not RAM W/GB on top
    assert w["gpu"] == pytest.approx(_watts_per_chip("H100")["gpu"])  # the same H100 GPU at its 700 W rating
    fp = estimate_training(chip_hours=1000, hardware="GH200")
    (tdp,) = [a for a in fp.assumptions if a.what == "TDP"]
    assert tdp.value.startswith("700 (680") and "whole Grace Hopper module" in tdp.note
    assert fp.energy_by_component_kwh["gpu"].kwh.high <= 900  # at most the GPU power limit NVML reports on GH200
    (host,) = [a for a in fp.assumptions if a.what.startswith("host power")]
    assert "CPU and memory on the module" in host.note


def test_a_gb200_host_cpu_is_its_superchips_grace_shared_by_its_two_gpus() -> None:
    """GB200: one Grace CPU (with its LPDDR5X) serves the 2 B200 GPUs of a superchip, so each GPU's host CPU is half
    the Grace a GH200's GPU has to itself, and no server DDR is added."""
    gb200, gh200 = _watts_per_chip("GB200"), _watts_per_chip("GH200")
    assert gb200["cpu"] == pytest.approx(gh200["cpu"] / 2) and gb200["ram"] == 0



@pytest.mark.parametrize("hardware", ["H100", "H200", "B200", "GH200"])
@pytest.mark.parametrize("params", [1e6, 3e7, 1.24e8, 1e9, 3e9, 8e9, 70e9])
def test_a_chip_with_more_peak_and_bandwidth_than_the_a100_never_trains_slower(hardware: str, params: float) -> None:
    # the fitted size-ridge interaction is a straight line in log size: below a few hundred million parameters it
    # said an H100 reaches fewer FLOP/s than an A100 (a 124M model: 22.5 chip-hours on H100 against 17.4 on A100)
    kw = {"params": params, "tokens": 1e10, "count": 8}
    a100 = estimate_training(hardware="A100", **kw)
    newer = estimate_training(hardware=hardware, **kw)
    assert a100.chip_hours is not None and newer.chip_hours is not None
    assert newer.chip_hours.value <= a100.chip_hours.value * (1 + 1e-9)


def test_the_floor_at_the_a100_is_said_where_it_applies() -> None:
    mfu = next(a for a in estimate_training(params=1.24e8, tokens=1e10, hardware="H100", count=8).assumptions
               if a.what.startswith("MFU"))
    assert "not taken to train slower" in (mfu.note or "") and "A100" in (mfu.note or "")
    big = next(a for a in estimate_training(params=70e9, tokens=1e12, hardware="H100", count=8).assumptions
               if a.what.startswith("MFU"))
    assert "not taken to train slower" not in (big.note or "")  # a 70B model is faster on the H100 anyway


@pytest.mark.parametrize("hardware", ["A100", "H100", "B200"])
@pytest.mark.parametrize("params", [1.24e8, 1e9, 8e9, 70e9])
def test_tf32_takes_twice_the_bf16_chip_hours(hardware: str, params: float) -> None:
    # tf32 has half the bf16 tensor peak and its tensors take twice the bytes: in the compute-bound and the
    # memory-bound regime alike it reaches half the FLOP/s (the H100 once came out 1.07x slower, not 2x: its lower
    # tf32 peak moved the ridge point below the A100's, where the model has no bandwidth penalty)
    kw = {"params": params, "tokens": 1e11, "hardware": hardware, "count": 64}
    bf16 = estimate_training(**kw)
    tf32 = estimate_training(precision="tf32", **kw)
    assert bf16.chip_hours is not None and tf32.chip_hours is not None
    assert tf32.chip_hours.value == pytest.approx(2 * bf16.chip_hours.value, rel=0.02)


@pytest.mark.parametrize("hardware", ["L40S", "L4", "H100 PCIe", "A10", "A40", "H100", "A100"])
@pytest.mark.parametrize("params", [1e7, 1e8, 1.24e8, 1e9, 8e9])
def test_tf32_never_trains_slower_than_fp32_on_the_same_chip(hardware: str, params: float) -> None:
    # tf32 runs any fp32 training; compared per element, both carry a bandwidth-poor chip's penalty, and tf32 came
    # out 2x slower than fp32 on an L40S at 100M parameters
    kw = {"params": params, "tokens": 1e10, "hardware": hardware, "count": 8}
    try:
        fp32 = estimate_training(precision="fp32", **kw)
        tf32 = estimate_training(precision="tf32", **kw)
    except WattprintError:
        pytest.skip(f"{hardware} lacks one of the two precisions")
    assert fp32.chip_hours is not None and tf32.chip_hours is not None
    for field in ("low", "value", "high"):
        assert getattr(tf32.chip_hours, field) <= getattr(fp32.chip_hours, field) * (1 + 1e-9)


def test_the_ridge_said_for_tf32_is_per_element() -> None:
    mfu = next(a for a in estimate_training(params=1.24e8, tokens=1e10, hardware="H100", count=8,
                                            precision="tf32").assumptions if a.what.startswith("MFU ("))
    assert "at the A100's 2 bytes a value (1.9x the A100's)" in (mfu.note or "")


@pytest.mark.parametrize("hardware", ["H100 PCIe", "L40S", "L4", "A10", "A100 SXM4 40GB", "A100 PCIe 80GB"])
@pytest.mark.parametrize("params", [1e7, 1.24e8, 1e9])
def test_no_chip_trains_slower_than_the_a100_scaled_by_its_smaller_share_of_peak_and_bandwidth(
        hardware: str, params: float) -> None:
    # the roofline of a chip with a share s of both the A100's peak and bandwidth is s times the A100's: the H100 PCIe
    # (2.4x the peak, 0.98x the bandwidth) came out at 0.35x the A100's FLOP/s at 124M parameters
    from wattprint.data.hardware_names import find_accelerator

    kw = {"params": params, "tokens": 1e10, "count": 8}
    a100 = estimate_training(hardware="NVIDIA A100 SXM4 80GB", **kw)
    chip = estimate_training(hardware=hardware, **kw)
    ref, acc = find_accelerator("NVIDIA A100 SXM4 80GB")[0], find_accelerator(hardware)[0]
    share = min(1.0, acc.peak_flops("bf16") / ref.peak_flops("bf16"), acc.memory_bandwidth() / ref.memory_bandwidth())
    assert a100.chip_hours is not None and chip.chip_hours is not None
    assert chip.chip_hours.value <= a100.chip_hours.value / share * (1 + 1e-6)


def test_the_json_of_a_training_estimate_has_the_same_keys_with_or_without_a_chip_count() -> None:
    # without --count there is no wall time: its keys are null, not missing (a reader expects one schema)
    without = estimate_training(params=1e9, tokens=2e10, hardware="A100").to_dict()
    with_count = estimate_training(params=1e9, tokens=2e10, hardware="A100", count=8).to_dict()
    figures = {k[:-4] for k in with_count if k.endswith("_low")}
    assert "wall_time_h" in figures and all(f in without for f in figures)
    assert without["wall_time_h"] is None and without["wall_time_h_low"] is None
    assert with_count["wall_time_h"] == pytest.approx(with_count["chip_hours"] / 8)


def test_an_fp8_mfu_note_says_its_factors_are_of_the_bf16_peak() -> None:
    # the value read "0.17 of the fp8 peak" beside factors that multiply to 0.34: the model's MFU is of the bf16 peak
    mfu = next(a for a in estimate_training(params=70e9, tokens=1e12, hardware="H100", count=1024,
                                            precision="fp8").assumptions if a.what.startswith("MFU"))
    of_fp8 = float(mfu.value.split()[0])
    said = re.match(r"([\d.]+) of the bf16 peak, the one the model is fitted against .* is 0\.5x that as a share of "
                    r"the fp8 peak: ", mfu.note)
    assert said is not None, mfu.note
    assert float(said.group(1)) == pytest.approx(2 * of_fp8, rel=0.02)
