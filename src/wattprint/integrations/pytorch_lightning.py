"""The Lightning callback for the standalone ``pytorch_lightning`` package (``import pytorch_lightning as pl``).

Same behaviour as :mod:`wattprint.integrations.lightning`; the Trainer accepts only callbacks derived
from its own package's ``Callback``.
"""

from __future__ import annotations

from pytorch_lightning import Callback

from .lightning_hooks import LightningHooks

__all__ = ["WattprintCallback"]


class WattprintCallback(LightningHooks, Callback):
    """Measure a ``pytorch_lightning`` ``Trainer.fit`` with wattprint (see :class:`LightningHooks`)."""
