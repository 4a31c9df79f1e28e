"""CPU time from procfs and cgroup v2: the whole host, the tracked process tree, the job's cgroup.

All results are CPU-seconds (s); read directly from /proc (psutil is not a dependency).
"""

from __future__ import annotations

import contextlib
import functools
import os

from .quickread import read_at

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(text: str) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses)."""
    return text[text.rfind(")") + 2 :].split()


_open_fds: dict[str, int] = {}


def _read_first_line(path: str) -> str:
    """First line of a procfs file through a descriptor kept open: one pread per sample instead of
    open/read/close, and one that keeps the GIL (see :mod:`.quickread`)."""
    fd = _open_fds.get(path)
    if fd is None:
        fd = _open_fds[path] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = read_at(fd, 4096, 0)
    except OSError:
        _open_fds.pop(path, None)
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    return data.split(b"\n", 1)[0].decode()


@functools.lru_cache(maxsize=8)
def _stat_path(proc_root: str) -> str:
    return os.path.join(proc_root, "stat")


def host_cpu_seconds(proc_root: str = "/proc") -> tuple[float, float]:
    """(busy, total) CPU-seconds of the whole host since boot, from the ``cpu`` line of /proc/stat.

    busy = user + nice + system + irq + softirq; total = busy + idle + iowait. ``steal`` (time the
    hypervisor ran someone else) is in neither: our vCPUs were not running then. guest time is
    already inside user/nice.
    """
    line = _read_first_line(_stat_path(proc_root))
    parts = line.split()
    if not parts or parts[0] != "cpu":
        raise OSError(f"unexpected first line in {proc_root}/stat: {line!r}")
    v = [int(x) for x in parts[1:]] + [0] * 10
    user, nice, system, idle, iowait, irq, softirq = v[:7]
    busy = user + nice + system + irq + softirq
    total = busy + idle + iowait
    return busy / _CLK_TCK, total / _CLK_TCK


def _children(pid: int, proc_root: str) -> list[int] | None:
    """Direct children via /proc/<pid>/task/*/children; None where the kernel lacks that file."""
    out: list[int] = []
    try:
        tasks = os.listdir(os.path.join(proc_root, str(pid), "task"))
    except OSError:
        return []
    for tid in tasks:
        try:
            with open(os.path.join(proc_root, str(pid), "task", tid, "children"), encoding="utf-8") as f:
                out.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            continue
    return out


def _parents_by_scan(proc_root: str) -> dict[int, list[int]]:
    """ppid -> pids, scanning every /proc/<pid>/stat (fallback; slower on busy nodes)."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir(proc_root):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc_root, name, "stat"), encoding="utf-8", errors="replace") as f:
                ppid = int(_stat_fields(f.read())[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids


def process_tree_pids(pid: int, proc_root: str = "/proc") -> set[int]:
    """``pid`` and all its live descendants."""
    seen = {pid}
    stack = [pid]
    scanned: dict[int, list[int]] | None = None
    while stack:
        p = stack.pop()
        kids = _children(p, proc_root) if scanned is None else scanned.get(p, [])
        if kids is None:  # no children files: scan once, restart the walk from the table
            scanned = _parents_by_scan(proc_root)
            kids = scanned.get(p, [])
        for k in kids:
            if k not in seen:
                seen.add(k)
                stack.append(k)
    return seen


def running_descendants(pid: int, proc_root: str = "/proc") -> list[int]:
    """The live descendants of ``pid`` (not ``pid`` itself, nor zombies: processes that ended and wait to be
    reaped), in PID order."""
    out = []
    for p in sorted(process_tree_pids(pid, proc_root) - {pid}):
        try:
            with open(os.path.join(proc_root, str(p), "stat"), encoding="utf-8") as f:
                state = _stat_fields(f.read())[0]
        except (OSError, IndexError):  # ended meanwhile
            continue
        if state not in ("Z", "X"):
            out.append(p)
    return out


def process_cpu_seconds(pid: int, proc_root: str = "/proc") -> float:
    """user+sys CPU-seconds of one process, plus those of its children it has already reaped."""
    with open(os.path.join(proc_root, str(pid), "stat"), encoding="utf-8", errors="replace") as f:
        fields = _stat_fields(f.read())
    # after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / _CLK_TCK


def process_tree_cpu_seconds(tree: int | set[int], proc_root: str = "/proc") -> float:
    """user+sys CPU-seconds of a process tree (a root PID, or the tree's PIDs from :func:`process_tree_pids`):
    live processes, plus reaped ones through their parents' cutime/cstime, so the sum does not drop when a
    child exits and is waited for."""
    total = 0.0
    for p in process_tree_pids(tree, proc_root) if isinstance(tree, int) else tree:
        try:
            total += process_cpu_seconds(p, proc_root)
        except (OSError, ValueError, IndexError):
            continue  # exited between listing and reading
    return total


def cgroup_cpu_seconds(cgroup_dir: str | None) -> float | None:
    """CPU-seconds used by a cgroup v2 (``cpu.stat`` usage_usec); None if not readable."""
    if cgroup_dir is None:
        return None
    try:
        with open(os.path.join(cgroup_dir, "cpu.stat"), encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
    except (OSError, ValueError):
        return None
    return None
