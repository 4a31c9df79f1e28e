"""One RAPL zone's energy counter as :class:`~wattprint.devices.rapl.RaplReader` follows it: each reading counted
from the base (a wrap undone), or refused and remembered (a glitch, a reset, a step back, a jump) until the next
reading tells which it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .rapl_sysfs import UJ_PER_J, RaplDomain

# a step back taken for a new base is undone if the counter comes back to its earlier value within this many reads
REBASE_HOLD_READS = 4
# the counter moves in updates about 1 ms apart, read a little after the clock: steps get this much time more (s)
_SLACK_S = 0.002


class Note(Protocol):
    """The reader's :meth:`~wattprint.devices.base.NoteMixin.note`: a message said once per key."""

    def __call__(self, message: str, key: str | None = None) -> None: ...


@dataclass
class Suspect:
    """A reading refused as a possible glitch, kept to tell a glitch from a counter that really moved there."""

    uj: int
    t: float
    kind: str  # "reset" (fell near 0), "back" (went back, not near 0), "jump" (further ahead than possible),
    # "steep" (possible, but more than the zone draws: believed once the next reading carries on from it)
    step_uj: int = 0  # "steep": the step from the base


@dataclass
class OldBase:
    """The base before a step back that was taken for a new base, kept a few readings in case the lower values
    were stale after all and the counter comes back to where it was."""

    uj: int
    t: float
    energy_j: float
    reads_left: int


@dataclass
class Zone:
    """One counted zone as the reader follows it; ``energy_j`` is counted since the reader opened.

    What the reader reports for it is ``shown_j``, which never goes down: the counted energy less ``hidden_j`` (what
    a die zone that may mirror another counted meanwhile) plus ``provisional_j`` (a reading that looks like a
    reset, shown at once until the next reading tells a reset from a glitch).
    """

    d: RaplDomain
    last_uj: int  # the base: the last value counted
    last_t: float  # clock time of the last good read (failed or refused reads do not move it)
    open_uj: int
    most_w: float  # the most power a step of this zone is believed at (W) ...
    usual_w: float  # ... and taken at once at (W): above that, once the next reading carries on from it
    energy_j: float = 0.0
    power_w: float | None = None
    suspect: Suspect | None = None  # the last refused reading, until a reading tells what it was
    old: OldBase | None = None  # the base before a step back taken for a new base
    provisional_j: float = 0.0
    hidden_j: float = 0.0
    shown_j: float = 0.0
    moved_j: float = 0.0  # what it reported standing in for an unreadable first die, since moved to that die
    differ_reads: int = 0  # paired reads where its counter differed from the first die's
    read_ok: bool = False  # the last read() counted it

    def report(self) -> float:
        self.shown_j = max(self.shown_j, self.energy_j - self.hidden_j + self.provisional_j)
        return self.shown_j

    def hide(self) -> None:
        self.hidden_j = self.energy_j + self.provisional_j


def apart_uj(a: int, b: int, range_uj: int | None) -> int:
    """How far apart two counter values are, around the wrap where the range is known."""
    gap = abs(a - b)
    return min(gap, range_uj - gap) if range_uj and gap <= range_uj else gap


def forward_uj(d: RaplDomain, prev: int, now: int, room_uj: float) -> int | None:
    """µJ from ``prev`` to ``now`` forward (around a wrap at max_energy_range_uj where ``now`` is lower), or None
    where that is more than ``room_uj``: a wrap is taken only where the energy it implies was possible."""
    if now >= prev:
        step = now - prev
    elif d.max_range_uj:
        step = d.max_range_uj - prev + now
    else:
        return None
    return step if step <= room_uj else None


