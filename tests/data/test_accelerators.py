"""Accelerator look-ups: forgiving names, family defaults with their variants, closest-name errors."""

from __future__ import annotations

import pytest

from wattprint.data import (
    accelerators,
    accelerators_per_server,
    embodied_accelerator,
    find_accelerator,
)
from wattprint.errors import AmbiguousNameError, UnknownNameError, WattprintError


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("A100", "NVIDIA A100 SXM4 80GB"),
        ("a100", "NVIDIA A100 SXM4 80GB"),
        ("A100-80GB", "NVIDIA A100 SXM4 80GB"),
        ("NVIDIA A100-SXM4-40GB", "NVIDIA A100 SXM4 40GB"),
        ("NVIDIA A100-PCIE-40GB", "NVIDIA A100 PCIe 40GB"),
        ("h100", "NVIDIA H100 SXM5 80GB"),
        ("h100 sxm", "NVIDIA H100 SXM5 80GB"),
        ("H100 PCIe", "NVIDIA H100 PCIe 80GB"),
        ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB"),
        ("Tesla V100-SXM2-32GB", "NVIDIA Tesla V100 SXM2 32GB"),
        ("V100", "NVIDIA Tesla V100 SXM2 32GB"),
        ("H200", "NVIDIA H200 SXM 141GB"),
        ("TPU v3", "Google TPU v3"),
        ("tpuv4", "Google TPU v4"),
        ("mi250x", "AMD Instinct MI250X"),
        ("MI250", "AMD Instinct MI250"),
        ("a10", "NVIDIA A10"),
        ("L40", "NVIDIA L40"),
        ("gaudi 2", "Intel Gaudi2 (HL-225H)"),
        ("trillium", "Google TPU v6e (Trillium)"),
        ("RTX 4090", "NVIDIA GeForce RTX 4090"),
        # vendor words are dropped for every vendor of the catalogue ("Amazon": AWS's own name)
        ("AMD MI300X", "AMD Instinct MI300X"),
        ("Google TPU v4", "Google TPU v4"),
        ("AWS Trainium2", "AWS Trainium2 (Trn2)"),
        ("Amazon Trainium2", "AWS Trainium2 (Trn2)"),
        ("Intel Gaudi3", "Intel Gaudi3 (HL-325L OAM)"),
        ("Habana Gaudi2", "Intel Gaudi2 (HL-225H)"),
    ],
)
def test_forgiving_names(query: str, expected: str) -> None:
    acc, variants, _ = find_accelerator(query)
    assert acc.name == expected
    assert acc in variants


def test_family_name_gives_default_variant_all_variants_and_an_assumption() -> None:
    acc, variants, notes = find_accelerator("A100")
    names = {v.name for v in variants}
    assert names == {"NVIDIA A100 SXM4 80GB", "NVIDIA A100 SXM4 40GB", "NVIDIA A100 PCIe 80GB", "NVIDIA A100 PCIe 40GB"}
    assert len(notes) == 1
    assert "NVIDIA A100 SXM4 80GB" in notes[0].value
    assert "PCIe 40GB" in notes[0].note  # the variants are named, so callers can explain the range
    tdps = [v.tdp_w for v in variants if v.tdp_w is not None]
    assert min(tdps) == 250 and max(tdps) == 400  # a range over the variants is possible


def test_partial_name_narrows_the_variants() -> None:
    acc, variants, notes = find_accelerator("a100 40gb")
    assert {v.name for v in variants} == {"NVIDIA A100 SXM4 40GB", "NVIDIA A100 PCIe 40GB"}
    assert acc.name == "NVIDIA A100 SXM4 40GB"
    assert notes


def test_exact_name_has_no_assumption() -> None:
    acc, variants, notes = find_accelerator("NVIDIA H100 SXM5 80GB")
    assert variants == [acc] and notes == []


def test_unknown_name_lists_closest() -> None:
    with pytest.raises(UnknownNameError) as e:
        find_accelerator("A1000")
    assert "A100" in e.value.suggestions
    assert "closest valid names" in str(e.value)
    with pytest.raises(UnknownNameError):
        find_accelerator("")


