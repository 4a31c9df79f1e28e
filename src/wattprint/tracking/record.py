"""The run's record in the store: its id, written (or a stored run resumed) at start, held back while the store is
locked.

:func:`begin_record` writes the record, or reads the stored run a new segment continues from (its totals, bases
and phases: :class:`ResumePoint`). When another process holds the store write-locked, measuring does not wait for
it: the record is checked from a lock-free read and written later by the sampler's first write that gets through,
through :class:`PendingRecord`, which stands for the store until then.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from .phases import PhaseTotal

# the keys of a run's meta that wattprint writes itself (record_meta with context.software's versions; a resume's
# keys, Store.begin_run; an old store's basis) and reads back (the writer-gone check, a resumed run's earlier sites,
# `runs show`, the export): a user's ``meta`` may not set them (config.check_meta)
RESERVED_META_KEYS = ("pid", "pid_start", "host", "interval_s", "pue", "location", "intensity_g_per_kwh", "readers",
                      "wattprint_version", "python_version", "os", "torch_version", "torch_cuda_version",
                      "resumed", "resumed_at", "status_before_resume", "earlier", "basis")

# an input check, not data: a name is a label shown on one line of `wattprint runs list`; a 10,000-character id
# padded every row of the table to its width
MAX_NAME_CHARS = 200


def given_name(what: str, value: Any, optional: bool = True) -> str | None:
    """A project name or run id as given (None: not given), checked to be text that ``wattprint runs`` can
    show on one line: not empty or blank (as ``--project ''`` is refused: "" is most often a variable left unset),
    no blank at either end, no control or invisible characters (a newline in a run id split the runs table); in
    Unicode's composed form (NFC), so that two spellings of one name are one. Bytes that are not UTF-8 (lone
    surrogates from argv) are left to the store's own check, which names them. ``optional``: the name may be left
    out (the empty- and blank-name errors then say so)."""
    if value is None:
        return None
    from ..errors import InputConflictError, echo, shown

    if not isinstance(value, str):
        raise InputConflictError(f"{what} must be text, got {shown(value)}")
    if not value:
        raise InputConflictError(f"{what} is empty; give one" + (", or leave it out (None)" if optional else ""))
    if not value.strip():
        raise InputConflictError(f"{what} {value!r} is blank; give a name" + (", or none for the default"
                                                                              if optional else ""))
    if value != value.strip():  # "x " beside "x": two runs that look the same in every table
        raise InputConflictError(f"{what} {echo(value)} begins or ends with a blank; write {echo(value.strip())}")
    if not value.isascii():  # one spelling of "café" (macOS file names give the decomposed one): one run
        import unicodedata

        value = unicodedata.normalize("NFC", value)
    bad = [c for c in value if not c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF]
    if bad:
        raise InputConflictError(f"{what} {echo(value)} holds {bad[0]!r}, a control or invisible character: "
                                 "use letters, digits and punctuation")
    if len(value) > MAX_NAME_CHARS:
        raise InputConflictError(f"{what} {echo(value)} is {len(value)} characters long; at most {MAX_NAME_CHARS}")
    return value


def new_run_id(project: str) -> str:
    """``<project>-<UTC yyyymmdd-hhmmss>-<6 hex>``: sortable, unique without coordination."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    # a character an id does not keep (a space, an emoji) is a dash; none left at the end to double the stamp's
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in project)[:40].rstrip("-") or "run"
    return f"{safe}-{stamp}-{os.urandom(3).hex()}"


def record_meta(pid: int, interval_s: float, pue: Any, location: str, readers: list[Any],
                extra: dict[str, Any] | None, intensity_g_per_kwh: float | None = None) -> dict[str, Any]:
    """The JSON stored with the run: whose process it measures (to tell a live writer from a dead one), where (the
    location and the grid intensity it gives, or the one given), how often, with which readers, and which versions
    measured it (:func:`.context.software`: wattprint, Python, the OS); ``extra`` (the ``meta`` keyword) on top. A
    resumed run keeps the values a segment changes under ``earlier`` (see ``Store.begin_run``)."""
    from .context import software
    from .ledger import process_start

    return {"pid": pid, "pid_start": process_start(pid), "host": os.uname().nodename, "interval_s": interval_s,
            "pue": pue.to_dict(), "location": location, "intensity_g_per_kwh": intensity_g_per_kwh,
            "readers": [getattr(r, "name", type(r).__name__) for r in readers], **software(), **dict(extra or {})}


