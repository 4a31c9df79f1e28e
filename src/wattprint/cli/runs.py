"""``wattprint runs list|show|export``: read the runs the tracker stored."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import InputConflictError, WattprintError
from ._args import whole
from ._table import display_width, pad, table

if TYPE_CHECKING:
    from ..output_file import Output


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("runs", help="list, show and export stored runs",
                              description="List, show and export the runs stored by `wattprint run` and "
                                          "wattprint.track().")
    p.set_defaults(handler=lambda args: _usage(p))
    sub = p.add_subparsers(dest="runs_command", metavar="SUBCOMMAND")

    lst = sub.add_parser("list", help="stored runs, newest first")
    _common(lst)
    lst.add_argument("--project", help="only this project's runs")
    lst.add_argument("--limit", type=_positive_int, help="at most N runs (N >= 1)")
    lst.set_defaults(handler=_list)

    show = sub.add_parser("show", help="one run in full")
    show.add_argument("run", metavar="RUN", help="run id (a unique prefix is enough)")
    _common(show)
    show.set_defaults(handler=_show)

    exp = sub.add_parser("export", help="stored runs as CSV or JSON, one row per run", description=_EXPORT_HELP)
    exp.add_argument("--format", choices=("csv", "json"), default="csv",
                     help="csv (a header, then one line per run; the default) or json (a list of rows)")
    exp.add_argument("--project", help="only this project's runs")
    _db_option(exp)
    exp.add_argument("-o", "--output", metavar="FILE",
                     help="write to FILE instead of stdout: a file is replaced whole (its mode kept; a failed export "
                          "leaves it as it was), a link's file through the link; a device, FIFO (which waits for "
                          "its reader) or /dev/fd/N is written to, /dev/stdout is stdout")
    exp.set_defaults(handler=_export)


_EXPORT_HELP = (
    "Every stored run as one row, oldest first, with the same columns in the same order for every run: id, project, "
    "status, writer_gone (a run stored as running whose process on this host is gone: killed), damaged (the "
    "stored parts that are not valid JSON: summary;meta in CSV, a list in JSON as in `runs show --json`; the row "
    "holds what is left), started_at, "
    "ended_at (ISO 8601 UTC), duration_s, exit_code and signal (`wattprint run`); energy_kwh "
    "(facility, after PUE), it_energy_kwh and cpu/gpu/ram_energy_kwh (before PUE) with _low/_high and each "
    "component's basis (measured or modelled); cpu/gpu/ram/it_mean_power_w with _low/_high (IT energy / duration, "
    "before PUE); pue "
    "with pue_source (given, preset, default) and pue_preset; intensity_g_per_kwh with its unit "
    "(gCO2/kWh where the source counts CO2 alone), caveat, basis, year and intensity_given; location, location_key, "
    "country_iso, region, cloud_provider, cloud_region; operational, "
    "embodied and total CO2e (kg, with _low/_high) and operational/total_co2e_g_per_h and chip_hours (with "
    "_low/_high); gpus (\"2 x "
    "NVIDIA H100 80GB HBM3\"), gpus_catalogue, gpu_count, cpu_model, cpu_sockets, cpu_logical, cpus_allocated, vm, "
    "ram_gib, ram_allocated_gib; host, wattprint_version, python_version, os. A field a run lacks (not measured, or "
    "stored by an earlier version of wattprint) is an empty cell (null in JSON).")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _db_option(p)


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL",
                   help="store: sqlite:///absolute/path.db or a path (default: $WATTPRINT_DB, the config file's "
                        "db, else $XDG_DATA_HOME/wattprint/wattprint.db, i.e. ~/.local/share/wattprint/wattprint.db)")


def _positive_int(text: str) -> int:
    """A count of runs as other counts are written (100, 1e3, 1K); at least 1."""
    n = whole(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def _open(db: str | None) -> tuple[Any, str]:
    """(store, its path): the store the tracker writes to (--db > $WATTPRINT_DB > the config file's ``db`` > the
    default file). The store is None when the default file does not exist yet (reading never creates one) or when
    the file is empty (0 bytes: a store no run was written to yet). A store the user named that does not exist is
    an error: a mistyped path must not read as "no runs"."""
    from ..storage import db_path, open_store, resolve_db_url
    from ..tracking.config import store_setting

    # the store as `wattprint run` and track() resolve it, their other settings unread: not a reader's concern
    chosen = store_setting(db)
    url = resolve_db_url(chosen)
    path = db_path(url)
    if not os.path.exists(path):
        if chosen:  # runs kept beside it for it are said too: the store is missing, they are not lost
            from ..storage.spill import spill_notes

            raise WattprintError("; ".join([f"no wattprint store at {path}: the file does not exist",
                                            *spill_notes(path)]))
        return None, path
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        return None, path
    return open_store(url, readonly=True), path


def _waiting_note(where: str) -> None:
    """Runs kept beside the store because it refused their last write: said, since a reader does not store them."""
    from ..storage.spill import spill_notes

    for note in spill_notes(where):
        print(f"wattprint: {note}", file=sys.stderr)


def _list(args: argparse.Namespace) -> int:
    store, where = _open(args.db)
    _waiting_note(where)
    with contextlib.closing(_runs(store, project=args.project, newest_first=True, limit=args.limit)) as runs:
        _check_project(store, args.project, where)
        return _print_runs(store, runs, args, where)


def _check_project(store: Any, project: str | None, where: str) -> None:
    """A ``--project`` of no stored run, where the store holds other projects' runs, is an unknown name, as an
    unknown run id is (a typo, "defualt", must not read as "no runs"): said with the closest project names. A store
    with no runs yet has no names to tell a typo by: it lists, and exports, none."""
    if project is None or store is None:
        return
    import unicodedata

    from ..errors import UnknownNameError

    names = store.projects()
    if names and project not in names and unicodedata.normalize("NFC", project) not in names:  # as iter_runs finds
        raise UnknownNameError("project", project, names, hint=f"store {where}", examples=names[:3])


def _runs(store: Any, **query: Any) -> Generator[Any, None, None]:
    """The store's runs, read a few at a time (:meth:`~wattprint.storage.Store.iter_runs`); none where there is no
    store yet. Close it when done (:func:`contextlib.closing`): that ends its read of the store."""
    none: tuple[Any, ...] = ()
    return (r for r in none) if store is None else store.iter_runs(**query)


def _print_runs(store: Any, runs: Iterable[Any], args: argparse.Namespace, where: str) -> int:
    """``runs list``: as JSON, each run printed as it is read; as a table, whose columns are as wide as their
    widest cell, a short row of text kept per run (not its figures)."""
    ends = _kept_ends(where)
    if args.json:
        from ..storage.export import write_json
        from ..storage.sqlite import finite  # a store written before null replaced infinity may still hold one

        write_json((finite(_run_json(store, r, ends)) for r in runs), sys.stdout, default=str)
        return 0
    # the CO2e is the total (operational + embodied), as `runs show` labels it; the model card's is operational
    rows = [("ID", "PROJECT", "STATUS", "STARTED (UTC)", "DURATION", "ENERGY kWh", "TOTAL CO2e kg")]
    gone = waits = 0
    for r in runs:
        d = r.to_dict()
        status = r.status
        if _end_waits(r, ends) is not None:  # it ended: not killed, though its process is gone
            status, waits = f"running{_WAITS_MARK}", waits + 1
        elif _writer_gone(r):
            status, gone = "running*", gone + 1
        rows.append((
            r.id, r.project, status, (d["started_at"] or "")[:19].replace("T", " "),
            _duration(r.duration_s), _num(d.get("energy_kwh", d.get("it_energy_kwh"))), _num(d.get("total_co2e_kg")),
        ))
    if len(rows) == 1:
        print(f"no runs of project {args.project!r} in {where}" if args.project
              else f"no runs stored yet in {where}" if store is None else f"no runs stored in {where}")
        return 0
    print(table(rows))
    if gone:
        print(_GONE_NOTE)
    if waits:
        folders = " or ".join(dict.fromkeys(f"{os.path.dirname(k.path)}/" for k in ends.values()))
        print(f"{_WAITS_MARK} it ended, but the store refused its last write (locked or full): its last samples and "
              f"end wait in {folders} (`runs show RUN` names the file), {_stored_when(where)}; until then "
              "its figures end at its last stored sample")
    return 0


_GONE_NOTE = ("* its process on this host is gone (killed?): its figures end at its last stored sample; the same run "
              "id continues it")
_WAITS_MARK = "+"  # a run stored as running whose end waits beside the store (see _end_waits)


def _kept_ends(where: str) -> dict[str, Any]:
    """The runs whose last samples and end wait beside the store at ``where`` (their record is in the store), by
    id: each one's :class:`~wattprint.storage.spill.KeptRun`, read once per command, not once per run."""
    from ..storage.spill import kept_runs

    return {k.run_id: k for k in kept_runs(where) if not k.whole}


