"""GPUs through the fake NVML module (the real NvmlReader above it): energy, embodied share, GPU processes."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType

import pytest

import wattprint
from tests.devices.fakes import fake_pynvml
from wattprint.tracking import Run


def _tracked_while(step: Callable[[], None], project: str, seconds: float) -> Run:
    """A tracked block of ``seconds`` while a thread calls ``step`` every 10 ms (the fake devices' counters move)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            step()
            stop.wait(0.01)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        with wattprint.track(project, interval_s=0.05, persist=False, quiet=True, location="FRA") as run:
            time.sleep(seconds)
    finally:
        stop.set()
        t.join()
    return run


def test_gpu_energy_embodied_share_and_tree_processes(nvml: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    gpus = fake_pynvml.reset(fake_pynvml.make_gpus(2))
    gpus[0].processes = [os.getpid()]

    def burn() -> None:  # both GPUs at 300 W on their energy counters (mJ)
        for g in gpus:
            g.energy_mj = (g.energy_mj or 0) + 3000

    run = _tracked_while(burn, "gpu", 0.5)
    fp = run.footprint()
    gpu = fp.energy_by_component_kwh["gpu"]
    assert gpu.basis == "measured" and gpu.kwh.value * 3.6e6 > 100  # ~2 x 300 W x 0.5 s
    assert fp.chip_hours is not None and fp.chip_hours.value == pytest.approx(2 * fp.wall_time_h.value)  # type: ignore[union-attr]
    whats = [a.what for a in fp.assumptions]
    assert whats.count("embodied GPU") == 2 and "embodied host" in whats
    host = next(a for a in fp.assumptions if a.what == "embodied host")
    assert "2 of 8 GPUs" in host.value  # an HGX-class server's host share
    assert run.summary()["process_share"]["gpus_used_by_tree"] == ["gpu0"]


def test_the_users_own_nvml_session_outlives_the_tracker(nvml: ModuleType) -> None:
    # NVML counts initialisations: a program that uses pynvml itself (a training loop logging GPU power, the
    # validation bench) keeps its session across a tracked block; the tracker shuts down only its own.
    gpus = fake_pynvml.reset(fake_pynvml.make_gpus(1))
    fake_pynvml.nvmlInit()
    h = fake_pynvml.nvmlDeviceGetHandleByIndex(0)
    with wattprint.track("gpu", interval_s=0.05, persist=False, quiet=True, location="FRA"):
        gpus[0].energy_mj = (gpus[0].energy_mj or 0) + 5000
    assert fake_pynvml.nvmlDeviceGetTotalEnergyConsumption(h) == gpus[0].energy_mj
    fake_pynvml.nvmlShutdown()
    with pytest.raises(fake_pynvml.NVMLError):
        fake_pynvml.nvmlDeviceGetTotalEnergyConsumption(h)


def test_gpus_used_by_a_child_that_exits_before_stop_are_reported(nvml: ModuleType,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # `wattprint run -- cmd`: the command's processes have left NVML's list by the time the run stops, so the
    # GPUs they used must be seen while the run goes on (found on a real H200: the CLI path reported none).
    import subprocess

    from wattprint.tracking import attribution

    monkeypatch.setattr(attribution, "REFRESH_S", 0.05)
    gpus = fake_pynvml.reset(fake_pynvml.make_gpus(2))
    with wattprint.track("gpu", interval_s=0.05, persist=False, quiet=True, location="FRA") as run:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.6)"])
        gpus[1].processes = [child.pid]
        assert child.wait() == 0
        gpus[1].processes = []  # NVML forgets an exited process
    assert run.summary()["process_share"]["gpus_used_by_tree"] == ["gpu1"]


@pytest.mark.parametrize(("visible", "chips", "units"), [("1", 0.5, ["x 0.5 of the unit"]), (None, 1.0, ["x share"])])
def test_gcds_of_an_mi250x_count_as_their_share_of_the_package(monkeypatch: pytest.MonkeyPatch,
                                                                visible: str | None, chips: float,
                                                                units: list[str]) -> None:
    # a job on GCD 1 of an MI250X package (the driver reports the package's power on GCD 0): charged half the
    # package's energy, and likewise half a catalogue chip for chip-hours and embodied CO2e; a job on both GCDs is
    # measured once, on GCD 0, for the whole package: one chip
    from tests.devices.fakes import fake_amdsmi

    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setitem(sys.modules, "amdsmi", fake_amdsmi)
    if visible is None:
        monkeypatch.delenv("ROCR_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("ROCR_VISIBLE_DEVICES", visible)
    monkeypatch.delenv("HIP_VISIBLE_DEVICES", raising=False)
    even, _odd = fake_amdsmi.reset([
        fake_amdsmi.FakeAmdGpu(market_name="AMD Instinct MI250X", ticks=0, resolution_uj=15.3, power_w=500.0),
        fake_amdsmi.FakeAmdGpu(market_name="AMD Instinct MI250X", ticks=0, resolution_uj=15.3, power_w=0.0)])
    def burn() -> None:  # the package at 500 W on GCD 0's counter
        even.ticks += round(500.0 * 0.01 * 1e6 / 15.3)  # type: ignore[attr-defined]

    try:
        run = _tracked_while(burn, "amd", 0.4)
    finally:
        fake_amdsmi.reset()
    fp = run.footprint()
    assert fp.chip_hours is not None and fp.chip_hours.value == pytest.approx(chips * fp.wall_time_h.value)  # type: ignore[union-attr]
    (emb,) = [a for a in fp.assumptions if a.what == "embodied GPU"]
    assert f"gpu{visible or 0} AMD Instinct MI250X" in emb.value and all(u in emb.value for u in units)
    assert ("of the unit" in emb.value) == (chips < 1)
    host = next(a for a in fp.assumptions if a.what == "embodied host")
    assert f"{chips:g} of 4 GPUs" in host.value


def test_each_die_of_a_dual_die_board_is_half_a_chip(nvml: ModuleType) -> None:
    # a K80 board holds two GK210 GPUs, which NVML lists as two devices; the catalogue counts the board, so the
    # two listed dies make one chip for chip-hours and embodied CO2e (each die's own energy is measured in full)
    # power-sampled (no energy counter before Volta): the fake reports a steady 150 W per die
    fake_pynvml.reset(fake_pynvml.make_gpus(2, name="Tesla K80", energy_mj=None, power_mw=150_000,
                                            power_limit_mw=150_000))
    run = _tracked_while(lambda: None, "k80", 0.3)
    fp = run.footprint()
    assert fp.chip_hours is not None and fp.chip_hours.value == pytest.approx(fp.wall_time_h.value)  # type: ignore[union-attr]
    embodied = [a.value for a in fp.assumptions if a.what == "embodied GPU"]
    assert len(embodied) == 2 and all("NVIDIA Tesla K80" in v and "x 0.5 of the unit" in v for v in embodied)
