"""`wattprint data gpus|models|regions|search|credits`: list and search the embedded reference data."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import TYPE_CHECKING, Any

from ..errors import (
    AmbiguousNameError,
    InputConflictError,
    UnknownNameError,
    WattprintError,
    echo,
    fold_text,
    normalise_name,
)
from ._table import table

if TYPE_CHECKING:
    from ..data.models import ModelSpec


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("data", help="list and search the embedded reference data",
                              description="List and search the reference data embedded in wattprint: accelerators, "
                                          "published models, grid intensity by location, CPUs, PUE presets and "
                                          "generation sources (`wattprint data credits`: where they come from).")
    sub = p.add_subparsers(dest="data_command", metavar="WHAT")
    g = sub.add_parser("gpus", help="accelerators: TDP, dense peaks, memory, embodied CO2e")
    g.add_argument("--json", action="store_true", help="print JSON")
    g.set_defaults(handler=_gpus)
    m = sub.add_parser("models", help="published LLMs to name with --model: parameters, experts, attention")
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(handler=_models)
    r = sub.add_parser("regions", help="locations with grid intensity (countries, sub-national, zones, cloud)")
    r.add_argument("--kind", choices=["country", "subnational", "zone", "cloud", "group"],
                   help="only locations of this kind: countries, sub-national grids (US-CA), grid zones (SE3), "
                        "cloud regions (aws:us-east-1) or groups of countries (EU27)")
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(handler=_regions)
    s = sub.add_parser("search", help="search accelerators, models, CPUs, locations, PUE presets, generation "
                                      "sources")
    s.add_argument("text", nargs="+",
                   help="a name, key or alias, or part of one (case, spaces, punctuation and accents ignored), or "
                        "a hardware name as --hardware takes it (HGX B300: quotes not needed)")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(handler=_search)
    c = sub.add_parser("credits", help="sources and licences of the embedded data")
    c.set_defaults(handler=_credits)
    p.set_defaults(handler=lambda args: (p.print_help(sys.stderr), 2)[1])  # no WHAT: usage, on stderr as errors


def _fmt(x: float | None, spec: str = ".4g") -> str:
    return "-" if x is None else format(x, spec)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return table([headers, *rows])


def _gpu_dict(a: Any) -> dict[str, Any]:
    from ..data import accelerators_per_server, embodied_accelerator

    e = embodied_accelerator(a)
    return {"name": a.name, "vendor": a.vendor, "family": a.family, "year": a.year, "form_factor": a.form_factor,
            "tdp_w": a.tdp_w, **_tdp_fields(a), "memory_gb": a.memory_gb, "memory_bw_tbs": a.memory_bw_tbs,
            "peak_tflops": a.peak_tflops, "default_precision": a.default_precision(),
            **e.kg_per_unit.as_fields("embodied_kg"), "accelerators_per_server": accelerators_per_server(a),
            "counted_as": _counted_as(a),
            "uncertain": a.uncertain, "source": a.source, "notes": a.notes}


def _counted_as(a: Any) -> str | None:
    """"package of 2 GCDs (graphics compute dies)" where software counts the chip's parts, else None."""
    from ..data import count_unit

    u = count_unit(a)
    return f"{u['unit']} of {u['parts']} {u['parts_name']}" if u else None


def _tdp_fields(a: Any) -> dict[str, Any]:
    """The TDP's range (every chip: the same keys on each row) and, where the vendor publishes none, the estimate
    not used and the caveat; for a superchip's GPU (whose TDP is its own), the whole module's power and the W per GPU
    of the module's CPU (with its memory), which the host share counts."""
    r, host = a.tdp_range_w(), a.module_host()
    return {"tdp_w_low": r[0] if r else None, "tdp_w_high": r[1] if r else None,
            "tdp_estimate_w": a.tdp_estimate_w(), "tdp_note": a.tdp_caveat() or None,
            "module_tdp_w": a.module_tdp_w(), "module_cpu_w": host.cpu_w if host else None}


