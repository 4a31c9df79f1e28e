"""What the callbacks measure and continue, found by a probe with real tiny trainings (CPU): a Transformers training
resumed from a checkpoint outside ``output_dir`` or of another project, evaluation or prediction outside training,
and a Lightning fit with no folder for its model card."""

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

import transformers  # noqa: E402

from wattprint.errors import WattprintWarning  # noqa: E402
from wattprint.integrations.lightning import WattprintCallback as LightningCallback  # noqa: E402
from wattprint.integrations.transformers import WattprintCallback  # noqa: E402
from wattprint.storage import open_store  # noqa: E402

from .conftest import SAMPLE_INTERVAL_S  # noqa: E402
from .test_probe_fixes import Tiny as _ProbeTiny  # noqa: E402
from .test_probe_fixes import _data, _gpt2, _loader  # noqa: E402

NOT_MEASURED = "only training"


def _hf(out: Path, callback: WattprintCallback, **kw: Any) -> Any:
    settings: dict[str, Any] = dict(output_dir=str(out), max_steps=2, per_device_train_batch_size=4,
                                    per_device_eval_batch_size=4, save_strategy="steps", save_steps=2,
                                    report_to="none", use_cpu=True, disable_tqdm=True, seed=0)
    settings.update(kw)
    args = transformers.TrainingArguments(**settings)
    return transformers.Trainer(model=_gpt2(), args=args, train_dataset=_data(16), eval_dataset=_data(8),
                                callbacks=[callback])


def _callback(project: str = "p") -> WattprintCallback:
    return WattprintCallback(project=project, interval_s=SAMPLE_INTERVAL_S)  # no run_name: notes its run


def _said(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, WattprintWarning)]


