"""Energy readers for the machine's components, one small reader per family behind one interface.

    >>> from wattprint.devices import detect_readers
    >>> readers, notes = detect_readers()          # doctest: +SKIP
    >>> [r.read() for r in readers]                # doctest: +SKIP
    ...                                            # cumulative J per device; cheap, never sleeps

NVML (NVIDIA), amdsmi (AMD), RAPL powercap (CPU packages, DRAM; root ``WATTPRINT_SYSFS_ROOT``, default
``/sys``), else the documented model (:mod:`wattprint.devices.model`).
"""

from __future__ import annotations

from .base import DeviceConfig, DeviceReader, Reading
from .detect import detect_readers, gpu_process_pids, take_notes
from .host import Allocation, allocation
from .process import host_cpu_seconds, process_tree_cpu_seconds, process_tree_pids

__all__ = [
    "Allocation",
    "DeviceConfig",
    "DeviceReader",
    "Reading",
    "allocation",
    "detect_readers",
    "gpu_process_pids",
    "host_cpu_seconds",
    "process_tree_cpu_seconds",
    "process_tree_pids",
    "take_notes",
]