def test_an_unknown_name_with_nothing_close_shows_what_valid_names_look_like() -> None:
    with pytest.raises(UnknownNameError) as e:
        find_accelerator("foo")
    assert e.value.suggestions == []
    assert "unknown hardware 'foo'; valid names include A100, H100" in str(e.value)


@pytest.mark.parametrize(("query", "suggested"), [("H10", "H100"), ("H80", "H800"), ("MI25", "MI250"), ("B20", "B200"),
                                                ("A1", "NVIDIA A10"), ("GH20", "GH200")])
def test_a_cut_model_number_is_not_a_glued_spelling(query: str, suggested: str) -> None:
    """"MI25" is another chip, "H10" a typo: none silently becomes the chip whose number it starts (and "H20", a
    chip of its own, is not the H200: test_lab_and_export_gpus_resolve_by_the_names_people_use)."""
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(query)
    assert not isinstance(e.value, AmbiguousNameError)
    assert suggested in e.value.suggestions


@pytest.mark.parametrize(("query", "members"), [
    ("TPU", {"Google TPU v2", "Google TPU v5e", "Google TPU v7 (Ironwood)"}),
    ("Gaudi", {"Intel Gaudi2 (HL-225H)", "Intel Gaudi3 (HL-325L OAM)"}),
    ("80GB", {"NVIDIA A100 SXM4 80GB", "NVIDIA H100 SXM5 80GB"}),
    ("RTX", {"NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 4090"}),
])
def test_a_name_matching_several_chip_families_is_an_error_listing_them(query: str, members: set[str]) -> None:
    """Picking one would give another chip's peak FLOP/s and power without a word."""
    with pytest.raises(AmbiguousNameError) as e:
        find_accelerator(query)
    assert members <= set(e.value.suggestions)
    assert str(e.value).startswith(f"ambiguous hardware {query!r}: it matches")


def test_glued_spellings_that_keep_model_numbers_whole_still_resolve() -> None:
    assert find_accelerator("h100sxm")[0].name == "NVIDIA H100 SXM5 80GB"
    assert find_accelerator("MI300")[0].name == "AMD Instinct MI300X"
    assert find_accelerator("gaudi2")[0].name == "Intel Gaudi2 (HL-225H)"


def test_peaks_and_default_precision() -> None:
    h100, _, _ = find_accelerator("H100")
    assert h100.peak_flops("bf16") == pytest.approx(989.4e12)
    assert h100.default_precision() == "bf16"
    v100, _, _ = find_accelerator("V100")
    assert v100.default_precision() == "fp16"  # V100 has no bf16
    with pytest.raises(WattprintError, match="bf16"):
        v100.peak_flops("bf16")
    k80, _, _ = find_accelerator("K80")
    assert k80.default_precision() == "fp32"


def test_unpublished_tdp_is_none_and_uncertain_rows_are_flagged() -> None:
    v5e, _, _ = find_accelerator("TPU v5e")
    assert v5e.tdp_w is None
    flagged = {a.name for a in accelerators() if a.uncertain}
    assert "NVIDIA A10G" in flagged
    assert "NVIDIA H100 SXM5 80GB" not in flagged
    # flags written in other words than "UNCERTAIN" count too
    assert {"Google TPU v7 (Ironwood)", "AWS Trainium (Trn1)"} <= flagged


@pytest.mark.parametrize(("query", "quoted"), [("GB200", "NOT an official NVIDIA per-GPU TDP"),
                                                ("Trainium2", "NOT an AWS figure"),
                                                ("TPU v4", "measured MAX chip power")])
def test_a_chip_with_unconfirmed_values_says_so_in_the_assumptions(query: str, quoted: str) -> None:
    _, _, notes = find_accelerator(query)
    flagged = [n for n in notes if n.what == "catalogue values"]
    assert len(flagged) == 1 and "UNCERTAIN" in flagged[0].value and quoted in flagged[0].note


