"""The Lightning callback for the standalone ``pytorch_lightning`` package (``import pytorch_lightning as pl``).

Same behaviour as :mod:`wattprint.integrations.lightning`; the Trainer accepts only callbacks derived
from its own package's ``Callback``.
"""

from __future__ import annotations

from .extras import missing_framework

try:
    from pytorch_lightning import Callback
except ImportError as e:  # the extra installs the unified package, for which the other integration is
    missing_framework(e, __name__, "the standalone pytorch_lightning package",
                      "pip install pytorch-lightning (with `pip install 'wattprint[lightning]'`, import "
                      "wattprint.integrations.lightning instead)", ("pytorch_lightning",))

from .lightning_hooks import LightningHooks

__all__ = ["WattprintCallback"]


class WattprintCallback(LightningHooks, Callback):
    """Measure a ``pytorch_lightning`` ``Trainer.fit`` with wattprint (see :class:`LightningHooks`)."""
