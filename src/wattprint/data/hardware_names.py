"""Hardware names as people and drivers write them -> catalogue accelerators.

"a100", "A100-80GB", "h100 sxm", "NVIDIA A100-SXM4-40GB", "Tesla P100-SXM2-16GB", "AMD Instinct MI250X / MI250",
"TPU v3": words are matched against each catalogue row's name, memory and form factor; a family name resolves to
its data-centre variant with a note; anything not in the catalogue is an error listing the closest names.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..errors import SUGGESTIONS, AmbiguousNameError, UnknownNameError, fold_text, normalise_name
from ..footprint import Assumption
from .catalogue import Accelerator, _accels, _by_name, _driver_names, _families, accelerator_names

_DROP_TOKENS = {"nvidia", "tesla", "amd", "instinct", "google", "intel", "aws", "geforce", "hbm", "hbm2", "hbm2e",
                "hbm3", "hbm3e", "gpu", "accelerator", "cloud", "radeon", "habana", "per", "in", "part", "the",
                "huawei", "amazon",  # the catalogue's other vendors ("Amazon": AWS's)
                "vf"}  # "vf": an SR-IOV virtual function of the chip ("AMD Instinct MI300X VF" in cloud VMs)
_MEMORY_UNITS = {"gb", "g", "gib"}
_QUALIFIER = re.compile(r"(sxm|pcie|oam|nvl)\d*")  # form factor / board words: they pick a variant, not a chip
# the number of these form-factor words is no generation but a size: "NVL72" is a 72-GPU NVLink rack (GB200 NVL72),
# "NVL4" / "NVL2" boards, none of them the "NVL" card (H100 NVL); a number the row's word lacks names another product
_SIZED_QUALIFIERS = ("nvl",)
# a MIG instance as NVML names it: "NVIDIA A100-SXM4-40GB MIG 1g.5gb", "... MIG 1g.10gb+me", "... MIG 1c.3g.40gb"
_MIG = re.compile(r"[\s-]*\bmig\b(?:[\s-]*(?:\d+c\.)?(\d+g\.\d+gb(?:\+me)?))?", re.IGNORECASE)
_HINT = "see `wattprint data gpus`"


def _tokens(text: str) -> list[str]:
    """Lower-case words of a hardware name without vendor / memory-type noise. A memory size in any spelling
    ("80GB", "80G", "80 GB", "80GiB") becomes "80gb"; "pci" becomes "pcie"."""
    raw = [t for t in re.split(r"[^a-z0-9]+", text.lower().replace("+", "")) if t]
    out: list[str] = []
    i = 0
    while i < len(raw):
        t = raw[i]
        m = re.fullmatch(r"(\d+)(gb|g|gib)?", t)
        if m and (m.group(2) or (i + 1 < len(raw) and raw[i + 1] in _MEMORY_UNITS)):
            i += 0 if m.group(2) else 1  # "80 GB": the unit is consumed with the number
            out.append(m.group(1) + "gb")
        elif t == "pci":
            out.append("pcie")
        elif t not in _DROP_TOKENS:
            out.append(t)
        i += 1
    return out


def _key(text: str) -> str:
    return "".join(_tokens(text))


def _is_memory(t: str) -> bool:
    return re.fullmatch(r"\d+gb", t) is not None


def _is_qualifier(t: str) -> bool:
    return _QUALIFIER.fullmatch(t) is not None


def _completes(q: str, t: str) -> bool:
    """``t`` is the letters-only word ``q`` plus a generation number: "sxm" -> "sxm4", "inferentia" -> "inferentia2"."""
    return q.isalpha() and len(t) > len(q) and t.startswith(q) and t[len(q):].isdigit()


def _same_qualifier(q: str, t: str) -> bool:
    """Form-factor word ``q`` of a query names form-factor word ``t`` of a row: the same word, the query's word
    without the row's generation ("sxm" -> "sxm4"), or with a generation the row's name leaves off ("sxm5" ->
    "sxm"). Not a sized word whose number the row lacks: "nvl72" (a rack) is not "nvl" (a card)."""
    if t == q or _completes(q, t):
        return True
    return _completes(t, q) and t not in _SIZED_QUALIFIERS


@dataclass(frozen=True)
class _Row:
    acc: Accelerator
    words: tuple[str, ...]  # tokens of the catalogue name
    forms: tuple[str, ...]  # form-factor words of the catalogue's form_factor column ("PCIe low-profile" -> pcie)


@lru_cache(maxsize=1)
def _rows() -> tuple[_Row, ...]:
    return tuple(_Row(a, tuple(_tokens(a.name)), tuple(t for t in _tokens(a.form_factor) if _is_qualifier(t)))
                 for a in _accels())


# how a query token matched a row: by the row's name, by its specification columns (form factor), or only by
# completing a product word to a generation ("Inferentia" -> Inferentia2); None: it does not match
_BY_NAME, _BY_SPEC, _BY_COMPLETION = 0, 1, 2


def _token_match(q: str, row: _Row) -> int | None:
    """How query token ``q`` matches ``row`` (``_BY_NAME`` / ``_BY_SPEC`` / ``_BY_COMPLETION``), None if not.

    A memory size matches the row's memory; a form-factor word matches the name ("sxm" matches "sxm4" and
    "sxm5" matches "sxm") or else the row's form_factor ("B200 SXM", "MI300X OAM", "T4 PCIe"); any other word must
    be a word of the name, or a product word of 4+ letters its generation number was left off ("Gaudi" ->
    gaudi2, gaudi3). A short letters-only code ("GB", "MI", "H") is the start of a model number, not a name:
    it completes nothing."""
    if _is_memory(q):
        mem = row.acc.memory_gb
        return _BY_NAME if q in row.words or (mem is not None and float(q[:-2]) == mem) else None
    if q in row.words or (q.isdigit() and q + "gb" in row.words):  # "A100 80": the 80GB of the name
        return _BY_NAME
    if _is_qualifier(q):
        if any(_same_qualifier(q, t) for t in row.words):
            return _BY_NAME
        return _BY_SPEC if any(_same_qualifier(q, t) for t in row.forms) else None
    if len(q) >= 4 and any(_completes(q, t) for t in row.words):
        return _BY_COMPLETION
    return None


def _match_rows(qt: list[str]) -> list[tuple[_Row, list[int]]]:
    """Rows matched by every query token, with how each token matched. A row that names the query's form
    factor in its name beats one that only has it in its form_factor ("H100 PCIe" is the PCIe card, not the NVL
    whose form factor is also PCIe); a row whose name has the query's word beats one reached by completion; a row
    whose leading model word is a word of the query beats one that has it only further on ("B200 ..." is the B200,
    not the "GB200 (per B200 GPU in NVL72)"; a row led by a brand word, as "Quadro RTX 6000", stays beside it)."""
    out = []
    for row in _rows():
        levels = [_token_match(q, row) for q in qt]
        if all(lv is not None for lv in levels):
            out.append((row, [lv for lv in levels if lv is not None]))
    for level in (_BY_COMPLETION, _BY_SPEC):
        if any(level not in lv for _, lv in out):
            out = [(r, lv) for r, lv in out if level not in lv]
    led = [(r, lv) for r, lv in out if r.words and r.words[0] in qt]
    if not led:
        return out
    # a row led by another model word ("gb200") names another product; one led by a brand word ("quadro") may be
    # the chip meant: "RTX 6000" is the Quadro RTX 6000 (2018) or the RTX 6000 Ada Generation (2022), so both stay
    return [(r, lv) for r, lv in out if (r, lv) in led or (r.words and r.words[0].isalpha())]


def _family_pick(query: str, fam: dict[str, Any], pool: list[Accelerator]) -> tuple[Accelerator, list[Accelerator],
                                                                                    list[Assumption]]:
    by = _by_name()
    default = by[fam["default"]]
    variants = pool or [by[v] for v in fam["variants"]]
    chosen = default if default in variants else _prefer(variants)
    notes = []
    if len(variants) > 1:
        notes.append(_variant_assumption(query, chosen, variants, fam.get("note", "") if chosen is default else ""))
    return chosen, variants, notes


_FORM_RANK = ("sxm", "oam", "superchip", "board", "pcie")


def _prefer(cands: list[Accelerator]) -> Accelerator:
    """Data-centre default among variants: SXM > OAM > others > PCIe, then more memory."""

    return sorted(cands, key=_form_rank)[0]


def _form_rank(a: Accelerator) -> tuple[int, float]:
    """Sort key of the data-centre default: SXM > OAM > others > PCIe, then more memory."""
    ff = a.form_factor.lower()
    r = next((i for i, k in enumerate(_FORM_RANK) if k in ff), len(_FORM_RANK))
    return (r, -(a.memory_gb or 0.0))


def _variant_assumption(query: str, chosen: Accelerator, variants: list[Accelerator], note: str) -> Assumption:
    others = ", ".join(v.name for v in variants)
    return Assumption(
        "hardware variant",
        f"{query!r} -> {chosen.name}",
        chosen.lead_source(),
        f"data-centre default variant; '{query}' covers: {others}" + (f". {note}" if note else ""),
    )


def find_accelerator(name: str) -> tuple[Accelerator, list[Accelerator], list[Assumption]]:
    """Resolve a forgiving hardware name to (chosen accelerator, variants the name covers, assumptions).

    "a100", "A100-80GB", "h100 sxm", "NVIDIA A100-SXM4-40GB", "TPU v3", "mi250x". A family name resolves to
    its data-centre SXM/standard variant, returns every variant it covers (so callers can build a range) and
    an Assumption naming the choice. A chip whose catalogue row has values not confirmed by a primary source
    adds an UNCERTAIN assumption quoting them. Unknown -> UnknownNameError with the closest names.
    """
    chosen, variants, notes = _find_accelerator(name)
    if chosen.uncertain:
        notes = [*notes, uncertain_values_assumption(chosen)]
    return chosen, variants, notes


def uncertain_values_assumption(acc: Accelerator) -> Assumption:
    """The sentences of a catalogue row's notes that say which of its values are unconfirmed (picked out when the
    table is built: scripts/build_data.py ``uncertain_sentences``)."""
    return Assumption("catalogue values", f"UNCERTAIN for {acc.name}", acc.lead_source(),
                      acc._raw.get("uncertain_note") or acc.notes)


def _find_accelerator(name: str) -> tuple[Accelerator, list[Accelerator], list[Assumption]]:
    if not isinstance(name, str) or not name.strip():  # nothing to rank by: show what names look like
        raise UnknownNameError("hardware", str(name), [], _HINT, examples=[f["family"] for f in _families()])
    name = fold_text(name)
    mig = _MIG.search(name)
    if mig is not None and _MIG.sub(" ", name).strip():
        # a MIG instance (NVML's name of a slice): the catalogue has whole chips, and the tracker measures the
        # parent GPU of a MIG instance (NVML has no per-instance energy): the slice is charged as its parent
        chosen, variants, notes = _find_accelerator(_MIG.sub(" ", name).strip())
        profile = f"MIG {mig.group(1)}" if mig.group(1) else "MIG"
        return chosen, variants, [*notes, Assumption(
            "hardware variant", f"{name!r} -> {chosen.name}", chosen.lead_source(),
            f"'{profile}' names a MIG instance, a slice of the GPU: charged as the whole parent GPU ({chosen.name}: "
            "its power, peak FLOP/s and embodied CO2e), as the tracker measures the parent GPU of a MIG instance")]
    try:
        return _find_one(name)
    except UnknownNameError as e:
        if isinstance(e, AmbiguousNameError):
            raise
        refuse_a_count_or_slice(name)
        found = _find_alternatives(name) if "/" in name else None
        if found is None:
            _refuse_a_cpu(name, e)
            raise
        return found


# names a user may give for the host processor rather than an accelerator (CPU product lines; a vendor alone may mean
# its accelerators; a CPU the table knows by model is caught by its TDP lookup)
_CPU_WORDS = re.compile(r"^\s*(cpus?|processors?|(intel\s*)?(xeon|core)\b|(amd\s*)?(epyc|ryzen|"
                        r"threadripper)\b|(aws\s*)?graviton|(ampere\s*)?altra|apple\s*m\d)", re.IGNORECASE)


def _refuse_a_cpu(name: str, unknown: UnknownNameError) -> None:
    """A CPU is not an accelerator the estimators can size work on: say so, and how to measure a CPU job, rather
    than list the accelerator names that happen to be spelled alike ("cpu" -> "TPU v7")."""
    from . import cpu_tdp_w

    if _CPU_WORDS.match(name) is None and cpu_tdp_w(name) is None:
        return
    raise UnknownNameError(
        "hardware", name, [], "a CPU, not an accelerator: the estimators size work on GPUs, TPUs and other "
        "accelerators (`wattprint data gpus`); a CPU-only job can be measured while it runs: `wattprint run -- "
        "COMMAND`", examples=[f["family"] for f in _families()]) from unknown


_COUNT_IN_NAME = (re.compile(r"^\s*(\d+)\s*[x×*]\s*(.+?)\s*$", re.IGNORECASE),  # "8x A100", "8 x H100"
                  re.compile(r"^\s*(.+?)\s*[x×*]\s*(\d+)\s*$", re.IGNORECASE))  # "A100x8", "H100 * 16"


def refuse_a_count_or_slice(name: str) -> None:
    """Raise the error that says what to type instead where ``name`` holds a count ("8x A100") or names a Cloud TPU
    slice ("v3-128"); return where it does neither."""
    _refuse_a_count_in_the_name(name)
    _refuse_a_tpu_slice_name(name)


def _refuse_a_count_in_the_name(name: str) -> None:
    """"8x A100" is a chip and its count: say how to give them (the count is its own input, not a chip name)."""
    for pattern, (count_at, chip_at) in zip(_COUNT_IN_NAME, ((1, 2), (2, 1)), strict=True):
        m = pattern.match(name)
        if m is None:
            continue
        try:
            _find_one(m.group(chip_at))
        except UnknownNameError:
            continue
        count, chip = m.group(count_at), m.group(chip_at)
        raise UnknownNameError("hardware", name, [chip], f"a count in the name: --hardware {shlex.quote(chip)} --count "
                               f"{count}, or hardware={chip!r}, count={count} in Python", ranked=True)


# a Cloud TPU accelerator type ("v3-128", "tpu-v5p-512", "v5litepod-16"): a chip generation and a slice size, which
# counts the chip's TensorCores where refdata/count_units.csv says software counts them (v2-v5p), else chips
_TPU_SLICE = re.compile(
    r"^\s*(?:google\s*)?(?:cloud\s*)?(?:tpu[\s_-]*)?(v2|v3|v4|v5p|v5e|v5litepod|v6e)[\s_-]+(\d+)\s*$", re.IGNORECASE)


def _refuse_a_tpu_slice_name(name: str) -> None:
    """"v3-128" names a slice, not a chip: say which chip and how many (the count is its own input)."""
    m = _TPU_SLICE.match(name)
    if m is None:
        return
    chip = "TPU " + ("v5e" if m.group(1).lower() == "v5litepod" else m.group(1).lower())
    from . import count_unit

    unit = count_unit(_find_one(chip)[0]) or {}
    per_chip = int(unit["parts"]) if unit.get("parts_name") == "TensorCores" else 1
    size = int(m.group(2))
    if size == 0 or size % per_chip:
        return
    what = f"{size} TensorCores, {per_chip} per chip" if per_chip > 1 else f"{size} chips"
    raise UnknownNameError("hardware", name, [chip], f"a Cloud TPU slice ({what}): --hardware {shlex.quote(chip)} "
                           f"--count {size // per_chip}, or hardware={chip!r}, count={size // per_chip} in Python",
                           ranked=True)


def _find_one(name: str) -> tuple[Accelerator, list[Accelerator], list[Assumption]]:
    accs = _accels()
    qkey = _key(name)
    # 1. exact catalogue name (after normalisation)
    for a in accs:
        if _key(a.name) == qkey or normalise_name(a.name) == normalise_name(name):
            return a, [a], []
    # 1b. a name a driver reports for one variant ("NVIDIA H100 80GB HBM3": the SXM5, by its memory)
    for driver_name, row in _driver_names().items():
        if _key(driver_name) == qkey:
            chosen = _by_name()[row["name"]]
            return chosen, [chosen], [Assumption("hardware variant", f"{name!r} -> {chosen.name}", row["source"],
                                                 "the name the driver reports for this variant")]
    # 2. family name / alias
    for fam in _families():
        keys = {_key(fam["family"])} | {_key(x) for x in fam["aliases"]}
        if qkey in keys:
            return _family_pick(name, fam, [])
    # 2b. an architecture ("Blackwell", "CDNA 3"): chips of different peaks and power, picking one would be a guess;
    #     after the family names, as a family's name may be its first chip's too ("Trainium")
    if len(arch := _architecture_chips(qkey)) > 1:
        raise AmbiguousNameError("hardware", name, [a.name for a in arch],
                                 f"the name covers several chips, not one; {_HINT}")
    # 3. every query token found in the row (see _token_match)
    qt = _tokens(name)
    matched = _match_rows(qt) if qt else []
    ignored: list[str] = []
    if not matched and any(_is_memory(t) for t in qt) and not all(_is_memory(t) for t in qt):
        # 3b. a memory figure no variant has: "NVIDIA GH200 480GB" (NVML counts the Grace CPU's LPDDR5X),
        #     "Tesla P100-PCIE-12GB" (a card the catalogue lacks): the chip is still known
        mems = [t for t in qt if _is_memory(t)]
        rest = [t for t in qt if not _is_memory(t)]
        matched = _match_rows(rest)
        model = [t for t in rest if not _is_qualifier(t)]
        if matched and model and len(model) < len(rest):
            # ... unless another variant has that memory: then the form factor and the memory name different
            # variants ("H100 SXM5 94GB": the SXM5 has 80 GB, the 94 GB one is the NVL), a contradiction
            other = [r.acc for r, _ in _match_rows(model + mems) if r not in [m for m, _ in matched]]
            if other:
                by_form = [r.acc for r, _ in matched]
                forms = " ".join(t for t in rest if _is_qualifier(t)).upper()
                sizes = ", ".join(f"{t[:-2]} GB" for t in mems)
                raise UnknownNameError(
                    "hardware", name, [a.name for a in by_form + other],
                    f"its form factor and memory name different variants: {forms} is "
                    f"{' or '.join(a.name for a in by_form)}, {sizes} is {' or '.join(a.name for a in other)}; "
                    f"name one; {_HINT}", ranked=True)
        ignored = mems if matched else []
    pool = [r.acc for r, _ in matched]
    completed = any(_BY_COMPLETION in lv for _, lv in matched)
    # 4. glued spellings ("h100sxm", "gaudi2", "MI300"): the query key at the start of a word of the row key,
    #    without cutting a model number ("h10" is not "h100", "mi25" not "mi250", "h20" not "h200": different or
    #    unknown chips) or starting inside a word ("a2" is not the "a2" of "inferentia2inf2"); a letters-only key
    #    ("gb") is no glued model name, and a short model code ("A2", "V6") must be a whole word of the row
    glued_completed = False
    if not pool and len(qkey) >= 2 and any(c.isdigit() for c in qkey) and not _SHORT_CODE.fullmatch(qkey):
        glued = [(r.acc, lv) for r in _rows() if (lv := _glued_match(qkey, r.words)) is not None]
        if any(lv == _BY_NAME for _, lv in glued):
            glued = [(a, lv) for a, lv in glued if lv == _BY_NAME]
        pool = [a for a, _ in glued]
        glued_completed = any(lv == _BY_COMPLETION for _, lv in glued)
    if not pool:
        raise _unknown_hardware(name, qt)
    notes: list[Assumption] = []
    if len(pool) == 1:
        chosen, variants = pool[0], pool
    else:
        for fam in _families():
            fam_members = set(fam["variants"]) | {fam["default"]}
            if all(a.name in fam_members for a in pool):
                chosen, variants, notes = _family_pick(name, fam, pool)
                break
        else:
            # several chips of different families ("TPU", "Gaudi", "80GB"): picking one would silently give
            # another chip's peak and power
            raise AmbiguousNameError("hardware", name, [a.name for a in pool], _HINT)
    src = chosen.lead_source()
    if ignored:
        sizes = ", ".join(f"{t[:-2]} GB" for t in ignored)
        have = f"{chosen.memory_gb:g} GB" if chosen.memory_gb else "no memory size"
        notes = [*notes, Assumption("hardware variant", f"{name!r} -> {chosen.name}", src,
                                    f"no catalogue variant has {sizes} (the catalogue lists {have}); the memory "
                                    "figure in the name was ignored")]
    if completed:
        notes = [*notes, Assumption("hardware variant", f"{name!r} -> {chosen.name}", src,
                                    f"'{name}' gives no generation number; the only catalogue chip it can name is "
                                    f"{chosen.name} (name the generation to be sure)")]
    elif glued_completed:
        # "MI300" -> MI300X, "TPU v6" -> v6e: the model number is cut short of a suffix; other chips may share
        # the start (the MI300A is an APU the catalogue lacks), so the completion is said, never silent
        notes = [*notes, Assumption("hardware variant", f"{name!r} -> {chosen.name}", src,
                                    f"'{name}' is not a full model name; {chosen.name} is the only catalogue chip "
                                    "whose name starts so (other chips may: say the full name to be sure)")]
    return chosen, variants, notes


@lru_cache(maxsize=64)
def _architecture_keys(family: str) -> frozenset[str]:
    """Keys of the architecture a catalogue family names: the family without its parenthesis, as
    ``estimate.utilisation.architecture`` reads it ("Blackwell (Grace Blackwell superchip)" -> "blackwell", "CDNA 3"
    -> "cdna3"), and each word of it of 3+ letters ("Ada Lovelace" -> "ada", "lovelace"; "CDNA 3" -> "cdna", which
    names every CDNA generation)."""
    words = _tokens(family.split(" (")[0])
    return frozenset({"".join(words)} | {w for w in words if w.isalpha() and len(w) >= 3})


def _architecture_chips(qkey: str) -> list[Accelerator]:
    """The catalogue chips of the architecture ``qkey`` names, data-centre chips first (then workstation cards,
    consumer cards last; SXM / OAM modules before PCIe cards: the chips a training is sized on, shown where the list
    is cut); [] where it names none."""
    chips = [a for a in _accels() if qkey and qkey in _architecture_keys(a.family)]

    def desk_rank(a: Accelerator) -> int:
        ff = a.form_factor.lower()
        return 2 if "consumer" in ff else 1 if "workstation" in ff else 0

    return sorted(chips, key=lambda a: (desk_rank(a), _form_rank(a)[0]))


def _find_alternatives(name: str) -> tuple[Accelerator, list[Accelerator], list[Assumption]] | None:
    """A driver name listing sibling chips, "AMD Instinct MI250X / MI250" (rocm-smi's name of the MI250 and
    MI250X device): the first named chip, with every named chip as a variant; None unless each part resolves;
    AmbiguousNameError if the parts are chips of different architectures."""
    parts = [p for p in name.split("/") if p.strip()]
    if len(parts) < 2:
        return None
    found = []
    for p in parts:
        try:
            found.append(_find_one(p))
        except UnknownNameError:
            return None
    chosen, _, notes = found[0]
    by = _by_name()
    variants = [by[n] for n in dict.fromkeys(v.name for _, vs, _ in found for v in vs)]
    if len({v.family for v in variants}) > 1:
        # "H100/A100" is no driver name: chips of different architectures, picking one would be a guess
        raise AmbiguousNameError("hardware", name, [v.name for v in variants], _HINT)
    if len(variants) > 1:
        notes = [*notes, Assumption("hardware variant", f"{name!r} -> {chosen.name}", chosen.lead_source(),
                                    f"the name lists several chips ({', '.join(v.name for v in variants)}); "
                                    "took the first named")]
    return chosen, variants, notes


def _suggestions(qt: list[str]) -> list[str]:
    """Catalogue names close to an unknown name, judged on its model words (form factor and memory words
    dropped, so "T4 PCIe" is not close to "TPU v6e" by their letters)."""
    model = [t for t in qt if not _is_memory(t) and not _is_qualifier(t)]
    if model:
        # the chip is known, its form factor or memory is not in the catalogue ("H800 PCIe"): that chip's rows
        rows = [r.acc.name for r in _rows()
                if all(_token_match(q, r) in (_BY_NAME, _BY_COMPLETION) for q in model)]
        if rows:
            return rows[:5]
    import difflib  # only on the error path

    families = {f["family"] for f in _families()}
    by_key: dict[str, str] = {}  # model key -> name shown; in catalogue order
    words: dict[str, list[str]] = {}
    for n in accelerator_names():  # rows first, then family names, which win for their own key ("H100")
        ws = [t for t in _tokens(n) if not _is_memory(t) and not _is_qualifier(t)]
        k = "".join(ws)
        if k and (k not in by_key or n in families):
            by_key[k], words[k] = n, ws
    qkey = normalise_name("".join(model or qt))
    if not qkey:
        return []
    # names with the query at the start of one of their words ("B20" -> B200), then names alike by letters; not a
    # name that has the query inside a word ("A2" is not close to "Inferentia2")
    starts = [k for k in by_key if _at_word_start(qkey, words[k])][:SUGGESTIONS]
    # then the query's series, the letters of its model number ("A2" -> A10, A40, A100), most alike first
    series = re.match(r"[a-z]+(?=\d)", qkey)
    same = [k for k in by_key if series and any(re.match(series.group() + r"\d", w) for w in words[k])]
    same.sort(key=lambda k: -difflib.SequenceMatcher(None, qkey, k).ratio())
    alike = difflib.get_close_matches(qkey, list(by_key), n=SUGGESTIONS, cutoff=0.4)
    return list(dict.fromkeys(by_key[k] for k in starts + same + alike))[:SUGGESTIONS]


def _at_word_start(qkey: str, words: list[str] | tuple[str, ...]) -> bool:
    """``qkey`` occurs in the glued ``words`` starting at the start of one of them."""
    rkey, pos = "".join(words), 0
    for w in words:
        if rkey.startswith(qkey, pos):
            return True
        pos += len(w)
    return False


def _unknown_hardware(name: str, qt: list[str]) -> UnknownNameError:
    # ranked here, by model words: ranking by the whole string, "T4 SXM" is no longer close to "NVIDIA T4"
    return UnknownNameError("hardware", name, _suggestions(qt), _HINT, examples=[f["family"] for f in _families()],
                            ranked=True)


_SHORT_CODE = re.compile(r"[a-z]{1,2}\d{1,2}")  # "a2", "v6", "t4": too short to name a chip by its start


def _glued_match(qkey: str, words: tuple[str, ...]) -> int | None:
    """How ``qkey`` occurs in the row key (its ``words`` glued): ``_BY_NAME`` where it starts at a word and ends
    at a word's end, inside a form-factor word ("h100sxm" in h100 sxm5) or after the number of a memory word;
    ``_BY_COMPLETION`` where it ends inside a model word ("mi300" in mi300x: a suffix left off); None where it
    only occurs starting inside a word or cutting a run of digits."""
    rkey = "".join(words)
    starts, pos = [], 0
    for w in words:
        starts.append(pos)
        pos += len(w)
    best: int | None = None
    for i in starts:
        if not rkey.startswith(qkey, i):
            continue
        j = i + len(qkey)
        if qkey[-1].isdigit() and j < len(rkey) and rkey[j].isdigit():
            continue  # "h10" in h100
        inside = next((w for w, s in zip(words, starts, strict=True) if s < j < s + len(w)), None)
        cut_model = inside is not None and not (_is_qualifier(inside) or _is_memory(inside))
        level = _BY_COMPLETION if cut_model else _BY_NAME
        best = level if best is None else min(best, level)
    return best


# -- embodied -----------------------------------------------------------------------------------
