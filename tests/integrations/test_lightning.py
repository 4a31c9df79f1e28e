"""A real Lightning training of a tiny model on synthetic data on the CPU, tracked by the callback."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning.pytorch")

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from lightning.pytorch.loggers import Logger  # noqa: E402

from wattprint.integrations.lightning import WattprintCallback  # noqa: E402
from wattprint.integrations.modelcard import read_model_card  # noqa: E402
from wattprint.storage import open_store  # noqa: E402
from wattprint.tracking import track  # noqa: E402

from .conftest import SAMPLE_INTERVAL_S  # noqa: E402

FEATURES, N_SAMPLES, BATCH = 8, 64, 8
MAX_STEPS, LOG_EVERY = 6, 2
KEYS = ("wattprint/energy_kwh", "wattprint/co2e_kg", "wattprint/operational_co2e_kg")


class TinyRegressor(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(FEATURES, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, batch_size=BATCH)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y), batch_size=BATCH)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


class CaptureLogger(Logger):
    """Stands in for TensorBoard/CSV: keeps every log_metrics call."""

    def __init__(self, save_dir: str) -> None:
        super().__init__()
        self._save_dir = save_dir
        self.metrics: list[tuple[int | None, dict[str, float]]] = []

    @property
    def name(self) -> str:
        return "capture"

    @property
    def version(self) -> int:
        return 0

    @property
    def save_dir(self) -> str:
        return self._save_dir

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.metrics.append((step, dict(metrics)))

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass


class Pace(pl.Callback):
    """Makes each step outlast a sampling interval, so every log sees fresh samples (the tiny model is too fast)."""

    def on_train_batch_end(self, *args: Any) -> None:
        time.sleep(SAMPLE_INTERVAL_S)


def _loader(seed: int) -> Any:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N_SAMPLES, FEATURES, generator=g)
    y = x.sum(dim=1, keepdim=True)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH)


def test_lightning_fit_is_tracked_logged_and_written_to_the_model_card(wattprint_env: Path, tmp_path: Path) -> None:
    logger = CaptureLogger(str(tmp_path / "logs"))
    callback = WattprintCallback(
        project="pl-test", run_name="tiny-regressor", interval_s=SAMPLE_INTERVAL_S, training_type="pre-training"
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=MAX_STEPS,
        val_check_interval=3,
        log_every_n_steps=LOG_EVERY,
        logger=logger,
        callbacks=[Pace(), callback],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    trainer.fit(TinyRegressor(), _loader(0), _loader(1))

    run = callback.run
    assert run is not None and callback.footprint is not None
    with open_store(str(wattprint_env)) as store:
        record = store.get_run(run.id)
        phases = store.phases(run.id)
    assert record.project == "pl-test"
    assert record.status == "finished"
    assert record.to_dict()["energy_kwh"] > 0
    assert "eval" in {p["name"] for p in phases}

    # on the steps Lightning logs, our keys travel in the same log_metrics call as the module's metrics
    step_logs = [(step, m) for step, m in logger.metrics if "train_loss" in m]
    assert len(step_logs) == MAX_STEPS // LOG_EVERY
    for _, m in step_logs:
        assert all(m[k] > 0 for k in KEYS)
        assert m["wattprint/projected_co2e_kg"] > 0
    energies = [m["wattprint/energy_kwh"] for _, m in step_logs]
    assert energies == sorted(energies)  # cumulative
    final_step, final = logger.metrics[-1]
    assert final_step == MAX_STEPS
    assert final["wattprint/energy_kwh"] == pytest.approx(callback.footprint.energy_kwh.value)
    assert final["wattprint/operational_co2e_kg"] == pytest.approx(callback.footprint.operational_co2e_kg.value)

    # the card goes to the logger's folder (no checkpoint folder here), never the working directory
    assert callback.model_card_path == tmp_path / "logs" / "README.md"
    block = read_model_card(callback.model_card_path)
    assert block is not None
    stored_g = record.to_dict()["operational_co2e_kg"] * 1000
    assert block["emissions"] == pytest.approx(stored_g, rel=5e-4)  # 4 significant digits
    assert block["emissions"] == pytest.approx(callback.footprint.operational_co2e_kg.value * 1000, rel=5e-4)
    assert block["training_type"] == "pre-training"
    assert block["source"] == "wattprint"
    assert "CPU" in block["hardware_used"]


class DestroyGroupAtExit(pl.Callback):
    """Each rank destroys its gloo process group at interpreter exit, as Lightning does for NCCL: a group left
    to static destructors sometimes aborts the rank ("terminate called without an active exception")."""

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        import atexit

        import torch.distributed as dist

        def destroy() -> None:
            if dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()

        atexit.register(destroy)


def test_ddp_job_tracks_one_run_per_rank_and_the_card_sums_them(wattprint_env: Path, tmp_path: Path) -> None:
    """Two CPU processes (DDP, gloo): a run per rank, the card on rank zero holds the job's total."""
    card_dir = tmp_path / "card"
    # the store exists before the ranks start (as after any earlier run): two processes creating a fresh
    # store at the same instant can fail with "database is locked" (a storage race, reported separately)
    open_store(str(wattprint_env)).close()
    callback = WattprintCallback(
        project="pl-ddp", run_name="ddp", interval_s=SAMPLE_INTERVAL_S, model_card_dir=card_dir, quiet=True
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        max_steps=4,
        logger=False,
        callbacks=[callback, DestroyGroupAtExit()],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    trainer.fit(TinyRegressor(), _loader(0))

    with open_store(str(wattprint_env)) as store:
        records = {r.id: r for r in store.list_runs(project="pl-ddp")}
    assert set(records) == {"ddp-rank0", "ddp-rank1"}
    assert all(r.status == "finished" for r in records.values())
    per_rank_kg = [r.to_dict()["operational_co2e_kg"] for r in records.values()]
    assert all(kg > 0 for kg in per_rank_kg)
    block = read_model_card(card_dir)
    assert block is not None
    assert block["emissions"] == pytest.approx(sum(per_rank_kg) * 1000, rel=5e-4)  # 4 significant digits
    text = (card_dir / "README.md").read_text()  # the job's figures, not rank zero's
    assert f"about {block['emissions']:.4g} g CO2e" in text and "summed over the job's 2 processes" in text


def test_ddp_job_with_the_default_card_folder_ends_on_every_rank(wattprint_env: Path, tmp_path: Path) -> None:
    """No model_card_dir: the folder comes from Trainer.log_dir, a collective under DDP (a broadcast from rank
    zero). Read on rank zero alone, it waited for a rank that never joined: fit() failed ("Connection closed by
    peer") after the training had finished, or, with NCCL, hung."""
    open_store(str(wattprint_env)).close()
    callback = WattprintCallback(project="pl-ddp-default", run_name="ddp", interval_s=SAMPLE_INTERVAL_S, quiet=True)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp_spawn", max_steps=2, logger=False,
        callbacks=[callback, DestroyGroupAtExit()], enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=str(tmp_path),
    )
    trainer.fit(TinyRegressor(), _loader(0))
    with open_store(str(wattprint_env)) as store:
        records = {r.id: r for r in store.list_runs(project="pl-ddp-default")}
    assert set(records) == {"ddp-rank0", "ddp-rank1"} and all(r.status == "finished" for r in records.values())
    block = read_model_card(tmp_path)  # the log folder (default_root_dir): no checkpoint folder, no logger
    assert block is not None
    assert block["emissions"] == pytest.approx(
        sum(r.to_dict()["operational_co2e_kg"] for r in records.values()) * 1000, rel=5e-4)  # 4 significant digits


