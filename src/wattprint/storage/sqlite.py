"""The SQLite run store: crash-safe, shared by several processes, standard library only.

Every write is one short ``BEGIN IMMEDIATE`` transaction in WAL mode (``synchronous=NORMAL``: a
committed transaction survives the process being killed), so a run killed with SIGKILL reads back
up to its last persisted sample, and several processes (one per GPU) can write their runs to one
file at once. Nothing accumulates in memory in a :class:`Store`: the time series lives on disk.

Elsewhere: telling what a file is and connecting to it (:mod:`.opening`), the reads (:mod:`.queries`, the
base class of :class:`Store`), the JSON columns (:mod:`.json_columns`), merging old samples (:mod:`.downsample`).
The tunables below are read from this module at each use, so that tests and callers can change them here.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

from ..errors import InputConflictError
from .json_columns import dumps, loads
from .json_columns import finite as finite  # re-exported: the CLI imports it from here
from .opening import connect, connect_readonly, file_state, is_locked, is_readonly, store_problem
from .queries import (
    RUN_COLUMNS,
    StoreQueries,
    check_text,
    ended_phase_totals,
    newer_phase_totals,
    phase_energy,
    run_record,
)
from .records import (
    FINAL_STATUSES,
    JsonShape,
    RunRecord,
    SampleRow,
    SlotPatch,
    StoreError,
    StoreLockedError,
    iso_utc,
    refuse_resume,
)
from .url import db_path, resolve_db_url, spill_dirs

BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another process's transaction; ours last milliseconds
DOWNSAMPLE_BATCH_ROWS = 5000  # rows merged per transaction, so other writers never wait long
REREAD_DELAY_S = 0.05  # a header read racing another process's first commit is retried once after this

_UPSERT_PHASE = ("INSERT INTO phases (run_id, name, start_s, end_s, energy_j) VALUES (?, ?, ?, ?, ?) "
                 "ON CONFLICT (run_id, name, start_s) DO UPDATE SET "
                 "end_s = excluded.end_s, energy_j = excluded.energy_j")

PhaseUpdate = tuple[str, float, float | None, dict[str, float]]  # (name, start_s, end_s, energy_j)
_INSERT_SAMPLE = ("INSERT INTO samples (run_id, t_unix, elapsed_s, phase, energy_j, power_w, live) "
                  "VALUES (?, ?, ?, ?, ?, ?, ")


@lru_cache(maxsize=32)
def _insert_with_slots(shape: JsonShape) -> str:
    """The sample INSERT whose ``live`` value SQLite builds from the shape's bound numbers."""
    return _INSERT_SAMPLE + _json_object_sql(shape) + ")"


