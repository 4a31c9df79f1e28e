"""The ``co2_eq_emissions`` block in a model card's YAML front matter: found where the Hub finds it, rendered,
merged field by field into what the card has, and read back (see :mod:`.modelcard` for the rules).

Framework-free and without PyYAML: the block is written as YAML that is also valid JSON scalars, and merged into an
existing front matter line by line, so every other key (and its formatting and comments) is kept byte for byte.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import WattprintError

KEY = "co2_eq_emissions"
FIELD_ORDER = ("emissions", "source", "training_type", "geographical_location", "hardware_used")
# the fields wattprint measured: a write always replaces them
MEASURED_FIELDS = ("emissions", "source")
# the fields that describe the training: the card's own value is kept unless the caller gives one
DESCRIPTIVE_FIELDS = ("training_type", "geographical_location", "hardware_used")
# the YAML comment on a line whose value wattprint inferred rather than was given: a later write may replace it
INFERRED_COMMENT = "# inferred by wattprint; remove this comment to keep your own value"
_FENCE = "---"
# the geographical_location earlier versions wrote where no location was configured: wattprint's, not the user's
_OLD_UNKNOWN_LOCATION = "unknown (world-average grid intensity assumed)"
# the front matter where the Hub finds it (huggingface_hub.repocard.REGEX_YAML_BLOCK): an opening "---" line after
# any leading whitespace, the text, a closing "---" line (spaces or tabs may follow it)
_HUB_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(?:\r\n|\n|$))")
# an empty front matter ("---" then "---"), which the Hub's pattern does not match but a block written into is read
_EMPTY_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))()(---[ \t]*(?:\r\n|\n|$))")
_TOP_LEVEL_KEY = re.compile(r"^([A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')\s*:")
# a top-level line of a YAML block mapping: a plain or quoted key, then ":" and a space or the line's end
_MAPPING_KEY = re.compile(r"""^([^\s#:\-?\[\]{},&*!|>'"%@`][^#]*?|"[^"]*"|'[^']*')\s*:(\s|$)""")


class CardBlock(dict[str, Any]):
    """A ``co2_eq_emissions`` mapping that knows which of its fields wattprint inferred (``inferred``) rather than
    was given: :func:`write_model_card` lets a card's own value of those stand. A plain dict's fields all count as
    given (copying a CardBlock into one, ``dict(block)``, makes them so)."""

    def __init__(self, fields: Mapping[str, Any] | None = None, inferred: Iterable[str] = ()) -> None:
        super().__init__(fields or {})
        self.inferred = frozenset(inferred)


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
    number, as in old cards) is replaced whole. A ``key`` given twice (YAML forbids it, but loaders such as the
    Hub's PyYAML keep the last one) has its last occurrence merged: the one the Hub shows.
    """
    lines = front.splitlines(keepends=True)
    start, value = None, ""
    for i, line in enumerate(lines):  # the last of repeated keys: the one YAML loaders (the Hub's) keep
        m = _TOP_LEVEL_KEY.match(line)
        if m and m.group(1).strip("\"'") == key:
            start, value = i, line[m.end() :]  # value: what follows the key's ":" on its line
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
    for i in reversed(range(len(lines))):  # the last of repeated keys, as in merge_front_matter
        m = _TOP_LEVEL_KEY.match(lines[i])
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

