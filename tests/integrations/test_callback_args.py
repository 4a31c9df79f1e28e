"""The callbacks' path arguments, Lightning's stage names, and why a fit trained no step (a probe of the
integrations)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pl = pytest.importorskip("lightning.pytorch")

import torch  # noqa: E402

from wattprint.errors import InputConflictError  # noqa: E402
from wattprint.integrations.lightning import WattprintCallback as LightningCallback  # noqa: E402
from wattprint.integrations.modelcard import read_model_card  # noqa: E402
from wattprint.integrations.transformers import WattprintCallback  # noqa: E402

from .conftest import SAMPLE_INTERVAL_S  # noqa: E402
from .test_probe_fixes import Tiny, _hf, _loader, _pl, _wattprint_warnings  # noqa: E402


class TinyWithTest(Tiny):
    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test_loss", torch.nn.functional.mse_loss(self.net(x), y), batch_size=4)


def _empty_loader() -> Any:
    x = torch.zeros(0, 4)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(dim=1, keepdim=True)), batch_size=4)


# -- model_card_dir / output_dir: text or os.PathLike, refused when given; '~' is the home folder ---------------
@pytest.mark.parametrize("bad", [5, b"dir", ""])
def test_a_lightning_model_card_dir_that_is_no_path_fails_when_the_callback_is_made(wattprint_env: Path,
                                                                                     bad: object) -> None:
    """model_card_dir=5 was taken, then on_fit_end raised a TypeError from os.fspath after a successful training."""
    with pytest.raises(InputConflictError, match="model_card_dir") as e:
        LightningCallback(project="p", model_card_dir=bad)  # type: ignore[arg-type]
    assert "\n" not in str(e.value)
    assert (f"got {bad!r}" if bad else "is empty") in str(e.value)


@pytest.mark.parametrize("bad", [5, b"dir"])
def test_the_hf_write_model_card_refuses_a_path_that_is_no_path(wattprint_env: Path, bad: object) -> None:
    callback = WattprintCallback(project="p")
    with pytest.raises(InputConflictError, match=f"output_dir must be a folder .*got {bad!r}"):
        callback.write_model_card(bad)  # type: ignore[arg-type]


def test_a_model_card_dir_starting_with_a_tilde_is_in_the_home_folder(wattprint_env: Path, tmp_path: Path,
                                                                      home_elsewhere: Path) -> None:
    home, work = home_elsewhere, Path.cwd()  # the fixture works in a folder apart from HOME
    callback = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S, quiet=True, model_card_dir="~/card")
    _pl(tmp_path / "root", [callback]).fit(Tiny(), _loader())
    assert callback.model_card_path == home / "card" / "README.md"
    assert read_model_card(home / "card") is not None
    assert not (work / "~").exists()

    hf = WattprintCallback(project="p", interval_s=SAMPLE_INTERVAL_S, quiet=True, model_card=False)
    _hf(tmp_path / "out", [hf]).train()
    assert hf.write_model_card("~/hf-card") == home / "hf-card" / "README.md"
    assert not (work / "~").exists()


# -- validate()/test()/predict(): named as the user called them ---------------------------------------------------
@pytest.mark.parametrize("call", ["validate", "test"])
def test_the_unmeasured_call_is_named_as_called(wattprint_env: Path, tmp_path: Path, call: str) -> None:
    """The stage is Lightning's TrainerFn, a str enum: the warning said '(this is TrainerFn.TESTING())'."""
    callback = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S, quiet=True)
    trainer = _pl(tmp_path, [callback])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(trainer, call)(TinyWithTest(), _loader())
    said = [m for m in _wattprint_warnings(caught) if "not measured" in m]
    assert len(said) == 1 and f"(this is {call}())" in said[0], said


# -- a fit that trains no step: the cause, not always "max_epochs / max_steps reached" ----------------------------
@pytest.mark.parametrize(("settings", "cause"), [
    ({"limit_train_batches": 0}, "limit_train_batches=0 turns its training off"),
    ({"limit_train_batches": 0.0}, "limit_train_batches=0.0 turns its training off"),
    ({"max_epochs": 0, "max_steps": -1}, "max_epochs=0 turns its training off"),
    ({"max_steps": 0}, "max_steps=0 turns its training off"),
    ({"empty": True}, "its training data loader yields no batch"),
])
def test_a_fit_with_training_off_says_why(wattprint_env: Path, tmp_path: Path, settings: dict[str, Any],
                                          cause: str) -> None:
    callback = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S, quiet=True, model_card_dir=tmp_path)
    loader = _empty_loader() if settings.pop("empty", False) else _loader()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _pl(tmp_path, [callback], **settings).fit(Tiny(), loader)
    said = [m for m in _wattprint_warnings(caught) if "trained no step" in m]
    assert len(said) == 1 and f"({cause})" in said[0], said
    assert "already" not in said[0]


@pytest.mark.parametrize(("limit", "reached"), [
    ({"max_steps": 2}, "the Trainer had reached max_steps=2 already, at step 2"),
    ({"max_epochs": 1, "max_steps": -1}, "the Trainer had reached max_epochs=1 already"),
])
def test_a_fit_again_after_the_trainers_limit_says_which_limit(wattprint_env: Path, tmp_path: Path,
                                                               limit: dict[str, Any], reached: str) -> None:
    callback = LightningCallback(project="p", interval_s=SAMPLE_INTERVAL_S, quiet=True, model_card_dir=tmp_path)
    trainer, model = _pl(tmp_path, [callback], **limit), Tiny()
    trainer.fit(model, _loader())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, _loader())
    said = [m for m in _wattprint_warnings(caught) if "trained no step" in m]
    assert len(said) == 1 and reached in said[0] and "stays as the last training wrote it" in said[0], said
