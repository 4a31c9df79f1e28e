"""One adapter per tracker compared by bench/overhead.py: how to import, build, start, stop, tick and read it back.

Imported by the worker process only (bench/overhead_worker.py); nothing here imports a tracker at module load,
so the worker can time the import itself. Every peer is configured offline as far as its API allows:
CodeCarbon's OfflineEmissionsTracker with a country, eco2AI with a fixed country code, carbontracker without API
keys (it still asks ipinfo.io for the machine's location on construction: no switch turns that off).
"""

from __future__ import annotations

import csv
import glob
import os
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Location given to every tool that accepts one, so their CO2e figures are comparable (France: low-carbon grid).
COUNTRY_ISO3 = "FRA"
COUNTRY_ISO2 = "FR"
KWH_PER_J = 1.0 / 3.6e6
KG_PER_G = 1e-3


@dataclass
class Adapter:
    """How the benchmark drives one tracker; `default_interval_s` None means it has no sampling interval."""

    name: str
    module: str  # what `import X` the cold-import figure times
    venv: str  # virtual environment (relative to the repo) whose python runs this tool
    default_interval_s: float | None

    def make(self, interval_s: float | None, workdir: Path, run_id: str) -> Any:
        raise NotImplementedError

    def start(self, t: Any) -> None:
        t.start()

    def stop(self, t: Any, workdir: Path) -> dict[str, Any]:
        """Stop tracking; return what the tool reports: energy_kwh, co2e_kg (None where it has none), extra notes."""
        raise NotImplementedError

    def prepare_ticks(self, workdir: Path, run_id: str) -> Any:
        """A started tracker whose samples `tick` takes directly (the memory figure); NotImplementedError if none."""
        raise NotImplementedError

    def tick(self, t: Any) -> None:
        raise NotImplementedError

    def readback(self, workdir: Path, run_id: str) -> dict[str, Any]:
        """After a SIGKILL: what a user can still read (readable, energy_kwh, duration_s, detail)."""
        raise NotImplementedError


def _float(x: Any) -> float | None:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


class Wattprint(Adapter):
    def make(self, interval_s: float | None, workdir: Path, run_id: str) -> Any:
        import wattprint

        kw: dict[str, Any] = {"db": f"sqlite:///{workdir / 'wattprint.db'}", "location": COUNTRY_ISO3}
        if interval_s is not None:
            kw["interval_s"] = interval_s
        track: Any = wattprint.track  # the lazy public name users call
        return track(project="bench", run=run_id, **kw)

    def stop(self, t: Any, workdir: Path) -> dict[str, Any]:
        fp = t.stop()
        basis = sorted({c.basis for c in fp.energy_by_component_kwh.values()})
        return {
            "energy_kwh": fp.energy_kwh.value,
            "co2e_kg": fp.operational_co2e_kg.value,
            "note": f"basis: {'/'.join(basis)}; PUE {fp.pue.value:g}",
        }

    def prepare_ticks(self, workdir: Path, run_id: str) -> Any:
        # The longest interval wattprint takes (an hour), far longer than the test, so the background thread stays
        # idle while we tick by hand.
        from wattprint.tracking.config import MAX_INTERVAL_S

        t = self.make(MAX_INTERVAL_S, workdir, run_id)
        t.start()
        return t

    def tick(self, t: Any) -> None:
        # what the sampler thread does each interval: one reading, then one store transaction
        t.sampler._reading()
        t.sampler._flush()

    def readback(self, workdir: Path, run_id: str) -> dict[str, Any]:
        from wattprint.storage import open_store

        store = open_store(f"sqlite:///{workdir / 'wattprint.db'}")
        try:
            rec = store.get_run(run_id)
            d = rec.to_dict()
            n = len(store.samples(run_id))
        finally:
            store.close()
        return {
            "readable": True,
            "energy_kwh": d.get("energy_kwh"),
            "duration_s": rec.duration_s,
            "detail": f"run {run_id!r} status={rec.status}, {n} samples, duration {rec.duration_s:.2f} s",
        }


