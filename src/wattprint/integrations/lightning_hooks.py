"""The Lightning callback's behaviour, shared by ``lightning.pytorch`` and ``pytorch_lightning``.

Mixed into each package's own ``Callback`` class (the Trainer checks callbacks with ``isinstance``), see
:mod:`wattprint.integrations.lightning` and :mod:`wattprint.integrations.pytorch_lightning`.
"""

from __future__ import annotations

import os
import sys
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from .modelcard import card_location, describe_hardware
from .session import DEFAULT_PREFIX, EVAL_PHASE, TrainingSession, _warn

if TYPE_CHECKING:
    from ..footprint import Footprint
    from ..tracking import Run


_FRAMES_TO_SEARCH = 6  # _fit_checkpoint <- setup <- (our subclass's setup) <- call._call_setup_hook <- Trainer._run


@dataclass
class _TrainerFit:
    """What a Trainer's last fit, measured by the callback, left: its run, the step it ended at (``global_step``) and
    the model card written for that run (None: none yet)."""

    run_id: str
    step: int
    card: Path | None = None


class LightningHooks:
    """Measure a Lightning ``Trainer.fit`` with wattprint.

    - ``setup`` (stage "fit"; else ``on_fit_start``) starts a tracked run (one per process; or feeds ``run=``
      you started yourself), so the set-up and the sanity check count too;
    - ``on_train_batch_end`` feeds ``run.progress(global_step, estimated_stepping_batches)`` and, on the
      steps Lightning logs (``log_every_n_steps``), logs ``wattprint/energy_kwh`` (facility kWh),
      ``wattprint/co2e_kg`` (operational + embodied), ``wattprint/operational_co2e_kg`` (location-based)
      and ``wattprint/projected_*`` with ``pl_module.log_dict``, so they reach every logger beside the
      module's own metrics; the final totals go to ``trainer.loggers`` at the end;
    - validation (``on_validation_start`` .. ``on_validation_end``) is measured as phase "eval";
    - ``on_fit_end`` stops the run, logs the final totals and, on global rank zero, writes the
      ``co2_eq_emissions`` block into ``<model_card_dir>/README.md``, with the emissions of all the job's
      processes summed (each process tracks its own run, ``<name>-rank<N>``, the name ``run_name`` or one the
      job shares); ``teardown`` is the fallback.
      The run spans the whole of ``fit()``: from the ``setup`` hook, before the strategy moves the model to the
      device, to after the strategy's teardown, which moves model and optimizer state back to the CPU (on an
      H200, a run from ``on_fit_start`` to ``on_train_end`` read 3 % low against the GPU's energy counter
      around a 15 s ``fit()``);
    - ``on_exception`` ends the run as failed/interrupted;
    - without ``run_name``, in a single-process fit, the run's id goes into each checkpoint (the callback's
      ``state_dict``), so that ``fit(ckpt_path=...)`` resuming from it continues the same run and the model card
      covers the whole training, not only its last part. Such a resumed run starts when Lightning restores the
      callbacks from the checkpoint (after the ``setup`` hooks, before the strategy's set-up); a checkpoint of another
      project's run starts a run of this project;
    - a later ``fit()`` of the same Trainer that goes on from the step its last fit ended at (``max_epochs`` raised,
      as in a notebook) continues that fit's run too, so the card covers the whole training; a fit on another
      Trainer is a run of its own. A fit that trains no step leaves the card of the training that did;
    - ``validate()``, ``test()`` and ``predict()`` are not measured (the callback measures training): a
      :class:`~wattprint.errors.WattprintWarning` says so once, and to wrap them in ``wattprint.track``.

    ``model_card_dir`` (text or an ``os.PathLike``; a leading ``~`` is the home folder) defaults to the checkpoint
    folder (``ModelCheckpoint.dirpath``), else the folder ``trainer.log_dir`` names (read without its broadcast, see
    :func:`_log_dir`); the current directory is only written to when named explicitly, so a project's own README.md
    is never edited by accident, and a default folder is only used when it exists by the end of training, or is the
    folder of a logger (loggers may create theirs late): no folder is made just for the card. Without any
    (``logger=False, enable_checkpointing=False`` and ``default_root_dir`` the working directory, its default) no
    card is written, and a warning says once to name ``model_card_dir``.
    ``fast_dev_run`` writes no card, as Lightning writes no checkpoints or logs then.

    Args are those of :class:`wattprint.integrations.transformers.WattprintCallback`, plus ``model_card_dir``.
    """

    def __init__(
        self,
        project: str = "default",
        run_name: str | None = None,
        *,
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
        model_card_dir: str | os.PathLike[str] | None = None,
        prefix: str = DEFAULT_PREFIX,
        **track_kwargs: Any,
    ) -> None:
        super().__init__()
        if model_card_dir is not None:  # refused now, not by a TypeError after the training
            card_location(model_card_dir, "model_card_dir")
        self.session = TrainingSession(
            project=project,
            run_name=run_name,
            run=run,
            db=db,
            interval_s=interval_s,
            location=location,
            pue=pue,
            intensity=intensity,
            training_type=training_type,
            geographical_location=geographical_location,
            hardware_used=hardware_used,
            model_card=model_card,
            prefix=prefix,
            **track_kwargs,
        )
        self.model_card_dir = model_card_dir
        self.model_card_path: Path | None = None
        self._hardware_guess: str | None = None
        self._resuming: Any = None  # the trainer of a fit resumed from a checkpoint, until its run id is read back
        self._steps = 0  # training batches of the current fit
        self._fits: weakref.WeakKeyDictionary[Any, _TrainerFit] = weakref.WeakKeyDictionary()  # by Trainer
        self._said_unmeasured = False  # the warning for validate()/test()/predict(), said once
        self._said_no_card_dir = False  # the warning for a fit with no folder for its card, said once

    # a spawning strategy (ddp_spawn) pickles the callback into each process it starts, where the Trainer is a copy
    # with no fits of its own yet; weak references do not pickle
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_fits"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._fits = weakref.WeakKeyDictionary()

    @property
    def run(self) -> Run | None:
        return self.session.run

    @property
    def footprint(self) -> Footprint | None:
        """The final footprint once training has ended."""
        return self.session.footprint

    @property
    def model_card_block(self) -> dict[str, Any] | None:
        """The ``co2_eq_emissions`` mapping (emissions in grams) once training has ended."""
        return self.session.card_block(hardware_used=self._hardware_guess)

    # -- hooks -----------------------------------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage != "fit":  # "validate", "test", "predict"
            if not self._said_unmeasured:
                self._said_unmeasured = True
                name = getattr(stage, "value", stage)  # Lightning passes its TrainerFn, a str enum
                _warn(f"the callback measures only training (fit()): validate(), test() and predict() are not measured "
                      f"(this is {name}()); wrap the call in `with wattprint.track(project=...):` to measure it")
            return
        self._resuming = None
        checkpoint = _fit_checkpoint(trainer)
        if self._notes_run_id(trainer) and checkpoint is not None:
            self._resuming = trainer  # the run to continue is known once the checkpoint's callbacks are restored
            return
        self._begin(trainer, new_fit=True, run_id=self._continued_run(trainer) if checkpoint is None else None)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self._resuming is None or not getattr(trainer.strategy, "restore_checkpoint_after_setup", False):
            self._resuming = None  # restored already: the checkpoint had no run id of ours
            self._begin(trainer)
        self._hardware_guess = _describe_lightning_hardware(trainer, pl_module)  # the model is on its device now

    def _begin(self, trainer: Any, *, new_fit: bool = False, run_id: str | None = None) -> None:
        s = self.session
        if s.active or (s.unmeasured and not new_fit):  # a run that could not start is tried again by the next fit
            return
        self._steps = 0
        s.begin(rank=int(trainer.global_rank), world_size=int(trainer.world_size), run_id=run_id)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not self.session.active:  # fit_loop run without on_fit_start (e.g. a custom loop)
            self._resuming = None
            self.on_fit_start(trainer, pl_module)

    # -- the run a fit continues ---------------------------------------------------------------------
    def _continued_run(self, trainer: Any) -> str | None:
        """The run of this Trainer's last fit, when the fit starting (no checkpoint restored) goes on from the step
        that fit ended at: the same training, continued (``max_epochs`` raised, or after an interruption)."""
        last = self._fits.get(trainer)
        step = int(getattr(trainer, "global_step", 0) or 0)
        if last is None or step == 0 or step != last.step:
            return None
        return last.run_id

    def _remember(self, trainer: Any) -> _TrainerFit | None:
        """Note the run this Trainer's fit, now ended, measured, and the step it reached (see
        :meth:`_continued_run`); the card written for that run, if any, stays noted."""
        run = self.session.run
        if run is None or self.session.footprint is None:
            return None
        step = int(getattr(trainer, "global_step", 0) or 0)
        fit = self._fits.get(trainer)
        if fit is None or fit.run_id != run.id:
            fit = _TrainerFit(run.id, step)
            self._fits[trainer] = fit
        fit.step = step
        return fit

    # -- the run id in checkpoints -------------------------------------------------------------------
    def _notes_run_id(self, trainer: Any) -> bool:
        """Whether checkpoints carry our run id: a run the callback makes itself without ``run_name``, in one
        process (each process of a job has a run of its own, and a checkpoint keeps rank zero's state only)."""
        s = self.session
        return s.run_name is None and s.makes_own_run and int(getattr(trainer, "world_size", 1) or 1) == 1

    def state_dict(self) -> dict[str, Any]:
        """Saved in each checkpoint: the id of the run a fit resumed from it continues."""
        s = self.session
        if (s.run is None or s.run.status == "new" or s.unmeasured or s.run_name is not None or not s.makes_own_run
                or s.world_size != 1):
            return {}
        return {"run": s.run.id, "project": s.run.project}  # also once ended: a checkpoint saved after fit()

    def on_load_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        """The checkpoint a resumed fit continues from is restored: start its run (the stored one, when the
        checkpoint names it)."""
        if self._resuming is not trainer:
            return
        self._resuming = None
        states = checkpoint.get("callbacks") if isinstance(checkpoint, dict) else None
        state = states.get(getattr(self, "state_key", type(self).__qualname__)) if isinstance(states, dict) else None
        run_id = state.get("run") if isinstance(state, dict) else None
        if not (isinstance(run_id, str) and run_id and isinstance(state, dict)
                and state.get("project") == self.session.project):
            run_id = None  # not ours, or another project's run: a run of its own
        self._begin(trainer, new_fit=True, run_id=run_id)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._steps += 1
        self.session.progress(int(trainer.global_step), trainer.estimated_stepping_batches)
        if self._logs_due(trainer):
            # through Lightning's own logging: same step and cadence as the module's metrics, all loggers
            pl_module.log_dict(self.session.metrics(), on_step=True, on_epoch=False, batch_size=1)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self.session.enter_phase(EVAL_PHASE)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self.session.exit_phase()

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._finish(trainer)

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._finish(trainer)  # a fit whose on_fit_end did not run (a custom loop); no-op once finished

    def _finish(self, trainer: Any) -> None:
        # Nothing here may be a collective (Trainer.log_dir is one, a broadcast): a callback attached on rank zero
        # only would wait alone in it, failing or hanging the job after its training
        if not self.session.active:
            return
        self.session.finish()
        self.session.sum_over_processes()  # every rank leaves its totals; rank zero sums them (no collective)
        fit = self._remember(trainer)
        if not trainer.is_global_zero:
            return
        self._log(trainer, self.session.metrics(), int(trainer.global_step))
        if not self.session.model_card or getattr(trainer, "fast_dev_run", False) or fit is None:
            return  # a dry run writes no checkpoint or log
        if self._steps > 0:
            folder = self._card_dir(trainer)
            if folder is None and not self._said_no_card_dir:
                self._said_no_card_dir = True
                _warn("no model card written: this fit left no checkpoint or log folder for it (logger=False, "
                      "enable_checkpointing=False?), and neither the working directory (written to only when named) "
                      "nor a folder made just for the card is used; name one: WattprintCallback(model_card_dir=...)")
            fit.card = self.session.write_card(folder, hardware_used=self._hardware_guess, at_end=True)
        else:  # training off, or its limit reached already (fit() run again): the card of the training that did
            kept = f" ({fit.card} stays as the last training wrote it)" if fit.card else ""
            _warn(f"this fit() trained no step ({_why_no_step(trainer)}): no model card written{kept}")
        self.model_card_path = fit.card

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.session.abort(exception)
        self._remember(trainer)  # a fit() of this Trainer again, from the step it failed at, continues the run

    # -- helpers ---------------------------------------------------------------------------------------
    @staticmethod
    def _logs_due(trainer: Any) -> bool:
        """Whether Lightning sends this batch's step metrics to the loggers (every ``log_every_n_steps``)."""
        connector = getattr(trainer, "_logger_connector", None)
        due = getattr(connector, "should_update_logs", None)
        if isinstance(due, bool):
            return due
        every = max(int(getattr(trainer, "log_every_n_steps", 1) or 1), 1)
        return int(trainer.global_step) % every == 0

    @staticmethod
    def _log(trainer: Any, metrics: dict[str, float], step: int) -> None:
        """Directly to every logger: Lightning forbids ``self.log`` in ``on_fit_end``."""
        if not metrics:
            return
        for logger in getattr(trainer, "loggers", None) or []:
            logger.log_metrics(metrics, step=step)
        for logger in getattr(trainer, "loggers", None) or []:
            logger.save()

    def _card_dir(self, trainer: Any) -> str | None:
        """``model_card_dir``; else the checkpoint folder or the log folder, whichever exists (not the working
        directory); else a logger's folder not written yet; else None: no folder is made only for the card."""
        if self.model_card_dir is not None:
            return card_location(self.model_card_dir, "model_card_dir")
        cwd = Path.cwd().resolve()
        ckpt = getattr(trainer, "checkpoint_callback", None)
        log_dir = _log_dir(trainer)
        for candidate in (getattr(ckpt, "dirpath", None), log_dir):
            if candidate and Path(candidate).resolve() != cwd and Path(candidate).is_dir():
                return str(candidate)
        if log_dir and getattr(trainer, "loggers", None) and Path(log_dir).resolve() != cwd:
            return str(log_dir)
        return None


