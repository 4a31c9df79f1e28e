"""What the framework callbacks share: one tracked training run, its progress, phases, metrics and model card.

Framework-free; the Transformers and Lightning callbacks translate their hooks into these calls.
"""

from __future__ import annotations

import atexit
import math
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputConflictError, WattprintError, WattprintWarning, echo, shown
from .distributed import JobRound, announce, job_round, shared_name, sum_over_processes
from .modelcard import (
    GRAMS_PER_KG,
    card_body,
    check_training_type,
    co2_eq_emissions,
    significant,
    write_model_card,
)
from .modelcard import TRAINING_TYPES as TRAINING_TYPES  # the Hub's values, once kept here
from .watch import CallWatch

if TYPE_CHECKING:
    from types import FrameType

    from ..footprint import Footprint
    from ..tracking import Projection, Run
    from ..tracking.config import TrackConfig

EVAL_PHASE = "eval"
DEFAULT_PREFIX = "wattprint/"
# how often a watched training call is checked for having left without its end hook (s; the run's sampling interval
# when shorter): the most a failed training's run goes on after the failure
WATCH_EVERY_S = 1.0


def _warn(message: str) -> None:
    warnings.warn(f"wattprint: {message}", WattprintWarning, stacklevel=3)


# run id -> the session whose own run of that id is open in this process (see TrainingSession.begin)
_OPEN_SESSIONS: weakref.WeakValueDictionary[str, TrainingSession] = weakref.WeakValueDictionary()


def _end_left_open(run_id: str) -> None:
    """End an open run of this id that a training in this thread left behind (see ``begin``).

    A training in this thread cannot still be going on when another begins in it; one in another thread may be,
    and is left alone (the new training then measures in memory, as for any run id measured elsewhere)."""
    other = _OPEN_SESSIONS.get(run_id)
    if other is not None and other.active and other.owns_run and other._thread == threading.get_ident():
        other._end_left_behind("when the next training began")