class CodeCarbon(Adapter):
    def make(self, interval_s: float | None, workdir: Path, run_id: str) -> Any:
        from codecarbon import OfflineEmissionsTracker

        kw: dict[str, Any] = {"country_iso_code": COUNTRY_ISO3, "output_dir": str(workdir), "save_to_file": True}
        if interval_s is not None:
            kw["measure_power_secs"] = interval_s
        return OfflineEmissionsTracker(**kw)

    def stop(self, t: Any, workdir: Path) -> dict[str, Any]:
        co2e_kg = t.stop()
        data = t.final_emissions_data
        return {"energy_kwh": data.energy_consumed, "co2e_kg": co2e_kg, "note": f"CPU {data.cpu_power:.1f} W"}

    def prepare_ticks(self, workdir: Path, run_id: str) -> Any:
        t = self.make(1e6, workdir, run_id)
        t.start()
        return t

    def tick(self, t: Any) -> None:
        t._measure_power_and_energy()

    def readback(self, workdir: Path, run_id: str) -> dict[str, Any]:
        path = workdir / "emissions.csv"
        if not path.exists():
            return {"readable": False, "detail": f"no output in {workdir.name}/ (files: {_listing(workdir)})"}
        rows = list(csv.DictReader(path.open()))
        if not rows:
            return {"readable": False, "detail": "emissions.csv has no rows"}
        last = rows[-1]
        return {
            "readable": True,
            "energy_kwh": _float(last.get("energy_consumed")),
            "duration_s": _float(last.get("duration")),
            "detail": f"emissions.csv, {len(rows)} row(s)",
        }


class CarbonTracker(Adapter):
    def make(self, interval_s: float | None, workdir: Path, run_id: str) -> Any:
        from carbontracker.tracker import CarbonTracker as CT

        kw: dict[str, Any] = {"epochs": 1, "log_dir": str(workdir)}
        if interval_s is not None:
            kw["update_interval"] = interval_s
        return CT(**kw)

    def start(self, t: Any) -> None:
        t.epoch_start()

    def stop(self, t: Any, workdir: Path) -> dict[str, Any]:
        t.epoch_end()  # with epochs=1 this reports the actual consumption and stops the threads
        t.stop()
        energy, co2_g = _carbontracker_actual(workdir)
        return {"energy_kwh": energy, "co2e_kg": None if co2_g is None else co2_g * KG_PER_G, "note": "incl. PUE 1.58"}

    def prepare_ticks(self, workdir: Path, run_id: str) -> Any:
        t = self.make(1e6, workdir, run_id)
        t.epoch_start()
        return t

    def tick(self, t: Any) -> None:
        t.tracker._collect_measurements()

    def readback(self, workdir: Path, run_id: str) -> dict[str, Any]:
        energy, _ = _carbontracker_actual(workdir)
        if energy is None:
            return {
                "readable": False,
                "detail": "logs hold no energy figure (written at epoch end only); "
                f"files: {_listing(workdir)}",
            }
        return {"readable": True, "energy_kwh": energy, "duration_s": None, "detail": "output log"}


def _carbontracker_actual(workdir: Path) -> tuple[float | None, float | None]:
    """Last 'Actual consumption' energy (kWh) and CO2eq (g) from carbontracker's output log."""
    energy = co2 = None
    for path in glob.glob(str(workdir / "*_output.log")):
        text = Path(path).read_text(errors="replace")
        block = text.rsplit("Actual consumption", 1)
        if len(block) < 2:
            continue
        m_e = re.search(r"Energy:\s*([0-9.eE+-]+)\s*kWh", block[1])
        m_c = re.search(r"CO2eq:\s*([0-9.eE+-]+)\s*g", block[1])
        energy = _float(m_e.group(1)) if m_e else None
        co2 = _float(m_c.group(1)) if m_c else None
    return energy, co2


