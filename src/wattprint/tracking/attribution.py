"""The tracked process tree's share of the machine, reported beside (never instead of) the charged energy.

CPU: share = CPU time used by the tracked process and all its descendants (user + system, including reaped
children) / busy CPU time of the whole host over the same window (from ``/proc/stat``). CPU energy scales
with busy time far more than with idle time, so this share of the machine's CPU energy is what the tree
caused. GPU: the GPUs on which NVML listed a process of the tree at any refresh during the run (where NVML
can tell); looked at while the run goes on, since the processes of `wattprint run -- cmd` have exited by stop.
"""

from __future__ import annotations

import os
import time
from typing import Any

# /proc walks cost ~0.5-1 ms of the tracked program's GIL time: refresh the share at most this often (s).
# The share is a ratio of cumulative CPU-second counters (exited children count through their parent's
# cutime), so a coarse refresh loses nothing; the final value is forced at stop.
REFRESH_S = 10.0


class ShareSnapshot:
    """CPU-seconds of the tracked tree and of the host's busy time since the run started; GPUs the tree uses."""

    __slots__ = ("tree_cpu_s", "host_busy_cpu_s", "gpus", "note")

    def __init__(self, tree_cpu_s: float = 0.0, host_busy_cpu_s: float = 0.0, gpus: list[str] | None = None,
                 note: str = "") -> None:
        self.tree_cpu_s = tree_cpu_s
        self.host_busy_cpu_s = host_busy_cpu_s
        self.gpus = list(gpus or [])
        self.note = note

    @property
    def cpu_share(self) -> float:
        if self.host_busy_cpu_s <= 0:
            return 0.0
        return min(1.0, max(0.0, self.tree_cpu_s / self.host_busy_cpu_s))

    def to_dict(self, machine_cpu_kwh: float, as_of_s: float | None = None) -> dict[str, Any]:
        """The share as stored; ``as_of_s``: the run time it was taken at (a full summary's: the live figures between
        two of them do not refresh it)."""
        d: dict[str, Any] = {
            "cpu_time_s": self.tree_cpu_s,
            "host_busy_cpu_s": self.host_busy_cpu_s,
            "cpu_share": self.cpu_share,
            "cpu_kwh": self.cpu_share * machine_cpu_kwh,
            "method": "CPU time of the tracked process tree / busy CPU time of the host, x the machine's CPU energy",
        }
        if self.gpus:
            d["gpus_used_by_tree"] = list(self.gpus)
        if self.note:
            d["note"] = self.note
        if as_of_s is not None:
            d["as_of_s"] = as_of_s
        return d


def share_text(share: dict[str, Any]) -> str:
    """The CPU share as the end-of-run summary says it: "45.8% (0.11 CPU-s of 0.24 busy CPU-s)". The tree's CPU
    time and the host's busy time are separate counters, in clock ticks (10 ms on most systems): a run a few ticks
    long may count ticks of the tree and none, or fewer, of the host. The share is then said with what was
    counted, not as a figure its own numbers contradict ("0.0% (0.01 CPU-s of 0 busy CPU-s)")."""
    tree, host = (float(share.get(k) or 0.0) for k in ("cpu_time_s", "host_busy_cpu_s"))
    if host <= 0:
        why = share.get("note") or "the host counted no busy CPU time: a run too short for its clock ticks"
        return f"not known ({tree:.3g} CPU-s of the tree; {why})"
    if tree > host:
        return (f"{share.get('cpu_share', 1.0):.1%} ({tree:.3g} CPU-s of the tree, more than the host's {host:.3g} "
                "busy CPU-s: the two are counted apart, in clock ticks)")
    return f"{share.get('cpu_share', 0):.1%} ({tree:.3g} CPU-s of {host:.3g} busy CPU-s)"


class ProcessShare:
    """Cumulative CPU time of ``pid``'s tree and of the host since ``start()`` (read on the sampler thread)."""

    def __init__(self, pid: int | None = None, proc_root: str = "/proc", readers: list[Any] | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.readers = list(readers or [])
        self.proc_root = proc_root
        self._base: tuple[float, float] | None = None
        self._last_refresh = -float("inf")
        self.latest = ShareSnapshot()

    def _read(self) -> tuple[float, float, set[int]]:
        """(tree CPU-s, host busy CPU-s, the tree's live PIDs): one walk of the tree serves both uses."""
        from ..devices.process import host_cpu_seconds, process_tree_cpu_seconds, process_tree_pids

        pids = process_tree_pids(self.pid, self.proc_root)
        return process_tree_cpu_seconds(pids, self.proc_root), host_cpu_seconds(self.proc_root)[0], pids

    def start(self) -> None:
        try:
            tree, host, _ = self._read()
            self._base = (tree, host)
        except (OSError, ImportError, ValueError) as e:
            self._base = None
            self.latest = ShareSnapshot(note=f"process share unavailable: {e}")
        self._last_refresh = time.monotonic()

    def update(self, force: bool = False) -> ShareSnapshot:
        now = time.monotonic()
        if self._base is None or (not force and now - self._last_refresh < REFRESH_S):
            return self.latest
        self._last_refresh = now
        try:
            tree, host, pids = self._read()
        except (OSError, ValueError) as e:
            self.latest = ShareSnapshot(self.latest.tree_cpu_s, self.latest.host_busy_cpu_s, self.latest.gpus,
                                        f"process share frozen: {e}")
            return self.latest
        gpus = sorted(set(self.latest.gpus) | _tree_gpus(pids, self.readers))
        self.latest = ShareSnapshot(max(0.0, tree - self._base[0]), max(0.0, host - self._base[1]), gpus)
        return self.latest


def _tree_gpus(tree: set[int], readers: list[Any]) -> set[str]:
    """GPUs on which NVML lists a process of ``tree`` now; empty where NVML is absent or cannot tell."""
    if not any(hasattr(r, "process_pids") for r in readers):
        return set()
    try:
        from ..devices import gpu_process_pids

        by_gpu = gpu_process_pids(readers)
    except Exception:  # NVML failing must never break tracking
        return set()
    return {str(g) for g, pids in by_gpu.items() if tree & set(pids)}
