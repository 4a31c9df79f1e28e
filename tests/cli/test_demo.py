import json
import os
import subprocess
import sys


def _run(args, tmp_path):
    env = {**os.environ, "WATTPRINT_DB": str(tmp_path / "runs.db"), "WATTPRINT_STATE_DIR": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True, text=True, env=env,
                          timeout=240)


def test_demo_estimates_well_known_trainings_and_serving(tmp_path):
    p = _run(["demo", "--no-train", "--json"], tmp_path)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    names = [t["name"] for t in out["trainings"]]
    assert "GPT-3 175B" in names and "Llama 2 70B" in names
    for t in out["trainings"]:
        assert t["total_co2e_kg_low"] <= t["total_co2e_kg"] <= t["total_co2e_kg_high"]
        assert t["energy_kwh"] > t["it_energy_kwh"] > 0  # facility energy includes PUE
        assert t["assumptions"]
    # GPT-3: 3.14e23 FLOP on V100s; published 1,287 MWh (Patterson et al. 2021) — same order of magnitude
    gpt3 = next(t for t in out["trainings"] if t["name"] == "GPT-3 175B")
    assert 300e3 < gpt3["energy_kwh"] < 5000e3
    assert out["inference"]["energy_per_request_wh"] > 0
    assert out["breakeven_requests_vs_llama2_70b"]["requests"] > 0


def test_demo_trains_tracks_and_stores_a_run(tmp_path):
    p = _run(["demo"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "Tracked: a small network" in p.stdout
    runs = _run(["runs", "list", "--json"], tmp_path)
    assert runs.returncode == 0, runs.stderr
    listed = json.loads(runs.stdout)
    assert len(listed) == 1 and listed[0]["status"] == "finished"
    assert listed[0]["energy_by_component_kwh"]["cpu"]["basis"] in ("measured", "modelled")
    assert listed[0]["it_energy_kwh"] > 0
