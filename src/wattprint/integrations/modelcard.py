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

import contextlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import WattprintError
from ..footprint import _TIME_UNITS, Footprint, _fmt_energy, _fmt_scaled
from ..quantities import Range

KEY = "co2_eq_emissions"
SOURCE = "wattprint"
GRAMS_PER_KG = 1000.0
FIELD_ORDER = ("emissions", "source", "training_type", "geographical_location", "hardware_used")
# the fields wattprint measured: a write always replaces them
MEASURED_FIELDS = ("emissions", "source")
# the fields that describe the training: the card's own value is kept unless the caller gives one
DESCRIPTIVE_FIELDS = ("training_type", "geographical_location", "hardware_used")
# the YAML comment on a line whose value wattprint inferred rather than was given: a later write may replace it
INFERRED_COMMENT = "# inferred by wattprint; remove this comment to keep your own value"
# significant digits of ``emissions``: its PUE and intensity alone are uncertain by percents, so more digits
# (a float's 17) would claim a precision the figure does not have
EMISSIONS_DIGITS = 4
WATTPRINT_LINK = "[wattprint](https://github.com/wattprint/wattprint)"
_FENCE = "---"
# intensity.location values that do not name a place
_NOT_A_PLACE = {"", "given", "unknown", "none"}
# the location key the intensity lookup uses when no location was configured
_WORLD = {"world", "wld", "global"}
# the geographical_location earlier versions wrote where no location was configured: wattprint's, not the user's
_OLD_UNKNOWN_LOCATION = "unknown (world-average grid intensity assumed)"
# an intensity's location as the lookup labels it: "France (FRA)", "US East (N. Virginia) (aws:us-east-1)"
_LOCATION_LABEL = re.compile(r"^.*\S\s+\((?P<key>[^()]+)\)$")
# the front matter where the Hub finds it (huggingface_hub.repocard.REGEX_YAML_BLOCK): an opening "---" line after
# any leading whitespace, the text, a closing "---" line (spaces or tabs may follow it)
_HUB_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(?:\r\n|\n|$))")
# an empty front matter ("---" then "---"), which the Hub's pattern does not match but a block written into is read
_EMPTY_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))()(---[ \t]*(?:\r\n|\n|$))")
_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')\s*:")
# a top-level line of a YAML block mapping: a plain or quoted key, then ":" and a space or the line's end
_MAPPING_KEY = re.compile(r"""^([^\s#:\-?\[\]{},&*!|>'"%@`][^#]*?|"[^"]*"|'[^']*')\s*:(\s|$)""")
# the lines that delimit wattprint's section of the card text (each alone on its line)
SECTION_START = "<!-- wattprint:start -->"
SECTION_END = "<!-- wattprint:end -->"
_START_LINE = re.compile(r"^<!--\s*wattprint:start\s*-->\s*$")
_END_LINE = re.compile(r"^<!--\s*wattprint:end\s*-->\s*$")
# a section written before the markers: this heading, blank lines, a line starting "Training emitted" that names
# WATTPRINT_LINK, then optionally a blank line and bullets starting so (card_body's)
_OLD_HEADING = "## Environmental impact"
_OLD_PARAGRAPH = "Training emitted"
_OLD_BULLETS = ("- Energy: ", "- Grid intensity: ", "- Duration: ", "- Embodied CO2e of the hardware ")


class CardBlock(dict[str, Any]):
    """A ``co2_eq_emissions`` mapping that knows which of its fields wattprint inferred (``inferred``) rather than
    was given: :func:`write_model_card` lets a card's own value of those stand. A plain dict's fields all count as
    given (copying a CardBlock into one, ``dict(block)``, makes them so)."""

    def __init__(self, fields: Mapping[str, Any] | None = None, inferred: Iterable[str] = ()) -> None:
        super().__init__(fields or {})
        self.inferred = frozenset(inferred)


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
    "France"), for the hardware, what a tracked run read (the footprint's ``details["hardware"]``:
    :func:`hardware_used_of`). Fields that are unknown (no location configured: the world average) are left out
    rather than guessed.
    """
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
    labelled "France (FRA)") or given for a location (its location the key, "FRA"): the place's name, "France"; the
    text itself if wattprint does not know it. None where it names no place: no location configured (the world
    average), or a number given without one."""
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
        return None if loc is WORLD else str(loc.name)
    return key


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
def render_block(block: Mapping[str, Any], key: str = KEY) -> str:
    """The block as YAML lines (a mapping under ``key``); strings double-quoted (JSON escapes are YAML); an inferred
    field's line (see :class:`CardBlock`) ends with :data:`INFERRED_COMMENT`."""
    return f"{key}:\n" + "".join(_field_line(block, k, "  ") for k in _ordered(block))