def _why_no_step(trainer: Any) -> str:
    """Why a fit trained no step, from the Trainer's settings: training turned off (a zero limit, an empty training
    data loader), a limit the Trainer had reached already (a fit() run again after its training ended), else a stop
    before the first step."""
    for setting in ("limit_train_batches", "max_steps", "max_epochs"):
        value = getattr(trainer, setting, None)
        if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
            return f"{setting}={value} turns its training off"
    if getattr(trainer, "num_training_batches", None) == 0:
        return "its training data loader yields no batch"
    step, epoch = int(getattr(trainer, "global_step", 0) or 0), int(getattr(trainer, "current_epoch", 0) or 0)
    max_steps, max_epochs = getattr(trainer, "max_steps", -1), getattr(trainer, "max_epochs", None)
    if isinstance(max_steps, int) and 0 < max_steps <= step:
        return f"the Trainer had reached max_steps={max_steps} already, at step {step}; raise it to train on"
    if isinstance(max_epochs, int) and 0 < max_epochs <= epoch:
        return f"the Trainer had reached max_epochs={max_epochs} already; raise it to train on"
    return "the training stopped before its first step (trainer.should_stop set, by a callback?)"


def _log_dir(trainer: Any) -> str | None:
    """The folder ``Trainer.log_dir`` names, read on this process alone: the first logger's ``log_dir`` (TensorBoard,
    CSV) or ``save_dir`` (others), else ``default_root_dir``, as Lightning (2.x) reads it before broadcasting rank
    zero's. The broadcast is a collective, which a callback attached on rank zero only cannot join in; rank zero,
    which writes the card, needs none."""
    loggers = getattr(trainer, "loggers", None) or []
    if not loggers:
        return getattr(trainer, "default_root_dir", None)
    first = loggers[0]
    versioned = tuple(kind for module in ("lightning.pytorch.loggers", "pytorch_lightning.loggers")
                      for name in ("TensorBoardLogger", "CSVLogger")
                      if isinstance(kind := getattr(sys.modules.get(module), name, None), type))
    return getattr(first, "log_dir", None) if isinstance(first, versioned) else getattr(first, "save_dir", None)


