"""The node ledger charges every joule of a shared device once, split among the runs reading it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wattprint.tracking.ledger import Ledger, default_state_dir, ledger_scope


@pytest.fixture
def pids() -> Any:
    """Pids of live sibling processes (children of this test), for ledgers that stand for separate ranks:
    ledgers of one process, or of a process and its child, are nested runs and do not split."""
    procs = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]) for _ in range(4)]
    yield [p.pid for p in procs]
    for p in procs:
        p.kill()
        p.wait()


class Node:
    """A device whose cumulative energy is rate x t; each process 'opens' it at some time (its own zero)."""

    def __init__(self, rate_w: float) -> None:
        self.rate = rate_w

    def reader(self, opened_at: float, device: str = "package-0", component: str = "cpu"):  # type: ignore[no-untyped-def]
        def read_at(t: float):  # type: ignore[no-untyped-def]
            e = self.rate * (t - opened_at)
            return lambda: (t, [(component, device, [e, e, e])])

        return read_at


def test_single_run_is_charged_everything_exactly(tmp_path: Path) -> None:
    led = Ledger(str(tmp_path / "l.json"), "a")
    read = Node(50.0).reader(0.0)
    for t in (0.0, 1.0, 2.5, 4.0):
        _, _, charged = led.account(read(t))
    assert charged["cpu"] == pytest.approx([200.0, 200.0, 200.0])


def test_interleaved_runs_sum_to_node_energy_not_n_times(tmp_path: Path, pids: list[int]) -> None:
    path = str(tmp_path / "l.json")
    node = Node(100.0)
    runs = {k: Ledger(path, k, pid=pid) for k, pid in zip("abcd", pids, strict=True)}
    opened = {"a": 0.0, "b": 0.3, "c": 0.55, "d": 0.8}
    readers = {k: node.reader(opened[k]) for k in runs}
    events = sorted((opened[k] + i * 1.0, k) for k in runs for i in range(6))  # each reads every 1 s, out of phase
    last_of = {k: max(t for t, kk in events if kk == k) for k in runs}
    for t, k in events:
        runs[k].account(readers[k](t), leave=t == last_of[k])  # the final reading leaves the ledger
    first, last = events[0][0], events[-1][0]
    total = sum(led.charged["cpu"][0] for led in runs.values())
    assert total == pytest.approx(node.rate * (last - first), rel=1e-9)
    # the run that was alone at the start got more; all shares are positive
    assert all(led.charged["cpu"][0] > 0 for led in runs.values())


def test_per_process_gpus_are_not_split(tmp_path: Path) -> None:
    path = str(tmp_path / "l.json")
    node = Node(300.0)
    a, b = Ledger(path, "a"), Ledger(path, "b")
    ra, rb = node.reader(0.0, "gpu0", "gpu"), node.reader(0.0, "gpu1", "gpu")
    for t in (0.0, 1.0, 2.0):
        a.account(ra(t))
        b.account(rb(t))
    assert a.charged["gpu"][0] == pytest.approx(600.0)
    assert b.charged["gpu"][0] == pytest.approx(600.0)


def test_dead_processes_stop_sharing_and_leave_removes_a_run(tmp_path: Path) -> None:
    path = str(tmp_path / "l.json")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    node = Node(10.0)
    ghost = Ledger(path, "ghost", pid=int(dead.stdout))
    me = Ledger(path, "me")
    ghost.account(node.reader(0.0)(0.0))
    me.account(node.reader(0.0)(0.0))
    me.account(node.reader(0.0)(2.0))
    assert me.charged["cpu"][0] == pytest.approx(20.0)  # the dead run gets no share
    state = json.loads(Path(path).read_text())
    assert "ghost" not in state["runs"]
    assert me.live_runs() == 1
    me.leave()
    assert Ledger(path, "x").live_runs() == 0


def test_a_dead_run_whose_pid_the_kernel_reuses_stops_sharing(tmp_path: Path) -> None:
    path = str(tmp_path / "l.json")
    node = Node(10.0)
    ghost = Ledger(path, "ghost")  # a run killed with SIGKILL: its entry stays in the file
    ghost.account(node.reader(0.0)(0.0))
    state = json.loads(Path(path).read_text())
    state["runs"]["ghost"]["start"] -= 1  # its pid now belongs to another (live) process, started later
    Path(path).write_text(json.dumps(state))
    me = Ledger(path, "me")
    me.account(node.reader(0.0)(0.0))
    me.account(node.reader(0.0)(2.0))
    assert me.charged["cpu"][0] == pytest.approx(20.0)  # not halved by the ghost
    assert "ghost" not in json.loads(Path(path).read_text())["runs"]


def test_corrupt_state_file_is_reset_and_runs_keep_their_totals(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    led = Ledger(str(path), "a")
    read = Node(1.0).reader(0.0)
    led.account(read(0.0))
    led.account(read(5.0))
    path.write_text('{"version": 1, "runs": {"a"')  # torn by a kill mid-write
    led.account(read(6.0))  # re-registers with what it had; the reading re-baselines
    led.account(read(7.0))
    assert led.charged["cpu"][0] == pytest.approx(6.0)


def test_state_folder_and_scope(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WATTPRINT_STATE_DIR", str(tmp_path / "s"))
    assert default_state_dir() == str(tmp_path / "s")
    monkeypatch.setenv("SLURM_JOB_ID", "12345")
    assert ledger_scope() == "slurm-12345"
    led, note = Ledger.for_node("k")
    assert note is None and led.path is not None and "slurm-12345" in led.path
    blocked = tmp_path / "file"
    blocked.write_text("")
    led, note = Ledger.for_node("k", str(blocked / "sub"))
    assert led.path is None and note and "WATTPRINT_STATE_DIR" in note


def _join_and_leave(path: Path, solo_fast_path: bool, pids: list[int]) -> tuple[Ledger, Ledger, bytes, bytes]:
    """a reads alone, b joins at 3.2 and leaves at 6.7, a reads alone again; returns the ledgers and the
    file's bytes before and after a's first two solo readings."""
    node = Node(100.0)
    a, b = Ledger(str(path), "a", pid=pids[0]), Ledger(str(path), "b", pid=pids[1])
    if not solo_fast_path:  # the reference protocol: every reading under the lock, written back
        a._solo_state = b._solo_state = lambda: None  # type: ignore[method-assign]
    ra, rb = node.reader(0.0), node.reader(3.2)
    for t in (0.0, 1.0):
        a.account(ra(t))
    before = path.read_bytes()
    for t in (2.0, 3.0):
        a.account(ra(t))
    after = path.read_bytes()
    # b registers, then reads again before a's next reading: it credits a share to a, whose solo
    # charges are not yet in the file; a's merge must keep both
    events = [(3.2, "b"), (3.7, "b"), (4.0, "a"), (4.7, "b"), (5.0, "a"), (5.7, "b"), (6.0, "a"), (6.7, "b")]
    for t, k in events:
        (a if k == "a" else b).account((ra if k == "a" else rb)(t), leave=k == "b" and t == 6.7)
    for t in (7.0, 8.0, 9.0):
        a.account(ra(t), leave=t == 9.0)
    return a, b, before, after


def test_a_run_alone_charges_in_memory_and_merges_when_another_joins(tmp_path: Path, pids: list[int]) -> None:
    a, b, before, after = _join_and_leave(tmp_path / "fast.json", solo_fast_path=True, pids=pids)
    assert after == before  # alone: nothing to tell anyone, the file was not rewritten
    ref_a, ref_b, ref_before, ref_after = _join_and_leave(tmp_path / "ref.json", solo_fast_path=False, pids=pids)
    assert ref_after != ref_before
    # exactly what writing at every reading charges: each run's share, and the node's energy less the
    # 0.2 s between a's last reading and b's registration, which no run was reading when it passed
    assert a.charged["cpu"] == pytest.approx(ref_a.charged["cpu"], rel=1e-12)
    assert b.charged["cpu"] == pytest.approx(ref_b.charged["cpu"], rel=1e-12)
    assert a.charged["cpu"][0] + b.charged["cpu"][0] == pytest.approx(100.0 * (9.0 - 0.2), rel=1e-9)
    assert b.charged["cpu"][0] > 0
    state = json.loads((tmp_path / "fast.json").read_text())
    assert state["runs"] == {} and state["devices"] == {}


def test_a_run_alone_notices_a_reset_file(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    led = Ledger(str(path), "a")
    read = Node(1.0).reader(0.0)
    for t in (0.0, 1.0, 2.0, 3.0):
        led.account(read(t))
    path.write_text("")  # another process reset the state: the run re-registers with its totals
    led.account(read(4.0))
    assert "a" in json.loads(path.read_text())["runs"]
    assert json.loads(path.read_text())["runs"]["a"]["charged"]["cpu"][0] == pytest.approx(3.0)


def test_nested_runs_are_each_charged_all_and_only_unrelated_runs_split(tmp_path: Path, pids: list[int]) -> None:
    path = str(tmp_path / "l.json")
    node = Node(100.0)
    # this process stands for `wattprint run`; its children for the ranks of the job it runs (each tracked)
    outer = Ledger(path, "outer")
    ranks = [Ledger(path, f"rank{i}", pid=pid) for i, pid in enumerate(pids[:2])]
    same_process = Ledger(path, "inner")  # a second tracker inside the outer one's process
    everyone = [outer, *ranks, same_process]
    for t in (0.0, 1.0, 2.0, 3.0):
        for led in everyone:
            led.account(node.reader(0.0)(t))
    # each reading's new energy is charged once per interval; over 3 s the node drew 300 J
    assert outer.charged["cpu"][0] == pytest.approx(300.0, rel=0.01)
    assert same_process.charged["cpu"][0] == pytest.approx(300.0, rel=0.01)
    assert [r.charged["cpu"][0] for r in ranks] == pytest.approx([150.0, 150.0], rel=0.01)


def test_a_ledger_held_locked_is_given_up_after_a_bound_and_nothing_charged_is_lost(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that holds the ledger's lock (stopped with Ctrl-Z while holding it, a stuck filesystem) held
    every other run's readings, and a starting `wattprint run` before its command, for as long as it held it."""
    import wattprint.tracking.ledger as ledger_module

    monkeypatch.setattr(ledger_module, "LOCK_WAIT_S", 0.3)
    path = tmp_path / "l.json"
    led = Ledger(str(path), "a")
    notes: list[str] = []
    led.note = notes.append
    read = Node(50.0).reader(0.0)
    led.account(read(0.0))
    led.account(read(1.0))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.pwrite(fd, b' ', os.fstat(fd).st_size)  # another process changed it: no solo fast path\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        import time

        t0 = time.monotonic()
        _, _, charged = led.account(read(2.0))
        waited = time.monotonic() - t0
        _, _, charged = led.account(read(3.0))
    finally:
        holder.kill()
        holder.wait()
    assert 0.3 <= waited < 5.0  # the bound, not the holder's 60 s
    assert charged["cpu"] == pytest.approx([150.0, 150.0, 150.0])  # 3 s at 50 W: what was charged before kept
    assert led.path is None and len(notes) == 1 and "stayed locked" in notes[0]