def _ordered(block: Mapping[str, Any]) -> list[str]:
    return [k for k in FIELD_ORDER if k in block] + [k for k in block if k not in FIELD_ORDER]


def _field_line(block: Mapping[str, Any], k: str, indent: str) -> str:
    comment = f"  {INFERRED_COMMENT}" if k in _inferred(block) else ""
    return f"{indent}{k}: {_scalar(block[k])}{comment}\n"


def _inferred(block: Mapping[str, Any]) -> frozenset[str]:
    """The fields of ``block`` wattprint inferred (none for a plain dict), less the measured ones."""
    return frozenset(getattr(block, "inferred", ())) - set(MEASURED_FIELDS)


def _scalar(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, (int, float)):
        # repr keeps full precision; YAML reads 1e-05 as a string, so always write a decimal point
        text = repr(float(v)) if isinstance(v, float) else str(v)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exp = text.split("e")
            text = f"{mantissa}.0e{exp}"
        return text
    return json.dumps(str(v), ensure_ascii=False)


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(front matter without its ``---`` fences, rest of the document); (None, text) if there is none.

    The front matter is where the Hub reads it (huggingface_hub's ``REGEX_YAML_BLOCK``): a ``---`` line (nothing
    after it on the line) at the start, after any whitespace or blank lines, up to the next line that is ``---``
    (spaces or tabs may follow). A byte-order mark before it is allowed (editors on Windows write one; the Hub reads
    the file as utf-8-sig). An opening fence without a closing one is not front matter."""
    parts = _front_matter_parts(text)
    if parts is None:
        return None, text.removeprefix("\ufeff")
    _, front, _, rest = parts
    return front, rest


def _front_matter_parts(text: str) -> tuple[str, str, str, str] | None:
    """(opening fence with the whitespace before it, front matter, closing fence line, rest); None if there is
    none. The front matter ends with its last line's line ending (empty if it has no lines)."""
    text = text.removeprefix("\ufeff")
    m = _HUB_FRONT_MATTER.match(text) or _EMPTY_FRONT_MATTER.match(text)
    if m is None:
        return None
    closing = m.group(3)
    body_end = len(closing) - len(closing.lstrip("\r\n"))  # the front matter's last line ending, in the pattern
    return m.group(1), m.group(2) + closing[:body_end], closing[body_end:], text[m.end():]


def is_mapping_front_matter(front: str) -> bool:
    """Whether front matter text is a YAML block mapping (``key: value`` lines; empty counts), as model-card
    metadata is. A README that opens with a ``---`` horizontal rule has prose up to its next ``---`` instead."""
    seen_key = False
    for line in front.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[:1] in (" ", "\t"):  # a value continued (nested mapping, list, folded text)
            if not seen_key:
                return False
            continue
        if line.startswith("- ") or line.rstrip() == "-":  # a list item at column 0: a key's value (YAML allows it)
            if not seen_key:
                return False
            continue
        if not _MAPPING_KEY.match(line):
            return False
        seen_key = True
    return True


def merge_front_matter(front: str, block: Mapping[str, Any], key: str = KEY) -> str:
    """Merge ``block`` into the top-level ``key`` of YAML front matter text (appended if absent), keeping every
    other line.

    Within ``key``'s mapping the fields are merged as :func:`merge_fields` says; a value that is not a mapping (a
    number, as in old cards) is replaced whole.
    """
    lines = front.splitlines(keepends=True)
    start, value = None, ""
    for i, line in enumerate(lines):
        m = _TOP_LEVEL_KEY.match(line)
        if m and m.group(1).strip("\"'") == key:
            start, value = i, line[m.end() :]  # value: what follows the key's ":" on its line
            break
    if start is None:
        if front and not front.endswith("\n"):
            front += "\n"
        return front + render_block(block, key)
    end = start + 1
    # the old value runs over indented, blank and comment lines (and "- " items, which YAML allows at column 0)
    while end < len(lines) and (lines[end][:1] in (" ", "\t", "\n", "\r", "#") or lines[end].startswith("- ")):
        end += 1
    # trailing blank/comment lines belong to what follows, not to the replaced value
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    if _is_block_header(value):
        entries, header = _block_entries(lines[start + 1 : end], key), lines[start]
    elif value.strip().startswith("{"):
        entries, header = _flow_entries(" ".join(x.strip() for x in [value, *lines[start + 1 : end]]), key), None
    else:
        entries, header = None, None
    if entries is None:  # not a mapping (a number, a list, nothing): no field of the user's to keep in it
        return "".join(lines[:start]) + render_block(block, key) + "".join(lines[end:])
    if header is None or not header.endswith(("\n", "\r")):
        header = f"{key}:\n"
    indent = next((text[: len(text) - len(text.lstrip())] for k, text in entries if k is not None), "  ")
    return "".join(lines[:start]) + header + "".join(merge_fields(entries, block, indent)) + "".join(lines[end:])


