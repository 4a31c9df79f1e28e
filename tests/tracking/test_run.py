"""The tracking API on the real code path: sampler thread, ledger, store; readers with a known power."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wattprint
from wattprint.errors import InputConflictError, WattprintError
from wattprint.storage import open_store
from wattprint.tracking import Projection, Run, track

from .conftest import PowerReader

J_PER_KWH = 3.6e6


def busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def busy_cpu(cpu_seconds: float, within_s: float = 30.0) -> None:
    """Spin until this process has used ``cpu_seconds`` more CPU time: on a loaded machine a wall-clock spin of the
    same length gets a fraction of it."""
    end, deadline = time.process_time() + cpu_seconds, time.monotonic() + within_s
    while time.process_time() < end and time.monotonic() < deadline:
        pass


def _track_cpu_at_100_w(run_id: str, interval_s: float, seconds: float) -> tuple[Run, PowerReader, float]:
    """A tracked block of ``seconds`` with one 100 W CPU reader: (run, reader, time of its first reading)."""
    cpu = PowerReader("cpu", power_w=100.0)
    with track("p", run_id, interval_s=interval_s, readers=[cpu], pue=1.0, intensity=100.0) as run:
        first_read = cpu.reads[0]
        time.sleep(seconds)
    return run, cpu, first_read


def test_window_is_exactly_start_to_stop_with_a_reading_each_interval(tmp_path: Path) -> None:
    run, cpu, first_read = _track_cpu_at_100_w("w1", 0.05, 0.4)
    fp = run.footprint()
    # the window ends when stop() is called: the final reading (a moment later) is interpolated back to it
    assert run.sampler is not None and run.sampler.snapshot is not None
    last_read = run.sampler.snapshot.t
    assert cpu.reads[-2] < last_read <= cpu.reads[-1]
    # (within 0.1 ms at 100 W: the sampler notes its clock just before the devices are read)
    assert fp.energy_by_component_kwh["cpu"].kwh.value * J_PER_KWH == pytest.approx(100.0 * (last_read - first_read),
                                                                                 abs=0.01)
    assert fp.energy_by_component_kwh["cpu"].basis == "measured"
    gaps = [b - a for a, b in zip(cpu.reads, cpu.reads[1:], strict=False)]
    assert len(cpu.reads) >= 5 and max(gaps) < 0.3
    rec = open_store(str(tmp_path / "runs.db")).get_run("w1")
    assert rec.status == "finished"
    assert rec.energy_j["cpu"] == pytest.approx(100.0 * (last_read - first_read), abs=0.01)
    d = rec.to_dict()
    for key in ("energy_kwh", "it_energy_kwh", "energy_by_component_kwh", "operational_co2e_kg", "embodied_co2e_kg",
                "total_co2e_kg", "process_share"):
        assert key in d
    assert d["operational_co2e_kg"] == pytest.approx(d["energy_kwh"] * 100.0 / 1000.0)
    assert run.stop() is fp  # idempotent


def test_the_longest_interval_still_measures_start_to_stop_and_a_longer_one_is_refused(tmp_path: Path) -> None:
    # 1e300 s overflowed the sampler's lock wait (OverflowError in its thread, then in stop's join); intervals are
    # now at most an hour (a longer one is most likely ms given as s, and stop() waited one interval for a locked
    # store). The counters are cumulative, so at the longest interval start and stop readings alone give the energy
    with pytest.raises(InputConflictError, match="above 3600 s"):
        track("p", "too-long", interval_s=1e300, readers=[PowerReader("cpu")]).start()
    run, cpu, first_read = _track_cpu_at_100_w("huge-interval", 3600.0, 0.2)
    fp = run.footprint()
    # the window ends at stop(): the final reading, a moment later, is interpolated back to it, although the
    # start reading charged nothing yet (before, such a run was charged up to the final reading)
    assert run.sampler is not None and run.sampler.snapshot is not None
    end = run.sampler.snapshot.t
    assert first_read + 0.2 <= end <= cpu.reads[-1]
    # (within 0.1 ms at 100 W: the sampler notes its clock just before the devices are read; on a loaded machine
    # the read itself can come later than that, and the fake counter moves on meanwhile: what the final read lags
    # the stop by beyond half a millisecond is allowed on top, so a busy CI does not fail a correct window)
    cpu_j = fp.energy_by_component_kwh["cpu"].kwh.value * J_PER_KWH
    lag_s = max(0.0, cpu.reads[-1] - end - 0.0005)
    assert cpu_j == pytest.approx(100.0 * (end - first_read), abs=0.01 + 100.0 * lag_s)


def test_decorator_and_explicit_start_stop(tmp_path: Path) -> None:
    readers = [PowerReader("cpu", power_w=50.0), PowerReader("ram", "dram-0", power_w=5.0)]

    @track("deco", interval_s=0.05, readers=readers)
    def work(x: int) -> int:
        busy(0.1)
        return x * 2

    assert work(21) == 42
    first = work.last_run  # type: ignore[attr-defined]
    assert work(1) == 2
    assert work.last_run.id != first.id  # type: ignore[attr-defined]  # a new run per call
    runs = open_store(str(tmp_path / "runs.db")).list_runs(project="deco")
    assert len(runs) == 2 and all(r.status == "finished" for r in runs)

    run = track("explicit", interval_s=0.05, readers=[PowerReader()], persist=False)
    assert run.start() is run
    busy(0.15)
    live = run.energy_kwh
    fp = run.stop()
    assert 0 < live <= fp.energy_kwh.value
    with pytest.raises(WattprintError):
        run.start()


def test_phases_split_the_energy_and_are_stored(tmp_path: Path) -> None:
    cpu = PowerReader("cpu", power_w=100.0)
    with track("ph", "ph1", interval_s=0.05, readers=[cpu]) as run:
        with run.phase("train"):
            time.sleep(0.3)
        cpu.set_power(300.0)
        with run.phase("eval"):
            time.sleep(0.2)
    s = run.summary()
    train = s["phases"]["train"]["energy_j"]["cpu"]
    evl = s["phases"]["eval"]["energy_j"]["cpu"]
    assert train == pytest.approx(30.0, rel=0.25)
    assert evl == pytest.approx(60.0, rel=0.25)
    assert train + evl <= sum(run.sampler.snapshot.charged_j["cpu"][:1]) + 1e-9  # type: ignore[union-attr]
    store = open_store(str(tmp_path / "runs.db"))
    phases = store.phases("ph1")
    assert [p["name"] for p in phases] == ["train", "eval"] and all(p["end_s"] is not None for p in phases)
    assert store.get_run("ph1").summary["phases"]["eval"]["count"] == 1


def test_a_phase_reentered_inside_itself_is_totalled_once(tmp_path: Path) -> None:
    cpu = PowerReader("cpu", power_w=100.0)
    with track("ph", "ph2", interval_s=0.05, readers=[cpu]) as run, run.phase("a"):
        time.sleep(0.2)
        with run.phase("a"):  # e.g. a helper that marks its own phase, called from inside it
            time.sleep(0.2)
    a = run.summary()["phases"]["a"]
    assert a["count"] == 1
    assert a["duration_s"] == pytest.approx(0.4, rel=0.25)
    assert a["energy_j"]["cpu"] == pytest.approx(40.0, rel=0.25)


def test_resume_same_run_id_adds_up(tmp_path: Path) -> None:
    with track("r", "job-7", interval_s=0.05, readers=[PowerReader(power_w=100.0)]) as a:
        time.sleep(0.2)
    e1 = a.footprint().it_energy_kwh.value
    with track("r", "job-7", interval_s=0.05, readers=[PowerReader(power_w=100.0)]) as b:
        time.sleep(0.2)
    e2 = b.footprint().it_energy_kwh.value
    rec = open_store(str(tmp_path / "runs.db")).get_run("job-7")
    assert e2 > e1 * 1.5
    assert rec.energy_j["cpu"] / J_PER_KWH == pytest.approx(e2)
    assert rec.duration_s > 0.35 and rec.meta["resumed"] == 1 and rec.status == "finished"


def test_bad_store_is_a_wattprint_error_and_untouched(tmp_path: Path) -> None:
    bad = tmp_path / "other.db"
    bad.write_bytes(b"not a database at all" * 10)
    before = bad.read_bytes()
    with pytest.raises(WattprintError, match=str(bad)), track("x", db=str(bad), readers=[PowerReader()]):
        pass
    assert bad.read_bytes() == before


@contextlib.contextmanager
def _store_failing(run: Any, error: Exception) -> Iterator[None]:
    """Every write of ``run`` to its store raises ``error`` inside the block."""
    store = run.store
    real = store.append_samples

    def failing(*a: object, **k: object) -> None:
        raise error

    store.append_samples = failing
    try:
        yield
    finally:
        store.append_samples = real


@pytest.mark.parametrize("quiet_s", [60.0, 0.1])
def test_a_store_locked_by_another_process_is_said_only_once_the_lock_lasts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quiet_s: float) -> None:
    """A lock of a few seconds (a large export, another run's end) printed 'writing to the store failed (database
    is locked)' and 'the store works again' in every tracked process on the store: nothing is lost, samples wait
    in memory; only a lock that lasts is worth saying."""
    from wattprint.storage.records import StoreLockedError
    from wattprint.tracking import store_writer

    monkeypatch.setattr(store_writer, "QUIET_LOCK_S", quiet_s)
    notes: list[str] = []
    with track("l", "l1", interval_s=0.05, readers=[PowerReader(power_w=100.0)], notify=notes.append) as run:
        time.sleep(0.15)
        with _store_failing(run, StoreLockedError("cannot write to the store: database is locked")):
            time.sleep(0.4)
        time.sleep(0.15)
    said = [n for n in notes if "writing to the store failed" in n or "works again" in n]
    if quiet_s > 1:
        assert said == []
    else:
        assert len(said) == 2 and " failed for " in said[0] and "database is locked" in said[0]
    times = [s.elapsed_s for s in open_store(str(tmp_path / "runs.db")).samples("l1")]
    assert len(times) >= 10  # the samples kept while it was locked were written


def test_store_failing_mid_run_keeps_measuring_and_says_so_once(tmp_path: Path) -> None:
    notes: list[str] = []
    cpu = PowerReader(power_w=100.0)
    with track("f", "f1", interval_s=0.05, readers=[cpu], notify=notes.append) as run:
        time.sleep(0.15)
        with _store_failing(run, WattprintError("disk full")):  # then it comes back: the samples kept are written
            time.sleep(0.3)
            assert run.energy_kwh > 0
    assert sum("writing to the store failed" in n for n in notes) == 1
    assert run.sampler is not None and run.sampler.snapshot is not None
    total = 100.0 * (run.sampler.snapshot.t - cpu.reads[0])  # the window ends at stop()
    rec = open_store(str(tmp_path / "runs.db")).get_run("f1")
    assert rec.energy_j["cpu"] == pytest.approx(total, abs=0.01)
    times = [s.elapsed_s for s in open_store(str(tmp_path / "runs.db")).samples("f1")]
    assert times == sorted(times) and len(times) >= 8  # nothing lost while the store was failing


def test_a_broken_reader_is_noted_once_and_others_continue() -> None:
    notes: list[str] = []
    bad, good = PowerReader("gpu", "gpu0", 200.0), PowerReader("cpu", power_w=10.0)
    with track("b", interval_s=0.03, readers=[bad, good], persist=False, notify=notes.append) as run:
        bad.fail = True
        time.sleep(0.2)
    assert sum("unreadable" in n for n in notes) == 1
    assert run.footprint().energy_by_component_kwh["cpu"].kwh.value > 0


def test_progress_projects_the_final_total() -> None:
    cpu = PowerReader(power_w=100.0)
    with track("proj", interval_s=0.02, readers=[cpu], persist=False, pue=1.0) as run:
        projections: list[Projection] = []
        for step in range(1, 11):
            time.sleep(0.03)
            projections.append(run.progress(step, 10))
    final = run.footprint().energy_kwh.value
    last = projections[-1]
    assert last.fraction_done == 1.0
    assert last.energy_kwh.low <= final * 1.05 and last.energy_kwh.high >= final * 0.95
    mid = projections[4]
    assert mid.energy_kwh.contains(final) or abs(mid.energy_kwh.value - final) / final < 0.3
    assert "energy per step" in mid.method


@pytest.fixture
def python_sigint() -> Any:
    """Python's own SIGINT handler for the test, whatever an earlier test left (Lightning sets SIG_IGN when a
    fit is interrupted; torch's teardown sets SIG_DFL), and the previous one back afterwards."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers need the main thread")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("python_sigint")
def test_sigint_in_a_tracked_block_raises_keyboardinterrupt_and_marks_interrupted(tmp_path: Path) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers need the main thread")
    import signal

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), track("s", "sig1", interval_s=0.05, readers=[PowerReader()]) as run:
        time.sleep(0.1)
        os.kill(os.getpid(), __import__("signal").SIGINT)
        time.sleep(1.0)
    assert run.status == "interrupted"
    assert open_store(str(tmp_path / "runs.db")).get_run("sig1").status == "interrupted"
    assert signal.getsignal(signal.SIGINT) == before  # previous handler restored


