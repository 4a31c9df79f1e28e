"""Fixtures for the tracker: readers with a known power (the sampler's clock is the real monotonic clock),
an isolated node-ledger folder and store, and no real config/env leaking in."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wattprint.devices import Reading


class PowerReader:
    """A device reader whose power (W) the test sets; energy is power integrated on the monotonic clock."""

    basis = "measured"

    def __init__(self, component: str = "cpu", device: str = "package-0", power_w: float = 100.0,
                 basis: str = "measured") -> None:
        self.component, self.device, self.power_w, self.basis = component, device, power_w, basis
        self.name = f"fake-{component}"
        self._t = time.monotonic()
        self.energy_j = 0.0
        self.reads: list[float] = []  # monotonic times of the reads
        self.fail = False
        self._lock = threading.RLock()

    def _integrate(self) -> float:
        with self._lock:
            t = time.monotonic()
            self.energy_j += self.power_w * (t - self._t)
            self._t = t
            return t

    def set_power(self, watts: float) -> None:
        """Change the power from now on (energy so far is integrated at the old power, like a real counter)."""
        with self._lock:
            self._integrate()
            self.power_w = watts

    def read(self) -> list[Reading]:
        if self.fail:
            raise OSError("device gone")
        t = self._integrate()
        self.reads.append(t)
        return [Reading(self.component, self.device, self.energy_j, self.power_w, self.basis)]

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Own ledger folder and store; no config file, location or PUE from the developer's environment."""
    monkeypatch.setenv("WATTPRINT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("WATTPRINT_DB", str(tmp_path / "runs.db"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for var in ("WATTPRINT_LOCATION", "WATTPRINT_PUE", "WATTPRINT_INTENSITY", "WATTPRINT_CONFIG", "SLURM_JOB_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
