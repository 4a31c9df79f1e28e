"""Review of the hung-read guard and the final write: a hang in the baseline reading costs no energy of the other
devices (duration and energy cover one window), the first and final readings give a hung device up after a fixed
limit whatever the interval, the given-up note quotes this run's energy (not the device's raw counter), the RAPL
keep-up note says the rule it applies, Ctrl-C during stop() leaves no half-closed run, a sampler thread ended by a
non-Exception says so, and the locked-store note does not claim the lock ended.

Fake readers at the device boundary; every wait is bounded (thread joins, stop timeouts), so code that blocks fails
these tests, never hangs them.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import wattprint.tracking.run as run_mod
import wattprint.tracking.sampler as sampler_mod
from wattprint.devices import Reading
from wattprint.storage import open_store
from wattprint.tracking import track
from wattprint.tracking.ledger import Ledger
from wattprint.tracking.sampler import Sampler, Snapshot, _energy_at

from .conftest import Counter, Hangs, PowerReader, charged, steady_run, wait_for

BOUND_S = 0.3  # READ_TIMEOUT_S for these tests
INTERVAL_S = 0.05
LONG_INTERVAL_S = 3600.0


@pytest.fixture(autouse=True)
def short_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sampler_mod, "READ_TIMEOUT_S", BOUND_S, raising=False)


class Wraps(PowerReader):
    """A counter that can wrap around within ``max_interval_s`` (as RAPL's)."""

    def __init__(self, max_interval_s: float) -> None:
        super().__init__("cpu", "package-0", 10.0)
        self.name = "fake-rapl"
        self.max_interval_s = max_interval_s


class ExitsOnRead(PowerReader):
    """A reader whose library raises SystemExit on its ``n``-th read (not an Exception: the sampler re-raises it)."""

    def __init__(self, n: int) -> None:
        super().__init__("cpu", "package-0", 100.0)
        self.n = n

    def read(self) -> list[Reading]:
        if len(self.reads) + 1 == self.n:
            self.reads.append(time.monotonic())
            raise SystemExit("library gave up")
        return super().read()


def start_bounded(s: Sampler, limit_s: float) -> float:
    """start() on a daemon thread, joined at most ``limit_s``: returns how long it took (fails if it blocked)."""
    starter = threading.Thread(target=s.start, daemon=True)
    t0 = time.monotonic()
    starter.start()
    starter.join(limit_s)
    assert not starter.is_alive(), f"start() blocked on a hung device read for over {limit_s} s"
    return time.monotonic() - t0


# -- 1: a hang in the baseline reading ---------------------------------------------------------------------------
def test_a_hang_in_the_baseline_keeps_the_readings_taken_before_it() -> None:
    """CPU read, then the GPU's read hangs: the CPU's baseline stands, so its energy covers the whole duration."""
    notes: list[str] = []
    cpu, gpu = PowerReader("cpu", power_w=100.0), Hangs()
    gpu.hang.set()
    s = Sampler([cpu, gpu], Ledger(None, "r"), interval_s=INTERVAL_S, notify=notes.append)
    try:
        took = start_bounded(s, BOUND_S + 2.0)
        assert took >= BOUND_S * 0.9  # (the hang did happen in the baseline)
        time.sleep(0.4)
        s.stop("finished", timeout=2.0)
        assert not s.running
        snap = s.snapshot
        assert snap is not None and snap.elapsed_s > BOUND_S + 0.3
        # before: the CPU was counted from the re-read after the hang only: 100 J/s over ~0.45 of ~0.75 s
        assert charged(s, "cpu") / snap.elapsed_s == pytest.approx(100.0, rel=0.05), notes
        assert charged(s, "cpu") == pytest.approx(100.0 * (cpu.reads[-1] - cpu.reads[0]), rel=0.02)
        assert charged(s, "gpu") == 0.0
        assert not any("read after it" in n for n in notes), notes  # nothing was left to read after the GPU
    finally:
        gpu.release.set()
        s.stop("finished", timeout=2.0)


def test_readers_after_the_hung_one_in_the_baseline_are_counted_from_the_redone_reading_and_said() -> None:
    notes: list[str] = []
    cpu, gpu, ram = PowerReader("cpu", power_w=100.0), Hangs(), PowerReader("ram", "dimm", 10.0)
    gpu.hang.set()
    s = Sampler([cpu, gpu, ram], Ledger(None, "r"), interval_s=INTERVAL_S, notify=notes.append)
    try:
        start_bounded(s, BOUND_S + 2.0)
        time.sleep(0.3)
        s.stop("finished", timeout=2.0)
        snap = s.snapshot
        assert snap is not None
        assert charged(s, "cpu") / snap.elapsed_s == pytest.approx(100.0, rel=0.05)
        # the RAM was first read after the hang: counted from then, as the note says
        assert charged(s, "ram") == pytest.approx(10.0 * (ram.reads[-1] - ram.reads[0]), rel=0.02)
        assert ram.reads[0] - cpu.reads[0] >= BOUND_S * 0.9
        said = [n for n in notes if "did not return within" in n]
        assert said and "fake-ram, read after it, is counted from the reading redone without it" in said[0], notes
        assert "fake-cpu" not in said[0]
    finally:
        gpu.release.set()
        s.stop("finished", timeout=2.0)


def test_a_run_whose_baseline_read_hangs_stores_energy_over_the_same_window_as_its_duration(tmp_path: Path) -> None:
    cpu, gpu = PowerReader("cpu", power_w=100.0), Hangs()
    gpu.hang.set()
    run = track("hb", "hb1", interval_s=INTERVAL_S, readers=[cpu, gpu], pue=1.0, notify=lambda m: None)
    try:
        t0 = time.monotonic()
        run.start()
        assert time.monotonic() - t0 < BOUND_S + 2.0
        time.sleep(0.5)
        fp = run.stop()
        stored = open_store(str(tmp_path / "runs.db")).get_run("hb1")
        assert stored.status == "finished"
        cpu_j = fp.energy_by_component_kwh["cpu"].kwh.value * 3.6e6
        # before: 1.0 s of CPU energy for 1.5 s of duration (the stress case: 100.19 J, 1.503 s)
        assert cpu_j / stored.duration_s == pytest.approx(100.0, rel=0.05)
    finally:
        gpu.release.set()


# -- 3: the given-up note quotes this run's energy -------------------------------------------------------------
def test_the_given_up_note_quotes_the_energy_read_in_this_run_not_the_raw_counter() -> None:
    notes: list[str] = []
    gpu = Counter(energy_j=5000.0)  # the counter counts from the driver's load, long before this run
    s = Sampler([gpu, PowerReader("cpu")], Ledger(None, "r"), interval_s=INTERVAL_S, notify=notes.append)
    s.start()
    try:
        gpu.energy_j = 5012.5
        assert wait_for(lambda: charged(s, "gpu") == pytest.approx(12.5))
        gpu.hang.set()
        assert wait_for(lambda: any("did not return within" in n for n in notes), 3 * BOUND_S + 1.0), notes
        said = next(n for n in notes if "did not return within" in n)
        assert "gpu 12.5 J" in said and "5012" not in said, said  # before: "(gpu 5012.5 J)"
        assert charged(s, "gpu") == pytest.approx(12.5)  # what the note says is what stays charged
    finally:
        gpu.release.set()
        s.stop("finished", timeout=2.0)


# -- 4: the RAPL keep-up note says the rule it applies ---------------------------------------------------------
def test_the_keep_up_note_says_twice_the_interval_as_the_rule_applies() -> None:
    notes: list[str] = []
    # wraps in 0.2 s, interval 0.15 s: more than one interval, less than two -> kept up (a late reading)
    s = Sampler([Wraps(0.2)], Ledger(None, "r"), interval_s=0.15, notify=notes.append)
    assert s.keep_up_s == pytest.approx(0.1)
    s.start()
    s.stop("finished", timeout=2.0)
    said = [n for n in notes if "in between too" in n]
    assert said, notes
    assert "less than twice the sampling interval (0.15 s" in said[0], said  # before: "less than the sampling ..."
    assert "less than the sampling interval" not in said[0]
    # and no keep-up reads (no note) where the wrap time is twice the interval or more
    assert Sampler([Wraps(0.3)], Ledger(None, "r"), interval_s=0.15).keep_up_s is None


# -- 5: the first and final readings give up after the fixed limit, whatever the interval ------------------------
def test_with_a_long_interval_a_hung_baseline_read_holds_start_up_for_the_fixed_limit_only() -> None:
    notes: list[str] = []
    cpu, gpu = PowerReader("cpu", power_w=100.0), Hangs()
    gpu.hang.set()
    s = Sampler([cpu, gpu], Ledger(None, "r"), interval_s=LONG_INTERVAL_S, notify=notes.append)
    try:
        took = start_bounded(s, BOUND_S + 2.0)  # before: max(interval, limit) = 3600 s
        assert took < BOUND_S + 1.0
        assert any(f"within {BOUND_S:g} s" in n for n in notes), notes
    finally:
        gpu.release.set()
        s.stop("finished", timeout=2.0)


def test_with_a_long_interval_a_hung_final_read_is_given_up_after_the_fixed_limit() -> None:
    notes: list[str] = []
    cpu, gpu = PowerReader("cpu", power_w=100.0), Hangs()
    s = Sampler([gpu, cpu], Ledger(None, "r"), interval_s=LONG_INTERVAL_S, notify=notes.append)
    s.start()
    try:
        time.sleep(0.2)
        gpu.hang.set()
        t0 = time.monotonic()
        s.stop("finished", timeout=3.0)
        took = time.monotonic() - t0
        assert not s.running, notes  # before: still waiting for the guard's 3600 s bound
        assert took < BOUND_S + 1.0
        assert charged(s, "cpu") > 0 and charged(s, "gpu") == 0.0  # the GPU frozen at its baseline
    finally:
        gpu.release.set()
        s.stop("finished", timeout=2.0)


def test_with_a_long_interval_a_run_whose_final_read_hangs_ends_finished_without_that_device(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the README says: the final reading gives the device up after the limit, the run ends normally."""
    monkeypatch.setattr(run_mod, "STOP_GRACE_S", 1.0)
    notes: list[str] = []
    cpu, gpu = PowerReader("cpu", power_w=100.0), Hangs()
    run = track("hl", "hl1", interval_s=LONG_INTERVAL_S, readers=[gpu, cpu], notify=notes.append).start()
    stopper = threading.Thread(target=run.stop, daemon=True)
    try:
        time.sleep(0.2)
        gpu.hang.set()
        t0 = time.monotonic()
        stopper.start()
        stopper.join(BOUND_S + 2.0)  # before: stop() waited interval + grace (an hour)
        assert not stopper.is_alive(), "stop() waited on a hung final read"
        assert time.monotonic() - t0 < BOUND_S + 1.0
        assert run.status == "finished" and not run.unsaved, notes
        stored = open_store(str(tmp_path / "runs.db")).get_run("hl1")
        assert stored.status == "finished"
        assert any("fake-gpu" in n and "did not return within" in n for n in stored.summary["device_notes"])
    finally:
        gpu.release.set()
        stopper.join(5)


def test_with_a_long_interval_a_hung_mid_run_read_is_given_up_after_the_fixed_limit() -> None:
    """A phase mark takes a reading mid-run; its hung read must not hold the sampler (marks, keep-up reads) for an
    interval: the limit is the same fixed one for every read."""
    notes: list[str] = []
    cpu, gpu = PowerReader("cpu", power_w=100.0), Hangs()
    s = Sampler([gpu, cpu], Ledger(None, "r"), interval_s=LONG_INTERVAL_S, notify=notes.append)
    s.start()
    try:
        gpu.hang.set()
        s.mark_phase("enter", "p")
        assert wait_for(lambda: any("did not return within" in n for n in notes), BOUND_S + 1.5), notes
        s.mark_phase("exit", "p")
        assert wait_for(lambda: "p" in s.phases, 2.0)  # the sampler goes on without the hung reader
    finally:
        gpu.release.set()
        s.stop("finished", timeout=2.0)


def test_a_phase_boundary_between_the_baseline_and_the_next_reading_is_interpolated_from_zero() -> None:
    prev = Snapshot(0.0, 0.0, 0.0, {}, {}, {}, {})  # the baseline: nothing charged yet
    snap = Snapshot(10.0, 10.0, 10.0, {"cpu": (100.0, 90.0, 110.0)}, {}, {}, {})
    assert _energy_at(5.0, prev, snap) == {"cpu": pytest.approx(50.0)}  # before: 100 J (all of it)


# -- 6: Ctrl-C during stop() -------------------------------------------------------------------------------------
class ExitHooks:
    """Stands for the atexit module in wattprint.tracking.run: which hooks are registered now."""

    def __init__(self) -> None:
        self.registered: list[Callable[[], object]] = []

    def register(self, fn: Callable[[], object]) -> None:
        self.registered.append(fn)

    def unregister(self, fn: Callable[[], object]) -> None:
        self.registered = [f for f in self.registered if f != fn]


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """A SIGINT handler of the test's own (raises KeyboardInterrupt, as Python's default does), put back after."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    prev = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, prev)


def test_ctrl_c_during_stop_restores_the_signal_handlers_and_exit_hook_and_keeps_the_status_in_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sigint_raises: None) -> None:
    monkeypatch.setattr(run_mod, "STOP_GRACE_S", 5.0)  # stop() would wait this long for the locked store
    db = tmp_path / "runs.db"
    hooks = ExitHooks()
    monkeypatch.setattr(run_mod, "atexit", hooks)
    ours = signal.getsignal(signal.SIGINT)
    run = track("kb", "kb1", db=str(db), interval_s=0.1, readers=[PowerReader("cpu", power_w=100.0)], pue=1.0,
                notify=lambda m: None).start()
    assert signal.getsignal(signal.SIGINT) == run._on_signal and hooks.registered == [run._at_exit]
    time.sleep(0.3)
    con = sqlite3.connect(str(db), isolation_level=None, timeout=0, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")  # another writer: the final write waits for it
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread().ident == main
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
    locked = True
    try:
        timer.start()
        t0 = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            run.stop("finished")  # the lock is held until after this: it cannot return before the Ctrl-C
        assert time.monotonic() - t0 < 3.0
        # not half-closed: our handler and no exit hook (before: wattprint's handler, and the hook that would end
        # the run again as "interrupted" at exit)
        assert signal.getsignal(signal.SIGINT) == ours
        assert hooks.registered == []
        assert run.status == "finished"
        con.execute("COMMIT")
        con.close()
        locked = False
        assert run.sampler is not None and wait_for(lambda: not run.sampler.running, 5.0)  # type: ignore[union-attr]
        with open_store(str(db), readonly=True) as store:
            assert store.get_run("kb1").status == "finished"  # the sampler's final write got through
        fp = run.stop("interrupted")  # a later stop (the program carried on) closes up, in step with the store
        assert run.status == "finished" and not run.unsaved
        assert fp.energy_by_component_kwh["cpu"].kwh.value > 0
        assert run.stop("failed") is fp
    finally:
        timer.cancel()
        if locked:
            con.execute("COMMIT")
            con.close()
        if run._final is None:
            run.stop()


# -- 7: a non-Exception ends the sampler thread ---------------------------------------------------------------
def test_a_sampler_thread_ended_by_systemexit_leaves_the_run_unsaved_with_a_note(tmp_path: Path) -> None:
    notes: list[str] = []
    cpu = ExitsOnRead(4)
    run = track("se", "se1", interval_s=INTERVAL_S, readers=[cpu], pue=1.0, notify=notes.append).start()
    assert run.sampler is not None
    assert wait_for(lambda: not run.sampler.running, 3.0)  # type: ignore[union-attr]
    run.stop()
    # before: unsaved False (the CLI said "stored in ..."), no note, the stored run left running in silence
    assert run.unsaved
    said = [n for n in notes if "SystemExit" in n]
    assert said and "left running" in said[0], notes
    stored = open_store(str(tmp_path / "runs.db")).get_run("se1")
    assert stored.status == "running"


# -- nit: the locked-store note does not say the lock ended ------------------------------------------------------
def test_the_locked_store_note_says_the_store_was_still_locked_when_the_run_gave_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_mod, "STOP_GRACE_S", 0.5)
    db = tmp_path / "runs.db"
    notes: list[str] = []
    run = steady_run("lk", "lk1", db, 0.1, notes)
    time.sleep(0.3)
    con = sqlite3.connect(str(db), isolation_level=None, timeout=0, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.monotonic()
        run.stop()
        assert time.monotonic() - t0 < 2.0
    finally:
        con.execute("COMMIT")
        con.close()
    said = [n for n in notes if "locked by another process" in n and "after the run stopped" in n]
    assert said and run.unsaved, notes
    assert "still locked" in said[0] and "until" not in said[0], said  # before: "stayed locked ... until 0.5 s after"
