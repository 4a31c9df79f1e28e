"""Defects a probe found in the session under both callbacks: arguments of the wrong type (a name given as ``run``)
fail when the callback is made, not in the training; an ended run handed to a second training measures nothing for
it; a model card path may name the README; a training that left with a KeyboardInterrupt is ``interrupted``."""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("lightning.pytorch")

import transformers  # noqa: E402

from wattprint.errors import WattprintError, WattprintWarning  # noqa: E402
from wattprint.integrations.lightning import WattprintCallback as LightningCallback  # noqa: E402
from wattprint.integrations.modelcard import read_model_card  # noqa: E402
from wattprint.integrations.session import TrainingSession  # noqa: E402
from wattprint.integrations.transformers import WattprintCallback  # noqa: E402
from wattprint.storage import open_store  # noqa: E402
from wattprint.tracking import track  # noqa: E402

from .conftest import SAMPLE_INTERVAL_S  # noqa: E402
from .test_probe_fixes import Tiny, _hf, _loader, _pl, _wattprint_warnings  # noqa: E402

CALLBACKS = [pytest.param(WattprintCallback, id="hf"), pytest.param(LightningCallback, id="lightning")]
WAIT_S = 30.0  # the most a test waits for the watch (it checks every sampling interval here) before failing


# -- a name where a Run is expected, and other arguments of the wrong type --------------------------------------
@pytest.mark.parametrize("make", CALLBACKS)
def test_a_run_name_given_as_run_fails_when_the_callback_is_made(wattprint_env: Path, make: Any) -> None:
    with pytest.raises(WattprintError, match="run must be a wattprint Run") as e:
        make(project="pw", run="job-42")
    assert "run_name='job-42'" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("make", CALLBACKS)
@pytest.mark.parametrize(("given", "said"), [
    ({"prefix": None}, "prefix"),
    ({"prefix": 3}, "prefix"),
    ({"hardware_used": 5}, "hardware_used"),
    ({"geographical_location": ["FR"]}, "geographical_location"),
    ({"model_card": "no"}, "model_card must be True or False"),
    ({"meta": "x"}, "meta"),
    ({"db": "sqlite:///wattprint-test-no-such.db"}, "filesystem root"),  # SQLAlchemy's relative form, refused
])
def test_an_argument_of_the_wrong_type_fails_when_the_callback_is_made(wattprint_env: Path, make: Any,
                                                                       given: dict[str, Any], said: str) -> None:
    with pytest.raises(WattprintError, match=said) as e:
        make(project="pw", **given)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("make", CALLBACKS)
def test_arguments_of_the_right_type_are_taken(wattprint_env: Path, tmp_path: Path, make: Any) -> None:
    make(project="pw", prefix="", hardware_used="8 x NVIDIA A100", geographical_location="FR", model_card=False,
         meta={"lr": 3e-4}, db=tmp_path / "runs.db")


