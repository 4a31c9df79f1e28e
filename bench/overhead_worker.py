"""One measurement in a fresh process, for bench/overhead.py; writes its result as JSON to --out.

Modes:
  calibrate               loop iterations per second of the pure-Python workload (no tracker)
  startstop TOOL          time construct + start + stop of an empty tracked block
  workload TOOL|bare      run the GIL-holding workload (--iters) under the tracker; main-thread and process CPU
  memory TOOL             tick the tracker's sampler directly --samples times; RSS at checkpoints
  readback TOOL           after a SIGKILL: what the killed run left that a user can read
Peak RSS is not measured here: the parent reads ru_maxrss of this process from wait4().
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead_tools import ADAPTERS  # noqa: E402


def burn(iters: int) -> int:
    """Pure-Python, GIL-holding busy loop (no allocation growth, no I/O)."""
    x = 0
    for i in range(iters):
        x = (x + i * i) % 1_000_003
    return x


def rss_kb() -> int:
    """Current resident set size of this process, KiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def schedstat() -> tuple[float, float]:
    """(on-CPU s, waiting-for-a-CPU s) of the calling thread, from /proc/thread-self/schedstat (Linux)."""
    try:
        cpu_ns, wait_ns, _ = Path("/proc/thread-self/schedstat").read_text().split()
        return int(cpu_ns) / 1e9, int(wait_ns) / 1e9
    except (OSError, ValueError):
        return float("nan"), float("nan")


def calibrate(args: argparse.Namespace) -> dict[str, Any]:
    burn(200_000)  # warm up
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        burn(2_000_000)
        rates.append(2_000_000 / (time.perf_counter() - t0))
    return {"iters_per_s": sorted(rates)[1]}


def startstop(args: argparse.Namespace) -> dict[str, Any]:
    ad = ADAPTERS[args.tool]
    workdir = Path(args.dir)
    t0 = time.perf_counter()
    __import__(ad.module)
    t1 = time.perf_counter()
    tr = ad.make(None, workdir, args.run_id)
    t2 = time.perf_counter()
    ad.start(tr)
    t3 = time.perf_counter()
    report = ad.stop(tr, workdir)
    t4 = time.perf_counter()
    return {"import_s": t1 - t0, "make_s": t2 - t1, "start_s": t3 - t2, "stop_s": t4 - t3, "total_s": t4 - t1,
            "report": report}


def workload(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.dir)
    interval = None if args.interval in (None, "default") else float(args.interval)
    ad = None if args.tool == "bare" else ADAPTERS[args.tool]
    tr = None
    if ad is not None:
        __import__(ad.module)
        tr = ad.make(interval, workdir, args.run_id)
        ad.start(tr)
    if args.marker:
        Path(args.marker).write_text(json.dumps({"t_unix": time.time()}))
    load = os.getloadavg()[0]
    s0 = schedstat()
    c0 = os.times()
    p0, m0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
    burn(args.iters)
    w1, m1, p1 = time.perf_counter(), time.thread_time(), time.process_time()
    s1 = schedstat()
    c1 = os.times()
    rss_running = rss_kb()
    report = ad.stop(tr, workdir) if ad is not None and tr is not None else {}
    wall, main_cpu, proc_cpu = w1 - w0, m1 - m0, p1 - p0
    return {
        "wall_s": wall,
        "main_cpu_s": main_cpu,
        "lost_s": wall - main_cpu,  # time the main thread was runnable-but-not-running (GIL, scheduling)
        "tracker_cpu_s": proc_cpu - main_cpu,  # CPU of every other thread during the workload
        "tracker_cpu_total_s": time.process_time() - time.thread_time(),  # other threads, whole process life
        # CPU of child processes a tracker ran (and reaped) during the workload, e.g. lscpu or nvidia-smi
        "children_cpu_s": (c1.children_user + c1.children_system) - (c0.children_user + c0.children_system),
        # lost_s split by the scheduler's own accounting: waiting for a CPU (other processes: machine noise)
        # vs not runnable at all (blocked: mostly waiting for the GIL held by a tracker thread). The on-CPU
        # time is thread_time(), not schedstat's: schedstat's on-CPU figure of a thread that ran without a
        # break is only brought up to date at a scheduler tick or a switch, so in an untracked run it lags by
        # up to a tick (1-4 ms seen here) and made 'blocked' negative there; its run-queue wait is exact
        "runqueue_s": s1[1] - s0[1],
        "blocked_s": wall - main_cpu - (s1[1] - s0[1]),
        "schedstat_cpu_s": s1[0] - s0[0],
        "loadavg": load,
        "rss_running_kb": rss_running,
        "report": report,
    }


def memory(args: argparse.Namespace) -> dict[str, Any]:
    ad = ADAPTERS[args.tool]
    workdir = Path(args.dir)
    __import__(ad.module)
    tr = ad.prepare_ticks(workdir, args.run_id)
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",")})
    deadline = time.perf_counter() + args.budget_s
    points: list[dict[str, float]] = []
    n = 0
    t0 = time.perf_counter()
    for cp in checkpoints:
        while n < cp and time.perf_counter() < deadline:
            ad.tick(tr)
            n += 1
        # allocated Python blocks: flat means no Python object piles up; RSS may still grow by C-level caches
        points.append({"samples": n, "rss_kb": rss_kb(), "py_blocks": sys.getallocatedblocks(),
                       "elapsed_s": time.perf_counter() - t0})
        if n < cp:
            break
    try:
        ad.stop(tr, workdir)
    except Exception as e:  # noqa: BLE001 - stopping after 100k hand ticks is not what is measured
        print(f"stop after ticks failed: {e!r}", file=sys.stderr)
    return {"points": points, "samples": n, "per_tick_us": 1e6 * (points[-1]["elapsed_s"] / max(n, 1))}


def readback(args: argparse.Namespace) -> dict[str, Any]:
    ad = ADAPTERS[args.tool]
    try:
        return ad.readback(Path(args.dir), args.run_id)
    except Exception as e:  # noqa: BLE001 - an unreadable result is the finding, not a crash of the benchmark
        return {"readable": False, "detail": f"{type(e).__name__}: {e}"}


MODES = {"calibrate": calibrate, "startstop": startstop, "workload": workload, "memory": memory,
         "readback": readback}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=sorted(MODES))
    ap.add_argument("tool", nargs="?", default="bare")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dir", default=".")
    ap.add_argument("--run-id", default="bench-run")
    ap.add_argument("--interval", default=None)
    ap.add_argument("--iters", type=int, default=0)
    ap.add_argument("--marker", default=None)
    ap.add_argument("--checkpoints", default="1000,100000")
    ap.add_argument("--budget-s", type=float, default=60.0)
    args = ap.parse_args()
    result = MODES[args.mode](args)
    Path(args.out).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
