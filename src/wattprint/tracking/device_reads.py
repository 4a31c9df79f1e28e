"""The sampler's device reads, guarded against a read that hangs, and the in-between reads of counters that wrap.

The sampler thread reads the devices itself (no hand-over to another thread per interval: each costs the
tracked program a forced GIL switch). A guard thread, waking once per ``timeout_s`` (the sampler's
READ_TIMEOUT_S, 5 s, whatever the interval), watches for a read that has not returned within that limit (a GPU
fallen off the bus, an NFS-mounted sysfs, a driver stuck in the kernel): that reader is given up, its energy
frozen at what it had read in this run (said in a note), and a fresh thread takes the sampler's place and redoes
the reading without it; the thread stuck in the driver is left behind. Should its read ever return, that late
answer is dropped, the thread ends, and the reader is read again from the next reading on, counted afresh from
there. The limit is the same for every read, the baseline at ``start()``, the mid-run readings and the final one
at ``stop()``: a read that has not answered in 5 s is hung whatever the interval, and with a long interval
(``--interval 3600``) a limit of one interval would hold ``start()`` or ``stop()`` up for that long, and mid-run
the phase marks and the keep-up reads below. The baseline reading is taken on the sampler thread too, so a hung
read holds the caller of ``start()`` up for the limit at most. When the baseline is redone without a hung
reader, the readings the stuck thread had already taken stand, at the time they were taken: the devices read
before the hung one are counted from the start, like the run's duration; only those read after it (not read
before the hang) are counted from the redone reading, up to the limit later (the note says which). The node
ledger's lock is only taken once the readings are in: one run's hung read never stops another's.

Counters that wrap around (RAPL: :attr:`~wattprint.devices.rapl.RaplReader.max_interval_s`) could wrap more than
once between two readings when their wrap time is under twice the interval (a reading that comes late, after a
busy spell or a slow store write, could then see a second wrap); those readers alone are also read in between
(``keep_up_s``, half their shortest wrap time), uncharged and unstored: the reader follows its counter across
wraps and the next reading charges it all. With a normal interval (shorter than that) nothing changes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from .ledger import Ledger, Triple
from .signals import start_background

# readers whose counters can wrap (``max_interval_s``) are read at least every this share of that time, so that a
# late wake-up still reads them before a second wrap
KEEP_UP_SHARE = 0.5


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


class DeviceReads:
    """Reads ``readers`` for the sampler thread of record (``thread``); a guard thread gives up a read that has
    not returned within ``timeout_s`` and puts a fresh thread in the stuck one's place, running ``resume`` (the
    sampler's work, from the reading the stuck thread was taking: see the module docstring). ``scale``: factor
    per component for measured readings."""

    def __init__(self, readers: Sequence[Any], *, scale: dict[str, float], timeout_s: float, interval_s: float,
                 clock: Callable[[], float], say: Callable[[str], None],
                 resume: Callable[[], None]) -> None:
        self.scale = scale
        self.timeout_s = timeout_s  # the same for every read: see the module docstring
        self.clock = clock
        self.say = say
        self.resume = resume
        self.thread: threading.Thread | None = None  # the sampler thread (replaced when its read hangs)
        self._slots = [_Slot(r) for r in readers]
        self._hung: list[_Slot] = []  # readers given up (their last readings stand, frozen)
        self.basis: dict[str, str] = {}  # basis per component of the last reading
        self._read_base: dict[tuple[str, str], float] = {}
        self._bands: dict[str, float] = {}  # component -> relative accuracy band of its sensor (measured only)
        # the baseline as taken so far, per thread that took part (one more per hung read it was redone after):
        # (time, readings, basis), and the slots already read (id); cleared once the baseline is in
        self.baseline_done = False
        self._base_groups: list[tuple[float, list[tuple[str, str, Triple]], dict[str, str]]] = []
        self._base_done: set[int] = set()
        # hung-read watch: the read in progress on the sampler thread (slot, since, thread), under _own
        self._own = threading.Lock()
        self._in_read: tuple[_Slot, float, threading.Thread] | None = None
        self._forget_next: list[tuple[str, str]] = []  # devices of readers given up, for the next charge
        self._guard_stop = threading.Lock()  # released when the sampling ends: the guard thread ends too
        self._guard_stop.acquire()
        # counters that could wrap more than once in an interval: those readers are read in between too
        self._keep_up_slots, self.keep_up_s, self._wrap_s = _wrapping(self._slots, interval_s)

    @property
    def busy(self) -> bool:
        """A device read is in progress on the sampler thread."""
        return self._in_read is not None

    def baseline_in(self) -> None:
        """The baseline reading is in: readings from now on are plain ones."""
        self.baseline_done = True
        self._base_groups, self._base_done = [], set()

    def keep_up_note(self, interval_s: float) -> str:
        """Why the wrapping counters are also read between readings (said at ``start()``)."""
        names = ", ".join(str(getattr(sl.reader, "name", sl.reader)) for sl in self._keep_up_slots)
        return (f"{names}: a counter can wrap around in {self._wrap_s:.3g} s at the highest power its zones "
                f"allow, less than twice the sampling interval ({interval_s:g} s; a reading that comes "
                f"late could miss a wrap-around): read every {self.keep_up_s:.3g} s in between too, so that "
                f"none is missed")

    # -- on the sampler thread -----------------------------------------------------------------
    def read_and_charge(self, ledger: Ledger, first: bool = False, final: bool = False
                        ) -> tuple[float, dict[str, Triple], dict[str, float], list[str]]:
        """A reading: every reader read (``first``: the baseline), then charged through ``ledger`` (``final``: this
        process leaves it). Returns (time, charged J per component, J this process's readers saw this segment per
        component, the GPUs read)."""
        now, readings, forget = self._read(baseline=first)
        # the node ledger's lock only now: the readings are in, a hung read holds no other run up
        if first and len(self._base_groups) > 1:  # the baseline was redone after a hung read
            now, readings, charged = self._kept_baseline(ledger, now, readings, forget)
        else:
            now, readings, charged = ledger.charge(now, readings, leave=final, forget=forget)
        if self._hung:  # what hung readers saw stands, frozen, in this process's own view
            readings = readings + [t for sl in self._hung for t in sl.last]
        read_j, gpus = self._seen(readings, first)
        return now, charged, read_j, gpus

    def _read(self, baseline: bool = False) -> tuple[float, list[tuple[str, str, Triple]], list[tuple[str, str]]]:
        """(now, [(component, device, [J, low, high])] to charge, (component, device) given up since the last).
        ``baseline``: the first reading, kept as it goes in ``_base_groups`` (a thread that takes over from one
        stuck in it reads only the readers not read yet)."""
        now = self.clock()
        out: list[tuple[str, str, Triple]] = []
        self.basis = {}
        done = self._base_done
        if baseline:
            self._base_groups.append((now, out, self.basis))
        # watched only on the sampler thread (a reading taken by hand, on another thread, is not ours to free)
        me = threading.current_thread()
        watched = me is self.thread
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
                    self.say(msg)
            if err is not None:
                self.say(f"{getattr(r, 'name', r)} unreadable ({type(err).__name__}: {err}); its energy is frozen")
                if baseline:
                    done.add(id(slot))
                continue
            mine: list[tuple[str, str, Triple]] = []
            for rd in readings:
                k = self.scale.get(rd.component, 1.0) if rd.basis == "measured" else 1.0
                # a measured reading without bounds of its own: the sensor's accuracy band around it
                band = self._band(rd.component) if rd.basis == "measured" else 0.0
                lo = rd.energy_j * (1.0 - band) if rd.energy_low_j is None else rd.energy_low_j
                hi = rd.energy_j * (1.0 + band) if rd.energy_high_j is None else rd.energy_high_j
                mine.append((rd.component, rd.device, [rd.energy_j * k, lo * k, hi * k]))
                prev = self.basis.get(rd.component)
                self.basis[rd.component] = rd.basis if prev in (None, rd.basis) else "modelled"
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

    def _band(self, component: str) -> float:
        """The relative accuracy band of ``component``'s sensor (:func:`wattprint.data.measured_energy_band`),
        looked up once per component: the tables load on the first measured reading, not at import."""
        band = self._bands.get(component)
        if band is None:
            from ..data import measured_energy_band

            band = self._bands[component] = measured_energy_band(component)[0]
        return band

    def _kept_baseline(self, ledger: Ledger, now: float, readings: list[tuple[str, str, Triple]],
                       forget: list[tuple[str, str]]) -> tuple[float, list[tuple[str, str, Triple]], dict[str, Triple]]:
        """The baseline redone after a hung read: the readings the stuck thread(s) took stand, each charged (i.e.
        registered with the ledger) at the time it was taken, and the baseline is dated from the first of them, so
        the devices read before the hang are counted from the start of the window, as the run's duration is."""
        groups = self._base_groups
        for t, grp, _ in groups[:-1]:
            if grp:
                ledger.charge(t, grp)
        _, _, charged = ledger.charge(now, readings, forget=forget)
        basis: dict[str, str] = {}
        for _, _, b in groups:
            for comp, how in b.items():
                prev = basis.get(comp)
                basis[comp] = how if prev in (None, how) else "modelled"
        self.basis = basis
        return groups[0][0], [x for _, grp, _ in groups for x in grp], charged

    def _seen(self, readings: list[tuple[str, str, Triple]], first: bool) -> tuple[dict[str, float], list[str]]:
        """What this process's readers saw this segment per component (counted from the ``first`` reading), and
        the GPUs among the devices read."""
        read_j: dict[str, float] = {}
        gpus: list[str] = []
        base = self._read_base
        for comp, dev, vec in readings:
            key = (comp, dev)
            if first:
                base[key] = vec[0]
            read_j[comp] = read_j.get(comp, 0.0) + vec[0] - base.setdefault(key, vec[0])
            if comp == "gpu":
                gpus.append(dev)
        return read_j, gpus

    def keep_up(self) -> None:
        """Read the readers whose counters could wrap more than once within an interval, between readings: not
        charged or stored (the reader follows its counter across the wrap; the next reading charges it all)."""
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
                    self.say(msg)
            # a failed read is said by the next reading, which reads the reader again

    def _take_back(self, slot: _Slot) -> None:
        """A reader given up answered again (its hung read returned): counted again from its next reading on."""
        with self._own:
            gone = time.monotonic() - (slot.hung_since or 0.0)
            slot.hung_since = None
            slot.returned = False
            slot.rejoined = True
            self._hung.remove(slot)
        r = slot.reader
        self.say(f"{getattr(r, 'name', r)} answers again after about {gone:.3g} s; counted again from now "
                 f"(the time it did not answer is not)")

    # -- the guard thread ----------------------------------------------------------------------
    def start_guard(self) -> None:
        start_background(threading.Thread(target=self._guard, name="wattprint-read-guard", daemon=True))

    def end_guard(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._guard_stop.release()

    def _guard(self) -> None:
        """Watch the sampler thread's device reads: one that has not returned within ``timeout_s`` is given
        up, and a fresh thread takes the sampler's place. Wakes once per ``timeout_s`` (more often only
        while a read is in progress then), never per interval."""
        bound = self.timeout_s
        wait = bound
        while not self._guard_stop.acquire(True, min(wait, threading.TIMEOUT_MAX)):
            wait = bound
            with self._own:
                cur = self._in_read
                if cur is None or cur[2] is not self.thread:  # none, or on a caller's thread (not ours to free)
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
                later = [] if self.baseline_done else [
                    str(getattr(sl.reader, "name", sl.reader)) for sl in self._slots
                    if sl is not slot and sl.hung_since is None and id(sl) not in self._base_done]
                successor = threading.Thread(target=self.resume, name="wattprint-sampler", daemon=True)
                self.thread = successor
            if fresh:
                self._say_given_up(slot, later)
            start_background(successor)

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
        self.say(f"{getattr(r, 'name', r)}: a read did not return within {self.timeout_s:.3g} s (a device "
                 f"hung); its energy is frozen at its last reading ({upto}): from now on it is not counted "
                 f"while it does not answer{after}")


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