def _json_object_sql(shape: JsonShape) -> str:
    def lit(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    parts = [f"{lit(k)}, " + ("?" if v is None else lit(v) if isinstance(v, str) else _json_object_sql(v))
             for k, v in shape]
    return "json_object(" + ", ".join(parts) + ")"


def open_store(url: str | None = None, *, create: bool = True, readonly: bool = False) -> Store:
    """Open (or create) the store named by ``url`` (see :func:`resolve_db_url`).

    Missing folders are created. Only a missing or empty (0-byte) file becomes a new store; any
    other file that is not a wattprint store raises :class:`StoreError` naming it, untouched.
    ``create=False`` raises StoreError instead of creating a missing store; ``readonly=True`` (implies it) opens
    an existing store without ever writing to it or its folder (for listing runs).
    """
    resolved = resolve_db_url(url)
    path = db_path(resolved)
    state = file_state(path, REREAD_DELAY_S)
    if state == "missing" and (not create or readonly):
        raise StoreError(f"no wattprint store at {path}")
    if state == "missing":
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the folder for the store {path}: {e.strerror or e}") from e
    if readonly:
        if state != "ours":
            raise StoreError(f"{path} is empty: no runs stored yet")
        return Store(path, resolved, readonly=True)
    store = Store(path, resolved, initialise=state != "ours")
    # runs an earlier process could not store (locked, disk full): stored now if the store lets us
    if any(os.path.isdir(folder) for folder in spill_dirs(path)):
        from .spill import recover  # only then: it is no part of a usual start-up

        store.recovered = recover(store)
    return store


def _file_identity(path: str, missing_ok: bool = True) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the file at ``path``; None where it cannot be read (FileNotFoundError unless
    ``missing_ok``)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if not missing_ok:
            raise
        return None
    except OSError:
        return None
    return st.st_dev, st.st_ino


EARLIER_KEPT = 20  # earlier values kept per meta key of a resumed run (a pid per resume must not grow without end)


def _earlier_values(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """``old["earlier"]`` plus, for each key whose value ``new`` changes, the value it had."""
    earlier = old.get("earlier")
    out: dict[str, list[Any]] = {k: list(v) for k, v in earlier.items()} if isinstance(earlier, dict) else {}
    for key, value in new.items():
        if key in old and old[key] != value and key != "earlier":
            seen = [v for v in out.get(key, []) if v != old[key]]
            out[key] = (seen + [old[key]])[-EARLIER_KEPT:]
    return out


class Store(StoreQueries):
    """A wattprint run store in one SQLite file. Thread-safe; one per process (reopened after ``fork``)."""

    def __init__(self, path: str, url: str, *, initialise: bool = False, readonly: bool = False) -> None:
        self.path = path
        self.url = url
        self.readonly = readonly
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._begun: set[str] = set()  # runs begun through this object: their appends may take the fast path
        self._busy_ms = int(BUSY_TIMEOUT_S * 1000)  # see set_write_wait
        self._in_tx = False  # inside transaction(): writes join its one transaction
        self.recovered: list[str] = []  # runs written from spill files when opened (see storage.spill)
        self.notes: list[str] = []  # what opening it did beyond that, said once (marks a copy had lost, restored)
        self._opened: tuple[int, int] | None = None  # (st_dev, st_ino) of the file the connection writes
        self._conn: sqlite3.Connection | None = self._connect(initialise)

    # -- connection --------------------------------------------------------------------------
    def _connect(self, initialise: bool) -> sqlite3.Connection:
        # BUSY_TIMEOUT_S is read at each connect, from this module, so that it can be changed at run time
        if self.readonly:
            return connect_readonly(self.path, timeout_s=BUSY_TIMEOUT_S)
        conn = connect(self.path, timeout_s=BUSY_TIMEOUT_S, busy_ms=self._busy_ms, initialise=initialise,
                       notes=self.notes)
        self._opened = _file_identity(self.path)
        return conn

    def moved_away(self) -> str | None:
        """"deleted" or "replaced" (another file is there now) when ``path`` no longer names the file this store
        writes, else None (also where that cannot be told). SQLite goes on writing a file deleted while it is open:
        what it writes then is in no file the path reaches. One ``stat``: for the end of a run, not each write."""
        if self._opened is None:
            return None
        try:
            now = _file_identity(self.path, missing_ok=False)
        except FileNotFoundError:
            return "deleted"
        return None if now is None or now == self._opened else "replaced"

    def set_write_wait(self, seconds: float | None) -> None:
        """How long a write waits for another process's lock before failing (None: the default, BUSY_TIMEOUT_S).
        A tracker shortens it while running so that a locked store cannot hold its readings up."""
        with self._lock:
            self._busy_ms = int(1000 * min(BUSY_TIMEOUT_S if seconds is None else seconds, BUSY_TIMEOUT_S))
            if self._conn is not None:
                self._conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed")
        if os.getpid() != self._pid:
            # a forked child must not use its parent's SQLite handle; leave that one alone and open its own
            self._pid = os.getpid()
            self._conn = self._connect(initialise=False)
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The writes made inside (``begin_run``, ``append_samples``, ``finish_run`` ...) are ONE transaction: all
        of them are stored, or none (an error inside rolls them all back). Other threads' writes wait for it."""
        with self._lock:
            begun = set(self._begun)
            try:
                with self._write():
                    yield
            except BaseException:
                self._begun = begun  # a run begun inside was rolled back with it
                raise

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; the write lock is taken up front so it never has to be upgraded. Inside
        :meth:`transaction`, part of that one."""
        with self._lock:
            if self._in_tx:
                yield self._connection()
                return
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                if is_locked(e):
                    raise StoreLockedError(f"cannot write to the store {self.path}: {e}") from e
                raise StoreError(f"cannot write to the store {self.path}: {e}") from e
            self._in_tx = True
            try:
                try:
                    yield conn
                finally:
                    self._in_tx = False
            except BaseException as e:
                with suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.Error):
                    raise self._write_failed(e) from e
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                raise self._write_failed(e) from e

    def _write_failed(self, e: sqlite3.Error) -> StoreError:
        if is_readonly(e):
            return store_problem(self.path, e) or StoreError(f"writing to the store {self.path} failed: {e}")
        return StoreError(f"writing to the store {self.path} failed: {e}")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._connection()
            except sqlite3.Error as e:
                raise StoreError(f"reading the store {self.path} failed: {e}") from e

    # -- runs --------------------------------------------------------------------------------
    def begin_run(self, run_id: str, project: str, started_at: float, meta: dict[str, Any],
                  busy: Callable[[RunRecord], str | None] | None = None) -> RunRecord:
        """Start run ``run_id`` (status "running"), or resume it if it exists (unless ``busy``, given the
        stored run, names a reason not to: another live process still writing it).

        On resume the run keeps its id, project, start time and totals (``.energy_j``, ``.duration_s``:
        the tracker continues from them), goes back to "running", and its meta records
        ``resumed`` (count) and ``resumed_at`` (ISO 8601 UTC of the latest resume); a meta value the resume
        changes keeps its earlier values under ``earlier`` (key -> distinct values, oldest first, the last
        ``EARLIER_KEPT``): a run resumed at another site says where its earlier segments ran.
        """
        if not run_id or not isinstance(run_id, str):
            raise InputConflictError("a run id must be a non-empty string")
        if not project:
            raise InputConflictError("a project name must be a non-empty string")
        check_text("run id", run_id)
        check_text("project name", project)
        now = time.time()
        with self._write() as c:
            row = c.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                c.execute(
                    "INSERT INTO runs (id, project, status, started_at, ended_at, duration_s, energy_j, meta, summary, "
                    "updated_at) VALUES (?, ?, 'running', ?, NULL, 0, '{}', ?, '{}', ?)",
                    (run_id, project, float(started_at), dumps(meta), now),
                )
                self._begun.add(run_id)
                return RunRecord(run_id, project, "running", float(started_at), None, 0.0, {}, dict(meta), {}, now)
            rec = run_record(row)
            refuse_resume(run_id, rec.project, project, busy(rec) if busy is not None else None)
            self._close_phases_left_open(c, rec)
            rec.meta = {**rec.meta, **meta, "resumed": int(rec.meta.get("resumed", 0)) + 1,
                        "resumed_at": iso_utc(now), "status_before_resume": rec.status,
                        "earlier": _earlier_values(rec.meta, meta)}
            rec.status, rec.ended_at, rec.updated_at = "running", None, now
            c.execute("UPDATE runs SET status = 'running', ended_at = NULL, meta = ?, updated_at = ? WHERE id = ?",
                      (dumps(rec.meta), now, run_id))
            self._begun.add(run_id)
            return rec

    def append_samples(self, run_id: str, samples: Sequence[SampleRow], summary: dict[str, Any] | None,
                       phases: Sequence[PhaseUpdate] = (),
                       summary_patch: dict[str, Any] | SlotPatch | None = None) -> None:
        """Persist ``samples`` and bring the run's totals and summary up to date, in ONE transaction.

        The run's ``duration_s`` and ``energy_j`` become those of the latest sample, so a process
        killed after this returns leaves a run that reads back complete up to here. An empty
        ``summary`` keeps the previous one; ``summary_patch`` instead merges its keys into it (JSON merge
        patch), so a tracker can refresh the figures each interval and the rest less often. ``phases``:
        optional ``(name, start_s, end_s, energy_j)`` updates written in the same transaction.
        """
        if len(samples) == 1 and not phases and not summary and run_id in self._begun:
            return self._append_one(run_id, samples[0], summary_patch)
        rows = [(run_id, float(s.t_unix), float(s.elapsed_s), s.phase, dumps(s.energy_j), dumps(s.power_w))
                for s in samples]
        latest = max(samples, key=lambda s: s.elapsed_s) if samples else None
        summary_json = dumps(summary) if summary else None
        if isinstance(summary_patch, SlotPatch):
            summary_patch = summary_patch.to_dict()
        patch_json = dumps(summary_patch) if summary_patch and not summary else None
        # few statements on purpose: each one hands the GIL to the tracked program and back
        with self._write() as c:
            if rows:
                c.executemany("INSERT INTO samples (run_id, t_unix, elapsed_s, phase, energy_j, power_w) "
                              "VALUES (?, ?, ?, ?, ?, ?)", rows)
            if phases:
                c.executemany(_UPSERT_PHASE, [(run_id, name, float(start_s), None if end_s is None else float(end_s),
                                               dumps(energy_j)) for name, start_s, end_s, energy_j in phases])
            cur = c.execute(
                "UPDATE runs SET duration_s = MAX(duration_s, COALESCE(?, duration_s)), "
                "energy_j = json_patch(energy_j, COALESCE(?, '{}')), "
                "summary = CASE WHEN ? IS NOT NULL THEN ? "
                "WHEN ? IS NOT NULL THEN json_patch(COALESCE(summary, '{}'), ?) ELSE summary END, "
                "updated_at = ? WHERE id = ?",
                (None if latest is None else float(latest.elapsed_s),
                 None if latest is None else dumps(latest.energy_j),
                 summary_json, summary_json, patch_json, patch_json, time.time(), run_id),
            )
            if cur.rowcount == 0:
                raise self._unknown(c, run_id)

    def _append_one(self, run_id: str, s: SampleRow, summary_patch: dict[str, Any] | SlotPatch | None) -> None:
        """A tracker's usual interval: ONE autocommit INSERT; the ``samples_live`` trigger updates the run's
        totals and merges ``summary_patch`` in the same implicit transaction (a :class:`SlotPatch` is written
        as JSON by SQLite itself)."""
        row: tuple[Any, ...] = (run_id, float(s.t_unix), float(s.elapsed_s), s.phase, dumps(s.energy_j),
                                dumps(s.power_w))
        if isinstance(summary_patch, SlotPatch):
            sql, row = _insert_with_slots(summary_patch.shape), row + summary_patch.values
        else:
            sql, row = _INSERT_SAMPLE + "?)", row + (dumps(summary_patch or {}),)
        with self._lock:
            conn = self._connection()
            try:
                conn.execute(sql, row)
            except sqlite3.Error as e:
                raise self._write_failed(e) from e

    @staticmethod
    def _close_phases_left_open(c: sqlite3.Connection, rec: RunRecord) -> None:
        """Phases an earlier segment left open (its process was killed inside them) end where its figures end,
        the run's stored duration, with the energy its samples hold, so the finished run holds no phase still
        "running" at 0 kWh. The phase totals the resumed run continues from (``rec.summary``) then count every
        ended phase row: the summary, written in full only now and then, lacks those that ended after its last
        write (:func:`~.queries.newer_phase_totals`)."""
        rows = c.execute("SELECT name, start_s FROM phases WHERE run_id = ? AND end_s IS NULL",
                         (rec.id,)).fetchall()
        end_s = max(float(rec.duration_s), *(float(r[1]) for r in rows)) if rows else 0.0
        for name, start_s in rows:
            energy = phase_energy(c, rec.id, float(start_s), end_s)
            c.execute("UPDATE phases SET end_s = ?, energy_j = ? WHERE run_id = ? AND name = ? AND start_s = ?",
                      (end_s, dumps(energy), rec.id, name, start_s))
        ended = [{"name": r[0], "start_s": r[1], "end_s": r[2], "energy_j": loads(r[3])} for r in c.execute(
            "SELECT name, start_s, end_s, energy_j FROM phases WHERE run_id = ? AND end_s IS NOT NULL "
            "ORDER BY start_s, id", (rec.id,))]
        if not ended:
            return
        summary: dict[str, Any] = dict(rec.summary) if isinstance(rec.summary, dict) else {}
        rec.summary = {**summary, "phases": newer_phase_totals(summary.get("phases"), ended_phase_totals(ended))}

    def add_phase(self, run_id: str, name: str, start_s: float, end_s: float | None,
                  energy_j: dict[str, float]) -> None:
        """Record phase ``name`` starting at ``start_s`` (run seconds); called again with ``end_s`` to close it."""
        with self._write() as c:
            if c.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise self._unknown(c, run_id)
            c.execute(
                _UPSERT_PHASE,
                (run_id, name, float(start_s), None if end_s is None else float(end_s), dumps(energy_j)),
            )

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any] | None,
                   ended_at: float | None = None) -> None:
        """Mark the run ``status`` ("finished" | "interrupted" | "failed"), ended at ``ended_at`` (Unix s: its last
        reading; None: now), with its final summary."""
        if status not in FINAL_STATUSES:
            raise InputConflictError(f"a run ends as one of {', '.join(FINAL_STATUSES)}, not {status!r}")
        now = time.time()
        with self._write() as c:
            cur = c.execute(
                "UPDATE runs SET status = ?, ended_at = ?, summary = COALESCE(?, summary), updated_at = ? WHERE id = ?",
                (status, now if ended_at is None else ended_at, dumps(summary) if summary else None, now, run_id),
            )
            if cur.rowcount == 0:
                raise self._unknown(c, run_id)

    def downsample(self, run_id: str, older_than_s: float, bucket_s: float) -> int:
        """Merge samples older than ``older_than_s`` (s before the run's latest) into one per ``bucket_s`` (s).

        Buckets are aligned to multiples of ``bucket_s`` of run time and never span a phase change.
        Cumulative energies keep each bucket's last value, power is the interval-weighted mean, so
        the run's energy is unchanged. Works in short transactions of a bounded number of rows.
        Returns the number of samples removed.
        """
        if not bucket_s > 0 or not older_than_s >= 0:
            raise InputConflictError("downsample needs bucket_s > 0 and older_than_s >= 0 (seconds)")
        duration = self.get_run(run_id).duration_s
        cutoff = math.floor((duration - older_than_s) / bucket_s) * bucket_s
        if cutoff <= 0:
            return 0
        from .downsample import merge_samples_up_to  # on first use: a run reaches it after a day, if ever

        return merge_samples_up_to(self._write, run_id, cutoff, bucket_s, DOWNSAMPLE_BATCH_ROWS)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None and os.getpid() == self._pid:
                self._conn.close()
            self._conn = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"
