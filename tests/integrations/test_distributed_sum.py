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
            if both:
                dist.barrier()  # the training's own collectives: every process has joined before any ends
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


def _session_worker(rank: int, port: int, both: bool, out: str) -> None:
    """Two trainings in a row with a callback's session (no run_name) on rank zero, and on rank one if ``both``."""
    import json
    import warnings

    from wattprint.integrations.session import TrainingSession

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        if rank == 0 or both:
            session = TrainingSession(project="job", interval_s=0.1, quiet=True)
            ids, said = [], []
            for _ in range(2):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    run = session.begin(rank=rank, world_size=2)
                    if both:
                        dist.barrier()  # the training's own collectives: every process has begun before any ends
                    session.finish()
                    session.sum_over_processes()
                assert run is not None
                ids.append(run.id)
                said += [str(w.message) for w in caught]
            Path(out, f"rank{rank}.json").write_text(json.dumps({"ids": ids, "said": said}))
        dist.barrier()  # the other rank goes on with the job: nothing above may have waited for it
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("both", [True, False])
def test_runs_of_a_job_without_run_name_share_a_name_and_store_their_rank(wattprint_env: Path, tmp_path: Path,
                                                                          both: bool) -> None:
    """Without run_name, each process used to get an unrelated generated id and nothing stored said which runs made
    one job; with the callback on rank zero only, the warning read as if the figure were that share of the job."""
    import json

    from wattprint.storage import open_store

    open_store(str(wattprint_env)).close()  # the store exists before the processes start (see test_lightning)
    mp.spawn(_session_worker, args=(_free_port(), both, str(tmp_path)), nprocs=2, join=True)
    got = {r: json.loads((tmp_path / f"rank{r}.json").read_text()) for r in ((0, 1) if both else (0,))}
    for training in range(2):
        jobs = {got[r]["ids"][training].removesuffix(f"-rank{r}") for r in got}
        assert len(jobs) == 1, got  # the same name, a -rank<N> suffix each
        job = jobs.pop()
        assert job.startswith("job-") and all(got[r]["ids"][training] == f"{job}-rank{r}" for r in got)
        with open_store(str(wattprint_env), readonly=True) as store:
            metas = {r: store.get_run(got[r]["ids"][training]).meta.get("job") for r in got}
        assert metas == {r: {"id": job, "rank": r, "world_size": 2} for r in got}
    assert got[0]["ids"][0] != got[0]["ids"][1]  # each training of the job a run of its own
    if not both:
        said = [m for m in got[0]["said"] if "covers 1 of the job's 2 processes" in m]
        assert len(said) == 2 and all("not 1/2 of the job" in m and "the node's CPU and RAM" in m for m in said)
    else:
        assert not any("covers" in m for m in got[0]["said"]), got[0]["said"]
