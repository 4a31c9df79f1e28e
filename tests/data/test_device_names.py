"""Device names as drivers print them (NVML / nvidia-smi, amd-smi / rocm-smi) and as people copy them.

The tracker looks up the name NVML or amdsmi reports; a name that does not resolve drops the GPU's embodied
CO2e, and the same names pasted into ``--hardware`` must work. The strings below are the drivers' own (the NVIDIA
driver's list of supported GPUs, nvidia-smi / torch.cuda device names, rocm-smi "Card series"), not spellings
made up to fit the matcher.
"""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.data import embodied_accelerator, find_accelerator
from wattprint.errors import AmbiguousNameError, UnknownNameError

DRIVER_NAMES = [
    # NVIDIA, nvmlDeviceGetName / nvidia-smi --query-gpu=name
    ("NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB"),
    ("NVIDIA H100 PCIe", "NVIDIA H100 PCIe 80GB"),
    ("NVIDIA H100 NVL", "NVIDIA H100 NVL 94GB"),
    ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 SXM4 80GB"),
    ("NVIDIA A100-SXM4-40GB", "NVIDIA A100 SXM4 40GB"),
    ("NVIDIA A100-PCIE-40GB", "NVIDIA A100 PCIe 40GB"),
    ("NVIDIA A100 80GB PCIe", "NVIDIA A100 PCIe 80GB"),
    ("Tesla V100-SXM2-32GB", "NVIDIA Tesla V100 SXM2 32GB"),
    ("Tesla V100-SXM2-16GB", "NVIDIA Tesla V100 SXM2 16GB"),
    ("Tesla V100-PCIE-32GB", "NVIDIA Tesla V100 PCIe 32GB"),
    ("Tesla V100-PCIE-16GB", "NVIDIA Tesla V100 PCIe 16GB"),
    ("Tesla V100S-PCIE-32GB", "NVIDIA Tesla V100S PCIe 32GB"),
    ("Tesla P100-SXM2-16GB", "NVIDIA Tesla P100 SXM2"),
    ("Tesla P100-PCIE-16GB", "NVIDIA Tesla P100 PCIe 16GB"),
    ("Tesla K80", "NVIDIA Tesla K80"),
    ("Tesla T4", "NVIDIA T4"),
    ("NVIDIA L4", "NVIDIA L4"),
    ("NVIDIA A10", "NVIDIA A10"),
    ("NVIDIA A10G", "NVIDIA A10G"),
    ("NVIDIA A40", "NVIDIA A40"),
    ("NVIDIA L40", "NVIDIA L40"),
    ("NVIDIA L40S", "NVIDIA L40S"),
    ("NVIDIA H200", "NVIDIA H200 SXM 141GB"),
    ("NVIDIA H200 NVL", "NVIDIA H200 NVL"),
    ("NVIDIA H800", "NVIDIA H800 SXM5"),
    ("NVIDIA GH200 480GB", "NVIDIA GH200 (GPU part)"),
    ("NVIDIA GH200 144G HBM3e", "NVIDIA GH200 (GPU part)"),
    ("NVIDIA GH200 120GB", "NVIDIA GH200 (GPU part)"),
    ("NVIDIA B200", "NVIDIA B200 (HGX/DGX)"),
    ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090"),
    ("NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 3090"),
    # AMD, amdsmi market name / rocm-smi --showproductname "Card series" (VF: an SR-IOV virtual function in VMs)
    ("AMD Instinct MI300X", "AMD Instinct MI300X"),
    ("AMD Instinct MI300X OAM", "AMD Instinct MI300X"),
    ("AMD Instinct MI300X VF", "AMD Instinct MI300X"),
    ("AMD Instinct MI250X / MI250", "AMD Instinct MI250X"),
    ("AMD Instinct MI250X/MI250", "AMD Instinct MI250X"),
    ("AMD Instinct MI250X", "AMD Instinct MI250X"),
    ("AMD Instinct MI210", "AMD Instinct MI210"),
    ("AMD Instinct MI100", "AMD Instinct MI100"),
    ("AMD Instinct MI325X", "AMD Instinct MI325X"),
]


@pytest.mark.parametrize(("name", "expected"), DRIVER_NAMES)
def test_driver_device_names_resolve_to_their_catalogue_row(name: str, expected: str) -> None:
    acc, variants, _ = find_accelerator(name)
    assert acc.name == expected
    assert acc in variants
    assert embodied_accelerator(acc).kg_per_unit.value > 0  # the tracker can count its embodied CO2e


