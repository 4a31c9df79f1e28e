"""wattprint: measure, predict and cut the energy use and carbon footprint of ML training and serving.

    >>> import wattprint
    >>> fp = wattprint.estimate_training(params=7e9, tokens=2e12, hardware="A100", count=256)
    >>> print(fp.table())                                       # doctest: +ELLIPSIS
      wall time ...
      total CO2e ...
    >>> fp.energy_kwh.low < fp.energy_kwh.value < fp.energy_kwh.high  # every figure carries its range
    True

Importing the package is cheap: data tables, devices and integrations load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily, PEP 562)
_LAZY = {
    "Footprint": "wattprint.footprint",
    "Assumption": "wattprint.footprint",
    "Intensity": "wattprint.footprint",
    "Range": "wattprint.quantities",
    "WattprintError": "wattprint.errors",
    "estimate_training": "wattprint.estimate.training",
    "estimate_inference": "wattprint.estimate.inference",
    "track": "wattprint.tracking",
}

__all__ = sorted(_LAZY) + ["__version__"]

def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wattprint' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