def begin_record(store: Any, run_id: str, project: str, started_unix: float, meta: dict[str, Any],
                 interval_s: float, note: Callable[[str], None]) -> tuple[Any, PendingRecord | None]:
    """Write the run's record (or resume the stored run): the stored record to continue from (None for a new
    run), and the :class:`PendingRecord` to give the sampler for a store if the record is not written yet.

    A store another process holds write-locked must not keep the measured work waiting (``wattprint run``
    starts its command only after this): the write is tried for as long as the sampler waits at each interval;
    if the lock is still held, the record is read without the lock (WAL readers do not wait for writers),
    checked as ``begin_run`` would check it, and written by the sampler's first write that gets through, with
    the samples kept in memory until then. Only when even reading is locked out (an exclusive lock) does this
    wait for the store, after saying so.
    """
    # imported here, not at the top: module constants that tests patch are read at the call, and start-up stays fast
    from ..storage import StoreError
    from ..storage.sqlite import BUSY_TIMEOUT_S, StoreLockedError
    from .store_writer import MIN_WRITE_WAIT_S, WRITE_WAIT_SHARE

    def begin(busy: Callable[[Any], str | None]) -> Any:
        return store.begin_run(run_id, project, started_unix, meta, busy=busy)

    store.set_write_wait(max(MIN_WRITE_WAIT_S, WRITE_WAIT_SHARE * interval_s))
    try:
        try:
            return begin(still_written), None
        except StoreLockedError:
            pass
        try:
            known = store.stored_run(run_id)
        except StoreError:  # reading is locked out too: nothing to measure from until the store is free
            note(f"the store {store.path} is locked by another process; waiting up to {BUSY_TIMEOUT_S:g} s for it")
            store.set_write_wait(None)
            return begin(still_written), None
    finally:
        store.set_write_wait(None)
    if known is not None:  # the checks begin_run makes before it resumes a run, made now
        check_resumable(known, run_id, project)

    def unchanged(current: Any) -> str | None:
        """begin_run's check once the store is free: the run is still as it was read (or still absent)."""
        if known is None:
            return "another process started a run with this id while the store was locked"
        if (current.status, current.updated_at) != (known.status, known.updated_at):
            return "another process wrote to it while the store was locked"
        return still_written(current)

    pending = PendingRecord(store, lambda: begin(unchanged), run_id, note)
    pending.record = {"project": project, "started_at": started_unix, "meta": meta}  # for a spill (see spill.py)
    note(f"the store {store.path} is locked by another process: measuring anyway; the run is written "
         "there once the store is free (readings wait in memory until then)")
    return known, pending


def check_resumable(known: Any, run_id: str, project: str) -> None:
    """The checks ``Store.begin_run`` makes before it resumes the stored run ``known``: not measured by a live
    process, and in the same project (InputConflictError, in the store's words, otherwise)."""
    from ..storage.records import refuse_resume

    refuse_resume(run_id, known.project, project, still_written(known))


def refuse_early(store: Any, run_id: str, project: str) -> None:
    """:func:`check_resumable` on the stored run of a given id, before the devices are read: a refused run says
    its error and nothing else (not the devices' notes first). A store that cannot be read at once (locked
    exclusively) is left to :func:`begin_record`, which waits for it or measures anyway, and checks again."""
    from ..storage import StoreError

    store.set_write_wait(0.0)  # reads wait only for an exclusive lock: not here
    try:
        known = store.stored_run(run_id)
    except StoreError:
        return
    finally:
        store.set_write_wait(None)
    if known is not None:
        check_resumable(known, run_id, project)


