"""Model-card metadata without any ML framework: the block, and merging it into README front matter."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from wattprint.footprint import ComponentEnergy, Footprint, Intensity
from wattprint.integrations.modelcard import (
    co2_eq_emissions,
    describe_hardware,
    parse_block,
    read_model_card,
    split_front_matter,
    update_readme_text,
    write_model_card,
)
from wattprint.quantities import Range


def _footprint(kwh: float = 2.0, pue: float = 1.5, g_per_kwh: float = 50.0, location: str = "given") -> Footprint:
    return Footprint(
        energy_by_component_kwh={"gpu": ComponentEnergy(Range(kwh, kwh * 0.9, kwh * 1.1), "measured")},
        pue=Range.exact(pue),
        intensity=Intensity.fixed(g_per_kwh, location=location),
        embodied_co2e_kg=Range.exact(7.0),
    )


def test_block_has_operational_emissions_in_grams_and_no_embodied() -> None:
    fp = _footprint()
    block = co2_eq_emissions(
        fp,
        training_type="fine-tuning",
        geographical_location="Quebec, Canada",
        hardware_used="8 x NVIDIA A100-SXM4-80GB",
    )
    assert block["emissions"] == pytest.approx(fp.operational_co2e_kg.value * 1000)
    assert block["emissions"] == pytest.approx(2.0 * 1.5 * 50.0)  # kWh x PUE x g/kWh = g
    assert block["source"] == "wattprint"
    assert block["training_type"] == "fine-tuning"
    assert block["geographical_location"] == "Quebec, Canada"
    assert block["hardware_used"] == "8 x NVIDIA A100-SXM4-80GB"


def test_unknown_fields_are_left_out_not_guessed() -> None:
    block = co2_eq_emissions(_footprint(location="given"))
    assert set(block) == {"emissions", "source"}


def test_location_defaults_to_the_intensity_location() -> None:
    block = co2_eq_emissions(_footprint(location="Atlantis-7"))
    assert block["geographical_location"] == "Atlantis-7"  # unknown key: kept as is, never dropped silently


def test_location_names_a_known_place_and_is_left_out_when_none_was_configured() -> None:
    pytest.importorskip("wattprint.intensity")
    assert co2_eq_emissions(_footprint(location="FRA"))["geographical_location"] == "France"
    from wattprint.intensity import intensity_for

    world = dataclasses.replace(_footprint(), intensity=intensity_for(None))  # the world average, for want of one
    assert "geographical_location" not in co2_eq_emissions(world)  # the Hub's field names a place: none is known


def test_describe_hardware_counts_identical_devices() -> None:
    assert describe_hardware(["NVIDIA H100 80GB HBM3"] * 8) == "8 x NVIDIA H100 80GB HBM3"
    assert describe_hardware(["A", "B", "A"]) == "2 x A, 1 x B"
    assert describe_hardware(None, cpu_model="Some CPU", cpu_cores=4) == "Some CPU (4 CPU cores)"


def test_new_readme_is_created_with_front_matter_and_round_trips(tmp_path: Path) -> None:
    block = co2_eq_emissions(_footprint(), training_type="pre-training", hardware_used='1 x "quoted" GPU: ü')
    p = write_model_card(tmp_path / "model", block)
    assert p == tmp_path / "model" / "README.md"
    text = p.read_text()
    assert text.startswith("---\nco2_eq_emissions:\n")
    assert "## Environmental impact" in text
    assert read_model_card(p) == block


def test_merge_keeps_other_metadata_and_body_byte_for_byte(tmp_path: Path) -> None:
    original = (
        "---\n"
        "license: apache-2.0  # keep this comment\n"
        "tags:\n"
        "- text-generation\n"
        "- wattprint\n"
        "co2_eq_emissions:\n"
        "  emissions: 1\n"
        "  source: codecarbon\n"
        "\n"
        "# a comment about the datasets\n"
        "datasets:\n"
        "  - wikitext\n"
        "---\n"
        "\n"
        "# My model\n\nSome text with --- inside.\n"
    )
    readme = tmp_path / "README.md"
    readme.write_text(original)
    block = co2_eq_emissions(_footprint(), training_type="fine-tuning")
    write_model_card(readme, block)
    text = readme.read_text()
    front, body = split_front_matter(text)
    assert body == "\n# My model\n\nSome text with --- inside.\n"
    assert front is not None
    assert front.startswith("license: apache-2.0  # keep this comment\ntags:\n- text-generation\n- wattprint\n")
    assert front.endswith("\n# a comment about the datasets\ndatasets:\n  - wikitext\n")
    assert "codecarbon" not in front and front.count("co2_eq_emissions:") == 1
    assert parse_block(text) == block
    # writing again is idempotent
    write_model_card(readme, block)
    assert readme.read_text() == text


def test_readme_without_front_matter_keeps_its_text() -> None:
    out = update_readme_text("# Title\n\nBody\n", {"emissions": 1.5, "source": "wattprint"})
    assert out == '---\nco2_eq_emissions:\n  emissions: 1.5\n  source: "wattprint"\n---\n\n# Title\n\nBody\n'


def test_tiny_emissions_are_written_as_yaml_floats() -> None:
    text = update_readme_text("", {"emissions": 1e-5, "source": "wattprint"})
    assert "emissions: 1.0e-05" in text  # YAML 1.1 reads "1e-05" as a string
    assert parse_block(text) == {"emissions": 1e-5, "source": "wattprint"}


def test_output_is_valid_yaml_when_a_yaml_parser_is_available(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    readme = tmp_path / "README.md"
    readme.write_text("---\nlanguage:\n- en\nco2_eq_emissions: {emissions: 3}\nlicense: mit\n---\nbody\n")
    block = co2_eq_emissions(_footprint(), training_type="fine-tuning", hardware_used="2 x X: y # z")
    write_model_card(readme, block)
    front, body = split_front_matter(readme.read_text())
    assert body == "body\n"
    meta = yaml.safe_load(front)
    assert meta == {"language": ["en"], "license": "mit", "co2_eq_emissions": block}
    assert isinstance(meta["co2_eq_emissions"]["emissions"], float)


def test_huggingface_hub_reads_the_block_when_installed(tmp_path: Path) -> None:
    hub = pytest.importorskip("huggingface_hub")
    block = co2_eq_emissions(_footprint(), training_type="fine-tuning", hardware_used="1 x GPU")
    p = write_model_card(tmp_path, block)
    card = hub.ModelCard.load(p)
    assert card.data.co2_eq_emissions == block


def test_a_card_keeps_a_bom_files_metadata_crlf_endings_and_a_symlink(tmp_path: Path) -> None:
    block = co2_eq_emissions(_footprint(), training_type="fine-tuning")
    bom = tmp_path / "bom" / "README.md"
    bom.parent.mkdir()
    bom.write_text("\ufeff---\nlicense: mit\n---\nText\n", encoding="utf-8")
    write_model_card(bom.parent, block)
    text = bom.read_text(encoding="utf-8")
    assert text.count("---") == 2 and "license: mit" in text and parse_block(text) == block

    crlf = tmp_path / "crlf" / "README.md"
    crlf.parent.mkdir()
    crlf.write_bytes(b"---\r\nlicense: mit\r\n---\r\nLine one\r\nLine two\r\n")
    write_model_card(crlf, block)
    raw = crlf.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"") and raw.endswith(b"Line one\r\nLine two\r\n")
    assert parse_block(raw.decode()) == block

    real = tmp_path / "real.md"
    real.write_text("---\nlicense: mit\n---\n", encoding="utf-8")
    link = tmp_path / "linked" / "README.md"
    link.parent.mkdir()
    link.symlink_to(real)
    write_model_card(link.parent, block)
    assert link.is_symlink() and parse_block(real.read_text(encoding="utf-8")) == block



def test_a_card_keeps_its_files_mode_and_hard_links(tmp_path: Path) -> None:
    block = co2_eq_emissions(_footprint(), training_type="fine-tuning")
    readme = tmp_path / "private" / "README.md"
    readme.parent.mkdir()
    readme.write_text("---\nlicense: mit\n---\nText\n", encoding="utf-8")
    readme.chmod(0o600)  # a private card stays private
    write_model_card(readme, block)
    assert stat.S_IMODE(readme.stat().st_mode) == 0o600 and parse_block(readme.read_text(encoding="utf-8")) == block

    linked = tmp_path / "linked" / "README.md"
    linked.parent.mkdir()
    linked.write_text("---\nlicense: mit\n---\nText\n", encoding="utf-8")
    other = tmp_path / "copy.md"
    os.link(linked, other)
    inode = linked.stat().st_ino
    write_model_card(linked, block)
    assert linked.stat().st_ino == inode and linked.stat().st_nlink == 2  # one file under both names, as it was
    assert parse_block(other.read_text(encoding="utf-8")) == block and "Text" in other.read_text(encoding="utf-8")
    assert not list(tmp_path.rglob("*.wattprint-tmp"))


_CARD_TO = """
import sys
from wattprint.integrations.modelcard import write_model_card
write_model_card(sys.argv[1], {"emissions": 12.5, "source": "wattprint"})
"""


def test_a_card_named_by_a_fifo_is_written_to_it_never_read(tmp_path: Path) -> None:
    """A FIFO is not read for the card's old metadata (its open would wait for a writer: forever), only written."""
    fifo = tmp_path / "README.md"
    os.mkfifo(fifo)
    got: dict[str, str] = {}

    def read() -> None:
        with open(fifo, encoding="utf-8") as fh:
            got["text"] = fh.read()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:  # in a process of its own, so that a hang is ended by its timeout (a guard, not a timing assertion)
        r = subprocess.run([sys.executable, "-c", _CARD_TO, str(fifo)], capture_output=True, text=True, timeout=60)
    finally:
        with contextlib.suppress(OSError):  # a reader still waiting for a writer is given one, so that it ends
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(60)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and parse_block(got["text"])["emissions"] == 12.5


