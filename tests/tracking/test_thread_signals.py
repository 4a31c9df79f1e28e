"""wattprint's own threads block the signals a program handles, so the kernel hands those to the main thread.

A process-directed signal goes to any thread that does not block it; Python runs its handler only in the main
thread, when that thread next runs Python code. One that landed on the sampler thread while the main thread
waited in a system call (`wattprint run` in waitpid for its command) was handled only when the call returned:
a SIGQUIT forwarded 60 s late in a loaded test run. The threads' masks are read from /proc (Linux)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import pytest

from wattprint.integrations.watch import CallWatch

from .conftest import measuring, steady_run

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="per-thread masks read from /proc")

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGALRM, signal.SIGUSR1,
           signal.SIGUSR2, signal.SIGCHLD)


def _blocked(thread: threading.Thread) -> set[int]:
    """The signals ``thread`` blocks, from its SigBlk mask (bit n-1 = signal n)."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)
    return {n for n in range(1, 65) if mask >> (n - 1) & 1}


def _ours(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def test_the_sampler_and_its_guard_block_the_handled_signals_and_the_main_thread_keeps_its_mask(
        tmp_path: Path) -> None:
    main_before = _blocked(threading.main_thread())
    run = measuring(steady_run("p", "sig-mask", tmp_path / "runs.db", 0.05, []))
    try:
        threads = _ours("wattprint-sampler") + _ours("wattprint-read-guard")
        assert {t.name for t in threads} == {"wattprint-sampler", "wattprint-read-guard"}
        for t in threads:
            assert set(HANDLED) <= _blocked(t), t.name
            assert signal.SIGSEGV not in _blocked(t)  # a fault in the thread itself is never held back
        assert _blocked(threading.main_thread()) == main_before  # the mask set around start() is put back
    finally:
        run.stop()


def test_the_training_watch_thread_blocks_the_handled_signals() -> None:
    watch = CallWatch(sys._getframe(), 0.05, lambda _w: None).start()
    try:
        (t,) = _ours("wattprint-training-watch")
        assert set(HANDLED) <= _blocked(t)
    finally:
        watch.stop()
