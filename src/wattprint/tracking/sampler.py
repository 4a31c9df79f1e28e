"""The background sampler: one daemon thread on a monotonic clock that reads every device, charges the energy
through the node ledger, keeps O(1) running totals and appends each interval's samples to the store in one
small transaction (so at most one interval is ever at risk).

The caller's thread only posts phase marks (a deque append and an event set) and reads the latest immutable
:class:`Snapshot`; it never reads a device, touches the store or sleeps. Only ``start()`` (the baseline
reading) and ``stop()`` (waits for the final reading and flush) involve the caller.

The sampler thread reads the devices itself (no hand-over to another thread per interval: each costs the
tracked program a forced GIL switch). A guard thread, waking once per ``read_timeout_s`` (READ_TIMEOUT_S, 5 s,
whatever the interval), watches for a read that has not returned within that limit (a GPU fallen off the bus, an
NFS-mounted sysfs, a driver stuck in the kernel): that reader is given up, its energy frozen at what it had
read in this run (said in a note), and a fresh thread takes the sampler's place and redoes the reading without
it; the thread stuck in the driver is left behind. Should its read ever return, that late answer is dropped, the
thread ends, and the reader is read again from the next reading on, counted afresh from there. The limit is the
same for every read, the baseline at ``start()``, the mid-run readings and the final one at ``stop()``: a read
that has not answered in 5 s is hung whatever the interval, and with a long interval (``--interval 3600``) a
limit of one interval would hold ``start()`` or ``stop()`` up for that long, and mid-run the phase marks and the
keep-up reads below. The baseline reading is taken on the sampler thread too, so a hung read holds the caller of
``start()`` up for the limit at most. When the baseline is redone without a hung reader, the readings the stuck
thread had already taken stand, at the time they were taken: the devices read before the hung one are counted
from the start, like the run's duration; only those read after it (not read before the hang) are counted from
the redone reading, up to the limit later (the note says which). The node ledger's lock is only taken once the
readings are in: one run's hung read never stops another's.

Counters that wrap around (RAPL: :attr:`~wattprint.devices.rapl.RaplReader.max_interval_s`) could wrap more than
once between two readings when their wrap time is under twice the interval (a reading that comes late, after a
busy spell or a slow store write, could then see a second wrap); those readers alone are also read in between
(``keep_up_s``, half their shortest wrap time), uncharged and unstored: the reader follows its counter across
wraps and the next reading charges it all. With a normal interval (shorter than that) nothing changes.

At ``stop()`` the last samples, the phases and the final status go in ONE transaction, waiting for a locked store
only as long as the caller of ``stop()`` waits (its ``timeout``); if the store is still locked then, nothing of it
is written and a note says so (the stored run stays ``running``, its figures ending at the last stored sample).
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .attribution import ProcessShare, ShareSnapshot
from .ledger import Ledger, Triple

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
# while running, a write waits for another process's lock at most this share of an interval (not less than the
# minimum: other writers' transactions last milliseconds); samples it could not write are kept and retried
WRITE_WAIT_SHARE = 0.5
MIN_WRITE_WAIT_S = 0.1
# a device read that has not returned after this long is given up (s), whatever the sampling interval (the
# baseline, mid-run and final readings alike); below the end-of-run rule (stop() waits one interval plus 30 s),
# so a hung read does not cost the last figures
READ_TIMEOUT_S = 5.0
# readers whose counters can wrap (``max_interval_s``) are read at least every this share of that time, so that a
# late wake-up still reads them before a second wrap
KEEP_UP_SHARE = 0.5
# the final write ends this long before stop()'s timeout (at most a quarter of it): the ledger is left after it
END_MARGIN_S = 0.5
# tries of the final write (each waits for a locked store as long as stop()'s timeout leaves)
FINAL_WRITE_TRIES = 2


def note_to_stderr(msg: str) -> None:
    """A note on stderr; a closed or broken stderr must not stop the measurement (or the command under it)."""
    import contextlib
    import sys

    with contextlib.suppress(OSError, ValueError):  # broken pipe, closed file
        print(f"wattprint: {msg}", file=sys.stderr, flush=True)


class Snapshot:
    """Totals as of one reading (immutable by convention: a new one per reading). J, W, s.

    ``t``: monotonic time of the reading; ``elapsed_s``: run time including earlier segments of a resumed
    run; ``charged_j``: charged IT energy per component (value, low, high); ``read_j``: what this process's
    own readers saw this segment (before the node split); ``power_w``: charged power over the last interval.
    (A plain class with slots: dataclass creation costs ~1 ms at import, which start-up latency feels.)
    """

    __slots__ = ("t", "t_unix", "elapsed_s", "charged_j", "read_j", "power_w", "basis", "gpus", "share", "samples")

    def __init__(self, t: float, t_unix: float, elapsed_s: float, charged_j: dict[str, tuple[float, float, float]],
                 read_j: dict[str, float], power_w: dict[str, float], basis: dict[str, str],
                 gpus: tuple[str, ...] = (), share: ShareSnapshot | None = None, samples: int = 0) -> None:
        self.t = t
        self.t_unix = t_unix
        self.elapsed_s = elapsed_s
        self.charged_j = charged_j
        self.read_j = read_j
        self.power_w = power_w
        self.basis = basis
        self.gpus = gpus
        self.share = share if share is not None else ShareSnapshot()
        self.samples = samples

    @property
    def it_energy_j(self) -> float:
        return sum(v[0] for v in self.charged_j.values())


class PhaseTotal:
    """Energy (J per component), duration (s) and occurrences of one phase name."""

    __slots__ = ("energy_j", "duration_s", "count")

    def __init__(self, energy_j: dict[str, float] | None = None, duration_s: float = 0.0, count: int = 0) -> None:
        self.energy_j = dict(energy_j or {})
        self.duration_s = duration_s
        self.count = count

    def to_dict(self) -> dict[str, Any]:
        return {"energy_j": dict(self.energy_j), "it_energy_kwh": sum(self.energy_j.values()) / 3.6e6,
                "duration_s": self.duration_s, "count": self.count}


class _Slot:
    """One reader and what the sampler knows of it: its last readings (frozen while it hangs), since when it
    hangs (monotonic s, None while it answers), whether its hung read has returned since."""

    __slots__ = ("reader", "last", "hung_since", "returned", "rejoined")

    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.last: list[tuple[str, str, Triple]] = []
        self.hung_since: float | None = None
        self.returned = False  # set by the thread left behind, once its hung read came back
        self.rejoined = False  # read again after a hang: its next readings continue from the frozen ones


class _Superseded(BaseException):
    """Raised in a sampler thread whose hung read came back after another thread took over its work."""


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
        self.store = store
        self.run_id = run_id
        self.offset_j = dict(offset_j or {})
        self.offset_s = float(offset_s)
        self.scale = dict(scale or {})
        self.share = share
        self.summary_fn = summary
        self.live_fn = live
        self._last_full_s: float | None = None
        self.notify = notify or note_to_stderr
        self.clock = clock

        self.snapshot: Snapshot | None = None
        self.phases: dict[str, PhaseTotal] = {}
        self.status: str | None = None
        self._stack: list[tuple[str, float, dict[str, float]]] = []  # (name, start elapsed, charged at start)
        self._marks: collections.deque[tuple[str, str, float]] = collections.deque()
        # a bare lock, held while nobody has asked for a reading: the sampler sleeps in one C-level acquire
        # (threading.Event's Condition costs some twenty Python calls per wake-up, on the GIL)
        self._wake = threading.Lock()
        self._wake.acquire()
        self._stopping = False
        self._stop_t: float | None = None  # when stop() was called: the window ends there
        self.unsaved = False  # the final write failed: what was measured is only in memory
        self._thread: threading.Thread | None = None
        self._pending: list[Any] = []
        from ..storage import SampleRow  # here, not per reading: an import statement runs importlib code

        self._sample_row = SampleRow
        self._pending_phases: list[tuple[str, float, float | None, dict[str, float]]] = []
        self._store_failed = False
        self._said: set[str] = set()
        self._t0 = 0.0
        self._read_base: dict[tuple[str, str], float] = {}
        self._errors: set[str] = set()
        self._next_downsample_s = DOWNSAMPLE_AFTER_S
        self._slots = [_Slot(r) for r in self.readers]
        self._hung: list[_Slot] = []  # readers given up (their last readings stand, frozen)
        self.read_timeout_s = READ_TIMEOUT_S  # the same for every read: see the module docstring
        # the baseline as taken so far, per thread that took part (one more per hung read it was redone after):
        # (time, readings, basis), and the slots already read (id); cleared once the baseline is in
        self._base_groups: list[tuple[float, list[tuple[str, str, Triple]], dict[str, str]]] = []
        self._base_done: set[int] = set()
        # hung-read watch: the read in progress on the sampler thread (slot, since, thread), under _own
        self._own = threading.Lock()
        self._in_read: tuple[_Slot, float, threading.Thread] | None = None
        self._forget_next: list[tuple[str, str]] = []  # devices of readers given up, for the next charge
        self._round: tuple[list[tuple[str, str, float]], bool, bool] = ([], False, False)  # marks, stopping, due
        self._next_t = 0.0
        self._baseline_done = False
        self._start_error: BaseException | None = None
        self._started = threading.Lock()  # released once the baseline reading is in (or failed)
        self._started.acquire()
        self._guard_stop = threading.Lock()  # released when the sampling ends: the guard thread ends too
        self._guard_stop.acquire()
        self._ended = threading.Event()
        # stop()'s deadline for the final write (clock time; None: no timeout, the store's own waits)
        self._end_by: float | None = None
        # store writes in progress / given up by the caller of stop() (see abandon()), under _io
        self._io = threading.Lock()
        self._writing = False
        self._abandoned = False
        self._stored_s: float | None = None  # run time of the last sample written to the store
        # counters that could wrap more than once in an interval: those readers are read in between too
        self._keep_up_slots, self.keep_up_s, self._wrap_s = _wrapping(self._slots, self.interval_s)
        self._next_keep_t = 0.0

    # -- caller's side -------------------------------------------------------------------------
    def start(self) -> Snapshot:
        """Take the baseline reading (the window opens here) and start the thread. The reading is taken on the
        sampler thread: a device read that hangs holds the caller up for ``read_timeout_s`` at most; the readings
        taken before it stand (see the module docstring), so the run's duration and its energy cover one window."""
        self._t0 = self.clock()
        self._next_t = self._t0 + self.interval_s
        if self.keep_up_s is not None:
            self._next_keep_t = self._t0 + self.keep_up_s
            names = ", ".join(str(getattr(sl.reader, "name", sl.reader)) for sl in self._keep_up_slots)
            self._say(f"{names}: a counter can wrap around in {self._wrap_s:.3g} s at the highest power its zones "
                      f"allow, less than twice the sampling interval ({self.interval_s:g} s; a reading that comes "
                      f"late could miss a wrap-around): read every {self.keep_up_s:.3g} s in between too, so that "
                      f"none is missed")
        if self.share is not None:
            self.share.start()
        if self.store is not None:  # a locked store must not hold the readings up: retry next interval
            self.store.set_write_wait(max(MIN_WRITE_WAIT_S, WRITE_WAIT_SHARE * self.interval_s))
        self._thread = threading.Thread(target=self._loop, name="wattprint-sampler", daemon=True)
        self._thread.start()
        threading.Thread(target=self._guard, name="wattprint-read-guard", daemon=True).start()
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
                self._end_by = self._stop_t + timeout - min(END_MARGIN_S, timeout / 4)
        self._stopping = True
        self._poke()
        if self._thread is not None and self._thread is not threading.current_thread():
            # the end of the sampling, whichever thread does it (one may have taken over from a hung one)
            self._ended.wait(None if timeout is None else min(timeout, threading.TIMEOUT_MAX))
        return self.snapshot

    def _poke(self) -> None:
        """Wake the sampler now (a release of the held lock; a second poke before it wakes is one wake-up)."""
        with contextlib.suppress(RuntimeError):  # already released: a wake-up is pending
            self._wake.release()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._ended.is_set()

    def abandon(self) -> str:
        """The caller of ``stop()`` gave up waiting: the sampler writes nothing more to the store from now on.
        Returns what it is busy with: "write" (a store write in progress; the sampler closes the store once that
        returns, so the caller must not), "read" (a device read) or "other" (e.g. the node ledger)."""
        with self._io:
            self._abandoned = True
            if self._writing:
                return "write"
        return "read" if self._in_read is not None else "other"

    def _write_begin(self) -> bool:
        """Before each store write (on the sampler thread): False once the caller has given up (see abandon)."""
        with self._io:
            if self._abandoned:
                return False
            self._writing = True
            return True

    def _write_end(self) -> None:
        with self._io:
            self._writing = False
            close = self._abandoned
        if close:  # the caller left the store to us (it was busy here): nothing more is written
            with contextlib.suppress(Exception):
                self.store.close()

    # -- sampler thread ------------------------------------------------------------------------
    def _loop(self, resume: bool = False) -> None:
        """The sampler's work; ``resume``: on a thread that takes over from one stuck in a device read, which
        first redoes the reading that thread was taking (the baseline, or the round in ``_round``)."""
        me = threading.current_thread()
        if not self._baseline_done:
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
                self._end_guard()
                self._started.release()
                return
            self._baseline_done = True
            self._base_groups, self._base_done = [], set()
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
            if ended and self._thread is me:
                if not done:
                    self._died(died)
                self._end_guard()
                self._guarded(self.ledger.leave)
                self._guarded(self.ledger.close)
                self._ended.set()

    def _died(self, e: BaseException | None) -> None:
        """The sampling ended without its final write (a reader or the store raised SystemExit or the like on
        this thread): nothing more is measured or written; the stored run is left as its last write left it."""
        self.unsaved = True
        why = f"{type(e).__name__}: {e}" if e is not None else "it ended unexpectedly"
        snap = self.snapshot
        at = f"{snap.elapsed_s:.3g} s into the run" if snap is not None else "at the start"
        upto = f"{self._stored_s:.3g} s into the run" if self._stored_s is not None else "the start"
        self._say(f"sampler: measuring stopped {at} ({why}), before the run's end: the figures end there, and the "
                  f"stored run is left running (not marked ended), its figures ending at its last stored sample, "
                  f"{upto}")

    def _end_guard(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._guard_stop.release()

    def _guard(self) -> None:
        """Watch the sampler thread's device reads: one that has not returned within ``read_timeout_s`` is given
        up, and a fresh thread takes the sampler's place. Wakes once per ``read_timeout_s`` (more often only
        while a read is in progress then), never per interval."""
        bound = self.read_timeout_s
        wait = bound
        while not self._guard_stop.acquire(True, min(wait, threading.TIMEOUT_MAX)):
            wait = bound
            with self._own:
                cur = self._in_read
                if cur is None or cur[2] is not self._thread:  # none, or on a caller's thread (not ours to free)
                    continue
                left = cur[1] + bound - time.monotonic()
                if left > 0:
                    wait = left
                    continue
                slot = cur[0]
                self._in_read = None  # the stuck thread, if its read ever returns, finds it superseded
                fresh = slot.hung_since is None
                if fresh:
                    slot.hung_since = time.monotonic()
                    self._hung.append(slot)
                slot.returned = False
                self._forget_next.extend((comp, dev) for comp, dev, _ in slot.last)
                # in the baseline: the readers not read yet are read by the successor, their window opens then
                later = [] if self._baseline_done else [
                    str(getattr(sl.reader, "name", sl.reader)) for sl in self._slots
                    if sl is not slot and sl.hung_since is None and id(sl) not in self._base_done]
                successor = threading.Thread(target=self._loop, kwargs={"resume": True}, name="wattprint-sampler",
                                             daemon=True)
                self._thread = successor
            if fresh:
                self._say_given_up(slot, later)
            successor.start()

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

    def _read_devices(self, baseline: bool = False) -> tuple[float, list[tuple[str, str, Triple]],
                                                              list[tuple[str, str]]]:
        """(now, [(component, device, [J, low, high])] to charge, (component, device) given up since the last).
        ``baseline``: the first reading, kept as it goes in ``_base_groups`` (a thread that takes over from one
        stuck in it reads only the readers not read yet)."""
        now = self.clock()
        out: list[tuple[str, str, Triple]] = []
        self._basis_now: dict[str, str] = {}
        done = self._base_done
        if baseline:
            self._base_groups.append((now, out, self._basis_now))
        # watched only on the sampler thread (a reading taken by hand, on another thread, is not ours to free)
        me = threading.current_thread()
        watched = me is self._thread
        own = self._own
        for slot in self._slots:
            if baseline and id(slot) in done:
                continue  # read before a hung read, by the thread stuck in it: that reading stands
            if slot.hung_since is not None:
                if not slot.returned:
                    continue  # given up, its read still stuck: frozen
                self._take_back(slot)
            r = slot.reader
            if watched:
                token = (slot, time.monotonic(), me)
                self._in_read = token
            err: BaseException | None = None
            try:
                readings = r.read()
            except BaseException as e:  # judged below, once it is known whether this thread is still the sampler
                err, readings = e, []
            if watched:
                with own:
                    if self._in_read is not token:  # given up meanwhile: another thread samples now
                        slot.returned = True  # the reader is free again: the sampler may take it back (afresh)
                        raise _Superseded
                    self._in_read = None
            if err is not None and not isinstance(err, Exception):
                raise err  # KeyboardInterrupt, SystemExit: not a device's failure
            take = getattr(r, "take_notes", None)
            if take is not None:
                for msg in take():
                    self._say(msg)
            if err is not None:
                self._say(f"{getattr(r, 'name', r)} unreadable ({type(err).__name__}: {err}); its energy is frozen")
                if baseline:
                    done.add(id(slot))
                continue
            mine: list[tuple[str, str, Triple]] = []
            for rd in readings:
                k = self.scale.get(rd.component, 1.0) if rd.basis == "measured" else 1.0
                lo = rd.energy_j if rd.energy_low_j is None else rd.energy_low_j
                hi = rd.energy_j if rd.energy_high_j is None else rd.energy_high_j
                mine.append((rd.component, rd.device, [rd.energy_j * k, lo * k, hi * k]))
                prev = self._basis_now.get(rd.component)
                self._basis_now[rd.component] = rd.basis if prev in (None, rd.basis) else "modelled"
            if slot.rejoined:  # what it saw while given up is not this run's: continue from the frozen readings
                slot.rejoined = False
                frozen = {(comp, dev): vec[0] for comp, dev, vec in slot.last}
                for comp, dev, vec in mine:
                    key = (comp, dev)
                    if key in frozen and key in self._read_base:
                        self._read_base[key] += vec[0] - frozen[key]
            slot.last = mine
            out.extend(mine)
            if baseline:
                done.add(id(slot))
        forget: list[tuple[str, str]] = []
        if self._forget_next:
            with own:
                forget, self._forget_next = self._forget_next, []
        return now, out, forget

    def _keep_up(self, now: float) -> None:
        """Read the readers whose counters could wrap more than once within an interval, between readings: not
        charged or stored (the reader follows its counter across the wrap; the next reading charges it all)."""
        self._next_keep_t = now + (self.keep_up_s or self.interval_s)
        self._round = ([], False, False)  # a thread taking over from a read hung here takes a plain reading
        me = threading.current_thread()
        own = self._own
        for slot in self._keep_up_slots:
            if slot.hung_since is not None or slot.rejoined:  # given up or just back: the next reading sees to it
                continue
            token = (slot, time.monotonic(), me)
            self._in_read = token
            err: BaseException | None = None
            try:
                slot.reader.read()
            except BaseException as e:
                err = e
            with own:
                if self._in_read is not token:  # given up meanwhile: another thread samples now
                    slot.returned = True
                    raise _Superseded
                self._in_read = None
            if err is not None and not isinstance(err, Exception):
                raise err
            take = getattr(slot.reader, "take_notes", None)
            if take is not None:
                for msg in take():
                    self._say(msg)
            # a failed read is said by the next reading, which reads the reader again

    def _say_given_up(self, slot: _Slot, later: Sequence[str] = ()) -> None:
        """The note for a reader given up: what it had read in this run (not its raw counter, which may count
        from the device's power-on), and in the baseline, which readers are counted from the redone reading."""
        r = slot.reader
        saw: dict[str, float] = {}
        base = self._read_base
        for comp, dev, vec in slot.last:
            saw[comp] = saw.get(comp, 0.0) + vec[0] - base.get((comp, dev), vec[0])
        upto = ", ".join(f"{comp} {e:.1f} J in this run" for comp, e in saw.items()) or "nothing yet"
        after = (f"; {', '.join(later)}, read after it, {'is' if len(later) == 1 else 'are'} counted from the "
                 f"reading redone without it, not from the start") if later else ""
        self._say(f"{getattr(r, 'name', r)}: a read did not return within {self.read_timeout_s:.3g} s (a device "
                  f"hung); its energy is frozen at its last reading ({upto}): from now on it is not counted "
                  f"while it does not answer{after}")

    def _take_back(self, slot: _Slot) -> None:
        """A reader given up answered again (its hung read returned): counted again from its next reading on."""
        with self._own:
            gone = time.monotonic() - (slot.hung_since or 0.0)
            slot.hung_since = None
            slot.returned = False
            slot.rejoined = True
            self._hung.remove(slot)
        r = slot.reader
        self._say(f"{getattr(r, 'name', r)} answers again after about {gone:.3g} s; counted again from now "
                  f"(the time it did not answer is not)")

    def _reading(self, first: bool = False, marks: list[tuple[str, str, float]] | None = None,
                 final: bool = False) -> Snapshot:
        now, readings, forget = self._read_devices(baseline=first)
        # the node ledger's lock only now: the readings are in, a hung read holds no other run up
        if first and len(self._base_groups) > 1:
            now, readings, charged = self._kept_baseline(now, readings, forget)
        else:
            now, readings, charged = self.ledger.charge(now, readings, leave=final, forget=forget)
        if self._hung:  # what hung readers saw stands, frozen, in this process's own view
            readings = readings + [t for sl in self._hung for t in sl.last]
        read_j: dict[str, float] = {}
        gpus: list[str] = []
        for comp, dev, vec in readings:
            key = (comp, dev)
            if first:
                self._read_base[key] = vec[0]
            read_j[comp] = read_j.get(comp, 0.0) + vec[0] - self._read_base.setdefault(key, vec[0])
            if comp == "gpu":
                gpus.append(dev)
        total: dict[str, tuple[float, float, float]] = {}
        for comp in set(charged) | set(self.offset_j):
            c = charged.get(comp, [0.0, 0.0, 0.0])
            off = self.offset_j.get(comp, 0.0)
            total[comp] = (c[0] + off, c[1] + off, c[2] + off)
        prev = self.snapshot
        if final and self._stop_t is not None and prev is not None and prev.t < self._stop_t < now:
            # the sampler was late (a slow store write, a busy machine): end the window at stop(), not here
            w = (self._stop_t - prev.t) / (now - prev.t)
            total = {comp: _between(prev.charged_j.get(comp, v), v, w) for comp, v in total.items()}
            read_j = {comp: prev.read_j.get(comp, e) + w * (e - prev.read_j.get(comp, e)) for comp, e in read_j.items()}
            now = self._stop_t
        power: dict[str, float] = {}
        if prev is not None and now > prev.t:
            for comp, v in total.items():
                power[comp] = (v[0] - prev.charged_j.get(comp, (0.0,))[0]) / (now - prev.t)
        basis = dict(prev.basis) if prev is not None else {}
        basis.update(self._basis_now)
        share = self.share.update(force=first or self._stopping) if self.share is not None else ShareSnapshot()
        elapsed = self.offset_s + (now - self._t0)
        snap = Snapshot(now, time.time(), elapsed, total, read_j, power, basis, tuple(gpus), share,
                        (prev.samples + 1) if prev is not None else 0)
        if not first:
            phase = self._stack[-1][0] if self._stack else None
            self._pending.append(self._sample_row(snap.t_unix, elapsed, phase, {k: v[0] for k, v in total.items()},
                                                  power))
            if len(self._pending) > MAX_PENDING_SAMPLES:
                self._pending = self._pending[0:-1:2] + [self._pending[-1]]
        self.snapshot = snap
        for kind, name, t_mark in marks or ():
            self._apply_mark(kind, name, self.offset_s + (t_mark - self._t0), snap,
                             _energy_at(t_mark, prev, snap))
        return snap

    def _kept_baseline(self, now: float, readings: list[tuple[str, str, Triple]], forget: list[tuple[str, str]]
                       ) -> tuple[float, list[tuple[str, str, Triple]], dict[str, Triple]]:
        """The baseline redone after a hung read: the readings the stuck thread(s) took stand, each charged (i.e.
        registered with the ledger) at the time it was taken, and the baseline is dated from the first of them, so
        the devices read before the hang are counted from the start of the window, as the run's duration is."""
        groups = self._base_groups
        for t, grp, _ in groups[:-1]:
            if grp:
                self.ledger.charge(t, grp)
        _, _, charged = self.ledger.charge(now, readings, forget=forget)
        basis: dict[str, str] = {}
        for _, _, b in groups:
            for comp, how in b.items():
                prev = basis.get(comp)
                basis[comp] = how if prev in (None, how) else "modelled"
        self._basis_now = basis
        return groups[0][0], [x for _, grp, _ in groups for x in grp], charged

    def _apply_mark(self, kind: str, name: str, at_s: float, snap: Snapshot,
                    energy: dict[str, float] | None = None) -> None:
        if energy is None:
            energy = {k: v[0] for k, v in snap.charged_j.items()}
        if kind == "enter":
            self._stack.append((name, at_s, energy))
            self._pending_phases.append((name, at_s, None, {}))
            return
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == name:
                _, start_s, at_start = self._stack.pop(i)
                used = {k: e - at_start.get(k, 0.0) for k, e in energy.items()}
                tot = self.phases.setdefault(name, PhaseTotal())
                # a phase re-entered inside itself is already inside the outer one's window: total it once
                if not any(n == name for n, _, _ in self._stack):
                    for k, e in used.items():
                        tot.energy_j[k] = tot.energy_j.get(k, 0.0) + e
                    tot.duration_s += max(0.0, at_s - start_s)
                    tot.count += 1
                self._pending_phases.append((name, start_s, at_s, used))
                return

    def close_open_phases(self) -> None:
        """On stop: phases still open end at the final reading (called on the sampler thread)."""
        snap = self.snapshot
        if snap is None:
            return
        for name, _, _ in list(reversed(self._stack)):
            self._apply_mark("exit", name, snap.elapsed_s, snap)

    def _flush(self) -> None:
        if self.store is None or self.run_id is None:
            self._pending.clear()
            self._pending_phases.clear()
            return
        last_full = self._last_full_s
        summary, patch = self._summaries()
        if not self._write_begin():
            return
        try:
            # samples, phase updates and the run's totals in one transaction
            self.store.append_samples(self.run_id, self._pending, summary, phases=self._pending_phases,
                                      summary_patch=patch)
            if self._pending:
                self._stored_s = self._pending[-1].elapsed_s
            self._pending = []
            self._pending_phases = []
            self._maybe_downsample()
            if self._store_failed:
                self._store_failed = False
                self._say("the store works again; samples kept in memory were written")
        except Exception as e:
            self._last_full_s = last_full  # a full summary not written is written at the next write
            if not self._store_failed:
                self._store_failed = True
                self._say(f"writing to the store failed ({e}); still measuring, keeping samples in memory")
        finally:
            self._write_end()

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
        merge samples older than DOWNSAMPLE_AFTER_S into DOWNSAMPLE_BUCKET_S buckets (energy unchanged)."""
        snap = self.snapshot
        if snap is None or snap.elapsed_s < self._next_downsample_s:
            return
        self._next_downsample_s = snap.elapsed_s + DOWNSAMPLE_EVERY_S
        self.store.downsample(self.run_id, older_than_s=DOWNSAMPLE_AFTER_S, bucket_s=DOWNSAMPLE_BUCKET_S)

    def _finish(self) -> None:
        """The final write: the samples kept, the phases and the run's end status in ONE transaction (a run whose
        record still waits for the store is written with them), waiting for a locked store no longer than the
        caller of stop() waits. Nothing of it stored: the stored run reads back as one that stopped being written
        (as after SIGKILL), ``running`` with its figures up to its last stored sample, never ended with the
        wrong totals; a note says which, and why."""
        self.close_open_phases()
        store = self.store
        if store is None or self.run_id is None:
            self._pending.clear()
            self._pending_phases.clear()
            return
        status = self.status
        if status is not None:
            summary: dict[str, Any] = self.summary_fn(self.snapshot) if (self.summary_fn and self.snapshot) else {}
            patch: dict[str, Any] | SlotPatch | None = None
        else:  # stop(None): the run stays running, written as at any interval
            summary, patch = self._summaries()
        never_begun = bool(getattr(store, "pending", False))
        one_transaction = getattr(store, "transaction", None) or contextlib.nullcontext
        err: Exception | None = None
        for attempt in range(FINAL_WRITE_TRIES):
            wait = None if self._end_by is None else max(0.0, self._end_by - self.clock())
            if attempt and wait is not None and wait <= 0:
                break
            if not self._write_begin():
                return  # the caller gave up waiting and said so: nothing more is written
            try:
                store.set_write_wait(wait)  # None: as long as the store allows
                with one_transaction():
                    store.append_samples(self.run_id, self._pending, summary, phases=self._pending_phases,
                                         summary_patch=patch)
                    if status is not None:
                        store.finish_run(self.run_id, status, None)
                err = None
                break
            except Exception as e:
                err = e
            finally:
                self._write_end()
        if err is None:
            if self._pending:
                self._stored_s = self._pending[-1].elapsed_s
            self._pending = []
            self._pending_phases = []
            self.unsaved = False
            if self._store_failed:
                self._store_failed = False
                self._say("the store works again; samples kept in memory were written")
            return
        self.unsaved = True
        path = getattr(store, "path", "")
        if "locked" in str(err).lower() or "busy" in str(err).lower():
            waited = self.clock() - (self._stop_t if self._stop_t is not None else self.clock())
            why = (f"the store {path} stayed locked by another process: still locked {waited:.3g} s after the run "
                   f"stopped")
        else:
            why = f"the last write to the store {path} failed ({err})"
        if never_begun:
            what = ("nothing of this run was stored (its record could not be written at all; the figures are only in "
                    "this report)")
        else:
            upto = f"{self._stored_s:.3g} s into the run" if self._stored_s is not None else "the start"
            what = (f"its last samples are not stored: the stored run is left running (not marked "
                    f"{status or 'ended'}), its figures ending at its last stored sample, {upto}")
        self._say(f"{why}, so {what}")


_ZERO = (0.0, 0.0, 0.0)


def _between(a: tuple[float, float, float], b: tuple[float, float, float], w: float) -> tuple[float, float, float]:
    return (a[0] + w * (b[0] - a[0]), a[1] + w * (b[1] - a[1]), a[2] + w * (b[2] - a[2]))


def _energy_at(t: float, prev: Snapshot | None, snap: Snapshot) -> dict[str, float]:
    """Charged energy per component at time ``t`` (a phase boundary), interpolated linearly between the
    readings around it, so the sampler's wake-up delay does not move energy across the boundary."""
    now = {k: v[0] for k, v in snap.charged_j.items()}
    if prev is None or not prev.t < t < snap.t:
        return now
    w = (t - prev.t) / (snap.t - prev.t)
    # a component not charged yet at ``prev`` (the baseline charges nothing) had 0 J there
    return {k: prev.charged_j.get(k, _ZERO)[0] + w * (e - prev.charged_j.get(k, _ZERO)[0]) for k, e in now.items()}


def _wrapping(slots: list[_Slot], interval_s: float) -> tuple[list[_Slot], float | None, float]:
    """The readers whose counters could wrap more than once between two readings (their ``max_interval_s``, or
    their wrapped reader's, shorter than twice the interval: a margin for a reading that comes late), how often to
    read them in between (None: never, the usual case), and their shortest wrap time (s). The note start() writes
    says the same: "less than twice the sampling interval"."""
    limits: list[tuple[_Slot, float]] = []
    for slot in slots:
        r = slot.reader
        m = getattr(r, "max_interval_s", None)
        if m is None:  # a wrapper (a job's allocation share of a whole-host counter)
            m = getattr(getattr(r, "inner", None), "max_interval_s", None)
        if isinstance(m, (int, float)) and not isinstance(m, bool) and 0 < m < float("inf"):
            limits.append((slot, float(m)))
    keep = [(slot, m) for slot, m in limits if KEEP_UP_SHARE * m < interval_s]
    if not keep:
        return [], None, 0.0
    shortest = min(m for _, m in keep)
    return [slot for slot, _ in keep], KEEP_UP_SHARE * shortest, shortest
