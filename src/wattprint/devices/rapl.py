"""CPU package and DRAM energy from Linux RAPL powercap (Intel, and AMD Zen which uses the same driver).

Zones are found under ``<sysfs_root>/class/powercap`` (``WATTPRINT_SYSFS_ROOT``, default ``/sys``) by
:mod:`.rapl_sysfs`: package zones give component "cpu", dram zones "ram"; core, uncore and psys are not added.

Where the kernel sees several dies in a package, each die gets a top-level zone named ``package-N-die-M``.
On Intel Cascade Lake-AP these are separate per-die counters (summed); on AMD (Zen 1/2 Threadripper/EPYC,
and Zen 4 on kernels before the 2024 fix) every die zone shows the one socket-wide counter, and summing them
counts the CPU once per die. Package zones that share a package index are compared: counters within 1 J at open
that then show the same value to the µJ once the package has used 10 J are one counter shown several times,
counted once (with a note); counters whose energies drift apart, or that differ on 3 reads, are separate dies.
Until that is decided the first die is reported and the others with no energy of their own (a zone found
separate then reports its energy since open, which the ledger charges as it has seen the zone from the start);
while the first die is unreadable, one of the others is counted in its place.

``energy_uj`` is a µJ counter that wraps at ``max_energy_range_uj``; a wrap between two reads is undone
(reads must come more often than one wrap period: :attr:`RaplReader.max_interval_s`, from the zone's power
limits where sysfs shows them, else the catalogue's highest CPU TDP; a step longer than that is noted, as
whole wraps may have been missed). A reading is counted only where the zone could have drawn that energy
since its last good read (a wrap included), at up to the higher of its power limit and the catalogue's highest
CPU TDP; a value beyond the counter's range is a read error. Any other reading is ignored and remembered, the
previous value staying the base (with a note): where the next reading carries on from it at a possible rate, it
was real (a step up to :data:`WRAP_MARGIN` times that power is counted in full; a counter that fell near 0 was
reset: counted from 0, the energy since the reset included; one that went back or jumped further ahead is counted
from that value on), else it was a glitch and counting goes on from the base. A new base below the old one is
given up if the counter comes back to the old one within a few reads (the lower values were stale). A reading
that looks like a reset the zone could have drawn is shown at once; if it was a glitch, the reading after it
absorbs it (reported energy never goes down). Recent kernels make ``energy_uj`` readable by root only; then
:func:`open_rapl` returns no reader for that component and a note with the fix.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from .base import Clock, NoteMixin, Reading
from .quickread import read_at
from .rapl_counter import Zone, apart_uj, count_reading, secs
from .rapl_sysfs import UJ_PER_J, RaplDomain, find_domains, powercap_dir

_COUNTER_BYTES = 32  # energy_uj: a decimal µJ count (at most 20 digits) and a newline

# input checks, not data. Two zones of one package are one counter shown twice when their counters differ by at
# most this at open (read microseconds apart: a RAPL counter moves ~every ms, < 1 J at 500 W) ...
MIRROR_TOLERANCE_UJ = 1_000_000
# ... and are then one counter when they show the same value to the µJ once the package has used this much (J);
# separate dies once their energies since open differ by more than the tolerance, or their counters differ on
# this many reads (one counter read twice differs only where it updated between the two reads: rarely)
MIRROR_DECIDE_J = 10.0
MIRROR_DECIDE_READS = 3


class RaplReader(NoteMixin):
    """Cumulative energy of some RAPL domains (all packages -> "cpu", or all dram domains -> "ram").

    ``max_interval_s``: the longest time between reads that cannot miss a whole wrap-around of any of its
    counters at the highest power their zones allow (None where no range is known); a sampler should read at
    least this often. A read further apart than that is noted (energy may be undercounted).
    """

    basis = "measured"

    def __init__(self, component: str, domains: list[RaplDomain], clock: Clock) -> None:
        self._init_notes()
        self.component = component
        self.name = f"rapl-{component}"
        self.domains = list(domains)
        self._clock = clock
        self._zones: dict[str, Zone] = {}
        self._maybe_mirror: dict[str, str] = {}  # zone that may mirror another -> that other zone (its first die)
        self._standin: dict[str, str] = {}  # unreadable first die -> the undecided zone counted in its place
        self._retired: list[Reading] = []  # zones found to be mirrors after they had reported energy: frozen
        # each counter stays open: one pread per reading that keeps the GIL (see .quickread), instead of
        # open/read/close handing the GIL to the tracked program and back three times per domain
        self._files: dict[str, BinaryIO] = {}
        try:
            for d in domains:  # raises PermissionError where energy_uj is root-only
                self._files[d.zone] = open(os.path.join(d.path, "energy_uj"), "rb", buffering=0)  # noqa: SIM115
            values = {d.zone: self._counter(d) for d in domains}
        except BaseException:
            self.close()
            raise
        t = clock()
        most_w = _most_plausible_w()
        for d in domains:
            usual_w = max(most_w / WRAP_MARGIN, d.bound_w())
            self._zones[d.zone] = Zone(d, values[d.zone], t, values[d.zone], WRAP_MARGIN * usual_w, usual_w)
        self._group_dies()
        waits = [w for d in domains if (w := d.wrap_s()) is not None]
        self.max_interval_s: float | None = min(waits) if waits else None

    def _group_dies(self) -> None:
        """Zones of one package (per-die zones): separate counters are summed; equal ones may be one counter."""
        groups: dict[tuple[str, int], list[RaplDomain]] = {}
        for d in self.domains:
            if d.kind == "package":  # where mirrors are known (AMD); DRAM and the rest are not compared
                groups.setdefault(d.group, []).append(d)
        for (kind, package), ds in groups.items():
            if len(ds) < 2:
                continue
            first = self._zones[ds[0].zone]
            for d in ds[1:]:
                z = self._zones[d.zone]
                if apart_uj(z.open_uj, first.open_uj, d.max_range_uj) <= MIRROR_TOLERANCE_UJ:
                    self._maybe_mirror[d.zone] = first.d.zone
            if not any(d.zone in self._maybe_mirror for d in ds):
                self.note(f"RAPL {', '.join(d.name for d in ds)} ({', '.join(d.zone for d in ds)}): {kind} "
                          f"zones of package {package} with counters of their own (per-die RAPL, as on Intel "
                          "Cascade Lake-AP); summed", key=f"dies-{kind}-{package}")

    def _counter(self, d: RaplDomain) -> int:
        """The domain's energy_uj now (sysfs regenerates an attribute read from offset 0)."""
        f = self._files.get(d.zone)
        if f is None:
            raise OSError(f"{d.zone} energy counter is closed")
        return int(read_at(f.fileno(), _COUNTER_BYTES, 0))

    def _update(self, z: Zone, t: float) -> None:
        d = z.d
        z.read_ok = False
        try:
            now_uj = self._counter(d)
        except (OSError, ValueError) as exc:
            self.note(f"RAPL {d.zone} ({d.name}) unreadable mid-run ({exc}); its energy is frozen", key=d.zone)
            z.power_w = None
            return
        if d.max_range_uj and now_uj > d.max_range_uj:
            self.note(f"RAPL {d.zone} ({d.name}) read {now_uj} µJ, beyond its counter's range ({d.max_range_uj} µJ): "
                      "a bad reading, ignored", key=f"range-{d.zone}")
            z.power_w = None
            return
        dt = t - z.last_t  # since this zone's last good read, however many reads failed since
        counted = count_reading(z, now_uj, t, dt, self.note)
        if counted is None:
            z.power_w = None
            return
        wrap_s = d.wrap_s()
        if wrap_s is not None and dt >= wrap_s:
            self.note(f"RAPL {d.zone} ({d.name}) was read {secs(dt)} s after its last good reading, longer than its "
                      f"counter takes to wrap around at up to {d.bound_w():.0f} W ({secs(wrap_s)} s): whole wraps may "
                      "have been missed, so its energy may be undercounted; it must be read more often than that",
                      key=f"wrap-time-{d.zone}")
        z.last_uj, z.last_t, z.read_ok = now_uj, t, True
        delta_j, over_s = counted
        z.power_w = delta_j / over_s if over_s > 0 else z.power_w

    def _settle_dies(self) -> None:
        """Zones that may mirror their first die: compared where both were read, else one stands in for it.

        While undecided such a zone reports nothing (its energy is kept: found separate, it reports it from open),
        except in place of an unreadable first die: then one of them reports what it counts meanwhile (moved to the
        first die once readable again, whose own count of that time is then not reported twice).
        """
        groups: dict[str, list[Zone]] = {}
        for zone, first_zone in self._maybe_mirror.items():
            groups.setdefault(first_zone, []).append(self._zones[zone])
        for first_zone, zs in groups.items():
            first = self._zones[first_zone]
            if not first.read_ok:
                r = self._standin.get(first_zone)
                if r is None or not self._zones[r].read_ok:
                    r = next((z.d.zone for z in zs if z.read_ok), None)
                    if r is not None:
                        self._standin[first_zone] = r
                        self.note(f"RAPL {first.d.name} ({first_zone}) unreadable before it could be compared with "
                                  f"{self._zones[r].d.name} ({r}), which may show the same counter: counted from "
                                  f"{r} meanwhile", key=f"standin-{first_zone}-{r}")
                for z in zs:
                    if z.d.zone != r:
                        z.hide()
                continue
            self._standin.pop(first_zone, None)
            for z in zs:
                moved = z.shown_j - z.moved_j  # what it reported in the first die's place: the first die has it
                if moved > 0:
                    first.hidden_j += moved
                    z.moved_j += moved
            for z in zs:
                if z.read_ok and self._compare(first, z):
                    continue
                z.hide()

    def _compare(self, first: Zone, z: Zone) -> bool:
        """Decide, from one read of both, whether ``z`` shows the first die's counter; True once decided."""
        zone = z.d.zone
        if apart_uj(z.last_uj, first.last_uj, z.d.max_range_uj):
            z.differ_reads += 1
        elif first.energy_j >= MIRROR_DECIDE_J and z.differ_reads < MIRROR_DECIDE_READS:
            # the same counter to the µJ once the package has used some energy: one counter shown twice
            del self._maybe_mirror[zone]
            del self._zones[zone]
            self.domains = [d for d in self.domains if d.zone != zone]
            f = self._files.pop(zone, None)
            if f is not None:
                f.close()
            if z.shown_j > 0:  # it reported in the first die's place, now moved there: its reading stays as it is
                self._retired.append(Reading(self.component, z.d.device, z.shown_j, None, self.basis))
            self.note(f"RAPL {z.d.name} ({zone}) shows the same counter as {first.d.name} ({first.d.zone}): one "
                      f"socket-wide counter shown per die (as on multi-die AMD CPUs); counted once, as "
                      f"{first.d.device}", key=f"mirror-{zone}")
            return True
        if abs(z.energy_j - first.energy_j) * UJ_PER_J > MIRROR_TOLERANCE_UJ or z.differ_reads >= MIRROR_DECIDE_READS:
            # separate after all (one counter read twice differs at most by an update between the two reads)
            del self._maybe_mirror[zone]
            z.hidden_j = 0.0  # its energy since open is reported
            first.hidden_j -= z.moved_j  # and the first die's own energy while it stood in for it
            z.moved_j = 0.0
            self.note(f"RAPL {z.d.name} ({zone}) and {first.d.name} ({first.d.zone}) have counters of their own "
                      "(per-die RAPL): summed, each from open", key=f"separate-{zone}")
            return True
        return False

    def read(self) -> list[Reading]:
        t = self._clock()
        for z in self._zones.values():
            self._update(z, t)
        if self._maybe_mirror:
            self._settle_dies()
        out = []
        for zone, z in self._zones.items():
            first = self._maybe_mirror.get(zone)
            quiet = first is not None and self._standin.get(first) != zone  # undecided: no power of its own
            out.append(Reading(self.component, z.d.device, z.report(), None if quiet else z.power_w, self.basis))
        return out + self._retired

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