@pytest.mark.parametrize(("name", "expected"), [
    ("T4 PCIe", "NVIDIA T4"),
    ("T4 PCI", "NVIDIA T4"),
    ("L4 PCIe", "NVIDIA L4"),
    ("A10 PCIe", "NVIDIA A10"),
    ("K80 PCIe", "NVIDIA Tesla K80"),
    ("B200 SXM", "NVIDIA B200 (HGX/DGX)"),
    ("MI300X OAM", "AMD Instinct MI300X"),
    ("H200 SXM5", "NVIDIA H200 SXM 141GB"),
    ("A100 80G", "NVIDIA A100 SXM4 80GB"),
    ("A100-80G", "NVIDIA A100 SXM4 80GB"),
    ("a100 80 gb", "NVIDIA A100 SXM4 80GB"),
    ("A100-80GB", "NVIDIA A100 SXM4 80GB"),
    ("A100 80", "NVIDIA A100 SXM4 80GB"),  # a bare number still reads as the memory of the name
    ("A100 40G PCIe", "NVIDIA A100 PCIe 40GB"),
    ("a100 pcie 80 GiB", "NVIDIA A100 PCIe 80GB"),
    ("V100 16G", "NVIDIA Tesla V100 SXM2 16GB"),
    ("Tesla V100-PCIE-32G", "NVIDIA Tesla V100 PCIe 32GB"),
])
def test_form_factor_and_memory_spellings(name: str, expected: str) -> None:
    assert find_accelerator(name)[0].name == expected


@pytest.mark.parametrize(("name", "variants"), [
    ("A100 80G", {"NVIDIA A100 SXM4 80GB", "NVIDIA A100 PCIe 80GB"}),
    ("a100 80 gb", {"NVIDIA A100 SXM4 80GB", "NVIDIA A100 PCIe 80GB"}),
    ("NVIDIA H100 80GB HBM3", {"NVIDIA H100 SXM5 80GB"}),  # HBM3: the SXM5 (the driver name table)
    ("NVIDIA A100-SXM4-40GB", {"NVIDIA A100 SXM4 40GB"}),
    ("NVIDIA A100-PCIE-40GB", {"NVIDIA A100 PCIe 40GB"}),
    ("Tesla V100-PCIE-16GB", {"NVIDIA Tesla V100 PCIe 16GB"}),
    ("Tesla P100-SXM2-16GB", {"NVIDIA Tesla P100 SXM2"}),  # 16 GB from the row's memory, not its name
    ("NVIDIA H100 PCIe", {"NVIDIA H100 PCIe 80GB"}),  # not the NVL, whose form factor is PCIe too
])
def test_memory_and_form_factor_in_the_name_narrow_the_variants(name: str, variants: set[str]) -> None:
    _, got, _ = find_accelerator(name)
    assert {v.name for v in got} == variants


@pytest.mark.parametrize(("name", "expected", "figure"), [
    ("NVIDIA GH200 480GB", "NVIDIA GH200 (GPU part)", "480 GB"),  # NVML counts the Grace CPU's LPDDR5X too
    ("NVIDIA GH200 144G HBM3e", "NVIDIA GH200 (GPU part)", "144 GB"),
    ("Tesla P100-PCIE-12GB", "NVIDIA Tesla P100 PCIe 16GB", "12 GB"),  # the form factor still picks the card
])
def test_a_memory_figure_no_variant_has_does_not_block_the_match_but_is_said(name: str, expected: str,
                                                                             figure: str) -> None:
    acc, variants, notes = find_accelerator(name)
    assert acc.name == expected and variants == [acc]
    said = [n for n in notes if n.what == "hardware variant"]
    assert len(said) == 1 and figure in said[0].note and "ignored" in said[0].note


def test_a_driver_name_listing_sibling_chips_takes_the_first_and_keeps_both_as_variants() -> None:
    acc, variants, notes = find_accelerator("AMD Instinct MI250X / MI250")
    assert acc.name == "AMD Instinct MI250X"
    assert [v.name for v in variants] == ["AMD Instinct MI250X", "AMD Instinct MI250"]
    assert [n.what for n in notes] == ["hardware variant"] and "AMD Instinct MI250" in notes[0].note