class ResumePoint:
    """What a resumed run's new segment continues from: the stored totals (J per component, s), the basis of
    each component, and the phases; all empty for a new run (``rec`` None).

    The earlier segments' figures are carried as the stored summary has them (it is written with the totals, in
    one statement): each component's low and high (J), the chip-hours and the embodied CO2e, so that each segment
    keeps the hardware it read and the uncertainty it had. A stored run without them (no summary was written)
    falls back to taking its energies as exact and its hardware as this segment's, said in :meth:`assumptions`.
    ``priced_s`` is the earlier time whose chip-hours and embodied CO2e are carried (0 in that fallback)."""

    __slots__ = ("energy_j", "energy_range_j", "duration_s", "priced_s", "chip_hours", "embodied_kg", "basis",
                 "phases", "segments", "_missing")

    def __init__(self, rec: Any) -> None:
        from ..quantities import Range

        self.energy_j: dict[str, float] = {}
        self.energy_range_j: dict[str, tuple[float, float]] = {}  # component -> (low, high), J
        self.duration_s = 0.0
        self.priced_s = 0.0
        self.chip_hours = 0.0
        self.embodied_kg = Range.exact(0.0)
        self.basis: dict[str, str] = {}
        self.phases: Any = {}
        self.segments: list[dict[str, Any]] = []  # the earlier segments' own figures (see earlier_segments)
        self._missing: list[str] = []  # earlier figures the stored run lacks (see assumptions())
        if rec is not None:
            self.energy_j = dict(rec.energy_j)
            self.duration_s = float(rec.duration_s)
            summary = rec.summary if isinstance(rec.summary, dict) else {}
            basis = summary.get("basis") or rec.meta.get("basis")
            self.basis = dict(basis) if isinstance(basis, dict) else {}
            self.phases = summary.get("phases") or {}
            self._carry(summary)
            if self.duration_s > 0:  # a run resumed (a new one's record is empty)
                self.segments = self.earlier_segments(summary, float(rec.started_at))

    def _carry(self, summary: dict[str, Any]) -> None:
        """The earlier segments' ranges, chip-hours and embodied CO2e from the stored ``summary``."""
        from ..quantities import Range
        from .live import SECONDS_PER_HOUR

        comps = summary.get("energy_by_component_kwh")
        comps = comps if isinstance(comps, dict) else {}
        for comp, joules in self.energy_j.items():
            c = comps.get(comp)
            kwh = _figure(c, "kwh") if isinstance(c, dict) else None
            low, high = (_figure(c, "kwh_low"), _figure(c, "kwh_high")) if isinstance(c, dict) else (None, None)
            if kwh is None or low is None or high is None:
                if joules:
                    self._missing.append(f"{comp} energy range")
                continue
            # the stored range relative to the stored value, applied to the stored total (written together)
            lo_f, hi_f = (min(1.0, low / kwh), max(1.0, high / kwh)) if kwh > 0 else (1.0, 1.0)
            self.energy_range_j[comp] = (joules * lo_f, joules * hi_f)
        emb = [_figure(summary, f"embodied_co2e_kg{end}") for end in ("", "_low", "_high")]
        wall_h = _figure(summary, "wall_time_h")
        if None in emb or wall_h is None:
            if self.duration_s > 0:
                self._missing.append("chip-hours and embodied CO2e")
            return
        value, low, high = (float(x or 0.0) for x in emb)
        self.embodied_kg = Range(value, min(low, value), max(high, value))
        self.chip_hours = _figure(summary, "chip_hours") or 0.0
        # the time those figures cover: the stored summary's, written with the stored duration
        self.priced_s = wall_h * SECONDS_PER_HOUR

    def energy_triples(self) -> dict[str, tuple[float, float, float]]:
        """The stored energy per component as (value, low, high), J; one without its range counts as exact."""
        return {k: (v, *self.energy_range_j.get(k, (v, v))) for k, v in self.energy_j.items()}

    def totals(self) -> dict[str, Any]:
        """The earlier segments' figures together, in a segment's keys (see :func:`segment_figures`)."""
        from .live import J_PER_KWH

        out = segment_figures(self.duration_s, self.energy_triples(), self.chip_hours, self.embodied_kg, J_PER_KWH)
        if self.duration_s > 0 and not self.priced_s:  # not stored (see assumptions()): not known
            out.update(dict.fromkeys(("chip_hours", "embodied_co2e_kg", "embodied_co2e_kg_low",
                                      "embodied_co2e_kg_high")))
        return out

    def earlier_segments(self, summary: dict[str, Any], started_at: float) -> list[dict[str, Any]]:
        """Each earlier segment's figures: those the stored summary lists, the last of them made up to the stored
        totals (the summary lists them as of its last full write, the totals are written at every interval). A
        run stored without that list (by an earlier version) gives its stored totals as one segment, said so."""
        from ..storage.records import iso_utc

        stored = summary.get("segments")
        listed = [d for d in stored if isinstance(d, dict)] if isinstance(stored, list) else []
        if not listed:
            last: dict[str, Any] = {"started_at": iso_utc(started_at), "location": summary.get("location"),
                                    "pue": summary.get("pue"),
                                    "intensity_g_per_kwh": summary.get("intensity_g_per_kwh"),
                                    "note": "the stored run's totals: stored by a version of wattprint that kept no "
                                            "per-segment figures (its earlier segments together, if it had several)"}
            return [{**last, **self.totals()}]
        *complete, last = listed
        rest = self.totals()
        for key in _SUMMED:
            if rest[key] is not None:
                rest[key] = max(0.0, float(rest[key]) - sum(_figure(d, key) or 0.0 for d in complete))
        by_comp = dict(rest["energy_by_component_kwh"])
        for d in complete:
            for comp in by_comp:
                by_comp[comp] = max(0.0, by_comp[comp] - (_figure(d.get("energy_by_component_kwh"), comp) or 0.0))
        rest["energy_by_component_kwh"] = by_comp
        return [*complete, {**last, **rest}]

    def assumptions(self) -> list[Any]:
        """A note where the stored run lacks its earlier figures: those parts are taken the old way."""
        if not self._missing:
            return []
        from ..footprint import Assumption

        return [Assumption("resumed run, earlier figures", f"the stored run keeps no {', '.join(self._missing)} "
                           f"for its earlier {self.duration_s:.4g} s", "the stored run's record",
                           "no summary was stored with them: the earlier energies count as exact, and the earlier "
                           "time's chip-hours and embodied CO2e are taken at this segment's hardware")]

    def phase_totals(self) -> dict[str, PhaseTotal]:
        """The stored phases the sampler adds to; one stored in a shape it cannot read is left out."""
        out: dict[str, PhaseTotal] = {}
        for name, d in self.phases.items() if isinstance(self.phases, dict) else ():
            with contextlib.suppress(Exception):
                out[name] = PhaseTotal(dict(d.get("energy_j", {})), float(d.get("duration_s", 0)),
                                       int(d.get("count", 0)))
        return out


