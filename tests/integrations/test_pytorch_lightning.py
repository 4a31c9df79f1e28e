"""The same callback for the standalone ``pytorch_lightning`` package (its Trainer accepts only its own Callbacks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("pytorch_lightning")

import pytorch_lightning  # noqa: E402
import torch  # noqa: E402

from wattprint.integrations.modelcard import read_model_card  # noqa: E402
from wattprint.integrations.pytorch_lightning import WattprintCallback  # noqa: E402
from wattprint.storage import open_store  # noqa: E402

from .conftest import SAMPLE_INTERVAL_S  # noqa: E402


class Tiny(pytorch_lightning.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def test_pytorch_lightning_trainer_accepts_the_callback_and_the_run_is_stored(
    wattprint_env: Path, tmp_path: Path
) -> None:
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=4)
    callback = WattprintCallback(
        project="ptl", run_name="ptl-run", interval_s=SAMPLE_INTERVAL_S, quiet=True, model_card_dir=tmp_path / "card"
    )
    trainer = pytorch_lightning.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=3,
        logger=False,
        callbacks=[callback],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    trainer.fit(Tiny(), loader)
    with open_store(str(wattprint_env)) as store:
        assert store.get_run("ptl-run").status == "finished"
    block = read_model_card(tmp_path / "card")
    assert callback.footprint is not None and block is not None
    assert block["emissions"] == pytest.approx(callback.footprint.operational_co2e_kg.value * 1000, rel=5e-4)


def test_the_default_card_folder_is_the_one_trainer_log_dir_names(wattprint_env: Path, tmp_path: Path) -> None:
    """The card folder is read as Trainer.log_dir reads it, without its broadcast (a collective): for this package's
    CSV logger, its version folder."""
    from pytorch_lightning.loggers import CSVLogger

    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=4)
    callback = WattprintCallback(project="ptl", interval_s=SAMPLE_INTERVAL_S, quiet=True)
    trainer = pytorch_lightning.Trainer(accelerator="cpu", devices=1, max_steps=2, logger=CSVLogger(str(tmp_path)),
                                        callbacks=[callback], enable_checkpointing=False, enable_progress_bar=False,
                                        enable_model_summary=False, default_root_dir=str(tmp_path / "root"))
    trainer.fit(Tiny(), loader)
    assert callback.model_card_path == Path(trainer.log_dir) / "README.md"
    assert callback.model_card_path == tmp_path / "lightning_logs" / "version_0" / "README.md"
    assert read_model_card(callback.model_card_path) is not None
