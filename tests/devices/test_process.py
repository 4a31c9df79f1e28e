"""CPU time from the real /proc: host counters, the process tree with a real child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from wattprint.devices import DeviceConfig, allocation, host_cpu_seconds, process_tree_cpu_seconds, process_tree_pids
from wattprint.devices.process import process_cpu_seconds

BUSY_CHILD = (
    "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\nprint('done', flush=True)\n"
)


def test_host_cpu_seconds_is_consistent() -> None:
    busy0, total0 = host_cpu_seconds()
    x = 0
    for i in range(300_000):
        x += i
    busy1, total1 = host_cpu_seconds()
    assert 0 <= busy0 <= total0
    assert busy1 >= busy0 and total1 >= total0


def test_process_tree_includes_child_and_its_cpu_time() -> None:
    before = process_tree_cpu_seconds(os.getpid())
    child = subprocess.Popen(
        [sys.executable, "-c", BUSY_CHILD + "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "done"  # child has burnt ~0.4 CPU-s and is still alive
        assert child.pid in process_tree_pids(os.getpid())
        child_cpu = process_cpu_seconds(child.pid)
        assert child_cpu >= 0.3
        during = process_tree_cpu_seconds(os.getpid())
        assert during - before >= 0.3
    finally:
        child.communicate("")
    # reaped: its time moved into our cutime, so the tree total does not drop
    after = process_tree_cpu_seconds(os.getpid())
    assert after >= during - 0.02
    assert child.pid not in process_tree_pids(os.getpid())


def test_stat_parsing_with_odd_process_name(tmp_path: Path) -> None:
    d = tmp_path / "77"
    d.mkdir()
    fields = ["S", "1"] + ["0"] * 9 + ["300", "100", "50", "50"] + ["20", "0", "1"]
    (d / "stat").write_text("77 (we) ird (name) " + " ".join(fields) + "\n")
    ticks = os.sysconf("SC_CLK_TCK")
    assert process_cpu_seconds(77, str(tmp_path)) == 500 / ticks


def test_real_machine_allocation() -> None:
    a = allocation(DeviceConfig(sysfs_root="/sys"))
    assert 0 < a.cpus <= a.host_cpus == (os.cpu_count() or 1)
    assert a.host_memory_bytes > 0 and a.charged_memory_bytes > 0
    assert a.cpu_model
