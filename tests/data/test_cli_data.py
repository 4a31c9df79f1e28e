"""`wattprint data gpus|regions|search`: listings, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main


def test_gpus_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "gpus"]) == 0
    assert "NVIDIA H100 SXM5 80GB" in capsys.readouterr().out
    assert main(["data", "gpus", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    h100 = next(r for r in rows if r["name"] == "NVIDIA H100 SXM5 80GB")
    assert h100["tdp_w"] == 700 and h100["peak_tflops"]["bf16"] == pytest.approx(989.4)
    assert h100["embodied_kg"] == pytest.approx(164)
    assert (h100["tdp_w_low"], h100["tdp_w_high"], h100["tdp_estimate_w"], h100["tdp_note"]) == (700, 700, None, None)
    assert len({tuple(r) for r in rows}) == 1  # every row has the same keys
    by_name = {r["name"]: r for r in rows}
    assert by_name["NVIDIA A10G"]["tdp_w_low"] == 150 and "no A10G datasheet" in by_name["NVIDIA A10G"]["tdp_note"]
    trn2 = by_name["AWS Trainium2 (Trn2)"]
    assert trn2["tdp_w"] is None and trn2["tdp_estimate_w"] == 500
    # what one counted chip is, where software lists its parts: an MI250X is a package of 2 GCDs
    assert by_name["AMD Instinct MI250X"]["counted_as"] == "package of 2 GCDs (graphics compute dies)"
    assert by_name["Google TPU v3"]["counted_as"] == "chip of 2 TensorCores" and h100["counted_as"] is None
    assert main(["data", "gpus"]) == 0
    table = capsys.readouterr().out
    assert "AMD Instinct MI250X +" in table and "NVIDIA H100 SXM5 80GB +" not in table


def test_gpus_table_shows_the_tdp_used_with_its_span_and_an_estimate_apart(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "gpus"]) == 0
    lines = {line.split("  ")[0].rstrip(" *"): line for line in capsys.readouterr().out.splitlines()}
    assert "1200 (1000-1200)" in lines["NVIDIA GB200 (per B200 GPU in NVL72)"]
    assert "(~500)" in lines["AWS Trainium2 (Trn2)"]


def test_gpus_say_a_superchips_tdp_is_its_gpus_not_the_modules(capsys: pytest.CaptureFixture[str]) -> None:
    """GH200: the datasheet's 1000 W is the whole module (Grace CPU, GPU, memory); the listing shows the GPU's own
    power marked as such, and the JSON the module's figure and the W per GPU of its CPU beside it."""
    assert main(["data", "gpus"]) == 0
    out = capsys.readouterr().out
    lines = {line.split("  ")[0].rstrip(" *"): line for line in out.splitlines()}
    assert "700 (680-900) GPU" in lines["NVIDIA GH200 (GPU part)"] and "GPU = the GPU's own power" in out
    assert main(["data", "gpus", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    gh200 = rows["NVIDIA GH200 (GPU part)"]
    assert (gh200["tdp_w"], gh200["module_tdp_w"], gh200["module_cpu_w"]) == (700, 1000, 250)
    assert "whole Grace Hopper module" in gh200["tdp_note"]
    h100 = rows["NVIDIA H100 SXM5 80GB"]
    assert (h100["module_tdp_w"], h100["module_cpu_w"]) == (None, None)


def test_regions_by_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "regions", "--kind", "cloud", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    keys = {r["key"] for r in rows}
    assert {"aws:us-east-1", "gcp:europe-west4", "azure:westeurope"} <= keys
    assert all(r["kind"] == "cloud" and r["basis"] for r in rows)
    assert main(["data", "regions", "--kind", "subnational"]) == 0
    out = capsys.readouterr().out
    assert "US-CA" in out and "CA-QC" in out


def test_search(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "search", "quebec"]) == 0
    assert "CA-QC" in capsys.readouterr().out
    assert main(["data", "search", "h100"]) == 0
    assert "NVIDIA H100 SXM5 80GB" in capsys.readouterr().out
    assert main(["data", "search", "google/gemma-2-9b-it", "--json"]) == 0  # what --model takes, search finds
    hits = json.loads(capsys.readouterr().out)
    assert hits[0] == {"kind": "model", "key": "Gemma 2 9B", "name": "Gemma 2 9B, 9.24B parameters",
                       "matched": "google/gemma-2-9b-it"}


def test_search_nothing_is_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "search", "zzqqxx"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wattprint: error:") and "\n" not in err


def test_bad_kind_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["data", "regions", "--kind", "planet"])
    assert e.value.code == 2


def test_search_ignores_accents(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "search", "cote"]) == 0
    assert "CIV" in capsys.readouterr().out


