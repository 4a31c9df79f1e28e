"""A tracked run: lifecycle (start/stop, ``with``, decorator), phases, live readings, projection, signals.

    >>> import wattprint
    >>> with wattprint.track(project="demo", persist=False) as run:   # doctest: +SKIP
    ...     with run.phase("train"):
    ...         train()
    >>> print(run.footprint().table())                                 # doctest: +SKIP

The measured window is exactly [start, stop]: a reading at ``start()``, one every interval on the sampler
thread, and a final one at ``stop()``. What the run is charged (``energy_by_component_kwh``) is the machine's
energy, or the job's allocation on a shared node (see :mod:`wattprint.devices.detect`), split with the other
tracked processes on the node (:mod:`wattprint.tracking.ledger`); the tracked process tree's CPU-time share
is reported beside it as ``process_share``.

:class:`Run` keeps the lifecycle and delegates the rest: its record in the store to :mod:`.record`, its figures
(footprint, embodied CO2e, summaries) to :mod:`.figures`, ``progress()`` to :mod:`.progress`, and the signal
handlers and exit statuses to :mod:`.signals`, the end of the sampler and the release of devices and store to
:mod:`.shutdown`, and the choice of device readers to :mod:`.readers`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, SupportsIndex, TypeVar, overload

from ..errors import InputConflictError, WattprintError, WattprintWarning, closest_names, shown
from ..footprint import Assumption, Footprint, Intensity
from ..quantities import Range
from ..storage.export import rates
from . import decorate as calls
from .context import RunContext
from .decorate import wrap_call
from .figures import RunFigures, gpu_models
from .live import J_PER_KWH, LiveFigures
from .phase_figures import phase_footprints, phase_summaries
from .readers import open_readers
from .record import (
    PendingRecord,
    ResumePoint,
    begin_record,
    given_name,
    new_run_id,
    record_meta,
    refuse_early,
    resumed_site_notes,
)
from .sampler import Sampler, Snapshot, note_to_stderr
from .shutdown import end_unsampled, release, stop_sampler
from .signals import ChainedSignals, exit_status, last_uncaught_exception, status_at_exit

if TYPE_CHECKING:  # loaded on first use (a run that never reports progress does not load them)
    from ..storage import SlotPatch
    from .progress import RunProgress
    from .projection import Projection

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_INTERVAL_S = 1.0
# how long stop() waits for the sampler's final reading and write before giving up (s), beyond one interval; the
# final write waits for a store another process holds locked within it, so stop() never takes much longer
STOP_GRACE_S = 30.0
_STATUSES = ("finished", "interrupted", "failed")


class Run:
    """One tracked run: a context manager, a decorator, or explicit ``start()``/``stop()``.

    Settings (``location``, ``pue``, ``intensity``, ``db``, ``interval_s``) follow
    :mod:`wattprint.tracking.config`. ``persist=False`` keeps everything in memory (no store).
    Extra keywords: ``handle_signals`` (default True: flush and mark the run ``interrupted`` on
    SIGINT/SIGTERM, chaining to the previous handlers), ``readers`` (device readers to use instead of
    detecting them), ``state_dir`` (node ledger folder), ``pid`` (whose process tree is attributed),
    ``meta`` (extra JSON stored with the run; not the tracker's own keys, ``record.RESERVED_META_KEYS``), ``notify``
    (callable for one-line device notes; default: stderr once each), ``quiet`` (no notes on stderr); each checked
    when the run is made (:func:`.config.check_run_options`).
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
        from .config import check_run_options, check_setting_types

        if callable(project):  # track(fn, run=...) or Run(fn): the bare @track form takes no other argument
            got = f"the function {project.__qualname__}" if hasattr(project, "__qualname__") else shown(project)
            raise InputConflictError(f"project name must be text, got {got}; to track a function, decorate it "
                                     "with @wattprint.track or @wattprint.track(project=..., ...)")
        self.project = given_name("project name", project) or "default"
        self._given_id = given_name("run id", run)
        self.id = self._given_id or new_run_id(self.project)
        self._args = dict(db=db, interval_s=interval_s, location=location, pue=pue, intensity=intensity,
                          persist=persist, **kw)
        extras = {"handle_signals", "readers", "state_dir", "pid", "meta", "notify", "quiet", "ledger"}
        if unknown := set(kw) - extras:  # a programming error (TypeError, as Python's), with the keyword meant
            valid = [*sorted(extras), "project", "run", "db", "interval_s", "location", "pue", "intensity", "persist"]
            raise TypeError("track() got unexpected keyword(s): " + ", ".join(
                k + "".join(f" (did you mean {c}?)" for c in closest_names(k, valid, n=1)) for k in sorted(unknown)))
        # bad types fail here, as the estimators' do, not at start(): persist="no" is truthy and stored the run
        check_setting_types(location, intensity, db, interval_s, pue)
        if not isinstance(persist, bool):
            raise InputConflictError(f"persist must be True or False, got {shown(persist)}")
        check_run_options(**kw)  # the extra keywords too: state_dir=5 failed after the run's record was written
        self.persist = persist
        self._kw = kw
        self.sampler: Sampler | None = None
        self.store: Any = None
        self.notes: list[str] = []
        self.status = "new"
        self._final: Footprint | None = None
        self._pid: int | None = None  # the process that started the run: a forked child neither measures nor ends it
        self._final_summary: dict[str, Any] | None = None
        self._figures: RunFigures | None = None  # set by start() once the devices are read
        self._signalled: int | None = None
        self._last_exc_at_start: BaseException | None = None
        self._signals = ChainedSignals()
        self._stop_lock = threading.RLock()  # re-entered by a SIGTERM handler during stop()
        self._progress: RunProgress | None = None
        self._progress_lock = threading.Lock()
        self._readers: list[Any] = []
        # the thread that registered it as open in this process (a start that succeeded, until stop()); None: not
        self._registered: int | None = None
        self.interval_s = DEFAULT_INTERVAL_S
        self._pending: PendingRecord | None = None  # the run's record waits for a locked store (see begin_record)
        self._context: RunContext | None = None  # the hardware, settings' sources and place, set by start()
        # how the measured work ended, stored with the final summary (`wattprint run`: exit_code, signal); set before
        # stop()
        self.outcome: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r} project={self.project!r} status={self.status!r}>"

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        """Refused, for pickle and copy.deepcopy alike (a spawn worker, Ray): a run is measured by the process that
        started it, with its sampler thread, devices and store. Each process of a job tracks a run of its own
        (:mod:`wattprint.integrations.distributed`)."""
        raise TypeError(
            f"a wattprint Run ({self.id!r}) cannot be pickled or deep-copied: it is measured by the process that made "
            "it; let each worker process track its own run with wattprint.track() (the node's energy is split among "
            "the tracked processes), and pass run.id where a worker needs to name this one")

    def __copy__(self) -> Run:
        """copy.copy: a second handle on the same run (its sampler, locks and store shared), as it always was; only
        pickling and deep copies are refused."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        return twin

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Run:
        """Open the window: resolve settings, detect devices, open the store, take the first reading."""
        if self.status != "new":
            raise WattprintError(f"run {self.id!r} was already started; use a new track() for another run")
        if self._given_id is None or not self.persist:  # a fixed id can only be stored by one run at a time
            return self._start()
        with calls.starting(self.id):  # another thread's run of this id: refused here, in words that say so
            return self._start()

    def _start(self) -> Run:
        from .attribution import ProcessShare
        from .config import load_config
        from .ledger import Ledger

        a = self._args
        cfg = load_config(a["location"], a["pue"], a["intensity"], a["db"], a["interval_s"])
        self.config = cfg
        self.interval_s = cfg.interval_s or DEFAULT_INTERVAL_S
        intensity, location_notes = cfg.intensity_lookup()  # first: a bad location says where it came from
        pue, pue_assumption = cfg.pue_range()
        assumptions: list[Assumption] = [pue_assumption, intensity.assumption(), *location_notes]

        if self.persist:  # first, so a bad store fails before anything else is said or opened
            from ..storage import open_store

            with cfg.naming_source("db"):
                self.store = open_store(cfg.db)
            for note in getattr(self.store, "notes", ()):  # e.g. a store restored from a dump, recognised
                self._note(note)
            if recovered := getattr(self.store, "recovered", None):
                self._note(f"stored {len(recovered)} run(s) an earlier process could not (the store was locked, "
                           f"full, or deleted or replaced under them, when they ended): {', '.join(recovered)}")
            if self._given_id is not None:  # an id taken in another project: its error alone, before device notes
                try:
                    refuse_early(self.store, self.id, self.project)
                except BaseException:
                    release([], self.store)
                    raise

        pid = int(self._kw.get("pid") or os.getpid())
        alloc, self._readers = open_readers(pid, self._kw.get("readers"), self._note)
        self._context = RunContext(cfg, pue_assumption, alloc, self._readers)
        models = gpu_models(self._readers)
        for r in self._readers:
            assumptions += list(getattr(r, "assumptions", []) or [])

        rec = None
        started_unix = time.time()
        if self.persist:
            meta = record_meta(pid, self.interval_s, pue, intensity.location, self._readers,
                               self._kw.get("meta"), intensity.g_per_kwh.value)
            try:
                rec, self._pending = begin_record(self.store, self.id, self.project, started_unix, meta,
                                                  self.interval_s, self._note)
            except BaseException:  # refused (the id is being written elsewhere) or failed: release what we opened
                release(self._readers, self.store)
                raise
            # a record read while the store was locked is resumed once it is free (begin_run counts it then)
            self.resumed = rec is not None and (self._pending is not None or bool(rec.meta.get("resumed")))
        else:
            self.resumed = False
        resume = ResumePoint(rec)
        self._context.continues(resume.segments)  # a resumed run's hardware names its earlier segments' GPUs too
        assumptions += resumed_site_notes(rec, intensity.location, pue, intensity.g_per_kwh.value)
        assumptions += resume.assumptions()

        ledger = self._kw.get("ledger")
        try:
            if ledger is None:
                ledger, note = Ledger.for_node(f"{pid}-{os.urandom(4).hex()}", self._kw.get("state_dir"))
                if note:
                    self._note(note)
                ledger.note = self._note
            self.sampler = Sampler(
                self._readers, ledger, interval_s=self.interval_s,
                store=self.store if self._pending is None else self._pending, run_id=self.id,
                offset_j=resume.energy_j, offset_s=resume.duration_s, offset_range_j=resume.energy_range_j,
                share=ProcessShare(pid, readers=self._readers),
                summary=self._summary, live=self._live_summary, notify=self._note,
            )
            self._figures = RunFigures(pue, intensity, assumptions, models, alloc, resume, self._readers)
            self.sampler.phases.update(resume.phase_totals())
            self.status = "running"
            self.sampler.start()
        except BaseException as e:  # e.g. Ctrl-C during the baseline reading: end what was begun, then raise
            self._abort_start(e, ledger)
            raise
        # registered only now: a start that failed must not leave the id looking measured in this process
        self._pid = os.getpid()
        self._registered = calls.register_open(self.id)
        if self._kw.get("handle_signals", True):
            self._signals.install(self._on_signal)
        self._last_exc_at_start = last_uncaught_exception()
        atexit.register(self._at_exit)
        return self

    def stop(self, status: str = "finished") -> Footprint:
        """Close the window (final reading, flush, mark the stored run ``status``); returns the footprint.

        Idempotent: later calls return the same footprint. The first status given is the run's: a stop()
        interrupted while it waits (Ctrl-C during a wait for a locked store) raises, with wattprint's signal
        handlers and exit hook already removed; the sampler goes on ending the run with that status in the
        background, and a later stop() (whatever its ``status``) waits for it again and returns the footprint."""
        if not isinstance(status, str) or status not in _STATUSES:  # refused before anything is stopped
            raise InputConflictError(f"status must be one of {', '.join(_STATUSES)}, got {shown(status)}")
        if self._forked():  # a child left the `with` block: the run goes on in its parent, whose sampler this is not
            snap = self.sampler.snapshot if self.sampler is not None else None
            if snap is None:
                raise WattprintError(f"run {self.id!r} is measured by process {self._pid}, not by this one")
            return self._footprint(snap)
        with self._stop_lock:
            if self._final is not None:
                return self._final
            sampler = self.sampler
            if sampler is None:
                raise WattprintError(f"run {self.id!r} was never started")
            status = sampler.status or status  # an earlier, interrupted stop() already gave the sampler its status
            self.status = status
            if self._registered is not None:
                calls.unregister_open(self.id, self._registered)
                self._registered = None
            wait = self._stop_wait_s
            try:
                close_store = stop_sampler(sampler, status, wait, self.store, self._note)
            finally:  # also when the wait is interrupted: the run is ending, not to be ended again at exit
                self.status = sampler.status or status  # what the sampler ends the stored run with
                self._signals.restore(self._on_signal)
                with contextlib.suppress(Exception):
                    atexit.unregister(self._at_exit)
            release(self._readers, self.store, close_store)
            if self._pending is not None and self._pending.renamed:  # its id was taken while the store was locked
                self.id = self._pending.renamed
            snap = sampler.snapshot
            self._final = self._footprint(snap) if snap is not None else self.footprint()
            return self._final

    def __enter__(self) -> Run:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop(self._exit_status(et, ev))

    def _exit_status(self, et: type[BaseException] | None, ev: BaseException | None) -> str:
        """The status a block (or call) that ended with exception ``et`` gives the run (see :mod:`.signals`)."""
        return exit_status(et, ev, self._signalled)

    def _abort_start(self, exc: BaseException, ledger: Any) -> None:
        """End a run whose start failed after the store was opened: release the devices, ledger and store, and
        end the stored run (already written as running) with a status rather than leave it running for ever."""
        status = self._exit_status(type(exc), exc)
        self.status = status
        sampler = self.sampler
        close_store = True
        if sampler is not None and sampler.running:  # its thread started: it ends the stored run itself
            wait = self._stop_wait_s
            with contextlib.suppress(Exception):
                close_store = stop_sampler(sampler, status, wait, self.store, self._note)
        else:
            end_unsampled(self.id, status, ledger, self.store, self._pending is None or self._pending.begun)
        release(self._readers, self.store, close_store)
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

    def _call_scope(self, wrapper: Any) -> AbstractContextManager[None]:
        """One decorated call: a run of its own, or a share of the run of its fixed id (see ``__call__``)."""
        return calls.call_scope(wrapper, self._given_id, lambda run_id: Run(self.project, run_id, **self._args))

    # -- phases and live readings --------------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Energy of the block is recorded as phase ``name`` (stored per occurrence and totalled per name).

        Meant for coarse stages (train, eval, checkpoint): each boundary takes a reading on the sampler thread.
        In a process forked from the one measuring the run (a multiprocessing or DataLoader worker), which has no
        sampler thread, the block runs unrecorded, with a :class:`~wattprint.errors.WattprintWarning`.
        """
        if given_name("phase name", name, optional=False) is None:  # None stored nothing of the run (NOT NULL), quietly
            raise InputConflictError(f"a phase needs a name, e.g. run.phase('train'); got {name!r}")
        s = self._running_sampler()
        if self._forked():  # a warning, not an error: raising would end the worker's work over a label
            warnings.warn(f"phase {name!r} is not recorded: run {self.id!r} is measured by process {self._pid}, "
                          f"not by this one ({os.getpid()}); this process's energy counts in that run, not as a phase",
                          WattprintWarning, stacklevel=3)  # 3: this, contextlib's __enter__, its caller
            yield
            return
        s.mark_phase("enter", name)
        try:
            yield
        finally:
            s.mark_phase("exit", name)

    def phase_footprints(self) -> dict[str, Footprint]:
        """Each phase name's footprint, priced as the run's (:mod:`.phase_figures`): its IT energy per component,
        facility energy, operational, embodied and total CO2e with their ranges, over the occurrences that have
        ended (live while running; final after ``stop()``, which ends the phases still open)."""
        fp = self.footprint()
        return phase_footprints(dict(self.sampler.phases) if self.sampler is not None else {}, fp)

    @property
    def kept_in(self) -> str | None:
        """The file that holds what the store refused at the end (written to it at its next opening), if any."""
        return self.sampler.kept_in if self.sampler is not None else None

    @property
    def unsaved(self) -> bool:
        """True when the run ended but its last samples or final status could not be written to the store."""
        return bool(self.sampler is not None and self.sampler.unsaved)

    @property
    def energy_kwh(self) -> float:
        """Facility energy so far (kWh, IT x PUE), as of the latest sample (at most one interval old).

        In a process forked from the one measuring the run (a multiprocessing or DataLoader worker) it stays as it
        was at the fork, as does :meth:`footprint`: the sampler thread is the parent's, whose run goes on counting
        the energy, the child's included."""
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

    def progress(self, step: float, total_steps: float) -> Projection:
        """Project the final energy and CO2e from ``step`` of ``total_steps`` (method in
        :mod:`wattprint.tracking.projection`); steps may be fractional (epochs: ``progress(2.5, 3)``).

        Until the first sampling interval has closed no power is measured: the projection says so (from the
        energy so far, unbounded above). A step past ``total_steps`` counts as done (a warning, once per run: the
        two are likely counted in different units, steps and epochs). Called in training loops (at every step: it
        is cheap between samples, and safe from several threads), it does not raise over its arguments: a step or
        total that is not a number (text such as "5" included, as the estimators refuse it) or too large for a
        float, a step that is negative or not finite, or a total below 1 or from 2**53 up, gives a
        :class:`~wattprint.errors.WattprintWarning` (once per kind of mistake per run: a loop repeats it at every
        step) and a projection that says why (with the step and total given), and is not used: the run's summary
        keeps the last projection made from good arguments. Until a window of steps has closed since the first
        call there is no central value (``Projection.central`` is False), only a range.

        The summary carries the latest projection while the run is open (stored with each interval's figures, with
        the step and run time it was made at); read back (:meth:`summary`, ``wattprint runs show``), a figure of it
        below the run's totals since is raised to them. A run that ends ``finished`` drops it: its
        actual totals are the answer, and a projection made at, say, step 8 of 40 before an early stop would
        overstate them; its ``projection`` then reads null, as that of a run with no progress() call. An
        ``interrupted`` or ``failed`` run keeps its last projection (what the whole training was heading for, e.g.
        for a resumption)."""
        if self.sampler is None or self.status == "new":
            raise WattprintError(f"run {self.id!r} has not started")
        with self._progress_lock:  # one RunProgress even when threads make the first call at once
            if self._progress is None:  # imported on first use: most runs never call progress()
                from .progress import RunProgress

                self._progress = RunProgress(self.interval_s)
        snap = self._snapshot()
        assert snap is not None
        return self._progress.project(step, total_steps, snap, self._final is not None, self.pue,
                                      self.intensity.g_per_kwh, self._measured.embodied_basis)

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

    # -- figures (see .figures) ------------------------------------------------------------------
    @property
    def pue(self) -> Range:
        """The PUE range every figure of the run uses, from the settings at ``start()`` (read-only: one value
        for the footprint, the live energy, the stored summaries and the projections alike)."""
        return self._measured.pue

    @property
    def intensity(self) -> Intensity:
        """The grid intensity every figure of the run uses, from the settings at ``start()`` (read-only)."""
        return self._measured.intensity

    @property
    def _measured(self) -> RunFigures:
        if self._figures is None:
            raise WattprintError(f"run {self.id!r} has not started")
        return self._figures

    @property
    def _live(self) -> LiveFigures | None:
        """Factors of the last full summary (None before the first)."""
        return self._figures.live if self._figures is not None else None

    def _footprint(self, snap: Snapshot) -> Footprint:
        fp = self._measured.footprint(snap)
        if self._context is not None:  # what it ran on, for the model card's hardware_used
            fp.details["hardware"] = self._context.hardware()
        return fp

    def _charged_ratio(self, snap: Snapshot, comp: str) -> float:
        return self._measured.charged_ratio(snap, comp)

    def _live_summary(self, snap: Snapshot) -> dict[str, Any] | SlotPatch:
        return self._measured.live_summary(snap, self._last_projection())

    def _last_projection(self) -> Projection | None:
        """The latest projection made from good arguments, stored with the run's figures while it is open (with
        each interval's figures, not only the full summary); a run that ends finished drops it (see progress())."""
        last = self._progress.last if self._progress is not None else None
        return last if self.status != "finished" else None

    def _summary(self, snap: Snapshot) -> dict[str, Any]:
        """What the store keeps: the measured figures + notes, phases, run identity."""
        fp = self._measured.footprint(snap)  # once: the run's figures and its phases' are priced from it
        d = self._measured.summary(snap, fp)
        d["device_notes"] = list(self.notes)
        d["phases"] = phase_summaries(dict(self.sampler.phases) if self.sampler else {}, fp)
        d["run_id"] = self.id
        d["project"] = self.project
        d["interval_s"] = self.interval_s
        d["basis"] = dict(snap.basis)
        if self._context is not None:
            d.update(self._context.summary_fields())
        d.update(rates(d, snap.elapsed_s))
        d.update(self.outcome)
        last = self._last_projection()
        if last is not None:
            d["projection"] = last.to_dict()
        return d

    def summary(self) -> dict[str, Any]:
        """The summary dict as stored (live while running), read as every reader of the stored run reads it
        (:func:`.record.stored_run_dict`): its ``projection`` with every field, null where unknown or unbounded, and
        no figure below the run's totals, which go on growing after the progress() call that made it
        (:func:`.projection.stored_fields`); null where there is none (a finished run, or no progress() call)."""
        snap = self._snapshot()
        if snap is None:
            raise WattprintError(f"run {self.id!r} has not started")
        d = self._summary(snap)  # what is stored keeps the projection as it was made: readers raise it
        if "projection" in d:
            from .projection import stored_fields

            d["projection"] = stored_fields(d["projection"], d)
        else:
            d["projection"] = None
        return d

    # -- signals (see .signals) ------------------------------------------------------------------
    @property
    def _stop_wait_s(self) -> float:
        """How long stop() waits for the final reading and write: an interval (30 s at most, not an hour's wait for
        --interval 3600) plus STOP_GRACE_S."""
        return min(self.interval_s, STOP_GRACE_S) + STOP_GRACE_S

    def _forked(self) -> bool:
        """This is a child forked from the process that measures the run (a multiprocessing or DataLoader worker):
        it inherited the run's signal handlers and exit hook, but not its sampler thread."""
        return self._pid is not None and os.getpid() != self._pid

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Flush and mark ``interrupted``, then behave as the previous handler would have (in a forked child:
        only the latter)."""
        if self._forked():
            self._signals.chain(signum, frame, None)
            return
        running = self._final is None
        if running:
            self._signalled = signum
        self._signals.chain(signum, frame, (lambda: self.stop("interrupted")) if running else None)

    def _at_exit(self) -> None:
        """Interpreter exit with the run still open (uncaught KeyboardInterrupt, a forgotten stop())."""
        if self._final is None and self.sampler is not None and not self._forked():
            status = status_at_exit(self._signalled, last_uncaught_exception(), self._last_exc_at_start)
            with contextlib.suppress(Exception):
                self.stop(status)


@overload
def track(project: F, /) -> F: ...


@overload
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
) -> Run: ...


def track(
    project: Any = "default",
    run: str | None = None,
    *,
    db: str | None = None,
    interval_s: float | None = None,
    location: str | None = None,
    pue: float | str | None = None,
    intensity: float | None = None,
    persist: bool = True,
    **kw: Any,
) -> Any:
    """A :class:`Run` for ``project`` (not started): use it as ``with``, as a decorator, or ``start()``/``stop()``.
    ``@track`` without parentheses is ``@track()``: project "default", a new run id for each call.

    ``run`` names the run (an existing id resumes it: a preempted job continues the same run; None: a new
    generated id); ``interval_s`` is the sampling interval (default 1 s); ``location`` (e.g. "FRA", "US-CA",
    "aws:us-east-1"), ``pue`` (number or preset name) and ``intensity`` (gCO2e/kWh, >= 0) override the config
    (:mod:`wattprint.tracking.config`); ``db`` names the store (``sqlite:///path.db`` or a path;
    default ``$WATTPRINT_DB``, the config file's ``db``, or the user data folder); ``persist=False`` stores nothing.

    Checked here, as the estimators check theirs (:class:`~wattprint.errors.InputConflictError`): ``project`` and
    ``run`` are non-empty text; ``interval_s`` and ``intensity`` real numbers (int, float, numpy scalars; not text,
    not a bool); ``pue`` a real number or a preset name; ``db`` a non-empty path or URL; ``persist`` True or False;
    None leaves a setting to the config. The extra keywords (see :class:`Run`) too: ``handle_signals`` and ``quiet``
    True or False, ``notify`` a callable, ``readers`` a list of readers, ``pid`` a running process's id,
    ``state_dir`` a path, ``meta`` a mapping without the tracker's own keys.
    """
    given = (run, db, interval_s, location, pue, intensity)
    if callable(project) and all(v is None for v in given) and persist is True and not kw:
        return Run()(project)  # bare @track: the function is the decorated one, not a project name
    return Run(project, run, db=db, interval_s=interval_s, location=location, pue=pue, intensity=intensity,
               persist=persist, **kw)
