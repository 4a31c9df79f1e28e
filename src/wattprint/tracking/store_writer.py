"""The sampler's store writes: the samples and phase rows waiting to be written (kept in memory while the store
fails), one small transaction per interval, and the final write.

At ``stop()`` the last samples, the phases and the final status go in ONE transaction, waiting for a locked store
only as long as the caller of ``stop()`` waits (its ``timeout``); if the store is still locked then, nothing of it
is written and a note says so (the stored run stays ``running``, its figures ending at the last stored sample).
A caller of ``stop()`` that gives up waiting (:meth:`StoreWriter.abandon`) ends all writing.

How many samples are kept and when the stored series is downsampled are the sampler's choices (its knobs, in
:mod:`.sampler`); how long a write waits for a locked store is this module's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..storage import SlotPatch
    from .phases import PhaseRow

# while running, a write waits for another process's lock at most this share of an interval (not less than the
# minimum: other writers' transactions last milliseconds); samples it could not write are kept and retried
WRITE_WAIT_SHARE = 0.5
MIN_WRITE_WAIT_S = 0.1
# the final write ends this long before stop()'s timeout (at most a quarter of it): the ledger is left after it
END_MARGIN_S = 0.5
# tries of the final write (each waits for a locked store as long as stop()'s timeout leaves)
FINAL_WRITE_TRIES = 2
# a store another process keeps locked is said to the user only once the lock has lasted this long: the samples
# wait in memory meanwhile and nothing is lost, and a few seconds' lock (a large export, another run's end) is
# common on a shared store; any other failure is said at once
QUIET_LOCK_S = 30.0


def _moved_away(store: Any) -> str | None:
    """The store's :meth:`~wattprint.storage.sqlite.Store.moved_away` (None for a store object without it)."""
    check = getattr(store, "moved_away", None)
    try:
        return check() if check is not None else None
    except Exception:  # a store that cannot tell is taken to be where it was
        return None


