"""Chips newer than the shared table, in the catalogue: AMD Instinct MI350X / MI355X (CDNA 4), NVIDIA B100, AWS
Trainium3 and Huawei Ascend 910C. The names people and drivers use resolve to them, each row carries its source, year
and what is unconfirmed, and the estimators run on them (asking for the power where no vendor publishes a TDP)."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.data import accelerators_per_server, embodied_accelerator, find_accelerator
from wattprint.estimate.serving_chip import family_efficiency

from .sourcing import sourced_uncertain_row

MI355X = "AMD Instinct MI355X"
MI350X = "AMD Instinct MI350X"
B100 = "NVIDIA B100 (HGX)"
TRN3 = "AWS Trainium3 (Trn3)"
ASCEND_910C = "Huawei Ascend 910C"


@pytest.mark.parametrize(("query", "expected"), [
    ("MI355X", MI355X), ("mi355x", MI355X), ("Instinct MI355X", MI355X),
    ("AMD Instinct MI355X", MI355X), ("AMD Instinct MI355X OAM", MI355X),  # amdsmi market names
    ("AMD Instinct MI355X VF", MI355X),  # an SR-IOV virtual function in a cloud VM
    ("MI350X", MI350X), ("AMD Instinct MI350X", MI350X),
    ("B100", B100), ("HGX B100", B100), ("NVIDIA B100", B100),
    ("Trainium3", TRN3), ("Trn3", TRN3), ("AWS Trainium3", TRN3),
    ("Ascend 910C", ASCEND_910C), ("910C", ASCEND_910C), ("Ascend910C", ASCEND_910C),
])
def test_the_names_resolve(query: str, expected: str) -> None:
    """MI355X was answered with 'closest valid names: AMD Instinct MI325X, ...', B100 with the B200 and B300,
    Trainium3 with Trainium2 and Ascend 910C with the 910 and 910B."""
    assert find_accelerator(query)[0].name == expected


def test_the_two_cdna4_parts_differ_in_clock_and_power_only() -> None:
    """The same die: the MI355X at 2.4 GHz and 1400 W (liquid), the MI350X at 2.2 GHz and 1000 W (air)."""
    hi, lo = find_accelerator("MI355X")[0], find_accelerator("MI350X")[0]
    assert (hi.tdp_w, lo.tdp_w) == (1400, 1000)
    assert hi.memory_gb == lo.memory_gb == 288 and hi.memory_bw_tbs == lo.memory_bw_tbs == 8.0
    assert hi.peak_flops("bf16") / lo.peak_flops("bf16") == pytest.approx(2.4 / 2.2, rel=0.01)
    # FP8 from the per-CU rate AMD gave at ISSCC 2026: 8,192 FLOP per clock x 256 CUs x 2.4 GHz
    assert hi.peak_flops("fp8") == pytest.approx(8192 * 256 * 2.4e9, rel=1e-3)
    assert hi.peak_flops("fp8") == pytest.approx(2 * hi.peak_flops("bf16"), rel=1e-3)
    assert hi.peak_flops("bf16") > 1.9 * find_accelerator("MI325X")[0].peak_flops("bf16")  # CDNA 4 doubled it


def test_no_tf32_peak_is_invented(capsys: pytest.CaptureFixture[str]) -> None:
    """No TF32 peak was read for CDNA 4: asking for tf32 is an error naming what the chip has, not a guess."""
    code = main(["estimate", "training", "--params", "7B", "--tokens", "1T", "--hardware", "MI355X",
                 "--precision", "tf32"])
    assert code == 2
    assert "AMD Instinct MI355X has no published dense tf32 peak (it has: bf16, fp16, fp32, fp8)" in \
        capsys.readouterr().err


@pytest.mark.parametrize(("name", "year", "cited"), [
    (MI355X, 2025, "row 'AMD Instinct MI355X'"),
    (MI350X, 2025, "row 'AMD Instinct MI350X'"),
    (B100, 2024, "row 'NVIDIA B100'"),
    (TRN3, 2025, "AWS Neuron documentation, 'Trainium3 Architecture'"),
    (ASCEND_910C, 2024, "row 'Huawei Ascend 910C'"),
])
def test_each_row_carries_its_source_a_year_and_what_is_unconfirmed(name: str, year: int, cited: str) -> None:
    acc = sourced_uncertain_row(name, year, cited)
    assert "Epoch AI ML Hardware dataset (CC BY 4.0)" in acc.source


def test_servers_hold_eight_and_embodied_is_a_flagged_fallback_or_proxy() -> None:
    for name in (MI355X, MI350X, B100):
        assert accelerators_per_server(find_accelerator(name)[0]) == 8
    amd = embodied_accelerator(find_accelerator("MI355X")[0])
    assert amd.kg_per_unit.value == 150 and "class default" in amd.note  # no AMD footprint published
    b100 = embodied_accelerator(find_accelerator("B100")[0])
    assert b100.kg_per_unit.value == pytest.approx(2274 / 8, rel=1e-3) and "UNCERTAIN" in b100.note


def test_the_b100_is_a_blackwell_for_serving() -> None:
    """Its family carries the Blackwell serving factor, as the B200's does; the AMD parts get none."""
    assert family_efficiency(find_accelerator("B100")[0].family) == family_efficiency(
        find_accelerator("B200")[0].family) is not None
    assert family_efficiency(find_accelerator("MI355X")[0].family) is None


