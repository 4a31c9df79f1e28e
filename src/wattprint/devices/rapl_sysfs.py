"""RAPL zones as Linux powercap shows them in sysfs: which zones there are, their names, packages and dies,
counter ranges and power limits.

Layout under ``<sysfs_root>/class/powercap`` (``WATTPRINT_SYSFS_ROOT``, default ``/sys``)::

    intel-rapl:0/{name=package-0, energy_uj, max_energy_range_uj}   socket 0 package
    intel-rapl:0:0/{name=core, ...}    part of package 0: not added
    intel-rapl:0:1/{name=uncore, ...}  part of package 0: not added
    intel-rapl:0:2/{name=dram, ...}    socket 0 DRAM -> component "ram"
    intel-rapl:1/{name=package-1, ...} socket 1 package (summed with package 0)
    intel-rapl:2/{name=psys, ...}      whole platform, overlaps the packages: not added

``intel-rapl-mmio:*`` zones duplicate the MSR package counters on some client CPUs and are ignored.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

UJ_PER_J = 1e6
_PACKAGE_NAME = re.compile(r"package-(\d+)(?:-die-(\d+))?")


def _zone_socket(name: str) -> int | None:
    """Top-level index of a zone name "intel-rapl:N" or "intel-rapl:N:M"; None for anything else."""
    head, sep, rest = name.partition(":")
    parts = rest.split(":")
    if head != "intel-rapl" or not sep or len(parts) > 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0])


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
        return self.max_range_uj / (self.bound_w() * UJ_PER_J) if self.max_range_uj else None


def powercap_dir(sysfs_root: str) -> str:
    return os.path.join(sysfs_root, "class", "powercap")


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
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
    return best / UJ_PER_J if best > 0 else None


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