def count_reading(z: Zone, now_uj: int, t: float, dt: float, note: Note) -> tuple[float, float] | None:
    """Count a reading of the zone's counter: (J counted, over how many s), or None where it is refused.

    A reading is counted from the base where the zone usually draws that much since its last good read (a wrap
    included). Anything else is refused and remembered (the base stays): a reading that then carries on from
    the refused value at a possible rate confirms it (a step possible but steep: counted in full; a reset:
    counted from 0; a step back or one further ahead than possible: counted from that value on), one that
    carries on from the base shows it was a glitch. No reading counts more than ``most_w`` over its time.
    """
    d, per_s = z.d, z.most_w * UJ_PER_J
    old = z.old
    if old is not None and now_uj >= old.uj and now_uj - old.uj <= (t - old.t + _SLACK_S) * per_s:
        # back where the counter was before it went back: the lower values were stale, count from there
        z.energy_j = old.energy_j + (now_uj - old.uj) / UJ_PER_J
        z.old, z.suspect, z.provisional_j = None, None, 0.0
        note(f"RAPL {d.zone} ({d.name}) counter came back to where it was before it went back: the lower "
             "values were stale, and it is counted from its earlier value again", key=f"unrebase-{d.zone}")
        return (now_uj - old.uj) / UJ_PER_J, t - old.t
    step = forward_uj(d, z.last_uj, now_uj, (dt + _SLACK_S) * per_s)
    steep = step is not None and step > (dt + _SLACK_S) * z.usual_w * UJ_PER_J
    if step is not None and not steep:
        z.suspect, z.provisional_j = None, 0.0
        if old is not None:
            old.reads_left -= 1
            if old.reads_left <= 0:
                z.old = None
        z.energy_j += step / UJ_PER_J
        return step / UJ_PER_J, dt
    sus = z.suspect
    on = None  # how far it carried on from the refused value (around a wrap only after a steep step)
    if sus is not None and (sus.kind == "steep" or now_uj >= sus.uj):
        on = forward_uj(d, sus.uj, now_uj, (t - sus.t + _SLACK_S) * per_s)
    if sus is not None and on:  # it carries on from the refused value
        z.suspect, z.provisional_j = None, 0.0
        if sus.kind == "steep":  # a steep step, then on at a possible rate: both counted
            z.energy_j += (sus.step_uj + on) / UJ_PER_J
            return (sus.step_uj + on) / UJ_PER_J, dt
        if sus.kind == "reset":  # it carries on from near 0: counted from 0, the energy since the reset too
            note(f"RAPL {d.zone} ({d.name}) counter was reset (it fell to {sus.uj / UJ_PER_J:.3g} J and "
                 "carried on from there); counted from 0", key=f"reset-{d.zone}")
            z.energy_j += (sus.uj + on) / UJ_PER_J
            return (sus.uj + on) / UJ_PER_J, dt
        if sus.kind == "back":
            z.old = OldBase(z.last_uj, z.last_t, z.energy_j, REBASE_HOLD_READS)
            note(f"RAPL {d.zone} ({d.name}) counter went back by {(z.last_uj - sus.uj) / UJ_PER_J:.3g} J "
                 "and carried on from there: counted from the lower value on; the energy between the last "
                 "good reading and the step back is not counted", key=f"rebase-{d.zone}")
        else:
            note(f"RAPL {d.zone} ({d.name}) counter jumped {(sus.uj - z.last_uj) / UJ_PER_J:.3g} J ahead "
                 "and carried on from there: counted from the higher value on; the jump and the energy "
                 "between the last good reading and it are not counted", key=f"rejump-{d.zone}")
        z.energy_j += on / UJ_PER_J
        return on / UJ_PER_J, t - sus.t
    prev = z.last_uj
    z.provisional_j = 0.0
    if step is not None:  # possible, but more than the zone draws: no counter jumps the first time
        z.suspect = Suspect(now_uj, t, "steep", step)
        note(f"RAPL {d.zone} ({d.name}) counter moved {step / UJ_PER_J:.3g} J in {secs(dt)} s, more than "
             f"the zone draws (up to {z.usual_w:.0f} W): counted once the next reading carries on from it, "
             "else ignored as a bad reading", key=f"steep-{d.zone}")
    elif now_uj < prev and now_uj <= (dt + _SLACK_S) * per_s and now_uj < prev - now_uj:
        z.suspect = Suspect(now_uj, t, "reset")
        if now_uj <= dt * z.usual_w * UJ_PER_J:  # a reset the zone could well have drawn: shown at once
            z.provisional_j = now_uj / UJ_PER_J
        note(f"RAPL {d.zone} ({d.name}) counter went back to {now_uj / UJ_PER_J:.3g} J, near 0: a reset "
             "or a bad reading; the previous value is kept as the base until the next reading tells which "
             "(a reset is counted from 0 once the counter carries on from there)", key=f"low-{d.zone}")
    elif now_uj < prev:
        z.suspect = Suspect(now_uj, t, "back")
        note(f"RAPL {d.zone} ({d.name}) counter went back by {(prev - now_uj) / UJ_PER_J:.3g} J, neither a "
             "wrap nor a reset; that reading is ignored and the previous value kept as the base (the energy "
             "is counted at the next good reading)", key=f"back-{d.zone}")
    else:
        z.suspect = Suspect(now_uj, t, "jump")
        note(f"RAPL {d.zone} ({d.name}) counter jumped {(now_uj - prev) / UJ_PER_J:.3g} J ahead in "
             f"{secs(dt)} s, more than it could draw (up to {z.most_w:.0f} W); that reading is ignored and "
             "the previous value kept as the base", key=f"jump-{d.zone}")
    return None


def secs(x: float) -> str:
    """Seconds for a note: whole seconds from 10 s, two significant digits below (a 0.4 s wrap is not "0 s")."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"