_RANK_ZERO_ONLY_JOB = """
import os, sys
import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger
from wattprint.integrations.lightning import WattprintCallback

class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)
    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

root = sys.argv[1]
x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=4)
# as a logger callback often is: attached on rank zero only (the launcher starts rank 1 with LOCAL_RANK=1)
rank_zero = os.environ.get("LOCAL_RANK", "0") == "0"
callbacks = [WattprintCallback(project="pl-rank0", run_name="ddp", interval_s=0.1, quiet=True)] if rank_zero else []
trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_steps=2, callbacks=callbacks,
                     logger=CSVLogger(root, name="csv"), enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, default_root_dir=root)
trainer.fit(Tiny(), loader)
print(f"rank {trainer.global_rank} done", flush=True)
torch.distributed.destroy_process_group()  # see DestroyGroupAtExit
"""


def test_ddp_job_with_the_callback_on_rank_zero_only_ends_with_a_warning_and_a_card(wattprint_env: Path,
                                                                                    tmp_path: Path) -> None:
    """Only rank zero has the callback (README: a warning, never a hung or failed job). Its end read Trainer.log_dir,
    a collective (a broadcast from rank zero) that rank 1 never joins: fit() failed ("Connection closed by peer")
    once rank 1 had ended, after the training; had rank 1 stayed alive, it hung."""
    import os
    import signal
    import subprocess
    import sys

    import wattprint

    open_store(str(wattprint_env)).close()
    script = tmp_path / "job.py"
    script.write_text(_RANK_ZERO_ONLY_JOB)
    src = str(Path(wattprint.__file__).parents[1])  # the code under test, also in the rank the launcher starts
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (src, os.environ.get("PYTHONPATH"))))}
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # both ranks
        out, _ = proc.communicate()
        pytest.fail(f"the job hung:\n{out[-3000:]}")
    assert proc.returncode == 0, out[-3000:]
    assert "rank 0 done" in out and "rank 1 done" in out
    assert "covers 1 of the job's 2 processes" in out
    with open_store(str(wattprint_env)) as store:
        records = store.list_runs(project="pl-rank0")
    assert [(r.id, r.status) for r in records] == [("ddp-rank0", "finished")]
    block = read_model_card(tmp_path / "csv" / "version_0")  # Trainer.log_dir: the CSV logger's version folder
    assert block is not None
    assert block["emissions"] == pytest.approx(records[0].to_dict()["operational_co2e_kg"] * 1000, rel=5e-4)


