"""CPU package and DRAM energy from Linux RAPL powercap (Intel, and AMD Zen which uses the same driver).

Layout under ``<sysfs_root>/class/powercap`` (``WATTPRINT_SYSFS_ROOT``, default ``/sys``)::

    intel-rapl:0/{name=package-0, energy_uj, max_energy_range_uj}   socket 0 package
    intel-rapl:0:0/{name=core, ...}    part of package 0: not added
    intel-rapl:0:1/{name=uncore, ...}  part of package 0: not added
    intel-rapl:0:2/{name=dram, ...}    socket 0 DRAM -> component "ram"
    intel-rapl:1/{name=package-1, ...} socket 1 package (summed with package 0)
    intel-rapl:2/{name=psys, ...}      whole platform, overlaps the packages: not added

Where the kernel sees several dies in a package, each die gets a top-level zone named ``package-N-die-M``.
On Intel Cascade Lake-AP these are separate per-die counters (summed); on AMD (Zen 1/2 Threadripper/EPYC,
and Zen 4 on kernels before the 2024 fix) every die zone shows the one socket-wide counter, and summing them
counts the CPU once per die. Package zones that share a package index are compared: equal counters at open
whose energies then stay equal are one counter shown several times, counted once (with a note); until that is
decided only the first is reported (a zone found separate after all then counts its energy since open).

``energy_uj`` is a µJ counter that wraps at ``max_energy_range_uj``; a wrap between two reads is undone
(reads must come more often than one wrap period: :attr:`RaplReader.max_interval_s`, from the zone's power
limits where sysfs shows them, else the catalogue's highest CPU TDP; a step longer than that is noted, as
whole wraps may have been missed). A counter that goes back is taken for a wrap only where the energy that
implies was possible since that zone's last good read; else for a reset (it fell near 0: counted from 0) or a
glitch (that reading is ignored and the previous value stays the base; a counter that carries on from the
lower value is rebased there), with a note. Recent kernels make ``energy_uj`` readable by root only; then
:func:`open_rapl` returns no reader for that component and a note with the fix.
``intel-rapl-mmio:*`` zones duplicate the MSR package counters on some client CPUs and are ignored.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import BinaryIO

from .base import Clock, NoteMixin, Reading
from .quickread import read_at


def _zone_socket(name: str) -> int | None:
    """Top-level index of a zone name "intel-rapl:N" or "intel-rapl:N:M"; None for anything else."""
    head, sep, rest = name.partition(":")
    parts = rest.split(":")
    if head != "intel-rapl" or not sep or len(parts) > 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0])


_UJ_PER_J = 1e6
_COUNTER_BYTES = 32  # energy_uj: a decimal µJ count (at most 20 digits) and a newline
_PACKAGE_NAME = re.compile(r"package-(\d+)(?:-die-(\d+))?")

# input checks, not data. Two zones of one package are one counter shown twice when their counters differ by at
# most this at open (read microseconds apart: a RAPL counter moves ~every ms, < 1 J at 500 W) ...
MIRROR_TOLERANCE_UJ = 1_000_000
# ... and their energies since open still do once the package has used this much (J)
MIRROR_DECIDE_J = 10.0


@dataclass(frozen=True)
class RaplDomain:
    """One powercap zone: its directory, kernel name ("package-0", "core", "dram", "psys") and socket.

    ``package``/``die``: the physical package (and die) from the package zone's name ("package-N-die-M"); a
    sub-zone takes its parent's. ``max_power_w``: the highest power limit or maximum power the zone shows
    (``constraint_*_power_limit_uw``/``constraint_*_max_power_uw``), None where it shows none.
    """

    path: str
    zone: str
    name: str
    socket: int
    max_range_uj: int | None
    package: int | None = None
    die: int | None = None
    max_power_w: float | None = None

    @property
    def kind(self) -> str:
        """Kind: "package", "core", "uncore", "dram", "psys" (or the raw name for anything else)."""
        return "package" if self.name.startswith("package") else self.name

    @property
    def device(self) -> str:
        return self.name if self.kind == "package" else f"{self.kind}-{self.socket}"

    @property
    def group(self) -> tuple[str, int]:
        """(kind, physical package): zones that may show one counter more than once share it."""
        return self.kind, self.package if self.package is not None else self.socket

    def bound_w(self) -> float:
        """Most this zone can draw on average over minutes (W): its highest limit, else the catalogue's TDP."""
        if self.max_power_w:
            return self.max_power_w
        from .. import data

        return data.max_cpu_tdp_w()

    def wrap_s(self) -> float | None:
        """Shortest time its counter can take to wrap (s), at :meth:`bound_w`; None where the range is unknown."""
        return self.max_range_uj / (self.bound_w() * _UJ_PER_J) if self.max_range_uj else None


