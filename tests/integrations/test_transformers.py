"""A real Transformers training of a tiny GPT-2 (built from a config, synthetic data, CPU), tracked by the callback."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import torch  # noqa: E402
import transformers  # noqa: E402

from wattprint.integrations.modelcard import read_model_card, split_front_matter  # noqa: E402
from wattprint.integrations.transformers import WattprintCallback, _guess_training_type  # noqa: E402
from wattprint.storage import open_store  # noqa: E402

from .conftest import SAMPLE_INTERVAL_S  # noqa: E402

VOCAB, SEQ, N_SAMPLES = 100, 16, 32
MAX_STEPS, LOGGING_STEPS, EVAL_STEPS = 6, 2, 3
KEYS = ("wattprint/energy_kwh", "wattprint/co2e_kg", "wattprint/operational_co2e_kg")


class Reporter(transformers.TrainerCallback):
    """Stands in for TensorBoard/W&B: records every logs dict the Trainer hands to its callbacks."""

    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        self.logs.append(dict(logs or {}))


class Pace(transformers.TrainerCallback):
    """Makes each step outlast a sampling interval, so every log sees fresh samples (the tiny model is too fast)."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        time.sleep(SAMPLE_INTERVAL_S)


def _tiny_gpt2() -> Any:
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=SEQ, n_embd=32, n_layer=2, n_head=2)
    return transformers.GPT2LMHeadModel(config)


def _data(seed: int) -> list[dict[str, Any]]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (N_SAMPLES, SEQ), generator=g)
    return [{"input_ids": row, "labels": row.clone()} for row in ids]


