"""A fake RAPL powercap tree in a temp dir, laid out like sysfs: real zone directories under
``devices/virtual/powercap/intel-rapl/`` (sub-zones nested in their package), and flat symlinks to every
zone in ``class/powercap/``. Files: ``name``, ``energy_uj``, ``max_energy_range_uj`` (and
``constraint_<n>_*_uw`` where a test sets them)."""

from __future__ import annotations

import os
from pathlib import Path

# a typical package counter range (2^32 µJ-ish); tests use small ranges to force wrap-arounds
DEFAULT_MAX_UJ = 262143328850
COUNTER_DIGITS = 20  # a u64 counter in decimal, zero-padded: every write has the same length


class FakePowercap:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.real = self.root / "devices" / "virtual" / "powercap" / "intel-rapl"
        self.cls = self.root / "class" / "powercap"
        self.real.mkdir(parents=True, exist_ok=True)
        self.cls.mkdir(parents=True, exist_ok=True)
        self.zones: dict[str, Path] = {}
        self.max_uj: dict[str, int] = {}

    def _zone(self, zone: str, parent: Path, name: str, energy_uj: int, max_uj: int) -> Path:
        d = parent / zone
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "energy_uj").write_text(f"{energy_uj}\n")
        (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
        os.symlink(d, self.cls / zone)
        self.zones[zone] = d
        self.max_uj[zone] = max_uj
        return d

    def add_package(
        self,
        socket: int,
        energy_uj: int = 0,
        max_uj: int = DEFAULT_MAX_UJ,
        subdomains: tuple[str, ...] = ("core", "dram"),
    ) -> str:
        """Package zone ``intel-rapl:<socket>`` named ``package-<socket>`` with sub-zones; returns its zone."""
        zone = f"intel-rapl:{socket}"
        d = self._zone(zone, self.real, f"package-{socket}", energy_uj, max_uj)
        for j, sub in enumerate(subdomains):
            self._zone(f"{zone}:{j}", d, sub, 0, max_uj)
        return zone

    def add_die(
        self,
        index: int,
        package: int,
        die: int,
        energy_uj: int = 0,
        max_uj: int = DEFAULT_MAX_UJ,
        subdomains: tuple[str, ...] = (),
    ) -> str:
        """Top-level zone ``intel-rapl:<index>`` named ``package-<package>-die-<die>``, as the kernel makes one per
        die where it sees several dies in a package; sub-zones as in :meth:`add_package`. Returns its zone."""
        zone = f"intel-rapl:{index}"
        d = self._zone(zone, self.real, f"package-{package}-die-{die}", energy_uj, max_uj)
        for j, sub in enumerate(subdomains):
            self._zone(f"{zone}:{j}", d, sub, 0, max_uj)
        return zone

    def set_constraint(self, zone: str, n: int, power_limit_uw: int | None = None,
                       max_power_uw: int | None = None) -> None:
        """Write ``constraint_<n>_power_limit_uw`` / ``constraint_<n>_max_power_uw`` (µW) of a zone."""
        for what, value in (("power_limit_uw", power_limit_uw), ("max_power_uw", max_power_uw)):
            if value is not None:
                (self.zones[zone] / f"constraint_{n}_{what}").write_text(f"{value}\n")

    def add_psys(self, index: int, energy_uj: int = 0, max_uj: int = DEFAULT_MAX_UJ) -> str:
        zone = f"intel-rapl:{index}"
        self._zone(zone, self.real, "psys", energy_uj, max_uj)
        return zone

    def sub(self, socket: int, name: str) -> str:
        """Zone id of sub-domain ``name`` ("core", "dram" ...) of package ``socket``."""
        for zone, d in self.zones.items():
            if zone.startswith(f"intel-rapl:{socket}:") and (d / "name").read_text().strip() == name:
                return zone
        raise KeyError(name)

    def get(self, zone: str) -> int:
        return int((self.zones[zone] / "energy_uj").read_text())

    def set(self, zone: str, energy_uj: int) -> None:
        """Rewrite the counter in place, as sysfs does: the RAPL reader keeps the file open and re-reads it from
        offset 0, so a new file (write + os.replace) would never reach it. One write of a fixed width that never
        shortens the file: a read from another thread sees the old number or the new one, never a partial one
        (truncate-then-write could show it an empty file)."""
        fd = os.open(self.zones[zone] / "energy_uj", os.O_WRONLY)
        try:
            os.pwrite(fd, f"{energy_uj:0{COUNTER_DIGITS}d}\n".encode(), 0)
        finally:
            os.close(fd)

    def add(self, zone: str, joules: float) -> None:
        """Advance a counter by ``joules``, wrapping at max_energy_range_uj like the hardware."""
        self.set(zone, (self.get(zone) + round(joules * 1e6)) % self.max_uj[zone])

    def energy_file(self, zone: str) -> Path:
        return self.zones[zone] / "energy_uj"