# a segment's figures that add up over the segments (the others describe where and on what it ran)
_SUMMED = ("duration_s", "it_energy_kwh", "it_energy_kwh_low", "it_energy_kwh_high", "chip_hours",
           "embodied_co2e_kg", "embodied_co2e_kg_low", "embodied_co2e_kg_high")


def segment_figures(duration_s: float, energy: dict[str, tuple[float, float, float]], chip_hours: float,
                    embodied_kg: Any, j_per_kwh: float) -> dict[str, Any]:
    """One segment's figures as the summary's ``segments`` list gives them: its duration (s), IT energy (kWh,
    before PUE, with its range, and per component), chip-hours and embodied CO2e (kg, with its range)."""
    it = [sum(e[i] for e in energy.values()) / j_per_kwh for i in range(3)]
    return {"duration_s": duration_s, "it_energy_kwh": it[0], "it_energy_kwh_low": it[1], "it_energy_kwh_high": it[2],
            "energy_by_component_kwh": {k: e[0] / j_per_kwh for k, e in sorted(energy.items())},
            "chip_hours": chip_hours, "embodied_co2e_kg": embodied_kg.value, "embodied_co2e_kg_low": embodied_kg.low,
            "embodied_co2e_kg_high": embodied_kg.high}


def _figure(d: Any, key: str) -> float | None:
    """``d[key]`` where it is a finite number >= 0 (a stored figure), else None."""
    from ..storage.export import stored_number

    v = stored_number(d.get(key)) if isinstance(d, dict) else None
    return None if v is None or v < 0 else float(v)