def test_card_paths_are_folders_unless_markdown_and_bad_ones_are_clear_errors(tmp_path: Path) -> None:
    from wattprint.errors import WattprintError

    block = co2_eq_emissions(_footprint())
    assert write_model_card(tmp_path / "models" / "bert-v1.5", block) == tmp_path / "models" / "bert-v1.5" / "README.md"
    (tmp_path / "LICENSE").write_text("MIT\n")
    (tmp_path / "dir" / "README.md").mkdir(parents=True)
    (tmp_path / "latin1").mkdir()
    (tmp_path / "latin1" / "README.md").write_bytes(b"caf\xe8\n")
    for bad in ("", tmp_path / "LICENSE", tmp_path / "dir", tmp_path / "latin1"):
        with pytest.raises(WattprintError):
            write_model_card(bad, block)
    assert (tmp_path / "latin1" / "README.md").read_bytes() == b"caf\xe8\n"
    assert not list(tmp_path.rglob("*.wattprint-tmp"))


def test_non_finite_emissions_are_refused_and_odd_yaml_is_read_as_text() -> None:
    from wattprint.errors import WattprintError

    with pytest.raises(WattprintError, match="finite"):
        co2_eq_emissions(_footprint(kwh=float("inf")))
    text = '---\nco2_eq_emissions:\n  source: "wattprint" # a comment\n  x: "unterminated\n---\n'
    assert parse_block(text) == {"source": "wattprint", "x": '"unterminated'}