# an input check, not data: a counter step is believed if one socket could draw it, with this margin over the
# highest-TDP CPU in the catalogue or the zone's own power limit, whichever is higher (a RAPL wrap takes minutes
# even at that power)
WRAP_MARGIN = 10.0


def _most_plausible_w() -> float:
    from .. import data

    return WRAP_MARGIN * data.max_cpu_tdp_w()


def permission_note(sysfs_root: str, domains: list[RaplDomain] | None = None, measured: str = "") -> str:
    """One line: RAPL exists but is root-only, what we do instead, and the fix.

    ``domains``: only these zones are root-only (the others, ``measured``, are read); None: all of them.
    """
    pc = powercap_dir(sysfs_root)
    if domains:
        what = "RAM" if all(d.kind == "dram" for d in domains) else "CPU"
        return (
            f"RAPL {what} energy counters ({', '.join(d.zone + '/energy_uj' for d in domains)} in {pc}) are "
            f"readable by root only, so {what} energy is modelled instead of measured"
            + (f" ({measured} is measured: its counters are readable)" if measured else "")
            + f". To measure it: run as root, or `sudo chmod -R a+r {pc}/intel-rapl*` (until reboot; a udev rule "
            "or systemd-tmpfiles entry makes it permanent)."
        )
    return (
        f"RAPL energy counters in {pc} are readable by root only on this kernel (since the PLATYPUS fix, "
        "CVE-2020-8694), so CPU/RAM energy is modelled instead of measured. To measure it: run as root, or "
        f"`sudo chmod -R a+r {pc}/intel-rapl*` (until reboot; a udev rule or systemd-tmpfiles entry makes it "
        "permanent)."
    )


