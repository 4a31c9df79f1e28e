"""PyTorch Lightning (``lightning.pytorch``): measure ``Trainer.fit``, log the footprint, write the model card.

    from wattprint.integrations.lightning import WattprintCallback
    trainer = lightning.Trainer(callbacks=[WattprintCallback(project="my-model", training_type="pre-training")])

Behaviour: see :class:`~wattprint.integrations.lightning_hooks.LightningHooks`. Requires ``lightning``
(extra ``wattprint[lightning]``); falls back to the older ``pytorch_lightning`` package when only that is
installed (for a project that has both, use :mod:`wattprint.integrations.pytorch_lightning`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .extras import missing_framework

if TYPE_CHECKING:
    from lightning.pytorch import Callback
else:
    try:
        from lightning.pytorch import Callback
    except ImportError:  # only the standalone package is installed
        try:
            from pytorch_lightning import Callback
        except ImportError as e:
            missing_framework(e, __name__, "Lightning", "pip install 'wattprint[lightning]'",
                              ("lightning", "pytorch_lightning"))

from .lightning_hooks import LightningHooks

__all__ = ["WattprintCallback"]


class WattprintCallback(LightningHooks, Callback):
    """Measure a Lightning ``Trainer.fit`` with wattprint (see :class:`LightningHooks` for what it does)."""