def test_names_of_chips_of_different_architectures_are_ambiguous() -> None:
    with pytest.raises(AmbiguousNameError) as e:
        find_accelerator("H100/A100")
    assert {"NVIDIA H100 SXM5 80GB", "NVIDIA A100 SXM4 80GB"} <= set(e.value.suggestions)


@pytest.mark.parametrize("name", ["GB", "gb", "MI", "H"])
def test_the_letters_of_a_model_number_are_not_a_name(name: str) -> None:
    """"GB" used to become GB200 by prefix: a series code is the start of many model numbers, not a chip."""
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(name)
    assert not isinstance(e.value, AmbiguousNameError)
    assert str(e.value).startswith(f"unknown hardware {name!r}")


def test_gb_suggests_gb200_not_the_rows_with_a_memory_size() -> None:
    with pytest.raises(UnknownNameError) as e:
        find_accelerator("GB")
    assert {"GB200", "GB300"} <= set(e.value.suggestions)
    # the Grace Blackwell chips, not "NVIDIA A100 SXM4 80GB" for its "GB"
    assert all("GB200" in s or "GB300" in s for s in e.value.suggestions)


def test_a_product_word_without_its_generation_says_which_chip_it_became() -> None:
    """Like a family name ("A100"), a name that does not say the generation ("Inferentia" -> Inferentia2)
    resolves with a 'hardware variant' assumption, never silently."""
    acc, variants, notes = find_accelerator("Inferentia")
    assert acc.name == "AWS Inferentia2 (Inf2)" and variants == [acc]
    said = [n for n in notes if n.what == "hardware variant"]
    assert len(said) == 1 and "AWS Inferentia2 (Inf2)" in said[0].value
    # several generations: an error listing them, as before
    with pytest.raises(AmbiguousNameError):
        find_accelerator("Gaudi")


@pytest.mark.parametrize(("name", "suggested"), [
    ("T4 SXM", ["NVIDIA T4"]),  # the chip exists, the form factor does not: that chip, not TPU v4 / v6e
    ("NVIDIA H800 PCIe", ["NVIDIA H800 SXM5"]),  # a real NVML name of a card the catalogue lacks
    ("NVIDIA H800 NVL", ["NVIDIA H800 SXM5"]),
])
def test_an_unknown_variant_of_a_known_chip_is_an_error_naming_that_chip(name: str, suggested: list[str]) -> None:
    """A different board (other TDP) must not silently take the catalogue's other variant."""
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(name)
    assert not isinstance(e.value, AmbiguousNameError)
    assert e.value.suggestions == suggested
    assert f"closest valid names: {suggested[0]}" in str(e.value)


@pytest.mark.parametrize("name", ["T40 PCIe", "T5 PCIe", "T4 PCIe x", "L5 PCIe"])
def test_suggestions_for_a_typo_are_close_by_model_not_by_letters(name: str) -> None:
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(name)
    assert not any(s.startswith(("TPU", "Google TPU")) and "v6e" in s for s in e.value.suggestions)


def test_suggestions_for_a_typo_of_t4_put_t4_first() -> None:
    with pytest.raises(UnknownNameError) as e:
        find_accelerator("T40 PCIe")
    assert e.value.suggestions[0] == "NVIDIA T4"


@pytest.mark.parametrize("name", ["Tesla P40", "NVIDIA L20", "NVIDIA A16"])
def test_other_chips_do_not_become_a_catalogue_chip(name: str) -> None:
    """A chip the catalogue lacks is unknown, not the nearest one: a wrong chip would give wrong power and peak
    FLOP/s."""
    with pytest.raises(UnknownNameError):
        find_accelerator(name)


@pytest.mark.parametrize(("name", "expected"), [("NVIDIA H20", "NVIDIA H20"), ("NVIDIA A30", "NVIDIA A30"),
                                                ("NVIDIA A800-SXM4-80GB", "NVIDIA A800 SXM4 80GB")])
def test_near_names_are_their_own_chips(name: str, expected: str) -> None:
    """H20 is not H200, A800 not A100 (refdata/accelerators_extra.csv has them)."""
    assert find_accelerator(name)[0].name == expected


