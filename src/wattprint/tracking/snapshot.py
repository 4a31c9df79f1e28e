"""The sampler's totals as of one reading (:class:`Snapshot`), how a reading's totals and power follow from
the energy charged, and the energy between two readings (linear interpolation, for a phase boundary or a window
that ends between readings)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .attribution import ShareSnapshot

if TYPE_CHECKING:
    from .ledger import Triple


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


def reading_totals(prev: Snapshot | None, now: float, charged: dict[str, Triple], read_j: dict[str, float],
                   offset_j: dict[str, tuple[float, float, float]], end_t: float | None
                   ) -> tuple[float, dict[str, tuple[float, float, float]], dict[str, float], dict[str, float]]:
    """(time, charged J, read J, power W) per component of a reading at ``now``: ``charged`` plus ``offset_j``
    (the earlier segments of a resumed run: value, low, high, each added to its own); at ``end_t`` instead when it
    falls between ``prev`` and ``now`` (interpolated); the power is the mean since ``prev``."""
    total: dict[str, tuple[float, float, float]] = {}
    for comp in set(charged) | set(offset_j):
        c = charged.get(comp, [0.0, 0.0, 0.0])
        off = offset_j.get(comp, _ZERO)
        total[comp] = (c[0] + off[0], c[1] + off[1], c[2] + off[2])
    if end_t is not None and prev is not None and prev.t < end_t < now:
        # the sampler was late (a slow store write, a busy machine): end the window at stop(), not here
        w = (end_t - prev.t) / (now - prev.t)
        # a component not charged yet at ``prev`` (the baseline charges nothing) had 0 J there, as in _energy_at
        total = {comp: _between(prev.charged_j.get(comp, _ZERO), v, w) for comp, v in total.items()}
        read_j = {comp: prev.read_j.get(comp, e) + w * (e - prev.read_j.get(comp, e)) for comp, e in read_j.items()}
        now = end_t
    power: dict[str, float] = {}
    if prev is not None and now > prev.t:
        for comp, v in total.items():
            power[comp] = (v[0] - prev.charged_j.get(comp, (0.0,))[0]) / (now - prev.t)
    return now, total, read_j, power