def resumed_site_notes(rec: Any, location: str, pue: Any, intensity_g_per_kwh: float | None = None) -> list[Any]:
    """A resumed run priced at another site than its earlier segments were measured at (location, PUE, or a given
    grid intensity): the whole run is priced at this one (the stored totals are energies, not emissions), said so
    with where the earlier part ran."""
    if rec is None or not isinstance(getattr(rec, "meta", None), dict):
        return []
    from ..footprint import Assumption

    earlier = rec.meta.get("earlier") if isinstance(rec.meta.get("earlier"), dict) else {}
    locations = [v for v in [*earlier.get("location", []), rec.meta.get("location")] if v is not None]
    pues = [v for v in [*earlier.get("pue", []), rec.meta.get("pue")] if isinstance(v, dict)]
    changed = []
    if other_locations := list(dict.fromkeys(str(v) for v in locations if v != location)):
        changed.append(f"location {', '.join(other_locations)} (now {location})")
    if other_pues := list(dict.fromkeys(str(v.get("value")) for v in pues if v != pue.to_dict())):
        changed.append(f"PUE {', '.join(other_pues)} (now {pue.value:g})")
    grids = [v for v in [*earlier.get("intensity_g_per_kwh", []), rec.meta.get("intensity_g_per_kwh")]
             if isinstance(v, int | float)]
    if not other_locations and intensity_g_per_kwh is not None and (
            other_grids := list(dict.fromkeys(f"{v:.4g}" for v in grids if v != intensity_g_per_kwh))):
        # a location's change already says its grid's; a given intensity has no location to tell it by
        changed.append(f"grid intensity {', '.join(other_grids)} gCO2e/kWh (now {intensity_g_per_kwh:.4g})")
    if not changed:
        return []
    return [Assumption("resumed run, other site", " and ".join(changed), "the stored run's record",
                       f"its earlier {float(rec.duration_s):.4g} s were measured with {' and '.join(changed)}: the "
                       "whole run's emissions are priced at this segment's site; resume with the same --location, "
                       "--intensity and --pue to keep one site, or give this segment its own run id")]


def stored_run_dict(store: Any, rec: Any) -> dict[str, Any]:
    """A stored run as every reader gives it (``runs show`` and its ``--json``, ``runs list --json``, ``runs
    export``): ``rec.to_dict()`` made to add up where its summary lags its totals. A run still "running" (measured
    now, or killed) has its summary written in full only now and then, its totals and figures at every interval:
    its last segment is made up to the stored totals (:meth:`ResumePoint.earlier_segments`, as a resume does). Its
    phases, and a resumed run's (one stored before the resume kept them all), count every ended phase row stored
    (:func:`~wattprint.storage.queries.newer_phase_totals`); each phase is priced as the run
    (:func:`~.phase_figures.stored_phase_figures`: a phase without figures, from its stored J). Its projection, if
    any, has every field, null where unknown or unbounded, and no figure below the run's stored totals (it may
    predate them: :func:`~.projection.stored_fields`); a run that has none (a finished run, whose actual totals are
    the answer, or one with no progress() call) has ``projection`` null, so that every run reads with the same
    keys. So has every other key ``runs export`` makes its columns of (:data:`~wattprint.storage.export.RUN_KEYS`,
    :data:`~wattprint.storage.export.RATE_KEYS`) that the run lacks: a track() run's ``exit_code`` and ``signal``,
    the CO2e of a run killed before its first summary (not known: not made up from its energy)."""
    from ..storage.export import RATE_KEYS, RUN_KEYS
    from ..storage.queries import ended_phase_totals, newer_phase_totals
    from .phase_figures import stored_phase_figures

    d = rec.to_dict()
    summary = rec.summary if isinstance(rec.summary, dict) else {}
    running = rec.status == "running"
    if running and isinstance(summary.get("segments"), list) and float(rec.duration_s) > 0:
        d["segments"] = ResumePoint(rec).segments
    if running or (isinstance(rec.meta, dict) and rec.meta.get("resumed")):
        from_rows = ended_phase_totals(store.phases(rec.id))
        if from_rows:
            d["phases"] = newer_phase_totals(d.get("phases"), from_rows)
    if isinstance(d.get("phases"), dict):
        d["phases"] = stored_phase_figures(d)
    if isinstance(d.get("projection"), dict):  # its nulls as to_dict() gives them: a live merge patch drops them
        from .projection import stored_fields

        d["projection"] = stored_fields(d["projection"], d)  # never below the totals stored since it was made
    else:  # not stored (a finished run drops it): null, as Run.summary() gives it
        d.setdefault("projection", None)
    for key in (*RUN_KEYS, *RATE_KEYS):
        d.setdefault(key, None)
    return d