def test_a_given_intensity_stored_under_the_world_key_is_not_called_the_world_average() -> None:
    # a footprint stored before the tracker named a number given with location "World" "given"
    assert "geographical_location" not in co2_eq_emissions(_footprint(g_per_kwh=100.0, location="world"))


# -- what a new card's text says: how the figure was obtained and what it leaves out ------------------------------
def _modelled(**parts: str) -> Footprint:
    """A footprint like a run on a machine without power sensors: every component modelled unless said."""
    components = {name: ComponentEnergy(Range(1e-6, 0.5e-6, 2e-6), parts.get(name, "modelled")) for name in
                  ("cpu", "ram", *parts)}
    return Footprint(components, Range(1.56, 1.15, 1.8),
                     Intensity(Range(661.93, 628.8, 695.0), "Poland (POL)", "lifecycle, average (OWID/Ember)", 2023,
                               "Our World in Data"),
                     embodied_co2e_kg=Range(1.2e-6, 2.4e-7, 5.2e-6), wall_time_h=Range.exact(2.5 / 3600))


def test_emissions_are_written_to_four_significant_digits(tmp_path: Path) -> None:
    fp = _footprint(kwh=0.00037706666221719873 / 75.0)  # x PUE 1.5 x 50 g/kWh
    block = co2_eq_emissions(fp)
    assert block["emissions"] == 0.0003771
    write_model_card(tmp_path, block)
    assert "  emissions: 0.0003771\n" in (tmp_path / "README.md").read_text()


def test_a_new_card_says_modelled_and_states_energy_intensity_duration_and_embodied(tmp_path: Path) -> None:
    from wattprint.integrations.modelcard import card_body

    fp = _modelled()
    write_model_card(tmp_path, co2_eq_emissions(fp), card_body(fp))
    text = (tmp_path / "README.md").read_text()
    assert "measured with" not in text
    assert "modelled, not measured" in text and "no power sensor was read" in text and "cpu, ram modelled" in text
    assert "PUE 1.56 (1.15–1.8)" in text and "Energy: 3.12 (1.15–7.2) mWh at the facility" in text
    assert "661.9 (628.8–695) gCO2e/kWh (Poland (POL), 2023; lifecycle, average (OWID/Ember))" in text
    assert "Duration: 2.5 s" in text
    assert "about 0.0012 (0.00024–0.0052) g, not included in `emissions`" in text
    partly = card_body(_modelled(gpu="measured"))
    assert "partly measured, partly modelled" in partly and "gpu measured" in partly
    assert "measured with" in card_body(_modelled(cpu="measured", ram="measured"))


