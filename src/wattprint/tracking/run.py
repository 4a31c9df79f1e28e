"""A tracked run: lifecycle (start/stop, ``with``, decorator), phases, live readings, projection, signals.

    >>> import wattprint
    >>> with wattprint.track(project="demo", persist=False) as run:   # doctest: +SKIP
    ...     with run.phase("train"):
    ...         train()
    >>> print(run.footprint().table())                                 # doctest: +SKIP

The measured window is exactly [start, stop]: a reading at ``start()``, one every interval on the sampler
thread, and a final one at ``stop()``. What the run is charged (``energy_by_component``) is the machine's
energy, or the job's allocation on a shared node (see :mod:`wattprint.devices.detect`), split with the other
tracked processes on the node (:mod:`wattprint.tracking.ledger`); the tracked process tree's CPU-time share
is reported beside it as ``process_share``.
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import reprlib
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import WattprintError, WattprintWarning
from ..footprint import Assumption, ComponentEnergy, Footprint, Intensity, amortised_embodied_kg
from ..quantities import Range
from . import decorate as calls
from .decorate import wrap_call
from .live import SECONDS_PER_HOUR, LiveFigures
from .projection import J_PER_KWH, NO_INTERVAL_YET, Projection, Projector
from .sampler import PhaseTotal, Sampler, Snapshot, note_to_stderr

if TYPE_CHECKING:
    from ..storage import SlotPatch

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_INTERVAL_S = 1.0
# how long stop() waits for the sampler's final reading and write before giving up (s), beyond one interval; the
# final write waits for a store another process holds locked within it, so stop() never takes much longer
STOP_GRACE_S = 30.0
_STATUSES = ("finished", "interrupted", "failed")
MAX_STEPS = 2**53  # progress(): whole numbers up to here are exact in a float
CHARGED_SCOPE = (
    "energy_by_component is what this run is charged: the devices it reads (the machine's CPU packages and RAM, "
    "or the job's allocation on a shared node; the GPUs it may use), with energy shared by several tracked "
    "processes on the node split equally among them; process_share reports the tracked process tree's CPU-time "
    "share of the machine's CPU energy beside it"
)


def new_run_id(project: str) -> str:
    """``<project>-<UTC yyyymmdd-hhmmss>-<6 hex>``: sortable, unique without coordination."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in project)[:40] or "run"
    return f"{safe}-{stamp}-{os.urandom(3).hex()}"


