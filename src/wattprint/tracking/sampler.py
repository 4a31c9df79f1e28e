"""The background sampler: one daemon thread on a monotonic clock that reads every device, charges the energy
through the node ledger, keeps O(1) running totals and appends each interval's samples to the store in one
small transaction (so at most one interval is ever at risk).

The caller's thread only posts phase marks (a deque append and an event set) and reads the latest immutable
:class:`Snapshot`; it never reads a device, touches the store or sleeps. Only ``start()`` (the baseline
reading) and ``stop()`` (waits for the final reading and flush) involve the caller.

Its parts: :mod:`.device_reads` (reads guarded against a hung one; in-between reads of counters that wrap),
:mod:`.store_writer` (with the wait budget), :mod:`.phases`, :mod:`.snapshot`. The knobs below are read here.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .attribution import ProcessShare, ShareSnapshot
from .device_reads import DeviceReads, _Superseded
from .ledger import Ledger
from .phases import PhaseBook, PhaseTotal
from .signals import start_background
from .snapshot import Snapshot, _energy_at, reading_totals
from .store_writer import StoreWriter

if TYPE_CHECKING:
    from ..storage import SlotPatch

# pending samples kept while the store is failing; beyond this they are thinned 2:1 (totals stay exact)
MAX_PENDING_SAMPLES = 4096
# Retention of the stored time series (a storage policy, not a physical constant): samples older than
# a day are merged into one-minute buckets, checked once an hour of run time.
DOWNSAMPLE_AFTER_S = 86400.0
DOWNSAMPLE_BUCKET_S = 60.0
DOWNSAMPLE_EVERY_S = 3600.0
# full summary (assumptions, notes, process share, phases) at most this often; the figures (energies, CO2e,
# ranges, duration) go at every interval, and the final summary at stop is always full
FULL_SUMMARY_EVERY_S = 30.0
# a device read that has not returned after this long is given up (s), whatever the sampling interval (the
# baseline, mid-run and final readings alike); below the end-of-run rule (stop() waits one interval, 30 s at
# most, plus 30 s), so a hung read does not cost the last figures
READ_TIMEOUT_S = 5.0


def note_to_stderr(msg: str) -> None:
    """A note on stderr; a closed or broken stderr must not stop the measurement (or the command under it)."""
    import contextlib
    import sys

    with contextlib.suppress(OSError, ValueError):  # broken pipe, closed file
        print(f"wattprint: {msg}", file=sys.stderr, flush=True)


class Sampler:
    """Samples ``readers`` every ``interval_s`` on a daemon thread (see the module docstring)."""

    def __init__(
        self,
        readers: Sequence[Any],
        ledger: Ledger,
        *,
        interval_s: float = 1.0,
        store: Any = None,
        run_id: str | None = None,
        offset_j: dict[str, float] | None = None,
        offset_s: float = 0.0,
        offset_range_j: dict[str, tuple[float, float]] | None = None,
        scale: dict[str, float] | None = None,
        share: ProcessShare | None = None,
        summary: Callable[[Snapshot], dict[str, Any]] | None = None,
        live: Callable[[Snapshot], dict[str, Any] | SlotPatch] | None = None,
        notify: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"sampling interval must be > 0 s, got {interval_s!r}")
        self.readers = list(readers)
        self.ledger = ledger
        self.interval_s = float(interval_s)
        self.offset_j = dict(offset_j or {})
        self.offset_s = float(offset_s)
        # the earlier segments' (value, low, high) per component; a component without its range counts as exact
        ranges = offset_range_j or {}
        self._offset = {k: (v, *ranges.get(k, (v, v))) for k, v in self.offset_j.items()}
        self.scale = dict(scale or {})
        self.share = share
        self.summary_fn = summary
        self.live_fn = live
        self._last_full_s: float | None = None
        self.notify = notify or note_to_stderr
        self.clock = clock

        self.snapshot: Snapshot | None = None
        self.status: str | None = None
        self._marks: collections.deque[tuple[str, str, float]] = collections.deque()
        # a bare lock, held while nobody has asked for a reading: the sampler sleeps in one C-level acquire
        # (threading.Event's Condition costs some twenty Python calls per wake-up, on the GIL)
        self._wake = threading.Lock()
        self._wake.acquire()
        self._stopping = False
        self._stop_t: float | None = None  # when stop() was called: the window ends there
        self._said: set[str] = set()
        self._t0 = 0.0
        self._wall0 = 0.0  # the wall time at _t0: readings are dated from it on the monotonic clock (see _reading)
        self._errors: set[str] = set()
        self._next_downsample_s = DOWNSAMPLE_AFTER_S
        self._writer = StoreWriter(store, run_id, say=self._say, clock=clock, on_written=self._maybe_downsample)
        self._phase_book = PhaseBook(self._writer.add_phase)
        self._reads = DeviceReads(self.readers, scale=self.scale, timeout_s=READ_TIMEOUT_S, interval_s=self.interval_s,
                                  clock=clock, say=self._say, resume=functools.partial(self._loop, resume=True))
        self._round: tuple[list[tuple[str, str, float]], bool, bool] = ([], False, False)  # marks, stopping, due
        self._next_t = 0.0
        self._start_error: BaseException | None = None
        self._started = threading.Lock()  # released once the baseline reading is in (or failed)
        self._started.acquire()
        self._ended = threading.Event()
        # counters that could wrap more than once in an interval are read in between too, this often (None: never)
        self.keep_up_s = self._reads.keep_up_s
        self._next_keep_t = 0.0

    @property
    def store(self) -> Any:
        """Where the run is written (a Store, a record waiting for a locked one, or None): the writer's, one
        object for the interval writes, the final write and downsampling."""
        return self._writer.store

    @property
    def run_id(self) -> str | None:
        return self._writer.run_id

    @property
    def phases(self) -> dict[str, PhaseTotal]:
        """Totals per phase name (a resumed run's earlier ones are put in before ``start()``)."""
        return self._phase_book.totals

    @property
    def unsaved(self) -> bool:
        """The final write failed (or never came): what was measured is only in memory."""
        return self._writer.unsaved

    @unsaved.setter
    def unsaved(self, value: bool) -> None:
        self._writer.unsaved = value

    @property
    def kept_in(self) -> str | None:
        """The file that holds what the store refused at the end (written to it at its next opening), if any."""
        return self._writer.spilled

    @property
    def read_timeout_s(self) -> float:
        """How long a device read may take before it is given up (READ_TIMEOUT_S when the sampler was made)."""
        return self._reads.timeout_s

    @read_timeout_s.setter
    def read_timeout_s(self, value: float) -> None:
        self._reads.timeout_s = value

    @property
    def _pending(self) -> list[Any]:  # the samples not written yet (tests write them by hand)
        return self._writer.samples

    @_pending.setter
    def _pending(self, rows: list[Any]) -> None:
        self._writer.samples = rows

    # -- caller's side -------------------------------------------------------------------------
    def start(self) -> Snapshot:
        """Take the baseline reading (the window opens here) and start the thread. The reading is taken on the
        sampler thread: a device read that hangs holds the caller up for ``read_timeout_s`` at most; the readings
        taken before it stand (see :mod:`.device_reads`), so the run's duration and its energy cover one window."""
        self._t0 = self.clock()
        self._wall0 = time.time()
        self._next_t = self._t0 + self.interval_s
        if self.keep_up_s is not None:
            self._next_keep_t = self._t0 + self.keep_up_s
            self._say(self._reads.keep_up_note(self.interval_s))
        if self.share is not None:
            self.share.start()
        self._writer.wait_per_interval(self.interval_s)
        self._reads.thread = threading.Thread(target=self._loop, name="wattprint-sampler", daemon=True)
        start_background(self._reads.thread)
        self._reads.start_guard()
        self._started.acquire()  # (interruptible: a Ctrl-C here lets stop() end what the thread began)
        if self._start_error is not None:
            raise self._start_error
        assert self.snapshot is not None
        return self.snapshot

    def mark_phase(self, kind: str, name: str) -> None:
        """Phase boundary ("enter"/"exit"); the sampler takes a reading for it right away."""
        self._marks.append((kind, name, self.clock()))
        self._poke()

    def stop(self, status: str | None, timeout: float | None = None) -> Snapshot | None:
        """Final reading and flush; ``status`` ("finished", "interrupted", "failed") ends the stored run;
        None leaves it "running". Safe to call again (and from a signal handler)."""
        if self.status is None:
            self.status = status
        if self._stop_t is None:
            self._stop_t = self.clock()
            if timeout is not None:  # the final write waits for a locked store no longer than the caller waits
                self._writer.end_within(self._stop_t, timeout)
        self._stopping = True
        self._poke()
        if self._reads.thread is not None and self._reads.thread is not threading.current_thread():
            # the end of the sampling, whichever thread does it (one may have taken over from a hung one)
            self._ended.wait(None if timeout is None else min(timeout, threading.TIMEOUT_MAX))
        return self.snapshot

    def _poke(self) -> None:
        """Wake the sampler now (a release of the held lock; a second poke before it wakes is one wake-up)."""
        with contextlib.suppress(RuntimeError):  # already released: a wake-up is pending
            self._wake.release()

    @property
    def running(self) -> bool:
        return self._reads.thread is not None and not self._ended.is_set()

    def abandon(self) -> str:
        """The caller of ``stop()`` gave up waiting: the sampler writes nothing more to the store from now on.
        Returns what it is busy with: "write" (a store write in progress; the sampler closes the store once that
        returns, so the caller must not), "read" (a device read) or "other" (e.g. the node ledger)."""
        if self._writer.abandon():
            return "write"
        return "read" if self._reads.busy else "other"

    # -- sampler thread ------------------------------------------------------------------------
    def _loop(self, resume: bool = False) -> None:
        """The sampler's work; ``resume``: on a thread that takes over from one stuck in a device read, which
        first redoes the reading that thread was taking (the baseline, or the round in ``_round``)."""
        me = threading.current_thread()
        reads = self._reads
        if not reads.baseline_done:
            try:
                self._reading(first=True)
                # the full summary of the baseline now, before start() returns: the stored run shows its settings
                # and assumptions from the start, and the sampler then goes on with cheap interval updates. Not
                # while the run's record waits for a locked store: the caller is not held up by a second wait
                if not getattr(self.store, "pending", False):
                    self._guarded(self._flush)
            except _Superseded:
                return
            except BaseException as e:  # raised in start(); the run releases the ledger
                self._start_error = e
                self._ended.set()
                reads.end_guard()
                self._started.release()
                return
            reads.baseline_in()
            self._started.release()
            resume = False
        ended = True
        done = False  # _finish returned: the run was ended (or its note said why not)
        died: BaseException | None = None
        try:
            while True:
                if resume:  # redo the round the stuck thread was in
                    resume = False
                    marks, stopping, due = self._round
                    now = self.clock()
                else:
                    wake_at = self._next_t
                    keep = self.keep_up_s
                    if keep is not None and self._next_keep_t < wake_at:
                        wake_at = self._next_keep_t
                    wait = wake_at - self.clock()
                    if wait > 0 and not self._stopping and not self._marks:
                        # re-held whether poked or timed out; a huge interval waits in platform-sized steps
                        self._wake.acquire(True, min(wait, threading.TIMEOUT_MAX))
                    else:
                        self._wake.acquire(False)  # consume a pending poke
                    stopping = self._stopping
                    marks = []
                    while self._marks:
                        marks.append(self._marks.popleft())
                    now = self.clock()
                    due = now >= self._next_t
                    if not (due or stopping or marks):
                        if keep is not None and now >= self._next_keep_t:
                            self._guarded(self._keep_up, now=now)
                        continue
                    self._round = (marks, stopping, due)
                self._guarded(self._reading, marks=marks, final=stopping)
                if self.keep_up_s is not None:
                    self._next_keep_t = now + self.keep_up_s
                if due or stopping:
                    if not stopping:  # the final write is _finish's: one transaction with the status
                        self._guarded(self._flush)
                    self._next_t += self.interval_s
                    if self._next_t <= now:  # fell behind (suspended, overloaded): skip, do not burst
                        self._next_t = now + self.interval_s
                if stopping:
                    self._guarded(self._finish)
                    done = True
                    return
        except _Superseded:  # another thread took over while this one was stuck: it ends the run
            ended = False
        except BaseException as e:  # SystemExit, KeyboardInterrupt from a reader or the store: not a failure to
            died = e  # outlive; it ends this thread only (raising it on would too), and the note below says so
        finally:
            if ended and reads.thread is me:
                if not done:
                    self._died(died)
                reads.end_guard()
                self._guarded(self.ledger.leave)
                self._guarded(self.ledger.close)
                self._ended.set()

    def _died(self, e: BaseException | None) -> None:
        """The sampling ended without its final write (a reader or the store raised SystemExit or the like on
        this thread): nothing more is measured or written; the stored run is left as its last write left it."""
        self.unsaved = True
        why = f"{type(e).__name__}: {e}" if e is not None else "it ended unexpectedly"
        at = f"{self.snapshot.elapsed_s:.3g} s into the run" if self.snapshot is not None else "at the start"
        self._say(f"sampler: measuring stopped {at} ({why}), before the run's end: the figures end there, and "
                  f"{self._writer.left_running()}")

    def _guarded(self, fn: Callable[..., Any], **kwargs: Any) -> None:
        try:
            fn(**kwargs)
        except Exception as e:  # the sampler must outlive any one failure; say each kind once
            key = f"{type(e).__name__}:{getattr(fn, '__name__', '')}"
            if key not in self._errors:
                self._errors.add(key)
                self._say(f"sampler: {type(e).__name__}: {e}")

    def _say(self, msg: str) -> None:
        if msg not in self._said:
            self._said.add(msg)
            self.notify(msg)

    def _keep_up(self, now: float) -> None:
        """Read the counters that could wrap more than once within an interval, between readings (uncharged)."""
        self._next_keep_t = now + (self.keep_up_s or self.interval_s)
        self._round = ([], False, False)  # a thread taking over from a read hung here takes a plain reading
        self._reads.keep_up()

    def _reading(self, first: bool = False, marks: list[tuple[str, str, float]] | None = None,
                 final: bool = False) -> Snapshot:
        now, charged, read_j, gpus = self._reads.read_and_charge(self.ledger, first=first, final=final)
        prev = self.snapshot
        # the final reading's window ends at stop(), even when the sampler reads later
        now, total, read_j, power = reading_totals(prev, now, charged, read_j, self._offset,
                                                   self._stop_t if final else None)
        basis = dict(prev.basis) if prev is not None else {}
        basis.update(self._reads.basis)
        share = self.share.update(force=first or self._stopping) if self.share is not None else ShareSnapshot()
        elapsed = self.offset_s + (now - self._t0)
        # dated by the monotonic clock from the start's wall time: a wall clock stepped during the run (NTP, a VM
        # resumed) must not end it before it started, nor put its samples out of order
        snap = Snapshot(now, self._wall0 + (now - self._t0), elapsed, total, read_j, power, basis, tuple(gpus), share,
                        (prev.samples + 1) if prev is not None else 0)
        if not first:
            self._writer.add_sample(snap.t_unix, elapsed, self._phase_book.current,
                                    {k: v[0] for k, v in total.items()}, power, keep=MAX_PENDING_SAMPLES)
        self.snapshot = snap
        for kind, name, t_mark in marks or ():
            self._phase_book.mark(kind, name, self.offset_s + (t_mark - self._t0), snap,
                                  _energy_at(t_mark, prev, snap))
        return snap

    def close_open_phases(self) -> None:
        """On stop: phases still open end at the final reading (called on the sampler thread)."""
        if self.snapshot is not None:
            self._phase_book.close_open(self.snapshot)

    def _flush(self) -> None:
        """One interval's write: samples, phase updates and the run's totals in one transaction."""
        writer = self._writer
        if not writer.enabled:
            writer.drop()
            return
        last_full = self._last_full_s
        summary, patch = self._summaries()
        if not writer.write(summary, patch):
            self._last_full_s = last_full  # a full summary not written is written at the next write

    def _summaries(self) -> tuple[dict[str, Any], dict[str, Any] | SlotPatch | None]:
        """(full summary, None) every FULL_SUMMARY_EVERY_S of run time, else ({}, fresh figures only): the
        figures stay current at every interval, the assumptions and notes are rebuilt less often."""
        snap = self.snapshot
        if snap is None or self.summary_fn is None:
            return {}, None
        if self.live_fn is None or self._last_full_s is None or \
                snap.elapsed_s - self._last_full_s >= FULL_SUMMARY_EVERY_S:
            self._last_full_s = snap.elapsed_s
            return self.summary_fn(snap), None
        return {}, self.live_fn(snap)

    def _maybe_downsample(self) -> None:
        """Keep a months-long run's time series bounded on disk: once per DOWNSAMPLE_EVERY_S of run time,
        merge samples older than DOWNSAMPLE_AFTER_S into DOWNSAMPLE_BUCKET_S buckets (energy unchanged).
        Run by the store writer after each interval's write that got through."""
        snap = self.snapshot
        if snap is None or snap.elapsed_s < self._next_downsample_s:
            return
        self._next_downsample_s = snap.elapsed_s + DOWNSAMPLE_EVERY_S
        self.store.downsample(self.run_id, older_than_s=DOWNSAMPLE_AFTER_S, bucket_s=DOWNSAMPLE_BUCKET_S)

    def _finish(self) -> None:
        """The final write (see :meth:`.StoreWriter.finish`): phases still open end here; the run is ended with
        its status, waiting for a locked store no longer than the caller of stop() waits."""
        self.close_open_phases()
        writer = self._writer
        if not writer.enabled:
            writer.drop()
            return
        status = self.status
        if status is not None:
            summary: dict[str, Any] = self.summary_fn(self.snapshot) if (self.summary_fn and self.snapshot) else {}
            patch: dict[str, Any] | SlotPatch | None = None
        else:  # stop(None): the run stays running, written as at any interval
            summary, patch = self._summaries()
        writer.finish(status, summary, patch, self._stop_t)
