"""Measure a running job: background sampling of every device, phases, live readings and projections.

    >>> import wattprint
    >>> with wattprint.track(project="demo") as run:      # doctest: +SKIP
    ...     train()
    >>> fp = run.footprint()                               # doctest: +SKIP

Modules: :mod:`.run` (``Run``: lifecycle and public methods), :mod:`.sampler` (the thread; its parts
:mod:`.device_reads`, :mod:`.store_writer`, :mod:`.phases`, :mod:`.snapshot`), :mod:`.record` (the
run's record in the store), :mod:`.figures` (footprint and summaries from what was measured), :mod:`.live`,
:mod:`.progress` and :mod:`.projection` (``run.progress()``), :mod:`.signals` (signal handlers, exit statuses),
:mod:`.shutdown` (ending the sampler, releasing devices and store), :mod:`.readers`, :mod:`.decorate`,
:mod:`.ledger` (several tracked processes on one node), :mod:`.config` (location, PUE, intensity),
:mod:`.context` (the hardware, software and settings' sources a run records), :mod:`.attribution`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .run import Run, track

if TYPE_CHECKING:
    from .projection import Projection

__all__ = ["Projection", "Run", "track"]


def __getattr__(name: str) -> object:
    if name == "Projection":  # loaded on first use: only run.progress() makes one
        from .projection import Projection

        return Projection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