def _end_waits(run: Any, ends: dict[str, Any]) -> Any:
    """The spill file holding the end of ``run`` where it is stored as running only because the store refused its
    last write (its process gone, or not knowable from here): it ended, it was not killed. None otherwise (also
    while its process lives: it may be writing it yet)."""
    from ..tracking.record import writer_alive

    kept = ends.get(run.id)
    return kept if kept is not None and run.status == "running" and writer_alive(run.meta) is not True else None


def _stored_when(path: str) -> str:
    """How the runs kept beside the store at ``path`` get stored."""
    return (f"stored when a process next opens the store to write (the next `wattprint run` or tracked run on it, "
            f"or now: {_store_now(path)})")


def _run_json(store: Any, run: Any, ends: dict[str, Any]) -> dict[str, Any]:
    """A run as ``runs show --json`` and ``runs list --json`` give it: its figures as every reader gives them,
    with the same keys for every run (:func:`~wattprint.tracking.record.stored_run_dict`), their rates as stored
    now (a running run's summary has them as of its last full write), and ``writer_gone`` after its status, as
    ``runs export`` gives it; then, only for a run whose last samples and end wait beside the store (``ends``:
    :func:`_kept_ends`), ``kept_in``: the file, as ``wattprint run --json`` names it."""
    from ..storage.export import rates
    from ..tracking.record import stored_run_dict

    d = stored_run_dict(store, run)  # its segments and phases as they add up to its stored totals
    d.update(rates(d, run.duration_s))
    out: dict[str, Any] = {}
    for key, value in d.items():
        out[key] = value
        if key == "status":
            out["writer_gone"] = _writer_gone(run)  # unchanged for such a run too: readers test it
            if run.id in ends:
                out["kept_in"] = ends[run.id].path
    return out


