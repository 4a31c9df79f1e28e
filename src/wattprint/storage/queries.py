"""The read side of a run store: a run by id or id prefix, the runs of a project, a run's samples and phases."""

from __future__ import annotations

import math
import sqlite3
import unicodedata
from collections.abc import Generator, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from typing import Any

from ..errors import AmbiguousNameError, InputConflictError, UnknownNameError
from .json_columns import loads, loads_marked
from .records import J_PER_KWH, RunRecord, SampleRow

SUGGESTION_POOL = 1000  # most recent run ids offered as "closest names" for an unknown id
RECENT_SHOWN = 3  # newest run ids shown for an unknown id close to none of them
RUN_COLUMNS = "id, project, status, started_at, ended_at, duration_s, energy_j, meta, summary, updated_at"
_SQLITE_MAX_INT = 2**63 - 1  # an INTEGER parameter; a larger LIMIT is the same as no limit
RUN_BATCH = 100  # runs fetched from SQLite at a time by iter_runs: its memory, whatever the number stored


def check_text(what: str, text: str) -> None:
    """Names come from the command line, where bytes that are not UTF-8 arrive as lone surrogates SQLite
    cannot store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputConflictError(f"{what} {text!r} is not valid UTF-8 text") from None


class StoreQueries:
    """The reads of a :class:`~wattprint.storage.sqlite.Store`, which gives them ``path`` and ``_read``."""

    path: str

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's: its lock and connection, an SQLite error raised as StoreError

    def get_run(self, run_id: str) -> RunRecord:
        """The run ``run_id``; :class:`UnknownNameError` (with the closest ids) if the store has none."""
        check_text("run id", run_id)
        with self._read() as c:
            row = c.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise self._unknown(c, run_id)
            return run_record(row)

    def stored_run(self, run_id: str) -> RunRecord | None:
        """The run ``run_id``, or None if the store has none: for callers to whom a new id is the usual case
        (a tracker starting a run), which need no list of the closest ids."""
        check_text("run id", run_id)
        with self._read() as c:
            row = c.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else run_record(row)

    def find_run(self, text: str) -> RunRecord:
        """Like :meth:`get_run`, but also accepts a unique prefix of a run id (for the command line); the id as
        typed, or in Unicode's composed form (NFC, as the tracker stores new ids) when that is stored."""
        check_text("run id", text)
        if not text.isascii():
            composed = unicodedata.normalize("NFC", text)
            if composed != text:
                with self._read() as c:
                    exact = c.execute("SELECT 1 FROM runs WHERE id = ?", (text,)).fetchone()
                if exact is None:
                    text = composed
        with self._read() as c:
            row = c.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (text,)).fetchone()
            if row is not None:
                return run_record(row)
            # GLOB is case-sensitive like ids; its wildcards in the prefix are bracketed to match literally
            pattern = "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text) + "*"
            rows = c.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id GLOB ? ORDER BY started_at DESC",
                             (pattern,)).fetchall() if text else []
            if len(rows) == 1:
                return run_record(rows[0])
            if len(rows) > 1:
                raise AmbiguousNameError("run id prefix", text, [r[0] for r in rows],
                                         hint="or give more of the id")
            raise self._unknown(c, text)

    def list_runs(self, project: str | None = None, limit: int | None = None) -> list[RunRecord]:
        """Runs, newest first (by start time); only ``project``'s if given; at most ``limit``."""
        sql, args = _runs_query(project, newest_first=True, limit=limit)
        with self._read() as c:
            return [run_record(r) for r in c.execute(sql, args).fetchall()]

    def projects(self) -> list[str]:
        """The projects the store holds runs of, the one with the newest run first."""
        with self._read() as c:
            return [r[0] for r in c.execute("SELECT project FROM runs GROUP BY project ORDER BY MAX(started_at) DESC")]

    def iter_runs(self, project: str | None = None, *, newest_first: bool = False,
                  limit: int | None = None) -> Generator[RunRecord, None, None]:
        """The runs of :meth:`list_runs`, oldest first unless ``newest_first``, read :data:`RUN_BATCH` at a time:
        however many the store holds, only so many are in memory at once.

        They are read in ONE read transaction, held until the iterator is exhausted or closed (close it: use
        :func:`contextlib.closing`): the runs as of one moment, as the single query of :meth:`list_runs` gives
        them, and whatever else is read from this store meanwhile (a run's phases) as of that same moment. A
        reader does not hold up writers in WAL mode (every store is in it); it only keeps the WAL from being
        checkpointed past that moment until it ends. This object's lock is held as long: other threads using it
        wait."""
        # built here, not in the generator: a project name that is not text is said at once, before any output
        return self._stream(*_runs_query(project, newest_first=newest_first, limit=limit))

    def _stream(self, sql: str, args: list[Any]) -> Generator[RunRecord, None, None]:
        """The runs ``sql`` selects, a batch at a time, in one read transaction (see :meth:`iter_runs`)."""
        with self._read() as c:
            own = not c.in_transaction  # inside a write transaction: already one consistent view
            if own:
                c.execute("BEGIN")
            try:
                cursor = c.execute(sql, args)
                while batch := cursor.fetchmany(RUN_BATCH):
                    yield from (run_record(r) for r in batch)
            except BaseException:
                if own:
                    with suppress(sqlite3.Error):
                        c.execute("ROLLBACK")  # of a read: its end (also when the reader stops early)
                raise
            if own:
                c.execute("COMMIT")

    def _unknown(self, c: sqlite3.Connection, run_id: str) -> UnknownNameError:
        ids = [r[0] for r in c.execute("SELECT id FROM runs ORDER BY started_at DESC LIMIT ?", (SUGGESTION_POOL,))]
        # nothing close ('abc' among dated ids): the newest runs show what an id looks like
        return UnknownNameError("run", run_id, ids, hint=f"store {self.path}", examples=ids[:RECENT_SHOWN])

    # -- time series -------------------------------------------------------------------------
    def samples(self, run_id: str) -> list[SampleRow]:
        """All stored samples of the run, in time order."""
        with self._read() as c:
            rows = c.execute("SELECT t_unix, elapsed_s, phase, energy_j, power_w FROM samples WHERE run_id = ? "
                             "ORDER BY elapsed_s, id", (run_id,)).fetchall()
        return [SampleRow(r[0], r[1], r[2], loads(r[3]), loads(r[4])) for r in rows]

    def sample_count(self, run_id: str) -> int:
        with self._read() as c:
            return int(c.execute("SELECT COUNT(*) FROM samples WHERE run_id = ?", (run_id,)).fetchone()[0])

    def phases(self, run_id: str) -> list[dict[str, Any]]:
        """The run's phases in start order: {name, start_s, end_s, energy_j}; a phase still open (``end_s`` None)
        has the energy of its samples so far."""
        with self._read() as c:
            rows = c.execute("SELECT name, start_s, end_s, energy_j FROM phases WHERE run_id = ? ORDER BY start_s, id",
                             (run_id,)).fetchall()
            return [{"name": r[0], "start_s": r[1], "end_s": r[2],
                     "energy_j": loads(r[3]) if r[2] is not None else phase_energy(c, run_id, float(r[1]), None)}
                    for r in rows]


