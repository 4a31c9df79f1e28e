"""Measured energy carries its sensor's documented accuracy band (refdata/factors.csv), not a zero-width range:
the central value is the reading, the range reading x (1 -+ band), and the run's assumptions say the band and
where it comes from."""

from __future__ import annotations

import threading
import time
from types import ModuleType

import pytest

import wattprint
from tests.devices.fakes import fake_pynvml
from wattprint.data import measured_energy_band
from wattprint.tracking import track

from .conftest import PowerReader


def test_measured_gpu_energy_has_the_nvml_band_and_the_assumptions_say_it(nvml: ModuleType) -> None:
    gpus = fake_pynvml.reset(fake_pynvml.make_gpus(2))
    gpus[1].energy_mj = None  # no energy counter (pre-Volta): its power is sampled, 200 W
    gpus[1].power_mw = 200_000
    stop = threading.Event()

    def burn() -> None:  # gpu0 at ~300 W on its energy counter
        while not stop.is_set():
            gpus[0].energy_mj = (gpus[0].energy_mj or 0) + 3000
            stop.wait(0.01)

    t = threading.Thread(target=burn, daemon=True)
    t.start()
    try:
        with wattprint.track("band", interval_s=0.05, persist=False, quiet=True, location="FRA") as run:
            time.sleep(0.4)
    finally:
        stop.set()
        t.join()
    band, said = measured_energy_band("gpu")
    assert band == 0.05  # NVML's documented +-5 % (Fermi/Kepler), applied to newer boards as an assumption
    fp = run.footprint()
    gpu = fp.energy_by_component_kwh["gpu"]
    assert gpu.basis == "measured" and gpu.kwh.value > 0
    assert gpu.kwh.low == pytest.approx(gpu.kwh.value * (1 - band), rel=1e-9)
    assert gpu.kwh.high == pytest.approx(gpu.kwh.value * (1 + band), rel=1e-9)
    stored = run.summary()["energy_by_component_kwh"]["gpu"]
    assert stored["kwh"] == gpu.kwh.value and stored["kwh_low"] < stored["kwh"] < stored["kwh_high"]
    notes = {a.what: a for a in fp.assumptions}
    a = notes["measured gpu energy range"]
    assert a == said and "+-5%" in a.value
    assert "nvmlDeviceGetPowerUsage" in a.source and "Fermi and Kepler" in a.source
    assert "as an assumption" in a.note and "AMD" in a.note
    sampled = notes["GPU power sampled"]  # the power-integration path: the band is a floor there
    assert sampled.value == "gpu1" and "floor" in sampled.note and "2312.02741" in sampled.source
    assert "measured gpu energy range: +-5%" in fp.table()


def test_measured_cpu_energy_has_the_rapl_band_with_its_source() -> None:
    with track("band", interval_s=0.05, readers=[PowerReader("cpu", power_w=100.0)], persist=False,
               pue=1.0) as run:
        time.sleep(0.2)
    fp = run.footprint()
    cpu = fp.energy_by_component_kwh["cpu"]
    band = measured_energy_band("cpu")[0]
    assert band > 0 and cpu.kwh.value > 0
    assert (cpu.kwh.low, cpu.kwh.high) == (pytest.approx(cpu.kwh.value * (1 - band), rel=1e-9),
                                           pytest.approx(cpu.kwh.value * (1 + band), rel=1e-9))
    d = fp.to_dict()
    assert d["energy_by_component_kwh_low"]["cpu"] < d["energy_by_component_kwh"]["cpu"]["kwh"]
    assert d["it_energy_kwh_low"] < d["it_energy_kwh"] < d["it_energy_kwh_high"]
    a = next(x for x in fp.assumptions if x.what == "measured cpu energy range")
    assert "RAPL" in a.value and "Khan et al. 2018" in a.source and "UNCERTAIN" in a.note
    assert not any(x.what == "GPU power sampled" for x in fp.assumptions)


def test_a_modelled_component_keeps_its_own_range_and_gets_no_sensor_band() -> None:
    with track("band", interval_s=0.05, readers=[PowerReader("cpu", basis="modelled")], persist=False,
               pue=1.0) as run:
        time.sleep(0.15)
    fp = run.footprint()
    assert fp.energy_by_component_kwh["cpu"].basis == "modelled"
    assert not any(x.what.startswith("measured") for x in fp.assumptions)
