"""A resumed run continues from every ended phase row stored for it, not only those its last full summary counted;
a phase re-entered within itself counts once, in the outer occurrence, as the tracker counts it."""

from __future__ import annotations

from pathlib import Path

from wattprint.storage import SampleRow, open_store


def test_resume_counts_each_ended_phase_row_once(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "runs.db")) as store:
        store.begin_run("r", "p", 1000.0, {})
        store.append_samples("r", [SampleRow(1000.0 + t, t, None, {"cpu": 10.0 * t}) for t in range(13)],
                             {"it_energy_kwh": 0.0, "phases": {"warmup": {"energy_j": {"cpu": 5.0},
                                                                          "duration_s": 1.0, "count": 1}}})
        store.add_phase("r", "warmup", 0.0, 1.0, {"cpu": 5.0})  # counted by the summary: kept as stored
        store.add_phase("r", "train", 1.0, 10.0, {"cpu": 90.0})  # ended after the last full summary
        store.add_phase("r", "train", 2.0, 4.0, {"cpu": 20.0})  # re-entered inside the outer train
        store.add_phase("r", "eval", 10.0, None, {})  # left open by the killed process
        phases = store.begin_run("r", "p", 1000.0, {}).summary["phases"]
    assert phases["warmup"] == {"energy_j": {"cpu": 5.0}, "duration_s": 1.0, "count": 1}
    assert (phases["train"]["energy_j"], phases["train"]["duration_s"], phases["train"]["count"]) == (
        {"cpu": 90.0}, 9.0, 1)
    assert (phases["eval"]["energy_j"], phases["eval"]["duration_s"], phases["eval"]["count"]) == (
        {"cpu": 20.0}, 2.0, 1)