def _writer_gone(run: Any) -> bool | None:
    """``writer_gone`` as the readers give it: whether a run stored as running is no longer written, its process on
    this host no longer existing (killed with SIGKILL, a crash of the machine), though it reads as running; False for
    another host's (not knowable here); null for a run that ended."""
    from ..tracking.record import writer_alive

    return writer_alive(run.meta) is False if run.status == "running" else None


def _show(args: argparse.Namespace) -> int:
    from ..errors import UnknownNameError
    from ..storage.records import J_PER_KWH

    if not args.run.strip():  # `runs show "$RUN"` with RUN unset: not an unknown run close to every id
        raise InputConflictError("RUN given an empty value: give a run id or a unique prefix of one "
                                 "(see `wattprint runs list`)")
    store, path = _open(args.db)
    if store is None:
        _refuse_kept(args.run, path)  # the run asked for may wait beside the store
        _waiting_note(path)
        hint = f"no runs stored yet in {path}" if os.path.exists(path) else f"there is no store at {path} yet"
        raise UnknownNameError("run", args.run, [], hint=hint)
    try:
        run = store.find_run(args.run)
    except UnknownNameError:
        _refuse_kept(args.run, path)  # a run kept beside the store, not in it yet, is not found there
        _waiting_note(path)
        raise
    ends = _kept_ends(path)
    d = _run_json(store, run, ends)
    waits = _end_waits(run, ends)
    if args.json:
        _print_json(d)
        return 0
    mark = _WAITS_MARK if waits is not None else "*" if d["writer_gone"] else ""
    rows: list[tuple[str, str]] = [
        ("run", run.id), ("project", run.project), ("status", run.status + mark),
        ("started (UTC)", str(d["started_at"])), ("ended (UTC)", str(d["ended_at"] or "-")),
        ("duration", _duration(run.duration_s)),
    ]
    if isinstance(d.get("exit_code"), int):
        rows.append(("exit code", f"{d['exit_code']}" + (f" (signal {d['signal']})" if d.get("signal") else "")))
    rows += _hardware_rows(d.get("hardware"))
    if d.get("chip_hours") is not None:
        rows.append(("chip-hours", _range(d, "chip_hours", "h")))
    interval = d.get("interval_s", (d.get("meta") or {}).get("interval_s"))
    if isinstance(interval, (int, float)) and not isinstance(interval, bool):
        rows.append(("sampling interval", f"{_num(interval)} s"))
    for name, comp in (d.get("energy_by_component_kwh") or {}).items():
        rows.append((f"  {name} energy (IT, {comp.get('basis', '?')})", _range(comp, "kwh", "kWh")))
    rows.append(("IT energy", _range(d, "it_energy_kwh", "kWh")))
    power = d.get("mean_power_w") or {}
    if power:
        parts = ", ".join(f"{k} {_num(v)} W" for k, v in power.items())
        rows.append(("mean power (IT)", f"{parts}; total {_num(d.get('it_mean_power_w'))} W"))
    if d.get("pue") is not None:
        rows.append(("PUE", _range(d, "pue", "") + _pue_source(d)))
    rows.append(("facility energy", _range(d, "energy_kwh", "kWh")))
    if isinstance(d.get("location"), str):
        rows.append(("location", d["location"] + _location_source(d)))
    if d.get("intensity_g_per_kwh") is not None:
        given = " (given)" if d.get("intensity_given") is True else ""
        unit = str(d.get("intensity_unit") or "gCO2e/kWh")  # gCO2/kWh where the source counts CO2 only
        rows.append(("grid intensity", _range(d, "intensity_g_per_kwh", unit) + given))
    only = str(d.get("intensity_caveat") or "").split(":")[0]  # "CO2 only", as the end-of-run summary says
    for key, label in (("operational_co2e_kg", f"operational CO2e ({only})" if only else "operational CO2e"),
                       ("embodied_co2e_kg", "embodied CO2e"), ("total_co2e_kg", "total CO2e")):
        if d.get(key) is not None:  # a run killed before its first summary has no CO2e
            rows.append((label, _range(d, key, "kg")))
    if _num(d.get("operational_co2e_g_per_h")) != "-":
        rows.append(("CO2e per hour", f"{_num(d['operational_co2e_g_per_h'])} g/h operational, "
                                      f"{_num(d.get('total_co2e_g_per_h'))} g/h total"))
    projection = d.get("projection")
    if run.status != "finished" and isinstance(projection, dict):  # what a running or ended-early run was heading for
        rows.append(_projection_row(projection))
    share = d.get("process_share")
    if isinstance(share, dict):
        figures = ", ".join(f"{k} {_num(v)}" for k, v in share.items()
                            if isinstance(v, (int, float)) and k != "as_of_s")
        rows.append(("process-tree share", (figures or "-") + _share_as_of(share, d, run.status)))
    elif share is not None:
        rows.append(("process-tree share", _num(share)))
    if run.status == "running":
        rows.append(("last written (UTC)", str(d.get("updated_at") or "-")))
    meta = d.get("meta") or {}
    if isinstance(meta, dict) and isinstance(meta.get("wattprint_version"), str):
        rows.append(("measured with", f"wattprint {meta['wattprint_version']}, Python {meta.get('python_version')}, "
                                      f"{meta.get('os')}, host {meta.get('host')}"))
    for ph in store.phases(run.id):
        end = "open" if ph["end_s"] is None else f"{ph['end_s']:.1f}s"
        kwh = sum(ph["energy_j"].values()) / J_PER_KWH
        so_far = " so far" if ph["end_s"] is None else ""
        rows.append((f"phase {ph['name']}", f"{ph['start_s']:.1f}s - {end}, {_num(kwh)} kWh IT{so_far}"))
    for name, ph in (d.get("phases") or {}).items():  # each name's totals over its ended occurrences
        if "energy_kwh" in ph:
            rows.append((f"phase {name} (total)",
                         f"{_range(ph, 'energy_kwh', 'kWh')} facility, {_range(ph, 'total_co2e_kg', 'kg')} CO2e"))
    width = max(display_width(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {pad(k, width)}  {v}")
    if d["writer_gone"] and waits is None:
        print(f"  {_GONE_NOTE}")
    _print_notes(d)
    if isinstance(share, dict) and isinstance(share.get("method"), str):
        print(f"  process-tree share method: {share['method']}")
    if d.get("note"):
        print(f"  note: {d['note']}")
    if (kept := ends.get(run.id)) is not None:  # the figures above end before them
        ended = f"{_WAITS_MARK} it ended{f' ({kept.status})' if kept.status else ''}, but the store refused its " \
                "last write (locked or full); " if waits else ""
        print(f"  {ended}its last samples and end are kept in {kept.path}, not in the store yet: "
              f"{_stored_when(path)}")
    return 0


def _share_as_of(share: dict[str, Any], d: dict[str, Any], status: str) -> str:
    """When the process-tree share is older than the energies beside it: it is taken at each full summary, the
    energies at every interval, so a running (or killed) run's share can lag them by up to a full summary's
    spacing."""
    as_of, duration = share.get("as_of_s"), d.get("duration_s")
    if status != "running" or not isinstance(as_of, (int, float)) or not isinstance(duration, (int, float)):
        return ""
    if duration - as_of < 1.0:
        return ""
    return f" (as of {_num(as_of)} s into the run, its last full summary; the energies above reach {_num(duration)} s)"


def _projection_row(p: dict[str, Any]) -> tuple[str, str]:
    """The stored projection of a run not finished: final facility energy and CO2e with their ranges, the step it
    was made at and when; a projection with no central value gives its range only (null: unbounded above)."""

    def figure(key: str, unit: str) -> str:
        if _num(p.get(key)) != "-":
            if _num(p.get(key + "_high")) == "-":
                return f"{_num(p.get(key))} ({_num(p.get(key + '_low'))} or more) {unit}"
            return _range(p, key, unit)
        if _num(p.get(key + "_high")) == "-":
            return f"{_num(p.get(key + '_low'))} {unit} or more"
        return f"{_num(p.get(key + '_low'))} to {_num(p.get(key + '_high'))} {unit}"

    def count(x: Any) -> str:  # steps in full (100000, not 1e+05); fractional ones (epochs) as given
        return _num(x) if _num(x) == "-" else f"{x:g}" if isinstance(x, float) else str(x)

    made = _num(p.get("made_at_elapsed_s"))
    when = f"at step {count(p.get('step'))} of {count(p.get('total_steps'))}" + (
        f", {made} s into the run" if made != "-" else "")
    text = f"{figure('projected_energy_kwh', 'kWh')} facility, {figure('projected_co2e_kg', 'kg')} CO2e ({when})"
    if _num(p.get("projected_energy_kwh")) == "-":
        text += "; no central value yet"
    return "projected final", text


def _hardware_rows(hw: Any) -> list[tuple[str, str]]:
    """GPUs (as the driver names them, with the catalogue entry the embodied CO2e used), CPU and RAM."""
    from ..storage.export import gpu_text

    if not isinstance(hw, dict):
        return []
    rows = []
    gpus = [g for g in hw.get("gpus") or [] if isinstance(g, dict)]
    if gpus:
        catalogue = gpu_text(gpus, "catalogue")
        rows.append(("GPUs", f"{gpu_text(gpus) or '-'}" + (f" (catalogue: {catalogue})" if catalogue else "")))
    cpu = hw.get("cpu")
    if isinstance(cpu, dict):
        vm = ", virtual machine" if cpu.get("vm") is True else ""
        rows.append(("CPU", f"{cpu.get('model') or 'model unknown'}, {_num(cpu.get('allocated_cpus'))} of "
                            f"{_num(cpu.get('logical_cpus'))} logical CPUs, {_num(cpu.get('sockets'))} socket(s){vm}"))
    if _num(hw.get("ram_gib")) != "-":
        limit = hw.get("ram_allocated_gib")
        rows.append(("RAM", f"{_num(hw['ram_gib'])} GiB" + (f", {_num(limit)} GiB allocated" if _num(limit) != "-"
                                                              else "")))
    return rows


def _pue_source(d: dict[str, Any]) -> str:
    """", default (preset 'average')", ", given", ", preset 'cloud'", or "" (a run stored without it)."""
    source, preset = d.get("pue_source"), d.get("pue_preset")
    if not isinstance(source, str):
        return ""
    if source == "given":
        return ", given"
    named = f"preset {preset!r}" if isinstance(preset, str) else "preset"
    return f", default ({named})" if source == "default" else f", {named}"


def _kept(text: str, path: str, whole: bool, prefix: bool = True) -> Any:
    """The run kept beside the store at ``path`` (whole, or its last samples and end only) whose id is ``text``, or
    (``prefix``) alone begins with it, as ``runs show`` takes a prefix; None where there is none, or several."""
    from ..storage.spill import kept_runs

    kept = [k for k in kept_runs(path) if k.whole == whole]
    found = [k for k in kept if k.run_id == text] or [k for k in kept if prefix and k.run_id.startswith(text)]
    return found[0] if len({k.run_id for k in found}) == 1 else None


def _store_now(path: str) -> str:
    """A command that opens the store at ``path`` to write, which stores the runs kept beside it (and nothing else)."""
    import json
    import shlex

    code = f"import wattprint.storage as s; s.open_store({json.dumps(path)}).close()"
    return f"{shlex.quote(sys.executable or 'python')} -c {shlex.quote(code)}"  # this interpreter has wattprint


def _refuse_kept(text: str, path: str) -> None:
    """``runs show`` of a run that is not in the store because it waits, whole, in the store's ``.unsaved`` folder
    (its record never reached the store: it was locked, full, or deleted or replaced under the run when it ended):
    said so, with how it gets stored, instead of "unknown run". A reader does not store it itself: reading never
    writes the store."""
    kept = _kept(text, path, whole=True)
    if kept is None:
        return
    raise WattprintError(
        f"run {kept.run_id!r} is not in the store {path} yet: it is kept in {kept.path} (the store was locked, full, "
        "or deleted or replaced under it, when it ended) and is stored when a process next opens the store to write: "
        f"the next `wattprint run` or tracked run on it, or now: {_store_now(path)}")


def _location_source(d: dict[str, Any]) -> str:
    """Where the location came from ("given (argument)"; "not given") and its ISO country code where it has one."""
    sources = d.get("settings_source")
    if not isinstance(sources, dict):
        return ""
    detail = d.get("location_detail")
    iso = detail.get("country_iso") if isinstance(detail, dict) else None
    given = f"given ({sources['location']})" if isinstance(sources.get("location"), str) else "not given"
    return f", {given}" + (f", country {iso}" if isinstance(iso, str) and iso not in d["location"] else "")


def _export(args: argparse.Namespace) -> int:
    """``runs export``: each stored run as one row of fixed columns (:mod:`wattprint.storage.export`), read, made
    and written one at a time, so that its memory does not grow with the number of runs stored."""
    store, where = _open(args.db)
    _waiting_note(where)
    with contextlib.closing(_runs(store, project=args.project)) as runs:  # oldest first, as a log is read
        _check_project(store, args.project, where)
        _write_export((_export_row(store, r) for r in runs), args, where)
    return 0


def _export_row(store: Any, run: Any) -> dict[str, Any]:
    """One run's row: its figures as every reader gives them (a killed run's made up to its stored totals)."""
    from ..storage.export import row
    from ..tracking.record import stored_run_dict

    return {**row(stored_run_dict(store, run)), "writer_gone": _writer_gone(run)}


def _write_export(rows: Iterable[dict[str, Any]], args: argparse.Namespace, where: str) -> None:
    """The rows to stdout, or to ``-o``'s file (:mod:`wattprint.output_file`: through a link, in place for a device,
    FIFO or /dev/fd/N, whole or not at all for a regular file), never one of the store's (``where``)."""
    if args.output in (None, "-"):
        _write_rows(rows, args.format, sys.stdout)
        return
    from ..output_file import resolve_output, write_output

    try:
        out = resolve_output(args.output)
        why = _not_to_overwrite(out, where)
    except OSError as e:
        raise WattprintError(f"cannot write {args.output}: {e.strerror or e}") from None
    if why is not None:
        raise WattprintError(f"{args.output} {why}: not overwritten with the export; name another file")
    try:  # the rows are read while written: a store error or ^C may come here too, the old file then left as it was
        write_output(out, lambda fh: _write_rows(rows, args.format, fh), prefix=".wattprint-export-")
    except OSError as e:
        raise WattprintError(f"cannot write {args.output}: {e.strerror or e}") from None


# the first bytes of an SQLite database, of its write-ahead log (two byte orders) and of its rollback journal
_SQLITE_MAGIC = (b"SQLite format 3\x00", b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83",
                 b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7")


def _not_to_overwrite(out: Output, store: str) -> str | None:
    """Why the export must not be written to ``out`` (an :class:`~wattprint.output_file.Output`; None: it may be):
    a folder, a disk or a socket, the store or one of the files SQLite keeps beside it (``-wal``, ``-shm``,
    ``-journal``: overwriting one corrupts the store), or any SQLite database or log. Only a regular file is read
    to tell (a FIFO's open for reading would wait for a writer: forever)."""
    from ..output_file import read_head

    if (why := out.refusal()) is not None:
        return why
    if out.descriptor is not None:  # an open descriptor (/dev/stdout, >(cmd)): written to, never replaced
        return None
    base = os.path.realpath(store) if store else None
    if base is not None and out.path in (base, *(base + end for end in ("-wal", "-shm", "-journal"))):
        return "is the store or one of the files SQLite keeps beside it"
    try:
        head = read_head(out, 16)
    except OSError:
        return None
    if head.startswith(_SQLITE_MAGIC):
        return "is an SQLite database or one of its logs (a run store?)"
    return None


def _write_rows(rows: Iterable[dict[str, Any]], fmt: str, out: Any) -> None:
    from ..storage.export import write_csv, write_json

    if fmt == "csv":
        write_csv(rows, out)
    else:
        write_json(rows, out)


def _print_notes(d: dict[str, Any]) -> None:
    """The assumptions as the end-of-run summary prints them (what: value — note [source]), then the devices'
    notes (how each power figure was obtained), which the tracker printed when the run started."""
    from ..footprint import Assumption

    assumptions = [Assumption(*(str(a.get(k) or "") for k in ("what", "value", "source", "note")))
                   for a in d.get("assumptions") or [] if isinstance(a, dict)]
    if assumptions:
        print("  assumptions:")
        for a in assumptions:
            print(f"    - {a}")
    notes = [n for n in d.get("device_notes") or [] if isinstance(n, str)]
    if notes:
        print("  device notes:")
        for n in notes:
            print(f"    - {n}")


def _print_json(obj: Any) -> None:
    from ..storage.sqlite import finite  # a store written before null replaced infinity may still hold one

    print(json.dumps(finite(obj), indent=2, default=str, allow_nan=False))


def _duration(s: float) -> str:
    """H:MM:SS, or seconds below a minute ("0.138 s", where H:MM:SS reads 0:00:00)."""
    s = max(float(s), 0.0)
    if round(s, 1) < 60:
        return f"{s:.3g} s"
    h, rem = divmod(int(round(s)), 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}"


def _num(x: Any) -> str:
    """A stored figure for a table; "-" where --json gives null (not a number, or infinite: older stores)."""
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
        return "-"
    return f"{x:.4g}"


def _range(d: dict[str, Any], key: str, unit: str) -> str:
    v, lo, hi = d.get(key), d.get(key + "_low"), d.get(key + "_high")
    text = _num(v)
    if text == "-":
        return text
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and (lo != v or hi != v):
        text += f" ({_num(lo)} to {_num(hi)})"
    return f"{text} {unit}".rstrip()
