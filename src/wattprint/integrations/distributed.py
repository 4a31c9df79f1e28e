"""Job-wide totals for multi-process training (torchrun, Accelerate, Lightning DDP): one sum over the ranks.

Each process tracks its own run, and the tracker splits a node's shared energy among the tracked processes
on it, so the job's footprint is the sum of its processes' runs. The model card (written by rank zero)
reports that sum.
"""

from __future__ import annotations

import sys


def sum_over_processes(values: list[float]) -> list[float]:
    """``values`` summed element-wise over all processes of an initialised ``torch.distributed`` job.

    A collective: every process must call it, in the same order. Without torch, or outside a distributed
    job (not initialised, or one process), the values come back unchanged.
    """
    torch = sys.modules.get("torch")  # only a job that already uses torch can be a torch.distributed job
    if torch is None:
        return list(values)
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return list(values)
    on_gpu = dist.get_backend() == "nccl"  # NCCL reduces GPU tensors only
    device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [float(x) for x in t.cpu().tolist()]