class Run:
    """One tracked run: a context manager, a decorator, or explicit ``start()``/``stop()``.

    Settings (``location``, ``pue``, ``intensity``, ``db``, ``interval_s``) follow
    :mod:`wattprint.tracking.config`. ``persist=False`` keeps everything in memory (no store).
    Extra keywords: ``handle_signals`` (default True: flush and mark the run ``interrupted`` on
    SIGINT/SIGTERM, chaining to the previous handlers), ``readers`` (device readers to use instead of
    detecting them), ``state_dir`` (node ledger folder), ``pid`` (whose process tree is attributed),
    ``meta`` (extra JSON stored with the run), ``notify`` (callable for one-line device notes; default:
    stderr once each), ``quiet`` (no notes on stderr).
    """

    def __init__(
        self,
        project: str = "default",
        run: str | None = None,
        *,
        db: str | None = None,
        interval_s: float | None = None,
        location: str | None = None,
        pue: float | str | None = None,
        intensity: float | None = None,
        persist: bool = True,
        **kw: Any,
    ) -> None:
        self.project = project or "default"
        self._given_id = run
        self.id = run or new_run_id(self.project)
        self._args = dict(db=db, interval_s=interval_s, location=location, pue=pue, intensity=intensity,
                          persist=persist, **kw)
        unknown = set(kw) - {"handle_signals", "readers", "state_dir", "pid", "meta", "notify", "quiet", "ledger"}
        if unknown:
            raise TypeError(f"track() got unexpected keyword(s): {', '.join(sorted(unknown))}")
        self.persist = persist
        self._kw = kw
        self.sampler: Sampler | None = None
        self.store: Any = None
        self.notes: list[str] = []
        self.status = "new"
        self._final: Footprint | None = None
        self._final_summary: dict[str, Any] | None = None
        self._live: LiveFigures | None = None  # factors of the last full summary
        self._signalled: int | None = None
        self._last_exc_at_start: BaseException | None = None
        self._prev_handlers: dict[int, Any] = {}
        self._stop_lock = threading.RLock()  # re-entered by a SIGTERM handler during stop()
        self._projector: Projector | None = None
        self._last_projection: Projection | None = None
        self._progress_energy_j = 0.0  # the energy so far the latest progress() call used (J)
        self._readers: list[Any] = []
        self._registered = False  # registered as open in this process (a start that succeeded, until stop())
        self.interval_s = DEFAULT_INTERVAL_S
        self._pending: _PendingRecord | None = None  # the run's record waits for a locked store (see _begin_run)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Run:
        """Open the window: resolve settings, detect devices, open the store, take the first reading."""
        if self.status != "new":
            raise WattprintError(f"run {self.id!r} was already started; use a new track() for another run")
        from ..devices import DeviceConfig, detect_readers
        from .attribution import ProcessShare
        from .config import load_config
        from .ledger import Ledger, process_start

        a = self._args
        cfg = load_config(a["location"], a["pue"], a["intensity"], a["db"], a["interval_s"])
        self.config = cfg
        self.interval_s = cfg.interval_s or DEFAULT_INTERVAL_S
        self.pue, pue_assumption = cfg.pue_range()
        self.intensity: Intensity
        self.intensity, location_notes = cfg.intensity_lookup()
        self._assumptions: list[Assumption] = [pue_assumption, self.intensity.assumption(), *location_notes]

        if self.persist:  # first, so a bad store fails before anything else is said or opened
            from ..storage import open_store

            self.store = open_store(cfg.db)

        pid = int(self._kw.get("pid") or os.getpid())
        dev_config = DeviceConfig(pid=pid)
        self._alloc = self._allocation(dev_config)
        readers = self._kw.get("readers")
        if readers is None:
            readers, notes = detect_readers(dev_config, self._alloc)
            for n in notes:
                self._note(n)
        self._readers = list(readers)
        self._gpu_models = _gpu_models(self._readers)
        self._accelerators: dict[str, Any] = {}
        for r in self._readers:
            self._assumptions += list(getattr(r, "assumptions", []) or [])

        offset_j: dict[str, float] = {}
        offset_s = 0.0
        self._prev_basis: dict[str, str] = {}
        prev_phases: dict[str, Any] = {}
        started_unix = time.time()
        if self.persist:
            meta = {"pid": pid, "pid_start": process_start(pid), "host": os.uname().nodename,
                    "interval_s": self.interval_s,
                    "pue": self.pue.to_dict(), "location": self.intensity.location,
                    "readers": [getattr(r, "name", type(r).__name__) for r in self._readers],
                    **dict(self._kw.get("meta") or {})}
            try:
                rec = self._begin_run(started_unix, meta)
            except BaseException:  # refused (the id is being written elsewhere) or failed: release what we opened
                for r in self._readers:
                    with contextlib.suppress(Exception):
                        r.close()
                with contextlib.suppress(Exception):
                    self.store.close()
                raise
            if rec is not None:
                offset_j = dict(rec.energy_j)
                offset_s = float(rec.duration_s)
                basis = rec.summary.get("basis") or rec.meta.get("basis")
                self._prev_basis = dict(basis) if isinstance(basis, dict) else {}
                prev_phases = rec.summary.get("phases") or {}
            # a record read while the store was locked is resumed once it is free (begin_run counts it then)
            self.resumed = rec is not None and (self._pending is not None or bool(rec.meta.get("resumed")))
        else:
            self.resumed = False

        ledger = self._kw.get("ledger")
        try:
            if ledger is None:
                ledger, note = Ledger.for_node(f"{pid}-{os.urandom(4).hex()}", self._kw.get("state_dir"))
                if note:
                    self._note(note)
            self.sampler = Sampler(
                self._readers, ledger, interval_s=self.interval_s,
                store=self.store if self._pending is None else self._pending, run_id=self.id,
                offset_j=offset_j, offset_s=offset_s, share=ProcessShare(pid, readers=self._readers),
                summary=self._summary, live=self._live_summary, notify=self._note,
            )
            for name, d in prev_phases.items() if isinstance(prev_phases, dict) else ():
                with contextlib.suppress(Exception):
                    self.sampler.phases[name] = PhaseTotal(dict(d.get("energy_j", {})), float(d.get("duration_s", 0)),
                                                           int(d.get("count", 0)))
            self._projector = Projector(self.interval_s)
            self.status = "running"
            self.sampler.start()
        except BaseException as e:  # e.g. Ctrl-C during the baseline reading: end what was begun, then raise
            self._abort_start(e, ledger)
            raise
        # registered only now: a start that failed must not leave the id looking measured in this process
        calls.register_open(self.id)
        self._registered = True
        if self._kw.get("handle_signals", True):
            self._install_signals()
        self._last_exc_at_start = last_uncaught_exception()
        atexit.register(self._at_exit)
        return self

    def _begin_run(self, started_unix: float, meta: dict[str, Any]) -> Any:
        """Write the run's record (or resume the stored run): the stored record to continue from, or None for a
        new run.

        A store another process holds write-locked must not keep the measured work waiting (``wattprint run``
        starts its command only after this): the write is tried for as long as the sampler waits at each interval;
        if the lock is still held, the record is read without the lock (WAL readers do not wait for writers),
        checked as ``begin_run`` would check it, and written by the sampler's first write that gets through, with
        the samples kept in memory until then. Only when even reading is locked out (an exclusive lock) does this
        wait for the store, after saying so.
        """
        from ..errors import InputConflictError, UnknownNameError
        from ..storage import StoreError
        from ..storage.sqlite import BUSY_TIMEOUT_S, StoreLockedError
        from .sampler import MIN_WRITE_WAIT_S, WRITE_WAIT_SHARE

        store = self.store

        def begin(busy: Callable[[Any], str | None]) -> Any:
            return store.begin_run(self.id, self.project, started_unix, meta, busy=busy)

        store.set_write_wait(max(MIN_WRITE_WAIT_S, WRITE_WAIT_SHARE * self.interval_s))
        try:
            try:
                return begin(_still_written)
            except StoreLockedError:
                pass
            try:
                known = store.get_run(self.id)
            except UnknownNameError:
                known = None
            except StoreError:  # reading is locked out too: nothing to measure from until the store is free
                self._note(f"the store {store.path} is locked by another process; waiting up to "
                           f"{BUSY_TIMEOUT_S:g} s for it")
                store.set_write_wait(None)
                return begin(_still_written)
        finally:
            store.set_write_wait(None)
        if known is not None:  # the checks begin_run makes before it resumes a run, made now
            reason = _still_written(known)
            if reason:
                raise InputConflictError(f"run {self.id!r} cannot be resumed: {reason}; wait for it to end or "
                                         "choose another run id")
            if known.project != self.project:
                raise InputConflictError(
                    f"run {self.id!r} already exists in project {known.project!r}, not {self.project!r}; "
                    "resume it with the same project or choose another run id")

        def unchanged(current: Any) -> str | None:
            """begin_run's check once the store is free: the run is still as it was read (or still absent)."""
            if known is None:
                return "another process started a run with this id while the store was locked"
            if (current.status, current.updated_at) != (known.status, known.updated_at):
                return "another process wrote to it while the store was locked"
            return _still_written(current)

        self._pending = _PendingRecord(store, lambda: begin(unchanged))
        self._note(f"the store {store.path} is locked by another process: measuring anyway; the run is written "
                   "there once the store is free (readings wait in memory until then)")
        return known

    def stop(self, status: str = "finished") -> Footprint:
        """Close the window (final reading, flush, mark the stored run ``status``); returns the footprint.

        Idempotent: later calls return the same footprint. The first status given is the run's: a stop()
        interrupted while it waits (Ctrl-C during a wait for a locked store) raises, with wattprint's signal
        handlers and exit hook already removed; the sampler goes on ending the run with that status in the
        background, and a later stop() (whatever its ``status``) waits for it again and returns the footprint."""
        if status not in _STATUSES:
            raise ValueError(f"status must be one of {_STATUSES}, got {status!r}")
        with self._stop_lock:
            if self._final is not None:
                return self._final
            sampler = self.sampler
            if sampler is None:
                raise WattprintError(f"run {self.id!r} was never started")
            status = sampler.status or status  # an earlier, interrupted stop() already gave the sampler its status
            self.status = status
            if self._registered:
                self._registered = False
                calls.unregister_open(self.id)
            wait = self.interval_s + STOP_GRACE_S
            try:
                sampler.stop(status, timeout=wait)
                close_store = self._give_up_if_stuck(sampler, status, wait)
            finally:  # also when the wait is interrupted: the run is ending, not to be ended again at exit
                self.status = sampler.status or status  # what the sampler ends the stored run with
                self._restore_signals()
                with contextlib.suppress(Exception):
                    atexit.unregister(self._at_exit)
            self._close_devices_and_store(close_store)
            snap = sampler.snapshot
            self._final = self._footprint(snap) if snap is not None else self.footprint()
            return self._final

    def __enter__(self) -> Run:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop(self._exit_status(et, ev))

    def _exit_status(self, et: type[BaseException] | None, ev: BaseException | None) -> str:
        """The status a block (or call) that ended with exception ``et`` gives the run."""
        aio = sys.modules.get("asyncio")  # not imported: no task can have been cancelled
        if et is None or issubclass(et, GeneratorExit):  # GeneratorExit: the consumer stopped early (break, close())
            return "finished"
        if issubclass(et, KeyboardInterrupt) or (aio is not None and issubclass(et, aio.CancelledError)):
            return "interrupted"  # asyncio.run() turns Ctrl-C into a cancellation of the main task
        if issubclass(et, SystemExit):
            code = getattr(ev, "code", None)
            return "interrupted" if self._signalled else ("finished" if code in (0, None) else "failed")
        return "failed"

    def _give_up_if_stuck(self, sampler: Sampler, status: str, wait: float) -> bool:
        """After stop()'s wait: a sampler still busy (a device read that hung, a store write that did not return)
        is left behind, writing nothing more, with a note that says which. False when it is in a store write:
        the store is then closed by the sampler once that write returns, not here (closing would wait for it)."""
        if not sampler.running:
            return True
        sampler.unsaved = True
        busy = sampler.abandon()
        last = sampler.snapshot
        upto = f"{last.elapsed_s:.3g} s into the run" if last is not None else "the start"
        if busy == "write":
            self._note(f"the final write to the store {getattr(self.store, 'path', '')} did not finish within "
                       f"{wait:.0f} s (the store was locked by another process, or too slow to answer): the figures "
                       f"end at the last completed reading, {upto}, and the stored run may not be marked {status}")
        else:
            cause = "a device read hung" if busy == "read" else "a device or the node ledger did not answer"
            self._note(f"the final reading did not finish within {wait:.0f} s ({cause}): the figures end at the "
                       f"last completed reading, {upto}, and the stored run is not marked {status}")
        return busy != "write"

    def _close_devices_and_store(self, close_store: bool = True) -> None:
        """Release what the run held open; a failure to close is no reason to lose the figures."""
        for r in self._readers:
            with contextlib.suppress(Exception):
                r.close()
        if self.store is not None and close_store:
            with contextlib.suppress(Exception):
                self.store.close()

    def _abort_start(self, exc: BaseException, ledger: Any) -> None:
        """End a run whose start failed after the store was opened: release the devices, ledger and store, and
        end the stored run (already written as running) with a status rather than leave it running for ever."""
        status = self._exit_status(type(exc), exc)
        self.status = status
        sampler = self.sampler
        close_store = True
        if sampler is not None and sampler.running:  # its thread started: it ends the stored run itself
            wait = self.interval_s + STOP_GRACE_S
            with contextlib.suppress(Exception):
                sampler.stop(status, timeout=wait)
                close_store = self._give_up_if_stuck(sampler, status, wait)
        else:
            for release in (getattr(ledger, "leave", None), getattr(ledger, "close", None)):
                if release is not None:
                    with contextlib.suppress(Exception):
                        release()
            # keeps the stored totals (a resumed run's) as they were; a record never written is left as it is
            if self.store is not None and (self._pending is None or self._pending.begun):
                with contextlib.suppress(Exception):
                    self.store.finish_run(self.id, status, None)
        self._close_devices_and_store(close_store)
        snap = sampler.snapshot if sampler is not None else None
        if snap is not None:  # what was read is kept: footprint() and stop() return it
            with contextlib.suppress(Exception):
                self._final = self._footprint(snap)
        if self._final is None:
            self.sampler = None  # nothing measured: footprint()/stop() say the run never started

    def __call__(self, fn: F) -> F:
        """Decorator: each call of ``fn`` is tracked as a run (a new id each call unless ``run`` was given);
        ``fn.last_run`` is the latest one.

        A generator, coroutine or async generator function gets a wrapper of the same kind whose run is open
        while the body runs: from the first ``next()`` / ``await`` to its end (for a generator, the time the
        consumer spends between items included). A generator closed early (``break``, ``close()``) ends its run
        ``finished``; an exception ends it ``failed`` (``interrupted`` for Ctrl-C or an asyncio cancellation).
        With a fixed ``run`` id, the calls in progress at the same time in this process (from several threads,
        interleaved generators or coroutines, or recursion) share one run: the first call to enter starts it, the
        last to leave stops it, so it spans them all. It ends ``failed`` if any of them raised (``interrupted``
        if the worst was Ctrl-C or a cancellation), else ``finished``; ``fn.last_run`` is that run. A later call
        resumes the same stored run. A call made inside ``with track(run=...)`` of the same id is already
        measured by that block: it just runs, with no run of its own.
        """
        return wrap_call(fn, self._call_scope)

    @contextlib.contextmanager
    def _call_scope(self, wrapper: Any) -> Iterator[None]:
        """One decorated call: a run of its own, or a share of the run of its fixed id (see ``__call__``)."""
        if self._given_id is None:
            with Run(self.project, None, **self._args) as run:
                wrapper.last_run = run
                yield
            return
        given_id = self._given_id
        shared = calls.join_shared(given_id, lambda: Run(self.project, given_id, **self._args).start())
        if shared is None:  # a `with` block (or start()) of this id measures the call already
            yield
            return
        assert shared.run is not None
        run = shared.run
        wrapper.last_run = run
        status = "finished"
        try:
            yield
        except BaseException as e:
            status = run._exit_status(type(e), e)
            raise
        finally:
            calls.leave_shared(given_id, shared, status)

    # -- phases and live readings --------------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Energy of the block is recorded as phase ``name`` (stored per occurrence and totalled per name).

        Meant for coarse stages (train, eval, checkpoint): each boundary takes a reading on the sampler thread.
        """
        s = self._running_sampler()
        s.mark_phase("enter", name)
        try:
            yield
        finally:
            s.mark_phase("exit", name)

    @property
    def unsaved(self) -> bool:
        """True when the run ended but its last samples or final status could not be written to the store."""
        return bool(self.sampler is not None and self.sampler.unsaved)

    @property
    def energy_kwh(self) -> float:
        """Facility energy so far (kWh, IT x PUE), as of the latest sample (at most one interval old)."""
        snap = self._snapshot()
        return snap.it_energy_j / J_PER_KWH * self.pue.value if snap is not None else 0.0

    def footprint(self) -> Footprint:
        """The footprint so far (live while running; the final one after ``stop()``)."""
        if self._final is not None:
            return self._final
        snap = self._snapshot()
        if snap is None:
            raise WattprintError(f"run {self.id!r} has not started")
        return self._footprint(snap)

    def progress(self, step: int, total_steps: int) -> Projection:
        """Project the final energy and CO2e from ``step`` of ``total_steps`` (method in
        :mod:`wattprint.tracking.projection`).

        Until the first sampling interval has closed no power is measured: the projection says so (from the
        energy so far, unbounded above). A step past ``total_steps`` counts as done. Called in training loops, it
        does not raise over its arguments: a step that is negative or not a finite number, or a total below 1 or
        from 2**53 up, gives a :class:`~wattprint.errors.WattprintWarning` and a projection that says why, and is
        not used: the run's summary keeps the last projection made from good arguments.

        The summary carries the latest projection while the run is open. A run that ends ``finished`` drops it: its
        actual totals are the answer, and a projection made at, say, step 8 of 40 before an early stop would
        overstate them. An ``interrupted`` or ``failed`` run keeps its last projection (what the whole training
        was heading for, e.g. for a resumption)."""
        if self._projector is None:
            raise WattprintError(f"run {self.id!r} has not started")
        snap = self._snapshot()
        assert snap is not None
        now = time.monotonic()
        energy = snap.it_energy_j
        if self._final is None and now > snap.t:  # bridge to now with the last interval's power
            energy += max(0.0, sum(snap.power_w.values())) * (now - snap.t)
        else:
            now = snap.t
        # never below what an earlier call reported: after a power drop the bridge (last interval's power) can
        # overshoot the next reading, and energy spent does not go back
        energy = self._progress_energy_j = max(energy, self._progress_energy_j)
        elapsed = snap.elapsed_s + (now - snap.t)
        embodied = self._embodied(snap, hours_h=elapsed / SECONDS_PER_HOUR)[0]
        why = _bad_steps(step, total_steps)
        no_data: str | None = None
        s = t = 0
        if why is not None:
            warnings.warn(f"wattprint: run.progress({reprlib.repr(step)}, {reprlib.repr(total_steps)}): {why}; "
                          "no projection made",
                          WattprintWarning, stacklevel=2)
            no_data = f"no projection: {why}"
        else:
            s, t = _whole(step), _whole(total_steps)
            if snap.samples == 0 and self._final is None:
                # only the start reading: no power yet, so `energy` is not the energy at this step either
                no_data = NO_INTERVAL_YET
            else:
                self._projector.observe(s, now, energy)
        proj = self._projector.project(s, t, now, energy, elapsed, self.pue, self.intensity.g_per_kwh, embodied,
                                       no_data=no_data)
        if why is None:  # a bad call must not replace the last good projection
            self._last_projection = proj
        return proj

    # -- internals -----------------------------------------------------------------------------
    def _running_sampler(self) -> Sampler:
        if self.sampler is None or self.status == "new":
            raise WattprintError(f"run {self.id!r} has not started")
        if self.status != "running":  # stop() sets the status first: a phase from now on would measure nothing
            raise WattprintError(f"run {self.id!r} has ended ({self.status}); use a new track() for another run")
        return self.sampler

    def _snapshot(self) -> Snapshot | None:
        return self.sampler.snapshot if self.sampler is not None else None

    def _note(self, msg: str) -> None:
        if msg in self.notes:
            return
        self.notes.append(msg)
        notify = self._kw.get("notify")
        if notify is not None:
            notify(msg)
        elif not self._kw.get("quiet"):
            note_to_stderr(msg)

    def _allocation(self, dev_config: Any) -> Any:
        try:
            from ..devices import allocation

            return allocation(dev_config)
        except Exception as e:  # attribution extras must never stop tracking
            self._note(f"job allocation unreadable ({e}); the embodied host share assumes the whole machine")
            return None

    def _footprint(self, snap: Snapshot) -> Footprint:
        comps: dict[str, ComponentEnergy] = {}
        bases = self._bases(snap)
        for comp in sorted(snap.charged_j):
            v, lo, hi = snap.charged_j[comp]
            basis = bases.get(comp) or "measured"
            comps[comp] = ComponentEnergy(Range(v, min(lo, v), max(hi, v)) / J_PER_KWH,
                                          "measured" if basis == "measured" else "modelled")
        embodied, emb_assumptions = self._embodied(snap)
        hours = snap.elapsed_s / SECONDS_PER_HOUR
        n_gpus = len(snap.gpus)
        return Footprint(
            energy_by_component=comps,
            pue=self.pue,
            intensity=self.intensity,
            embodied_co2e_kg=embodied,
            assumptions=self._assumptions + emb_assumptions,
            kind="measured",
            chip_hours=Range.exact(n_gpus * hours) if n_gpus else None,
            wall_time_h=Range.exact(hours),
        )

    def _embodied(self, snap: Snapshot, hours_h: float | None = None) -> tuple[Range, list[Assumption]]:
        """Embodied CO2e amortised over the run's duration (or ``hours_h``): the GPUs read (their charged share)
        + the host share."""
        from .. import data

        hours = Range.exact(snap.elapsed_s / SECONDS_PER_HOUR if hours_h is None else hours_h)
        total = Range.exact(0.0)
        notes: list[Assumption] = []
        gpu_share = self._charged_ratio(snap, "gpu")
        per_server: int | None = None
        gpu_units = 0.0
        for label in snap.gpus:
            model = self._gpu_models.get(label)
            if not model:
                continue
            if model not in self._accelerators:
                try:
                    self._accelerators[model] = data.find_accelerator(model)[0]
                except WattprintError:
                    self._accelerators[model] = None
            acc = self._accelerators[model]
            if acc is None:
                notes.append(Assumption("embodied GPU", f"{label} ({model}) not in the catalogue: not counted"))
                continue
            f = data.embodied_accelerator(acc)
            total = total + amortised_embodied_kg(gpu_share, f.kg_per_unit, hours, f.lifetime_years)
            gpu_units += gpu_share
            per_server = per_server or data.accelerators_per_server(acc)
            notes.append(Assumption("embodied GPU", f"{label} {acc.name}: {f.kg_per_unit} kgCO2e x share "
                                    f"{gpu_share:.3g}, lifetime {f.lifetime_years} y", f.source))
        share: float | Range
        alloc = self._alloc
        if per_server:
            host = data.embodied_host_server()
            share = gpu_units / per_server
            why = f"{gpu_units:.3g} of {per_server} GPUs of a server"
        elif alloc is not None and alloc.is_vm:
            # the host is invisible from a VM: its vCPUs stand for their share of a typical server
            host = data.embodied_cpu_server()
            server_cpus, server_note = data.server_logical_cpus()
            share = Range.exact(alloc.cpus * self._charged_ratio(snap, "cpu")) / server_cpus
            why = f"VM: {alloc.cpus:g} vCPUs of a host server of {server_cpus:.3g} logical CPUs"
            notes.append(server_note)
        else:
            host = data.embodied_cpu_server()
            share = (alloc.cpus / alloc.host_cpus) if alloc is not None and alloc.host_cpus else 1.0
            share *= self._charged_ratio(snap, "cpu")
            why = f"{share:.3g} of this machine (allocated CPUs x charged share; rack-server figure)"
        total = total + amortised_embodied_kg(share, host.kg_per_unit, hours, host.lifetime_years)
        notes.append(Assumption("embodied host", f"{why}: {host.kg_per_unit} kgCO2e per server, lifetime "
                                f"{host.lifetime_years} y, amortised over the run's duration", host.source))
        return total, notes

    def _charged_ratio(self, snap: Snapshot, comp: str) -> float:
        """This segment's charged energy / what this process's readers saw (1 alone on the node, ~1/n shared
        n ways)."""
        seen = snap.read_j.get(comp, 0.0)
        if seen <= 0:
            return 1.0
        offset = self.sampler.offset_j.get(comp, 0.0) if self.sampler is not None else 0.0
        charged = snap.charged_j.get(comp, (0.0,))[0] - offset
        return min(1.0, max(0.0, charged / seen))

    def _live_summary(self, snap: Snapshot) -> dict[str, Any] | SlotPatch:
        """The changing figures only (energies, CO2e, ranges), merged into the last full summary between full
        ones; float arithmetic on the factors of that summary (:mod:`wattprint.tracking.live`)."""
        live = self._live
        if live is None:
            return self._footprint(snap).to_dict(assumptions=False)
        return live.slots(snap.charged_j, self._bases(snap), snap.elapsed_s, len(snap.gpus))

    def _bases(self, snap: Snapshot) -> dict[str, str]:
        """Basis per component; on a resumed run, components this segment has not read keep their stored one."""
        if not self._prev_basis:
            return snap.basis
        return {**self._prev_basis, **{k: v for k, v in snap.basis.items() if v}}

    def _summary(self, snap: Snapshot) -> dict[str, Any]:
        """What the store keeps: Footprint.to_dict() + process_share, notes, phases, run identity."""
        fp = self._footprint(snap)
        self._live = LiveFigures(self.pue, self.intensity.g_per_kwh, self._embodied(snap, hours_h=1.0)[0])
        d = fp.to_dict()
        machine_cpu_kwh = snap.read_j.get("cpu", 0.0) / J_PER_KWH
        d["process_share"] = snap.share.to_dict(machine_cpu_kwh)
        d["charged_scope"] = CHARGED_SCOPE
        d["device_notes"] = list(self.notes)
        d["phases"] = {k: v.to_dict() for k, v in (self.sampler.phases if self.sampler else {}).items()}
        d["run_id"] = self.id
        d["project"] = self.project
        d["interval_s"] = self.interval_s
        d["basis"] = dict(snap.basis)
        if self._last_projection is not None and self.status != "finished":  # see progress(): a final run drops it
            d["projection"] = self._last_projection.to_dict()
        return d

    def summary(self) -> dict[str, Any]:
        """The summary dict as stored (live while running)."""
        snap = self._snapshot()
        if snap is None:
            raise WattprintError(f"run {self.id!r} has not started")
        return self._summary(snap)

    # -- signals ---------------------------------------------------------------------------------
    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._prev_handlers[sig] = signal.getsignal(sig)
                signal.signal(sig, self._on_signal)
            except (ValueError, OSError):
                self._prev_handlers.pop(sig, None)

    def _restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, prev in list(self._prev_handlers.items()):
            with contextlib.suppress(ValueError, OSError, TypeError):
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
                    del self._prev_handlers[sig]
        # A handler installed over ours since then stays. Frameworks (Lightning) put back what they found
        # when they finish, i.e. ours: keep `prev` so that handler still chains to the right one.

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Flush and mark ``interrupted``, then behave as the previous handler would have."""
        running = self._final is None
        if running:
            self._signalled = signum
        fallback = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        prev = self._prev_handlers.get(signum, fallback)
        if prev is signal.SIG_IGN:
            return
        if callable(prev):
            prev(signum, frame)  # e.g. default_int_handler raises KeyboardInterrupt -> __exit__ / atexit
            return
        # default action (terminate): end the run now, then die of the same signal as before
        if running:
            with contextlib.suppress(Exception):
                self.stop("interrupted")
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def _at_exit(self) -> None:
        """Interpreter exit with the run still open (uncaught KeyboardInterrupt, a forgotten stop())."""
        if self._final is None and self.sampler is not None:
            # the interpreter records an exception that ended the program (sys.last_exc) before atexit runs; one
            # recorded before the run started (an earlier error at an interactive prompt) does not count
            exc = last_uncaught_exception()
            died = exc if exc is not None and exc is not self._last_exc_at_start else None
            status = "interrupted" if self._signalled or isinstance(died, KeyboardInterrupt) else (
                "failed" if died is not None else "finished")
            with contextlib.suppress(Exception):
                self.stop(status)


