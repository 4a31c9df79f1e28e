"""The Lightning callback's behaviour, shared by ``lightning.pytorch`` and ``pytorch_lightning``.

Mixed into each package's own ``Callback`` class (the Trainer checks callbacks with ``isinstance``), see
:mod:`wattprint.integrations.lightning` and :mod:`wattprint.integrations.pytorch_lightning`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .modelcard import describe_hardware
from .session import DEFAULT_PREFIX, EVAL_PHASE, TrainingSession

if TYPE_CHECKING:
    from ..footprint import Footprint
    from ..tracking import Run


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
      processes summed (each process tracks its own run, ``<run_name>-rank<N>``); ``teardown`` is the fallback.
      The run spans the whole of ``fit()``: from the ``setup`` hook, before the strategy moves the model to the
      device, to after the strategy's teardown, which moves model and optimizer state back to the CPU (on an
      H200, a run from ``on_fit_start`` to ``on_train_end`` read 3 % low against the GPU's energy counter
      around a 15 s ``fit()``);
    - ``on_exception`` ends the run as failed/interrupted.

    ``model_card_dir`` defaults to the checkpoint folder (``ModelCheckpoint.dirpath``), else
    ``trainer.log_dir``; the current directory is only written to when named explicitly, so a project's
    own README.md is never edited by accident.

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
        if stage == "fit":
            self._begin(trainer)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self._begin(trainer)
        self._hardware_guess = _describe_lightning_hardware(trainer, pl_module)  # the model is on its device now

    def _begin(self, trainer: Any) -> None:
        if not self.session.active:
            self.session.begin(rank=int(trainer.global_rank), world_size=int(trainer.world_size))

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not self.session.active:  # fit_loop run without on_fit_start (e.g. a custom loop)
            self.on_fit_start(trainer, pl_module)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
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
        if not self.session.active:
            return
        self.session.finish()
        self.session.sum_over_processes()  # a collective: every rank gets here
        if trainer.is_global_zero:
            self._log(trainer, self.session.metrics(), int(trainer.global_step))
            self.model_card_path = self.session.write_card(self._card_dir(trainer), hardware_used=self._hardware_guess,
                                                           at_end=True)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.session.abort(exception)

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
        if self.model_card_dir is not None:
            return os.fspath(self.model_card_dir)
        ckpt = getattr(trainer, "checkpoint_callback", None)
        for candidate in (getattr(ckpt, "dirpath", None), getattr(trainer, "log_dir", None)):
            if candidate and Path(candidate).resolve() != Path.cwd().resolve():
                return str(candidate)
        return None


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