def phase_energy(c: Any, run_id: str, start_s: float, end_s: float | None) -> dict[str, float]:
    """IT energy (J per component) of run ``run_id`` between run seconds ``start_s`` and ``end_s`` (None: its
    latest sample), from its samples' cumulative energies (the latest sample at or before each bound)."""
    def at(t: float | None) -> dict[str, Any]:
        row = c.execute("SELECT energy_j FROM samples WHERE run_id = ? AND elapsed_s <= ? ORDER BY elapsed_s DESC "
                        "LIMIT 1", (run_id, math.inf if t is None else t)).fetchone()
        got = loads(row[0]) if row is not None else {}
        return got if isinstance(got, dict) else {}

    before, after = at(start_s), at(end_s)
    return {k: max(0.0, float(v) - float(before.get(k, 0.0))) for k, v in after.items()
            if isinstance(v, int | float)}


def ended_phase_totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each phase name's totals over its ended occurrences among ``rows`` (:meth:`StoreQueries.phases`, in start
    order), as a summary's ``phases`` hold them before pricing (energy_j, it_energy_kwh, duration_s, count), in the
    order the names first ended. An occurrence inside another of its name (re-entered within itself) is counted
    once, in the outer one, as the tracker counts it."""
    totals: dict[str, dict[str, Any]] = {}
    first_end: dict[str, float] = {}
    outer_end: dict[str, float] = {}  # the latest end of each name's occurrences so far (rows are in start order)
    for r in rows:
        name, start, end, energy = r.get("name"), r.get("start_s"), r.get("end_s"), r.get("energy_j")
        if not isinstance(name, str) or not isinstance(start, int | float) or not isinstance(end, int | float):
            continue
        if end <= outer_end.get(name, -math.inf):
            continue
        outer_end[name] = float(end)
        first_end[name] = min(first_end.get(name, math.inf), float(end))
        t = totals.setdefault(name, {"energy_j": {}, "it_energy_kwh": 0.0, "duration_s": 0.0, "count": 0})
        for k, v in (energy.items() if isinstance(energy, dict) else ()):
            if isinstance(v, int | float) and not isinstance(v, bool):
                t["energy_j"][k] = t["energy_j"].get(k, 0.0) + float(v)
        t["it_energy_kwh"] = sum(t["energy_j"].values()) / J_PER_KWH
        t["duration_s"] += max(0.0, float(end) - float(start))
        t["count"] += 1
    return {name: totals[name] for name in sorted(totals, key=first_end.__getitem__)}


def newer_phase_totals(stored: Any, from_rows: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """A summary's ``phases`` (``stored``) with each name whose stored phase rows hold more ended occurrences than it
    counts (it was written before they ended: a summary is written in full every so often, a phase row at each
    boundary) taken from the rows (:func:`ended_phase_totals`); the names it has right are kept as stored."""
    out: dict[str, Any] = dict(stored) if isinstance(stored, Mapping) else {}
    for name, totals in from_rows.items():
        had = out.get(name)
        count = had.get("count") if isinstance(had, Mapping) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < totals["count"]:
            out[name] = totals
    return out


def _runs_query(project: str | None, *, newest_first: bool, limit: int | None) -> tuple[str, list[Any]]:
    """The SELECT of runs (:data:`RUN_COLUMNS`) by start time, then by the order they were stored in, and its
    parameters."""
    sql = f"SELECT {RUN_COLUMNS} FROM runs"
    args: list[Any] = []
    if project is not None:  # as typed, or composed (NFC) as the tracker stores new names: one name either way
        check_text("project name", project)
        sql += " WHERE project IN (?, ?)"
        args += [project, unicodedata.normalize("NFC", project)]
    sql += " ORDER BY started_at DESC, rowid DESC" if newest_first else " ORDER BY started_at, rowid"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(min(max(int(limit), 0), _SQLITE_MAX_INT))
    return sql, args


def run_record(row: Sequence[Any]) -> RunRecord:
    """The run in a row selected as :data:`RUN_COLUMNS`."""
    (energy_j, bad_energy), (meta, bad_meta), (summary, bad_summary) = (loads_marked(row[i]) for i in (6, 7, 8))
    damaged = tuple(name for name, bad in (("energy_j", bad_energy), ("meta", bad_meta), ("summary", bad_summary))
                    if bad)
    return RunRecord(
        id=row[0], project=row[1], status=row[2], started_at=row[3], ended_at=row[4], duration_s=row[5],
        energy_j=energy_j, meta=meta, summary=summary, updated_at=row[9], damaged=damaged,
    )
