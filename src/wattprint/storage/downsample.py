"""Merging consecutive samples into one coarser sample without losing energy.

Cumulative energies keep the last value of the merged samples (so totals are exact); the power of
the merged sample is the mean of its members weighted by the interval each one covers, so the
integral of power over time is unchanged too. Merging is associative: a merged sample can be
merged again with later samples of the same bucket and gives the same result.

:func:`merge_samples_up_to` rewrites a run's stored samples that way, in batches of bounded size.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from .json_columns import dumps, loads


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


def merge_samples_up_to(write: Callable[[], AbstractContextManager[sqlite3.Connection]], run_id: str, cutoff: float,
                        bucket_s: float, batch_rows: int) -> int:
    """Merge the run's samples up to ``cutoff`` (s of run time) into one per ``bucket_s`` bucket, reading at most
    ``batch_rows`` rows per ``write()`` transaction; returns the number of samples removed."""
    removed = 0
    group: list[Member] = []  # the bucket in progress; its first member may be a row merged in the last batch
    prev_elapsed = 0.0  # elapsed_s of the sample before the next one read (run start for the first)
    after: tuple[float, int] = (-math.inf, -1)
    while True:
        with write() as c:
            rows = c.execute(
                "SELECT id, t_unix, elapsed_s, phase, energy_j, power_w FROM samples WHERE run_id = ? AND "
                "elapsed_s <= ? AND (elapsed_s > ? OR (elapsed_s = ? AND id > ?)) ORDER BY elapsed_s, id LIMIT ?",
                (run_id, cutoff, after[0], after[0], after[1], batch_rows),
            ).fetchall()
            for r in rows:
                m = Member(r[0], r[1], r[2], r[3], loads(r[4]), loads(r[5]), r[2] - prev_elapsed)
                prev_elapsed = r[2]
                if group and _bucket_key(group[0], bucket_s) != _bucket_key(m, bucket_s):
                    removed += _flush(c, group)
                    group = []
                group.append(m)
            if group:
                # write the unfinished bucket too, and carry it into the next batch as one merged sample
                removed += _flush(c, group)
                group = [merge(group)]
        if len(rows) < batch_rows:
            return removed
        after = (rows[-1][2], rows[-1][0])


def _bucket_key(m: Member, bucket_s: float) -> tuple[int, str | None]:
    # a sample ending exactly on a boundary closes the bucket before it
    return math.ceil(m.elapsed_s / bucket_s) - 1, m.phase


def _flush(c: sqlite3.Connection, group: list[Member]) -> int:
    """Replace ``group``'s rows by one merged row (kept under the last member's id); returns rows removed."""
    if len(group) < 2:
        return 0
    merged = merge(group)
    c.execute("UPDATE samples SET t_unix = ?, elapsed_s = ?, phase = ?, energy_j = ?, power_w = ? WHERE id = ?",
              (merged.t_unix, merged.elapsed_s, merged.phase, dumps(merged.energy_j), dumps(merged.power_w),
               merged.id))
    gone = [(m.id,) for m in group[:-1]]
    c.executemany("DELETE FROM samples WHERE id = ?", gone)
    return len(gone)
