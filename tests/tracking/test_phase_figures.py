"""Each phase gets the run's chain: IT energy per component with its range -> x PUE -> facility energy -> x grid
intensity -> operational CO2e, + embodied CO2e for the phase's share of the time -> total; from the live run
(``run.phase_footprints()``), in the stored summary (``runs show --json``), and for a run stored before phases had
those figures (IT energy only: priced from its stored J, PUE and intensity)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import wattprint
from tests.devices.fakes import fake_pynvml
from wattprint.cli import main
from wattprint.devices.base import DeviceConfig
from wattprint.devices.host import allocation
from wattprint.devices.model import RamModelReader
from wattprint.footprint import Footprint, facility_energy_kwh, operational_co2e_kg
from wattprint.quantities import Range
from wattprint.storage import open_store
from wattprint.tracking import track
from wattprint.tracking.phase_figures import stored_phase_figures

from .conftest import PowerReader

FIGURES = ("it_energy_kwh", "energy_kwh", "operational_co2e_kg", "embodied_co2e_kg", "total_co2e_kg")


def _chain_holds(phase: Footprint, run: Footprint) -> None:
    """The phase is priced as the run: its facility energy and operational CO2e follow from its IT energy by the
    run's PUE and intensity, each figure's range holds its central value, and each component's range is the run's
    relative one."""
    assert phase.pue == run.pue and phase.intensity == run.intensity
    assert phase.energy_kwh == facility_energy_kwh(phase.it_energy_kwh, run.pue)
    assert phase.energy_kwh.value == pytest.approx(phase.it_energy_kwh.value * run.pue.value)
    assert phase.operational_co2e_kg == operational_co2e_kg(phase.energy_kwh, run.intensity.g_per_kwh)
    assert phase.operational_co2e_kg.value == pytest.approx(phase.energy_kwh.value * run.intensity.g_per_kwh.value
                                                            / 1000)
    assert phase.total_co2e_kg.value == pytest.approx(phase.operational_co2e_kg.value + phase.embodied_co2e_kg.value)
    for name in FIGURES:
        r: Range = getattr(phase, name)
        assert r.low <= r.value <= r.high, name
    for comp, c in phase.energy_by_component_kwh.items():
        of_run = run.energy_by_component_kwh[comp]
        assert c.basis == of_run.basis
        if c.kwh.value == 0:  # nothing drawn in the phase (a reader that read 0 so far): no range to compare
            assert c.kwh.low == c.kwh.high == 0
            continue
        assert c.kwh.low / c.kwh.value == pytest.approx(of_run.kwh.low / of_run.kwh.value)
        assert c.kwh.high / c.kwh.value == pytest.approx(of_run.kwh.high / of_run.kwh.value)


def _at_most(parts: list[Range], whole: Range) -> None:
    """The phases' sum is within the run's figure: central value and both bounds."""
    slack = 1e-9 * max(whole.high, 1e-30)
    assert sum(p.value for p in parts) <= whole.value + slack
    assert sum(p.low for p in parts) <= whole.low + slack
    assert sum(p.high for p in parts) <= whole.high + slack


def _store_phases_as_before_their_figures(db: Path, run_id: str) -> None:
    """Rewrite the stored run's phases as an earlier version stored them: J per component, IT energy, duration and
    count only."""
    c = sqlite3.connect(db)
    summary: dict[str, Any] = json.loads(c.execute("SELECT summary FROM runs WHERE id = ?", (run_id,)).fetchone()[0])
    summary["phases"] = {n: {k: p[k] for k in ("energy_j", "it_energy_kwh", "duration_s", "count")}
                         for n, p in summary["phases"].items()}
    c.execute("UPDATE runs SET summary = ? WHERE id = ?", (json.dumps(summary), run_id))
    c.commit()
    c.close()


def _ram() -> RamModelReader:
    """The modelled RAM reader a VM gets (its energy has a range), on the real clock."""
    return RamModelReader(allocation(DeviceConfig()), time.monotonic)


def test_each_phase_is_priced_as_the_run_and_stored_with_its_figures(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    cpu = PowerReader("cpu", power_w=100.0)
    with track("ph", "chain", db=str(db), interval_s=0.05, readers=[cpu, _ram()], location="FRA",
               quiet=True) as run:
        with run.phase("train"):
            time.sleep(0.3)
        cpu.set_power(300.0)
        with run.phase("eval"):
            time.sleep(0.15)
    fp = run.footprint()
    assert not fp.pue.is_exact and not fp.energy_by_component_kwh["ram"].kwh.is_exact  # ranges to carry over
    phases = run.phase_footprints()
    assert list(phases) == ["train", "eval"]
    for p in phases.values():
        _chain_holds(p, fp)
        assert p.embodied_co2e_kg.value > 0 and p.wall_time_h is not None
        # embodied CO2e is amortised linearly in time at the run's hardware: the run's, for the phase's share
        assert p.embodied_co2e_kg.value == pytest.approx(
            fp.embodied_co2e_kg.value * p.wall_time_h.value / fp.wall_time_h.value)  # type: ignore[union-attr]
    for name in FIGURES:
        _at_most([getattr(p, name) for p in phases.values()], getattr(fp, name))
    # the eval phase ran at 3x the CPU power: its IT energy is the measured one, not a share of the time
    cpu_j = {n: p.energy_by_component_kwh["cpu"].kwh.value * 3.6e6 for n, p in phases.items()}
    assert cpu_j["train"] == pytest.approx(30.0, rel=0.3) and cpu_j["eval"] == pytest.approx(45.0, rel=0.3)

    # stored with the run's key names and ranges, as `runs show --json` gives them
    assert main(["runs", "show", "chain", "--db", str(db), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["phases"]
    for name, p in phases.items():
        stored = shown[name]
        assert stored["count"] == 1 and set(stored["energy_j"]) == {"cpu", "ram"}
        for fig in FIGURES:
            r = getattr(p, fig)
            assert stored[fig] == pytest.approx(r.value)
            assert stored[f"{fig}_low"] == pytest.approx(r.low) and stored[f"{fig}_high"] == pytest.approx(r.high)
        assert stored["energy_by_component_kwh"]["ram"]["basis"] == "modelled"


def test_a_gpu_phase_carries_its_share_of_the_gpus_embodied_co2e(nvml: ModuleType) -> None:
    gpus = fake_pynvml.reset(fake_pynvml.make_gpus(2))
    with fake_pynvml.burning(gpus), \
            wattprint.track("gpu", interval_s=0.05, persist=False, quiet=True, location="FRA") as run:
        time.sleep(0.1)  # set-up outside any phase
        with run.phase("train"):
            time.sleep(0.3)
    fp = run.footprint()
    train = run.phase_footprints()["train"]
    _chain_holds(train, fp)
    assert train.energy_by_component_kwh["gpu"].kwh.value * 3.6e6 > 100  # ~2 x 300 W x 0.3 s, measured
    assert fp.chip_hours is not None and train.chip_hours is not None and train.wall_time_h is not None
    assert fp.wall_time_h is not None
    share = train.wall_time_h.value / fp.wall_time_h.value
    assert 0 < share < 1
    assert train.chip_hours.value == pytest.approx(fp.chip_hours.value * share)
    assert train.embodied_co2e_kg.value == pytest.approx(fp.embodied_co2e_kg.value * share)
    for name in FIGURES:
        _at_most([getattr(train, name)], getattr(fp, name))


def test_nested_and_repeated_phases_keep_their_totals() -> None:
    cpu = PowerReader("cpu", power_w=100.0)
    with track("ph", "nest", interval_s=0.05, readers=[cpu, _ram()], persist=False, quiet=True) as run, \
            run.phase("train"):
        for _ in range(2):  # the same name entered twice: one total of both occurrences
            with run.phase("epoch"):
                time.sleep(0.1)
        with run.phase("train"):  # re-entered inside itself: inside the outer window, totalled once
            time.sleep(0.05)
    fp = run.footprint()
    phases = run.phase_footprints()
    stored = run.summary()["phases"]
    assert stored["epoch"]["count"] == 2 and stored["train"]["count"] == 1
    epoch, train = phases["epoch"], phases["train"]
    for p in (epoch, train):
        _chain_holds(p, fp)
    assert epoch.wall_time_h is not None and epoch.wall_time_h.value * 3600 == pytest.approx(0.2, rel=0.3)
    for name in FIGURES:  # an inner phase is part of the outer one, which is part of the run
        _at_most([getattr(epoch, name)], getattr(train, name))
        _at_most([getattr(train, name)], getattr(fp, name))
        assert stored["epoch"][name] == pytest.approx(getattr(epoch, name).value)


def test_a_run_stored_before_phases_had_figures_is_priced_from_its_stored_energy(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    cpu = PowerReader("cpu", power_w=100.0)
    with track("ph", "old", db=str(db), interval_s=0.05, readers=[cpu, _ram()], location="FRA", quiet=True) as run, \
            run.phase("train"):
        time.sleep(0.2)
    with open_store(str(db), readonly=True) as store:
        new = store.get_run("old").to_dict()["phases"]
    # what an earlier version stored for a phase: its J per component, IT energy, duration and count only
    _store_phases_as_before_their_figures(db, "old")
    with open_store(str(db), readonly=True) as store:
        d = store.get_run("old").to_dict()
    assert "energy_kwh" not in d["phases"]["train"]
    priced = stored_phase_figures(d)["train"]
    for fig in FIGURES:
        for key in (fig, f"{fig}_low", f"{fig}_high"):
            assert priced[key] == pytest.approx(new["train"][key]), key
    # a summary without the run's PUE (no figures to price from): the phase is shown as stored
    bare = {k: v for k, v in d.items() if not k.startswith("pue")}
    assert stored_phase_figures(bare)["train"] == d["phases"]["train"]


def test_a_resumed_runs_earlier_phase_is_priced_with_the_whole_run(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    with track("ph", "resumed", db=db, interval_s=0.05, readers=[PowerReader("cpu")], quiet=True) as first, \
            first.phase("train"):
        time.sleep(0.15)
    earlier = first.phase_footprints()["train"]
    with track("ph", "resumed", db=db, interval_s=0.05, readers=[PowerReader("cpu")], quiet=True) as run, \
            run.phase("eval"):
        time.sleep(0.15)
    fp = run.footprint()
    phases = run.phase_footprints()
    assert list(phases) == ["train", "eval"]
    assert phases["train"].it_energy_kwh.value == pytest.approx(earlier.it_energy_kwh.value)
    for p in phases.values():
        _chain_holds(p, fp)
    for name in FIGURES:
        _at_most([getattr(p, name) for p in phases.values()], getattr(fp, name))


def test_runs_show_prices_each_phase_in_its_table_and_a_run_stored_before_phases_had_figures(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    with track("ph", "shown", db=str(db), interval_s=0.05, readers=[PowerReader("cpu")], location="FRA",
               quiet=True) as run, run.phase("train"):
        time.sleep(0.15)
    assert main(["runs", "show", "shown", "--db", str(db)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "phase train (total)" in x)
    assert "kWh facility" in line and "kg CO2e" in line, line
    # a summary as an earlier version stored it: `runs show --json` prices its phases all the same
    _store_phases_as_before_their_figures(db, "shown")
    assert main(["runs", "show", "shown", "--db", str(db), "--json"]) == 0
    train = json.loads(capsys.readouterr().out)["phases"]["train"]
    assert train["energy_kwh"] == pytest.approx(run.phase_footprints()["train"].energy_kwh.value)


def test_runs_show_labels_a_co2_only_intensity_as_the_source_counts_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "runs.db"
    with track("ph", "ca", db=str(db), interval_s=0.05, readers=[PowerReader("cpu")], location="aws:eu-west-1",
               quiet=True):
        time.sleep(0.1)
    assert main(["runs", "show", "ca", "--db", str(db)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("grid intensity"))
    assert line.rstrip().endswith("gCO2/kWh"), line  # the EEA's intensity counts CO2 only
