"""Defects a probe found with real tiny trainings (CPU): settings checked when the callback is made and never a
failed training over the footprint, no stale projection on a finished run, no folder made for a dry run's card,
resumed trainings that continue their run, finite logs only, an explicit card write that writes, and a README
that opens with a horizontal rule left alone."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pl = pytest.importorskip("lightning.pytorch")

import torch  # noqa: E402
import transformers  # noqa: E402

from wattprint.errors import UnknownNameError, WattprintError, WattprintWarning  # noqa: E402
from wattprint.integrations.lightning import WattprintCallback as LightningCallback  # noqa: E402
from wattprint.integrations.modelcard import read_model_card, write_model_card  # noqa: E402
from wattprint.integrations.session import TrainingSession  # noqa: E402
from wattprint.integrations.transformers import WattprintCallback  # noqa: E402
from wattprint.storage import open_store  # noqa: E402

from .conftest import SAMPLE_INTERVAL_S  # noqa: E402

VOCAB, SEQ = 100, 16


# -- tiny trainings ---------------------------------------------------------------------------------------
def _gpt2() -> Any:
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=SEQ, n_embd=32, n_layer=1, n_head=2)
    return transformers.GPT2LMHeadModel(config)


def _data(n: int = 32) -> list[dict[str, Any]]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, VOCAB, (n, SEQ), generator=g)
    return [{"input_ids": row, "labels": row.clone()} for row in ids]


def _hf(out: Path, callbacks: list[Any], **kw: Any) -> Any:
    settings: dict[str, Any] = dict(output_dir=str(out), max_steps=2, per_device_train_batch_size=4,
                                    save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True, seed=0)
    settings.update(kw)
    args = transformers.TrainingArguments(**settings)
    return transformers.Trainer(model=_gpt2(), args=args, train_dataset=_data(), callbacks=callbacks)


class Boom(transformers.TrainerCallback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step == self.at:
            raise RuntimeError(f"boom at {self.at}")


class StopAt(transformers.TrainerCallback):
    """Early stopping, in effect: the training ends well before max_steps."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
        if state.global_step >= self.at:
            control.should_training_stop = True
        return control


class Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, batch_size=4)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y), batch_size=4)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader() -> Any:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4)


def _pl(root: Path, callbacks: list[Any], **kw: Any) -> Any:
    settings: dict[str, Any] = dict(accelerator="cpu", devices=1, max_steps=2, logger=False, callbacks=callbacks,
                                    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                                    default_root_dir=str(root))
    settings.update(kw)
    return pl.Trainer(**settings)


def _wattprint_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, WattprintWarning)]


# -- D1: bad settings fail when the callback is made; the training itself never fails over the footprint -------
@pytest.mark.parametrize("make", [WattprintCallback, LightningCallback])
def test_an_unknown_pue_preset_fails_when_the_callback_is_made(wattprint_env: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, make: Any) -> None:
    with pytest.raises(UnknownNameError):
        make(project="p", pue="bogus")
    monkeypatch.setenv("WATTPRINT_PUE", "bogus")
    with pytest.raises(UnknownNameError):
        make(project="p")
    monkeypatch.delenv("WATTPRINT_PUE")
    config = tmp_path / "wattprint.toml"
    config.write_text('pue = "bogus2"\n')
    monkeypatch.setenv("WATTPRINT_CONFIG", str(config))
    with pytest.raises(UnknownNameError):
        make(project="p")


