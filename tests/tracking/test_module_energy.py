"""A tracked run on GH200 modules (NVML's counter covers GPU, Grace CPU and memory) counts each module once: its
energy as measured GPU energy, said to be the module's, and no modelled CPU or RAM on top; on H100 or GB200 GPUs the
run's components are as before."""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import wattprint
from tests.devices.fakes import fake_pynvml
from wattprint.devices.host import cpu_info
from wattprint.footprint import Footprint

MODULES = 4  # a 4-GH200 node (JUPITER's and Alps' booster nodes)


def _tracked(name: str) -> tuple[Footprint, dict[str, Any]]:
    gpus = fake_pynvml.reset(fake_pynvml.make_gpus(MODULES, name=name))
    with fake_pynvml.burning(gpus), \
            wattprint.track("gh200", interval_s=0.05, persist=False, quiet=True, location="FRA") as run:
        time.sleep(0.3)
    return run.footprint(), run.summary()


def test_a_gh200_run_counts_its_modules_once_and_an_h100_or_gb200_run_is_unchanged(
        nvml: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no powercap tree, as on an ARM Grace host (on an x86 test host RAPL would measure its CPU instead)
    (tmp_path / "sys").mkdir()
    monkeypatch.setenv("WATTPRINT_SYSFS_ROOT", str(tmp_path / "sys"))
    if cpu_info()[1] > MODULES:
        pytest.skip(f"this host reports more than {MODULES} CPU sockets: its CPUs are not all a GH200 node's")

    fp, d = _tracked("NVIDIA GH200 480GB")
    assert {c: e.basis for c, e in fp.energy_by_component_kwh.items()} == {"gpu": "measured"}
    assert fp.energy_by_component_kwh["gpu"].kwh.value > 0
    (scope,) = [a for a in fp.assumptions if a.what == "GPU energy scope"]
    assert scope.value.startswith("gpu0, gpu1, gpu2, gpu3 (NVIDIA GH200 480GB): the whole GH200 Grace Hopper module")
    assert "Grace CPU" in scope.value and "LPDDR5X" in scope.value
    assert d["hardware"]["module_energy"] == {"gpus": ["gpu0", "gpu1", "gpu2", "gpu3"], "scope": scope.value.split(
        ": ", 1)[1], "covers": ["cpu", "ram"], "host_modelled_share": 0.0}
    assert any("CPU and RAM are not modelled on top" in n for n in d["device_notes"])
    assert set(d["energy_by_component_kwh"]) == {"gpu"}

    for name in ("NVIDIA H100 80GB HBM3", "NVIDIA GB200"):
        fp, d = _tracked(name)
        assert {c: e.basis for c, e in fp.energy_by_component_kwh.items()} == {
            "gpu": "measured", "cpu": "modelled", "ram": "modelled"}, name
        assert not [a for a in fp.assumptions if a.what == "GPU energy scope"]
        assert "module_energy" not in d["hardware"]
        assert not [n for n in d["device_notes"] if "module" in n]