def test_the_default_text_claims_no_measurement(tmp_path: Path) -> None:
    write_model_card(tmp_path, co2_eq_emissions(_modelled()))  # the block alone: how it was obtained is not known
    text = (tmp_path / "README.md").read_text()
    assert "measured" not in text and "embodied emissions of the hardware are not included" in text


# -- wattprint's section of the text: rewritten on every write (a rerun into the same folder), the rest kept ------
START, END = "<!-- wattprint:start -->", "<!-- wattprint:end -->"
BEFORE = "\n# My model\n\nFine-tuned by us.\n\n"
AFTER = "\n## Citation\n\nCite us.\n"
# the section as wattprint wrote it before it had markers: card_body's (copied from a card a Lightning training
# wrote), the default text, and the first version's default text
UNMARKED_CARD_BODY = (
    "## Environmental impact\n\n"
    "Training emitted about 0.0002433 (0.0001623–0.000373) g CO2e (operational, location-based: facility energy x "
    "grid intensity; the `co2_eq_emissions` metadata), modelled, not measured, with "
    "[wattprint](https://github.com/wattprint/wattprint) (no power sensor was read).\n\n"
    "- Energy: 4.342 (3.048–5.503) mWh at the facility (IT energy x PUE 1.56 (1.15–1.8)); cpu, ram modelled.\n"
    "- Grid intensity: 56.04 (53.24–67.78) gCO2e/kWh (France (FRA), 2023; lifecycle, average (OWID/Ember)) [Our World "
    "in Data energy data (2024 release, based on Ember and Energy Institute), via CodeCarbon global_energy_mix.json; "
    "CC BY 4.0 / MIT].\n"
    "- Duration: 1.045 s.\n"
    "- Embodied CO2e of the hardware (manufacture, amortised over the training): about 0.0003137 "
    "(6.272e-05–0.001339) g, not included in `emissions` (the Hub's field is operational).\n"
)
UNMARKED_DEFAULT = (
    "## Environmental impact\n\nTraining emitted about 0.0002433 g CO2e (operational, location-based), as reported by "
    "[wattprint](https://github.com/wattprint/wattprint); the embodied emissions of the hardware are not included.\n"
)
UNMARKED_FIRST = (
    "## Environmental impact\n\nTraining emitted about 0.0002433 g CO2e (operational, location-based), measured with "
    "[wattprint](https://github.com/wattprint/wattprint).\n"
)
STALE_FRONT = '---\nlicense: mit\nco2_eq_emissions:\n  emissions: 0.0002433\n  source: "wattprint"\n---\n'


def _card(kwh: float) -> tuple[dict[str, object], str]:
    """A block and card text for a training of ``kwh`` (x PUE 1.5 x 50 g/kWh = 75 x kwh grams)."""
    from wattprint.integrations.modelcard import card_body

    fp = _footprint(kwh=kwh)
    return co2_eq_emissions(fp), card_body(fp)


def _marked(body: str) -> str:
    return f"{START}\n\n{body}\n{END}\n"


def _text_figures(text: str) -> list[float]:
    """The figures the card's text gives as "Training emitted about X"."""
    import re

    return [float(x) for x in re.findall(r"Training emitted about ([0-9.e+-]+)", text)]


def test_a_second_write_replaces_the_text_with_the_figures_of_the_metadata(tmp_path: Path) -> None:
    """Rerunning a training into the same folder: the text said the first run's figures under the second's metadata."""
    write_model_card(tmp_path / "card", *_card(2.0))
    block, body = _card(3.0)
    write_model_card(tmp_path / "card", block, body)
    text = (tmp_path / "card" / "README.md").read_text()
    assert parse_block(text) == block and block["emissions"] == 225.0
    assert _text_figures(text) == [225.0]  # the text agrees with the metadata, and says it once
    assert "Energy: 4.5 (4.05–4.95) kWh" in text and "Energy: 3 " not in text
    write_model_card(tmp_path / "fresh", block, body)
    assert text == (tmp_path / "fresh" / "README.md").read_text()  # the same card as one written afresh


