"""A GPU whose energy counter covers its whole superchip module (GH200: GPU, Grace CPU, memory): the host's CPU and RAM
it holds are not modelled on top; other GPUs (H100, GB200) leave the host's models as they were."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from wattprint.devices import DeviceConfig, DeviceReader, detect_readers

from .conftest import FAKE_PID, make_proc
from .fakes.clock import FakeClock

REPO = Path(__file__).resolve().parents[2]
GH200 = "NVIDIA GH200 480GB"


def _open(nvml: ModuleType, tmp_path: Path, clock: FakeClock, names: list[str], sockets: int = 1,
          env: dict[str, str] | None = None, **gpu: object) -> tuple[dict[str, DeviceReader], list[str]]:
    """The readers detect_readers opens by component, on a host with no RAPL (an ARM Grace host has none) whose
    /proc/cpuinfo names no CPU model (as on arm64) and reports ``sockets``, with NVML listing GPUs named ``names``."""
    gpus = nvml.reset(nvml.make_gpus(len(names), **gpu))
    for g, name in zip(gpus, names, strict=True):
        g.name = name
    sysfs = tmp_path / "sys"
    sysfs.mkdir(parents=True, exist_ok=True)
    proc = make_proc(tmp_path / "proc", model="", sockets=sockets)
    cfg = DeviceConfig(sysfs_root=str(sysfs), proc_root=str(proc), pid=FAKE_PID, clock=clock, environ=env or {})
    readers, notes = detect_readers(cfg)
    by_comp = {r.component: r for r in readers}
    assert len(by_comp) == len(readers)  # each component once
    return by_comp, notes


def test_the_embedded_table_is_refdatas() -> None:
    embedded = REPO / "src" / "wattprint" / "devices" / "module_energy_counters.csv"
    assert embedded.read_text(encoding="utf-8") == (REPO / "refdata" / "module_energy_counters.csv").read_text(
        encoding="utf-8")


@pytest.mark.parametrize(("name", "module"), [
    ("NVIDIA GH200 480GB", True), ("NVIDIA GH200 144G HBM3e", True), ("nvidia  gh200 96gb hbm3", True),
    ("NVIDIA H100 80GB HBM3", False), ("NVIDIA GB200", False), ("NVIDIA GH2000", False)])
def test_gh200_driver_names_are_recognised_by_their_words(name: str, module: bool) -> None:
    from wattprint.devices.module_energy import module_counter

    row = module_counter(name)
    assert (row is not None) == module
    if row is not None:
        assert row.covers == ("cpu", "ram") and row.host_cpus == 1 and "zeus" in row.source.lower()


def test_a_gh200_module_is_the_hosts_cpu_and_ram_an_h100_or_gb200_is_not(nvml: ModuleType, tmp_path: Path,
                                                                        clock: FakeClock, no_amd: None) -> None:
    readers, notes = _open(nvml, tmp_path / "gh", clock, [GH200, "NVIDIA GH200 144G HBM3e"], sockets=1)
    assert {c: r.basis for c, r in readers.items()} == {"gpu": "measured"}
    (note,) = [n for n in notes if "module" in n]
    assert "gpu0 (NVIDIA GH200 480GB), gpu1 (NVIDIA GH200 144G HBM3e) report the energy of the whole GH200" in note
    assert "Grace CPU" in note and "CPU and RAM are not modelled on top" in note
    (scope,) = readers["gpu"].assumptions  # type: ignore[attr-defined]  # what the GPU energy is, for the footprint
    assert scope.what == "GPU energy scope" and "Grace CPU" in scope.value and "zeus" in scope.source.lower()

    # the same host with GPUs whose counter is their own: CPU and RAM modelled as before, nothing said of modules
    for other in ("NVIDIA H100 80GB HBM3", "NVIDIA GB200"):
        readers, notes = _open(nvml, tmp_path / other.split()[1], clock, [other, other])
        assert {c: r.basis for c, r in readers.items()} == {"gpu": "measured", "cpu": "modelled", "ram": "modelled"}
        assert readers["gpu"].assumptions == []  # type: ignore[attr-defined]
        assert not [n for n in notes if "module" in n]
    # a GH200 whose power is sampled (no energy counter read) measures the GPU's board power only: host modelled
    readers, _ = _open(nvml, tmp_path / "sampled", clock, [GH200], energy_mj=None)
    assert set(readers) == {"gpu", "cpu", "ram"}


def test_sockets_beyond_the_nodes_modules_are_still_modelled_in_proportion(nvml: ModuleType, tmp_path: Path,
                                                                          clock: FakeClock, no_amd: None) -> None:
    # a host reporting 2 CPU sockets with one GH200 module (one Grace): the other socket's half of the CPU and RAM
    # model is still counted
    def energies(name: str) -> tuple[float, float, list[str]]:
        readers, notes = _open(nvml, tmp_path / name.split()[1], clock, [name], sockets=2)
        clock.advance(10.0)
        (tmp_path / name.split()[1] / "proc" / "stat").write_text("cpu  600 0 250 1500 10 0 0 0 0 0\n")
        (cpu,), (ram,) = readers["cpu"].read(), readers["ram"].read()
        return cpu.energy_j, ram.energy_j, notes

    cpu, ram, notes = energies(GH200)
    cpu_h100, ram_h100, _ = energies("NVIDIA H100 80GB HBM3")
    assert cpu_h100 > 0 and ram_h100 > 0
    assert cpu == pytest.approx(cpu_h100 / 2) and ram == pytest.approx(ram_h100 / 2)
    assert any("modelled only for the 0.5 of the host its 2 CPU sockets hold beyond the node's 1" in n for n in notes)


def test_a_job_on_some_of_the_nodes_modules_is_taken_to_run_on_their_cpus(nvml: ModuleType, tmp_path: Path,
                                                                         clock: FakeClock, no_amd: None) -> None:
    # 4 GH200 modules on the node (one Grace each), the job sees one: its module's energy stands for its CPU and RAM
    readers, notes = _open(nvml, tmp_path, clock, [GH200] * 4, env={"CUDA_VISIBLE_DEVICES": "2"})
    assert set(readers) == {"gpu"}
    assert [r.device for r in readers["gpu"].read()] == ["gpu2"]
    assert any("the job measures 1 of the node's 4 modules' CPUs" in n for n in notes)
