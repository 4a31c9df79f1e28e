"""Phase accounting: the phases open now (they nest) and each phase name's totals, from the sampler's phase
marks; each boundary also gives a row for the store (see :class:`~.store_writer.StoreWriter`). A phase's
facility energy and CO2e are priced from its totals as the run is (:mod:`.phase_figures`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .snapshot import Snapshot

# a phase boundary as stored: (name, start s, end s or None while open, energy J per component used in it)
PhaseRow = tuple[str, float, float | None, dict[str, float]]


class PhaseTotal:
    """Energy (J per component), duration (s) and occurrences of one phase name."""

    __slots__ = ("energy_j", "duration_s", "count")

    def __init__(self, energy_j: dict[str, float] | None = None, duration_s: float = 0.0, count: int = 0) -> None:
        self.energy_j = dict(energy_j or {})
        self.duration_s = duration_s
        self.count = count

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PhaseTotal | None:
        """The totals of a stored phase (its ``energy_j``, ``duration_s``, ``count``); None for one stored in a shape
        that cannot be read."""
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            energy = {str(k): float(v) for k, v in dict(d.get("energy_j") or {}).items()}
            return cls(energy, float(d.get("duration_s", 0)), int(d.get("count", 0)))
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"energy_j": dict(self.energy_j), "it_energy_kwh": sum(self.energy_j.values()) / 3.6e6,
                "duration_s": self.duration_s, "count": self.count}


class PhaseBook:
    """``totals`` per phase name and the stack of open phases (name, start elapsed s, charged J at start);
    ``record`` is given a :data:`PhaseRow` at every boundary."""

    __slots__ = ("totals", "open", "record")

    def __init__(self, record: Callable[[PhaseRow], None]) -> None:
        self.totals: dict[str, PhaseTotal] = {}
        self.open: list[tuple[str, float, dict[str, float]]] = []
        self.record = record

    @property
    def current(self) -> str | None:
        """The innermost open phase (what a sample is labelled with)."""
        return self.open[-1][0] if self.open else None

    def mark(self, kind: str, name: str, at_s: float, snap: Snapshot, energy: dict[str, float] | None = None) -> None:
        """Phase ``name`` enters or exits ("enter"/"exit") at run time ``at_s``, with ``energy`` charged by then
        (default: ``snap``'s)."""
        if energy is None:
            energy = {k: v[0] for k, v in snap.charged_j.items()}
        stack = self.open
        if kind == "enter":
            stack.append((name, at_s, energy))
            self.record((name, at_s, None, {}))
            return
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] == name:
                _, start_s, at_start = stack.pop(i)
                used = {k: e - at_start.get(k, 0.0) for k, e in energy.items()}
                # a phase re-entered inside itself is already inside the outer one's window: total it once
                if not any(n == name for n, _, _ in stack):
                    tot = self.totals.get(name) or PhaseTotal()
                    energy_j = dict(tot.energy_j)
                    for k, e in used.items():
                        energy_j[k] = energy_j.get(k, 0.0) + e
                    # a new object, put in at once: run.phase_footprints() reads the totals from another thread
                    self.totals[name] = PhaseTotal(energy_j, tot.duration_s + max(0.0, at_s - start_s), tot.count + 1)
                self.record((name, start_s, at_s, used))
                return

    def close_open(self, snap: Snapshot) -> None:
        """The phases still open end at ``snap`` (the final reading)."""
        for name, _, _ in list(reversed(self.open)):
            self.mark("exit", name, snap.elapsed_s, snap)