@pytest.mark.parametrize("logger", ["csv", "other", "none"])
def test_the_card_folder_is_the_one_trainer_log_dir_names(tmp_path: Path, logger: str) -> None:
    """Read without Trainer.log_dir's broadcast (see the test above), it is still the folder log_dir names: the
    first logger's log_dir for CSV (and TensorBoard), its save_dir for others, else default_root_dir."""
    from lightning.pytorch.loggers import CSVLogger

    from wattprint.integrations.lightning_hooks import _log_dir

    made: Any = {"csv": CSVLogger(str(tmp_path / "csv")), "other": CaptureLogger(str(tmp_path / "logs")),
                 "none": False}[logger]
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=made, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path / "root"))
    assert _log_dir(trainer) == trainer.log_dir
    assert _log_dir(trainer) == {"csv": str(tmp_path / "csv" / "lightning_logs" / "version_0"),
                                 "other": str(tmp_path / "logs"), "none": str(tmp_path / "root")}[logger]


def test_a_fit_that_trains_nothing_leaves_the_model_card_alone(wattprint_env: Path, tmp_path: Path) -> None:
    """fit() again on a Trainer at its max_steps already (a notebook cell run twice) trains no step: its ~0 s run
    is stored, but the card keeps the training that did, and a warning says so."""
    from wattprint.errors import WattprintWarning

    callback = WattprintCallback(project="pl-again", interval_s=SAMPLE_INTERVAL_S, quiet=True,
                                 model_card_dir=tmp_path / "card")
    trainer = _quick_trainer(tmp_path, callback, max_steps=2)
    model = TinyRegressor()
    trainer.fit(model, _loader(0))
    card = read_model_card(tmp_path / "card")
    assert card is not None and card["emissions"] > 0
    first = callback.footprint
    with pytest.warns(WattprintWarning, match="trained no step"):
        trainer.fit(model, _loader(0))
    assert callback.footprint is not first  # the second fit is measured, as what it was
    assert read_model_card(tmp_path / "card") == card