def test_the_callback_refuses_the_store_urls_the_tracker_refuses(wattprint_env: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for db in ("sqlite:///wattprint-test-no-such.db", "sqlite://runs.db", "postgresql://host/runs",
               str(tmp_path / "a.db"), f"sqlite:///{tmp_path}/b.db"):
        refused = None
        try:
            track("agree", db=db, interval_s=SAMPLE_INTERVAL_S).start().stop()
        except WattprintError as e:
            refused = e
        try:
            WattprintCallback(project="agree", db=db)
        except WattprintError as e:
            assert refused is not None, f"{db}: the callback refuses it ({e}), the tracker takes it"
        else:
            assert refused is None, f"{db}: the tracker refuses it ({refused}), the callback takes it"
    monkeypatch.setenv("WATTPRINT_DB", "sqlite:///wattprint-test-no-such.db")
    with pytest.raises(WattprintError, match="WATTPRINT_DB"):  # where the setting came from
        WattprintCallback(project="agree")
    WattprintCallback(project="agree", persist=False)  # stores nothing: the store is never opened, as by track()


# -- an ended run handed to another training measures nothing for it ------------------------------------------
def test_an_ended_run_handed_to_another_hf_training_logs_stores_and_cards_nothing(wattprint_env: Path,
                                                                                  tmp_path: Path) -> None:
    run = track("shared", "shared", interval_s=SAMPLE_INTERVAL_S)
    _hf(tmp_path / "a", [WattprintCallback(run=run)]).train()  # handed over unstarted: started and stopped there
    assert run.status == "finished"
    with open_store(str(wattprint_env), readonly=True) as store:
        before = store.get_run("shared").to_dict()
    second = WattprintCallback(run=run)
    trainer = _hf(tmp_path / "b", [second], logging_steps=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train()
    assert any("has ended (finished): this training is not measured" in m for m in _wattprint_warnings(caught))
    assert not [k for entry in trainer.state.log_history for k in entry if k.startswith("wattprint/")]
    assert second.footprint is None and second.model_card_block is None
    assert not (tmp_path / "b" / "README.md").exists()
    with open_store(str(wattprint_env), readonly=True) as store:
        assert store.get_run("shared").to_dict() == before


def test_an_ended_run_handed_to_another_lightning_fit_logs_stores_and_cards_nothing(wattprint_env: Path,
                                                                                     tmp_path: Path) -> None:
    run = track("shared", "shared-pl", interval_s=SAMPLE_INTERVAL_S)
    _pl(tmp_path, [LightningCallback(run=run, model_card_dir=tmp_path / "card-a")]).fit(Tiny(), _loader())
    assert run.status == "finished" and read_model_card(tmp_path / "card-a") is not None
    second = LightningCallback(run=run, model_card_dir=tmp_path / "card-b")
    trainer = _pl(tmp_path, [second], log_every_n_steps=1)
    with pytest.warns(WattprintWarning, match="this training is not measured"):
        trainer.fit(Tiny(), _loader())
    assert not [k for k in trainer.callback_metrics if k.startswith("wattprint/")]
    assert second.footprint is None and second.model_card_path is None
    assert not (tmp_path / "card-b").exists()


# -- a model card path may name the README, as write_model_card's may ---------------------------------------------
def test_the_card_goes_to_the_readme_path_or_into_the_folder_given(wattprint_env: Path, tmp_path: Path) -> None:
    s = TrainingSession(project="s", run_name="card-path", interval_s=SAMPLE_INTERVAL_S)
    s.begin()
    s.finish()
    readme = tmp_path / "out" / "README.md"
    assert s.write_card(readme) == readme and readme.is_file()  # not out/README.md/README.md
    assert s.write_card(tmp_path / "model") == tmp_path / "model" / "README.md"
    folder = tmp_path / "run.md"  # a folder, whatever its name (a Trainer's output_dir)
    folder.mkdir()
    assert s.write_card(folder) == folder / "README.md"


def test_a_frameworks_guesses_do_not_replace_what_the_user_wrote_in_the_card(wattprint_env: Path,
                                                                              tmp_path: Path) -> None:
    # the callbacks pass their guesses (training type from the model's origin, hardware seen) to card_block: they
    # fill a field the card lacks, and a value the user wrote stays; a value given to the callback is written
    readme = tmp_path / "README.md"
    readme.write_text('---\nco2_eq_emissions:\n  emissions: 0\n  training_type: "pre-training"\n'
                      '  hardware_used: "8 x A100 (rented)"\n---\nbody\n', encoding="utf-8")
    s = TrainingSession(project="s", run_name="guesses", interval_s=SAMPLE_INTERVAL_S)
    s.begin()
    s.finish()
    s.write_card(readme, training_type="fine-tuning", hardware_used="AMD EPYC (2 CPU cores)")
    block = read_model_card(readme)
    assert block is not None
    assert block["training_type"] == "pre-training" and block["hardware_used"] == "8 x A100 (rented)", block
    given = TrainingSession(project="s", run_name="given", interval_s=SAMPLE_INTERVAL_S, training_type="fine-tuning")
    given.begin()
    given.finish()
    given.write_card(readme, training_type="pre-training")
    assert read_model_card(readme)["training_type"] == "fine-tuning"
    fresh = tmp_path / "fresh" / "README.md"  # a card without the fields gets the guesses
    s.write_card(fresh, training_type="fine-tuning", hardware_used="AMD EPYC (2 CPU cores)")
    assert read_model_card(fresh)["training_type"] == "fine-tuning"


def test_a_lightning_model_card_dir_naming_the_readme_writes_that_file(wattprint_env: Path, tmp_path: Path) -> None:
    readme = tmp_path / "out" / "README.md"
    callback = LightningCallback(project="pl", interval_s=SAMPLE_INTERVAL_S, model_card_dir=readme)
    _pl(tmp_path, [callback]).fit(Tiny(), _loader())
    assert callback.model_card_path == readme and readme.is_file()
    assert read_model_card(readme) == callback.model_card_block


# -- a training call that left with a KeyboardInterrupt, whatever raised it, is interrupted -------------------------
def _wait_for_the_end(session: TrainingSession) -> None:
    deadline = time.monotonic() + WAIT_S
    while session.footprint is None and time.monotonic() < deadline:
        time.sleep(SAMPLE_INTERVAL_S / 2)


def test_a_watched_call_that_left_with_a_keyboard_interrupt_is_stored_interrupted(wattprint_env: Path) -> None:
    s = TrainingSession(project="s", run_name="kb", interval_s=SAMPLE_INTERVAL_S)

    def train() -> None:
        s.begin()
        s.watch(sys._getframe())
        raise KeyboardInterrupt  # raised by code (a callback), not by a signal

    try:
        train()
    except KeyboardInterrupt:
        _wait_for_the_end(s)  # the script's handler (saving the model, say) is still at work when the watch checks
    assert s.run is not None and s.run.status == "interrupted"
    record = open_store(str(wattprint_env)).get_run("kb").to_dict()
    assert record["status"] == "interrupted"
    assert any("was interrupted (KeyboardInterrupt)" in n for n in record["device_notes"])


class Interrupt(transformers.TrainerCallback):
    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step == 1:
            raise KeyboardInterrupt


def test_an_hf_training_a_callback_interrupted_is_stored_interrupted(wattprint_env: Path, tmp_path: Path) -> None:
    callback = WattprintCallback(project="p", run_name="hf-kb", interval_s=SAMPLE_INTERVAL_S)
    try:
        _hf(tmp_path / "out", [callback, Interrupt()], max_steps=4).train()
    except KeyboardInterrupt:
        _wait_for_the_end(callback.session)
    assert callback.run is not None and callback.run.status == "interrupted"
    with open_store(str(wattprint_env), readonly=True) as store:
        assert store.get_run("hf-kb").status == "interrupted"