def powercap_dir(sysfs_root: str) -> str:
    return os.path.join(sysfs_root, "class", "powercap")


def _read_text(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _read_int(path: str) -> int | None:
    try:
        return int(_read_text(path))
    except (OSError, ValueError):
        return None


def _max_power_w(path: str) -> float | None:
    """The highest ``constraint_*_max_power_uw`` / ``constraint_*_power_limit_uw`` of a zone (W), if any."""
    try:
        names = os.listdir(path)
    except OSError:
        return None
    best = 0
    for n in names:
        if n.startswith("constraint_") and n.endswith(("_max_power_uw", "_power_limit_uw")):
            best = max(best, _read_int(os.path.join(path, n)) or 0)
    return best / _UJ_PER_J if best > 0 else None


def find_domains(sysfs_root: str) -> list[RaplDomain]:
    """All intel-rapl zones (top level and sub-zones, flat or nested), sorted by zone name."""
    base = powercap_dir(sysfs_root)
    found: dict[str, str] = {}
    try:
        entries = os.listdir(base)
    except OSError:
        return []
    for e in entries:
        if _zone_socket(e) is not None:
            found.setdefault(e, os.path.join(base, e))
            try:  # sub-zones are also nested inside their package's directory
                for sub in os.listdir(os.path.join(base, e)):
                    if _zone_socket(sub) is not None:
                        found.setdefault(sub, os.path.join(base, e, sub))
            except OSError:
                pass
    names: dict[str, str] = {}
    for zone, path in found.items():
        try:
            names[zone] = _read_text(os.path.join(path, "name"))
        except OSError:
            continue
    # the physical package and die of each top-level zone, from its name ("package-N" or "package-N-die-M")
    where: dict[int, tuple[int | None, int | None]] = {}
    for zone, name in names.items():
        m = _PACKAGE_NAME.fullmatch(name)
        if m and zone.count(":") == 1:
            where[_zone_socket(zone) or 0] = int(m.group(1)), int(m.group(2)) if m.group(2) else None
    domains = []
    for zone, name in sorted(names.items()):
        path = found[zone]
        socket = _zone_socket(zone)
        assert socket is not None
        package, die = where.get(socket, (None, None))
        if name.startswith("package-") and die is None and package is not None:
            socket = package
        domains.append(RaplDomain(path, zone, name, socket, _read_int(os.path.join(path, "max_energy_range_uj")),
                                  package, die, _max_power_w(path)))
    return domains


@dataclass
class _Zone:
    """One counted zone as the reader follows it; ``energy_j`` is cumulative since the reader opened."""

    d: RaplDomain
    last_uj: int  # the base: the last value counted
    last_t: float  # clock time of the last good read (failed or refused reads do not move it)
    open_uj: int
    energy_j: float = 0.0
    power_w: float | None = None
    jumped_uj: int | None = None  # a backward value refused as a glitch, kept to tell a glitch from a new base
    read_ok: bool = False  # the last read() read it
    shown: bool = True  # False while it may be a mirror of another zone (not reported until that is decided)


def _apart_uj(a: int, b: int, range_uj: int | None) -> int:
    """How far apart two counter values are, around the wrap where the range is known."""
    gap = abs(a - b)
    return min(gap, range_uj - gap) if range_uj and gap <= range_uj else gap


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
        self._zones: dict[str, _Zone] = {}
        self._maybe_mirror: dict[str, str] = {}  # zone that may mirror another -> that other zone
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
        for d in domains:
            self._zones[d.zone] = _Zone(d, values[d.zone], t, values[d.zone])
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
                if _apart_uj(z.open_uj, first.open_uj, d.max_range_uj) <= MIRROR_TOLERANCE_UJ:
                    z.shown = False
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

    def _step_uj(self, z: _Zone, now_uj: int, dt: float) -> int | None:
        """µJ since the zone's last counted value, or None when this value is refused (a glitch)."""
        d, prev = z.d, z.last_uj
        if now_uj >= prev:
            return now_uj - prev
        # the counter went back: a wrap at max_energy_range_uj, or a reset (a module reload, a firmware glitch).
        # A wrap is taken only where the energy it implies is possible in the time since the last good read
        most_uj = dt * _most_plausible_w() * _UJ_PER_J
        if d.max_range_uj and d.max_range_uj - prev + now_uj <= most_uj:
            return d.max_range_uj - prev + now_uj
        if now_uj <= most_uj and now_uj < prev - now_uj:  # fell near 0 (not a small step back): reset, counted up
            self.note(f"RAPL {d.zone} ({d.name}) counter was reset; counted from 0", key=f"reset-{d.zone}")
            return now_uj
        if z.jumped_uj is not None and z.jumped_uj <= now_uj:  # back twice in a row, counting on: a new base
            self.note(f"RAPL {d.zone} ({d.name}) counter went back by {(prev - z.jumped_uj) / _UJ_PER_J:.3g} J and "
                      "carried on from there: counted from the lower value on; the energy between the last good "
                      "reading and the step back is not counted", key=f"rebase-{d.zone}")
            return now_uj - z.jumped_uj
        z.jumped_uj = now_uj
        self.note(f"RAPL {d.zone} ({d.name}) counter went back by {(prev - now_uj) / _UJ_PER_J:.3g} J, neither a wrap "
                  "nor a reset; that reading is ignored and the previous value kept as the base (the energy is "
                  "counted at the next good reading)", key=f"back-{d.zone}")
        return None

    def _update(self, z: _Zone, t: float) -> None:
        d = z.d
        z.read_ok = False
        try:
            now_uj = self._counter(d)
        except (OSError, ValueError) as exc:
            self.note(f"RAPL {d.zone} ({d.name}) unreadable mid-run ({exc}); its energy is frozen", key=d.zone)
            z.power_w = None
            return
        dt = t - z.last_t  # since this zone's last good read, however many reads failed since
        step = self._step_uj(z, now_uj, dt)
        if step is None:
            z.power_w = None
            return
        wrap_s = d.wrap_s()
        if wrap_s is not None and dt >= wrap_s:
            self.note(f"RAPL {d.zone} ({d.name}) was read {_secs(dt)} s after its last good reading, longer than its "
                      f"counter takes to wrap around at up to {d.bound_w():.0f} W ({_secs(wrap_s)} s): whole wraps may "
                      "have been missed, so its energy may be undercounted; it must be read more often than that",
                      key=f"wrap-time-{d.zone}")
        z.jumped_uj = None
        z.last_uj, z.last_t, z.read_ok = now_uj, t, True
        delta_j = step / _UJ_PER_J
        z.energy_j += delta_j
        z.power_w = delta_j / dt if dt > 0 else z.power_w

    def _decide_mirrors(self) -> None:
        for zone, first_zone in list(self._maybe_mirror.items()):
            z, first = self._zones[zone], self._zones[first_zone]
            if not (z.read_ok and first.read_ok):
                continue
            if abs(z.energy_j - first.energy_j) * _UJ_PER_J > MIRROR_TOLERANCE_UJ:  # separate after all
                z.shown = True
                del self._maybe_mirror[zone]
            elif first.energy_j >= MIRROR_DECIDE_J:
                del self._maybe_mirror[zone]
                del self._zones[zone]
                self.domains = [d for d in self.domains if d.zone != zone]
                f = self._files.pop(zone, None)
                if f is not None:
                    f.close()
                self.note(f"RAPL {z.d.name} ({zone}) shows the same counter as {first.d.name} ({first_zone}): one "
                          f"socket-wide counter shown per die (as on multi-die AMD CPUs); counted once, as "
                          f"{first.d.device}", key=f"mirror-{zone}")

    def read(self) -> list[Reading]:
        t = self._clock()
        for z in self._zones.values():
            self._update(z, t)
        if self._maybe_mirror:
            self._decide_mirrors()
        return [Reading(self.component, z.d.device, z.energy_j, z.power_w, self.basis)
                for z in self._zones.values() if z.shown]

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


# an input check, not data: a counter step is believed if one socket could draw it, with this margin over the
# highest-TDP CPU in the catalogue (a RAPL wrap takes minutes even at that power)
WRAP_MARGIN = 10.0


def _most_plausible_w() -> float:
    from .. import data  # only when a counter goes back

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


def _secs(x: float) -> str:
    """Seconds for a note: whole seconds from 10 s, two significant digits below (a 0.4 s wrap is not "0 s")."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"