class _PendingRecord:
    """The store as the sampler sees it while the run's record is not written yet (the store was locked at start):
    the first write that gets through (the sampler retries every interval, keeping its samples in memory) writes
    the record and those samples in ONE transaction, so nothing measured is lost and no record is ever stored
    without its samples."""

    def __init__(self, store: Any, begin: Callable[[], Any]) -> None:
        self._store = store
        self._begin = begin
        self.begun = False

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
        if not self.begun:
            self._begin()
            self.begun = True

    def append_samples(self, *args: Any, **kw: Any) -> Any:
        if self.begun:
            return self._store.append_samples(*args, **kw)
        with self.transaction():  # the record and the samples kept for it: both stored, or neither
            self._ensure()
            return self._store.append_samples(*args, **kw)

    def add_phase(self, *args: Any, **kw: Any) -> Any:
        with self.transaction():
            self._ensure()
            return self._store.add_phase(*args, **kw)

    def finish_run(self, *args: Any, **kw: Any) -> Any:
        with self.transaction():
            self._ensure()
            return self._store.finish_run(*args, **kw)

    def downsample(self, *args: Any, **kw: Any) -> Any:
        self._ensure()
        return self._store.downsample(*args, **kw)


def _bad_steps(step: Any, total_steps: Any) -> str | None:
    """Why ``progress(step, total_steps)`` cannot be projected from, or None."""
    if isinstance(step, bool) or isinstance(total_steps, bool):  # an int to Python, a slip to the user
        return "step and total_steps must be numbers, not True/False"
    try:
        s, t = float(step), float(total_steps)
    except (TypeError, ValueError, OverflowError):
        return "step and total_steps must be numbers"
    if not (math.isfinite(s) and s >= 0):
        return "step must be a finite number >= 0"
    if not (math.isfinite(t) and t >= 1):
        return "total_steps must be a finite number >= 1"
    if t >= MAX_STEPS:  # beyond it step counts are not exact in a float, and the projection overflows
        return f"total_steps must be below 2**53 ({MAX_STEPS:.4g})"
    return None