def _tdp_cell(a: Any) -> str:
    if a.tdp_w is None and a.tdp_estimate_w() is not None:
        return f"(~{a.tdp_estimate_w():.4g})"
    r = a.tdp_range_w()
    cell = f"{_fmt(a.tdp_w)} ({_fmt(r[0])}-{_fmt(r[1])})" if r and r[0] != r[1] else _fmt(a.tdp_w)
    return cell + (" GPU" if a.module_tdp_w() is not None else "")


def _gpus(args: argparse.Namespace) -> int:
    from ..data import accelerators

    accs = accelerators()
    if args.json:
        print(json.dumps([_gpu_dict(a) for a in accs], indent=2))
        return 0
    rows = []
    for a in accs:
        p = a.peak_tflops
        name = a.name + (" *" if a.uncertain else "") + (" +" if _counted_as(a) else "")
        rows.append([name, str(a.year or "-"), _tdp_cell(a), _fmt(a.memory_gb),
                     _fmt(p.get("fp32")), _fmt(p.get("bf16")), _fmt(p.get("fp16")), _fmt(p.get("fp8"))])
    print(_table(["accelerator (one chip)", "year", "TDP W", "mem GB", "fp32", "bf16", "fp16", "fp8"], rows))
    print("dense peaks in TFLOPS; * = some values uncertain (see --json notes); TDP W (a-b) = no datasheet figure: "
          "the value used and the span of those in use; GPU = the GPU's own power on a superchip whose datasheet gives "
          "the whole module's (CPU, GPU, memory: --json module_tdp_w; its CPU is counted in the host share); "
          "(~W) = an estimate, not used: give the power; family names "
          "like 'A100' resolve to the data-centre SXM variant; + = counted per package, board or chip whose parts "
          "software lists separately (GCDs, TensorCores: --json counted_as)")
    return 0