def test_the_readme_credits_are_what_data_credits_prints(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    assert main(["data", "credits"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- credits:start -->")[1].split("<!-- credits:end -->")[0]
    assert printed == [line for line in block.strip().splitlines() if line.startswith("- ")]
    assert any("no changes made to the values" in line for line in printed)  # Apache-2.0 NOTICE wording


@pytest.mark.parametrize(("text", "key", "alias"), [
    ("UK", "GBR", "UK"), ("Turkey", "TUR", "Turkey"), ("Czech Republic", "CZE", "Czech Republic"),
    ("Ivory Coast", "CIV", "Ivory Coast"), ("Swaziland", "SWZ", "Swaziland"), ("Holland", "NLD", "Holland"),
    ("natural gas", "gas", "natural gas"), ("pv", "solar", "pv"), ("Québec", "CA-QC", None),
    ("PEI", "CA-PE", "PEI"), ("global", "world", "global"),
])
def test_search_finds_aliases_and_says_which_matched(capsys: pytest.CaptureFixture[str], text: str, key: str,
                                                     alias: str | None) -> None:
    """What works as --location or --mix is found by search too, exact matches first."""
    assert main(["data", "search", text, "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["key"] == key
    assert hits[0].get("matched") == alias
    assert main(["data", "search", text]) == 0
    out = capsys.readouterr().out
    assert key in out and (alias is None or f"(as {alias!r})" in out)


def test_search_by_own_name_says_no_alias(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "search", "France", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    fra = next(h for h in hits if h["key"] == "FRA")
    assert "matched" not in fra


@pytest.mark.parametrize("text", ["", ".*", "🙂"])
def test_search_text_without_letters_or_digits_says_so(capsys: pytest.CaptureFixture[str], text: str) -> None:
    assert main(["data", "search", text]) == 2
    err = capsys.readouterr().err
    assert "has no letters or digits" in err and len(err.strip().splitlines()) == 1


def test_a_search_that_matches_nothing_shows_texts_that_do(capsys: pytest.CaptureFixture[str]) -> None:
    """'xyzzy' matched nothing and was close to no name: the error named nothing to search for instead."""
    from wattprint.cli.data import SEARCH_EXAMPLES

    assert main(["data", "search", "xyzzy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "valid names include A100, TPU, France" in err
    for text in SEARCH_EXAMPLES:  # each example finds something
        assert main(["data", "search", text, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("text", "said"), [
    ("v5litepod-16", "--hardware 'TPU v5e' --count 16"), ("TPU v4-2048", "--count 1024"), ("8x A100", "--count 8")])
def test_search_for_a_slice_or_a_counted_name_says_what_to_type(text: str, said: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`data search v5litepod-16` suggested V100s while `estimate --hardware v5litepod-16` named the chip and count."""
    assert main(["data", "search", text]) == 2
    assert said in capsys.readouterr().err


@pytest.mark.parametrize("text", ["GB300 NVL72", "HGX B300", "NVIDIA B300 SXM6 AC", "GB200 NVL72", "DGX B200",
                                  "NVIDIA H100 80GB HBM3"])
def test_search_finds_what_hardware_takes(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`data search "HGX B300"` said 'unknown name ... (nothing matched)' while `--hardware "HGX B300"` resolved it:
    search now shows the chip the hardware resolver reads the text as."""
    from wattprint.data import find_accelerator

    chip = find_accelerator(text)[0].name
    assert main(["data", "search", text, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"kind": "accelerator", "key": chip, "name": chip, "resolves": text}]
    assert main(["data", "search", text]) == 0
    assert f"{chip} (what --hardware {text!r} resolves to)" in capsys.readouterr().out


def test_search_lists_each_chip_an_ambiguous_hardware_name_may_mean(capsys: pytest.CaptureFixture[str]) -> None:
    """'H100/A100' (chips of two architectures) is ambiguous to --hardware: search lists the candidates."""
    assert main(["data", "search", "H100/A100", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert {"NVIDIA H100 SXM5 80GB", "NVIDIA A100 SXM4 80GB"} <= {h["key"] for h in hits}
    assert all(h["kind"] == "accelerator" and h["ambiguous"] == "H100/A100" for h in hits)


def test_search_keeps_its_own_accelerator_matches(capsys: pytest.CaptureFixture[str]) -> None:
    """Where search's own matching finds chips ("A100": every A100 row), the resolver's single pick is not added."""
    assert main(["data", "search", "A100", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len([h for h in hits if h["kind"] == "accelerator"]) == 4
    assert not any("resolves" in h or "ambiguous" in h for h in hits)


@pytest.mark.parametrize("arch", ["Blackwell", "Hopper", "CDNA3"])
def test_an_architecture_for_hardware_lists_the_chips_search_finds(arch: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`--hardware Blackwell` said 'unknown hardware' while `data search Blackwell` lists the Blackwell chips: the
    estimate now refuses the architecture as ambiguous (exit 2, one line), naming the chips search finds."""
    from wattprint.data import find_accelerator
    from wattprint.errors import AmbiguousNameError

    assert main(["estimate", "training", "--params", "7e9", "--tokens", "1e12", "--hardware", arch,
                 "--count", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"wattprint: error: ambiguous hardware {arch!r}") and "\n" not in err
    assert main(["data", "search", arch, "--json"]) == 0
    chips = {h["key"] for h in json.loads(capsys.readouterr().out) if h["kind"] == "accelerator"}
    with pytest.raises(AmbiguousNameError) as e:
        find_accelerator(arch)
    assert chips and set(e.value.suggestions) == chips and all(c in err for c in chips)


def test_search_takes_the_words_of_a_name_without_quotes(capsys: pytest.CaptureFixture[str]) -> None:
    # `wattprint data search H100 SXM` stopped with 'unrecognized arguments: SXM', as --hardware H100 SXM does not
    assert main(["data", "search", "H100", "SXM", "--json"]) == 0
    words = json.loads(capsys.readouterr().out)
    assert main(["data", "search", "H100 SXM", "--json"]) == 0
    assert words == json.loads(capsys.readouterr().out) and any("H100 SXM5" in h["name"] for h in words)