# one field of a mapping as text: (its key, its lines), or (None, a comment or blank line between fields)
_Entry = tuple[str | None, str]


def merge_fields(entries: list[_Entry], block: Mapping[str, Any], indent: str = "  ") -> list[str]:
    """The lines of a card's ``co2_eq_emissions`` mapping (``entries``, in order) with ``block`` merged in.

    The rule: a field of ``block`` replaces the card's where it is measured (:data:`MEASURED_FIELDS`), given by the
    caller (not in the block's ``inferred``), or the card's line is wattprint's own inference (it carries
    :data:`INFERRED_COMMENT`, or is the unknown-location text earlier versions wrote); else the card's line is kept.
    A field the card lacks is added (after the block's fields that precede it); a line of wattprint's inference that
    the block no longer has is removed; every other line of the card (its own fields, comments) is kept as it is.
    """
    inferred = _inferred(block)
    out = [(k, text) for k, text in entries if k is None or k in block or not _is_wattprints(text)]
    for k in _ordered(block):
        line = _field_line(block, k, indent)
        at = next((i for i, (name, _) in enumerate(out) if name == k), None)
        if at is not None:
            if k not in inferred or _is_wattprints(out[at][1]):
                out[at] = (k, line)
            continue
        before = FIELD_ORDER[: FIELD_ORDER.index(k)] if k in FIELD_ORDER else tuple(block)
        after = [i + 1 for i, (name, _) in enumerate(out) if name in before]
        first_field = next((i for i, (name, _) in enumerate(out) if name is not None), len(out))
        out.insert(after[-1] if after else first_field, (k, line))
    return [text for _, text in out]


def _is_wattprints(text: str) -> bool:
    """Whether a field's line is one wattprint inferred (so not the user's to keep)."""
    first = text.split("\n", 1)[0]
    return INFERRED_COMMENT in first or _OLD_UNKNOWN_LOCATION in first


def _is_block_header(value: str) -> bool:
    """Whether what follows a key's ``:`` on its line leaves the value to the lines below (a comment at most)."""
    return not value.strip() or value.strip().startswith("#")


def _block_entries(below: list[str], key: str) -> list[_Entry] | None:
    """The fields of a block mapping (the lines below its key), in order; None where those lines are no mapping (a
    list, nothing). A mapping these lines cannot be split into fields is a :class:`WattprintError`: its fields
    could not be kept."""
    content = [x for x in below if x.strip() and not x.lstrip().startswith("#")]
    if not content or content[0].lstrip().startswith("- ") or content[0].strip() == "-":
        return None
    indent = _depth(content[0])
    entries: list[_Entry] = []
    for i, line in enumerate(below):
        line = line if line.endswith(("\n", "\r")) else line + "\n"  # a field may be added after it
        continues = bool(entries) and entries[-1][0] is not None  # a line may still belong to the field above
        if not line.strip():
            # a blank line inside a field's text (a block scalar) belongs to it; one between fields stands alone
            following = next((x for x in below[i + 1 :] if x.strip()), "")
            continues = continues and _depth(following) > indent
        elif _depth(line) <= indent:
            continues = False
        if continues:
            entries[-1] = (entries[-1][0], entries[-1][1] + line)
        elif not line.strip() or line.lstrip().startswith("#"):
            entries.append((None, line))
        elif _depth(line) == indent and (m := _MAPPING_KEY.match(line.lstrip())):
            entries.append((m.group(1).strip().strip("\"'"), line))
        else:
            raise WattprintError(f"its {key} mapping has a line that is not a field (name: value) wattprint can "
                                 f"read, {line.strip()!r}, so its fields could not be kept and the file is left as "
                                 "it was; write each field as 'name: value' on its own line")
    return entries


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip())


