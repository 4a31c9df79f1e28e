"""Ending a run's sampler and releasing what the run holds: the final reading waited for within a bound, a sampler
that hangs left behind with a note that says why, and devices, ledger and store closed without losing figures."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from .sampler import Sampler


def stop_sampler(sampler: Sampler, status: str, wait: float, store: Any, note: Callable[[str], None]) -> bool:
    """Stop ``sampler`` with ``status``, waiting up to ``wait`` s for its final reading and write; then
    :func:`give_up_if_stuck`'s answer: whether the store may be closed now."""
    sampler.stop(status, timeout=wait)
    return give_up_if_stuck(sampler, status, wait, store, note)


def give_up_if_stuck(sampler: Sampler, status: str, wait: float, store: Any, note: Callable[[str], None]) -> bool:
    """After stop()'s wait: a sampler still busy (a device read that hung, a store write that did not return)
    is left behind, writing nothing more, with a note that says which. False when it is in a store write:
    the store is then closed by the sampler once that write returns, not here (closing would wait for it)."""
    if not sampler.running:
        return True
    sampler.unsaved = True
    busy = sampler.abandon()
    last = sampler.snapshot
    upto = f"{last.elapsed_s:.3g} s into the run" if last is not None else "the start"
    if busy == "write":
        kept = sampler.kept_in
        where = (f"; what it holds is also kept in {kept}, written to the store the next time wattprint opens it to "
                 "write unless the write gets through" if kept else f", and the stored run may not be marked {status}")
        note(f"the final write to the store {getattr(store, 'path', '')} did not finish within "
             f"{wait:.0f} s (the store was locked by another process, or too slow to answer): the figures "
             f"end at the last completed reading, {upto}{where}")
    else:
        cause = "a device read hung" if busy == "read" else "a device or the node ledger did not answer"
        note(f"the final reading did not finish within {wait:.0f} s ({cause}): the figures end at the "
             f"last completed reading, {upto}, and the stored run is not marked {status}")
    return busy != "write"


def end_unsampled(run_id: str, status: str, ledger: Any, store: Any, record_written: bool) -> None:
    """End a run whose sampler thread never started: leave the node ledger, and end the stored run (written as
    running) with ``status``, keeping its stored totals (a resumed run's) as they were; a record never written
    (``record_written`` False: the store was locked) is left as it is."""
    for release in (getattr(ledger, "leave", None), getattr(ledger, "close", None)):
        if release is not None:
            with contextlib.suppress(Exception):
                release()
    if store is not None and record_written:
        with contextlib.suppress(Exception):
            store.finish_run(run_id, status, None)


def release(readers: list[Any], store: Any, close_store: bool = True) -> None:
    """Close the device readers and (``close_store``) the store; a failure to close is no reason to lose the
    figures."""
    for r in readers:
        with contextlib.suppress(Exception):
            r.close()
    if store is not None and close_store:
        with contextlib.suppress(Exception):
            store.close()
