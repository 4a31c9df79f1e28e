"""``@track(...)`` on generator, coroutine and async generator functions, and on recursive functions: the run
covers the body's execution, not just the creation of the generator or coroutine."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from wattprint.errors import InputConflictError
from wattprint.storage import open_store
from wattprint.tracking import Run, track

from .conftest import PowerReader

J_PER_KWH = 3.6e6
WORK_S = 0.3


def _opts(**kw: Any) -> dict[str, Any]:
    return {"interval_s": 0.05, "readers": [PowerReader(power_w=100.0)], "persist": False, "pue": 1.0, **kw}


def _measured(run: Run) -> tuple[float, float]:
    """(wall time s, IT energy J) of a finished run."""
    fp = run.footprint()
    return fp.wall_time_h.value * 3600, fp.it_energy_kwh.value * J_PER_KWH


def test_a_generator_is_measured_while_it_is_consumed() -> None:
    seen: list[str] = []

    @track("gen", **_opts())
    def batches() -> Iterator[int]:
        for i in range(3):
            time.sleep(WORK_S / 3)
            yield i

    assert inspect.isgeneratorfunction(batches)
    for b in batches():
        seen.append(batches.last_run.status)  # type: ignore[attr-defined]
        assert b in (0, 1, 2)
    run = batches.last_run  # type: ignore[attr-defined]
    wall, joules = _measured(run)
    assert seen == ["running"] * 3 and run.status == "finished"
    assert wall >= WORK_S and joules == pytest.approx(100.0 * wall, rel=0.2)


def test_a_generator_closed_early_ends_its_run_and_one_that_raises_fails() -> None:
    @track("gen", **_opts())
    def endless() -> Iterator[int]:
        while True:
            time.sleep(0.01)
            yield 1

    g = endless()
    next(g)
    g.close()  # what `break` out of a for loop does once the generator is dropped
    assert endless.last_run.status == "finished"  # type: ignore[attr-defined]

    @track("gen", **_opts())
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(broken())
    assert broken.last_run.status == "failed"  # type: ignore[attr-defined]


def test_a_generator_wrapper_passes_on_send_and_its_return_value() -> None:
    @track("gen", **_opts())
    def echo() -> Iterator[Any]:
        got = yield "ready"
        yield got * 2
        return "end"

    g = echo()
    assert next(g) == "ready" and g.send(21) == 42
    with pytest.raises(StopIteration) as stop:
        next(g)
    assert stop.value.value == "end" and echo.last_run.status == "finished"  # type: ignore[attr-defined]


def test_a_coroutine_is_measured_while_awaited_and_its_failure_is_recorded() -> None:
    @track("co", **_opts())
    async def train() -> str:
        await asyncio.sleep(WORK_S)
        return "done"

    assert inspect.iscoroutinefunction(train)
    assert asyncio.run(train()) == "done"
    run = train.last_run  # type: ignore[attr-defined]
    wall, joules = _measured(run)
    assert run.status == "finished" and wall >= WORK_S and joules == pytest.approx(100.0 * wall, rel=0.2)

    @track("co", **_opts())
    async def bad() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(bad())
    assert bad.last_run.status == "failed"  # type: ignore[attr-defined]


def test_a_cancelled_coroutine_is_interrupted() -> None:
    @track("co", **_opts())
    async def slow() -> None:
        await asyncio.sleep(10)

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(asyncio.wait_for(slow(), 0.1))
    assert slow.last_run.status == "interrupted"  # type: ignore[attr-defined]


def test_an_async_generator_is_measured_and_relays_asend_athrow_and_aclose() -> None:
    @track("agen", **_opts())
    async def stream() -> AsyncIterator[Any]:
        for i in range(3):
            await asyncio.sleep(WORK_S / 3)
            got = yield i
            if got is not None:
                yield got * 2

    assert inspect.isasyncgenfunction(stream)

    async def consume() -> list[Any]:
        return [x async for x in stream()]

    assert asyncio.run(consume()) == [0, 1, 2]
    run = stream.last_run  # type: ignore[attr-defined]
    wall, joules = _measured(run)
    assert run.status == "finished" and wall >= WORK_S and joules == pytest.approx(100.0 * wall, rel=0.2)

    async def talk() -> tuple[Any, Any]:
        g = stream()
        await g.__anext__()
        doubled = await g.asend(21)
        await g.aclose()  # stopped early
        return doubled, stream.last_run.status  # type: ignore[attr-defined]

    assert asyncio.run(talk()) == (42, "finished")

    async def throw() -> None:
        g = stream()
        await g.__anext__()
        await g.athrow(ValueError("from the consumer"))

    with pytest.raises(ValueError, match="from the consumer"):
        asyncio.run(throw())
    assert stream.last_run.status == "failed"  # type: ignore[attr-defined]


def test_a_recursive_function_with_a_fixed_run_id_is_one_run(tmp_path: Path) -> None:
    @track("rec", "fixed-id", interval_s=0.05, readers=[PowerReader()])
    def depth(n: int) -> int:
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3
    assert depth.last_run.id == "fixed-id" and depth.last_run.status == "finished"  # type: ignore[attr-defined]
    runs = open_store(str(tmp_path / "runs.db")).list_runs(project="rec")
    assert [(r.id, r.status) for r in runs] == [("fixed-id", "finished")]
    assert depth(1) == 1  # a later call resumes the same run, as before


def test_concurrent_calls_with_a_fixed_run_id_share_one_run_that_spans_them_all() -> None:
    both_in = threading.Barrier(2)
    seen: list[Run] = []

    @track("svc", "svc", **_opts())
    def handle(extra_s: float) -> None:
        both_in.wait(timeout=5)
        seen.append(handle.last_run)  # type: ignore[attr-defined]
        time.sleep(extra_s)

    threads = [threading.Thread(target=handle, args=(d,)) for d in (0.0, WORK_S)]
    for t in threads:
        t.start()
    threads[0].join()
    run = handle.last_run  # type: ignore[attr-defined]
    assert run.status == "running"  # the longer call is still in it
    threads[1].join()
    wall, joules = _measured(run)
    assert seen[0] is seen[1] is run and run.status == "finished"
    assert wall >= WORK_S and joules == pytest.approx(100.0 * wall, rel=0.2)


def test_interleaved_generators_with_a_fixed_run_id_share_one_run() -> None:
    @track("gen", "fixed-gen", **_opts())
    def items() -> Iterator[int]:
        for i in range(3):
            time.sleep(0.01)
            yield i

    a, b = items(), items()
    next(a), next(b)
    assert list(a) == [1, 2]
    run = items.last_run  # type: ignore[attr-defined]
    assert run.status == "running"  # b is still being consumed
    assert list(b) == [1, 2] and run.status == "finished" and items.last_run is run  # type: ignore[attr-defined]


def test_a_shared_run_fails_if_any_of_its_calls_raised() -> None:
    both_in = threading.Barrier(2)

    @track("svc", "svc-fail", **_opts())
    def handle(fail: bool, wait: bool = True) -> None:
        if wait:
            both_in.wait(timeout=5)
        if fail:
            raise ValueError("bad request")
        time.sleep(0.05)

    errors: list[BaseException] = []

    def call(fail: bool) -> None:
        try:
            handle(fail)
        except ValueError as e:
            errors.append(e)

    threads = [threading.Thread(target=call, args=(f,)) for f in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 1 and handle.last_run.status == "failed"  # type: ignore[attr-defined]
    handle(False, wait=False)  # a later call is a run of its own again (same id)
    assert handle.last_run.status == "finished"  # type: ignore[attr-defined]


def test_a_call_inside_a_with_block_of_its_run_id_just_runs_in_that_run() -> None:
    @track("svc", "outer-id", **_opts())
    def handle() -> None:
        time.sleep(0.01)

    with track("svc", "outer-id", **_opts()) as outer:
        handle()
        assert outer.status == "running"
    assert not hasattr(handle, "last_run") and outer.status == "finished"


def test_ctrl_c_during_start_ends_the_stored_run_and_later_calls_are_tracked(tmp_path: Path) -> None:
    class CtrlCOnFirstRead(PowerReader):
        def __init__(self) -> None:
            super().__init__(power_w=100.0)
            self.first = True

        def read(self) -> Any:
            if self.first:  # Ctrl-C during the baseline reading
                self.first = False
                raise KeyboardInterrupt
            return super().read()

    @track("boom", "fixed-boom", interval_s=0.05, readers=[CtrlCOnFirstRead()], handle_signals=False)
    def work() -> str:
        time.sleep(0.05)
        return "done"

    store = open_store(str(tmp_path / "runs.db"))
    with pytest.raises(KeyboardInterrupt):
        work()
    assert store.get_run("fixed-boom").status == "interrupted"  # not left "running" for ever
    assert work() == "done"  # tracked: the id was not left registered as open
    assert work.last_run.status == "finished"  # type: ignore[attr-defined]
    assert store.get_run("fixed-boom").status == "finished"


def test_calls_waiting_for_a_shared_start_that_fails_fail_with_it_instead_of_each_retrying() -> None:
    # a locked store made N concurrent calls wait out its timeout one after another (N x 60 s)
    from wattprint.tracking import decorate

    starts: list[float] = []
    release = threading.Event()

    def failing_start() -> object:
        starts.append(time.monotonic())
        release.wait(5)
        raise OSError("database is locked")

    errors: list[BaseException] = []

    def call() -> None:
        try:
            decorate.join_shared("locked-id", failing_start)
        except OSError as e:
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # all three are in: one starting, two waiting for it
    release.set()
    for t in threads:
        t.join(5)
    assert len(starts) == 1 and len(errors) == 3
    assert not decorate._SHARED and not decorate._OPEN


def test_a_with_block_of_the_id_a_decorated_call_measures_says_why_it_cannot_nest(tmp_path: Path) -> None:
    @track("p", run="nest", interval_s=0.05, readers=[PowerReader()], db=str(tmp_path / "runs.db"))
    def outer() -> None:
        with track("p", run="nest", interval_s=0.05, readers=[PowerReader()], db=str(tmp_path / "runs.db")):
            pass

    with pytest.raises(InputConflictError, match="already being measured in this process"):
        outer()
