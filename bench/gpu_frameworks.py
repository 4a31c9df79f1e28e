"""The framework windows of bench/gpu_validate.py: a Hugging Face ``Trainer`` and a Lightning ``Trainer`` on the
GPU, each with wattprint's callback, measured against the NVML energy counter read around ``train()``/``fit()``.

Each returns the callback's GPU joules, the model-card block it wrote, and what it logged; the caller turns the
joules into a window (:func:`gpu_validate.nvml_window`). Models are built from a config (no download); data are
random tokens. Needs torch with CUDA, and transformers / lightning (a missing one is skipped with a reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

VOCAB, SEQ, BATCH = 32000, 512, 16


def _random_tokens(n: int) -> Any:
    import torch

    class RandomTokens(torch.utils.data.Dataset):  # type: ignore[misc]
        """``n`` sequences of random token ids, the same ones for the same index."""

        def __len__(self) -> int:
            return n

        def __getitem__(self, i: int) -> Any:
            return torch.randint(0, VOCAB, (SEQ,), generator=torch.Generator().manual_seed(i))

    return RandomTokens()


def tracker_gpu(fp: Any) -> tuple[float, str | None]:
    """(GPU energy in J, its basis) of a footprint; (0, None) when it has no GPU component."""
    gpu = fp.energy_by_component_kwh.get("gpu") if fp is not None else None
    return (gpu.kwh.value * 3.6e6, gpu.basis) if gpu is not None else (0.0, None)


def _measure(label: str, fit: Callable[[], Any], counter: Callable[[], float], cb: Any) -> dict[str, Any]:
    """Run ``fit`` between two reads of the NVML counter: the window, the callback's GPU joules, its model card."""
    before, t0 = counter(), time.monotonic()
    fit()
    t1, after = time.monotonic(), counter()
    joules, basis = tracker_gpu(cb.footprint)
    return {"label": label, "t0": t0, "t1": t1, "counter_j": after - before, "tracker_gpu_j": joules,
            "tracker_basis": basis, "model_card": _card(cb.model_card_path)}


def _card(path: Path | None) -> dict[str, Any]:
    """What the callback wrote into the model card: the block's keys and its hardware line."""
    from wattprint.integrations.modelcard import read_model_card

    block = read_model_card(path) if path is not None and path.exists() else None
    return {"written": block is not None, "hardware_used": (block or {}).get("hardware_used"),
            "emissions_g": (block or {}).get("emissions")}


def hf_trainer(seconds: float, tmp: Path, counter: Callable[[], float]) -> dict[str, Any]:
    """GPT-2-shaped model (6 layers, d 768) under ``transformers.Trainer`` + wattprint's callback, ~``seconds``."""
    try:
        import transformers
        from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments
    except ImportError as e:
        return {"skipped": f"transformers not importable ({e})"}
    from wattprint.integrations.transformers import WattprintCallback

    class StopAfter(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.t_end = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.t_end = time.monotonic() + seconds

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if time.monotonic() >= self.t_end:
                control.should_training_stop = True

    class Collate:
        def __call__(self, rows: list[Any]) -> dict[str, Any]:
            import torch

            ids = torch.stack(rows)
            return {"input_ids": ids, "labels": ids}

    model = GPT2LMHeadModel(GPT2Config(n_layer=6, n_embd=768, n_head=12, vocab_size=VOCAB, n_positions=SEQ))
    args = TrainingArguments(output_dir=str(tmp / "hf"), per_device_train_batch_size=BATCH, max_steps=10**6,
                             bf16=True, logging_steps=50, report_to="none", save_strategy="no",
                             disable_tqdm=True)
    cb = WattprintCallback(project="gpu-validate", run_name="hf-trainer", db=f"sqlite:///{tmp / 'hf.db'}",
                           quiet=True)
    trainer = Trainer(model=model, args=args, train_dataset=_random_tokens(10**7), data_collator=Collate(),
                      callbacks=[cb, StopAfter()])
    out = _measure(f"Hugging Face `Trainer` (transformers {transformers.__version__}) + `WattprintCallback`",
                   trainer.train, counter, cb)
    logged = sorted({k for entry in trainer.state.log_history for k in entry if k.startswith("wattprint/")})
    return {**out, "steps": trainer.state.global_step, "logged_keys": logged}


def lightning_trainer(seconds: float, tmp: Path, counter: Callable[[], float]) -> dict[str, Any]:
    """The bench's Transformer encoder as a ``LightningModule`` under ``lightning.Trainer`` + the callback."""
    try:
        import lightning
        import torch
    except ImportError as e:
        return {"skipped": f"lightning not importable ({e})"}
    from datetime import timedelta

    from wattprint.integrations.lightning import WattprintCallback

    class Encoder(lightning.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            d = 1024
            layer = torch.nn.TransformerEncoderLayer(d, 16, 4 * d, batch_first=True, norm_first=True)
            self.net = torch.nn.Sequential(torch.nn.Embedding(VOCAB, d), torch.nn.TransformerEncoder(layer, 8),
                                           torch.nn.Linear(d, VOCAB))

        def training_step(self, batch: Any, i: int) -> Any:
            logits = self.net(batch)
            return torch.nn.functional.cross_entropy(logits.view(-1, VOCAB).float(), batch.view(-1))

        def configure_optimizers(self) -> Any:
            return torch.optim.AdamW(self.parameters(), lr=1e-4)

    cb = WattprintCallback(project="gpu-validate", run_name="lightning", db=f"sqlite:///{tmp / 'pl.db'}",
                           model_card_dir=tmp / "pl", quiet=True)
    trainer = lightning.Trainer(accelerator="gpu", devices=1, precision="bf16-mixed", max_epochs=1,
                                max_time=timedelta(seconds=seconds), logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False, callbacks=[cb],
                                default_root_dir=str(tmp / "pl"))
    loader = torch.utils.data.DataLoader(_random_tokens(10**7), batch_size=BATCH)
    module = Encoder()  # built before the window opens: its CPU-side initialisation is not part of fit()
    out = _measure(f"Lightning `Trainer` (lightning {lightning.__version__}) + `WattprintCallback`",
                   lambda: trainer.fit(module, loader), counter, cb)
    return {**out, "steps": trainer.global_step}