@pytest.mark.parametrize("name", ["NVIDIA GH200 480GB", "Tesla P100-SXM2-16GB", "AMD Instinct MI250X / MI250"])
def test_nvidia_smi_names_work_on_the_command_line(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["estimate", "training", "--hardware", name, "--count", "8", "--params", "1B", "--tokens", "20B",
          "--location", "FR", "--year", "2021", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["total_co2e_kg"] > 0 and out["embodied_co2e_kg"] > 0
    assert out["hardware"] == find_accelerator(name)[0].name


# -- review of the name lookup: each case below resolved to a wrong chip (or failed) before its fix ----------------
@pytest.mark.parametrize("name", ["A2", "NVIDIA A2"])
def test_a_short_model_code_inside_another_chips_word_is_not_that_chip(name: str) -> None:
    """The NVIDIA A2 (a 60 W card the catalogue lacks) used to become AWS Inferentia2: "a2" is inside
    "inferentia2inf2". A glued match starts at a word of the row, and a short code must be a whole word."""
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(name)
    assert not isinstance(e.value, AmbiguousNameError)
    assert e.value.suggestions and all("Inferentia" not in s for s in e.value.suggestions)
    assert e.value.suggestions[0] == "NVIDIA A10"  # the same series: A10, A40, A100 ...


@pytest.mark.parametrize(("name", "expected"), [
    ("MI300", "AMD Instinct MI300X"),  # the MI300A (an APU) is another chip
    ("MI325", "AMD Instinct MI325X"),
    ("TPU v6", "Google TPU v6e (Trillium)"),
])
def test_a_model_number_cut_short_of_its_suffix_says_which_chip_it_became(name: str, expected: str) -> None:
    acc, variants, notes = find_accelerator(name)
    assert acc.name == expected and variants == [acc]
    said = [n for n in notes if n.what == "hardware variant"]
    assert len(said) == 1 and expected in said[0].value
    assert "only catalogue chip" in said[0].note and "full name" in said[0].note


def test_the_full_model_number_needs_no_note() -> None:
    for name in ("MI300X", "TPU v6e", "AMD Instinct MI325X"):
        assert [n for n in find_accelerator(name)[2] if n.what == "hardware variant"] == []


@pytest.mark.parametrize("name", ["V6", "v5"])
def test_a_two_character_code_does_not_complete_to_a_chip(name: str) -> None:
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(name)
    assert not isinstance(e.value, AmbiguousNameError)
    assert any("TPU v" in s for s in e.value.suggestions)


@pytest.mark.parametrize("name", ["GB200 NVL72", "NVIDIA GB200 NVL72"])
def test_nvl72_is_the_gb200_rack(name: str) -> None:
    assert find_accelerator(name)[0].name == "NVIDIA GB200 (per B200 GPU in NVL72)"


def test_nvl72_alone_names_two_racks() -> None:
    """GB200 NVL72 and GB300 NVL72 are both 72-GPU racks (memory 186 vs 279 GB, 1200 vs 1400 W per GPU): "NVL72"
    alone picks neither."""
    with pytest.raises(AmbiguousNameError) as e:
        find_accelerator("NVL72")
    assert {"NVIDIA GB200 (per B200 GPU in NVL72)", "NVIDIA GB300 (per B300 GPU in NVL72)"} <= set(e.value.suggestions)


@pytest.mark.parametrize(("name", "suggested"), [
    ("H100 NVL72", {"NVIDIA H100 NVL 94GB", "NVIDIA H100 SXM5 80GB", "NVIDIA H100 PCIe 80GB"}),
    ("H200 NVL72", {"NVIDIA H200 NVL", "NVIDIA H200 SXM 141GB"}),
])
def test_an_nvl_size_the_card_does_not_have_is_no_nvl_card(name: str, suggested: set[str]) -> None:
    """"NVL72" is a 72-GPU rack, not the "NVL" PCIe card: no H100 NVL72 exists."""
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(name)
    assert not isinstance(e.value, AmbiguousNameError)
    assert set(e.value.suggestions) == suggested


def test_the_nvl_card_still_resolves() -> None:
    assert find_accelerator("H100 NVL")[0].name == "NVIDIA H100 NVL 94GB"
    assert find_accelerator("NVIDIA H200 NVL")[0].name == "NVIDIA H200 NVL"
    assert find_accelerator("H200 SXM5")[0].name == "NVIDIA H200 SXM 141GB"  # a generation the name leaves off


def test_a_chips_own_model_word_beats_a_row_that_has_it_further_on() -> None:
    """"B200 192GB" was ambiguous with the GB200 row ("GB200 (per B200 GPU in NVL72)")."""
    acc, variants, notes = find_accelerator("B200 192GB")
    assert acc.name == "NVIDIA B200 (HGX/DGX)" and variants == [acc]
    said = [n for n in notes if n.what == "hardware variant"]
    assert len(said) == 1 and "192 GB" in said[0].note


@pytest.mark.parametrize(("name", "listed"), [
    ("H100 SXM5 94GB", ["NVIDIA H100 SXM5 80GB", "NVIDIA H100 NVL 94GB"]),
    ("H100 NVL 80GB", ["NVIDIA H100 NVL 94GB", "NVIDIA H100 PCIe 80GB", "NVIDIA H100 SXM5 80GB"]),
])
def test_a_form_factor_and_a_memory_of_different_variants_are_a_contradiction(name: str, listed: list[str]) -> None:
    """The 94 GB variant exists (the NVL): the memory figure is not "a size no variant has" to be dropped."""
    with pytest.raises(UnknownNameError) as e:
        find_accelerator(name)
    assert not isinstance(e.value, AmbiguousNameError)
    assert e.value.suggestions == listed
    assert "different variants" in str(e.value)


@pytest.mark.parametrize(("name", "expected", "profile"), [
    ("NVIDIA A100-SXM4-40GB MIG 1g.5gb", "NVIDIA A100 SXM4 40GB", "MIG 1g.5gb"),
    ("NVIDIA A100-SXM4-80GB MIG 1g.10gb+me", "NVIDIA A100 SXM4 80GB", "MIG 1g.10gb+me"),
    ("NVIDIA H100 80GB HBM3 MIG 3g.40gb", "NVIDIA H100 SXM5 80GB", "MIG 3g.40gb"),
    ("NVIDIA H100 PCIe MIG 7g.80gb", "NVIDIA H100 PCIe 80GB", "MIG 7g.80gb"),
])
def test_a_mig_instance_name_resolves_to_its_parent_gpu_and_says_so(name: str, expected: str, profile: str) -> None:
    """NVML names MIG devices so; "1g" is a compute slice, not a 1 GB memory size. The tracker measures the parent
    GPU of a MIG instance, and the slice is charged as that GPU."""
    acc, variants, notes = find_accelerator(name)
    assert acc.name == expected and acc in variants
    said = [n for n in notes if "MIG" in n.note]
    assert len(said) == 1 and profile in said[0].note and "parent GPU" in said[0].note


def test_a_mig_instance_of_an_unknown_gpu_is_still_unknown() -> None:
    with pytest.raises(UnknownNameError):
        find_accelerator("NVIDIA A16 MIG 1g.6gb")


@pytest.mark.parametrize(("name", "expected"), [
    ("NVIDIA A100-SXM4-40GB MIG 1g.5gb", "NVIDIA A100 SXM4 40GB"),
    ("MI300", "AMD Instinct MI300X"),
    ("GB200 NVL72", "NVIDIA GB200 (per B200 GPU in NVL72)"),
    ("GB300 NVL72", "NVIDIA GB300 (per B300 GPU in NVL72)"),
    ("B200 192GB", "NVIDIA B200 (HGX/DGX)"),
])
def test_reviewed_names_on_the_command_line(name: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["estimate", "training", "--hardware", name, "--chip-hours", "100", "--power-w", "300", "--json"])
    assert json.loads(capsys.readouterr().out)["hardware"] == expected


@pytest.mark.parametrize("name", ["A2", "H100 NVL72", "H100 SXM5 94GB"])
def test_reviewed_bad_names_are_errors_on_the_command_line(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "training", "--hardware", name, "--chip-hours", "100", "--power-w", "300"]) == 2
    err = capsys.readouterr().err
    assert f"unknown hardware {name!r}" in err and "Inferentia" not in err


def test_a_driver_name_that_only_its_memory_tells_apart_is_that_variant_alone() -> None:
    """'NVIDIA H100 80GB HBM3' matches the SXM5 and the PCIe card by its words; its HBM3 is the SXM5's, so the
    estimate must not take the PCIe card's 350 W into the TDP range (it did)."""
    chosen, variants, notes = find_accelerator("NVIDIA H100 80GB HBM3")
    assert chosen.name == "NVIDIA H100 SXM5 80GB" and variants == [chosen]
    assert any("driver reports" in n.note for n in notes)
    # the family name still covers its variants
    assert len(find_accelerator("H100")[1]) > 1
