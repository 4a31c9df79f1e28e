"""Whether a GPU vendor's library could answer on this host, checked before its reader module is imported.

Checked first because importing a vendor's reader module (and its library: ``pynvml`` costs 10-25 ms) is most
of what detection costs on a host without that vendor's GPUs, and every tracked run starts with detection.
A module already in ``sys.modules`` (a test's fake, or one the program imported) always counts as present.
"""

from __future__ import annotations

import importlib.util
import os
import sys

# Paths that exist where an NVIDIA driver is loaded (Linux, containers with the NVIDIA runtime, WSL2).
NVIDIA_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/dxg")


def nvml_may_answer() -> bool:
    """An NVIDIA driver is loaded, ``pynvml`` is already imported, or ``WATTPRINT_NVML=1`` forces the attempt."""
    if "pynvml" in sys.modules or os.environ.get("WATTPRINT_NVML") == "1":
        return True
    return any(os.path.exists(p) for p in NVIDIA_DRIVER_PATHS)


def amdsmi_may_answer() -> bool:
    """The ``amdsmi`` package is imported already or can be found (whether ROCm answers is for it to say)."""
    if "amdsmi" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("amdsmi") is not None
    except (ImportError, ValueError):
        return False
