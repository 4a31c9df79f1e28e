"""Fixtures for the tracker: readers with a known power (the sampler's clock is the real monotonic clock),
an isolated node-ledger folder and store, and no real config/env leaking in."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.devices.fakes import fake_pynvml
from wattprint.devices import Reading
from wattprint.tracking import Run, track


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


class Hangs(PowerReader):
    """Reads block once ``hang`` is set, until ``release`` is (then every read answers again)."""

    def __init__(self, component: str = "gpu", device: str = "gpu0", power_w: float = 300.0) -> None:
        super().__init__(component, device, power_w)
        self.hang, self.release = threading.Event(), threading.Event()
        self.returned = threading.Event()  # a read that hung has come back

    def read(self) -> list[Reading]:
        if self.hang.is_set() and not self.release.is_set():
            self.release.wait(30)
            self.returned.set()
        return super().read()


class Counter:
    """A GPU whose cumulative counter (J, as NVML gives it: since the driver loaded) the test sets; its reads can
    be made to hang like :class:`Hangs`."""

    name = "fake-counter"
    component = "gpu"
    basis = "measured"

    def __init__(self, energy_j: float = 0.0) -> None:
        self.energy_j = energy_j
        self.hang, self.release = threading.Event(), threading.Event()
        self.returned = threading.Event()

    def read(self) -> list[Reading]:
        if self.hang.is_set() and not self.release.is_set():
            self.release.wait(30)
            self.returned.set()
        return [Reading("gpu", "gpu0", self.energy_j, None, "measured")]

    def close(self) -> None:
        pass


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Polls ``cond`` until it holds or ``timeout`` s pass (bounded: a test that would block fails instead)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def charged(s: Any, comp: str) -> float:
    """Energy (J) a sampler has charged to ``comp`` so far."""
    return float(s.snapshot.charged_j.get(comp, (0.0,))[0]) if s.snapshot is not None else 0.0


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


def steady_run(project: str, run_id: str, db: Path, interval_s: float, notes: list[str]) -> Run:
    """A started run in store ``db`` of one CPU at a steady 100 W (PUE 1), its notes going to ``notes``."""
    return track(project, run_id, db=str(db), interval_s=interval_s, readers=[PowerReader("cpu", power_w=100.0)],
                 pue=1.0, notify=notes.append).start()


def measuring(run: Run) -> Run:
    """``run`` once its sampler has closed a first interval (a loaded machine may delay the sampler thread)."""
    deadline = time.monotonic() + 10
    while run.sampler is not None and run.sampler.snapshot is not None and run.sampler.snapshot.samples < 1:
        assert time.monotonic() < deadline, "no sample in 10 s"
        time.sleep(0.01)
    return run


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The fake NVML library in place of ``pynvml``, every GPU visible, reset before and after."""
    fake_pynvml.reset()
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    yield fake_pynvml
    fake_pynvml.reset()