class TrainingSession:
    """A tracked training run driven by a framework's hooks.

    Either starts its own run with :func:`wattprint.track` (``project``, ``run_name`` and the tracker
    options) or attaches to an existing :class:`~wattprint.tracking.Run` (``run=``), whose start and stop
    stay with its owner.
    """

    def __init__(
        self,
        *,
        project: str = "default",
        run_name: str | None = None,
        run: Run | None = None,
        db: str | None = None,
        interval_s: float | None = None,
        location: str | None = None,
        pue: float | str | None = None,
        intensity: float | None = None,
        training_type: str | None = None,
        geographical_location: str | None = None,
        hardware_used: str | None = None,
        model_card: bool = True,
        prefix: str = DEFAULT_PREFIX,
        **track_kwargs: Any,
    ) -> None:
        self.project = project
        self.run_name = run_name
        self.run: Run | None = run
        self.owns_run = run is None
        self.track_kwargs: dict[str, Any] = dict(
            db=db, interval_s=interval_s, location=location, pue=pue, intensity=intensity, **track_kwargs
        )
        self.training_type = training_type
        self.geographical_location = geographical_location
        self.hardware_used = hardware_used
        self.model_card = model_card
        self.prefix = prefix
        self.projection: Projection | None = None
        self.footprint: Footprint | None = None  # final, once finished
        self._phase: AbstractContextManager[None] | None = None
        self._started = False
        self._created = False
        self.unmeasured = False  # the last begin() could not start the run: this training goes on unmeasured
        self._thread: int | None = None  # the thread that began the open run
        self.world_size = 1
        self.job_operational_co2e_kg: float | None = None  # summed over all processes of the job
        self.job_totals: dict[str, float] | None = None  # the final metrics summed over the job (rank zero)
        self._job: JobRound | None = None  # this process's part in the job's totals (see .distributed)
        self._lock = threading.RLock()  # a watch (see watch()) may end the run from its own thread
        self._watch: CallWatch | None = None
        self._watched_frame: FrameType | None = None  # the watch's training call, while watched
        self._last_event: tuple[str, float] | None = None  # the framework's last event: name, time.monotonic()
        self._check_settings()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (e.g. a Lightning ``ddp_spawn`` callback sent to its processes) without the lock and the watch,
        which belong to this process."""
        state = dict(self.__dict__)
        del state["_lock"]
        state["_watch"] = state["_watched_frame"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def _check_settings(self) -> None:
        """Bad settings fail here, where the callback is made, not minutes later when training starts."""
        check_training_type(self.training_type)
        self._check_types()
        if not self.owns_run:
            return
        from ..tracking import track

        k = self.track_kwargs
        try:
            track(self.project, self.run_name, **k)  # unknown keywords, a bad project or run name
        except TypeError as e:
            raise TypeError(str(e).replace("track()", "WattprintCallback()")) from None
        cfg = self._resolve_settings(k)
        if cfg.db is not None and k.get("persist") is not False:
            from ..storage.url import db_path

            with cfg.naming_source("db"):  # as the run's start() refuses it, which would measure in memory instead
                db_path(cfg.db)

    def _check_types(self) -> None:
        """The callback's own arguments are of the right type: one that is not would fail the training (a name given
        as ``run``), or be written as given (``prefix=None`` logs ``Noneenergy_kwh``, a list as a card field)."""
        from ..tracking import Run

        if self.run is not None and not isinstance(self.run, Run):
            hint = f": to name the run, give run_name={echo(self.run)}" if isinstance(self.run, str) else ""
            raise InputConflictError(f"run must be a wattprint Run (from wattprint.track()), got {shown(self.run)}"
                                     + hint)
        if not isinstance(self.prefix, str):
            raise InputConflictError(f"prefix (of the logged keys) must be text, e.g. {DEFAULT_PREFIX!r} or '', got "
                                     f"{shown(self.prefix)}")
        for what, value in (("geographical_location", self.geographical_location),
                            ("hardware_used", self.hardware_used)):
            if value is not None and not isinstance(value, str):
                raise InputConflictError(f"{what} (a model-card field) must be text, got {shown(value)}")
        if not isinstance(self.model_card, bool):  # model_card="no" is truthy
            raise InputConflictError(f"model_card must be True or False, got {shown(self.model_card)}")

    @staticmethod
    def _resolve_settings(k: dict[str, Any]) -> TrackConfig:
        """Resolve the tracker's settings ``k`` as the run's start will (arguments, environment, config file): an
        unknown PUE preset or location, or a bad number, raises here."""
        from ..tracking.config import load_config

        cfg = load_config(k.get("location"), k.get("pue"), k.get("intensity"), k.get("db"), k.get("interval_s"))
        cfg.pue_range()
        cfg.intensity_lookup()
        return cfg

    # -- lifecycle ---------------------------------------------------------------------------------
    def begin(self, rank: int = 0, world_size: int = 1, run_id: str | None = None) -> Run | None:
        """Start the run (or take the attached one). Several ranks get one run each: ``<name>-rank<N>``, where the
        name is ``run_name``, else one the job's processes agree on (see :meth:`_run_id`); their stored ``meta``
        has ``job``: ``id``, ``rank``, ``world_size``. ``run_id`` continues that stored run (a training resumed
        from a checkpoint) when no name was given.

        An open run of the same id that a training in this thread left behind (it raised and was caught: the
        Transformers Trainer has no failure hook), this session's or another callback's, is ended first (see
        :meth:`_end_left_behind`), so that the new training continues the stored run instead of being refused as
        measured already.

        Never raises over the footprint: when the run cannot be started (other than for its store, which falls back
        to measuring in memory), a :class:`WattprintWarning` says why and the training goes on unmeasured
        (:attr:`unmeasured`; the hooks then do nothing until the next ``begin``)."""
        with self._lock:  # a watch may be ending the last training's run now; none acts until the next watch()
            if self.active:  # the last training raised and was caught (the Trainer has no failure hook): end it
                self._end_left_behind("when the next training began")
        ended = self.footprint is not None or self.unmeasured  # the last training's run is over (or never began)
        self._started = False  # not active until this training's run is under way (_end_left_open skips it)
        self.unmeasured = False
        self.world_size = int(world_size)
        self.footprint = None
        self.projection = None
        self.job_operational_co2e_kg = None
        self.job_totals = None
        self._job = None
        self._last_event = None
        # a round of the job's store per training, on every process that trains with a callback (see .distributed)
        job = job_round() if self.world_size > 1 else None
        if self.run is None or (self._created and ended):
            from ..tracking import track

            name, meta = self._run_id(rank, run_id, job)
            if name is not None:
                _end_left_open(name)
            try:
                self.run = track(self.project, name, **(self.track_kwargs if meta is None
                                                        else {**self.track_kwargs, "meta": meta}))
            except Exception as e:  # checked when the callback was made: only a stored id read back can get here
                self._unmeasured(e)
                return self.run
            self._created = True
        status = getattr(self.run, "status", None)
        if status == "new":  # ours, or handed over unstarted: we start and stop it
            self.owns_run = True
            if not self._start_run():
                return self.run
            atexit.register(self._at_exit)  # after the run's own hook, so it runs first
        elif status not in ("running", None):
            _warn(f"the run handed to the callback ({self.run.id}) has ended ({status}): this training is not "
                  "measured; hand over a new track(), or let the callback make its own run")
            self.unmeasured = True  # as said: its figures are the earlier training's, not to be logged or carded
            return self.run
        self._started = True
        if job is not None:  # announced now: rank zero waits at the end only for processes that took part
            self._job = announce(job)
        return self.run

    def _run_id(self, rank: int, run_id: str | None, job: JobRound | None) -> tuple[str | None, dict[str, Any] | None]:
        """The id of the run to make (None: a new generated one) and, in a job of several processes, the ``meta``
        to store with it (the user's ``meta`` on top).

        One run id per process (the same id would resume, not add): ``<name>-rank<N>``. The name is ``run_name``;
        without it, the id of a resumed run, else a generated one that the first process to begin sets in the job's
        store for all (:func:`.distributed.shared_name`: no process waits for another), so that the job's runs
        share it; a process that cannot reach the store names its runs alone (``job.id`` null)."""
        if self.world_size <= 1:
            return self.run_name or run_id, None
        from ..tracking.record import new_run_id

        if self.run_name is not None:
            job_id: str | None = self.run_name
            name = f"{self.run_name}-rank{rank}"
        elif run_id is not None:  # a resumed run keeps its id, and the job it was begun in
            job_id, name = run_id.removesuffix(f"-rank{rank}"), run_id
        else:
            job_id = shared_name(job, new_run_id(self.project)) if job is not None else None
            name = f"{job_id or new_run_id(self.project)}-rank{rank}"
        user = self.track_kwargs.get("meta")
        if user is not None and not isinstance(user, Mapping):
            return name, None  # left for track() to refuse, as with one process
        return name, {"job": {"id": job_id, "rank": int(rank), "world_size": self.world_size}, **(user or {})}

    @property
    def makes_own_run(self) -> bool:
        """Whether the session makes its runs itself (no ``run=`` handed in)."""
        return self.run is None or self._created

    @property
    def active(self) -> bool:
        return self.run is not None and self._started and self.footprint is None and not self.unmeasured

    def _unmeasured(self, e: BaseException) -> None:
        self.unmeasured = True
        self._started = False
        _warn(f"the footprint cannot be measured ({type(e).__name__}: {e}); the training goes on unmeasured: "
              "nothing is logged, stored or written to the model card for it")

    def _start_run(self) -> bool:
        """Start the run; whether it started. Nothing on the footprint side may stop the training: a store that
        cannot be used -> measure in memory instead; anything else (a setting that went bad since the callback
        was made, a device that cannot be read) -> a warning, and the training goes on unmeasured."""
        from ..tracking import track

        assert self.run is not None
        try:
            # the settings first, so that only errors of the store itself lead to measuring in memory
            # a run handed over unstarted has settings of its own
            self._resolve_settings(getattr(self.run, "_args", None) or self.track_kwargs)
        except Exception as e:
            self._unmeasured(e)
            return False
        try:
            self.run.start()
        except WattprintError as e:  # the store: unusable, or the run id is being written by another process
            _warn(f"the run store cannot be used ({e}); measuring in memory only: the footprint is still logged "
                  "and written to the model card, but not stored")
            try:
                self.run = track(self.project, self.run.id, **{**self.track_kwargs, "persist": False})
                self.run.start()
            except Exception as e2:
                self._unmeasured(e2)
                return False
        except Exception as e:
            self._unmeasured(e)
            return False
        _OPEN_SESSIONS[self.run.id] = self
        self._thread = threading.get_ident()
        return True

    def _end_unfinished(self, status: str, note: str | None = None) -> None:
        """End a run whose training never reached its end hook; ``note`` (how its end was found) is stored with the
        run when this ends it (a run ended already, e.g. by Ctrl-C, keeps its status)."""
        with self._lock:
            if not self.active or self.run is None:
                return
            self._stop_watch()
            self.exit_phase()
            if not self.owns_run:
                self.footprint = self.run.footprint()
                return
            if note is not None and self.run.status == "running":
                self.run._note(note)
            self.footprint = self.run.stop(status)

    def _end_left_behind(self, when: str) -> None:
        """End the run of a training that never reached its end hook, found ``when`` (a phrase: "when the next
        training began", "at exit"): as :meth:`_end_left` where the watched training call (see :meth:`watch`) has
        left, as only an exception makes it leave without that hook; else ``interrupted``. Its note says how the end
        was found, and so what the figures cover."""
        with self._lock:
            if self._watch is not None and self._watch.left():
                self._end_left(f"found {when}")
            else:
                self._end_unfinished("interrupted", f"the training never reached its end hook: the run was ended "
                                     f"{when}, so its figures include the time until then" + self._since_last_event())

    def _at_exit(self) -> None:
        """Interpreter exit while a training is still open: it did not complete."""
        from ..tracking.run import last_uncaught_exception

        if self.active and self.owns_run:
            exc = last_uncaught_exception()
            if exc is None:
                self._end_left_behind("at exit")
            else:
                self._end_unfinished("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")

    # -- a training call that leaves without its end hook (the Transformers Trainer has no failure hook) ------
    def watch(self, frame: FrameType) -> None:
        """Watch the framework's training call (``frame``, under way on this thread, where ``begin()`` was called):
        when it leaves without :meth:`finish` (only an exception makes it), the run is ended (:meth:`_end_left`)
        within :data:`WATCH_EVERY_S` (the sampling interval when shorter), from a daemon thread, with a note saying
        so, instead of going on until the next training or the exit (in a notebook, possibly hours of idle time)."""
        with self._lock:
            self._stop_watch()
            if not self.active or not self.owns_run or self.run is None:
                return
            every = min(WATCH_EVERY_S, float(getattr(self.run, "interval_s", WATCH_EVERY_S)))
            self._watch = CallWatch(frame, every, self._on_left).start()
            self._watched_frame = frame

    def event(self, name: str) -> None:
        """The framework's event ``name`` happened now (kept for the note of a training that raised: see
        :meth:`watch`)."""
        self._last_event = (name, time.monotonic())

    def _on_left(self, watch: CallWatch) -> None:
        with self._lock:
            if watch is self._watch and self.active:
                self._end_left(f"found within {watch.every_s:.3g} s by a check")

    def _end_left(self, how: str) -> None:
        """End the run of a watched training call that has left without its end hook: it raised. ``interrupted``
        where the run's signal handler saw SIGINT/SIGTERM during it (a handler that raises KeyboardInterrupt does
        not end the run itself) or the call left with a KeyboardInterrupt, as ``track()`` ends a block that raised
        one, else ``failed``; ``how``: how the call was found gone, for the note."""
        signalled = getattr(self.run, "_signalled", None)
        keyboard = isinstance(self._exception_that_left(), KeyboardInterrupt)
        what = (f"was interrupted (signal {signalled})" if signalled else
                "was interrupted (KeyboardInterrupt)" if keyboard else "raised")
        self._end_unfinished("interrupted" if signalled or keyboard else "failed",
                             f"the training {what}: its call left without its end hook (the Trainer has no failure "
                             f"hook), {how}, and the run was ended there" + self._since_last_event())

    def _exception_that_left(self) -> BaseException | None:
        """The exception the watched training call left with, where it can still be found from any thread: being
        handled on the training's thread (the script's ``except`` around ``train()``, still running), or reported
        uncaught (``sys.last_exc``: the interpreter's, a notebook's). None once it is gone: the Trainer has no
        failure hook to hand it over, and a handler that has finished leaves no trace of it."""
        frame = self._watched_frame
        if frame is None:
            return None
        from ..tracking.signals import last_uncaught_exception

        found: list[BaseException] = []
        current_exceptions = getattr(sys, "_current_exceptions", None)
        if current_exceptions is not None and self._thread is not None:
            handled = current_exceptions().get(self._thread)
            if isinstance(handled, tuple):  # Python < 3.12: (type, value, traceback)
                handled = handled[1]
            if isinstance(handled, BaseException):
                found.append(handled)
        if (last := last_uncaught_exception()) is not None:
            found.append(last)
        for exc in found:  # the one whose way out passed through the training call (not an earlier one's)
            tb = exc.__traceback__
            while tb is not None:
                if tb.tb_frame is frame:
                    return exc
                tb = tb.tb_next
        return None

    def _since_last_event(self) -> str:
        if self._last_event is None:
            return ""
        name, t = self._last_event
        return f", {time.monotonic() - t:.3g} s after the training's last event ({name})"

    def _stop_watch(self) -> None:
        watch, self._watch = self._watch, None
        self._watched_frame = None
        if watch is not None:
            watch.stop()

    def finish(self) -> Footprint | None:
        """Close any open phase; stop the run we own (its final footprint) or read the attached one's."""
        with self._lock:
            if not self.active or self.run is None:
                return self.footprint
            self._stop_watch()
            self.exit_phase()
            self.footprint = self.run.stop() if self.owns_run else self.run.footprint()
        if getattr(self.run, "unsaved", False):
            _warn(f"run {self.run.id} could not be written to the store at the end (see the notes above); its "
                  "figures are in the logs and the model card only")
        return self.footprint

    def sum_over_processes(self) -> float | None:
        """The final totals summed over the job's processes (on rank zero; see :mod:`.distributed`, which waits for
        none but rank zero): its operational CO2e (kg) for the model card, and :attr:`job_totals` for the final
        log. Processes that did not take part (a callback attached on rank zero only) are said, not waited for."""
        if self.footprint is None:
            return None
        fp = self.footprint
        keys = ("energy_kwh", "it_energy_kwh", "co2e_kg", "operational_co2e_kg")
        own = [fp.energy_kwh.value, fp.it_energy_kwh.value, fp.total_co2e_kg.value, fp.operational_co2e_kg.value]
        job = self._job if self._job is not None else JobRound(None, 0, 1)
        summed = sum_over_processes(job, own)
        self.job_operational_co2e_kg = summed.values[3]
        if job.rank == 0 and summed.world_size > 1:
            self.job_totals = {f"{self.prefix}{k}": v for k, v in zip(keys, summed.values, strict=True)
                               if math.isfinite(v)}
            if summed.processes < summed.world_size:
                n, w = summed.processes, summed.world_size
                _warn(f"the footprint covers {n} of the job's {w} processes, those that reported theirs (the callback "
                      "must be attached on every process; or a process ended before its run did), but it is not "
                      f"{n}/{w} of the job: each tracked process is charged the devices it reads (here "
                      f"{_devices_read(fp)}), shared only with the other tracked processes on its node, so the "
                      "untracked processes' use of those devices is in it; left out are the devices only the others "
                      "read (their own GPUs under CUDA_VISIBLE_DEVICES, other nodes)")
        return self.job_operational_co2e_kg

    def abort(self, exc: BaseException) -> None:
        """Training raised: end the run we own as the tracker ends a ``with`` block that raised."""
        with self._lock:
            if not self.active or self.run is None:
                return
            self._stop_watch()
            self.exit_phase()
            if self.owns_run:
                self.run.__exit__(type(exc), exc, exc.__traceback__)
            self.footprint = self.run.footprint()

    # -- during training ---------------------------------------------------------------------------
    def progress(self, step: int, total_steps: int | float | None) -> Projection | None:
        """Feed progress to the run's projection; ignored when the total is unknown (0, None, inf). A step past the
        framework's total (a second fit() on a Trainer whose step count goes on) counts as done without the warning
        run.progress() gives a user's loop for it (steps against epochs): the framework's counts, not a mix-up."""
        if not self.active or self.run is None or not total_steps or not math.isfinite(total_steps):
            return self.projection
        self.projection = self.run.progress(min(int(step), int(total_steps)), int(total_steps))
        return self.projection

    def enter_phase(self, name: str = EVAL_PHASE) -> None:
        with self._lock:  # not while a watch ends the run
            if not self.active or self.run is None or self._phase is not None or self.run.status != "running":
                return
            self._phase = self.run.phase(name)
            self._phase.__enter__()

    def exit_phase(self) -> None:
        with self._lock:
            phase, self._phase = self._phase, None
            if phase is not None:
                phase.__exit__(None, None, None)

    @property
    def in_phase(self) -> bool:
        return self._phase is not None

    # -- reporting ---------------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        """Totals so far (final ones once finished), keyed for loggers.

        ``energy_kwh`` facility energy (IT x PUE), ``it_energy_kwh``, ``co2e_kg`` total CO2e (operational +
        embodied, as the projection), ``operational_co2e_kg`` (location-based; the model card's figure in
        kg), and while running ``projected_energy_kwh`` / ``projected_co2e_kg`` (each with ``_low``/``_high``) once
        there is a central projection: one made before the first sampling interval has closed has no energy yet (its
        "projected" 0 kWh would plot as a forecast) and an unbounded upper end, and one made before a window of
        steps has closed since the first progress call cannot tell start-up from per-step work (no central value),
        so they are left out. A projected figure is never below the total beside it (the totals go on growing
        after the progress() call that made it, say through an evaluation after the last step): it is raised to it,
        bound by bound, as every reader of the run raises it (:func:`~wattprint.tracking.projection.stored_fields`).
        Values that are not finite are left out too: loggers and the Trainer's JSON state
        take numbers only. In a job of several processes they are this process's, except the final ones on rank
        zero: the job's, summed.
        """
        if self.run is None or not self._started or self.unmeasured:
            return {}
        if self.footprint is not None and self.job_totals is not None:  # rank zero, at the end: the whole job's
            return dict(self.job_totals)
        fp = self.footprint if self.footprint is not None else self.run.footprint()
        p = self.prefix
        out = {
            f"{p}energy_kwh": fp.energy_kwh.value,
            f"{p}it_energy_kwh": fp.it_energy_kwh.value,
            f"{p}co2e_kg": fp.total_co2e_kg.value,
            f"{p}operational_co2e_kg": fp.operational_co2e_kg.value,
        }
        if self.projection is not None and self.footprint is None and _projects(self.projection):
            from ..tracking.projection import FIGURES, stored_fields

            totals = {**fp.energy_kwh.as_fields("energy_kwh"), **fp.total_co2e_kg.as_fields("total_co2e_kg")}
            projected = stored_fields(self.projection.to_dict(), totals)
            for key in FIGURES:
                if isinstance(value := projected[key], int | float):
                    out[f"{p}{key}"] = value
        return {k: v for k, v in out.items() if math.isfinite(v)}

    def card_block(self, training_type: str | None = None, hardware_used: str | None = None) -> dict[str, Any] | None:
        """The ``co2_eq_emissions`` block for the final footprint: fields given to the callback are written as given;
        ``training_type`` and ``hardware_used`` here are the framework's guesses, which fill only a field the card
        lacks (a value the user wrote in the card stays; see :func:`~.modelcard.co2_eq_emissions`).

        ``emissions`` covers the whole job: the sum over its processes when :meth:`sum_over_processes` ran.
        """
        if self.footprint is None:
            return None
        block = co2_eq_emissions(
            self.footprint,
            training_type=self.training_type,
            geographical_location=self.geographical_location,
            hardware_used=self.hardware_used,
            guesses={k: v for k, v in (("training_type", training_type), ("hardware_used", hardware_used)) if v},
        )
        if self.job_operational_co2e_kg is not None:
            block["emissions"] = significant(self.job_operational_co2e_kg * GRAMS_PER_KG)
        return block

    def card_text(self) -> str | None:
        """The text of a new model card (see :func:`~.modelcard.card_body`): the job's figures on rank zero of a job
        of several processes, else this process's."""
        if self.footprint is None:
            return None
        job = {k.removeprefix(self.prefix): v for k, v in (self.job_totals or {}).items()}
        if not {"energy_kwh", "co2e_kg", "operational_co2e_kg"} <= job.keys():
            return card_body(self.footprint)
        return card_body(self.footprint, emissions_g=job["operational_co2e_kg"] * GRAMS_PER_KG,
                         energy_kwh=job["energy_kwh"], embodied_kg=job["co2e_kg"] - job["operational_co2e_kg"],
                         processes=self.world_size)

    def write_card(
        self, output_dir: str | Path | None, training_type: str | None = None, hardware_used: str | None = None,
        *, at_end: bool = False,
    ) -> Path | None:
        """Write the block into the model card at ``output_dir`` (once finished and a path is given): a folder
        (``<output_dir>/README.md``), or a README path as :func:`~.modelcard.write_model_card` takes it (a ``.md``
        path that is no folder).

        ``at_end``: called by the end-of-training hook, which writes only if ``model_card`` is on, and where a
        card that cannot be written must not fail the training that succeeded: a :class:`WattprintWarning` says
        why instead. Called otherwise (the callback's ``write_model_card()``), it writes whatever ``model_card``
        says: that setting switches off the automatic write only.
        """
        try:
            block = self.card_block(training_type, hardware_used)
            if (at_end and not self.model_card) or block is None or not output_dir:
                return None
            target = Path(output_dir)
            # an existing folder holds the card, whatever its name (a Trainer's output_dir "run.md"); otherwise
            # write_model_card tells a README path from a folder to make
            return write_model_card(target / "README.md" if target.is_dir() else target, block, self.card_text())
        except (OSError, WattprintError) as e:
            if not at_end:
                raise
            _warn(f"model card not written to {output_dir} ({e}); the footprint is in the logs and the run store")
            return None


def _devices_read(fp: Footprint) -> str:
    """The devices a process's footprint charges it, in words ("2 x NVIDIA A100-SXM4-80GB, the node's CPU and
    RAM")."""
    gpus = (fp.details.get("hardware") or {}).get("gpus") or []
    parts = [f"{g.get('count')} x {g.get('name')}" for g in gpus if isinstance(g, dict)]
    host = [what for comp, what in (("cpu", "CPU"), ("ram", "RAM")) if comp in fp.energy_by_component_kwh]
    if host:
        parts.append(f"the node's {' and '.join(host)}")
    return ", ".join(parts) or "none"


def _projects(projection: Projection) -> bool:
    """Whether a projection has a central value made from measured energy (not one that only says there is nothing
    to project from yet: its energy is the energy so far, often 0, and unbounded above; nor one from a single
    observation, whose range is all it has)."""
    energy = projection.energy_kwh
    return projection.central and energy.value > 0 and math.isfinite(energy.high)
