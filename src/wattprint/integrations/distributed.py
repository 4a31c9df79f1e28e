"""Job-wide totals for multi-process training (torchrun, Accelerate, Lightning DDP): the processes' totals summed
on rank zero.

Each process tracks its own run, and the tracker splits a node's shared energy among the tracked processes on it,
so the job's footprint is the sum of its processes' runs. The model card and the final log (written by rank zero)
report that sum.

No collective operation is used: a callback attached on rank zero only (a common pattern for loggers) would have
rank zero wait alone in one, failing the job after its training or hanging it. Instead each process leaves its
totals in the job's key-value store (the one ``torch.distributed`` set up the job with); rank zero reads those of
the processes that announced themselves when training began, waiting a bounded time for the ones still ending
their runs, and says when some never took part.

    >>> sum_over_processes(JobRound(None, 0, 1), [1.0, 2.0])  # not a distributed job: this process's own
    JobSum(values=[1.0, 2.0], processes=1, world_size=1)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# how long rank zero waits for another process's totals once it has its own: the others end their runs too, and a
# run's end may wait for a locked store for up to one interval (30 s at most) plus 30 s (tracking.run.STOP_GRACE_S)
JOB_SUM_WAIT_S = 120.0
_KEY = "wattprint/{round}/{what}/{rank}"
_NAME_KEY = "wattprint/{round}/name"  # the job's name for its runs (see shared_name)
_rounds = itertools.count()  # trainings in this process, in order: every process of the job counts the same way


@dataclass(frozen=True)
class JobRound:
    """One training of a distributed job, as this process takes part in it: the job's store (None: not a
    distributed job, or no store to reach), this process's rank and the job's world size."""

    store: Any
    rank: int
    world_size: int
    round: int = 0


@dataclass(frozen=True)
class JobSum:
    """Totals summed over the ``processes`` (of ``world_size``) that reported them; on ranks other than zero, the
    process's own."""

    values: list[float]
    processes: int
    world_size: int


def job_round() -> JobRound:
    """This process's part in the next training of an initialised ``torch.distributed`` job of several processes,
    not announced yet (see :func:`announce`); a round without a store where there is no such job. Every process
    that trains with a callback takes one round per training, so that the rounds' keys match across the job."""
    torch = sys.modules.get("torch")  # only a job that already uses torch can be a torch.distributed job
    dist = getattr(torch, "distributed", None) if torch is not None else None
    if dist is None or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return JobRound(None, 0, 1)
    return JobRound(_job_store(), int(dist.get_rank()), int(dist.get_world_size()), next(_rounds))


def announce(job: JobRound) -> JobRound:
    """Announce in the job's store (no wait) that this process takes part in training ``job``: rank zero waits at
    the end for the totals of the processes that did."""
    if job.store is not None:
        try:
            job.store.set(_KEY.format(round=job.round, what="joined", rank=job.rank), "1")
        except Exception:  # a store that cannot be written: rank zero then sums what it can and says so
            return JobRound(None, job.rank, job.world_size, job.round)
    return job


def join_job() -> JobRound:
    """:func:`job_round`, announced."""
    return announce(job_round())


def shared_name(job: JobRound, proposal: str) -> str | None:
    """One name for the whole of training ``job``, the same on every process: the first process to ask sets its
    ``proposal`` in the job's store, and the others get that one back (an atomic compare-and-set: nobody waits for
    anybody, so a callback attached on some processes only cannot hang the job). None without a store to agree in."""
    if job.store is None:
        return None
    try:
        agreed = job.store.compare_set(_NAME_KEY.format(round=job.round), "", proposal)
        name = agreed.decode() if isinstance(agreed, bytes) else str(agreed)
    except Exception:  # a store without compare_set, or out of reach
        return None
    return name or None


def sum_over_processes(job: JobRound, values: list[float]) -> JobSum:
    """``values`` summed element-wise over the job's processes that took part in training ``job`` (rank zero; the
    others get their own back). Never a collective: each process leaves its values in the store, and only rank
    zero waits, at most :data:`JOB_SUM_WAIT_S`, for the processes that announced themselves."""
    own = [float(v) for v in values]
    if job.world_size <= 1:
        return JobSum(own, 1, 1)
    if job.store is None:
        return JobSum(own, 1, job.world_size)
    store = job.store
    try:
        store.set(_KEY.format(round=job.round, what="values", rank=job.rank), json.dumps(own))
    except Exception:
        return JobSum(own, 1, job.world_size)
    if job.rank != 0:
        return JobSum(own, 1, job.world_size)
    joined = [r for r in range(job.world_size)
              if _has(store, _KEY.format(round=job.round, what="joined", rank=r))]
    keys = [_KEY.format(round=job.round, what="values", rank=r) for r in joined]
    # a process that ended without its totals (it failed, or was killed) times out: those there are are summed
    with contextlib.suppress(Exception):
        store.wait(keys, timedelta(seconds=JOB_SUM_WAIT_S))
    totals, reported = [0.0] * len(own), 0
    for key in keys:
        if not _has(store, key):
            continue
        try:
            theirs = json.loads(store.get(key))
        except Exception:
            continue
        if isinstance(theirs, list) and len(theirs) == len(own):
            totals = [a + float(b) for a, b in zip(totals, theirs, strict=True)]
            reported += 1
    return JobSum(totals, reported, job.world_size)


def _has(store: Any, key: str) -> bool:
    try:
        return bool(store.check([key]))
    except Exception:
        return False


def _job_store() -> Any:
    """The key-value store the job's processes share (set up by ``init_process_group``); None if out of reach."""
    try:
        from torch.distributed import distributed_c10d

        return distributed_c10d._get_default_store()
    except Exception:
        return None