def _whole(x: Any) -> int:
    """A step count as an int (a float or a numeric string is truncated, as int() does a float)."""
    return x if isinstance(x, int) else int(float(x))


def _still_written(rec: Any) -> str | None:
    """Why a stored run may not be resumed: it is 'running' and its process, on this host, is alive (a run
    killed with SIGKILL, whose process is gone, may be)."""
    from .ledger import pid_alive

    meta = rec.meta
    if rec.status != "running" or meta.get("host") != os.uname().nodename:
        return None
    pid, start = meta.get("pid"), meta.get("pid_start")
    if not isinstance(pid, int) or not pid_alive(pid, start if isinstance(start, int) else None):
        return None
    if pid == os.getpid():  # waiting for it would wait for ourselves
        return ("it is already being measured in this process (an enclosing track() block or decorated call of the "
                "same run id): track the inner block without run=..., or give it an id of its own")
    return f"it is being measured by process {pid} on this host"


def last_uncaught_exception() -> BaseException | None:
    """The exception the interpreter last reported as uncaught (None if none)."""
    import sys

    exc = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    return exc if isinstance(exc, BaseException) else None


def _gpu_models(readers: list[Any]) -> dict[str, str]:
    """GPU label ("gpu3") -> model name as the driver reports it, from readers that list their GPUs."""
    out: dict[str, str] = {}
    for r in readers:
        for g in getattr(r, "gpus", None) or []:
            label, name = getattr(g, "label", None), getattr(g, "name", None)
            if label and name:
                out[str(label)] = str(name)
    return out


def track(
    project: str = "default",
    run: str | None = None,
    *,
    db: str | None = None,
    interval_s: float | None = None,
    location: str | None = None,
    pue: float | str | None = None,
    intensity: float | None = None,
    persist: bool = True,
    **kw: Any,
) -> Run:
    """A :class:`Run` for ``project`` (not started): use it as ``with``, as a decorator, or ``start()``/``stop()``.

    ``run`` names the run (an existing id resumes it: a preempted job continues the same run);
    ``interval_s`` is the sampling interval (default 1 s); ``location`` (e.g. "FRA", "US-CA",
    "aws:us-east-1"), ``pue`` (number or preset name) and ``intensity`` (gCO2e/kWh) override the config
    (:mod:`wattprint.tracking.config`); ``db`` names the store (``sqlite:///path.db`` or a path;
    default ``$WATTPRINT_DB``, the config file's ``db``, or the user data folder).
    """
    return Run(project, run, db=db, interval_s=interval_s, location=location, pue=pue, intensity=intensity,
               persist=persist, **kw)