def test_a_setting_gone_bad_after_the_callback_was_made_leaves_the_hf_training_unmeasured(
        wattprint_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    callback = WattprintCallback(project="p", interval_s=SAMPLE_INTERVAL_S)
    monkeypatch.setenv("WATTPRINT_PUE", "bogus")  # the environment changed between making the callback and train()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _hf(tmp_path / "out", [callback]).train()
    assert result.global_step == 2
    said = _wattprint_warnings(caught)
    assert any("cannot be measured" in m and "bogus" in m for m in said), said
    assert not any("store cannot be used" in m for m in said), said  # not the store's fault
    assert callback.footprint is None and callback.model_card_block is None
    assert not (tmp_path / "out" / "README.md").exists()


def test_a_setting_gone_bad_after_the_callback_was_made_leaves_the_lightning_fit_unmeasured(
        wattprint_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    callback = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S, model_card_dir=tmp_path / "card")
    monkeypatch.setenv("WATTPRINT_PUE", "bogus")
    trainer = _pl(tmp_path, [callback])
    with pytest.warns(WattprintWarning, match="cannot be measured"):
        trainer.fit(Tiny(), _loader())
    assert trainer.global_step == 2 and callback.footprint is None
    assert not (tmp_path / "card").exists()
    monkeypatch.delenv("WATTPRINT_PUE")  # fixed: the next fit is measured
    _pl(tmp_path, [callback]).fit(Tiny(), _loader())
    assert callback.footprint is not None and read_model_card(tmp_path / "card") is not None


# -- D2: a finished run keeps no stale projection ------------------------------------------------------------
def test_an_early_stopped_hf_training_stores_no_stale_projection(wattprint_env: Path, tmp_path: Path) -> None:
    callback = WattprintCallback(project="p", interval_s=SAMPLE_INTERVAL_S)
    _hf(tmp_path / "out", [callback, StopAt(3)], max_steps=20).train()
    assert callback.session.projection is not None and callback.session.projection.fraction_done < 0.5
    assert callback.run is not None
    with open_store(str(wattprint_env)) as store:
        record = store.get_run(callback.run.id)
    assert record.status == "finished"
    assert "projection" not in record.summary  # the actual totals are the answer, not a projection from step 3/20


# -- D3: a dry run writes no card and makes no folder for one --------------------------------------------------
def test_fast_dev_run_writes_no_model_card_and_no_folder(wattprint_env: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    callback = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S)
    trainer = pl.Trainer(accelerator="cpu", devices=1, fast_dev_run=True, callbacks=[callback],
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Tiny(), _loader(), _loader())
    assert callback.footprint is not None  # still measured
    assert callback.model_card_path is None
    assert sorted(os.listdir(work)) == []  # Lightning wrote nothing here, nor do we


def test_a_checkpoint_folder_lightning_never_made_is_not_made_for_the_card(wattprint_env: Path,
                                                                          tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    never = tmp_path / "ck"
    ckpt = ModelCheckpoint(dirpath=never, every_n_epochs=5)  # no checkpoint within this short fit
    callback = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S)
    _pl(tmp_path / "root", [callback, ckpt], enable_checkpointing=True).fit(Tiny(), _loader())
    assert callback.footprint is not None and callback.model_card_path is None
    assert not never.exists()


# -- D4: an HF training resumed in the same process after a caught crash continues its stored run -------------
def test_hf_resume_in_the_same_process_after_a_caught_crash_continues_the_stored_run(wattprint_env: Path,
                                                                                     tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = WattprintCallback(project="p", interval_s=SAMPLE_INTERVAL_S)
    with pytest.raises(RuntimeError, match="boom"):
        _hf(out, [first, Boom(3)], max_steps=4, save_strategy="steps", save_steps=2).train()
    assert first.run is not None
    second = WattprintCallback(project="p", interval_s=SAMPLE_INTERVAL_S)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _hf(out, [second], max_steps=4, save_strategy="steps", save_steps=2).train(resume_from_checkpoint=True)
    said = _wattprint_warnings(caught)
    assert not any("in memory" in m for m in said), said
    assert second.run is not None and second.run.id == first.run.id
    assert second.run.persist and second.run.resumed
    assert not first.session.active and first.run.status == "failed"  # the training raised
    with open_store(str(wattprint_env)) as store:
        assert store.get_run(first.run.id).status == "finished"
        assert [r.id for r in store.list_runs(project="p")] == [first.run.id]


# -- D5: a Lightning fit resumed from a checkpoint, without run_name, continues its run ------------------------
def test_lightning_fit_resumed_from_a_checkpoint_continues_its_run(wattprint_env: Path, tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import ModelCheckpoint

    ck = tmp_path / "ck"

    def fit(max_steps: int, ckpt_path: str | None) -> LightningCallback:
        callback = LightningCallback(project="pl-resume", interval_s=SAMPLE_INTERVAL_S)  # no run_name
        saver = ModelCheckpoint(dirpath=ck, every_n_train_steps=2, save_last=True)
        _pl(tmp_path / "root", [callback, saver], max_steps=max_steps, enable_checkpointing=True).fit(
            Tiny(), _loader(), ckpt_path=ckpt_path)
        return callback

    first = fit(2, None)
    assert first.run is not None and first.footprint is not None
    part1 = first.footprint.energy_kwh.value
    second = fit(4, str(ck / "last.ckpt"))
    assert second.run is not None and second.run.id == first.run.id and second.run.resumed
    assert second.footprint is not None and second.footprint.energy_kwh.value > part1  # the card covers both
    with open_store(str(wattprint_env)) as store:
        runs = store.list_runs(project="pl-resume")
    assert [r.id for r in runs] == [first.run.id] and runs[0].status == "finished"
    fresh = fit(2, None)  # not resumed: a run of its own
    assert fresh.run is not None and fresh.run.id != first.run.id


# -- D6: only finite numbers reach the logs and the Trainer's JSON state ---------------------------------------
def test_no_infinite_value_reaches_the_hf_logs_or_trainer_state(wattprint_env: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # an interval longer than the training: the projection's upper end stays unbounded all along
    callback = WattprintCallback(project="p", interval_s=30)
    trainer = _hf(out, [callback], max_steps=2, logging_steps=1, save_strategy="steps", save_steps=2)
    trainer.train()
    logged = [v for entry in trainer.state.log_history for k, v in entry.items() if k.startswith("wattprint/")]
    assert logged and all(isinstance(v, float) and v == v and abs(v) != float("inf") for v in logged)
    # nothing to project from (no interval closed): no "projected" 0 kWh beside the CO2e so far
    assert not any(k.startswith("wattprint/projected_") for entry in trainer.state.log_history for k in entry)

    def refuse(constant: str) -> Any:
        raise ValueError(constant)

    json.loads((out / "checkpoint-2" / "trainer_state.json").read_text(), parse_constant=refuse)  # strict JSON


def test_session_metrics_leave_out_non_finite_values(wattprint_env: Path) -> None:
    s = TrainingSession(project="p", interval_s=30)
    s.begin()
    s.progress(1, 10)  # before the first interval closes: unbounded above
    assert s.projection is not None and s.projection.co2e_kg.high == float("inf")
    metrics = s.metrics()
    assert "wattprint/co2e_kg" in metrics
    assert not [k for k in metrics if k.startswith("wattprint/projected_")]  # no projection without energy yet
    s.finish()


# -- D7: write_model_card() writes also with model_card=False --------------------------------------------------
def test_write_model_card_writes_when_the_automatic_write_is_off(wattprint_env: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    callback = WattprintCallback(project="p", interval_s=SAMPLE_INTERVAL_S, model_card=False)
    _hf(out, [callback]).train()
    assert not (out / "README.md").exists()  # not at the end
    path = callback.write_model_card()  # asked for: written
    assert path == out / "README.md"
    assert read_model_card(path) == callback.model_card_block


# -- D8: a README that opens with a horizontal rule is not taken for metadata ---------------------------------
HR_README = "---\n\nJust a horizontal rule first, no metadata\n\n---\nmore\n"
BLOCK = {"emissions": 12.5, "source": "wattprint"}


def test_a_readme_opening_with_a_horizontal_rule_is_left_alone(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text(HR_README)
    with pytest.raises(WattprintError, match="not YAML metadata"):
        write_model_card(card, BLOCK)
    assert card.read_text() == HR_README
    card.write_text("---\nlicense: mit\ntags:\n- a\n---\n---\n\nbody after a rule\n")  # real metadata still merges
    write_model_card(card, BLOCK)
    assert read_model_card(card) == BLOCK
    assert card.read_text().endswith("license: mit\ntags:\n- a\nco2_eq_emissions:\n  emissions: 12.5\n"
                                     '  source: "wattprint"\n---\n---\n\nbody after a rule\n')


def test_at_the_end_of_training_such_a_readme_is_a_warning(wattprint_env: Path, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(HR_README)
    s = TrainingSession(project="p", interval_s=SAMPLE_INTERVAL_S)
    s.begin()
    s.finish()
    with pytest.warns(WattprintWarning, match="model card not written"):
        assert s.write_card(tmp_path, at_end=True) is None
    assert (tmp_path / "README.md").read_text() == HR_README


def test_a_checkpoint_of_a_job_of_another_size_continues_rank_zeros_run_and_says_so(wattprint_env: Path,
                                                                                     tmp_path: Path) -> None:
    """Written by 2 processes, resumed on 1: the notes are named per rank, so nothing was continued and the model
    card silently covered the resumed part only."""
    out = tmp_path / "out"
    first = WattprintCallback(project="p", interval_s=SAMPLE_INTERVAL_S)
    with pytest.raises(RuntimeError, match="boom"):
        _hf(out, [first, Boom(3)], max_steps=4, save_strategy="steps", save_steps=2).train()
    ckpt = out / "checkpoint-2"
    (ckpt / "wattprint_run.json").rename(ckpt / "wattprint_run-rank0.json")  # as a 2-process job names them
    (ckpt / "wattprint_run-rank1.json").write_text(json.dumps({"run": "other-rank", "project": "p"}) + "\n")
    second = WattprintCallback(project="p", interval_s=SAMPLE_INTERVAL_S)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _hf(out, [second], max_steps=4, save_strategy="steps", save_steps=2).train(resume_from_checkpoint=str(ckpt))
    said = _wattprint_warnings(caught)
    assert any("a job of 2 process(es); this one has 1" in m for m in said), said
    assert second.run is not None and first.run is not None and second.run.id == first.run.id
