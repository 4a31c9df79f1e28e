"""The device readers a run measures with: those given (``readers=``), or those detected for its process on this
machine; and the job's allocation (its CPUs and memory), which sets the embodied host share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def open_readers(pid: int, given: Any, note: Callable[[str], None]) -> tuple[Any, list[Any]]:
    """The job's allocation (see :func:`job_allocation`) and the readers: ``given``, or those detected for
    process ``pid``, whose notes go to ``note``."""
    from ..devices import DeviceConfig, detect_readers

    dev_config = DeviceConfig(pid=pid)
    alloc = job_allocation(dev_config, note)
    readers = given
    if readers is None:
        readers, notes = detect_readers(dev_config, alloc)
        for n in notes:
            note(n)
    return alloc, list(readers)


def job_allocation(dev_config: Any, note: Callable[[str], None]) -> Any:
    """The CPUs and memory given to the job (:func:`wattprint.devices.allocation`), or None, with a note, where
    they cannot be read."""
    try:
        from ..devices import allocation

        return allocation(dev_config)
    except Exception as e:  # attribution extras must never stop tracking
        note(f"job allocation unreadable ({e}); the embodied host share assumes the whole machine")
        return None