def test_trainer_run_is_tracked_logged_and_written_to_the_model_card(wattprint_env: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "README.md").write_text("---\nlicense: mit\ntags:\n- tiny\n---\n\n# Tiny GPT-2\n")
    reporter = Reporter()
    callback = WattprintCallback(project="hf-test", run_name="tiny-gpt2", interval_s=SAMPLE_INTERVAL_S)
    args = transformers.TrainingArguments(
        output_dir=str(out),
        max_steps=MAX_STEPS,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=8,
        logging_steps=LOGGING_STEPS,
        eval_strategy="steps",
        eval_steps=EVAL_STEPS,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    # the reporter is listed before our callback, as the Trainer lists its TensorBoard/W&B callbacks
    trainer = transformers.Trainer(
        model=_tiny_gpt2(),
        args=args,
        train_dataset=_data(0),
        eval_dataset=_data(1),
        callbacks=[reporter, Pace(), callback],
    )
    trainer.train()

    # the run: stored, finished, with energy and an eval phase
    run = callback.run
    assert run is not None and callback.footprint is not None
    with open_store(str(wattprint_env)) as store:
        record = store.get_run(run.id)
        phases = store.phases(run.id)
    assert record.project == "hf-test"
    assert record.status == "finished"
    assert record.to_dict()["energy_kwh"] > 0
    assert callback.footprint.energy_kwh.value > 0
    assert "eval" in {p["name"] for p in phases}

    # the logs: every Trainer log carries the keys, the reporters saw them, log_history has them
    training_logs = [entry for entry in reporter.logs if "loss" in entry]
    assert len(training_logs) == MAX_STEPS // LOGGING_STEPS
    for entry in training_logs:
        assert all(entry[k] > 0 for k in KEYS)
    # the projection, once it has a central value (a window of steps closed since the first progress call: the
    # first log may come before), with the energy's and the CO2e's ranges
    projected = [entry for entry in training_logs if "wattprint/projected_co2e_kg" in entry]
    assert projected and projected[-1] is training_logs[-1]
    for entry in projected:
        for key in ("wattprint/projected_energy_kwh", "wattprint/projected_co2e_kg"):
            assert 0 < entry[f"{key}_low"] <= entry[key] <= entry[f"{key}_high"]
    energies = [entry["wattprint/energy_kwh"] for entry in training_logs]
    assert energies == sorted(energies)  # cumulative
    history = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert all(k in entry for entry in history for k in KEYS)
    final = trainer.state.log_history[-1]
    assert final["wattprint/energy_kwh"] == pytest.approx(callback.footprint.energy_kwh.value)
    assert reporter.logs[-1]["wattprint/operational_co2e_kg"] == pytest.approx(
        callback.footprint.operational_co2e_kg.value
    )

    # the model card: merged into the existing README, emissions in grams of operational CO2e
    block = read_model_card(out)
    assert block is not None
    stored_kg = record.to_dict()["operational_co2e_kg"]
    assert block["emissions"] == pytest.approx(stored_kg * 1000, rel=5e-4)  # 4 significant digits
    assert block["emissions"] == pytest.approx(callback.footprint.operational_co2e_kg.value * 1000, rel=5e-4)
    assert block["source"] == "wattprint"
    assert block["training_type"] == "pre-training"  # built from a config, not from_pretrained
    assert "CPU" in block["hardware_used"]
    front, body = split_front_matter((out / "README.md").read_text())
    assert front is not None and front.startswith("license: mit\ntags:\n- tiny\n")
    assert body == "\n# Tiny GPT-2\n"
    assert callback.model_card_path == out / "README.md"

    # Transformers' own model card replaces README.md; the block can be put back into it
    trainer.create_model_card(model_name="tiny-gpt2")
    assert read_model_card(out) is None
    callback.write_model_card()
    assert read_model_card(out) == block
    assert "tiny-gpt2" in (out / "README.md").read_text()


def test_training_type_is_guessed_only_where_the_model_shows_it(tmp_path: Path) -> None:
    _tiny_gpt2().save_pretrained(tmp_path / "ckpt")
    loaded = transformers.GPT2LMHeadModel.from_pretrained(tmp_path / "ckpt")
    # the recipe for training from scratch: the config from the Hub (or a folder), random weights
    from_hub_config = transformers.AutoModelForCausalLM.from_config(transformers.AutoConfig.from_pretrained(
        tmp_path / "ckpt"))
    assert from_hub_config.name_or_path == loaded.name_or_path  # the name cannot tell them apart
    assert _guess_training_type(from_hub_config) is None  # not "fine-tuning": left out of the card
    assert _guess_training_type(_tiny_gpt2()) == "pre-training"  # a config made in code
    assert _guess_training_type(torch.nn.Linear(2, 2)) is None  # not a Transformers model
    assert _guess_training_type(None) is None
    if int(transformers.__version__.split(".")[0]) >= 5:  # marks the tensors from_pretrained loaded
        assert _guess_training_type(loaded) == "fine-tuning"
    else:
        assert _guess_training_type(loaded) is None


def test_a_model_card_that_cannot_be_written_does_not_fail_the_training(wattprint_env: Path, tmp_path: Path) -> None:
    from wattprint.errors import WattprintWarning

    out = tmp_path / "model"
    (out / "README.md").mkdir(parents=True)  # a folder where the card goes
    callback = WattprintCallback(project="hf-test", run_name="no-card", interval_s=SAMPLE_INTERVAL_S)
    args = transformers.TrainingArguments(output_dir=str(out), max_steps=2, per_device_train_batch_size=4,
                                          save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True)
    trainer = transformers.Trainer(model=_tiny_gpt2(), args=args, train_dataset=_data(0), callbacks=[callback])
    with pytest.warns(WattprintWarning, match="model card not written"):
        result = trainer.train()
    assert result.global_step == 2
    assert callback.footprint is not None and callback.model_card_path is None
    with open_store(str(wattprint_env)) as store:
        assert store.get_run("no-card").status == "finished"


def test_a_training_resumed_from_a_checkpoint_continues_its_run(wattprint_env: Path, tmp_path: Path) -> None:
    out = tmp_path / "resumed"

    def trainer(max_steps: int) -> tuple[Any, WattprintCallback]:
        cb = WattprintCallback(project="hf-resume", interval_s=SAMPLE_INTERVAL_S)  # no run_name
        args = transformers.TrainingArguments(output_dir=str(out), max_steps=max_steps, per_device_train_batch_size=4,
                                              save_strategy="steps", save_steps=2, report_to="none", use_cpu=True,
                                              disable_tqdm=True, seed=0)
        return transformers.Trainer(model=_tiny_gpt2(), args=args, train_dataset=_data(0),
                                    callbacks=[Pace(), cb]), cb

    first, cb1 = trainer(2)
    first.train()
    assert cb1.run is not None and (out / "checkpoint-2" / "wattprint_run.json").exists()
    part1 = cb1.footprint.energy_kwh.value  # type: ignore[union-attr]
    second, cb2 = trainer(4)  # a new process after preemption, in effect
    second.train(resume_from_checkpoint=str(out / "checkpoint-2"))
    assert cb2.run is not None and cb2.run.id == cb1.run.id and cb2.run.resumed
    assert cb2.footprint is not None and cb2.footprint.energy_kwh.value > part1  # the card covers both parts
    with open_store(str(wattprint_env)) as store:
        assert [r.id for r in store.list_runs(project="hf-resume")] == [cb1.run.id]
    fresh, cb3 = trainer(2)
    fresh.train()  # not resumed: a run of its own
    assert cb3.run is not None and cb3.run.id != cb1.run.id


# -- a training that raises: the Trainer has no failure event --------------------------------------------------
class Boom(transformers.TrainerCallback):
    """Raises at step ``at`` (None: never), as an out-of-memory error or a bad batch would."""

    def __init__(self, at: int | None) -> None:
        self.at = at

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step == self.at:
            raise RuntimeError(f"boom at {self.at}")


def _crashing_trainer(out: Path, callback: WattprintCallback, boom: Boom, **kw: Any) -> Any:
    settings: dict[str, Any] = dict(output_dir=str(out), max_steps=4, per_device_train_batch_size=4, save_strategy="no",
                                    report_to="none", use_cpu=True, disable_tqdm=True, seed=0)
    settings.update(kw)
    return transformers.Trainer(model=_tiny_gpt2(), args=transformers.TrainingArguments(**settings),
                                train_dataset=_data(0), callbacks=[callback, Pace(), boom])


def _train_until_it_raises(out: Path, project: str, at: int, **kw: Any) -> tuple[WattprintCallback, Boom, Any, Any]:
    """A Trainer whose training raises at step ``at``, caught here: (callback, boom, trainer, the run it left)."""
    callback = WattprintCallback(project=project, interval_s=SAMPLE_INTERVAL_S)
    boom = Boom(at)
    trainer = _crashing_trainer(out, callback, boom, **kw)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.train()
    assert callback.run is not None
    return callback, boom, trainer, callback.run


def _stored_once_ended(db: Path, run: Any, within_s: float = 20.0) -> dict[str, Any]:
    """The stored run once it is no longer running, waiting at most ``within_s`` (the script does nothing else).

    The run's status changes as its stop() begins, on the watcher's thread; the store has it once stop() wrote it,
    with the figures of the run's end."""
    deadline = time.monotonic() + within_s
    while True:
        with open_store(str(db), readonly=True) as store:
            stored: dict[str, Any] = store.get_run(run.id).to_dict()
        if stored["status"] != "running" or time.monotonic() > deadline:
            return stored
        time.sleep(SAMPLE_INTERVAL_S / 2)


def test_a_training_that_raised_and_was_caught_ends_failed_then_not_at_the_next_train(wattprint_env: Path,
                                                                                       tmp_path: Path) -> None:
    """The failed run used to stay open until the next train() or the process's exit (in a notebook, hours of idle
    time charged to it), and was then stored as interrupted."""
    callback, boom, trainer, failed = _train_until_it_raises(tmp_path / "out", "hf-crash", 3)
    at_failure = _stored_once_ended(wattprint_env, failed)  # while the script calls nothing of the Trainer's
    assert at_failure["status"] == failed.status == "failed"
    assert any(n.startswith("the training raised") for n in at_failure["device_notes"])  # how its end was found
    time.sleep(5 * SAMPLE_INTERVAL_S)  # idle: a notebook user reading the traceback
    boom.at = None
    trainer.train()
    assert callback.run is not None and callback.run.id != failed.id and callback.footprint is not None
    with open_store(str(wattprint_env), readonly=True) as store:
        after = store.get_run(failed.id).to_dict()
        assert store.get_run(callback.run.id).status == "finished"
    # the idle time and the next training add nothing to the failed run
    assert (after["status"], after["duration_s"], after["energy_kwh"]) == (
        "failed", at_failure["duration_s"], at_failure["energy_kwh"])


class CtrlC(transformers.TrainerCallback):
    """Ctrl-C at step 2: the run's handler chains to Python's, which raises KeyboardInterrupt in the training."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step == 2:
            os.kill(os.getpid(), signal.SIGINT)


def test_a_training_interrupted_by_ctrl_c_and_caught_ends_interrupted(wattprint_env: Path, tmp_path: Path) -> None:
    callback = WattprintCallback(project="hf-ctrl-c", interval_s=SAMPLE_INTERVAL_S)
    trainer = _crashing_trainer(tmp_path / "out", callback, Boom(None))
    trainer.add_callback(CtrlC())
    with pytest.raises(KeyboardInterrupt):
        trainer.train()
    assert callback.run is not None
    stored = _stored_once_ended(wattprint_env, callback.run)
    assert stored["status"] == callback.run.status == "interrupted"
    assert any(n.startswith(f"the training was interrupted (signal {int(signal.SIGINT)})")
               for n in stored["device_notes"])


def test_a_training_resumed_in_the_same_process_after_it_raised_leaves_the_idle_time_out(wattprint_env: Path,
                                                                                          tmp_path: Path) -> None:
    """train(resume_from_checkpoint=True) after a caught failure continues the stored run: its first segment ends
    at the failure, so the time in between is in neither the run nor the model card."""
    callback, boom, trainer, failed = _train_until_it_raises(tmp_path / "out", "hf-crash-resume", 3,
                                                             save_strategy="steps", save_steps=2)
    at_failure = _stored_once_ended(wattprint_env, failed)
    assert at_failure["status"] == "failed"
    first_segment_s = at_failure["duration_s"]
    time.sleep(5 * SAMPLE_INTERVAL_S)
    boom.at = None
    trainer.train(resume_from_checkpoint=True)
    run = callback.run
    assert run is not None and run.id == failed.id and run.resumed and callback.footprint is not None
    with open_store(str(wattprint_env), readonly=True) as store:
        resumed = store.get_run(run.id).to_dict()
    assert resumed["status"] == "finished"
    segments = resumed["segments"]
    assert len(segments) == 2 and segments[0]["duration_s"] == pytest.approx(first_segment_s)
    assert resumed["duration_s"] == pytest.approx(sum(s["duration_s"] for s in segments))


def test_a_failed_training_found_when_the_next_one_begins_is_ended_failed(wattprint_env: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the check has not run yet (no check thread here), the next train() in the thread finds the training
    call gone: only an exception makes it leave without on_train_end, so the run failed."""
    from wattprint.integrations.watch import CallWatch

    monkeypatch.setattr(CallWatch, "start", lambda self: self)
    callback, boom, trainer, failed = _train_until_it_raises(tmp_path / "out", "hf-crash-next", 2)
    assert failed.status == "running"
    boom.at = None
    trainer.train()
    assert failed.status == "failed" and callback.run is not None and callback.run.status == "finished"
    with open_store(str(wattprint_env), readonly=True) as store:
        stored = store.get_run(failed.id).to_dict()
    assert stored["status"] == "failed"
    assert any("found when the next training began" in n for n in stored["device_notes"])


# -- the "eval" phase: the Trainer has no event before an evaluation's first batch --------------------------------
@pytest.mark.parametrize("strategy", [dict(eval_strategy="steps", eval_steps=2),
                                      dict(eval_strategy="epoch", num_train_epochs=1, max_steps=-1),
                                      dict(eval_strategy="steps", eval_steps=100, eval_on_start=True)])
def test_the_eval_phase_covers_every_evaluation_from_its_first_batch(wattprint_env: Path, tmp_path: Path,
                                                                     strategy: dict[str, Any]) -> None:
    """The phase opened at the first on_prediction_step, which the Trainer calls after the batch: an evaluation's
    first batch (and its data loader and model preparation) was left out, a one-batch evaluation entirely."""
    callback = WattprintCallback(project="hf-eval", interval_s=SAMPLE_INTERVAL_S)
    model = _tiny_gpt2()
    seen: list[bool] = []  # whether the phase was open at each evaluation batch's forward

    def forward_hook(module: Any, args: Any) -> None:
        if not module.training:
            seen.append(callback.session.in_phase)

    model.register_forward_pre_hook(forward_hook)
    settings: dict[str, Any] = dict(output_dir=str(tmp_path / "out"), max_steps=4, per_device_train_batch_size=8,
                                    per_device_eval_batch_size=8, save_strategy="no", report_to="none", use_cpu=True,
                                    disable_tqdm=True, seed=0)
    settings.update(strategy)
    trainer = transformers.Trainer(model=model, args=transformers.TrainingArguments(**settings),
                                   train_dataset=_data(0), eval_dataset=_data(1)[:8],  # one batch per evaluation
                                   callbacks=[callback])
    trainer.train()
    evaluations = [e for e in trainer.state.log_history if "eval_loss" in e]
    assert evaluations and len(seen) == len(evaluations)
    assert all(seen), seen
    run = callback.run
    assert run is not None
    with open_store(str(wattprint_env), readonly=True) as store:
        phases = [p for p in store.phases(run.id) if p["name"] == "eval"]
    assert len(phases) == len(evaluations) and all(p["end_s"] is not None for p in phases)