class PendingRecord:
    """The store as the sampler sees it while the run's record is not written yet (the store was locked at start):
    the first write that gets through (the sampler retries every interval, keeping its samples in memory) writes
    the record and those samples in ONE transaction, so nothing measured is lost and no record is ever stored
    without its samples."""

    def __init__(self, store: Any, begin: Callable[[], Any], run_id: str | None = None,
                 note: Callable[[str], None] | None = None) -> None:
        self._store = store
        self._begin = begin
        self.begun = False
        self.record: dict[str, Any] | None = None  # project, started_at and meta of the record to write
        self.run_id = run_id
        self.renamed: str | None = None  # the id it is stored under, its own having been taken meanwhile
        self._note = note

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @property
    def pending(self) -> bool:
        """True while the record is not written (the sampler then skips its write at start)."""
        return not self.begun

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """The store's :meth:`~wattprint.storage.Store.transaction`; a record written inside and rolled back with
        it is still pending."""
        begun = self.begun
        try:
            with self._store.transaction():
                yield
        except BaseException:
            self.begun = begun
            raise

    def _ensure(self) -> None:
        """Write the record, once. Its id taken meanwhile (another process started or went on with a run of it
        while the store was locked): stored under a new id instead, said in a note, rather than lost."""
        if self.begun:
            return
        from ..errors import InputConflictError

        try:
            self._begin()
        except InputConflictError as e:
            if self.record is None or self.run_id is None:
                raise
            from ..storage.records import renamed_run_id

            new_id = renamed_run_id(self.run_id, float(self.record["started_at"]))
            self._store.begin_run(new_id, self.record["project"], float(self.record["started_at"]),
                                  dict(self.record["meta"]))
            self.renamed = new_id
            if self._note is not None:
                self._note(f"{e.reason}: this run is stored as {new_id!r} instead")  # not the advice: done
        self.begun = True

    def _ours(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """The arguments of a store call, with the run's stored id where it was renamed (see _ensure), in the
        summary it writes too."""
        if not (self.renamed and args and args[0] == self.run_id):
            return args
        rest = list(args[1:])
        if len(rest) >= 2 and isinstance(rest[1], dict) and rest[1].get("run_id") == self.run_id:
            rest[1] = {**rest[1], "run_id": self.renamed}
        return (self.renamed, *rest)

    def append_samples(self, *args: Any, **kw: Any) -> Any:
        if self.begun:
            return self._store.append_samples(*self._ours(args), **kw)
        with self.transaction():  # the record and the samples kept for it: both stored, or neither
            self._ensure()
            return self._store.append_samples(*self._ours(args), **kw)

    def add_phase(self, *args: Any, **kw: Any) -> Any:
        with self.transaction():
            self._ensure()
            return self._store.add_phase(*self._ours(args), **kw)

    def finish_run(self, *args: Any, **kw: Any) -> Any:
        with self.transaction():
            self._ensure()
            return self._store.finish_run(*self._ours(args), **kw)

    def downsample(self, *args: Any, **kw: Any) -> Any:
        self._ensure()
        return self._store.downsample(*self._ours(args), **kw)


def writer_alive(meta: Any) -> bool | None:
    """Whether the process that wrote a run (its record's ``meta``: pid, pid_start, host) is alive; None where that
    cannot be told from here (another host's process, or no pid recorded)."""
    from .ledger import pid_alive

    meta = meta if isinstance(meta, dict) else {}
    pid, start = meta.get("pid"), meta.get("pid_start")
    if meta.get("host") != os.uname().nodename or not isinstance(pid, int) or isinstance(pid, bool):
        return None
    return pid_alive(pid, start if isinstance(start, int) else None)


def still_written(rec: Any) -> str | None:
    """Why a stored run may not be resumed: it is 'running' and its process, on this host, is alive (a run
    killed with SIGKILL, whose process is gone, may be)."""
    if rec.status != "running" or not writer_alive(rec.meta):
        return None
    pid = rec.meta["pid"]
    if pid == os.getpid():  # waiting for it would wait for ourselves
        return ("it is already being measured in this process (an enclosing track() block or decorated call of the "
                "same run id): track the inner block without run=..., or give it an id of its own")
    return f"it is being measured by process {pid} on this host"