@pytest.mark.parametrize("hardware", ["MI355X", "MI350X", "B100"])
def test_training_and_serving_are_estimated(hardware: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "training", "--params", "70B", "--tokens", "2T", "--hardware", hardware,
                 "--count", "512", "--json"]) == 0
    train = json.loads(capsys.readouterr().out)
    assert train["total_co2e_kg"] > 0 and train["chip_hours_low"] < train["chip_hours"] < train["chip_hours_high"]
    assert main(["estimate", "inference", "--params", "70B", "--hardware", hardware, "--count", "2",
                 "--requests-per-day", "10000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_co2e_kg"] > 0


def test_more_board_power_for_the_same_work_costs_more_energy(capsys: pytest.CaptureFixture[str]) -> None:
    """The MI355X does the training ~9 % sooner at 40 % more power than the MI350X: more energy, not less."""
    out = {}
    for hardware in ("MI355X", "MI350X"):
        assert main(["estimate", "training", "--params", "70B", "--tokens", "2T", "--hardware", hardware,
                     "--count", "512", "--json"]) == 0
        out[hardware] = json.loads(capsys.readouterr().out)
    assert out["MI355X"]["chip_hours"] < out["MI350X"]["chip_hours"]
    assert out["MI355X"]["it_energy_kwh"] > out["MI350X"]["it_energy_kwh"]


def test_trainium3_peaks_are_aws_own_and_its_memory_is_in_gb() -> None:
    trn3 = find_accelerator("Trainium3")[0]
    assert trn3.peak_flops("bf16") == pytest.approx(671e12) and trn3.peak_flops("fp8") == pytest.approx(2517e12)
    assert trn3.memory_gb == pytest.approx(144 * 2**30 / 1e9, abs=0.1)  # AWS gives 144 GiB
    assert trn3.memory_bandwidth() == pytest.approx(4.9e12)


@pytest.mark.parametrize(("hardware", "estimate"), [("Trainium3", 700), ("Ascend 910C", 700)])
def test_an_analysts_tdp_is_no_default_the_power_is_asked_for(
        hardware: str, estimate: float, capsys: pytest.CaptureFixture[str]) -> None:
    """Neither AWS nor Huawei publishes these chips' TDP: the tabulated ~700 W is shown in the error that asks for
    the power, not silently used (as for Trainium2); with the power given, both estimators run."""
    acc = find_accelerator(hardware)[0]
    assert acc.tdp_w is None and acc.tdp_estimate_w() == estimate
    train = ["estimate", "training", "--params", "70B", "--tokens", "2T", "--hardware", hardware, "--count", "512"]
    assert main(train) == 2
    err = capsys.readouterr().err
    assert f"{acc.name} has no published TDP (~{estimate} W is only an analyst's estimate)" in err
    assert "--power-w" in err and "Traceback" not in err
    assert main([*train, "--power-w", "700", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_co2e_kg"] > 0
    serve = ["estimate", "inference", "--params", "70B", "--hardware", hardware, "--count", "2"]
    assert main(serve) == 2 and "--tdp-w" in capsys.readouterr().err
    assert main([*serve, "--tdp-w", "700", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_co2e_kg"] > 0


@pytest.mark.parametrize(("query", "expected"), [
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "NVIDIA RTX PRO 6000 Blackwell"),  # nvidia-smi's names
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "NVIDIA RTX PRO 6000 Blackwell"),
    ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "NVIDIA RTX PRO 6000 Blackwell Max-Q"),
    ("RTX PRO 6000", "NVIDIA RTX PRO 6000 Blackwell"),  # the family: its 600 W editions, ranged over the Max-Q
    ("RTX Pro 6000 Max-Q", "NVIDIA RTX PRO 6000 Blackwell Max-Q"),
])
def test_rtx_pro_6000_names_resolve(query: str, expected: str) -> None:
    """Every spelling was unknown ('closest valid names: NVIDIA RTX A6000, ...'), so a tracked run on the card had no
    embodied or TDP data and an estimate could not name it."""
    assert find_accelerator(query)[0].name == expected


def test_rtx_pro_6000_peaks_follow_nvidias_fp4_figure_and_the_max_q_its_clock() -> None:
    card, max_q = find_accelerator("RTX PRO 6000 Blackwell")[0], find_accelerator("RTX PRO 6000 Max-Q")[0]
    # NVIDIA's 4,000 AI TOPS (FP4, sparse) = 8 x the dense bf16 rate on Blackwell; full-rate FP32 accumulate
    assert card.peak_flops("bf16") == pytest.approx(4000e12 / 8, rel=0.01)
    assert card.peak_flops("fp8") == pytest.approx(2 * card.peak_flops("bf16"))
    assert (card.tdp_w, max_q.tdp_w, card.memory_gb, card.memory_bw_tbs) == (600, 300, 96, 1.792)
    assert max_q.peak_flops("bf16") / card.peak_flops("bf16") == pytest.approx(110.1 / 125.95, rel=1e-3)
    assert family_efficiency(card.family) is not None  # a Blackwell chip for serving