def test_text_before_and_after_wattprints_section_and_other_metadata_are_kept(tmp_path: Path) -> None:
    _, old_body = _card(2.0)
    readme = tmp_path / "README.md"
    readme.write_text("---\nlicense: mit  # ours\nco2_eq_emissions:\n  emissions: 150.0\n---\n"
                      + BEFORE + _marked(old_body) + AFTER)
    block, body = _card(3.0)
    write_model_card(readme, block, body)
    front, rest = split_front_matter(readme.read_text())
    assert front == 'license: mit  # ours\nco2_eq_emissions:\n  emissions: 225.0\n  source: "wattprint"\n'
    assert rest == BEFORE + _marked(body) + AFTER


def test_text_between_the_markers_is_wattprints_and_rewritten(tmp_path: Path) -> None:
    """The markers delimit what wattprint owns: an edit inside them is replaced, one outside is kept."""
    _, old_body = _card(2.0)
    readme = tmp_path / "README.md"
    readme.write_text(f"---\nlicense: mit\n---\n{BEFORE}{START}\nMy note inside.\n{old_body}{END}\nMy note after.\n")
    block, body = _card(3.0)
    write_model_card(readme, block, body)
    assert split_front_matter(readme.read_text())[1] == BEFORE + _marked(body) + "My note after.\n"


@pytest.mark.parametrize("unmarked", [UNMARKED_CARD_BODY, UNMARKED_DEFAULT, UNMARKED_FIRST],
                         ids=["card_body", "default", "first-version"])
def test_a_section_written_before_the_markers_is_recognised_and_replaced(tmp_path: Path, unmarked: str) -> None:
    readme = tmp_path / "README.md"
    after = "- Trained twice, see below.\n" + AFTER  # a user's line right after wattprint's bullets is theirs
    readme.write_text(STALE_FRONT + BEFORE + unmarked + after)
    block, body = _card(3.0)
    write_model_card(readme, block, body)
    text = readme.read_text()
    assert split_front_matter(text)[1] == BEFORE + _marked(body) + after
    assert _text_figures(text) == [block["emissions"]] and "0.0002433" not in text


