"""What the framework callbacks share: one tracked training run, its progress, phases, metrics and model card.

Framework-free; the Transformers and Lightning callbacks translate their hooks into these calls.
"""

from __future__ import annotations

import atexit
import math
import threading
import warnings
import weakref
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import WattprintError, WattprintWarning
from .distributed import JobRound, join_job, sum_over_processes
from .modelcard import GRAMS_PER_KG, card_body, co2_eq_emissions, significant, write_model_card

if TYPE_CHECKING:
    from ..footprint import Footprint
    from ..tracking import Projection, Run

EVAL_PHASE = "eval"
DEFAULT_PREFIX = "wattprint/"
TRAINING_TYPES = ("pre-training", "fine-tuning")  # the Hub's values (huggingface.co/docs/hub/model-cards-co2)


def _warn(message: str) -> None:
    warnings.warn(f"wattprint: {message}", WattprintWarning, stacklevel=3)


# run id -> the session whose own run of that id is open in this process (see TrainingSession.begin)
_OPEN_SESSIONS: weakref.WeakValueDictionary[str, TrainingSession] = weakref.WeakValueDictionary()


def _end_left_open(run_id: str) -> None:
    """End, as ``interrupted``, an open run of this id that a training in this thread left behind (see ``begin``).

    A training in this thread cannot still be going on when another begins in it; one in another thread may be,
    and is left alone (the new training then measures in memory, as for any run id measured elsewhere)."""
    other = _OPEN_SESSIONS.get(run_id)
    if other is not None and other.active and other.owns_run and other._thread == threading.get_ident():
        other._end_unfinished("interrupted")


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
        self._check_settings()

    def _check_settings(self) -> None:
        """Bad settings fail here, where the callback is made, not minutes later when training starts."""
        if self.training_type is not None and self.training_type not in TRAINING_TYPES:
            raise WattprintError(f"training_type {self.training_type!r}: the Hub's model card takes one of "
                                 f"{', '.join(TRAINING_TYPES)}")
        if not self.owns_run:
            return
        from ..tracking import track

        k = self.track_kwargs
        try:
            track(self.project, self.run_name, **k)  # unknown keywords, a bad project or run name
        except TypeError as e:
            raise TypeError(str(e).replace("track()", "WattprintCallback()")) from None
        self._resolve_settings(k)

    @staticmethod
    def _resolve_settings(k: dict[str, Any]) -> None:
        """Resolve the tracker's settings ``k`` as the run's start will (arguments, environment, config file): an
        unknown PUE preset or location, or a bad number, raises here."""
        from ..tracking.config import load_config

        cfg = load_config(k.get("location"), k.get("pue"), k.get("intensity"), k.get("db"), k.get("interval_s"))
        cfg.pue_range()
        cfg.intensity_lookup()

    # -- lifecycle ---------------------------------------------------------------------------------
    def begin(self, rank: int = 0, world_size: int = 1, run_id: str | None = None) -> Run | None:
        """Start the run (or take the attached one). Several ranks get one run each: ``<name>-rank<N>``.
        ``run_id`` continues that stored run (a training resumed from a checkpoint) when no name was given.

        An open run of the same id that a training in this thread left behind (it raised and was caught: the
        Transformers Trainer has no failure hook), this session's or another callback's, is ended ``interrupted``
        first, so that the new training continues the stored run instead of being refused as measured already.

        Never raises over the footprint: when the run cannot be started (other than for its store, which falls back
        to measuring in memory), a :class:`WattprintWarning` says why and the training goes on unmeasured
        (:attr:`unmeasured`; the hooks then do nothing until the next ``begin``)."""
        if self.active:  # the last training raised and was caught (the Trainer has no failure hook): end it
            self._end_unfinished("interrupted")
        ended = self.footprint is not None or self.unmeasured  # the last training's run is over (or never began)
        self._started = False  # not active until this training's run is under way (_end_left_open skips it)
        self.unmeasured = False
        self.world_size = int(world_size)
        self.footprint = None
        self.projection = None
        self.job_operational_co2e_kg = None
        self.job_totals = None
        if self.run is None or (self._created and ended):
            from ..tracking import track

            name = self.run_name
            if name is not None and world_size > 1:
                name = f"{name}-rank{rank}"  # one run id per process: the same id would resume, not add
            name = name or run_id
            if name is not None:
                _end_left_open(name)
            try:
                self.run = track(self.project, name, **self.track_kwargs)
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
        self._started = True
        if self.world_size > 1:  # announced now: rank zero waits at the end only for processes that took part
            self._job = join_job()
        return self.run

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

    def _end_unfinished(self, status: str) -> None:
        """End a run whose training never reached its end hook."""
        if not self.active or self.run is None:
            return
        self.exit_phase()
        self.footprint = self.run.stop(status) if self.owns_run else self.run.footprint()

    def _at_exit(self) -> None:
        """Interpreter exit while a training is still open: it did not complete."""
        from ..tracking.run import last_uncaught_exception

        if self.active and self.owns_run:
            exc = last_uncaught_exception()
            self._end_unfinished("failed" if exc is not None and not isinstance(exc, KeyboardInterrupt)
                                 else "interrupted")

    def finish(self) -> Footprint | None:
        """Close any open phase; stop the run we own (its final footprint) or read the attached one's."""
        if not self.active or self.run is None:
            return self.footprint
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
                _warn(f"the footprint covers {summed.processes} of the job's {summed.world_size} processes: the "
                      "others did not report theirs (the callback must be attached on every process; or a process "
                      "ended before its run did)")
        return self.job_operational_co2e_kg

    def abort(self, exc: BaseException) -> None:
        """Training raised: end the run we own as the tracker ends a ``with`` block that raised."""
        if not self.active or self.run is None:
            return
        self.exit_phase()
        if self.owns_run:
            self.run.__exit__(type(exc), exc, exc.__traceback__)
            self.footprint = self.run.footprint()
        else:
            self.footprint = self.run.footprint()

    # -- during training ---------------------------------------------------------------------------
    def progress(self, step: int, total_steps: int | float | None) -> Projection | None:
        """Feed progress to the run's projection; ignored when the total is unknown (0, None, inf)."""
        if not self.active or self.run is None or not total_steps or not math.isfinite(total_steps):
            return self.projection
        self.projection = self.run.progress(int(step), int(total_steps))
        return self.projection

    def enter_phase(self, name: str = EVAL_PHASE) -> None:
        if not self.active or self.run is None or self._phase is not None or self.run.status != "running":
            return
        self._phase = self.run.phase(name)
        self._phase.__enter__()

    def exit_phase(self) -> None:
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
        kg), and while running ``projected_energy_kwh`` / ``projected_co2e_kg`` (+ ``_low``/``_high``) once there
        is something to project from: a projection made before the first sampling interval has closed has no energy
        yet (its "projected" 0 kWh would plot as a forecast) and an unbounded upper end, so it is left out. Values
        that are not finite are left out too: loggers and the Trainer's JSON state take numbers only. In a job of
        several processes they are this process's, except the final ones on rank zero: the job's, summed.
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
            out[f"{p}projected_energy_kwh"] = self.projection.energy_kwh.value
            out[f"{p}projected_co2e_kg"] = self.projection.co2e_kg.value
            out[f"{p}projected_co2e_kg_low"] = self.projection.co2e_kg.low
            out[f"{p}projected_co2e_kg_high"] = self.projection.co2e_kg.high
        return {k: v for k, v in out.items() if math.isfinite(v)}

    def card_block(self, training_type: str | None = None, hardware_used: str | None = None) -> dict[str, Any] | None:
        """The ``co2_eq_emissions`` block for the final footprint; user-given fields win over the guesses.

        ``emissions`` covers the whole job: the sum over its processes when :meth:`sum_over_processes` ran.
        """
        if self.footprint is None:
            return None
        block = co2_eq_emissions(
            self.footprint,
            training_type=self.training_type or training_type,
            geographical_location=self.geographical_location,
            hardware_used=self.hardware_used or hardware_used,
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
        """Write the block into ``output_dir/README.md`` (once finished and a folder is given).

        ``at_end``: called by the end-of-training hook, which writes only if ``model_card`` is on, and where a
        card that cannot be written must not fail the training that succeeded: a :class:`WattprintWarning` says
        why instead. Called otherwise (the callback's ``write_model_card()``), it writes whatever ``model_card``
        says: that setting switches off the automatic write only.
        """
        try:
            block = self.card_block(training_type, hardware_used)
            if (at_end and not self.model_card) or block is None or not output_dir:
                return None
            return write_model_card(Path(output_dir) / "README.md", block, self.card_text())
        except (OSError, WattprintError) as e:
            if not at_end:
                raise
            _warn(f"model card not written to {output_dir} ({e}); the footprint is in the logs and the run store")
            return None


def _projects(projection: Projection) -> bool:
    """Whether a projection was made from measured energy (not one that only says there is nothing to project
    from yet: its energy is the energy so far, often 0, and unbounded above)."""
    energy = projection.energy_kwh
    return energy.value > 0 and math.isfinite(energy.high)