def _quick_trainer(tmp_path: Path, callback: Any, max_steps: int = 2) -> Any:
    return pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        logger=False,
        callbacks=[callback],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )


def test_attached_run_is_fed_but_left_to_its_owner(wattprint_env: Path, tmp_path: Path) -> None:
    with track("pl-attach", "outer", interval_s=SAMPLE_INTERVAL_S, quiet=True) as run:
        time.sleep(3 * SAMPLE_INTERVAL_S)  # an attached run's live figures are as of its latest sample
        callback = WattprintCallback(run=run, model_card_dir=tmp_path / "card")
        _quick_trainer(tmp_path, callback).fit(TinyRegressor(), _loader(0))
        with open_store(str(wattprint_env)) as store:
            assert store.get_run("outer").status == "running"  # the callback did not stop it
        assert callback.footprint is not None and callback.footprint.energy_kwh.value > 0
        assert read_model_card(tmp_path / "card") is not None
    with open_store(str(wattprint_env)) as store:
        assert store.get_run("outer").status == "finished"


class Exploding(TinyRegressor):
    def training_step(self, batch: Any, batch_idx: int) -> Any:
        if batch_idx == 1:
            raise RuntimeError("boom")
        return super().training_step(batch, batch_idx)


def test_failed_training_ends_the_run_as_failed_without_a_model_card(wattprint_env: Path, tmp_path: Path) -> None:
    callback = WattprintCallback(
        project="pl-fail", run_name="boom", interval_s=SAMPLE_INTERVAL_S, quiet=True, model_card_dir=tmp_path / "card"
    )
    with pytest.raises(RuntimeError, match="boom"):
        _quick_trainer(tmp_path, callback, max_steps=4).fit(Exploding(), _loader(0))
    with open_store(str(wattprint_env)) as store:
        assert store.get_run("boom").status == "failed"
    assert not (tmp_path / "card" / "README.md").exists()


def test_the_run_covers_the_strategy_setup_and_teardown(wattprint_env: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # On a GPU the strategy moves the model to the device before on_fit_start, and model and optimizer state back
    # to the CPU after on_train_end; on an H200 a run limited to those two hooks read 3 % low around a 15 s fit.
    # The run must span both moves: slow ones stand in for them here.
    from lightning.pytorch.strategies import SingleDeviceStrategy

    setup_began: list[float] = []
    teardown_done: list[float] = []
    original_setup, original_teardown = SingleDeviceStrategy.setup, SingleDeviceStrategy.teardown

    def slow_setup(self: Any, trainer: Any) -> None:
        setup_began.append(time.time())
        time.sleep(0.3)
        original_setup(self, trainer)

    def slow_teardown(self: Any) -> None:
        original_teardown(self)
        time.sleep(0.3)
        teardown_done.append(time.time())

    monkeypatch.setattr(SingleDeviceStrategy, "setup", slow_setup)
    monkeypatch.setattr(SingleDeviceStrategy, "teardown", slow_teardown)
    callback = WattprintCallback(project="pl-test", run_name="teardown", interval_s=SAMPLE_INTERVAL_S,
                                 model_card_dir=tmp_path)
    trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=2, logger=False, callbacks=[callback],
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=str(tmp_path))
    trainer.fit(TinyRegressor(), _loader(0))
    assert callback.run is not None and setup_began and teardown_done
    with open_store(str(wattprint_env)) as store:
        d = store.get_run(callback.run.id).to_dict()
    assert d["status"] == "finished"
    started = datetime.fromisoformat(d["started_at"]).timestamp()
    # the stored start (wall clock) and duration (monotonic) agree to a few ms; the slow moves last 300 ms each
    slack = 0.05
    assert started <= setup_began[0] + slack and started + d["duration_s"] >= teardown_done[0] - slack
    assert (tmp_path / "README.md").exists()
