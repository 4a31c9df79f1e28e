"""The Hugging Face model-card ``co2_eq_emissions`` metadata block, built from a :class:`Footprint`.

The Hub's spec (https://huggingface.co/docs/hub/model-cards-co2) puts this in the YAML front matter of
the model's ``README.md``::

    ---
    co2_eq_emissions:
      emissions: 123.4            # grams of CO2e (number)
      source: "wattprint"
      training_type: "fine-tuning"  # or "pre-training"
      geographical_location: "France"
      hardware_used: "8 x NVIDIA A100-SXM4-80GB"
    ---

``emissions`` is the operational, location-based figure (facility energy x grid intensity), in grams, to
``EMISSIONS_DIGITS`` significant digits. Embodied emissions are not part of the Hub's field; :func:`card_body` (the
text of a card wattprint creates) states them beside the energy, PUE, intensity, duration and whether the energy was
measured or modelled.

That text is wattprint's section of the card, written between ``<!-- wattprint:start -->`` and
``<!-- wattprint:end -->`` lines (HTML comments: the rendered card does not show them). Every write replaces the
section with the new figures wherever it stands, so the text never contradicts the metadata; what lies between the
markers is wattprint's and is rewritten (an edit there is lost: write outside them), everything outside is kept. A
section written before the markers existed (the "## Environmental impact" heading, the "Training emitted ..."
paragraph naming wattprint and wattprint's bullets after it) is recognised and replaced by a marked one. The section is
added where the card has no text besides its metadata (a new or empty README); a card with text of its own but no
section of wattprint's (the Hub's generated card, or one whose section the user removed or rewrote) keeps its text as
it is and gets the metadata only.

A card that already has a ``co2_eq_emissions`` block keeps the fields wattprint does not write (``training_params``,
say) and is merged field by field: ``emissions`` and ``source`` (what wattprint measured) are always replaced;
``training_type``, ``geographical_location`` and ``hardware_used`` are replaced where the caller gave a value for
them (the arguments of :func:`co2_eq_emissions`), and otherwise keep the card's own value. What wattprint inferred
itself (the grid's location, the hardware a run read, a framework's guess at the training type) fills a field the
card lacks and is marked by a YAML comment on its line (:data:`INFERRED_COMMENT`, which the Hub does not show), so a
later write updates it, or removes it where it no longer knows the field; a line without the comment (one the user
wrote, or one whose comment the user removed after editing it) is the user's and is kept.

The front matter is found where the Hub finds it (huggingface_hub's ``REGEX_YAML_BLOCK``): a ``---`` line at the
file's start, after any whitespace (blank lines included), up to the next ``---`` line.

Framework-free and without PyYAML: the block is written as YAML that is also valid JSON scalars, and
merged into an existing front matter line by line, so every other key (and its formatting and comments)
is kept byte for byte.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputConflictError, WattprintError, echo, shown
from ..footprint import _TIME_UNITS, Footprint, _fmt_energy, _fmt_scaled
from ..output_file import resolve_output, write_output
from ..quantities import Range
from .card_front_matter import (
    _FENCE,
    DESCRIPTIVE_FIELDS,
    CardBlock,
    _front_matter_parts,
    is_mapping_front_matter,
    merge_front_matter,
)

# the block's reading and writing are this module's API too (``from wattprint.integrations.modelcard import ...``)
from .card_front_matter import KEY as KEY
from .card_front_matter import parse_block as parse_block
from .card_front_matter import read_model_card as read_model_card
from .card_front_matter import render_block as render_block
from .card_front_matter import split_front_matter as split_front_matter

if TYPE_CHECKING:
    from ..intensity import Location

SOURCE = "wattprint"
GRAMS_PER_KG = 1000.0
# significant digits of ``emissions``: its PUE and intensity alone are uncertain by percents, so more digits
# (a float's 17) would claim a precision the figure does not have
EMISSIONS_DIGITS = 4
WATTPRINT_LINK = "[wattprint](https://github.com/wattprint/wattprint)"
# intensity.location values that do not name a place
_NOT_A_PLACE = {"", "given", "unknown", "none"}
# the location key the intensity lookup uses when no location was configured
_WORLD = {"world", "wld", "global"}
# an intensity's location as the lookup labels it: "France (FRA)", "US East (N. Virginia) (aws:us-east-1)"
_LOCATION_LABEL = re.compile(r"^.*\S\s+\((?P<key>[^()]+)\)$")
SECTION_START = "<!-- wattprint:start -->"
SECTION_END = "<!-- wattprint:end -->"
_START_LINE = re.compile(r"^<!--\s*wattprint:start\s*-->\s*$")
_END_LINE = re.compile(r"^<!--\s*wattprint:end\s*-->\s*$")
# a section written before the markers: this heading, blank lines, a line starting "Training emitted" that names
# WATTPRINT_LINK, then optionally a blank line and bullets starting so (card_body's)
_OLD_HEADING = "## Environmental impact"
_OLD_PARAGRAPH = "Training emitted"
_OLD_BULLETS = ("- Energy: ", "- Grid intensity: ", "- Duration: ", "- Embodied CO2e of the hardware ")
TRAINING_TYPES = ("pre-training", "fine-tuning")  # the Hub's values (huggingface.co/docs/hub/model-cards-co2)


def check_training_type(training_type: object) -> None:
    """Refuse a ``training_type`` the Hub's card does not take (None: not given). One check for
    :func:`co2_eq_emissions` and the callbacks, which refuse it when they are made."""
    if training_type is not None and training_type not in TRAINING_TYPES:
        given = echo(training_type) if isinstance(training_type, str) else shown(training_type)
        raise WattprintError(f"training_type {given}: the Hub's model card takes one of {', '.join(TRAINING_TYPES)}")


def card_location(path: object, what: str = "path") -> str:
    """A model card's folder or README path (``what``, the argument's name for the message) as text, a leading
    ``~`` expanded as a shell would (a path argument is expected to take it; it is never a folder named ``~``).
    Anything but text or an ``os.PathLike`` of text (a number, bytes), or blank text, is a one-line
    :class:`InputConflictError`, not a TypeError from deep inside pathlib at the end of a training."""
    text = os.fspath(path) if isinstance(path, str | os.PathLike) else None
    if not isinstance(text, str):
        hint = " (decode bytes to text first)" if isinstance(text if text is not None else path, bytes) else ""
        raise InputConflictError(f"{what} must be a folder or README.md path (str or os.PathLike), got "
                                 f"{shown(path)}{hint}")
    if not text.strip():
        raise InputConflictError(f"no model card path given ({what} is empty): name the model's folder or its "
                                 "README.md")
    return os.path.expanduser(text)


def co2_eq_emissions(
    footprint: Footprint,
    *,
    training_type: str | None = None,
    geographical_location: str | None = None,
    hardware_used: str | None = None,
    source: str = SOURCE,
    guesses: Mapping[str, str | None] | None = None,
) -> CardBlock:
    """The ``co2_eq_emissions`` dict for a footprint.

    ``emissions`` = the footprint's operational (location-based) CO2e in kg x 1000, i.e. grams (to
    ``EMISSIONS_DIGITS`` significant digits). ``training_type``, ``geographical_location`` and ``hardware_used``, where
    given, are written as given, over what a card says. Where one is not given it is inferred, and yields to the
    card's own value (see :func:`write_model_card`): ``guesses`` (a framework's guess at the training type, the
    hardware it saw: field -> value), else, for the location, the place whose grid intensity was used (its name,
    "France", with its country where it lies below one: "Quebec, Canada"), for the hardware, what a tracked run read
    (the footprint's ``details["hardware"]``: :func:`hardware_used_of`). Fields that are unknown (no location
    configured: the world average) are left out rather than guessed.
    """
    check_training_type(training_type)
    grams = footprint.operational_co2e_kg.value * GRAMS_PER_KG
    if not math.isfinite(grams) or grams < 0:
        raise WattprintError(f"cannot write {grams!r} g CO2e into a model card: the footprint's emissions are not a "
                             "finite, non-negative number")
    guesses = dict(guesses or {})
    if unknown := sorted(set(guesses) - set(DESCRIPTIVE_FIELDS)):
        raise WattprintError(f"guesses for {', '.join(unknown)}: only {', '.join(DESCRIPTIVE_FIELDS)} are inferred")
    guesses.setdefault("geographical_location", _location_name(footprint.intensity.location))
    guesses.setdefault("hardware_used", hardware_used_of(footprint.details.get("hardware")))
    given = {"training_type": training_type, "geographical_location": geographical_location,
             "hardware_used": hardware_used}
    block = CardBlock({"emissions": significant(grams), "source": source})
    inferred = []
    for name in DESCRIPTIVE_FIELDS:
        if given[name]:
            block[name] = given[name]
        elif guesses.get(name):
            block[name] = guesses[name]
            inferred.append(name)
    block.inferred = frozenset(inferred)
    return block


def hardware_used_of(hardware: Any) -> str | None:
    """The ``hardware_used`` text of the hardware a run stored (its ``hardware`` in ``wattprint runs show --json``,
    or a tracked footprint's ``details["hardware"]``): its GPUs as the driver names them ("2 x NVIDIA H100 80GB
    HBM3"), else its CPU model with the CPUs allocated to it; None where it names neither."""
    if not isinstance(hardware, Mapping):
        return None
    from ..storage.export import gpu_text

    gpus = [g for g in hardware.get("gpus") or [] if isinstance(g, Mapping)]
    if gpus:
        return gpu_text(gpus)
    cpu = hardware.get("cpu")
    if not isinstance(cpu, Mapping) or not isinstance(cpu.get("model"), str):
        return None  # not describe_hardware's fallback: that reads this machine's CPU, not the run's
    cpus = cpu.get("allocated_cpus")
    count = round(cpus) if isinstance(cpus, int | float) and not isinstance(cpus, bool) and cpus >= 1 else None
    return describe_hardware(None, cpu_model=cpu["model"], cpu_cores=count)


def significant(x: float, digits: int = EMISSIONS_DIGITS) -> float:
    """``x`` rounded to ``digits`` significant digits (0.00037706666221719873 -> 0.0003771)."""
    return float(f"{x:.{digits}g}")


def _location_name(key: str | None) -> str | None:
    """The place an intensity's location names, in one form whether the intensity was looked up (its location
    labelled "France (FRA)") or given for a location (its location the key, "FRA"): the place's name, "France"
    (:func:`_place_text`); the text itself if wattprint does not know it. None where it names no place: no location
    configured (the world average), or a number given without one."""
    if key is None or key.strip().lower() in _NOT_A_PLACE | _WORLD:
        return None
    try:
        from ..intensity import WORLD, resolve_location
    except ImportError:  # the data module absent: the text itself is still the best description
        return key
    label = _LOCATION_LABEL.match(key.strip())
    for candidate in ([label.group("key")] if label else []) + [key]:
        try:
            loc = resolve_location(candidate)
        except WattprintError:  # not a location wattprint knows: the next candidate, else the text itself
            continue
        return None if loc is WORLD else _place_text(loc)
    return key


def _place_text(loc: Location) -> str:
    """A known place as a person reads it, with its country: a sub-national grid's or zone's name alone ("Quebec",
    "Georgia") does not say where it is, so the country's name follows a comma where the place's name lacks it
    ("Quebec, Canada", "Georgia, United States"; "Sweden Bidding Zone 3 (Southern Sweden)" as it is); a cloud
    region's provider name ("EU (Ireland)") is followed by its key, the region that was meant ("EU (Ireland)
    (aws:eu-west-1)"). Both names are the location tables' own."""
    from ..intensity import resolve_location

    text = str(loc.name)
    if loc.kind != "country" and loc.country_iso3:
        country = str(resolve_location(loc.country_iso3).name)
        if not re.search(rf"\b{re.escape(country)}\b", text, re.IGNORECASE):
            text = f"{text}, {country}"
    return f"{text} ({loc.key})" if loc.kind == "cloud" else text


# -- hardware description ---------------------------------------------------------------------------
def describe_hardware(
    accelerators: list[str] | None = None,
    cpu_model: str | None = None,
    cpu_cores: int | None = None,
) -> str | None:
    """A short "how much and what kind" string, as the Hub asks: "8 x NVIDIA A100-SXM4-80GB".

    ``accelerators`` lists one name per device used (all processes of the job); identical names are
    counted. Without accelerators the CPU is described instead ("Intel(R) Xeon(R) ... (2 CPU cores)").
    """
    if accelerators:
        counts: dict[str, int] = {}
        for name in accelerators:
            counts[name] = counts.get(name, 0) + 1
        return ", ".join(f"{n} x {name}" for name, n in counts.items())
    cpu = cpu_model or cpu_model_name()
    if cpu is None:
        return None
    return f"{cpu} ({cpu_cores} CPU cores)" if cpu_cores else f"{cpu} (CPU)"


def cpu_model_name(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else :func:`platform.processor`, else None."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    import platform

    return platform.processor() or None


# -- YAML front matter --------------------------------------------------------------------------------
def update_readme_text(text: str, block: Mapping[str, Any], body: str = "") -> str:
    """A README's text with the block merged into its front matter (which is created if absent) and ``body`` as
    wattprint's section of the text; the file's line ending (LF or CRLF) is kept.

    ``body`` replaces wattprint's section (see :func:`find_section`) wherever it is, or is added where the README has
    no text besides its metadata; a README with text of its own and no section of wattprint's keeps its text. An empty
    ``body`` leaves the text as it is.

    Text between a first ``---`` line and the next one that is not a YAML mapping (a README that opens with a
    horizontal rule) is not metadata to merge into: :class:`WattprintError`, and nothing is to be written; so is a
    start marker without an end marker (where wattprint's section ends is not known).
    """
    parts = _front_matter_parts(text)
    opening, front, closing, rest = parts if parts is not None else ("", None, "", text.removeprefix("\ufeff"))
    if front is not None and not is_mapping_front_matter(front):
        raise WattprintError(
            "it starts with a '---' line, but what follows up to the next '---' is not YAML metadata (key: value "
            "lines), so the co2_eq_emissions block was not written and the file is left as it was; if the first "
            "'---' is a horizontal rule, put a metadata block (---, co2_eq_emissions: ..., ---) above it, or pass "
            "the block to huggingface_hub.metadata_update()")
    nl = "\r\n" if "\r\n" in text else "\n"
    rest = _with_section(rest, body, nl)
    if front is None:
        sep = nl if rest and not rest.startswith(("\n", "\r\n")) else ""
        head = f"{_FENCE}\n{merge_front_matter('', block)}{_FENCE}\n"
        return (head.replace("\n", nl) if nl != "\n" else head) + sep + rest
    merged = merge_front_matter(front, block)
    if nl != "\n":  # the rendered block has LF lines: give them the file's ending, leave the rest as it was
        merged = merged.replace("\r\n", "\n").replace("\n", nl)
    if not closing.endswith(("\n", "\r")):  # the closing fence ended the file: text may follow it now
        closing += nl
    return f"{opening}{merged}{closing}{rest}"


def render_section(body: str, nl: str = "\n") -> str:
    """``body`` between wattprint's marker lines, with ``nl`` line endings. Blank lines inside the markers keep the
    body's first and last blocks (a heading, a list) apart from the comments in every Markdown renderer."""
    inner = body.replace("\r\n", "\n").strip("\n")
    section = f"{SECTION_START}\n\n{inner}\n\n{SECTION_END}\n"
    return section.replace("\n", nl) if nl != "\n" else section


def find_section(text: str) -> tuple[int, int] | None:
    """(start, end) character offsets of wattprint's section in a README's text (after its front matter), its
    lines' endings included; None if it has none.

    The section runs from a ``<!-- wattprint:start -->`` line to the next ``<!-- wattprint:end -->`` line, both
    included; without markers, a section written before them is looked for (:func:`_unmarked_section`). A start line
    without an end line is a :class:`WattprintError`: where the section ends is not known, and guessing could
    delete the user's text.
    """
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    for i, line in enumerate(lines):
        if _START_LINE.match(line.rstrip("\r\n")):
            for j in range(i + 1, len(lines)):
                if _END_LINE.match(lines[j].rstrip("\r\n")):
                    return offsets[i], offsets[j + 1]
            raise WattprintError(
                f"it has a '{SECTION_START}' line without a '{SECTION_END}' line after it, so where wattprint's "
                "section ends is not known and the file is left as it was; put the end line back after wattprint's "
                "text, or remove the start line")
    span = _unmarked_section(lines)
    return None if span is None else (offsets[span[0]], offsets[span[1]])


def _unmarked_section(lines: list[str]) -> tuple[int, int] | None:
    """(first line, line after the last) of a section written before the markers existed: exactly the lines
    :func:`card_body` or :func:`_default_body` wrote (the heading, the "Training emitted ..." paragraph naming
    wattprint, then its bullets), so text a user added after them, or a paragraph they rewrote, is not taken."""
    def bare(k: int) -> str:
        return lines[k].rstrip("\r\n")

    for i in range(len(lines)):
        if bare(i).rstrip() != _OLD_HEADING:
            continue
        j = i + 1
        while j < len(lines) and not bare(j).strip():
            j += 1
        if j == i + 1 or j == len(lines) or not (bare(j).startswith(_OLD_PARAGRAPH) and WATTPRINT_LINK in bare(j)):
            continue
        end = j + 1
        if end + 1 < len(lines) and not bare(end).strip() and bare(end + 1).startswith(_OLD_BULLETS):
            end += 1
            while end < len(lines) and bare(end).startswith(_OLD_BULLETS):
                end += 1
        return i, end
    return None


def _with_section(rest: str, body: str, nl: str) -> str:
    """The text after the front matter with ``body`` as wattprint's section (see :func:`update_readme_text`)."""
    if not body.strip():
        return rest
    section = render_section(body, nl)
    span = find_section(rest)
    if span is not None:
        start, end = span
        return rest[:start] + section + rest[end:]
    if rest.strip():  # text of the user's or the Hub's, and no section of ours: theirs to keep as it is
        return rest
    return nl + section


def write_model_card(path: str | os.PathLike[str], block: Mapping[str, Any], body: str | None = None) -> Path:
    """Write ``block`` into the front matter of the model card at ``path`` (a README.md or its folder).

    An existing README keeps all its other metadata and its text, but for wattprint's section, which is replaced by
    ``body`` (a short default paragraph if None): the text then states the figures the metadata holds. A missing or
    empty README is created with the front matter and ``body``; see :func:`update_readme_text`. Returns the README's
    path. A leading ``~`` in ``path`` is the home folder (see :func:`card_location`).
    """
    p = Path(card_location(path))
    if p.suffix.lower() != ".md":  # a folder ("models/bert-v1.5" too), existing or not
        if p.exists() and not p.is_dir():
            raise WattprintError(f"{p} is a file, not a model folder: give the folder or a README.md path")
        p = p / "README.md"
    if p.is_dir():
        raise WattprintError(f"{p} is a folder, not a model card file")
    if p.parent.exists() and not p.parent.is_dir():
        raise WattprintError(f"{p.parent} is a file, not a model folder")
    p.parent.mkdir(parents=True, exist_ok=True)
    # through a link to its file; a regular file replaced whole with its mode kept (see wattprint.output_file)
    out = resolve_output(p)
    if (why := out.refusal()) is not None:
        raise WattprintError(f"{p} {why}, not a model card file")
    try:
        old = ""
        if out.is_regular:  # only a file is read: a FIFO's open for reading would wait for a writer
            with open(out.path, encoding="utf-8", newline="") as fh:  # newline="": CRLF stays visible
                old = fh.read()
    except UnicodeDecodeError:
        raise WattprintError(f"{p} is not UTF-8 text, so its metadata cannot be merged; convert it first") from None
    default_body = body if body is not None else _default_body(block)
    try:
        new = update_readme_text(old, block, default_body)
    except WattprintError as e:
        raise WattprintError(f"{p}: {e}") from None
    # newline="" in the stream: the file's line endings kept; a crash never leaves a half-written model card
    write_output(out, lambda fh: fh.write(new), prefix=f".{p.name}.", suffix=".wattprint-tmp")
    return p


def _default_body(block: Mapping[str, Any]) -> str:
    """The text of a new card given only the block (no footprint to say more: see :func:`card_body`)."""
    grams = block.get("emissions")
    figure = f" about {grams:.4g} g CO2e (operational, location-based)" if isinstance(grams, (int, float)) else ""
    return (
        "## Environmental impact\n\n"
        f"Training emitted{figure}, as reported by {WATTPRINT_LINK}; the embodied emissions of the hardware are not "
        "included.\n"
    )


def card_body(
    footprint: Footprint, *, emissions_g: float | None = None, energy_kwh: float | None = None,
    embodied_kg: float | None = None, processes: int = 1,
) -> str:
    """The text of a new model card: the ``emissions`` figure with what it covers and how it was obtained.

    Says whether the energy was measured, partly modelled or modelled (each component's basis), the facility energy
    with its PUE, the grid intensity with its basis, year and source, the duration, and the embodied CO2e, which the
    Hub's ``emissions`` leaves out. ``emissions_g``, ``energy_kwh`` and ``embodied_kg`` replace the footprint's own
    figures with those summed over a job's ``processes`` (their ranges are then not known).
    """
    summed = processes > 1
    grams = Range.exact(emissions_g) if emissions_g is not None else footprint.operational_co2e_kg * GRAMS_PER_KG
    energy = Range.exact(energy_kwh) if energy_kwh is not None else footprint.energy_kwh
    embodied_g = (Range.exact(embodied_kg) if embodied_kg is not None else footprint.embodied_co2e_kg) * GRAMS_PER_KG
    scope = f", summed over the job's {processes} processes" if summed else ""
    intensity = footprint.intensity.assumption()
    how = _how_obtained(footprint)
    lines = [
        "## Environmental impact",
        "",
        f"Training emitted about {grams:.4g} g CO2e (operational, location-based: facility energy x grid intensity"
        f"{scope}; the `co2_eq_emissions` metadata), {how}.",
        "",
        f"- Energy: {_fmt_energy(energy)} at the facility{scope} (IT energy x PUE {footprint.pue:.3g})"
        + (f"; {_by_basis(footprint)}" if footprint.energy_by_component_kwh else "") + ".",
        f"- Grid intensity: {intensity.value}" + (f" [{intensity.source}]" if intensity.source else "") + ".",
    ]
    if footprint.wall_time_h is not None:
        lines.append(f"- Duration: {_fmt_scaled(footprint.wall_time_h, _TIME_UNITS)}.")
    lines.append(f"- Embodied CO2e of the hardware (manufacture, amortised over the training): about {embodied_g:.4g} "
                 f"g{scope}, not included in `emissions` (the Hub's field is operational).")
    return "\n".join(lines) + "\n"


def _how_obtained(footprint: Footprint) -> str:
    """How the energy was obtained, from the components' bases: measured, partly modelled, or modelled."""
    bases = {c.basis for c in footprint.energy_by_component_kwh.values()}
    if bases == {"measured"}:
        return f"measured with {WATTPRINT_LINK}"
    if "measured" in bases:
        return f"partly measured, partly {'modelled' if 'modelled' in bases else 'given'}, with {WATTPRINT_LINK}"
    if "modelled" in bases:
        return f"modelled, not measured, with {WATTPRINT_LINK} (no power sensor was read)"
    if "given" in bases:
        return f"computed with {WATTPRINT_LINK} from energy figures given by the user"
    return f"reported by {WATTPRINT_LINK}"


def _by_basis(footprint: Footprint) -> str:
    """"gpu measured; cpu, ram modelled": each component's basis."""
    groups: dict[str, list[str]] = {}
    for name, comp in footprint.energy_by_component_kwh.items():
        groups.setdefault(comp.basis, []).append(name)
    return "; ".join(f"{', '.join(names)} {basis}" for basis, names in groups.items())

