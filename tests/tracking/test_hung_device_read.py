"""A device read that hangs (a GPU fallen off the bus, an NFS-mounted sysfs, a driver stuck in the kernel) is
given up after a bound: the other devices, the other runs on the node and the caller of start() go on.

Every wait here is bounded (thread joins, stop timeouts), so code that blocks fails these tests, never hangs them.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import wattprint.tracking.sampler as sampler_mod
from wattprint.storage import open_store
from wattprint.tracking import track
from wattprint.tracking.ledger import Ledger
from wattprint.tracking.sampler import Sampler

from .conftest import Counter, Hangs, PowerReader, charged, wait_for

BOUND_S = 0.3  # READ_TIMEOUT_S for these tests (the interval is shorter, so it is the bound)
INTERVAL_S = 0.05


@pytest.fixture(autouse=True)
def short_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampler_mod, "READ_TIMEOUT_S", BOUND_S, raising=False)


@pytest.fixture
def pids() -> Iterator[list[int]]:
    """Live sibling processes: ledgers with their pids stand for separate ranks (they split a shared device)."""
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]) for _ in range(2)]
    yield [p.pid for p in procs]
    for p in procs:
        p.kill()
        p.wait()


def said(notes: list[str], text: str) -> Callable[[], bool]:
    return lambda: any(text in n for n in notes)


def samples(s: Sampler) -> int:
    return s.snapshot.samples if s.snapshot is not None else 0


def test_a_hung_read_is_given_up_and_the_other_devices_are_still_sampled() -> None:
    notes: list[str] = []
    gpu, cpu = Hangs(), PowerReader("cpu", power_w=100.0)
    s = Sampler([gpu, cpu], Ledger(None, "r"), interval_s=INTERVAL_S, notify=notes.append)
    s.start()
    try:
        time.sleep(0.2)
        gpu.hang.set()
        assert wait_for(said(notes, "did not return within"), 3 * BOUND_S + 1.0), notes
        assert any("fake-gpu" in n and "frozen" in n for n in notes)
        gpu_at_give_up = charged(s, "gpu")
        n0 = samples(s)
        assert wait_for(lambda: samples(s) > n0)  # the reading redone without it (the CPU's hung round in it)
        snap0 = s.snapshot
        time.sleep(0.5)  # well beyond the bound: sampling goes on without the hung reader
        snap1 = s.snapshot
        assert snap1.samples >= snap0.samples + 4
        assert (snap1.charged_j["cpu"][0] - snap0.charged_j["cpu"][0]) / (snap1.t - snap0.t) == pytest.approx(100.0,
                                                                                                          rel=0.1)
        assert charged(s, "gpu") == pytest.approx(gpu_at_give_up)  # frozen, not counted on
        assert "gpu0" in s.snapshot.gpus  # what it saw still stands in this process's own view
        assert s.snapshot.read_j["gpu"] > 0
        s.stop("finished", timeout=2.0)
        assert not s.running  # the final reading did not wait for the hung one
        cpu_read = 100.0 * (cpu.reads[-1] - cpu.reads[0])
        assert charged(s, "cpu") == pytest.approx(cpu_read, rel=0.05)  # the hung round's CPU energy too
    finally:
        gpu.release.set()
        s.stop("finished", timeout=2.0)


def test_start_returns_within_the_bound_when_the_baseline_read_hangs() -> None:
    notes: list[str] = []
    gpu, cpu = Hangs(), PowerReader("cpu", power_w=50.0)
    gpu.hang.set()
    s = Sampler([gpu, cpu], Ledger(None, "r"), interval_s=INTERVAL_S, notify=notes.append)
    starter = threading.Thread(target=s.start, daemon=True)
    t0 = time.monotonic()
    starter.start()
    try:
        starter.join(BOUND_S + 2.0)
        assert not starter.is_alive(), "start() blocked on a hung device read"
        assert time.monotonic() - t0 < BOUND_S + 2.0
        assert any("did not return within" in n and "nothing yet" in n for n in notes)
        assert wait_for(lambda: samples(s) >= 3)  # the CPU is sampled
        assert charged(s, "gpu") == 0.0 and charged(s, "cpu") > 0
    finally:
        gpu.release.set()
        s.stop("finished", timeout=2.0)


def test_a_run_with_a_hung_read_ends_finished_and_its_notes_say_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wattprint.tracking.run as run_mod

    monkeypatch.setattr(run_mod, "STOP_GRACE_S", 1.0)  # stop() waits one interval + this at most
    notes: list[str] = []
    gpu, cpu = Hangs(), PowerReader("cpu", power_w=100.0)
    run = track("hung", "hung1", interval_s=INTERVAL_S, readers=[gpu, cpu], notify=notes.append).start()
    try:
        time.sleep(0.2)
        gpu.hang.set()
        time.sleep(0.1)
        t0 = time.monotonic()
        fp = run.stop()
        assert time.monotonic() - t0 < BOUND_S + 1.0
        assert not run.unsaved and not any("did not finish" in n for n in notes), notes
        stored = open_store(str(tmp_path / "runs.db")).get_run("hung1")
        assert stored.status == "finished"
        assert any("fake-gpu" in n and "did not return within" in n for n in stored.summary["device_notes"])
        assert fp.energy_by_component_kwh["cpu"].kwh.value * 3.6e6 == pytest.approx(
            100.0 * (cpu.reads[-1] - cpu.reads[0]), rel=0.05)
    finally:
        gpu.release.set()


def test_a_late_answer_is_not_counted_and_the_reader_is_counted_afresh_after() -> None:
    notes: list[str] = []
    gpu = Counter()
    s = Sampler([gpu, PowerReader("cpu")], Ledger(None, "r"), interval_s=INTERVAL_S, notify=notes.append)
    s.start()
    try:
        gpu.energy_j = 10.0
        assert wait_for(lambda: charged(s, "gpu") == pytest.approx(10.0))
        gpu.hang.set()
        assert wait_for(said(notes, "did not return within"), 3 * BOUND_S + 1.0), notes
        gpu.energy_j = 1000.0  # what the device did while it hung: not this run's to count
        gpu.release.set()  # the hung read comes back, with 1000 J: dropped
        assert gpu.returned.wait(2.0)
        assert wait_for(said(notes, "answers again"), 2.0), notes
        n = samples(s)
        assert wait_for(lambda: samples(s) >= n + 3)
        assert charged(s, "gpu") == pytest.approx(10.0)  # neither the late answer nor the hung time
        gpu.energy_j = 1005.0  # counted again from its return
        assert wait_for(lambda: charged(s, "gpu") == pytest.approx(15.0))
        assert s.snapshot.read_j["gpu"] == pytest.approx(15.0)  # its own view continues from the frozen reading
    finally:
        gpu.release.set()
        s.stop("finished", timeout=2.0)
    assert charged(s, "gpu") == pytest.approx(15.0)


def test_one_runs_hung_read_neither_blocks_another_run_nor_keeps_a_share_of_the_device(
        tmp_path: Path, pids: list[int]) -> None:
    """Two runs (two ranks) share the node's CPU package; A's read of it hangs. B goes on sampling, and once A
    has given the device up, B is charged all of it."""
    path = str(tmp_path / "ledger-node.json")
    hung = Hangs("cpu", "package-0", 100.0)
    a_notes: list[str] = []
    a = Sampler([hung], Ledger(path, "runA", pid=pids[0]), interval_s=INTERVAL_S, notify=a_notes.append)
    b_notes: list[str] = []
    b = Sampler([PowerReader("cpu", "package-0", 100.0)], Ledger(path, "runB", pid=pids[1]), interval_s=INTERVAL_S,
                notify=b_notes.append)
    a.start()
    b.start()
    try:
        time.sleep(0.3)
        snap0 = b.snapshot
        time.sleep(0.3)
        snap1 = b.snapshot
        assert (snap1.charged_j["cpu"][0] - snap0.charged_j["cpu"][0]) / (snap1.t - snap0.t) == pytest.approx(50.0,
                                                                                                          rel=0.2)
        hung.hang.set()
        n = samples(b)
        time.sleep(0.15)  # within the bound: A is stuck in its read, B must not be
        assert samples(b) >= n + 2, "another run's hung device read stopped this run's sampling"
        assert wait_for(said(a_notes, "did not return within"), 3 * BOUND_S + 1.0), a_notes
        time.sleep(0.2)  # A's next reading has told the ledger
        snap0, a0 = b.snapshot, charged(a, "cpu")
        time.sleep(0.5)
        snap1 = b.snapshot
        assert (snap1.charged_j["cpu"][0] - snap0.charged_j["cpu"][0]) / (snap1.t - snap0.t) == pytest.approx(100.0,
                                                                                                          rel=0.1)
        assert charged(a, "cpu") == pytest.approx(a0)  # no share charged to the run that gave it up
        b.stop("finished", timeout=2.0)
        assert not b.running
    finally:
        hung.release.set()
        a.stop("finished", timeout=2.0)
        b.stop("finished", timeout=2.0)


def test_readings_charged_out_of_time_order_still_add_up(tmp_path: Path, pids: list[int]) -> None:
    """Reads happen outside the lock: a run may charge a reading older than one another run charged already."""
    path = str(tmp_path / "l.json")
    a, b = Ledger(path, "a", pid=pids[0]), Ledger(path, "b", pid=pids[1])

    def rd(t: float) -> list[tuple[str, str, list[float]]]:
        e = 100.0 * t  # both processes opened the device at t=0
        return [("cpu", "package-0", [e, e, e])]

    a.charge(0.0, rd(0.0))
    b.charge(0.0, rd(0.0))
    for k in range(1, 6):
        t_a, t_b = k - 0.3, k  # A read first, B charged first
        b.charge(t_b, rd(t_b))
        a.charge(t_a, rd(t_a))
    a.charge(6.0, rd(6.0), leave=True)
    b.charge(6.0, rd(6.0), leave=True)
    assert a.charged["cpu"][0] + b.charged["cpu"][0] == pytest.approx(600.0, rel=1e-9)


def test_a_device_given_up_leaves_the_ledger_and_can_be_joined_again(tmp_path: Path, pids: list[int]) -> None:
    path = str(tmp_path / "l.json")
    a, b = Ledger(path, "a", pid=pids[0]), Ledger(path, "b", pid=pids[1])

    def rd(t: float, opened: float = 0.0) -> list[tuple[str, str, list[float]]]:
        e = 100.0 * (t - opened)
        return [("cpu", "package-0", [e, e, e])]

    for t in (0.0, 1.0, 2.0):
        a.charge(t, rd(t))
        b.charge(t, rd(t))
    assert a.charged["cpu"][0] == pytest.approx(100.0) and b.charged["cpu"][0] == pytest.approx(100.0)
    a.charge(3.0, [], forget=[("cpu", "package-0")])  # A's read hung: it gives the device up
    for t in (3.0, 4.0, 5.0):
        b.charge(t, rd(t))
    assert b.charged["cpu"][0] == pytest.approx(100.0 + 300.0)  # B alone from A's last reading on
    assert a.charged["cpu"][0] == pytest.approx(100.0)
    a.charge(5.5, rd(5.5, opened=-50.0))  # answers again (its counter ran on meanwhile): joins afresh
    b.charge(6.0, rd(6.0))
    a.charge(6.5, rd(6.5, opened=-50.0))
    # from its return on it shares again (B's [5, 6] is split with it, as for any run that joins), and none of
    # the 5000 J its counter ran on while it hung is charged
    assert a.charged["cpu"][0] == pytest.approx(100.0 + 50.0 + 25.0)
    b.charge(6.5, rd(6.5))  # (a run sees the shares others credited to it at its next reading)
    assert a.charged["cpu"][0] + b.charged["cpu"][0] == pytest.approx(100.0 * 6.5, rel=1e-9)  # each joule once
