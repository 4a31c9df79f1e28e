"""bench/gpu_validate.py's arithmetic and its power reference, against the fake NVML (the GPU run itself needs a
real GPU and is not part of the test suite)."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from tests.devices.fakes import fake_pynvml
from tests.scripts import load_script

gv = load_script("bench/gpu_validate.py")


def test_integration_is_exact_for_piecewise_linear_power() -> None:
    ramp = [(t / 10, 100.0 + 50.0 * t / 10) for t in range(0, 101)]  # 100 -> 600 W over 10 s
    assert gv.integrate_power(ramp, 0.0, 10.0) == pytest.approx(3500.0)
    assert gv.integrate_power(ramp, 2.0, 4.0) == pytest.approx(2 * (200.0 + 300.0) / 2)
    # a window wider than the samples holds the ends at the nearest sample
    assert gv.integrate_power([(1.0, 200.0), (2.0, 200.0)], 0.0, 3.0) == pytest.approx(600.0)
    assert gv.integrate_power([], 0.0, 1.0) == 0.0


def test_differences_and_verdict() -> None:
    assert gv.pct_diff(102.0, 100.0) == pytest.approx(2.0)
    assert gv.verdict({"a": 1.9, "b": -2.0}) == "met"
    assert gv.verdict({"a": 1.9, "b": -2.1}) == "MISSED"
    assert gv.verdict({}) == "MISSED"
    assert gv.pct_diff(1.0, 0.0) == float("inf")


def test_power_reference_falls_back_to_the_averaged_reading_and_samples_at_its_period() -> None:
    gpu = fake_pynvml.reset(fake_pynvml.make_gpus(1, power_mw=250_000))[0]
    fake_pynvml.nvmlInit()
    read, source = gv.power_reader(fake_pynvml, gpu)
    assert source == "nvmlDeviceGetPowerUsage" and read() == pytest.approx(250.0)
    with gv.PowerSampler(fake_pynvml, gpu) as ps:
        time.sleep(0.2)
    assert 5 <= len(ps.samples) <= 40 and all(w == pytest.approx(250.0) for _, w in ps.samples)
    fake_pynvml.reset()


def test_power_reference_prefers_the_instant_field() -> None:
    value = SimpleNamespace(nvmlReturn=0, value=SimpleNamespace(uiVal=312_000))
    nvml: Any = SimpleNamespace(NVML_FI_DEV_POWER_INSTANT=186, nvmlDeviceGetFieldValues=lambda h, f: [value],
                                nvmlDeviceGetPowerUsage=lambda h: 1)
    read, source = gv.power_reader(nvml, object())
    assert source == "NVML_FI_DEV_POWER_INSTANT" and read() == pytest.approx(312.0)


def test_report_states_the_gpu_each_window_the_throughput_and_the_verdict() -> None:
    def window(tracker: float, counter: float, power: float) -> dict[str, Any]:
        return {"window_s": 60.0, "mean_power_w": power / 60.0, "tracker_gpu_j": tracker, "counter_j": counter,
                "power_reference_j": power,
                "diff_pct": {"vs NVML energy counter": gv.pct_diff(tracker, counter),
                             "vs 10 ms power sampling": gv.pct_diff(tracker, power)}}

    tracked, cli = window(40_200.0, 40_000.0, 40_100.0), window(20_000.0, 20_100.0, 19_000.0)
    diffs = dict(tracked["diff_pct"]) | {f"`wattprint run` {k}": v for k, v in cli["diff_pct"].items()}
    r = {"gpu": "NVIDIA H100 80GB HBM3", "driver": "580", "power_source": "nvmlDeviceGetPowerUsage",
         "power_samples": 9000, "training": {"params": 1.2e8, "steps": 100, "steps_per_s": 9.9},
         "tracked": tracked, "tracker_basis": "measured", "cli": cli | {"tracker_basis": "measured",
                                                                         "gpus_used_by_tree": ["gpu0"]},
         "untracked_steps_per_s": 10.0, "throughput_change_pct": -1.0, "gpus_used_by_tree": ["gpu0"],
         "diff_pct": diffs, "verdict": gv.verdict(diffs)}
    text = gv.render(r)
    assert "NVIDIA H100 80GB HBM3" in text and "+0.50 %" in text and "-0.50 %" in text
    # the CLI window's power reference is 5.26 % off: the whole verdict is MISSED, not only that row
    assert "+5.26 %" in text and "**MISSED**" in text and "-1.00 %" in text
    block = gv.readme_block(r)
    assert block.count("\n| `") == 2 and "+5.26 %" in block and "**MISSED**" in block and "40.2 kJ" in block
    hf = window(10_000.0, 10_050.0, 10_020.0) | {
        "label": "Hugging Face `Trainer` + `WattprintCallback`", "steps": 300, "tracker_basis": "measured",
        "logged_keys": ["wattprint/energy_kwh"],
        "model_card": {"written": True, "hardware_used": "1 x NVIDIA H200", "emissions_g": 1.5}}
    r["frameworks"], r["frameworks_skipped"] = [hf], ["lightning not importable (No module named 'lightning')"]
    text = gv.render(r)
    assert "Hugging Face `Trainer` + `WattprintCallback`, 60.0 s, 300 steps" in text and "-0.50 %" in text
    assert "model card written: yes (hardware_used: '1 x NVIDIA H200'" in text and "Skipped: lightning" in text
    assert gv.readme_block(r).count("\n| ") == 4  # the header and three windows
    r["cli"], r["frameworks"], r["frameworks_skipped"] = None, [], []
    r["diff_pct"] = tracked["diff_pct"]
    r["verdict"] = gv.verdict(r["diff_pct"])
    text = gv.render(r)
    assert "wattprint run" not in text and "**met**" in text
