"""Whether a call is still under way on its thread, checked from another thread: how a Hugging Face training that
raised is found (the Trainer has no failure event), so that its run ends then, not when the next training begins or
the process exits (in a notebook, hours later).

The check walks the thread's stack from its top frame (``sys._current_frames``) towards its bottom, looking for the
call's frame. The thread goes on running during the walk, but each frame's caller is fixed, and a frame that returns
meanwhile keeps the link to its caller, so a call still under way is always met, except past a generator (or
coroutine) frame that was suspended meanwhile: it has no caller while suspended, and a walk that ends there proves
nothing (the next check tells). A walk that reaches the thread's first frame without meeting the call proves the call
has left.
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable
from types import FrameType

# frames that have no caller while suspended between two steps
_SUSPENDABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR | inspect.CO_ITERABLE_COROUTINE


def on_stack(frame: FrameType, thread_id: int) -> bool | None:
    """Whether ``frame`` is under way on thread ``thread_id``: True; False (proved: its stack was walked to the
    bottom without meeting it, or the thread has ended); None (not known: see the module docstring, or an
    interpreter without ``sys._current_frames``)."""
    current_frames: Callable[[], dict[int, FrameType]] | None = getattr(sys, "_current_frames", None)
    if current_frames is None:
        return None
    f: FrameType | None = current_frames().get(thread_id)
    if f is None:
        return False  # the thread has ended
    last = f
    while f is not None:
        if f is frame:
            return True
        last, f = f, f.f_back
    return None if last.f_code.co_flags & _SUSPENDABLE else False


class CallWatch:
    """Calls ``on_left(watch)`` once, on a daemon thread, when ``frame`` (under way on the thread that makes the watch)
    is found to have left that thread's stack, checked every ``every_s`` seconds; ``stop()`` ends the watch (and
    lets go of the frame, whose locals hold the model)."""

    def __init__(self, frame: FrameType, every_s: float, on_left: Callable[[CallWatch], None]) -> None:
        self._frame: FrameType | None = frame
        self._thread_id = threading.get_ident()
        self.every_s = every_s
        self._on_left = on_left
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wattprint-training-watch", daemon=True)

    def start(self) -> CallWatch:
        from ..tracking.signals import start_background

        start_background(self._thread)
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._frame = None

    def left(self) -> bool:
        """Whether the call is proved to have left (False while it is under way or it is not known)."""
        frame = self._frame
        return frame is not None and on_stack(frame, self._thread_id) is False

    def _loop(self) -> None:
        while not self._stopped.wait(self.every_s):
            if self.left():
                self._on_left(self)
                return
