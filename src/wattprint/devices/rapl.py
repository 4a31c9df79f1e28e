"""CPU package and DRAM energy from Linux RAPL powercap (Intel, and AMD Zen which uses the same driver).

Layout under ``<sysfs_root>/class/powercap`` (``WATTPRINT_SYSFS_ROOT``, default ``/sys``)::

    intel-rapl:0/{name=package-0, energy_uj, max_energy_range_uj}   socket 0 package
    intel-rapl:0:0/{name=core, ...}    part of package 0: not added
    intel-rapl:0:1/{name=uncore, ...}  part of package 0: not added
    intel-rapl:0:2/{name=dram, ...}    socket 0 DRAM -> component "ram"
    intel-rapl:1/{name=package-1, ...} socket 1 package (summed with package 0)
    intel-rapl:2/{name=psys, ...}      whole platform, overlaps the packages: not added

``energy_uj`` is a µJ counter that wraps at ``max_energy_range_uj``; a wrap between two reads is undone
(reads must come more often than one wrap period, minutes at full load). A counter that goes back is taken
for a wrap only where the energy that implies was possible since the last read; else for a reset (it fell near
0: counted from 0) or a glitch (that interval is not counted), with a note. Recent kernels make
``energy_uj`` readable by root only; then :func:`open_rapl` returns no readers and a note with the fix.
``intel-rapl-mmio:*`` zones duplicate the MSR package counters on some client CPUs and are ignored.
"""

from __future__ import annotations

import os
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


@dataclass(frozen=True)
class RaplDomain:
    """One powercap zone: its directory, kernel name ("package-0", "core", "dram", "psys") and socket."""

    path: str
    zone: str
    name: str
    socket: int
    max_range_uj: int | None

    @property
    def kind(self) -> str:
        """Kind: "package", "core", "uncore", "dram", "psys" (or the raw name for anything else)."""
        return "package" if self.name.startswith("package") else self.name

    @property
    def device(self) -> str:
        return self.name if self.kind == "package" else f"{self.kind}-{self.socket}"


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
    domains = []
    for zone, path in sorted(found.items()):
        socket = _zone_socket(zone)
        assert socket is not None
        try:
            name = _read_text(os.path.join(path, "name"))
        except OSError:
            continue
        if name.startswith("package-"):
            suffix = name.split("-", 1)[1]
            socket = int(suffix) if suffix.isdigit() else socket
        domains.append(RaplDomain(path, zone, name, socket, _read_int(os.path.join(path, "max_energy_range_uj"))))
    return domains


class RaplReader(NoteMixin):
    """Cumulative energy of some RAPL domains (all packages -> "cpu", or all dram domains -> "ram")."""

    basis = "measured"

    def __init__(self, component: str, domains: list[RaplDomain], clock: Clock) -> None:
        self._init_notes()
        self.component = component
        self.name = f"rapl-{component}"
        self.domains = domains
        self._clock = clock
        self._last_uj: dict[str, int] = {}
        self._energy_j: dict[str, float] = {d.zone: 0.0 for d in domains}
        self._power_w: dict[str, float | None] = {d.zone: None for d in domains}
        self._t: float | None = None
        # each counter stays open: one pread per reading that keeps the GIL (see .quickread), instead of
        # open/read/close handing the GIL to the tracked program and back three times per domain
        self._files: dict[str, BinaryIO] = {}
        try:
            for d in domains:  # raises PermissionError where energy_uj is root-only
                self._files[d.zone] = open(os.path.join(d.path, "energy_uj"), "rb", buffering=0)  # noqa: SIM115
                self._last_uj[d.zone] = self._counter(d)
        except BaseException:
            self.close()
            raise
        self._t = clock()

    def _counter(self, d: RaplDomain) -> int:
        """The domain's energy_uj now (sysfs regenerates an attribute read from offset 0)."""
        f = self._files.get(d.zone)
        if f is None:
            raise OSError(f"{d.zone} energy counter is closed")
        return int(read_at(f.fileno(), _COUNTER_BYTES, 0))

    def _delta_uj(self, d: RaplDomain, now_uj: int, dt: float) -> int:
        prev = self._last_uj[d.zone]
        if now_uj >= prev:
            return now_uj - prev
        # the counter went back: a wrap at max_energy_range_uj, or a reset (a module reload, a firmware glitch).
        # A wrap is taken only where the energy it implies is possible in the time since the last read
        most_uj = dt * _most_plausible_w() * _UJ_PER_J
        if d.max_range_uj and d.max_range_uj - prev + now_uj <= most_uj:
            return d.max_range_uj - prev + now_uj
        if now_uj <= most_uj and now_uj < prev - now_uj:  # fell near 0 (not a small step back): reset, counted up
            self.note(f"RAPL {d.zone} ({d.name}) counter was reset; counted from 0", key=f"reset-{d.zone}")
            return now_uj
        self.note(f"RAPL {d.zone} ({d.name}) counter went back by {(prev - now_uj) / _UJ_PER_J:.3g} J, neither a wrap "
                  "nor a reset; that interval's energy is not counted", key=f"back-{d.zone}")
        return 0

    def read(self) -> list[Reading]:
        t = self._clock()
        dt = t - self._t if self._t is not None else 0.0
        out = []
        for d in self.domains:
            try:
                now_uj = self._counter(d)
            except (OSError, ValueError) as exc:
                self.note(f"RAPL {d.zone} ({d.name}) unreadable mid-run ({exc}); its energy is frozen", key=d.zone)
                self._power_w[d.zone] = None
            else:
                delta_j = self._delta_uj(d, now_uj, dt) / _UJ_PER_J
                self._last_uj[d.zone] = now_uj
                self._energy_j[d.zone] += delta_j
                if dt > 0:
                    self._power_w[d.zone] = delta_j / dt
            out.append(Reading(self.component, d.device, self._energy_j[d.zone], self._power_w[d.zone], self.basis))
        self._t = t
        return out

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


def permission_note(sysfs_root: str) -> str:
    """One line: RAPL exists but is root-only, what we do instead, and the fix."""
    pc = powercap_dir(sysfs_root)
    return (
        f"RAPL energy counters in {pc} are readable by root only on this kernel (since the PLATYPUS fix, "
        "CVE-2020-8694), so CPU/RAM energy is modelled instead of measured. To measure it: run as root, or "
        f"`sudo chmod -R a+r {pc}/intel-rapl*` (until reboot; a udev rule or systemd-tmpfiles entry makes it "
        "permanent)."
    )


def open_rapl(sysfs_root: str, clock: Clock) -> tuple[list[RaplReader], list[str]]:
    """RAPL readers for the CPU packages (component "cpu") and DRAM (component "ram"), plus notes.

    Returns no readers when there is no RAPL or it is unreadable (the note then says why and how to fix).
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
    try:
        readers.append(RaplReader("cpu", packages, clock))
        if dram:
            readers.append(RaplReader("ram", dram, clock))
    except PermissionError:
        return [], [permission_note(sysfs_root)]
    except (OSError, ValueError) as exc:
        return [], [f"RAPL present under {powercap_dir(sysfs_root)} but unreadable ({exc}); CPU/RAM energy modelled"]
    return readers, notes