def _flow_entries(flow: str, key: str) -> list[_Entry]:
    """The fields of a flow mapping (``{emissions: 3, training_params: "a, b"}``; what follows its closing brace is
    dropped), each as a block-mapping line. One that cannot be split into fields is a :class:`WattprintError`."""
    items: list[str] = []
    depth, quote, current, escaped = 0, "", "", False
    for ch in flow.strip()[1:]:
        if quote:
            quote = "" if ch == quote and not escaped else quote
            escaped = quote == '"' and ch == "\\" and not escaped  # a backslash escape in a double-quoted string
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth < 0:
                break
        elif ch == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        current += ch
    items.append(current)
    fields = [(x.strip(), _MAPPING_KEY.match(x.strip())) for x in items if x.strip()]
    if depth >= 0 or quote or not all(m for _, m in fields):  # not closed, or an item that is no "name: value"
        raise WattprintError(f"its {key} value {flow.strip()!r} is not a mapping wattprint can read, so its fields "
                             "could not be kept and the file is left as it was; write it as a block mapping, one "
                             "'name: value' line per field")
    return [(m.group(1).strip().strip("\"'"), f"  {item}\n") for item, m in fields if m]


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
    path.
    """
    if not str(path).strip():
        raise WattprintError("no model card path given: name the model's folder or its README.md")
    p = Path(path)
    if p.suffix.lower() != ".md":  # a folder ("models/bert-v1.5" too), existing or not
        if p.exists() and not p.is_dir():
            raise WattprintError(f"{p} is a file, not a model folder: give the folder or a README.md path")
        p = p / "README.md"
    if p.is_dir():
        raise WattprintError(f"{p} is a folder, not a model card file")
    if p.parent.exists() and not p.parent.is_dir():
        raise WattprintError(f"{p.parent} is a file, not a model folder")
    p.parent.mkdir(parents=True, exist_ok=True)
    target = p.resolve() if p.is_symlink() else p  # write through a link; do not replace it with a file
    try:
        old = ""
        if target.exists():
            with open(target, encoding="utf-8", newline="") as fh:  # newline="": CRLF stays visible
                old = fh.read()
    except UnicodeDecodeError:
        raise WattprintError(f"{p} is not UTF-8 text, so its metadata cannot be merged; convert it first") from None
    default_body = body if body is not None else _default_body(block)
    try:
        new = update_readme_text(old, block, default_body)
    except WattprintError as e:
        raise WattprintError(f"{p}: {e}") from None
    tmp = target.with_name(target.name + ".wattprint-tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:  # newline="": keep the file's line endings
            fh.write(new)
        os.replace(tmp, target)  # atomic: a crash never leaves a half-written model card
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
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


def read_model_card(path: str | os.PathLike[str], key: str = KEY) -> dict[str, Any] | None:
    """Read back the ``co2_eq_emissions`` mapping wattprint wrote (a simple one-level YAML mapping)."""
    p = Path(path)
    if p.is_dir():
        p = p / "README.md"
    return parse_block(p.read_text(encoding="utf-8"), key)


def parse_block(text: str, key: str = KEY) -> dict[str, Any] | None:
    """Parse a one-level ``key:`` mapping from a README's front matter; None if absent.

    Handles the scalars wattprint writes (numbers, double-quoted strings) plus plain and single-quoted
    strings; use a real YAML parser for anything more.
    """
    front, _ = split_front_matter(text)
    if front is None:
        return None
    lines = front.splitlines()
    for i, line in enumerate(lines):
        m = _TOP_LEVEL_KEY.match(line)
        if not (m and m.group(1).strip("\"'") == key):
            continue
        out: dict[str, Any] = {}
        for sub in lines[i + 1 :]:
            if not sub[:1].isspace():
                if sub.strip() and not sub.startswith("#"):
                    break
                continue
            if ":" not in sub or sub.strip().startswith("#"):
                continue
            k, v = sub.strip().split(":", 1)
            out[k.strip()] = _parse_scalar(v.strip())
        return out
    return None


def _parse_scalar(v: str) -> Any:
    if v.startswith('"'):
        end = _closing_quote(v)
        if end is not None:
            try:
                return json.loads(v[: end + 1])  # a comment may follow the quoted string
            except ValueError:
                pass
        return v  # not a string wattprint wrote: kept as text
    if v.startswith("'") and v.endswith("'"):
        return v[1:-1].replace("''", "'")
    v = v.split(" #", 1)[0].strip()
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def _closing_quote(v: str) -> int | None:
    """Index of the double quote that closes the string ``v`` opens (backslash escapes skipped)."""
    i = 1
    while i < len(v):
        if v[i] == "\\":
            i += 2
            continue
        if v[i] == '"':
            return i
        i += 1
    return None