def test_a_confirmed_chip_has_no_uncertainty_note() -> None:
    _, _, notes = find_accelerator("H100")
    assert all(n.what != "catalogue values" for n in notes)


def test_catalogue_is_complete_and_consistent() -> None:
    accs = accelerators()
    assert len(accs) >= 45
    for a in accs:
        assert a.peak_tflops, a.name
        assert set(a.peak_tflops) <= {"fp32", "tf32", "bf16", "fp16", "fp8", "int8"}
        assert a.source


def test_embodied_per_family_and_fallback() -> None:
    h100, _, _ = find_accelerator("H100")
    e = embodied_accelerator(h100)
    assert e.kg_per_unit.value == pytest.approx(1312 / 8)
    assert e.lifetime_years.low == 4 and e.lifetime_years.high == 6
    a100 = embodied_accelerator(find_accelerator("A100")[0])
    assert a100.kg_per_unit.low == pytest.approx(127.6) and a100.kg_per_unit.high == 150
    b200 = embodied_accelerator(find_accelerator("B200")[0])
    assert b200.kg_per_unit.value == pytest.approx(2274 / 8, rel=1e-3)
    t4 = embodied_accelerator(find_accelerator("T4")[0])  # no LCA: wide, flagged class fallback
    assert t4.kg_per_unit.width_factor() >= 4 and "UNCERTAIN" in t4.note


def test_accelerators_per_server() -> None:
    assert accelerators_per_server(find_accelerator("H100")[0]) == 8
    assert accelerators_per_server(find_accelerator("MI250X")[0]) == 4
    assert accelerators_per_server(find_accelerator("TPU v4")[0]) == 4
    assert accelerators_per_server(find_accelerator("trainium")[0]) == 16


def test_full_width_and_accented_names_are_folded() -> None:
    from wattprint.data import find_accelerator
    from wattprint.intensity import resolve_location

    assert find_accelerator("Ａ100")[0].name == find_accelerator("A100")[0].name
    assert find_accelerator("Ｈ１００ ＳＸＭ")[0].name == find_accelerator("H100 SXM")[0].name
    assert resolve_location("cote divoire").key == resolve_location("Côte d’Ivoire").key == "CIV"


def test_a_tdp_no_vendor_publishes_is_a_range_or_no_default() -> None:
    """refdata/tdp_ranges.csv: a derived TDP keeps its value with the span of the figures in use; an analyst's
    estimate is not a default (the user gives the power) but stays listed as one."""
    gb200, _, _ = find_accelerator("GB200")
    assert gb200.tdp_w == 1200 and gb200.tdp_range_w() == (1000, 1200)
    assert "publishes no per-GPU TDP" in gb200.tdp_caveat()
    a10g, _, _ = find_accelerator("A10G")
    assert a10g.tdp_range_w() == (150, 300)
    trn2, _, _ = find_accelerator("Trainium2")
    assert trn2.tdp_w is None and trn2.tdp_range_w() is None and trn2.tdp_estimate_w() == 500
    assert "analyst's estimate" in trn2.no_tdp_reason()
    h100, _, _ = find_accelerator("H100")
    assert h100.tdp_range_w() == (700, 700) and h100.tdp_caveat() == ""
    assert "analyst" not in find_accelerator("TPU v5e")[0].no_tdp_reason()


def test_build_refuses_a_tdp_range_that_misses_the_tdp() -> None:
    from ..scripts import load_script

    build = load_script("scripts/build_data.py")
    row: dict[str, object] = {"name": "X", "tdp_w": 700.0}
    with pytest.raises(SystemExit, match="must hold its TDP"):
        build._apply_tdp_range(row, {"basis": "derived", "low_w": "100", "high_w": "200", "source": "s", "note": "n"})
    build._apply_tdp_range(row, {"basis": "estimate", "low_w": "700", "high_w": "700", "source": "s", "note": "n"})
    assert row["tdp_w"] is None and row["tdp_estimate_w"] == 700.0