def test_writing_the_same_card_twice_gives_the_same_text(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(STALE_FRONT + BEFORE + UNMARKED_CARD_BODY + AFTER)
    block, body = _card(3.0)
    write_model_card(readme, block, body)
    once = readme.read_text()
    write_model_card(readme, block, body)
    assert readme.read_text() == once
    assert _text_figures(once) == [block["emissions"]]


def test_a_crlf_card_stays_crlf_when_its_section_is_replaced(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_bytes((STALE_FRONT + BEFORE + UNMARKED_CARD_BODY + AFTER).replace("\n", "\r\n").encode())
    block, body = _card(3.0)
    for _ in range(2):  # the second write finds the marked section in CRLF lines, and changes nothing
        write_model_card(readme, block, body)
        raw = readme.read_bytes()
        assert b"\n" not in raw.replace(b"\r\n", b"")
        text = raw.decode().replace("\r\n", "\n")
        assert split_front_matter(text)[1] == BEFORE + _marked(body) + AFTER
        assert parse_block(text) == block


def test_a_card_with_metadata_only_gets_the_section_and_one_with_text_of_its_own_keeps_it(tmp_path: Path) -> None:
    """Like a card without metadata: the section is added where there is no text, never into someone's text."""
    block, body = _card(3.0)
    bare = tmp_path / "bare" / "README.md"
    bare.parent.mkdir()
    bare.write_text("---\nlicense: mit\n---\n")
    write_model_card(bare, block, body)
    assert split_front_matter(bare.read_text())[1] == "\n" + _marked(body)

    hub_text = ("\n# My model\n\n## Environmental Impact\n\nCarbon emissions can be estimated using the [Machine "
                "Learning Impact calculator](https://mlco2.github.io/impact#compute).\n\n## Environmental impact\n\n"
                "Training emitted about 3 g CO2e by our own estimate.\n")  # the Hub's template; a rewritten section
    own = tmp_path / "own" / "README.md"
    own.parent.mkdir()
    own.write_text("---\nlicense: mit\n---\n" + hub_text)
    write_model_card(own, block, body)
    assert split_front_matter(own.read_text())[1] == hub_text


def test_a_start_marker_without_an_end_is_a_clear_error_and_the_card_is_left_alone(tmp_path: Path) -> None:
    from wattprint.errors import WattprintError

    readme = tmp_path / "README.md"
    original = f"---\nlicense: mit\n---\n{START}\n## Environmental impact\n\nMy own text from here on.\n"
    readme.write_text(original)
    with pytest.raises(WattprintError, match="wattprint:end"):
        write_model_card(readme, *_card(3.0))
    assert readme.read_text() == original


# -- the user's co2_eq_emissions fields, the Hub's front matter, the location's form --------------------------------
USER_BLOCK = (
    "---\n"
    "co2_eq_emissions:\n"
    "  emissions: 0\n"
    '  training_type: "fine-tuning"\n'
    '  geographical_location: "Montreal, Quebec, Canada"\n'
    '  hardware_used: "8 x A100 (rented, see paper)"\n'
    '  training_params: "lr 3e-4"\n'
    "---\n"
)
USER_FIELDS = {"training_type": "fine-tuning", "geographical_location": "Montreal, Quebec, Canada",
               "hardware_used": "8 x A100 (rented, see paper)", "training_params": "lr 3e-4"}


def _tracked(location: str | None = None, cpu: str = "AMD EPYC") -> Footprint:
    """A footprint as a tracked run gives it: the grid intensity looked up for ``location`` (the world average for
    None), and the hardware the run read (a CPU)."""
    pytest.importorskip("wattprint.intensity")
    from wattprint.intensity import intensity_for

    return dataclasses.replace(_footprint(), intensity=intensity_for(location),
                               details={"hardware": {"cpu": {"model": cpu, "allocated_cpus": 2}}})


def _hub_metadata(readme: Path) -> dict[str, object]:
    """The metadata as the Hub reads it (huggingface_hub, else the same block found with PyYAML)."""
    try:
        from huggingface_hub import metadata_load
    except ImportError:
        pytest.skip("huggingface_hub not installed")
    meta = metadata_load(readme)
    assert isinstance(meta, dict)
    return meta


def test_fields_the_user_set_in_the_block_are_kept_and_the_measured_ones_replaced(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(USER_BLOCK)
    fp = _tracked()  # no location configured, a CPU read: wattprint could only guess both
    block = co2_eq_emissions(fp)
    write_model_card(readme, block)
    expected = {"emissions": block["emissions"], "source": "wattprint", **USER_FIELDS}
    assert block["emissions"] > 0 and parse_block(readme.read_text()) == expected
    assert _hub_metadata(readme)["co2_eq_emissions"] == expected
    write_model_card(readme, block)  # and again: nothing the user wrote wears away
    assert parse_block(readme.read_text()) == expected


def test_a_card_with_the_key_twice_has_the_last_one_updated_the_one_the_hub_reads(tmp_path: Path) -> None:
    """YAML forbids a repeated key, but PyYAML (the Hub's loader) keeps the last: updating the first left the Hub
    showing the stale figure."""
    readme = tmp_path / "README.md"
    readme.write_text("---\nco2_eq_emissions:\n  emissions: 1\nlicense: mit\n"
                      "co2_eq_emissions:\n  emissions: 2\n  training_params: \"lr 3e-4\"\n---\nText\n")
    block = co2_eq_emissions(_footprint())
    write_model_card(readme, block)
    got = parse_block(readme.read_text())
    assert got == {"emissions": block["emissions"], "source": "wattprint", "training_params": "lr 3e-4"}
    assert _hub_metadata(readme)["co2_eq_emissions"] == got
    assert "co2_eq_emissions:\n  emissions: 1\nlicense: mit\n" in readme.read_text()  # the other left as written


def test_a_value_the_caller_gives_replaces_the_users_and_a_guess_does_not(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(USER_BLOCK)
    fp = _tracked("FR")
    write_model_card(readme, co2_eq_emissions(fp, training_type="pre-training", hardware_used="1 x NVIDIA H100",
                                              guesses={"geographical_location": "Paris"}))
    got = parse_block(readme.read_text())
    assert got is not None
    assert (got["training_type"], got["hardware_used"]) == ("pre-training", "1 x NVIDIA H100")  # given: written
    assert got["geographical_location"] == "Montreal, Quebec, Canada"  # the intensity's place, a guess: the user's
    assert got["training_params"] == "lr 3e-4"
    readme.write_text(USER_BLOCK)
    write_model_card(readme, co2_eq_emissions(fp, guesses={"training_type": "pre-training"}))  # a framework's guess
    assert parse_block(readme.read_text()) == {"emissions": got["emissions"], "source": "wattprint", **USER_FIELDS}


def test_what_wattprint_inferred_itself_is_updated_by_a_rerun_and_an_edit_is_kept(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    write_model_card(readme, co2_eq_emissions(_tracked("FR", cpu="CPU one")))
    first = parse_block(readme.read_text())
    assert first is not None and (first["geographical_location"], first["hardware_used"]) == (
        "France", "CPU one (2 CPU cores)")
    write_model_card(readme, co2_eq_emissions(_tracked("DE", cpu="CPU two")))  # a rerun elsewhere on other hardware
    second = parse_block(readme.read_text())
    assert second is not None and (second["geographical_location"], second["hardware_used"]) == (
        "Germany", "CPU two (2 CPU cores)")
    write_model_card(readme, co2_eq_emissions(_footprint()))  # one that knows neither: its earlier guesses go
    assert parse_block(readme.read_text()) == co2_eq_emissions(_footprint())
    # the user edits an inferred line (and drops wattprint's comment on it, as the comment asks): theirs from then on
    write_model_card(readme, co2_eq_emissions(_tracked("FR")))
    text = readme.read_text()
    line = next(x for x in text.splitlines() if "geographical_location" in x)
    readme.write_text(text.replace(line, '  geographical_location: "Lyon, France"'))
    write_model_card(readme, co2_eq_emissions(_tracked("DE")))
    assert parse_block(readme.read_text())["geographical_location"] == "Lyon, France"  # type: ignore[index]


def test_an_earlier_versions_unknown_location_prose_is_not_taken_for_the_users(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text('---\nco2_eq_emissions:\n  emissions: 1.0\n  source: "wattprint"\n'
                      '  geographical_location: "unknown (world-average grid intensity assumed)"\n---\n')
    write_model_card(readme, co2_eq_emissions(_tracked()))
    assert "geographical_location" not in parse_block(readme.read_text())  # type: ignore[operator]


def test_user_fields_in_a_flow_mapping_are_kept(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    readme = tmp_path / "README.md"
    readme.write_text('---\nlicense: mit\nco2_eq_emissions: {emissions: 3, training_params: "a, b: c", '
                      "hardware_used: 'TPU v4'}\n---\nbody\n")
    block = co2_eq_emissions(_tracked())
    write_model_card(readme, block)
    front, _ = split_front_matter(readme.read_text())
    kept = {"training_params": "a, b: c", "hardware_used": "TPU v4"}  # hardware_used: the user's, over a CPU read
    assert yaml.safe_load(front) == {"license": "mit", "co2_eq_emissions": {
        "emissions": block["emissions"], "source": "wattprint", **kept}}


@pytest.mark.parametrize("lead", ["\n", "\n\n", "  \n", "\r\n"], ids=["blank-line", "two", "spaces", "crlf"])
def test_front_matter_after_leading_blank_lines_is_the_metadata_the_hub_reads(tmp_path: Path, lead: str) -> None:
    readme = tmp_path / "README.md"
    nl = "\r\n" if "\r" in lead else "\n"
    readme.write_bytes(f"{lead}---{nl}license: mit{nl}---{nl}body{nl}".encode())
    assert _hub_metadata(readme) == {"license": "mit"}
    block = co2_eq_emissions(_footprint(), training_type="fine-tuning")
    write_model_card(readme, block)
    text = readme.read_bytes().decode()
    assert text.count("---") == 2 and text.endswith(f"---{nl}body{nl}")
    assert _hub_metadata(readme) == {"license": "mit", "co2_eq_emissions": block}
    assert parse_block(text) == block


def test_a_fence_the_hub_does_not_read_is_not_written_into(tmp_path: Path) -> None:
    """An opening '---' with text after it on the line is no metadata fence for the Hub: the block goes above."""
    readme = tmp_path / "README.md"
    readme.write_text("--- \nlicense: mit\n---\nbody\n")
    block = co2_eq_emissions(_footprint())
    write_model_card(readme, block)
    assert _hub_metadata(readme) == {"co2_eq_emissions": block}


# a place below its country names the country too; a cloud region its key
PLACES = {"FR": "France", "CA-QC": "Quebec, Canada", "US-CA": "California, United States",
          "US-GA": "Georgia, United States", "SE3": "Sweden Bidding Zone 3 (Southern Sweden)",
          "aws:us-east-1": "US East (N. Virginia), United States (aws:us-east-1)",
          "aws:eu-west-1": "EU (Ireland) (aws:eu-west-1)", "gcp:us-central1": "Iowa, United States (gcp:us-central1)"}


def test_an_unknown_location_is_left_out_and_a_known_one_has_one_form() -> None:
    pytest.importorskip("wattprint.intensity")
    assert "geographical_location" not in co2_eq_emissions(_tracked())  # the world average: no place to name
    for key, place in PLACES.items():
        looked_up = co2_eq_emissions(_tracked(key))["geographical_location"]
        from wattprint.intensity import resolve_location

        given = co2_eq_emissions(_footprint(location=resolve_location(key).key))["geographical_location"]
        assert looked_up == given == place  # "France", as with an intensity given for FR


@pytest.mark.parametrize("key", ["CA-QC", "US-CA", "US-GA", "SE3", "aws:eu-west-1"])
def test_a_card_names_the_country_of_a_place_below_it(tmp_path: Path, key: str) -> None:
    """A province's, state's or grid zone's name alone ("Quebec", "Georgia") does not say where the model was
    trained; the card says the country too."""
    readme = tmp_path / "README.md"
    write_model_card(readme, co2_eq_emissions(_tracked(key)))
    assert read_model_card(readme)["geographical_location"] == PLACES[key]  # type: ignore[index]


def test_the_users_comments_and_multi_line_fields_in_the_block_are_kept_as_written(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    readme = tmp_path / "README.md"
    mine = ("    # our notes\n"
            "    training_params: |\n      lr 3e-4\n\n      # a line of the text, not a comment\n"
            "    # about the next one\n"
            "    extra: 1\n")
    readme.write_text(f"---\nco2_eq_emissions:  # ours\n{mine}license: mit\n---\n")
    block = co2_eq_emissions(_footprint())
    write_model_card(readme, block)
    front, _ = split_front_matter(readme.read_text())
    assert front == ("co2_eq_emissions:  # ours\n    # our notes\n"
                     f'    emissions: {block["emissions"]}\n    source: "wattprint"\n' + mine.split("\n", 1)[1]
                     + "license: mit\n")
    text = yaml.safe_load(front)["co2_eq_emissions"]["training_params"]
    assert text == "lr 3e-4\n\n# a line of the text, not a comment\n"


def test_a_block_wattprint_cannot_split_into_fields_is_a_clear_error_and_left_alone(tmp_path: Path) -> None:
    from wattprint.errors import WattprintError

    readme = tmp_path / "README.md"
    original = "---\nco2_eq_emissions: {emissions: 3, training_params: [1, 2\n---\n"
    readme.write_text(original)
    with pytest.raises(WattprintError, match="fields could not be kept"):
        write_model_card(readme, co2_eq_emissions(_footprint()))
    assert readme.read_text() == original
    with pytest.raises(WattprintError, match="guesses for location"):
        co2_eq_emissions(_footprint(), guesses={"location": "Paris"})


def test_co2_eq_emissions_refuses_a_training_type_as_the_callbacks_do(wattprint_env: Path) -> None:
    """The public builder wrote training_type: "rlhf" into the card, which the callbacks refuse when made."""
    from wattprint.errors import WattprintError
    from wattprint.integrations.session import TrainingSession

    with pytest.raises(WattprintError) as built:
        co2_eq_emissions(_footprint(), training_type="rlhf")
    with pytest.raises(WattprintError) as made:
        TrainingSession(project="p", training_type="rlhf")
    assert str(built.value) == str(made.value)
    assert "'rlhf'" in str(built.value) and "pre-training, fine-tuning" in str(built.value)


@pytest.mark.parametrize("bad", [b"dir", 5, 3.5])
def test_a_card_path_that_is_not_text_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          bad: object) -> None:
    """bytes (or a number) reached pathlib, whose TypeError is no message for a user."""
    from wattprint.errors import InputConflictError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputConflictError, match=r"must be a folder or README.md path \(str or os.PathLike\)") as e:
        write_model_card(bad, {"emissions": 1.0, "source": "wattprint"})  # type: ignore[arg-type]
    assert f"got {bad!r}" in str(e.value) and "\n" not in str(e.value)
    assert ("decode" in str(e.value)) == isinstance(bad, bytes)
    assert not list(tmp_path.iterdir())


def test_a_card_path_starting_with_a_tilde_is_in_the_home_folder(home_elsewhere: Path) -> None:
    """"~/modelx" made a folder literally named '~' in the working directory."""
    home, work = home_elsewhere, Path.cwd()  # the fixture works in a folder apart from HOME
    block = co2_eq_emissions(_footprint())
    assert write_model_card("~/modelx", block) == home / "modelx" / "README.md"
    assert write_model_card(Path("~/other/README.md"), block) == home / "other" / "README.md"
    assert read_model_card(home / "modelx") == block
    assert not list(work.iterdir())