class Eco2AI(Adapter):
    def make(self, interval_s: float | None, workdir: Path, run_id: str) -> Any:
        import eco2ai

        kw: dict[str, Any] = {
            "project_name": "bench",
            "experiment_description": run_id,
            "file_name": str(workdir / "emission.csv"),
            "alpha_2_code": COUNTRY_ISO2,
        }
        if interval_s is not None:
            kw["measure_period"] = interval_s
        return eco2ai.Tracker(**kw)

    def stop(self, t: Any, workdir: Path) -> dict[str, Any]:
        tid = t.id()
        t.stop()  # resets its in-memory total: the figure is read from its CSV
        rows = [r for r in csv.DictReader((workdir / "emission.csv").open()) if r.get("id") == tid]
        last = rows[-1] if rows else {}
        return {
            "energy_kwh": _float(last.get("power_consumption(kWh)")),
            "co2e_kg": _float(last.get("CO2_emissions(kg)")),
            "note": f"CPU {last.get('CPU_name', '?')}",
        }

    def prepare_ticks(self, workdir: Path, run_id: str) -> Any:
        t = self.make(1e6, workdir, run_id)
        t.start()
        return t

    def tick(self, t: Any) -> None:
        t._func_for_sched()

    def readback(self, workdir: Path, run_id: str) -> dict[str, Any]:
        path = workdir / "emission.csv"
        if not path.exists():
            return {"readable": False, "detail": f"no emission.csv (files: {_listing(workdir)})"}
        rows = list(csv.DictReader(path.open()))
        if not rows:
            return {"readable": False, "detail": "emission.csv has no rows"}
        last = rows[-1]
        return {
            "readable": True,
            "energy_kwh": _float(last.get("power_consumption(kWh)")),
            "duration_s": _float(last.get("duration(s)")),
            "detail": f"emission.csv, {len(rows)} row(s)",
        }


class Zeus(Adapter):
    """Zeus reads energy counters at window start/end (no sampling thread); no CO2e without a network look-up."""

    def make(self, interval_s: float | None, workdir: Path, run_id: str) -> Any:
        from zeus.monitor import ZeusMonitor

        return ZeusMonitor()

    def start(self, t: Any) -> None:
        t.begin_window("bench")

    def stop(self, t: Any, workdir: Path) -> dict[str, Any]:
        m = t.end_window("bench")
        joules = sum(m.gpu_energy.values()) + sum((m.cpu_energy or {}).values()) + sum((m.dram_energy or {}).values())
        return {"energy_kwh": joules * KWH_PER_J, "co2e_kg": None, "note": f"devices: gpu={len(m.gpu_energy)}"}

    def readback(self, workdir: Path, run_id: str) -> dict[str, Any]:
        return {"readable": False, "detail": f"writes nothing while running (files: {_listing(workdir)})"}


def _listing(workdir: Path) -> str:
    names = sorted(p.name for p in workdir.iterdir()) if workdir.exists() else []
    return ", ".join(names) or "none"


def sqlite_ok(path: Path) -> bool:
    """True if `path` opens as an SQLite database (used to report what a killed run left on disk)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        con.execute("select count(*) from sqlite_master").fetchone()
        con.close()
        return True
    except sqlite3.Error:
        return False


ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        Wattprint("wattprint", "wattprint", ".venv-bench", 1.0),
        CodeCarbon("codecarbon", "codecarbon", ".venv-bench", 15.0),
        CarbonTracker("carbontracker", "carbontracker.tracker", ".venv-bench", 1.0),
        Eco2AI("eco2ai", "eco2ai", ".venv-bench", 10.0),
        Zeus("zeus", "zeus.monitor", ".venv-bench-zeus", None),
    )
}


def venv_python(repo: Path, venv: str) -> Path:
    return repo / venv / "bin" / "python"


def available(repo: Path, name: str) -> bool:
    return os.access(venv_python(repo, ADAPTERS[name].venv), os.X_OK)