def test_real_readers_end_to_end_model_fallback() -> None:
    """The real device detection on this machine (RAPL if readable, else the documented model)."""
    with wattprint.track("e2e", interval_s=0.1, quiet=True) as run:
        with run.phase("work"):
            busy_cpu(0.5)  # the share's CPU time below is the process tree's: on a loaded machine less than the wall
        live = run.footprint()
    fp = run.footprint()
    assert fp.kind == "measured"
    assert {"cpu", "ram"} <= set(fp.energy_by_component_kwh)
    assert fp.it_energy_kwh.value > 0 and fp.total_co2e_kg.value > 0 and fp.embodied_co2e_kg.value > 0
    assert fp.it_energy_kwh.value >= live.it_energy_kwh.value
    share = run.summary()["process_share"]
    assert 0.0 <= share["cpu_share"] <= 1.0 and share["cpu_time_s"] > 0.2
    assert isinstance(run, Run)


@pytest.mark.usefixtures("python_sigint")
def test_a_framework_that_puts_our_handler_back_after_stop_leaves_sigint_working(tmp_path: Path) -> None:
    """Lightning saves the handlers it finds (ours) and restores them at teardown, after our run stopped:
    our stale handler must still chain to the original, so Ctrl-C raises KeyboardInterrupt, never kills."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers need the main thread")
    original = signal.getsignal(signal.SIGINT)
    try:
        for i in range(2):  # two runs in a row, as two trainings in one process
            run = track("s", f"fw{i}", interval_s=0.05, readers=[PowerReader()]).start()
            framework_saved = signal.getsignal(signal.SIGINT)  # the framework registers its own handler
            signal.signal(signal.SIGINT, lambda *a: None)
            run.stop()
            signal.signal(signal.SIGINT, framework_saved)  # ... and restores what it found: our handler
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)
        assert open_store(str(tmp_path / "runs.db")).get_run("fw1").status == "finished"
    finally:
        signal.signal(signal.SIGINT, original)


def test_notes_of_a_wrapped_reader_reach_the_run(tmp_path: Path) -> None:
    """A reader that wraps another (AllocationShare on a shared node) passes on the inner reader's notes:
    a note raised mid-run by the inner reader is said, even though the wrapper itself has none waiting."""
    from wattprint.devices import Reading
    from wattprint.devices.base import NoteMixin
    from wattprint.devices.detect import AllocationShare
    from wattprint.devices.host import Allocation

    class Dram(NoteMixin):
        component, basis, name = "ram", "measured", "dram-fake"

        def __init__(self) -> None:
            self._init_notes()
            self.reads = 0

        def read(self) -> list[Reading]:
            self.reads += 1
            if self.reads == 3:
                self.note("dram-0 unreadable mid-run (fake); its energy is frozen")
            return [Reading("ram", "dram-0", 1.0 * self.reads, 1.0, "measured")]

        def close(self) -> None:
            pass

    alloc = Allocation(cpus=2, cpus_source="host", host_cpus=2, memory_bytes=2**30, memory_source="cgroup",
                       host_memory_bytes=2**32, cpu_model="x", sockets=1, is_vm=False)
    heard: list[str] = []
    reader = AllocationShare(Dram(), alloc, time.monotonic, os.getpid(), "/proc")
    with track("notes", db=f"sqlite:///{tmp_path / 'runs.db'}", interval_s=0.05, readers=[reader],
               notify=heard.append, state_dir=str(tmp_path / "state")):
        time.sleep(0.4)
    assert any("dram-0 unreadable mid-run" in n for n in heard), heard


def _lock_store(path: Path) -> Any:
    import sqlite3

    con = sqlite3.connect(str(path), isolation_level=None, timeout=0, check_same_thread=False)
    con.execute("BEGIN EXCLUSIVE")  # another process's long write transaction
    return con


def _run_then_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_id: str, busy_timeout_s: float,
                   seconds: float) -> tuple[Run, Any]:
    """A run at 100 W for ``seconds``, another process holding the store locked for the second half of it."""
    import wattprint.storage.sqlite as sq

    monkeypatch.setattr(sq, "BUSY_TIMEOUT_S", busy_timeout_s)
    run = track("lock", run_id, interval_s=0.05, readers=[PowerReader("cpu", power_w=100.0)], pue=1.0).start()
    time.sleep(seconds / 2)
    con = _lock_store(tmp_path / "runs.db")
    time.sleep(seconds / 2)
    return run, con


def test_a_store_locked_at_stop_does_not_stretch_the_window(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    run, con = _run_then_lock(tmp_path, monkeypatch, "l1", 10.0, 0.6)
    threading.Timer(1.5, con.execute, ("COMMIT",)).start()  # released 1.5 s after stop() is called
    fp = run.stop()
    assert not run.unsaved
    assert fp.wall_time_h is not None and fp.wall_time_h.value * 3600 == pytest.approx(0.6, abs=0.15)
    assert fp.it_energy_kwh.value * J_PER_KWH == pytest.approx(60.0, rel=0.25)
    stored = open_store(str(tmp_path / "runs.db")).get_run("l1")
    assert stored.status == "finished" and stored.duration_s == pytest.approx(0.6, abs=0.15)
    # what the run saw is taken back to stop() too: alone on the node, it is charged all it saw
    assert run._charged_ratio(run.sampler.snapshot, "cpu") == pytest.approx(1.0)  # type: ignore[union-attr,arg-type]


def test_a_store_locked_past_the_last_wait_is_reported_unsaved_not_finished(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    run, con = _run_then_lock(tmp_path, monkeypatch, "l2", 0.3, 0.4)
    fp = run.stop()
    con.execute("COMMIT")
    assert run.unsaved
    assert fp.it_energy_kwh.value * J_PER_KWH == pytest.approx(40.0, rel=0.3)  # the measurement is still there
    assert open_store(str(tmp_path / "runs.db"), readonly=True).get_run("l2").status == "running"
    assert run.kept_in is not None  # what the store refused waits beside it: the next opening to write stores it
    assert open_store(str(tmp_path / "runs.db")).get_run("l2").status == "finished"



def test_a_run_still_being_measured_cannot_be_resumed_by_another_tracker(tmp_path: Path) -> None:

    first = track("dup", "d1", interval_s=0.05, readers=[PowerReader()]).start()
    with pytest.raises(InputConflictError, match="already being measured in this process"):
        track("dup", "d1", interval_s=0.05, readers=[PowerReader()]).start()
    first.stop()
    again = track("dup", "d1", interval_s=0.05, readers=[PowerReader()]).start()  # ended: resumable
    again.stop()
    assert open_store(str(tmp_path / "runs.db")).get_run("d1").meta["resumed"] == 1


class _Hangs(PowerReader):
    """A reader whose reads block once ``hang`` is set, until ``release`` is (a GPU fallen off the bus)."""

    def __init__(self) -> None:
        super().__init__("gpu", "gpu0", 300.0)
        self.hang, self.release = threading.Event(), threading.Event()

    def read(self) -> Any:
        if self.hang.is_set():
            self.release.wait(30)
        return super().read()


def test_a_device_read_that_hangs_is_said_and_the_run_not_claimed_complete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wattprint.tracking.run as run_mod

    monkeypatch.setattr(run_mod, "STOP_GRACE_S", 0.3)
    notes: list[str] = []
    gpu = _Hangs()
    run = track("hang", "h1", interval_s=0.05, readers=[gpu, PowerReader()], notify=notes.append).start()
    time.sleep(0.3)
    gpu.hang.set()
    time.sleep(0.2)
    t0 = time.monotonic()
    fp = run.stop()
    try:
        assert time.monotonic() - t0 < 2.0
        assert run.unsaved and any("did not finish" in n for n in notes)
        assert fp.energy_kwh.value > 0  # what was read before the hang is kept
        assert open_store(str(tmp_path / "runs.db")).get_run("h1").status == "running"
    finally:
        gpu.release.set()


def test_a_phase_after_stop_is_refused_like_a_second_start() -> None:
    run = track("x", interval_s=0.05, readers=[PowerReader()], persist=False).start()
    run.stop()
    with pytest.raises(WattprintError, match="has ended"), run.phase("late"):
        pass


def _location_assumptions(run: Run) -> list[str]:
    return [f"{a.what}: {a.value} | {a.note}" for a in run.footprint().assumptions if a.what == "location"]


def test_a_location_is_read_and_noted_as_the_estimators_do() -> None:
    opts: dict[str, Any] = {"interval_s": 0.05, "readers": [PowerReader()], "persist": False}
    with track("p", location="us-east-1", **opts) as bare:
        pass
    assert bare.intensity.location.endswith("(aws:us-east-1)")
    assert any("'us-east-1' read as aws:us-east-1" in a for a in _location_assumptions(bare))

    with track("p", location="World", **opts) as world:
        pass
    assert world.intensity.location == "world" and "no location given" not in world.intensity.source
    assert world.intensity.source.startswith("'World': the world average")


def test_an_intensity_given_with_world_as_location_is_not_called_the_world_average() -> None:
    from wattprint.integrations.modelcard import co2_eq_emissions

    with track("p", location="World", intensity=100, interval_s=0.05, readers=[PowerReader()], persist=False) as run:
        pass
    fp = run.footprint()
    assert fp.intensity.g_per_kwh.value == 100 and fp.intensity.location != "world"
    assert "world" not in str(co2_eq_emissions(fp).get("geographical_location", "")).lower()


def test_first_progress_calls_from_several_threads_share_one_projector(monkeypatch: pytest.MonkeyPatch) -> None:
    # the projector is made on the first progress() call; threads making it at once must not each make one
    # (the later one would replace the other's observations and its last projection)
    from wattprint.tracking import progress as progress_mod

    made: list[object] = []

    class SlowProgress(progress_mod.RunProgress):
        def __init__(self, interval_s: float) -> None:
            time.sleep(0.05)
            super().__init__(interval_s)
            made.append(self)

    monkeypatch.setattr(progress_mod, "RunProgress", SlowProgress)
    with track("p", interval_s=0.05, readers=[PowerReader()], persist=False) as run:
        go = threading.Barrier(4)

        def call() -> None:
            go.wait()
            run.progress(1, 10)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert len(made) == 1


def test_pue_and_intensity_are_the_ones_every_figure_uses_and_read_only() -> None:
    run = track("p", interval_s=0.05, readers=[PowerReader()], persist=False, pue=1.3, intensity=200.0)
    with pytest.raises(WattprintError):
        run.pue  # noqa: B018  # settings are resolved by start()
    with run:
        assert run.pue.value == 1.3 and run.intensity.g_per_kwh.value == 200.0
        # one value for the footprint, the live energy and the projections: it cannot be swapped mid-run
        with pytest.raises(AttributeError):
            run.intensity = run.intensity  # type: ignore[misc]
    fp = run.footprint()
    assert fp.pue == run.pue and fp.intensity is run.intensity


def test_the_sampler_writes_and_downsamples_through_one_store(tmp_path: Path) -> None:
    with track("p", interval_s=0.05, readers=[PowerReader()], db=str(tmp_path / "w.db")) as run:
        sampler = run.sampler
        assert sampler is not None and sampler.store is run.store and sampler.run_id == run.id
        with pytest.raises(AttributeError):  # one object for interval writes, the final write and downsampling
            sampler.store = None  # type: ignore[misc]
