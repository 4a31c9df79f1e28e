"""The check that finds a training call gone from its thread (the Transformers Trainer has no failure hook): proved
gone, under way, or not known, never a guess that ends a training still running."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from wattprint.integrations.watch import CallWatch, on_stack


def _under_way_in_a_thread() -> tuple[threading.Thread, threading.Event, list[FrameType], threading.Event]:
    """A thread inside a call (its frame in the list) that returns when ``leave`` is set, then waits for ``end``."""
    inside, leave, end = threading.Event(), threading.Event(), threading.Event()
    frames: list[FrameType] = []

    def call() -> None:
        frames.append(sys._getframe())
        inside.set()
        leave.wait(10)

    def body() -> None:
        call()
        end.wait(10)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    assert inside.wait(10)
    return thread, leave, frames, end


def test_a_call_is_under_way_until_it_returns_and_gone_once_its_thread_has_ended() -> None:
    thread, leave, frames, end = _under_way_in_a_thread()
    assert thread.ident is not None
    assert on_stack(frames[0], thread.ident) is True
    leave.set()
    while on_stack(frames[0], thread.ident) is True:
        pass  # the thread leaves the call
    assert on_stack(frames[0], thread.ident) is False  # still running, elsewhere
    end.set()
    thread.join(10)
    assert on_stack(frames[0], thread.ident) is False


def test_a_walk_that_ends_at_a_suspended_generator_proves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generator frame has no caller while suspended: a thread whose top frame was in a generator that yielded
    meanwhile cannot be walked down to the call, which may well be under way below it."""

    def numbers() -> Iterator[int]:
        yield 1
        yield 2

    gen = numbers()
    next(gen)
    suspended = gen.gi_frame
    assert suspended is not None and suspended.f_back is None
    monkeypatch.setattr(sys, "_current_frames", lambda: {42: suspended})
    assert on_stack(sys._getframe(), 42) is None


def test_the_watch_calls_back_once_the_call_has_left_and_lets_go_of_it_when_stopped() -> None:
    left: list[CallWatch] = []
    called = threading.Event()

    def on_left(watch: CallWatch) -> None:
        left.append(watch)
        called.set()

    watches: list[CallWatch] = []
    inside, leave = threading.Event(), threading.Event()

    def call() -> None:  # the watch is made in the watched call's own thread, as the callback makes it
        watches.append(CallWatch(sys._getframe(), 0.01, on_left).start())
        inside.set()
        leave.wait(10)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    assert inside.wait(10)
    assert not called.wait(0.2) and not watches[0].left()  # under way: no call back
    leave.set()
    assert called.wait(10) and left == watches
    thread.join(10)
    stopped = CallWatch(sys._getframe(), 0.01, on_left).start()
    stopped.stop()
    assert not stopped.left()  # it let go of the frame: nothing to find gone
