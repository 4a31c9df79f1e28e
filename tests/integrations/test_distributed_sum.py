"""The job's totals summed on rank zero through the job's own key-value store, in a real two-process
torch.distributed (gloo) job: the processes that took part are summed; one that never attached a callback (a logger
attached on rank zero only) is said, never waited for in a collective that would hang the job or fail it after its
training."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, port: int, both: bool, then_barrier: bool, out: str) -> None:
    import json

    from wattprint.integrations import distributed as d

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        result: Any = None
        t0 = time.monotonic()
        if rank == 0 or both:
            job = d.join_job()
            if rank == 1:
                time.sleep(1.0)  # ends its run later than rank zero: rank zero waits for it
            result = d.sum_over_processes(job, [1.0 + rank, 10.0 * (rank + 1)])
        took = time.monotonic() - t0
        if then_barrier:
            dist.barrier()  # the other rank goes on with the job: a collective on rank zero alone would hang here
        if rank == 0:
            Path(out).write_text(json.dumps({"values": result.values, "processes": result.processes,
                                             "world_size": result.world_size, "took": took}))
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize(("both", "then_barrier"), [(True, False), (False, True), (False, False)])
def test_rank_zero_sums_the_processes_that_took_part_and_waits_for_no_other(tmp_path: Path, both: bool,
                                                                            then_barrier: bool) -> None:
    import json

    out = tmp_path / "sum.json"
    t0 = time.monotonic()
    mp.spawn(_worker, args=(_free_port(), both, then_barrier, str(out)), nprocs=2, join=True)
    assert time.monotonic() - t0 < 60
    got = json.loads(out.read_text())
    assert got["world_size"] == 2
    if both:
        assert got["values"] == [3.0, 30.0] and got["processes"] == 2
        assert got["took"] >= 0.9  # it waited for the later process
    else:
        assert got["values"] == [1.0, 10.0] and got["processes"] == 1
        assert got["took"] < 5  # the process that never joined is not waited for


def test_outside_a_distributed_job_the_values_are_the_processes_own() -> None:
    from wattprint.integrations.distributed import JobRound, join_job, sum_over_processes

    job = join_job()
    assert job.store is None and job.world_size == 1
    assert sum_over_processes(JobRound(None, 0, 1), [1.0, 2.0]).values == [1.0, 2.0]
