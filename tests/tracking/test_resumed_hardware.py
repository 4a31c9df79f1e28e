"""A run resumed on other GPUs names what all its segments read: each GPU model at the most one segment read, with
each segment's GPUs beside it, in the stored summary, `runs show`, `runs export` and the model card."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tracking.test_resumed_segments import _segment_on_gpus
from wattprint.integrations.modelcard import hardware_used_of
from wattprint.storage import open_store
from wattprint.storage.export import row

pytestmark = pytest.mark.usefixtures("nvml")  # fake H100s through NVML

H100 = [{"name": "NVIDIA H100 80GB HBM3", "count": 4}]


def test_a_run_resumed_on_fewer_gpus_names_the_most_and_each_segments(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    _segment_on_gpus(4, db)
    run = _segment_on_gpus(1, db)
    stored = open_store(db).get_run("job").to_dict()
    hw = stored["hardware"]
    assert [{k: g[k] for k in ("name", "count")} for g in hw["gpus"]] == H100
    assert hw["per_segment"] == [H100, [{**H100[0], "count": 1}]]
    assert hw["gpus"][0]["catalogue"]  # still priced from the catalogue entry
    assert run.footprint().details["hardware"] == hw  # what the model card of the tracked run is given
    assert hardware_used_of(hw) == "4 x NVIDIA H100 80GB HBM3"
    assert row(stored)["gpu_count"] == 4
    shown = subprocess.run([sys.executable, "-m", "wattprint", "runs", "show", "job", "--db", db, "--json"],
                           capture_output=True, text=True, timeout=60)
    assert json.loads(shown.stdout)["hardware"] == hw


def test_a_run_resumed_on_the_same_gpus_keeps_its_hardware_as_it_was(tmp_path: Path) -> None:
    db = str(tmp_path / "runs.db")
    _segment_on_gpus(2, db)
    _segment_on_gpus(2, db)
    hw = open_store(db).get_run("job").to_dict()["hardware"]
    assert [g["count"] for g in hw["gpus"]] == [2] and "per_segment" not in hw
