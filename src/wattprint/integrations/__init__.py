"""Framework integrations: Hugging Face Transformers and PyTorch Lightning callbacks, model-card metadata.

Import the one you use; nothing here imports a framework until then::

    from wattprint.integrations.transformers import WattprintCallback   # needs transformers
    from wattprint.integrations.lightning import WattprintCallback      # needs lightning (or pytorch_lightning)
    from wattprint.integrations.modelcard import co2_eq_emissions, write_model_card   # no dependencies
"""

from __future__ import annotations