def open_rapl(sysfs_root: str, clock: Clock) -> tuple[list[RaplReader], list[str]]:
    """RAPL readers for the CPU packages (component "cpu") and DRAM (component "ram"), plus notes.

    Each component is opened on its own: one whose counters are unreadable gets no reader (the note says
    which counters, why and how to fix) and is modelled, the other is still measured. No RAPL: no readers.
    """
    domains = find_domains(sysfs_root)
    notes: list[str] = []
    packages = [d for d in domains if d.kind == "package"]
    dram = [d for d in domains if d.kind == "dram"]
    if not packages:
        return [], notes
    if any(d.kind == "psys" for d in domains):
        notes.append("RAPL psys (whole platform) domain present; not added, it overlaps the packages")
    readers: list[RaplReader] = []
    denied: list[RaplDomain] = []
    for component, ds in (("cpu", packages), ("ram", dram)):
        if not ds:
            continue
        try:
            readers.append(RaplReader(component, ds, clock))
        except PermissionError:
            denied += ds
        except (OSError, ValueError) as exc:
            what = "CPU" if component == "cpu" else "RAM"
            notes.append(f"RAPL {what} counters ({', '.join(d.zone for d in ds)}) under {powercap_dir(sysfs_root)} "
                         f"unreadable ({exc}); {what} energy modelled")
    if denied:
        if not readers and len(denied) == len(packages) + len(dram):
            return [], [permission_note(sysfs_root)]
        measured = " and ".join("CPU" if r.component == "cpu" else "RAM" for r in readers)
        notes.append(permission_note(sysfs_root, denied, measured))
    return readers, notes
