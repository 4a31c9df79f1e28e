"""Measure a running job: background sampling of every device, phases, live readings and projections.

    >>> import wattprint
    >>> with wattprint.track(project="demo") as run:      # doctest: +SKIP
    ...     train()
    >>> fp = run.footprint()                               # doctest: +SKIP

Modules: :mod:`.run` (lifecycle, signals), :mod:`.sampler` (the thread), :mod:`.ledger` (several tracked
processes on one node), :mod:`.projection`, :mod:`.config` (location, PUE, intensity), :mod:`.attribution`.
"""

from __future__ import annotations

from .projection import Projection
from .run import Run, track

__all__ = ["Projection", "Run", "track"]