def _fit_checkpoint(trainer: Any) -> Any:
    """The checkpoint the running ``fit`` resumes from (the ``ckpt_path`` it resolved), else None.

    Lightning restores a checkpoint after the ``setup`` hooks and tells callbacks nothing of it before; the
    Trainer's ``_run`` frame, which calls the hook, holds the path. Best effort: None when it cannot be found.
    """
    frame: FrameType | None = sys._getframe(1)
    for _ in range(_FRAMES_TO_SEARCH):
        if frame is None:
            break
        if frame.f_code.co_name == "_run" and frame.f_locals.get("self") is trainer:
            return frame.f_locals.get("ckpt_path") or None
        frame = frame.f_back
    return getattr(trainer, "ckpt_path", None) if getattr(getattr(trainer, "_checkpoint_connector", None),
                                                          "_user_managed", False) else None


def _describe_lightning_hardware(trainer: Any, pl_module: Any) -> str | None:
    """All devices of the job (devices per node x nodes), named by torch; else the CPU."""
    try:
        device = getattr(pl_module, "device", None)
        if device is not None and device.type == "cuda":
            import torch

            count = int(trainer.num_devices) * int(trainer.num_nodes)
            return describe_hardware([torch.cuda.get_device_name(device)] * count)
    except Exception:  # hardware naming is a nicety: never fail training over it
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    desc = describe_hardware(None, cpu_cores=cores)
    world = int(getattr(trainer, "world_size", 1) or 1)
    return f"{world} processes on {desc}" if desc and world > 1 else desc
