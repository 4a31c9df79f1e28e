"""Huawei Ascend 910 / 910B and NVIDIA Blackwell Ultra (B300, GB300) in the catalogue: the names people use resolve
to them, each row carries its source, year and what is unconfirmed, and the estimators run on them."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.data import accelerators_per_server, embodied_accelerator, find_accelerator
from wattprint.errors import AmbiguousNameError, UnknownNameError

from .sourcing import sourced_uncertain_row

ASCEND_910 = "Huawei Ascend 910"
ASCEND_910B = "Huawei Ascend 910B"
B300 = "NVIDIA B300 (HGX/DGX)"
GB300 = "NVIDIA GB300 (per B300 GPU in NVL72)"


@pytest.mark.parametrize(("query", "expected"), [
    ("Ascend 910", ASCEND_910), ("Huawei Ascend 910", ASCEND_910), ("ascend910", ASCEND_910), ("910A", ASCEND_910),
    ("910B", ASCEND_910B), ("Ascend 910B", ASCEND_910B), ("Ascend910B", ASCEND_910B),
    ("Ascend910B1", ASCEND_910B), ("910B1", ASCEND_910B), ("Ascend 910B1", ASCEND_910B),  # the row is the 910B1 bin
    ("Huawei Ascend 910B1", ASCEND_910B), ("Huawei 910B1", ASCEND_910B), ("huawei ascend910b", ASCEND_910B),
    ("Huawei Ascend 910A", ASCEND_910),  # the vendor's word is dropped, as NVIDIA's and AMD's are
    ("B300", B300), ("HGX B300", B300), ("DGX B300", B300), ("nvidia b300", B300),
    ("NVIDIA B300 SXM6 AC", B300),  # the name nvidia-smi / NVML report for the HGX part
    ("GB300", GB300), ("GB300 NVL72", GB300), ("NVIDIA GB300", GB300),
])
def test_ascend_and_blackwell_ultra_names_resolve(query: str, expected: str) -> None:
    """'Ascend 910' was answered with 'closest valid names: NVIDIA A10, NVIDIA A10G, A100'; B300 was unknown."""
    assert find_accelerator(query)[0].name == expected


def test_the_910_and_the_910b_are_different_chips() -> None:
    a910, b910 = find_accelerator("Ascend 910")[0], find_accelerator("Ascend 910B")[0]
    assert a910.peak_flops("fp16") == pytest.approx(256e12) and b910.peak_flops("fp16") > a910.peak_flops("fp16")
    with pytest.raises(AmbiguousNameError) as e:
        find_accelerator("Ascend")
    assert {ASCEND_910, ASCEND_910B} <= set(e.value.suggestions)


@pytest.mark.parametrize("lower_bin", ["910B2", "Ascend910B3", "Ascend 910B4"])
def test_the_slower_910b_bins_are_not_taken_for_the_row(lower_bin: str) -> None:
    """The 910B row is the 910B1 bin: the 910B2-910B4 have fewer cores or lower clocks, so their names stay
    unknown rather than get the 910B1's peaks."""
    with pytest.raises(UnknownNameError):
        find_accelerator(lower_bin)


@pytest.mark.parametrize(("name", "year", "cited"), [
    (ASCEND_910, 2019, "Huawei launch of the Ascend 910"),
    (ASCEND_910B, 2023, "CANN platform configuration"),
    (B300, 2025, "HGX platform page"),
    (GB300, 2025, "GB300 NVL72 page"),
])
def test_the_new_rows_carry_a_source_a_year_and_what_is_unconfirmed(name: str, year: int, cited: str) -> None:
    sourced_uncertain_row(name, year, cited)  # every one has values read only in copies or derived: said