def test_a_superchips_tdp_is_its_gpus_own_and_its_cpu_is_the_hosts() -> None:
    """refdata/superchips.csv: the GH200 datasheet gives only the whole module's power (Grace CPU + GPU + memory, up
    to 1000 W); the catalogue's TDP is the GPU's own (the 700 W its H100 GPU is rated at, ranged from a module run at
    680 W to the 900 W GPU limit NVML reports), the module's figure is kept apart, and the on-module Grace CPU with its
    memory is the host's CPU (half the Grace CPU Superchip's 500 W per GH200, a quarter per GB200 GPU)."""
    gh200, _, _ = find_accelerator("GH200")
    assert gh200.tdp_w == 700 and gh200.tdp_range_w() == (680, 900) and gh200.module_tdp_w() == 1000
    assert "whole Grace Hopper module" in gh200.tdp_caveat() and "900 W" in gh200.tdp_caveat()
    gh_host, gb_host = gh200.module_host(), find_accelerator("GB200")[0].module_host()
    assert gh_host is not None and gh_host.cpu_w == 250 and "LPDDR5X" in gh_host.note
    assert gb_host is not None and gb_host.cpu_w == 125
    h100, _, _ = find_accelerator("H100")
    assert h100.module_host() is None and h100.module_tdp_w() is None


def test_build_refuses_a_superchip_row_that_no_longer_fits_the_catalogue() -> None:
    """A catalogue TDP that is no longer the module's figure (the shared file fixed to the GPU's) must be reviewed,
    not replaced twice; a GPU range that misses the GPU's rating or reaches the module's is refused."""
    from ..scripts import load_script

    build = load_script("scripts/build_data.py")
    chip = {"module_w": "1000", "gpu_same_as": "G", "gpu_low_w": "600", "gpu_high_w": "900", "gpu_source": "s",
            "gpu_note": "n", "gpus_per_module": "1", "host_cpu": "C", "host_cpu_share": "0.5", "host_source": "s",
            "host_note": "n", "year": "2025"}
    catalogue, cpus = {"G": {"tdp_w": "700"}}, {"C": {"tdp_w": "500"}}
    with pytest.raises(SystemExit, match="not the module's 1000 W"):
        build._apply_superchip({"name": "X", "tdp_w": 700}, chip, catalogue, cpus)
    with pytest.raises(SystemExit, match="must hold the GPU's 700 W"):
        build._apply_superchip({"name": "X", "tdp_w": 1000}, {**chip, "gpu_high_w": "650"}, catalogue, cpus)
    built: dict[str, object] = {"name": "X", "tdp_w": 1000}
    build._apply_superchip(built, chip, catalogue, cpus)
    assert (built["tdp_w"], built["module_tdp_w"]) == (700, 1000)
    assert built["module_host"] == {"cpu": "C", "cpu_w": 250, "gpus_per_module": 1, "source": "s", "year": 2025,
                                    "note": "n"}