def _models(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..data.models import models

    specs = models()
    if args.json:
        print(json.dumps([asdict(m) for m in specs], indent=2))
        return 0
    rows = [[m.name + (" *" if m.uncertain else ""), f"{m.params / 1e9:.4g}",
             _fmt(m.active_params / 1e9 if m.active_params else None),
             f"{m.experts_per_token}/{m.experts}" if m.experts else "-", str(m.layers or "-"),
             _attention_cell(m),
             f"{m.sliding_window:g} x {m.window_layer_share:.2g}" if m.sliding_window and m.window_layer_share else "-",
             _context_cell(m.context_tokens, m.max_context_tokens), m.weights or "-"] for m in specs]
    print(_table(["model", "params B", "active B", "experts k/E", "layers", "attention", "window x layers",
                  "context", "weights"], rows))
    print("give the name (or a Hugging Face repo id: Instruct, dates and quantisation words are read as the same "
          "model) to `estimate training|inference --model`; * = some figures uncertain (see --json notes); mla = "
          "multi-head latent attention, served as gqa with its latent KV cache; gqa 12/48 + mamba2 = a hybrid whose "
          "12 of 48 layers are attention and the rest (or all, beside it) keep a fixed state per sequence; top-2048 = "
          "sparse attention to the tokens an indexer selects; "
          "context = tokens (input + output) as "
          "shipped, (up to N) with rope scaling or the long-context release of the name, (+) no hard limit")
    return 0


def _attention_cell(m: ModelSpec) -> str:
    """A model's attention as `data models` lists it: gqa, mla (latent), 'mla top-2048' (sparse), or a hybrid's
    'gqa 12/48 + mamba2'."""
    kind = m.attention_name
    if (ca := m.compressed_attention) is not None:  # DeepSeek-V4: 'compressed c4x21 c128x20 top-512'
        return f"compressed c4x{ca.sparse_layers} c128x{ca.dense_layers} top-{ca.topk}"
    if m.sparse_attention is not None:
        kind += f" top-{m.sparse_attention.topk}"
    if m.recurrent is None:
        return kind
    return f"{kind} {m.attention_layers or m.layers}/{m.layers} + {m.recurrent.kind}"


def _attention_terms(m: ModelSpec) -> list[str]:
    """The words `data models` shows for a model's attention, searchable: 'mla', 'hybrid' and its recurrent layers'
    kind ('mamba2'), 'sparse attention' and its top-k ('top-2048')."""
    terms = ["mla"] if m.latent_attention else []
    if m.recurrent is not None:
        terms += ["hybrid", m.recurrent.kind]
    if m.sparse_attention is not None:
        terms += ["sparse attention", f"top-{m.sparse_attention.topk}"]
    if m.compressed_attention is not None:
        terms += ["compressed attention", "compressed", f"top-{m.compressed_attention.topk}"]
    return terms


def _context_cell(tokens: int | None, most: int | None) -> str:
    """A context window as its developers write it (131,072 -> 128K, 128,000 -> 128k, 10,485,760 -> 10M), with its
    extension if any."""
    def k(n: int) -> str:
        for unit, size in (("M", 1 << 20), ("k", 1000), ("K", 1 << 10)):
            if n % size == 0:
                return f"{n // size:,}{unit}"
        return f"{n:,}"

    if not tokens:
        return "-"
    return k(tokens) + (" (+)" if most is None else f" (up to {k(most)})" if most != tokens else "")


def _region_dict(loc: Any) -> dict[str, Any]:
    from ..intensity import intensity_for

    i = intensity_for(loc.key)
    return {"key": loc.key, "name": loc.name, "kind": loc.kind, "country_iso3": loc.country_iso3,
            **i.g_per_kwh.round(3).as_fields("g_per_kwh"), "year": i.year, "basis": i.basis, "source": i.source}


def _regions(args: argparse.Namespace) -> int:
    from ..intensity import locations

    items = [_region_dict(loc) for loc in locations(args.kind)]
    if args.json:
        print(json.dumps(items, indent=2, ensure_ascii=False))
        return 0
    rows = [[d["key"], d["name"][:40], d["kind"], _fmt(d["g_per_kwh"], ".0f"), str(d["year"] or "-"), d["basis"]]
            for d in items]
    print(_table(["key", "name", "kind", "gCO2e/kWh", "year", "basis"], rows))
    return 0


# what a search that matched nothing, and is close to no name, is shown: texts that each find entries (a test runs them)
SEARCH_EXAMPLES = ("A100", "TPU", "France", "US-CA", "aws", "hyperscale", "coal", "EPYC")


def _match(q: str, names: list[str]) -> tuple[int, str] | None:
    """(rank, the name that matched) for the first of ``names`` that holds ``q``: 0 for an exact match (after
    normalising), 1 for a substring; None if none does. ``names[0]`` is the entry's own name or key."""
    best: tuple[int, str] | None = None
    for n in names:
        norm = normalise_name(n)
        if norm == q:
            return 0, n
        if best is None and q in norm:
            best = (1, n)
    return best


def _search(args: argparse.Namespace) -> int:
    from ..data import _cpu_index, accelerator_names, accelerators, load_table, pue_presets
    from ..data.models import find_model, models
    from ..intensity import WORLD, WORLD_NAMES, location_aliases, locations, mix_sources

    args.text = " ".join(args.text)  # the words of a name given without quotes: `data search H100 SXM`
    q = normalise_name(args.text)
    if not q:
        raise InputConflictError(f"search text {echo(args.text)} has no letters or digits to look for")
    ranked: list[tuple[int, dict[str, str]]] = []

    def hit(kind: str, key: str, name: str, names: list[str], own: int = 1) -> None:
        """Add the entry if ``q`` is in one of ``names``; the first ``own`` names are its own key/name, the rest
        aliases, and a match on an alias is shown (``matched``)."""
        m = _match(q, names)
        if m is None:
            return
        h = {"kind": kind, "key": key, "name": name}
        if m[1] not in names[:own]:
            h["matched"] = m[1]
        ranked.append((m[0], h))

    for a in accelerators():
        hit("accelerator", a.name, a.name, [a.name, a.family], own=2)
    if not ranked:  # no catalogue name holds the text: what --hardware makes of it ("HGX B300", a driver's name)
        ranked += [(0 if "resolves" in h else 1, h) for h in _hardware_hits(args.text)]
    for m in models():
        # its name, as for the other kinds, with its size (the key is the name too: what --model takes)
        hit("model", m.name, f"{m.name}, {m.params / 1e9:.4g}B parameters"
            + (f" ({m.active_params / 1e9:.3g}B active)" if m.active_params else ""),
            [m.name, *m.aliases, *_attention_terms(m)])
    aliases = location_aliases()
    hit("location (world)", WORLD.key, WORLD.name + ", what no location gives", [WORLD.key, WORLD.name, *WORLD_NAMES],
        own=2)
    for loc in locations():
        hit(f"location ({loc.kind})", loc.key, loc.name, [loc.key, loc.name, *aliases.get(loc.key, [])], own=2)
    for p in pue_presets():
        hit("PUE preset", p["preset"], f"{p['what']} {p['value']}", [p["preset"], *p["aliases"]])
    mix_aliases: dict[str, list[str]] = {}
    for alias, src in load_table("factors")["mix_aliases"].items():
        mix_aliases.setdefault(src, []).append(alias)
    for s in mix_sources():
        hit("generation source", s, s, [s, *sorted(a for a in mix_aliases.get(s, []) if a != s)])
    cpus = sorted({name for _tdp, name, _src in _cpu_index().values() if q in normalise_name(name)})
    for name in cpus[:15]:
        ranked.append((1, {"kind": "cpu", "key": name, "name": name}))
    if not ranked:  # a name --model takes that no text above holds: a precision or date in it ("GLM-5.3-FP8")
        with contextlib.suppress(WattprintError):
            spec = find_model(args.text).spec
            ranked.append((0, {"kind": "model", "key": spec.name, "name": f"{spec.name}, {spec.params / 1e9:.4g}B "
                               "parameters", "matched": args.text}))
    if not ranked:
        from ..data.hardware_names import refuse_a_count_or_slice

        refuse_a_count_or_slice(fold_text(args.text))  # "v5litepod-16": the chip and count to give instead
        cands = accelerator_names() + [loc.key for loc in locations()] + [loc.name for loc in locations()]
        raise UnknownNameError("name", args.text, cands, "nothing matched", examples=SEARCH_EXAMPLES)
    hits = [h for _rank, h in sorted(ranked, key=lambda rh: rh[0])]  # exact matches first, else in kind order
    if args.json:
        print(json.dumps(hits, indent=2, ensure_ascii=False))
        return 0
    rows = [[h["kind"], h["key"], h["name"] + _how_found(h)] for h in hits]
    print(_table(["kind", "key", "name"], rows))
    if len(cpus) > 15:
        print(f"... and {len(cpus) - 15} more CPUs")
    return 0


def _hardware_hits(text: str) -> list[dict[str, str]]:
    """The accelerator the hardware resolver (``find_accelerator``, what --hardware takes) reads ``text`` as
    (``resolves``: "GB300 NVL72", "NVIDIA H100 80GB HBM3"), each chip a name it finds ambiguous may mean
    (``ambiguous``: "H100/A100"), or none."""
    from ..data import find_accelerator

    try:
        chosen = find_accelerator(text)[0].name
    except AmbiguousNameError as e:
        return [{"kind": "accelerator", "key": n, "name": n, "ambiguous": text} for n in e.suggestions]
    except UnknownNameError:  # no chip, or a count or slice in the name: said below if nothing else matches
        return []
    return [{"kind": "accelerator", "key": chosen, "name": chosen, "resolves": text}]


def _how_found(h: dict[str, str]) -> str:
    """How a search hit was found where it is not by its own name or key, for the table."""
    if "matched" in h:
        return f" (as {h['matched']!r})"
    if "resolves" in h:
        return f" (what --hardware {h['resolves']!r} resolves to)"
    if "ambiguous" in h:
        return f" (one of the chips --hardware {h['ambiguous']!r} may name)"
    return ""


def _credits(args: argparse.Namespace) -> int:
    from ..data import credits

    print("\n".join(f"- {s}" for s in credits()))
    return 0
