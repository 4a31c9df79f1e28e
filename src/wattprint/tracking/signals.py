"""How a run ends other than by an explicit ``stop()``: SIGINT/SIGTERM handlers that chain to the ones they
replaced, the status an exception (or the interpreter's exit) gives the run, and the exception that ended the
program."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

Handler = Callable[[int, "FrameType | None"], None]


class ChainedSignals:
    """A run's SIGINT/SIGTERM handler, installed over the previous handlers (main thread only) and chaining to
    them: ``prev`` maps each signal to the handler it replaced."""

    def __init__(self) -> None:
        self.prev: dict[int, Any] = {}

    def install(self, handler: Handler) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.prev[sig] = signal.getsignal(sig)
                signal.signal(sig, handler)
            except (ValueError, OSError):
                self.prev.pop(sig, None)

    def restore(self, handler: Handler) -> None:
        """Put back the previous handlers where ``handler`` is still the one installed."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, prev in list(self.prev.items()):
            with contextlib.suppress(ValueError, OSError, TypeError):
                if signal.getsignal(sig) == handler:
                    signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
                    del self.prev[sig]
        # A handler installed over ours since then stays. Frameworks (Lightning) put back what they found
        # when they finish, i.e. ours: keep `prev` so that handler still chains to the right one.

    def chain(self, signum: int, frame: FrameType | None, end_run: Callable[[], Any] | None) -> None:
        """Behave as the previous handler would have; where that is the default action (terminate), first
        ``end_run()`` (None: the run has ended already), then die of the same signal."""
        fallback = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        prev = self.prev.get(signum, fallback)
        if prev is signal.SIG_IGN:
            return
        if callable(prev):
            prev(signum, frame)  # e.g. default_int_handler raises KeyboardInterrupt -> __exit__ / atexit
            return
        if end_run is not None:
            with contextlib.suppress(Exception):
                end_run()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def exit_status(et: type[BaseException] | None, ev: BaseException | None, signalled: int | None) -> str:
    """The status a block (or call) that ended with exception ``et`` gives the run; ``signalled``: the signal
    the run's handler received, if any."""
    aio = sys.modules.get("asyncio")  # not imported: no task can have been cancelled
    if et is None or issubclass(et, GeneratorExit):  # GeneratorExit: the consumer stopped early (break, close())
        return "finished"
    if issubclass(et, KeyboardInterrupt) or (aio is not None and issubclass(et, aio.CancelledError)):
        return "interrupted"  # asyncio.run() turns Ctrl-C into a cancellation of the main task
    if issubclass(et, SystemExit):
        code = getattr(ev, "code", None)
        return "interrupted" if signalled else ("finished" if code in (0, None) else "failed")
    return "failed"


def status_at_exit(signalled: int | None, exc: BaseException | None, exc_at_start: BaseException | None) -> str:
    """The status of a run still open when the interpreter exits: what ended the program (``exc``, the last
    uncaught exception), if anything."""
    # the interpreter records an exception that ended the program (sys.last_exc) before atexit runs; one
    # recorded before the run started (an earlier error at an interactive prompt) does not count
    died = exc if exc is not None and exc is not exc_at_start else None
    return "interrupted" if signalled or isinstance(died, KeyboardInterrupt) else (
        "failed" if died is not None else "finished")


def last_uncaught_exception() -> BaseException | None:
    """The exception the interpreter last reported as uncaught (None if none)."""
    exc = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    return exc if isinstance(exc, BaseException) else None


# signals sent to a whole process that a program may handle; synchronous faults (SIGSEGV...) are never blocked
_ASYNC_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGALRM", "SIGUSR1", "SIGUSR2", "SIGCHLD", "SIGPIPE",
                  "SIGWINCH")


def start_background(thread: threading.Thread) -> None:
    """Start one of wattprint's own threads with the asynchronous signals blocked in it.

    Why: the kernel hands a signal sent to the process to any thread that does not block it, and Python runs the
    handler only in the main thread once that thread next runs Python code. A signal that lands on a wattprint
    thread while the main thread waits in a system call (``wattprint run`` waiting for its command, a training's
    blocking read) is handled only when that call returns: a SIGTERM forwarded a minute late, or never. The
    thread inherits the mask of the thread that starts it, so the mask is set around ``start()``, not by the
    thread itself (a signal could reach it before its first line)."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no per-thread masks
        thread.start()
        return
    block = {getattr(signal, name) for name in _ASYNC_SIGNALS if hasattr(signal, name)}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, block)
    try:
        thread.start()
    finally:  # this thread's own mask as it was: a signal that came meanwhile is delivered now
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
