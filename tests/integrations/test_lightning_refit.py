"""fit() again: on the same Trainer, going on with its training, the same run; on another Trainer, a run of its own."""

from __future__ import annotations

import warnings
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from wattprint.errors import WattprintWarning  # noqa: E402
from wattprint.integrations.lightning import WattprintCallback  # noqa: E402
from wattprint.integrations.modelcard import read_model_card  # noqa: E402
from wattprint.storage import open_store  # noqa: E402

from .conftest import SAMPLE_INTERVAL_S  # noqa: E402
from .test_lightning import BATCH, N_SAMPLES, CaptureLogger, Pace, TinyRegressor, _loader  # noqa: E402

STEPS_PER_EPOCH = N_SAMPLES // BATCH


def _trainer(root: Path, callback: Any, max_epochs: int = 1, **kw: Any) -> Any:
    root.mkdir(parents=True, exist_ok=True)  # the card goes there (no folder is made for it alone)
    settings: dict[str, Any] = dict(accelerator="cpu", devices=1, max_epochs=max_epochs, logger=False,
                                    callbacks=[callback], enable_checkpointing=False, enable_progress_bar=False,
                                    enable_model_summary=False, default_root_dir=str(root))
    settings.update(kw)
    return pl.Trainer(**settings)


def _runs(db: Path, project: str) -> list[Any]:
    with open_store(str(db)) as store:
        return store.list_runs(project=project)


def test_a_second_fit_that_goes_on_with_the_trainers_training_continues_its_run(wattprint_env: Path,
                                                                                 tmp_path: Path) -> None:
    """max_epochs raised and fit() again (a notebook): one training in two calls. It started a new run, so the card
    held the last fit's emissions only and the logged energy fell back to ~0 at its first step."""
    logger = CaptureLogger(str(tmp_path / "logs"))
    callback = WattprintCallback(project="pl-refit", interval_s=SAMPLE_INTERVAL_S, quiet=True,
                                 model_card_dir=tmp_path / "card")
    trainer = _trainer(tmp_path, callback, logger=logger, log_every_n_steps=2, callbacks=[Pace(), callback])
    model = TinyRegressor()
    trainer.fit(model, _loader(0))
    assert callback.run is not None and callback.footprint is not None
    run_id, first = callback.run.id, callback.footprint
    trainer.fit_loop.max_epochs = 2
    trainer.fit(model, _loader(0))
    assert trainer.global_step == 2 * STEPS_PER_EPOCH

    assert callback.run is not None and callback.run.id == run_id
    records = _runs(wattprint_env, "pl-refit")
    assert [(r.id, r.status) for r in records] == [(run_id, "finished")]
    stored = records[0].to_dict()
    assert stored["energy_kwh"] > first.energy_kwh.value  # both fits
    block = read_model_card(tmp_path / "card")
    assert block is not None
    assert block["emissions"] == pytest.approx(stored["operational_co2e_kg"] * 1000, rel=5e-4)  # 4 significant digits
    energies = [m["wattprint/energy_kwh"] for _, m in logger.metrics if "wattprint/energy_kwh" in m]
    assert len(energies) > STEPS_PER_EPOCH and energies[0] > 0
    # cumulative over both fits (a resumed run's offset, read back from the store, may differ in the last digits)
    assert all(later >= earlier * (1 - 1e-6) for earlier, later in pairwise(energies))


def test_a_fit_after_a_caught_failure_that_goes_on_from_its_step_continues_the_run(wattprint_env: Path,
                                                                                   tmp_path: Path) -> None:
    class FailsOnce(TinyRegressor):
        failed = False

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            if self.global_step == 3 and not self.failed:
                self.failed = True
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    callback = WattprintCallback(project="pl-retry", interval_s=SAMPLE_INTERVAL_S, quiet=True,
                                 model_card_dir=tmp_path / "card")
    trainer = _trainer(tmp_path, callback)
    model = FailsOnce()
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(model, _loader(0))
    assert callback.run is not None and trainer.global_step == 3
    run_id = callback.run.id
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, _loader(0))
    assert callback.run is not None and callback.run.id == run_id
    assert [(r.id, r.status) for r in _runs(wattprint_env, "pl-retry")] == [(run_id, "finished")]
    # its steps go past this fit's total: the framework's counts, not the user's steps-against-epochs mix-up
    assert not [w for w in caught if "past total_steps" in str(w.message)]


def test_one_callback_on_two_trainers_keeps_each_trainers_run_and_card(wattprint_env: Path, tmp_path: Path) -> None:
    """A fit on a new Trainer is a run of its own. A fit of the first Trainer again that trains no step (max_epochs
    reached) was stored as a near-empty third run, and its warning named the other Trainer's card as kept."""
    callback = WattprintCallback(project="pl-two", interval_s=SAMPLE_INTERVAL_S, quiet=True)
    model = TinyRegressor()
    first = _trainer(tmp_path / "first", callback)
    first.fit(model, _loader(0))
    assert callback.run is not None
    first_run, first_card = callback.run.id, callback.model_card_path
    assert first_card == tmp_path / "first" / "README.md"
    card = read_model_card(first_card)

    second = _trainer(tmp_path / "second", callback)
    second.fit(model, _loader(0))
    assert callback.run is not None and callback.run.id != first_run
    assert callback.model_card_path == tmp_path / "second" / "README.md"

    with pytest.warns(WattprintWarning, match="trained no step") as caught:
        first.fit(model, _loader(0))
    message = str(next(w.message for w in caught if "trained no step" in str(w.message)))
    assert str(first_card) in message and "second" not in message
    assert callback.run is not None and callback.run.id == first_run
    assert callback.model_card_path == first_card
    assert read_model_card(first_card) == card
    assert len(_runs(wattprint_env, "pl-two")) == 2