@pytest.mark.parametrize("name", ["", "   ", None, 5])
def test_a_blank_or_non_text_hardware_name_shows_valid_names(name: object) -> None:
    """A blank name matched nothing and the error listed no valid name (`--hardware ''`)."""
    with pytest.raises(UnknownNameError, match="valid names include A100, H100"):
        find_accelerator(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(("query", "chip", "count"), [
    ("8x A100", "A100", "8"), ("A100x8", "A100", "8"), ("8 × H100 SXM", "H100 SXM", "8"), ("H100 * 16", "H100", "16"),
])
def test_a_count_in_the_hardware_name_says_how_to_give_it(query: str, chip: str, count: str) -> None:
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(query)
    assert e.value.suggestions == [chip]
    assert f"--count {count}" in str(e.value) and f"hardware={chip!r}, count={count}" in str(e.value)


@pytest.mark.parametrize(("query", "chip", "count"), [
    ("v3-128", "TPU v3", "64"), ("TPU v4-256", "TPU v4", "128"), ("tpu-v5p-512", "TPU v5p", "256"),
    ("v2-8", "TPU v2", "4"), ("v5litepod-16", "TPU v5e", "16"), ("v6e-8", "TPU v6e", "8"),
])
def test_a_cloud_tpu_slice_name_says_which_chip_and_how_many(query: str, chip: str, count: str) -> None:
    # v2-v5p slice names count TensorCores (2 per chip), v5e/v6e count chips (Google Cloud TPU docs)
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(query)
    assert e.value.suggestions == [chip]
    assert f"--count {count}" in str(e.value) and "Cloud TPU slice" in str(e.value)


def test_names_that_end_in_x_or_hold_no_chip_are_not_taken_for_counts() -> None:
    assert find_accelerator("MI300X")[0].name == "AMD Instinct MI300X"
    with pytest.raises(UnknownNameError) as e:
        find_accelerator("xyz x 8")
    assert "--count" not in str(e.value)


@pytest.mark.parametrize(("query", "expected"), [
    ("H20", "NVIDIA H20"), ("A800", "NVIDIA A800 SXM4 80GB"), ("NVIDIA A800-SXM4-80GB", "NVIDIA A800 SXM4 80GB"),
    ("A6000", "NVIDIA RTX A6000"), ("RTX A6000", "NVIDIA RTX A6000"), ("2080 Ti", "NVIDIA GeForce RTX 2080 Ti"),
    ("NVIDIA GeForce RTX 2080 Ti", "NVIDIA GeForce RTX 2080 Ti"), ("GTX 1080 Ti", "NVIDIA GeForce GTX 1080 Ti"),
    ("Titan V", "NVIDIA TITAN V"), ("Quadro RTX 8000", "NVIDIA Quadro RTX 8000"),
    ("RTX 5090", "NVIDIA GeForce RTX 5090"), ("RTX 6000 Ada", "NVIDIA RTX 6000 Ada Generation"), ("A30", "NVIDIA A30"),
])
def test_lab_and_export_gpus_resolve_by_the_names_people_use(query: str, expected: str) -> None:
    # chips of university labs and of trainings in China, from refdata/accelerators_extra.csv
    assert find_accelerator(query)[0].name == expected


@pytest.mark.parametrize(("query", "members"), [
    ("RTX 6000", {"NVIDIA Quadro RTX 6000", "NVIDIA RTX 6000 Ada Generation"}),  # 2018 or 2022: 2.8x apart in peak
    ("Titan", {"NVIDIA TITAN Xp", "NVIDIA TITAN V", "NVIDIA TITAN RTX"}),
])
def test_names_shared_by_generations_are_ambiguous(query: str, members: set[str]) -> None:
    with pytest.raises(AmbiguousNameError) as e:
        find_accelerator(query)
    assert members <= set(e.value.suggestions)


@pytest.mark.parametrize(("query", "family"), [
    ("Blackwell", "Blackwell"), ("blackwell", "Blackwell"), ("Hopper", "Hopper"), ("Ampere", "Ampere"),
    ("Volta", "Volta"), ("Pascal", "Pascal"), ("Turing", "Turing"), ("CDNA3", "CDNA 3"), ("CDNA 3", "CDNA 3"),
    ("CDNA", "CDNA"), ("Ada Lovelace", "Ada Lovelace"), ("Ada", "Ada Lovelace"), ("Da Vinci", "Da Vinci"),
])
def test_an_architecture_is_ambiguous_and_lists_its_chips(query: str, family: str) -> None:
    """'Blackwell' was 'unknown hardware ... valid names include A100, H100' and 'Ada' silently the RTX 6000 Ada:
    an architecture names several chips, far apart in peak and power, so it is refused like 'NVL72' and the error
    lists every catalogue chip of the family (its superchip and consumer rows too), data-centre chips first."""
    with pytest.raises(AmbiguousNameError) as e:
        find_accelerator(query)
    assert set(e.value.suggestions) == {a.name for a in accelerators() if a.family.startswith(family)}
    assert str(e.value).startswith(f"ambiguous hardware {query!r}: it matches")
    assert "covers several chips, not one" in str(e.value)  # it read "(a chip family, not one chip", an order
    desk = [i for i, n in enumerate(e.value.suggestions) if "GeForce" in n or "TITAN" in n or "RTX" in n]
    assert desk == list(range(len(e.value.suggestions) - len(desk), len(e.value.suggestions)))  # listed last


def test_blackwell_lists_the_data_centre_chips_before_the_consumer_card() -> None:
    with pytest.raises(AmbiguousNameError) as e:
        find_accelerator("Blackwell")
    assert e.value.suggestions[0] == "NVIDIA B200 (HGX/DGX)" and e.value.suggestions[-1] == "NVIDIA GeForce RTX 5090"


@pytest.mark.parametrize(("query", "expected"), [
    ("Trainium", "AWS Trainium (Trn1)"), ("Inferentia", "AWS Inferentia2 (Inf2)"),
    ("RTX 6000 Ada", "NVIDIA RTX 6000 Ada Generation"),
])
def test_a_chip_named_by_its_family_word_still_resolves(query: str, expected: str) -> None:
    """A family's name that is also a chip's ("Trainium" is the first Trainium), or a chip name that holds the
    architecture's word, is no architecture name."""
    assert find_accelerator(query)[0].name == expected


def test_consumer_cards_carry_the_fp32_accumulate_tensor_rate() -> None:
    # mixed-precision training accumulates in FP32, which GeForce cards run at half their FP16-accumulate rate
    # (Turing whitepaper, Table 1: RTX 2080 Ti 107.6 vs 53.8 TFLOPS); workstation cards run both at full rate
    ti = find_accelerator("2080 Ti")[0]
    assert ti.peak_flops("fp16") == pytest.approx(53.8e12)
    assert find_accelerator("Quadro RTX 6000")[0].peak_flops("fp16") == pytest.approx(130.5e12)


@pytest.mark.parametrize("query", ["cpu", "CPU", "Intel Xeon Platinum 8480+", "EPYC 7763", "Xeon", "Graviton3",
                                   "AMD EPYC 9654", "Ryzen 9 7950X"])
def test_a_cpu_is_not_an_accelerator_and_the_error_says_how_to_measure_one(query: str) -> None:
    """'cpu' was answered with 'closest valid names: TPU v7, TPU v4, ...', names spelled alike."""
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(query)
    msg = str(e.value)
    assert "a CPU, not an accelerator" in msg and "wattprint run" in msg and "TPU v7" not in msg


@pytest.mark.parametrize("query", ["amd", "intel", "H100x", "Grace"])
def test_a_vendor_alone_or_a_near_miss_is_not_called_a_cpu(query: str) -> None:
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(query)
    assert "a CPU" not in str(e.value)


def _brackets_balance(text: str) -> bool:
    depth = 0
    for c in text:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


def test_no_catalogue_assumption_is_cut_inside_a_parenthesis() -> None:
    """The Ascend 910's "catalogue values" source ended "...(https://old.hotchips.org/...HengLiao_v4.0.pdf" (cut at a
    ';' inside a parenthesis), and four rows' UNCERTAIN notes likewise ("treat as uncertain)."): for every catalogue
    chip, by its name and by its family's, no assumption of a training estimate leaves a bracket open."""
    from wattprint.data.catalogue import _families
    from wattprint.estimate.training import estimate_training

    names = [a.name for a in accelerators()] + [f["family"] for f in _families()]
    cut = []
    for name in names:
        acc = find_accelerator(name)[0]
        fp = estimate_training(params=1e9, tokens=2e10, hardware=name, count=8,
                               power_w=None if acc.tdp_w else 500.0)  # a chip without a TDP needs the power
        cut += [(name, a.what, text) for a in fp.assumptions for text in (a.value, a.source, a.note or "")
                if not _brackets_balance(text)]
    assert cut == []
