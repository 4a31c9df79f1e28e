"""Merging consecutive samples into one coarser sample without losing energy.

Cumulative energies keep the last value of the merged samples (so totals are exact); the power of
the merged sample is the mean of its members weighted by the interval each one covers, so the
integral of power over time is unchanged too. Merging is associative: a merged sample can be
merged again with later samples of the same bucket and gives the same result.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Member:
    """A sample (raw or already merged) with ``dt_s``, the interval (s) it covers, ending at ``elapsed_s``."""

    id: int
    t_unix: float
    elapsed_s: float
    phase: str | None
    energy_j: dict[str, float]
    power_w: dict[str, float]
    dt_s: float


def merge(members: list[Member]) -> Member:
    """One sample standing for ``members`` (in time order); keeps the id of the last one."""
    last = members[-1]
    power: dict[str, float] = {}
    keys = dict.fromkeys(k for m in members for k in m.power_w)
    for k in keys:
        having = [m for m in members if k in m.power_w]
        weight = sum(max(m.dt_s, 0.0) for m in having)
        if weight > 0:
            power[k] = sum(m.power_w[k] * max(m.dt_s, 0.0) for m in having) / weight
        else:
            power[k] = sum(m.power_w[k] for m in having) / len(having)
    return Member(
        id=last.id,
        t_unix=last.t_unix,
        elapsed_s=last.elapsed_s,
        phase=last.phase,
        energy_j=dict(last.energy_j),
        power_w=power,
        dt_s=sum(m.dt_s for m in members),
    )
