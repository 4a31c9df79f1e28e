"""Decorated calls: plain, generator, coroutine and async-generator functions each get a wrapper of their own kind,
so that the run covers the body's execution, not the creation of a generator or coroutine; and calls of one fixed
run id in progress at the same time (threads, interleaved generators, recursion) share one run, from the first
call in to the last out."""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# runs started in this process, (pid, id) -> the threads that started them, one entry per run: a decorated call of
# an id open here (a `with` block) just runs. Keyed by pid so that a forked child, which inherits the dict, does not
# see its parent's runs as its own.
_OPEN: dict[tuple[int, str], list[int]] = {}
# runs of a fixed id whose start() is under way in this process, (pid, id) -> the threads starting them
_STARTING: dict[tuple[int, str], list[int]] = {}
# decorated calls of a fixed run id in progress in this process, (pid, id) -> the run they share
_SHARED: dict[tuple[int, str], SharedRun] = {}
# guards _OPEN, _STARTING and _SHARED (calls of one id may come from several threads); re-entrant: a SIGTERM handler may
# stop() a run while the main thread holds it
_LOCK = threading.RLock()
# a call's status -> how much it weighs in the status of a shared run (the worst call's status wins)
_SEVERITY = {"finished": 0, "interrupted": 1, "failed": 2}


class SharedRun:
    """The run that the concurrent calls of one fixed run id share, and how many of those calls are in it."""

    def __init__(self) -> None:
        self.run: Any = None  # a tracking.run.Run once started
        self.calls = 1  # the call that creates it
        self.status = "finished"
        self.closing = False  # the last call left: the run is stopping; a new call waits for `ended`
        self.ready = threading.Event()  # start() returned or raised
        self.ended = threading.Event()  # stopped, or its start failed: a new call starts a fresh run
        self.error: BaseException | None = None  # why start() failed: the calls that waited for it fail alike


def register_open(run_id: str) -> int:
    """A run of ``run_id`` started in this process (by any means), in this thread: the thread's id, for
    :func:`unregister_open` (a run may be stopped from another thread)."""
    key, thread = (os.getpid(), run_id), threading.get_ident()
    with _LOCK:
        _OPEN.setdefault(key, []).append(thread)
    return thread


def unregister_open(run_id: str, thread: int) -> None:
    """A run of ``run_id`` that thread ``thread`` started in this process stopped."""
    _drop(_OPEN, (os.getpid(), run_id), thread)


def _drop(table: dict[tuple[int, str], list[int]], key: tuple[int, str], thread: int) -> None:
    with _LOCK:
        threads = table.get(key, [])
        if thread in threads:
            threads.remove(thread)
        if not threads:
            table.pop(key, None)


@contextmanager
def starting(run_id: str) -> Iterator[None]:
    """The start() of a run of the fixed id ``run_id`` in this thread. Refused at once where another thread of this
    process has a run of that id open or starting: the store's own check, later (or never, in a race of two
    starts), could only say "in this process", which reads as an enclosing block of this thread."""
    key, thread = (os.getpid(), run_id), threading.get_ident()
    with _LOCK:
        others = [t for t in _OPEN.get(key, []) + _STARTING.get(key, []) if t != thread]
        if others and thread not in _OPEN.get(key, []):  # one of this thread's own encloses it: the store says so
            from ..errors import InputConflictError

            raise InputConflictError(
                f"run {run_id!r} is already being measured in this process, by another thread's track() block or "
                "decorated call; give each thread a run id of its own, or wait for that one to end")
        _STARTING.setdefault(key, []).append(thread)
    try:
        yield
    finally:
        _drop(_STARTING, key, thread)


def join_shared(run_id: str, start: Callable[[], Any]) -> SharedRun | None:
    """Enter the shared run of ``run_id``, starting it with ``start()`` if no call is in one; None where a run of
    this id that is not a decorated call's (a `with` block, start()) is open in this process."""
    key = (os.getpid(), run_id)
    while True:
        with _LOCK:
            shared = _SHARED.get(key)
            if shared is None:
                if _OPEN.get(key):
                    return None
                shared = _SHARED[key] = SharedRun()
                starter = True
            elif shared.closing:
                starter = False
            else:
                shared.calls += 1
                starter = False
        if starter:
            try:
                shared.run = start()
            except BaseException as e:
                shared.error = e
                with _LOCK:
                    del _SHARED[key]
                shared.ended.set()
                raise
            finally:
                shared.ready.set()
            return shared
        if shared.closing:  # the last call is stopping it: wait, then start a fresh one (a later call)
            shared.ended.wait()
            continue
        shared.ready.wait()  # another thread is starting it
        if shared.run is not None:
            return shared
        # its start failed: the calls that waited for it fail the same way now (one at a time, each retrying,
        # they would wait out a locked store once each)
        assert shared.error is not None
        raise shared.error


def leave_shared(run_id: str, shared: SharedRun, status: str) -> None:
    """A call leaves the shared run; the last one stops it with the worst status of the calls."""
    key = (os.getpid(), run_id)
    with _LOCK:
        shared.calls -= 1
        if _SEVERITY[status] > _SEVERITY[shared.status]:
            shared.status = status
        if shared.calls > 0:
            return
        shared.closing = True
    try:
        shared.run.stop(shared.status)
    finally:
        with _LOCK:
            if _SHARED.get(key) is shared:
                del _SHARED[key]
        shared.ended.set()


@contextmanager
def call_scope(wrapper: Any, given_id: str | None, new_run: Callable[[str | None], Any]) -> Iterator[None]:
    """One decorated call: a run of its own (``new_run(None)``), or a share of the run of its fixed id
    ``given_id`` (see ``Run.__call__``); ``wrapper.last_run`` is set to the run."""
    if given_id is None:
        with new_run(None) as run:
            wrapper.last_run = run
            yield
        return
    shared = join_shared(given_id, lambda: new_run(given_id).start())
    if shared is None:  # a `with` block (or start()) of this id measures the call already
        yield
        return
    assert shared.run is not None
    run = shared.run
    wrapper.last_run = run
    status = "finished"
    try:
        yield
    except BaseException as e:
        status = run._exit_status(type(e), e)
        raise
    finally:
        leave_shared(given_id, shared, status)


def wrap_call(fn: F, scope: Callable[[Any], AbstractContextManager[None]]) -> F:
    """``fn`` wrapped so that each call runs inside ``scope(wrapper)`` (the run of that call)."""
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope(agen_wrapper):
                agen = fn(*args, **kwargs)
                step: Callable[[], Awaitable[Any]] = agen.__anext__
                while True:  # relay asend()/athrow()/aclose(): async generators have no `yield from`
                    try:
                        item = await step()
                    except StopAsyncIteration:
                        return
                    try:
                        sent = yield item
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as e:  # thrown in by the consumer (athrow): passed on
                        step = functools.partial(agen.athrow, e)
                    else:
                        step = functools.partial(agen.asend, sent)

        return agen_wrapper  # type: ignore[return-value]

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def co_wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope(co_wrapper):
                return await fn(*args, **kwargs)

        return co_wrapper  # type: ignore[return-value]

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            with scope(gen_wrapper):
                return (yield from fn(*args, **kwargs))

        return gen_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with scope(wrapper):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