def test_the_values_taken_and_the_ones_left_empty() -> None:
    a910 = find_accelerator("Ascend 910")[0]
    # Huawei at launch: 256 TFLOPS FP16, 512 TOPS INT8, 310 W maximum (the Hot Chips / Linley 350 W was the plan)
    assert (a910.tdp_w, a910.memory_gb, a910.peak_tflops) == (310, 32, {"fp16": 256, "int8": 512})
    assert a910.default_precision() == "fp16"  # no bf16 on the 910
    b910 = find_accelerator("910B")[0]
    assert b910.tdp_w is None and "no published TDP" in b910.no_tdp_reason()  # Huawei publishes none
    b300 = find_accelerator("B300")[0]
    assert (b300.tdp_w, b300.memory_gb) == (1100, 270)
    assert b300.peak_flops("bf16") == pytest.approx(36e15 / 8 / 2)  # HGX page: 36 PFLOPS sparse per 8 GPUs
    assert b300.peak_flops("int8") < b300.peak_flops("bf16")  # Blackwell Ultra cut INT8
    gb300 = find_accelerator("GB300")[0]
    assert gb300.tdp_w == 1400 and gb300.peak_flops("fp8") == pytest.approx(720e15 / 72 / 2)


def test_grace_on_the_gb300_board_is_the_host_and_trays_hold_four() -> None:
    gb300 = find_accelerator("GB300")[0]
    host = gb300.module_host()
    assert host is not None and host.cpu_w == 125  # half a Grace CPU Superchip's 500 W per Grace, 2 GPUs per Grace
    assert accelerators_per_server(gb300) == 4
    assert accelerators_per_server(find_accelerator("B300")[0]) == 8
    assert accelerators_per_server(find_accelerator("Ascend 910")[0]) == 8


def test_embodied_without_a_vendor_footprint_is_a_flagged_fallback_or_proxy() -> None:
    a910 = embodied_accelerator(find_accelerator("Ascend 910")[0])
    assert a910.kg_per_unit.value == 150 and "UNCERTAIN" in a910.note and "class default" in a910.note
    b300 = embodied_accelerator(find_accelerator("B300")[0])
    assert b300.kg_per_unit.value == pytest.approx(2274 / 8, rel=1e-3) and "UNCERTAIN" in b300.note


def test_data_gpus_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "gpus", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {ASCEND_910, ASCEND_910B, B300, GB300} <= set(rows)
    assert rows[ASCEND_910B]["tdp_w"] is None and rows[ASCEND_910]["peak_tflops"]["fp16"] == 256


def test_a_training_on_ascend_910_is_estimated(capsys: pytest.CaptureFixture[str]) -> None:
    """CodeGeeX: 13B parameters, 850B tokens on 1,536 Ascend 910 (THUDM/CodeGeeX README)."""
    assert main(["estimate", "training", "--params", "13B", "--tokens", "850B", "--hardware", "Ascend 910",
                 "--count", "1536", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hardware"] == ASCEND_910 and out["total_co2e_kg"] > 0


def test_a_training_on_910b_asks_for_the_power(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["estimate", "training", "--params", "13B", "--tokens", "850B", "--hardware", "910B", "--count", "1024"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Huawei Ascend 910B has no published TDP" in err and "--power-w" in err and "Traceback" not in err
    assert main([*args, "--power-w", "500", "--json"]) == 0


@pytest.mark.parametrize("hardware", ["B300", "GB300", "Ascend 910"])
def test_serving_is_estimated_where_the_bandwidth_is_known(hardware: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "inference", "--params", "8B", "--hardware", hardware, "--requests-per-day", "1000",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_co2e_kg"] > 0


def test_int8_serving_on_b300_knows_its_int8_units_are_the_slow_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """The row keeps Blackwell Ultra's INT8 peak (150 TOPS, 1/15 of its bf16): serving int8 weights says so and
    computes at the bf16 peak (dequantised weights), not on the slow units nor as if the chip had no int8 at all."""
    assert main(["estimate", "inference", "--params", "8B", "--hardware", "B300", "--precision", "int8",
                 "--requests-per-day", "1000", "--json"]) == 0
    text = capsys.readouterr().out
    assert "dense int8 peak (150 TOPS) is below its bf16 peak" in text and "lists no int8 peak" not in text
    assert "2250 TFLOP/s dense bf16" in text