# -- Transformers: the run a resumed training continues is the one noted in the checkpoint it resumed from ------
def test_a_training_resumed_from_a_checkpoint_outside_output_dir_continues_its_run(wattprint_env: Path,
                                                                                   tmp_path: Path) -> None:
    first = _callback()
    _hf(tmp_path / "a", first).train()
    second = _callback()
    _hf(tmp_path / "b", second, max_steps=4).train(resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-2"))
    assert first.run is not None and second.run is not None
    assert second.run.id == first.run.id and second.run.resumed
    with open_store(str(wattprint_env)) as store:
        assert [r.id for r in store.list_runs(project="p")] == [first.run.id]


def test_a_stale_checkpoint_in_output_dir_is_not_taken_for_the_one_resumed(wattprint_env: Path,
                                                                            tmp_path: Path) -> None:
    """output_dir holds checkpoint-2 of an unrelated training; the training resumes at step 2 from a checkpoint
    elsewhere that notes no run (its training had a run_name): a run of its own, not the unrelated one."""
    stale = tmp_path / "b" / "checkpoint-2"
    stale.mkdir(parents=True)
    (stale / "wattprint_run.json").write_text(json.dumps({"run": "unrelated-run", "project": "p"}) + "\n")
    named = WattprintCallback(project="p", run_name="named", interval_s=SAMPLE_INTERVAL_S)
    _hf(tmp_path / "a", named).train()
    assert not (tmp_path / "a" / "checkpoint-2" / "wattprint_run.json").exists()
    resumed = _callback()
    _hf(tmp_path / "b", resumed, max_steps=4).train(resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-2"))
    assert resumed.run is not None and resumed.run.id not in ("unrelated-run", "named")
    assert resumed.run.persist and not resumed.run.resumed


def test_a_checkpoint_of_another_project_starts_a_run_of_this_project(wattprint_env: Path, tmp_path: Path) -> None:
    """As the Lightning callback does: the stored run of project A is not continued under project B (the store
    refused that, and the resumed training was measured in memory only)."""
    first = _callback("projA")
    _hf(tmp_path / "out", first).train()
    second = _callback("projB")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _hf(tmp_path / "out", second, max_steps=4).train(resume_from_checkpoint=True)
    assert not any("in memory" in m for m in _said(caught)), _said(caught)
    assert first.run is not None and second.run is not None and second.run.id != first.run.id
    assert second.run.project == "projB" and second.run.persist and second.footprint is not None
    with open_store(str(wattprint_env)) as store:
        assert [r.id for r in store.list_runs(project="projB")] == [second.run.id]
        assert store.get_run(second.run.id).status == "finished"


# -- evaluation and prediction outside training are not measured, and the callback says so --------------------
def test_hf_evaluate_and_predict_outside_train_are_said_to_be_unmeasured_once(wattprint_env: Path,
                                                                               tmp_path: Path) -> None:
    callback = _callback()
    trainer = _hf(tmp_path / "out", callback, eval_strategy="steps", eval_steps=1, save_strategy="no")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()  # evaluates inside the training: measured, nothing to say
    assert not [m for m in _said(caught) if NOT_MEASURED in m], _said(caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.evaluate()
        trainer.predict(_data(8))
        trainer.evaluate()
    said = [m for m in _said(caught) if NOT_MEASURED in m]
    assert len(said) == 1 and "train()" in said[0] and "wattprint.track" in said[0], _said(caught)


def test_hf_evaluation_only_says_it_is_unmeasured(wattprint_env: Path, tmp_path: Path) -> None:
    callback = _callback()
    with pytest.warns(WattprintWarning, match=NOT_MEASURED):
        _hf(tmp_path / "out", callback).predict(_data(8))
    assert callback.run is None


class Tiny(_ProbeTiny):
    """test_probe_fixes' module, with the test and predict steps that validate()/test()/predict() need."""

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.validation_step(batch, batch_idx)

    def predict_step(self, batch: Any, batch_idx: int) -> Any:
        return self.net(batch[0])


def _pl(callback: Any, **kw: Any) -> Any:
    settings: dict[str, Any] = dict(accelerator="cpu", devices=1, max_steps=2, logger=False, callbacks=[callback],
                                    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    settings.update(kw)
    return pl.Trainer(**settings)


def test_lightning_validate_test_and_predict_are_said_to_be_unmeasured_once(wattprint_env: Path,
                                                                            tmp_path: Path) -> None:
    callback = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S, model_card_dir=tmp_path)
    trainer = _pl(callback, default_root_dir=str(tmp_path), val_check_interval=1)
    model = Tiny()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, _loader(), _loader())  # validates inside fit(): measured, nothing to say
    assert not [m for m in _said(caught) if NOT_MEASURED in m], _said(caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.validate(model, _loader())
        trainer.test(model, _loader())
        trainer.predict(model, _loader())
    said = [m for m in _said(caught) if NOT_MEASURED in m]
    assert len(said) == 1 and "fit()" in said[0] and "wattprint.track" in said[0], _said(caught)


# -- Lightning: a fit with no checkpoint or log folder says where its model card can go ----------------------
def test_a_fit_with_no_folder_for_the_card_says_to_name_one(wattprint_env: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # default_root_dir: the working directory, written to only when named
    callback = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S)
    with pytest.warns(WattprintWarning, match="model_card_dir"):
        _pl(callback).fit(Tiny(), _loader())
    assert callback.footprint is not None and callback.model_card_path is None
    assert os.listdir(work) == []
    with warnings.catch_warnings(record=True) as caught:  # said once per callback
        warnings.simplefilter("always")
        _pl(callback).fit(Tiny(), _loader())
    assert not [m for m in _said(caught) if "model_card_dir" in m], _said(caught)
    named = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S, model_card_dir=work)
    _pl(named).fit(Tiny(), _loader())
    assert named.model_card_path == work / "README.md"


def test_without_the_trainers_call_a_resumed_training_is_a_run_of_its_own_and_says_so(
        wattprint_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the training call cannot be found (the resumed path lives there), output_dir/checkpoint-<step> is not
    taken for the checkpoint resumed: here it is a stale one, noting an unrelated run."""
    stale = tmp_path / "b" / "checkpoint-2"
    stale.mkdir(parents=True)
    (stale / "wattprint_run.json").write_text(json.dumps({"run": "unrelated-run", "project": "p"}) + "\n")
    _hf(tmp_path / "a", _callback()).train()
    monkeypatch.setattr(WattprintCallback, "_run_first", lambda self: None)
    resumed = _callback()
    with pytest.warns(WattprintWarning, match="resumed at step 2 from a checkpoint the callback cannot find"):
        _hf(tmp_path / "b", resumed, max_steps=4).train(resume_from_checkpoint=str(tmp_path / "a" / "checkpoint-2"))
    assert resumed.run is not None and resumed.run.id != "unrelated-run" and not resumed.run.resumed