class StoreWriter:
    """Writes run ``run_id``'s samples, phase rows and summary to ``store`` on the sampler thread; ``on_written``
    runs after each interval's write that got through, as part of it (a failure there counts as the write's)."""

    def __init__(self, store: Any, run_id: str | None, *, say: Callable[[str], None], clock: Callable[[], float],
                 on_written: Callable[[], None]) -> None:
        self.store = store
        self.run_id = run_id
        self.say = say
        self.clock = clock
        self.on_written = on_written
        from ..storage import SampleRow  # here, not per reading: an import statement runs importlib code

        self._sample_row = SampleRow
        self.samples: list[Any] = []  # SampleRow, not written yet
        self.last_t_unix: float | None = None  # wall time of the latest reading
        self.spilled: str | None = None  # the file holding what the final write could not store (storage.spill)
        self.spill_error: str | None = None  # why that file could not be written either (a full disk, say)
        self.phases: list[PhaseRow] = []  # phase boundaries, not written yet
        self.failed = False  # the failure of the writes was said (once, until one gets through)
        self.failing_since: float | None = None  # clock time of the first of the writes failing now
        self.unsaved = False  # the final write failed (or never came): what was measured is only in memory
        self.stored_s: float | None = None  # run time of the last sample written to the store
        # stop()'s deadline for the final write (clock time; None: no timeout, the store's own waits)
        self.end_by: float | None = None
        # store writes in progress / given up by the caller of stop() (see abandon()), under _io
        self._io = threading.Lock()
        self._writing = False
        self._abandoned = False
        # the final write's arguments while it is in progress: spilled by abandon_final() if the caller gives up
        self._final: tuple[str | None, dict[str, Any], dict[str, Any] | SlotPatch | None, bool] | None = None

    @property
    def enabled(self) -> bool:
        """There is a store and a run to write to (else what is kept is dropped at each write)."""
        return self.store is not None and self.run_id is not None

    def drop(self) -> None:
        self.samples.clear()
        self.phases.clear()

    def wait_per_interval(self, interval_s: float) -> None:
        """A locked store must not hold the readings up: a write waits for it a share of ``interval_s``, and what
        it could not write is retried at the next interval."""
        if self.store is not None:
            self.store.set_write_wait(max(MIN_WRITE_WAIT_S, WRITE_WAIT_SHARE * interval_s))

    def end_within(self, stop_t: float, timeout: float) -> None:
        """The final write waits for a locked store no longer than the caller of stop() (``timeout`` s from
        ``stop_t``), less a margin to leave the ledger after it."""
        self.end_by = stop_t + timeout - min(END_MARGIN_S, timeout / 4)

    def add_sample(self, t_unix: float, elapsed_s: float, phase: str | None, energy_j: dict[str, float],
                   power_w: dict[str, float], keep: int) -> None:
        """One reading's sample, kept until written; beyond ``keep`` of them they are thinned 2:1, the latest
        kept (each sample holds cumulative energies: the totals stay exact)."""
        self.samples.append(self._sample_row(t_unix, elapsed_s, phase, energy_j, power_w))
        self.last_t_unix = t_unix  # the run ends at its last reading, not when a locked store takes the write
        if len(self.samples) > keep:
            self.samples = self.samples[0:-1:2] + [self.samples[-1]]

    def add_phase(self, row: PhaseRow) -> None:
        self.phases.append(row)

    def write(self, summary: dict[str, Any], patch: dict[str, Any] | SlotPatch | None) -> bool:
        """One interval's write: the samples and phase rows kept and the run's totals (``summary``, or ``patch``)
        in one transaction. False: the store failed (all is kept for the next write; said once until a write
        gets through). True also once the caller of stop() gave up: nothing is written then."""
        if not self._begin():
            return True
        try:
            self.store.append_samples(self.run_id, self.samples, summary, phases=self.phases, summary_patch=patch)
            self._written()
            self.on_written()
            self._works_again()
        except Exception as e:
            self._failing(e)
            return False
        finally:
            self._end()
        return True

    def finish(self, status: str | None, summary: dict[str, Any], patch: dict[str, Any] | SlotPatch | None,
               stop_t: float | None) -> None:
        """The final write: the samples and phase rows kept, the run's totals and its end ``status`` (None: it
        stays running) in ONE transaction (a run whose record still waits for the store is written with them),
        FINAL_WRITE_TRIES times at most, each waiting for a locked store until ``end_by`` (see end_within; None:
        as long as the store allows). Nothing of it stored: the stored run reads back as one that stopped being
        written (as after SIGKILL), ``running`` with its figures up to its last stored sample, never ended with the
        wrong totals; ``unsaved`` is set and a note says which, and why (``stop_t``: when stop() was called).
        A store file deleted or replaced during the run (SQLite wrote on to the file it had open, which the path no
        longer names) is noticed here: the whole run is kept beside the store instead (see _keep_moved_run)."""
        store = self.store
        never_begun = bool(getattr(store, "pending", False))
        self._final = (status, summary, patch, never_begun)
        one_transaction = getattr(store, "transaction", None) or contextlib.nullcontext
        err: Exception | None = None
        for attempt in range(FINAL_WRITE_TRIES):
            wait = None if self.end_by is None else max(0.0, self.end_by - self.clock())
            if attempt and wait is not None and wait <= 0:
                break
            if not self._begin():
                return  # the caller gave up waiting and said so: nothing more is written
            try:
                store.set_write_wait(wait)  # None: as long as the store allows
                with one_transaction():
                    store.append_samples(self.run_id, self.samples, summary, phases=self.phases,
                                         summary_patch=patch)
                    if status is not None:
                        store.finish_run(self.run_id, status, None, ended_at=self.last_t_unix)
                err = None
                break
            except Exception as e:
                err = e
            finally:
                self._end()
        moved = _moved_away(store)
        if moved is not None:
            self._keep_moved_run(store, moved, status, summary, patch, never_begun, written=err is None)
            return
        if err is None:
            self._written()
            self.unsaved = False
            self._works_again()
            return
        self.unsaved = True
        path = getattr(store, "path", "")
        kept = self.spilled or self._spill(store, path, status, summary, patch, never_begun)
        from ..storage.records import StoreLockedError

        said = str(err).lower()  # SQLite's own words: a conflict over a run id may speak of a locked store too
        if isinstance(err, StoreLockedError) or "database is locked" in said or "busy" in said:
            waited = self.clock() - (stop_t if stop_t is not None else self.clock())
            why = (f"the store {path} stayed locked by another process: still locked {waited:.3g} s after the run "
                   f"stopped")
        else:
            why = f"the last write to the store {path} failed ({err})"
        if kept:
            what = (f"its {'record and samples' if never_begun else 'last samples'} are kept in {kept} and written "
                    "to the store the next time wattprint opens it to write (the next `wattprint run` or tracked "
                    "run on it)")
        elif never_begun:
            what = ("nothing of this run was stored (its record could not be written at all; the figures are only in "
                    "this report)")
        else:
            what = f"its last samples are not stored: {self.left_running(status)}"
        if not kept and self.spill_error:  # said, so that a full disk is not mistaken for a store problem
            what += f"; keeping them in a file failed too ({self.spill_error})"
        self.say(f"{why}, so {what}")

    def _spill(self, store: Any, path: str, status: str | None, summary: dict[str, Any],
               patch: dict[str, Any] | SlotPatch | None, never_begun: bool) -> str | None:
        """What the store refused, in a file beside it or in its fallback folder (storage.spill); its path, or None if
        that failed too."""
        if not path or self.run_id is None:
            return None

        record = getattr(store, "record", None) if never_begun else None
        if never_begun and record is None:
            return None
        return self._spill_file(path, self.run_id, record, self.samples, self.phases, summary, patch, status)

    def _spill_file(self, path: str, run_id: str, record: dict[str, Any] | None, samples: list[Any],
                    phases: list[Any], summary: dict[str, Any] | None, patch: dict[str, Any] | SlotPatch | None,
                    status: str | None) -> str | None:
        """``spill_run`` of these: its file (also kept as ``spilled``), or None with ``spill_error`` saying why."""
        from ..storage.spill import spill_run

        try:
            self.spilled = spill_run(path, run_id, record=record, samples=samples, phases=phases, summary=summary,
                                     patch=patch, status=status, ended_at=self.last_t_unix)
        except (OSError, TypeError, ValueError) as e:
            self.spill_error = f"{type(e).__name__}: {e}"
            return None
        return self.spilled

    def _keep_moved_run(self, store: Any, moved: str, status: str | None, summary: dict[str, Any],
                        patch: dict[str, Any] | SlotPatch | None, never_begun: bool, written: bool) -> None:
        """The store file was ``moved`` ("deleted", "replaced") during the run: what was written since went to a file
        no opening of the path finds. The whole run, read back through the connection that still has that file open
        (with what the final write held, where it was not ``written``), is kept beside the store path, to be
        stored there at its next opening to write, as a run the store refused is (see _spill)."""
        self.unsaved = True
        path = getattr(store, "path", "")
        assert self.run_id is not None  # the final write is made only for a run (see enabled)
        run_id = getattr(store, "renamed", None) or self.run_id  # the id it is stored under
        whole = False
        try:
            rec = store.get_run(run_id)
            samples = store.samples(run_id)
            phases: list[Any] = [(p["name"], p["start_s"], p["end_s"], p["energy_j"]) for p in store.phases(run_id)]
        except Exception:  # its record never reached the file (the store was locked until then): the final write's
            kept = self._spill(store, path, status, summary, patch, never_begun)
        else:
            if not written:
                samples, phases = samples + self.samples, phases + self.phases
            record = {"project": rec.project, "started_at": rec.started_at, "meta": rec.meta}
            kept = self._spill_file(path, run_id, record, samples, phases,
                                    rec.summary if written else (summary or rec.summary), None if written else patch,
                                    status)
            whole = kept is not None
        what = "another file is there now" if moved == "replaced" else "it no longer exists"
        why = (f"the store {path} was {moved} while the run was measured ({what}; SQLite went on writing the file "
               "it had open, which no later opening of that path finds)")
        if kept:
            held = "the whole run (record, samples, end)" if whole else "what its last write held"
            self.say(f"{why}, so {held} is kept in {kept} and written to the store at {path} the next time wattprint "
                     "opens it to write (the next `wattprint run` or tracked run on it)")
        else:
            failed = f", and keeping it in a file failed too ({self.spill_error})" \
                if self.spill_error else ""
            self.say(f"{why}, so the run is not stored{failed}: the figures are only in this report")

    def left_running(self, status: str | None = None) -> str:
        """How the stored run is left without its final write (said in a note)."""
        upto = f"{self.stored_s:.3g} s into the run" if self.stored_s is not None else "the start"
        return (f"the stored run is left running (not marked {status or 'ended'}), its figures ending at its last "
                f"stored sample, {upto}")

    def abandon(self) -> bool:
        """The caller of stop() gave up waiting: nothing more is written from now on. True while a write is in
        progress: the store is then closed here once that write returns, so the caller must not close it.

        A final write in progress may never return before the process exits, so what it holds is spilled now (on
        the caller's thread): should the write still get through, the spill file is dropped unused at the store's
        next opening, as one whose samples the store already reaches (see storage.spill)."""
        with self._io:
            self._abandoned = True
            writing, final = self._writing, self._final
        if writing and final is not None and not self.spilled:
            status, summary, patch, never_begun = final
            self._spill(self.store, getattr(self.store, "path", ""), status, summary, patch, never_begun)
        return writing

    def _written(self) -> None:
        if self.samples:
            self.stored_s = self.samples[-1].elapsed_s
        self.samples = []
        self.phases = []

    def _failing(self, e: Exception) -> None:
        """An interval's write failed: said once, at once, or for a lock once it has lasted ``QUIET_LOCK_S``."""
        from ..storage.records import StoreLockedError

        now = self.clock()
        if self.failing_since is None:
            self.failing_since = now
        if self.failed or (isinstance(e, StoreLockedError) and now - self.failing_since < QUIET_LOCK_S):
            return
        self.failed = True
        locked = f" for {now - self.failing_since:.0f} s" if isinstance(e, StoreLockedError) else ""
        self.say(f"writing to the store failed{locked} ({e}); still measuring, keeping samples in memory")

    def _works_again(self) -> None:
        self.failing_since = None
        if self.failed:
            self.failed = False
            self.say("the store works again; samples kept in memory were written")

    def _begin(self) -> bool:
        """Before each store write (on the sampler thread): False once the caller has given up (see abandon)."""
        with self._io:
            if self._abandoned:
                return False
            self._writing = True
            return True

    def _end(self) -> None:
        with self._io:
            self._writing = False
            close = self._abandoned
        if close:  # the caller left the store to us (it was busy here): nothing more is written
            with contextlib.suppress(Exception):
                self.store.close()
