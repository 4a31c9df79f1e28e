"""What a paper or model card needs from a stored run, read back through real subprocesses and real stores: the
hardware it ran on, the versions that measured it, the command's exit code, mean power and CO2e per hour, whether
each setting was given or assumed with the place as fields, and `wattprint runs export` (CSV/JSON, fixed columns),
which also reads runs stored before these fields existed."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import wattprint
from tests.devices.fakes import fake_pynvml
from wattprint.footprint import ComponentEnergy, Footprint, Intensity
from wattprint.quantities import Range
from wattprint.storage import SampleRow, open_store
from wattprint.storage.export import COLUMNS

J_PER_KWH = 3.6e6


def _wattprint(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "WATTPRINT_STATE_DIR": str(home / "state"), "XDG_CONFIG_HOME": str(home)}
    for var in ("WATTPRINT_DB", "WATTPRINT_LOCATION", "WATTPRINT_PUE", "WATTPRINT_INTENSITY", "WATTPRINT_CONFIG"):
        env.pop(var, None)
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def _show(run_id: str, db: Path) -> dict[str, Any]:
    r = _wattprint("runs", "show", run_id, "--json", "--db", str(db), home=db.parent)
    assert r.returncode == 0, r.stderr
    d: dict[str, Any] = json.loads(r.stdout)
    return d


def _export_csv(db: Path, *args: str) -> list[dict[str, str]]:
    r = _wattprint("runs", "export", "--db", str(db), *args, home=db.parent)
    assert r.returncode == 0, r.stderr
    reader = csv.DictReader(io.StringIO(r.stdout))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def test_a_wattprint_run_stores_its_versions_exit_code_hardware_rates_and_settings(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    r = _wattprint("run", "--db", str(db), "--run", "paper", "--interval", "0.1", "--location", "US-CA", "--pue",
                   "1.2", "--json", "--", sys.executable, "-c", "import sys, time; time.sleep(0.4); sys.exit(3)",
                   home=tmp_path)
    assert r.returncode == 3, r.stderr
    printed = json.loads(r.stdout.strip().splitlines()[-1])
    d = _show("paper", db)
    for key in ("wattprint_version", "python_version", "os", "command"):  # --json says what the store keeps
        assert printed["meta"][key] == d["meta"][key], key

    u = os.uname()
    assert d["meta"]["wattprint_version"] == wattprint.__version__
    assert d["meta"]["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert d["meta"]["os"] == f"{u.sysname}-{u.release}-{u.machine}"
    assert "torch_version" not in d["meta"]  # the tracker's process never imported torch
    assert (d["exit_code"], d["signal"]) == (3, None)

    hw = d["hardware"]
    assert hw["gpus"] == []
    assert hw["cpu"]["logical_cpus"] == os.cpu_count() and 0 < hw["cpu"]["allocated_cpus"] <= os.cpu_count()
    assert isinstance(hw["cpu"]["vm"], bool) and hw["cpu"]["sockets"] >= 1
    ram_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    assert hw["ram_gib"] == pytest.approx(ram_gib, rel=0.05)

    # mean power = IT energy / duration, before PUE; the rate of CO2e per hour from the same figures
    seconds = d["duration_s"]
    for comp, c in d["energy_by_component_kwh"].items():
        assert d["mean_power_w"][comp] == pytest.approx(c["kwh"] * J_PER_KWH / seconds)
        assert d["mean_power_w_low"][comp] == pytest.approx(c["kwh_low"] * J_PER_KWH / seconds)
    assert d["it_mean_power_w"] == pytest.approx(sum(d["mean_power_w"].values()))
    assert d["operational_co2e_g_per_h"] == pytest.approx(d["operational_co2e_kg"] * 1000 * 3600 / seconds)
    assert d["total_co2e_g_per_h_high"] == pytest.approx(d["total_co2e_kg_high"] * 1000 * 3600 / seconds)

    assert (d["pue_source"], d["pue_preset"], d["intensity_given"]) == ("given", None, False)
    assert d["settings_source"] == {"location": "argument", "pue": "argument", "interval": "argument"}
    assert d["location_detail"] == {"key": "US-CA", "name": d["location_detail"]["name"], "kind": "subnational",
                                    "country_iso": "USA", "region": "US-CA", "cloud": None}

    table = _wattprint("runs", "show", "paper", "--db", str(db), home=tmp_path).stdout
    for row in ("exit code", "CPU", "RAM", "mean power (IT)", "CO2e per hour", "measured with"):
        assert f"\n  {row} " in table
    assert "1.2, given" in table and f"wattprint {wattprint.__version__}, Python" in table

    (row,) = _export_csv(db)
    assert (row["id"], row["status"], row["exit_code"], row["signal"]) == ("paper", "failed", "3", "")
    assert float(row["cpu_mean_power_w"]) == pytest.approx(d["mean_power_w"]["cpu"])
    assert float(row["total_co2e_kg"]) == pytest.approx(d["total_co2e_kg"])
    assert (row["country_iso"], row["region"], row["cloud_provider"], row["pue_source"]) == ("USA", "US-CA", "",
                                                                                           "given")
    assert (row["gpus"], row["gpu_count"], row["gpu_energy_kwh"]) == ("", "", "")
    assert row["cpu_logical"] == str(os.cpu_count()) and row["intensity_given"] == "false"
    assert row["wattprint_version"] == wattprint.__version__ and row["host"] == u.nodename


def test_a_command_killed_by_a_signal_stores_its_exit_code_and_signal(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    r = _wattprint("run", "--db", str(db), "--run", "killed", "--interval", "0.1", "--", "sh", "-c", "kill -TERM $$",
                   home=tmp_path)
    assert r.returncode == 128 + signal.SIGTERM, r.stderr
    d = _show("killed", db)
    assert (d["status"], d["exit_code"], d["signal"]) == ("interrupted", 128 + signal.SIGTERM, signal.SIGTERM)


@pytest.fixture
def nvml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    fake_pynvml.reset()
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("WATTPRINT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for var in ("WATTPRINT_LOCATION", "WATTPRINT_PUE", "WATTPRINT_INTENSITY", "WATTPRINT_CONFIG", "SLURM_JOB_ID"):
        monkeypatch.delenv(var, raising=False)
    yield fake_pynvml
    fake_pynvml.reset()


def test_a_gpu_run_names_its_gpus_for_the_paper_the_export_and_the_model_card(nvml: ModuleType,
                                                                               tmp_path: Path) -> None:
    from wattprint.integrations.modelcard import co2_eq_emissions, hardware_used_of

    db = tmp_path / "runs.db"
    gpus = fake_pynvml.reset(fake_pynvml.make_gpus(2))
    with fake_pynvml.burning(gpus), \
            wattprint.track("gpu", "g1", db=str(db), interval_s=0.05, quiet=True, location="aws:us-east-1",
                            pue="hyperscale") as run:
        time.sleep(0.3)

    # the model card's hardware_used from the tracked run, as the Hub writes it: the driver's names, counted
    assert co2_eq_emissions(run.footprint())["hardware_used"] == "2 x NVIDIA H100 80GB HBM3"
    d = _show("g1", db)
    assert d["hardware"]["gpus"] == [{"name": "NVIDIA H100 80GB HBM3", "count": 2,
                                      "catalogue": "NVIDIA H100 SXM5 80GB"}]
    assert hardware_used_of(d["hardware"]) == "2 x NVIDIA H100 80GB HBM3"
    assert d["mean_power_w"]["gpu"] == pytest.approx(d["energy_by_component_kwh"]["gpu"]["kwh"] * J_PER_KWH
                                                     / d["duration_s"])
    assert (d["pue_source"], d["pue_preset"]) == ("preset", "hyperscale")
    assert d["location_detail"]["cloud"] == {"provider": "aws", "region": "us-east-1"}
    assert d["location_detail"]["country_iso"] == "USA"

    table = _wattprint("runs", "show", "g1", "--db", str(db), home=tmp_path).stdout
    assert "2 x NVIDIA H100 80GB HBM3 (catalogue: 2 x NVIDIA H100 SXM5 80GB)" in table
    assert "preset 'hyperscale'" in table

    (row,) = _export_csv(db)
    assert (row["gpus"], row["gpus_catalogue"], row["gpu_count"]) == ("2 x NVIDIA H100 80GB HBM3",
                                                                      "2 x NVIDIA H100 SXM5 80GB", "2")
    assert float(row["gpu_mean_power_w"]) == pytest.approx(d["mean_power_w"]["gpu"])
    assert (row["cloud_provider"], row["cloud_region"], row["location_key"]) == ("aws", "us-east-1",
                                                                                 "aws:us-east-1")
    assert float(row["chip_hours"]) == pytest.approx(d["chip_hours"])


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """Runs as the previous version stored them: a summary without the new fields, and one killed before its first
    summary (totals only)."""
    db = tmp_path / "old.db"
    fp = Footprint({"gpu": ComponentEnergy(Range.exact(2e-3), "measured")}, Range(1.1, 1.05, 1.2),
                   Intensity.fixed(400), embodied_co2e_kg=Range(1e-4, 5e-5, 2e-4), kind="measured")
    t0 = time.time() - 100
    meta = {"pid": 1, "host": "old-node", "interval_s": 1.0, "pue": {"value": 1.1, "low": 1.05, "high": 1.2},
            "location": "given", "readers": ["nvml"]}
    with open_store(str(db)) as s:
        s.begin_run("old-1", "nlp", t0, meta)
        s.append_samples("old-1", [SampleRow(t0 + 10, 10.0, None, {"gpu": 7200.0}, {"gpu": 720.0})], fp.to_dict())
        s.finish_run("old-1", "finished", fp.to_dict(), ended_at=t0 + 10)
        s.begin_run("old-2", "vision", t0 + 20, meta)
        s.append_samples("old-2", [SampleRow(t0 + 25, 5.0, None, {"cpu": 500.0}, {"cpu": 100.0})], None)
    return db


def test_runs_stored_before_these_fields_still_list_show_and_export(old_store: Path, tmp_path: Path) -> None:
    assert _wattprint("runs", "list", "--db", str(old_store), home=tmp_path).returncode == 0
    for run_id in ("old-1", "old-2"):
        r = _wattprint("runs", "show", run_id, "--db", str(old_store), home=tmp_path)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    d = _show("old-1", old_store)
    assert d["mean_power_w"]["gpu"] == pytest.approx(720.0)  # derivable from what it stored: 7200 J over 10 s

    rows = _export_csv(old_store)
    assert [r["id"] for r in rows] == ["old-1", "old-2"]  # oldest first
    first, second = rows
    assert float(first["gpu_mean_power_w"]) == pytest.approx(720.0) and first["host"] == "old-node"
    for col in ("exit_code", "gpus", "cpu_model", "pue_source", "country_iso", "wattprint_version", "ram_gib"):
        assert first[col] == "" and second[col] == ""
    assert float(second["cpu_mean_power_w"]) == pytest.approx(100.0) and second["total_co2e_kg"] == ""

    r = _wattprint("runs", "export", "--db", str(old_store), "--format", "json", "--project", "vision",
                   home=tmp_path)
    assert r.returncode == 0, r.stderr
    (only,) = json.loads(r.stdout)
    assert list(only) == list(COLUMNS) and only["id"] == "old-2" and only["exit_code"] is None


def test_export_to_a_file_and_a_path_that_cannot_be_written(old_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs.csv"
    r = _wattprint("runs", "export", "--db", str(old_store), "-o", str(out), home=tmp_path)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert [row["id"] for row in csv.DictReader(out.open(encoding="utf-8", newline=""))] == ["old-1", "old-2"]

    r = _wattprint("runs", "export", "--db", str(old_store), "-o", str(tmp_path / "no" / "such" / "dir.csv"),
                   home=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "cannot write" in r.stderr

    before = old_store.read_bytes()
    r = _wattprint("runs", "export", "--db", str(old_store), "-o", str(old_store), home=tmp_path)  # a slip
    assert r.returncode == 2 and "not overwritten" in r.stderr and old_store.read_bytes() == before

    empty = _wattprint("runs", "export", home=tmp_path)  # no store yet: the header alone, none created
    assert empty.returncode == 0 and empty.stdout.strip() == ",".join(COLUMNS)


def test_export_never_replaces_the_stores_own_files(
        old_store: Path, tmp_path: Path) -> None:
    for end in ("-wal", "-shm", "-journal"):  # overwriting one of these corrupts the store
        beside = Path(str(old_store) + end)
        r = _wattprint("runs", "export", "--db", str(old_store), "-o", str(beside), home=tmp_path)
        assert r.returncode == 2 and "not overwritten" in r.stderr, (end, r.stderr)
        assert not beside.exists() or not beside.read_bytes().startswith(b"id,")  # SQLite's, not an export
    other = tmp_path / "other-wal"  # a WAL by its first bytes, wherever it lies
    other.write_bytes(b"\x37\x7f\x06\x83" + bytes(28))
    assert _wattprint("runs", "export", "--db", str(old_store), "-o", str(other), home=tmp_path).returncode == 2
    # a file that is there is replaced whole (written beside it, then renamed over it)
    kept = tmp_path / "runs.csv"
    kept.write_text("old export\n", encoding="utf-8")
    assert _wattprint("runs", "export", "--db", str(old_store), "-o", str(kept), home=tmp_path).returncode == 0
    assert kept.read_text(encoding="utf-8").startswith("id,") and not list(tmp_path.glob(".wattprint-export-*"))


def test_export_quotes_formula_like_text_flags_killed_runs_and_says_what_the_intensity_counts(
        tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    with open_store(str(db)) as s:
        t0 = time.time() - 50
        fp = Footprint({"cpu": ComponentEnergy(Range.exact(1e-3), "measured")}, Range.exact(1.0),
                       Intensity.fixed(300), kind="measured")
        s.begin_run("=HYPERLINK(1)", "+proj", t0, {"pid": 2 ** 22 + 7, "host": os.uname().nodename,
                                                     "pid_start": 1.0})
        s.append_samples("=HYPERLINK(1)", [SampleRow(t0 + 5, 5.0, None, {"cpu": 3600.0}, {"cpu": 720.0})],
                         fp.to_dict())
    (row,) = _export_csv(db)
    assert row["id"] == "'=HYPERLINK(1)" and row["project"] == "'+proj"  # text, not a formula
    assert row["status"] == "running" and row["writer_gone"] == "true"  # its process is gone: killed
    assert "intensity_unit" in row and "intensity_caveat" in row
    listed = json.loads(_wattprint("runs", "list", "--json", "--db", str(db), home=tmp_path).stdout)
    assert listed[0]["it_mean_power_w"] == pytest.approx(720.0)  # as `runs show` gives it, from the stored totals


def test_a_project_spelled_decomposed_finds_its_runs(tmp_path: Path) -> None:
    import unicodedata

    db = tmp_path / "runs.db"
    with open_store(str(db)) as s:
        s.begin_run("r1", "café", time.time(), {"pid": 1})
    decomposed = unicodedata.normalize("NFD", "café")
    r = _wattprint("runs", "list", "--db", str(db), "--project", decomposed, "--json", home=tmp_path)
    assert [d["id"] for d in json.loads(r.stdout)] == ["r1"]
