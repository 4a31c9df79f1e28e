"""Hugging Face Transformers: track a ``Trainer`` run, log its footprint, write the model-card block.

    from wattprint.integrations.transformers import WattprintCallback
    trainer = Trainer(..., callbacks=[WattprintCallback(project="my-model", training_type="fine-tuning")])

What it does, per Trainer event:

- ``on_train_begin``: starts a tracked run (one per process, ``<name>-rank<N>`` under torchrun, see
  :meth:`~wattprint.integrations.session.TrainingSession.begin`; or uses ``run=`` you started yourself).
- ``on_step_end``: ``run.progress(global_step, max_steps)``, so the projection of the final total updates.
- ``on_log``: adds ``wattprint/energy_kwh`` (facility kWh), ``wattprint/co2e_kg`` (operational + embodied),
  ``wattprint/operational_co2e_kg`` (location-based) and ``wattprint/projected_*`` to the logs, so the
  reporting callbacks (TensorBoard, W&B, MLflow ...) and ``trainer.state.log_history`` receive them. The
  callback moves itself to the front of the Trainer's callback list (right after its ``DefaultFlowCallback``) so
  it runs before those reporters.
- evaluation is measured as phase "eval", from the event before it to ``on_evaluate``/``on_predict``. The Trainer
  has no "evaluation begins" event: the phase opens at the ``on_step_end``/``on_epoch_end`` whose flow decision
  (``control.should_evaluate``, set by the ``DefaultFlowCallback``, which this callback follows) starts one, or
  ``on_train_begin`` with ``eval_on_start``, so that the evaluation's first batch, data loader and model preparation
  are in it; else (an evaluation started otherwise) at its first ``on_prediction_step``, after its first batch.
- ``on_save``: without ``run_name``, notes the run's id in the checkpoint folder, so that a training resumed
  from that checkpoint (``train(resume_from_checkpoint=...)``, in a new process after preemption; the folder may be
  outside ``output_dir``) continues the same run and the model card covers the whole training, not only its last
  part. A checkpoint of another project's run starts a run of this project, as in the Lightning callback.
- ``trainer.evaluate()``/``predict()`` outside ``train()`` are not measured (the callback measures training): a
  :class:`~wattprint.errors.WattprintWarning` says so once, and to wrap them in ``wattprint.track``.
- a training that raises: the Trainer has no failure event, so the callback watches the training call it began in
  (:meth:`~wattprint.integrations.session.TrainingSession.watch`), and ends the run ``failed`` (``interrupted``
  after Ctrl-C) within a second (or a sampling interval) of the call's leaving without ``on_train_end``, with a
  note saying so: not when the next ``train()`` begins or the process exits, which in a notebook can be hours
  later. A training resumed in the same process after that continues the stored run.
- ``on_train_end``: stops the run, logs the final totals once more, and on the main process writes the
  ``co2_eq_emissions`` block into ``args.output_dir/README.md`` (merged into existing metadata), with the
  emissions of all the job's processes summed (under torchrun each rank tracks ``<name>-rank<N>``).

Requires ``transformers`` (extra ``wattprint[hf]``).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from .extras import missing_framework

try:
    from transformers import DefaultFlowCallback, TrainerCallback
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, get_last_checkpoint
except ImportError as e:
    missing_framework(e, __name__, "Hugging Face Transformers", "pip install 'wattprint[hf]'", ("transformers",))

from .modelcard import card_location, describe_hardware
from .session import DEFAULT_PREFIX, EVAL_PHASE, TrainingSession, _warn

if TYPE_CHECKING:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from ..footprint import Footprint
    from ..tracking import Run

_FRAMES_TO_SEARCH = 6  # our hook (<- a subclass's) <- CallbackHandler.call_event <- .on_<event> <- the Trainer
RUN_ID_FILE = "wattprint_run{rank}.json"  # in a checkpoint folder: the run a resumed training continues


class WattprintCallback(TrainerCallback):
    """Measure a Transformers ``Trainer`` run with wattprint.

    Args:
        project: project name the run is stored under.
        run_name: run id (default: generated); with several processes each gets ``<run_name>-rank<N>`` (without
            it, the name is one generated for the whole job: see ``TrainingSession.begin``).
        run: an already started :class:`~wattprint.tracking.Run` to feed instead of starting one.
        db, interval_s, location, pue, intensity, **track_kwargs: passed to :func:`wattprint.track`.
        training_type: "pre-training" or "fine-tuning" for the model card; default: "fine-tuning" when
            ``from_pretrained`` loaded the weights (Transformers 5 shows it), "pre-training" for a model built from
            a config made in code, else left out (``from_config`` of a config read from the Hub or a folder, or
            Transformers 4, cannot be told apart from a loaded model).
        geographical_location, hardware_used: model-card fields; defaults: the intensity's location, and
            the devices the Trainer used ("8 x NVIDIA A100-SXM4-80GB").
        model_card: write the ``co2_eq_emissions`` block into ``output_dir/README.md`` at the end (False only
            switches that off: :meth:`write_model_card` still writes it when called).
        prefix: prefix of the logged keys.
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
        prefix: str = DEFAULT_PREFIX,
        **track_kwargs: Any,
    ) -> None:
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
        self._handler: Any = None  # the Trainer's CallbackHandler, once found
        self._training_type_guess: str | None = None
        self._hardware_guess: str | None = None
        self._relaying = False
        self._output_dir: str | None = None
        self._training = False  # between on_train_begin and on_train_end
        self._said_unmeasured = False  # the warning for an evaluation or prediction outside training, said once
        self.model_card_path: Path | None = None

    # -- public read-outs ----------------------------------------------------------------------------
    @property
    def run(self) -> Run | None:
        return self.session.run

    @property
    def footprint(self) -> Footprint | None:
        """The final footprint once training has ended."""
        return self.session.footprint

    @property
    def model_card_block(self) -> dict[str, Any] | None:
        """The ``co2_eq_emissions`` mapping (emissions in grams) once training has ended, e.g. for
        ``huggingface_hub.metadata_update(repo_id, {"co2_eq_emissions": block}, overwrite=True)``."""
        return self.session.card_block(self._training_type_guess, self._hardware_guess)

    def write_model_card(self, output_dir: str | os.PathLike[str] | None = None) -> Path | None:
        """(Re)write the block into ``output_dir/README.md`` (default: the Trainer's ``output_dir``).

        ``Trainer.create_model_card()`` (also run by ``Trainer.push_to_hub()``) rewrites README.md from
        scratch; call this after it to put the block back. Writes whether or not ``model_card`` is on; None
        before training has ended. A leading ``~`` in ``output_dir`` is the home folder, as in ``TrainingArguments``.
        """
        target = card_location(output_dir, "output_dir") if output_dir is not None else self._output_dir
        path = self.session.write_card(target, self._training_type_guess, self._hardware_guess)
        self.model_card_path = path or self.model_card_path
        return path

    # -- Trainer events ------------------------------------------------------------------------------
    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        training = self._run_first()
        self._training = True
        resumed = None
        if self.session.run_name is None:
            checkpoint = _resumed_checkpoint(args, state, training)
            resumed = _run_id_in_checkpoint(args, checkpoint, self.session.project) if checkpoint else None
        self.session.begin(rank=args.process_index, world_size=args.world_size, run_id=resumed)
        if training is not None:
            self.session.watch(training)
        self.session.event("on_train_begin")
        self._training_type_guess = _guess_training_type(kwargs.get("model"))
        self._hardware_guess = _describe_trainer_hardware(args)
        self._output_dir = args.output_dir
        if getattr(args, "eval_on_start", False):  # the Trainer evaluates right after this event
            self.session.enter_phase(EVAL_PHASE)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self.session.event("on_save")
        run = self.session.run
        if run is None or not self.session.active or self.session.run_name is not None or not args.output_dir:
            return
        folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        if folder.is_dir():
            import json

            with contextlib.suppress(OSError):  # a note for later, never a reason to fail the save
                (folder / _run_id_file(args)).write_text(json.dumps({"run": run.id, "project": run.project}) + "\n",
                                                         encoding="utf-8")

    def on_epoch_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.session.event("on_epoch_begin")
        self.session.exit_phase()  # one opened for an evaluation that a later callback called off

    def on_step_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.session.event("on_step_begin")
        self.session.exit_phase()  # as in on_epoch_begin

    def on_optimizer_step(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.session.event("on_optimizer_step")

    def on_substep_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.session.event("on_substep_end")

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self.session.event("on_step_end")
        self.session.progress(state.global_step, state.max_steps)
        self._evaluation_next(control)

    def on_epoch_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.session.event("on_epoch_end")
        self._evaluation_next(control)

    def _evaluation_next(self, control: TrainerControl) -> None:
        """Open the "eval" phase where the flow decided on an evaluation: the Trainer's next work is that one
        (after a log, if one is due), and it has no event of its own before its first batch."""
        if getattr(control, "should_evaluate", False):
            self.session.enter_phase(EVAL_PHASE)

    def on_prediction_step(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self.session.event("on_prediction_step")
        # an evaluation the flow did not announce (e.g. trainer.evaluate() called from a callback): it opens at its
        # first prediction step, after its first batch
        self.session.enter_phase(EVAL_PHASE)

    def on_evaluate(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self.session.event("on_evaluate")
        self.session.exit_phase()
        self._say_if_unmeasured()

    def on_predict(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, metrics: Any = None, **kwargs: Any
    ) -> None:
        self.session.exit_phase()
        self._say_if_unmeasured()

    def _say_if_unmeasured(self) -> None:
        """Say once that an evaluation or prediction that ran outside ``train()`` was not measured: only the
        training's run is the callback's (a training that raised leaves ``_training`` set, but its run has ended)."""
        s = self.session
        if self._said_unmeasured or (self._training and (s.active or s.unmeasured)):
            return
        self._said_unmeasured = True
        _warn("the callback measures only training (train()): trainer.evaluate() and trainer.predict() outside it "
              "are not measured; wrap them in `with wattprint.track(project=...):` to measure them")

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        if self._relaying or logs is None or not self.session.active:
            return
        self.session.event("on_log")
        metrics = self.session.metrics()
        logs.update(metrics)  # the same dict goes on to the callbacks after this one (the reporters)
        # Trainer.log appended a copy of logs (plus "step") to log_history before calling the callbacks
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(metrics)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._training = False
        if not self.session.active:
            return
        self.session.finish()
        self.session.sum_over_processes()  # every rank leaves its totals; rank zero sums them
        final = self.session.metrics()
        state.log_history.append({**final, "step": state.global_step})
        self._relay_log(args, state, control, final)
        if state.is_world_process_zero:  # a card that cannot be written is a warning: the training succeeded
            path = self.session.write_card(args.output_dir, self._training_type_guess, self._hardware_guess,
                                           at_end=True)
            self.model_card_path = path or self.model_card_path

    # -- helpers -------------------------------------------------------------------------------------
    def _run_first(self) -> FrameType | None:
        """Move this callback to the front of the Trainer's list, right after its ``DefaultFlowCallback``, so
        reporters see the keys it adds, and it sees the flow's decisions for the step (an evaluation to come).
        Returns the frame of the Trainer's call that sent this event (its training loop; None if not found).

        The Trainer puts user callbacks after its reporting ones and hands callbacks no reference to
        itself; the CallbackHandler is the caller of this hook. Best effort: without it, keys still reach
        ``state.log_history`` and the callbacks that run after this one.
        """
        frame: FrameType | None = sys._getframe(1)
        for _ in range(_FRAMES_TO_SEARCH):
            if frame is None:
                return None
            handler = frame.f_locals.get("self")
            callbacks = getattr(handler, "callbacks", None)
            if isinstance(callbacks, list) and any(cb is self for cb in callbacks):
                self._handler = handler
                at = next(i for i, cb in enumerate(callbacks) if cb is self)
                flow = [i for i, cb in enumerate(callbacks[:at]) if isinstance(cb, DefaultFlowCallback)]
                # moved only towards the front: the items after ours keep their positions, so the handler's loop
                # over the list (it is calling us) goes on as it would have
                callbacks.pop(at)
                callbacks.insert(flow[-1] + 1 if flow else 0, self)
                while frame is not None and frame.f_locals.get("self") is handler:  # up to the handler's caller
                    frame = frame.f_back
                return frame
            frame = frame.f_back
        return None

    def _relay_log(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict[str, float]
    ) -> None:
        """Send the final totals through the Trainer's other callbacks (TensorBoard, W&B ...) as a log event."""
        if self._handler is None or not logs:
            return
        self._relaying = True
        try:
            self._handler.on_log(args, state, control, dict(logs))
        finally:
            self._relaying = False


def _guess_training_type(model: Any) -> str | None:
    """The Hub's ``training_type`` where the model shows it, else None (the card leaves the field out).

    "fine-tuning": ``from_pretrained`` loaded weights into it (Transformers 5 marks each tensor it loads
    ``_is_hf_initialized``, so that the initialisation skips it). "pre-training": a Transformers model that names no
    checkpoint or config (``name_or_path`` empty): built from a config made in code, so randomly initialised.
    Otherwise no guess: ``from_config`` of a config read from the Hub or a folder names that place just as
    ``from_pretrained`` does, and Transformers 4 marks no loaded tensor.
    """
    config = getattr(model, "config", None)
    if model is None or config is None:
        return None
    if _has_loaded_weights(model):
        return "fine-tuning"
    named = getattr(model, "name_or_path", None) or getattr(config, "_name_or_path", None)
    return None if named else "pre-training"


def _has_loaded_weights(model: Any) -> bool:
    """Whether any of the model's tensors was loaded from a checkpoint by ``from_pretrained`` (Transformers 5)."""
    try:
        return any(getattr(p, "_is_hf_initialized", False) is True for p in model.parameters())
    except Exception:  # not a torch module, or one whose parameters cannot be listed: no evidence
        return False


def _describe_trainer_hardware(args: TrainingArguments) -> str | None:
    """The devices of the whole job: world size x GPUs per process, named by torch; else the CPU."""
    try:
        import torch

        device = args.device
        if device.type == "cuda" and torch.cuda.is_available():
            per_process = max(int(args.n_gpu), 1)
            return describe_hardware([torch.cuda.get_device_name(device)] * (per_process * int(args.world_size)))
    except Exception:  # hardware naming is a nicety: never fail training over it
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    desc = describe_hardware(None, cpu_cores=cores)
    if desc and int(args.world_size) > 1:
        desc = f"{args.world_size} processes on {desc}"
    return desc


def _run_id_file(args: Any) -> str:
    return RUN_ID_FILE.format(rank=f"-rank{args.process_index}" if args.world_size > 1 else "")


def _resumed_checkpoint(args: Any, state: Any, training: FrameType | None) -> Path | None:
    """The checkpoint folder the training beginning resumed from; None for a fresh training.

    The Trainer tells callbacks no path: it is the ``resume_from_checkpoint`` of its training call (``training``,
    the frame that sent ``on_train_begin``), which ``train()`` has resolved from ``True`` to the last checkpoint in
    ``output_dir`` by then; the folder may be anywhere. Without that frame it is not guessed from ``global_step``
    (``output_dir/checkpoint-<step>`` may be a stale folder of another training, whose run would be continued): a
    warning says that the resumed training is a run of its own."""
    if training is None or "resume_from_checkpoint" not in training.f_locals:
        if state.global_step:  # a fresh training's state starts at 0: this one was loaded from a checkpoint
            _warn(f"this training resumed at step {state.global_step} from a checkpoint the callback cannot find "
                  "(the Trainer's training call was not found): it is measured as a run of its own, so the model "
                  "card covers the resumed part only")
        return None
    path = training.f_locals["resume_from_checkpoint"]
    if path is True and args.output_dir:  # unresolved where a Trainer's call resolves it later
        path = get_last_checkpoint(args.output_dir)
    return Path(path) if isinstance(path, str | os.PathLike) and os.fspath(path) else None


def _run_id_in_checkpoint(args: Any, folder: Path, project: str) -> str | None:
    """The run a training resumed from the checkpoint ``folder`` continues: the one noted there, if it is of
    ``project`` (another project's run is not continued: the training is a run of its own, as in the Lightning
    callback); None for a checkpoint without our note.

    A checkpoint written by a job of another size: rank zero still continues rank zero's run, and a warning says
    that the other processes' earlier runs are not continued (the model card then covers less than the whole
    training; their figures stay in the store)."""
    import json

    note = folder / _run_id_file(args)
    other_size: list[str] = []
    if int(args.process_index) == 0:
        written = sorted(p.name for p in folder.glob(RUN_ID_FILE.format(rank="*")))
        expected = [RUN_ID_FILE.format(rank=f"-rank{r}" if args.world_size > 1 else "")
                    for r in range(int(args.world_size))]
        if written and sorted(expected) != written:
            other_size = written
            if not note.exists():  # rank zero's note under the other job size's name
                note = folder / RUN_ID_FILE.format(rank="-rank0" if args.world_size == 1 else "")
    try:
        noted = json.loads(note.read_text(encoding="utf-8"))
        run_id, noted_project = noted.get("run"), noted.get("project")
    except (OSError, ValueError, AttributeError):
        return None
    if not (isinstance(run_id, str) and run_id) or noted_project != project:
        return None
    if other_size:
        _warn(f"{folder} holds the runs of a job of {len(other_size)} process(es); this one has {args.world_size}: "
              "only rank zero's run is continued, so the footprint logged and written to the model card covers "
              "the earlier part of the other processes' training no more (their runs stay in the store)")
    return run_id
