"""Node-level coordination: several tracked processes on one node never count the same joules twice.

Under ``torchrun`` (one process per GPU) every process sees the same CPU packages, the same RAM and,
without ``CUDA_VISIBLE_DEVICES``, the same GPUs. The ledger is a small JSON state file shared by all
tracked runs of one user on the node (one SLURM job, if ``SLURM_JOB_ID`` is set), guarded by
``fcntl.flock``. Its folder is ``$WATTPRINT_STATE_DIR``, else ``$XDG_RUNTIME_DIR/wattprint``, else
``/tmp/wattprint-<uid>``. A default folder is used only if it is this user's own, a real directory no one else
may write to (as ssh and tmux treat theirs): another local user could create ``/tmp/wattprint-<uid>`` first and
plant a symbolic link or fake runs in it. The file itself is never opened through a symbolic link, and is used
only if it is a regular file of this user's with one link, wherever the folder is.

What each sampler does at every reading:

1. read its devices (each device is keyed ``component:device``, e.g. ``cpu:package-0``, ``gpu:gpu3``), outside
   the lock: a read that hangs (a GPU fallen off the bus, a stuck driver) must not hold up the other runs'
   accounting. Each reading carries the time it was taken, so readings charged out of time order (another run
   read later but took the lock first) stay exact: the older one finds its device charged past its time and
   charges nothing for it, its successor charges from there;
2. then, under the lock, for each device, take the energy its own counter saw since its own previous reading,
   and keep only the part of that interval no run has charged yet: the device's "charged up to" time ``t`` in the ledger
   (interpolated linearly in time: a reader whose interval [t0, now] was partly charged by another run up to
   ``t`` charges ``delta x (now - t) / (now - t0)``); then ``t = now``;
3. split that energy equally among the live runs that read the same device (a run is live while its pid
   exists with the same start time) and add each share to that run's charged total in the ledger. Runs nested
   in one another (the same process, or one's process above the other's) do not split with each other: each
   run divides by the number of readers not nested with it (itself included).

A run that gives up reading a device (its read hung) leaves that device's readers: the others are charged
all of it from then on; if the device answers again, the run joins it afresh (nothing in between is charged
to it).

So every second of a device's energy is charged at most once, split equally among the runs that were
reading it. The sum of all runs' charged energy equals the device's energy exactly for a single process;
when a run joins a device others read, the time between their last reading and its registration is
charged to no one (less than one sampling interval per join). A GPU that only one process sees
(``CUDA_VISIBLE_DEVICES`` per rank) has one reader and is charged to that run alone. Device keys must
therefore name the same physical device the same way in every process.

A run alone on the node (the usual case) does not rewrite the file at every reading: it reads the file back
(one ``pread``, no lock) and, while the bytes are still those it last wrote and it is the only run in them,
charges its readings in memory. Any change by another process (a run registering, leaving, a reset) sends
it back to the locked path, which first merges what it charged alone, so every run is charged what
writing at every reading would have charged. (Each system call of the sampler hands the GIL to the
tracked program and back; this saves four per reading, and a JSON round trip. The one ``pread`` left keeps
the GIL, see :mod:`wattprint.devices.quickread`: the folder must be node-local, as a node's ledger is anyway.)

Equal split is a choice: per-process CPU time would favour the busy rank, but ranks of one job do the
same work; the tracked tree's CPU-time share is reported beside the charged figure anyway.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Callable, Collection, Iterator
from typing import Any

from ..devices.quickread import read_at

ENV_STATE_DIR = "WATTPRINT_STATE_DIR"
STATE_VERSION = 1
READ_CHUNK = 65536  # one pread covers the state of dozens of runs; larger states are read whole
# how long a reading waits for the ledger's lock (s): as long as a device read may hang before it is given up. A
# holder stopped with Ctrl-Z, or a state folder on a stuck filesystem, held `wattprint run` before its command
# started, then charged it the wait
LOCK_WAIT_S = 5.0
LOCK_POLL_S = 0.01

Triple = list[float]  # [value, low, high] in joules


def default_state_dir(environ: dict[str, str] | None = None) -> str:
    """``$WATTPRINT_STATE_DIR`` > ``$XDG_RUNTIME_DIR/wattprint`` > ``/tmp/wattprint-<uid>``."""
    env = os.environ if environ is None else environ
    if env.get(ENV_STATE_DIR):
        return env[ENV_STATE_DIR]
    xdg = env.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isdir(xdg):
        return os.path.join(xdg, "wattprint")
    tmp = env.get("TMPDIR", "") or "/tmp"  # not tempfile.gettempdir(): importing tempfile costs ~4 ms
    return os.path.join(tmp, f"wattprint-{os.getuid()}")


def ledger_scope(environ: dict[str, str] | None = None) -> str:
    """Runs in the same scope share devices: one SLURM job, else the whole node."""
    env = os.environ if environ is None else environ
    job = env.get("SLURM_JOB_ID", "").strip()
    return f"slurm-{job}" if job.isalnum() else "node"


def _stat_field(pid: int, index: int) -> int | None:
    """Field ``index`` of /proc/<pid>/stat counted from the state (field 3) on, as an int; None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[index])  # after "pid (comm) ", comm may hold spaces
    except (OSError, ValueError, IndexError):
        return None


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc/<pid>/stat field 22); None where unknown.
    A pid and its start time name one process: a pid the kernel hands out again has another start."""
    return _stat_field(pid, 19)


def ancestors(pid: int) -> list[int]:
    """The pids above ``pid`` up to init (parent first); empty where /proc is unavailable."""
    out: list[int] = []
    p = _stat_field(pid, 1)  # ppid, field 4
    while p is not None and p > 1 and p not in out and len(out) < 1000:
        out.append(p)
        p = _stat_field(p, 1)
    return out


def pid_alive(pid: int, start: int | None = None) -> bool:
    """Whether process ``pid`` exists, and is still the one that started at ``start`` (if given and knowable)."""
    if pid <= 0:
        return False
    if start is not None:
        now = process_start(pid)
        if now is not None:
            return now == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class Ledger:
    """Charged energy per run and component, shared through a locked state file (or kept in memory).

    ``path=None`` keeps the state in memory: no coordination, every joule read is charged to this run.
    """

    def __init__(self, path: str | None, run_key: str, pid: int | None = None) -> None:
        self.path = path
        self.run_key = run_key
        self.pid = os.getpid() if pid is None else pid
        self._start = process_start(self.pid)  # with the pid: a run whose pid is reused is not taken for alive
        # a run nested in another (a tracked script under `wattprint run`) measures part of what the outer one
        # measures: they do not split a device, each is charged all of it; only unrelated runs split
        self._ancestors = ancestors(self.pid)
        self._memory: dict[str, Any] = _empty()
        self._fd: int | None = None
        self._fd_pid = 0
        # this run's charged totals as last seen: re-registered if the state file is lost or reset
        self.charged: dict[str, Triple] = {}
        # solo fast path: the state as last written (then charged in memory), its bytes, and this run's
        # charged totals at that write (what was charged alone since = the difference)
        self._shadow: dict[str, Any] | None = None
        self._written: bytes | None = None
        self._charged_at_write: dict[str, Triple] = {}
        self._dirty = False
        self.note: Callable[[str], None] | None = None  # says so when the ledger is given up (the run's notes)

    @classmethod
    def for_node(cls, run_key: str, state_dir: str | None = None) -> tuple[Ledger, str | None]:
        """A file-backed ledger for this node, or an in-memory one plus a note if the folder is unusable."""
        chosen = state_dir or os.environ.get(ENV_STATE_DIR) or None  # a folder the user named, else a default one
        folder = chosen or default_state_dir()
        path = os.path.join(folder, f"ledger-{ledger_scope()}.json")
        if not os.path.isabs(folder):  # relative to each process's working directory: the runs would not meet
            note = (f"node ledger folder {folder!r} is a relative path ({ENV_STATE_DIR}?), so tracked processes "
                    "started in other directories would not share it; give an absolute one. Until then each run is "
                    "charged the whole of the devices it reads")
            return cls(None, run_key), note
        try:
            if chosen:
                os.makedirs(folder, mode=0o700, exist_ok=True)
            unsafe = None if chosen else _not_private(folder)
            if unsafe is None:
                os.close(_open_state(path))
        except OSError as e:
            note = (f"node ledger folder {folder} unusable ({e}); concurrent tracked processes on this node "
                    f"would each be charged the whole node (set {ENV_STATE_DIR})")
            return cls(None, run_key), note
        if unsafe is not None:
            note = (f"node ledger folder {folder} not used: {unsafe}, so another user may have made it or placed "
                    "files in it; concurrent tracked processes on this node would each be charged the whole node "
                    f"(remove it if it is not yours, or set {ENV_STATE_DIR} to a folder of your own)")
            return cls(None, run_key), note
        return cls(path, run_key), None

    # -- state I/O -----------------------------------------------------------------------------
    # The state lives in the lock file itself, rewritten in place under the lock: a rename per reading
    # costs ~1-2 ms on overlay filesystems. A process killed mid-write can leave torn JSON; the next
    # reader then starts a fresh state and every live run re-registers with its own last-known totals.
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        if self.path is None:
            yield self._memory
            return
        import fcntl

        if self._fd is None or self._fd_pid != os.getpid():
            try:
                self._fd = _open_state(self.path)
            except OSError as e:  # e.g. a symbolic link put in its place: nothing measured is lost for it
                yield self._give_up(f"could not be opened ({e})")
                return
            self._fd_pid = os.getpid()
        fd = self._fd
        if not _lock_within(fd, LOCK_WAIT_S):
            yield self._give_up(f"stayed locked for {LOCK_WAIT_S:g} s (a tracked process stopped while holding it, "
                                "or a stuck filesystem)")
            return
        try:
            state, old_len = self._load(fd)
            if self._dirty:
                self._merge_solo(state)
            yield state
            data = json.dumps(state, separators=(",", ":")).encode()
            os.pwrite(fd, data, 0)
            if len(data) < old_len:  # every system call here hands the GIL to the tracked program and back
                os.ftruncate(fd, len(data))
            self._shadow, self._written, self._dirty = state, data, False
            me = state["runs"].get(self.run_key)
            self._charged_at_write = {k: list(v) for k, v in me["charged"].items()} if me else {}
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _give_up(self, why: str) -> dict[str, Any]:
        """The ledger stayed locked, or cannot be opened (``why``): go on alone, in memory, from this run's part of
        the state last seen (its charged totals and device readings, so nothing already charged is lost); say so."""
        path, last = self.path, self._shadow or _empty()
        self.path = None
        mine = last["runs"].get(self.run_key)
        devices = {k: {"t": d["t"], "readers": {self.run_key: d["readers"][self.run_key]}}
                   for k, d in last["devices"].items() if self.run_key in d["readers"]}
        self._memory = {**_empty(), "devices": devices, "runs": {self.run_key: mine} if mine else {}}
        if self.note is not None:
            self.note(f"the node ledger {path} {why}: this run goes on without it, so if other tracked processes on "
                      "this node read the same devices, their energy is counted in each")
        return self._memory

    def _solo_state(self) -> dict[str, Any] | None:
        """The in-memory state, if this run is alone in it and the file still holds exactly what it wrote."""
        shadow, written = self._shadow, self._written
        if shadow is None or written is None or self._fd is None or self._fd_pid != os.getpid():
            return None
        runs = shadow["runs"]
        if len(runs) != 1 or self.run_key not in runs:
            return None
        try:
            # one byte more: a longer file differs too; the read keeps the GIL (see devices.quickread)
            raw = read_at(self._fd, len(written) + 1, 0)
        except OSError:
            return None
        return shadow if raw == written else None

    def _merge_solo(self, state: dict[str, Any]) -> None:
        """Bring a freshly read ``state`` up to what this run charged alone since its last write.

        Only this run's own entries move: its charged totals (by what it added since the write, so shares
        another run credited to it meanwhile are kept), its last reading per device (devices it began to read
        alone included), and the devices' "charged up to" times. A state that lost this run
        (reset) re-registers it in :meth:`charge`.
        """
        shadow = self._shadow
        me = state["runs"].get(self.run_key)
        if shadow is None or me is None:
            return
        mine = shadow["runs"].get(self.run_key, {}).get("charged", {})
        for comp, tot in mine.items():
            base = self._charged_at_write.get(comp, [0.0, 0.0, 0.0])
            cur = me["charged"].setdefault(comp, [0.0, 0.0, 0.0])
            for i in range(3):
                cur[i] += tot[i] - base[i]
        for key, sdev in shadow["devices"].items():
            reading = sdev["readers"].get(self.run_key)
            if reading is None:
                continue
            # a device first read (or read again, after a hang) while alone is not in the file yet: add it, or the
            # next locked reading would take this run for a newcomer to it and charge it nothing for an interval
            fdev = state["devices"].setdefault(key, {"t": sdev["t"], "readers": {}})
            fdev["readers"][self.run_key] = list(reading)
            fdev["t"] = max(float(fdev["t"]), float(sdev["t"]))

    @staticmethod
    def _load(fd: int) -> tuple[dict[str, Any], int]:
        """(state, bytes in the file); a torn or foreign file reads as a fresh state."""
        size = 0
        try:
            raw = os.pread(fd, READ_CHUNK, 0)
            if len(raw) == READ_CHUNK:  # a large state (many runs): read it whole
                raw = os.pread(fd, os.fstat(fd).st_size, 0)
            size = len(raw)
            state = json.loads(raw) if raw else None
        except (OSError, ValueError):
            return _empty(), size
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            return _empty(), size
        state.setdefault("devices", {})
        state.setdefault("runs", {})
        return state, size

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None

    # -- accounting ----------------------------------------------------------------------------
    def account(
        self, read: Callable[[], tuple[float, list[tuple[str, str, Triple]]]], leave: bool = False
    ) -> tuple[float, list[tuple[str, str, Triple]], dict[str, Triple]]:
        """``read()`` (outside the lock), then :meth:`charge` what it returned."""
        now, readings = read()
        return self.charge(now, readings, leave)

    def charge(
        self, now: float, readings: list[tuple[str, str, Triple]], leave: bool = False,
        forget: Collection[tuple[str, str]] = (),
    ) -> tuple[float, list[tuple[str, str, Triple]], dict[str, Triple]]:
        """Charge what is new in readings already taken, under the lock (or, alone on the node, in memory: see
        the module docstring). Device reads never happen in here: a hung read must not hold the node's lock.

        ``now``: when the readings were taken (monotonic clock); ``readings``: [(component, device,
        cumulative [J, low J, high J])], cumulative since this process opened the device. ``forget``:
        (component, device) this run stops reading (its read hung): it leaves their readers. Returns (now, the
        readings, this run's charged totals per component in J as [value, low, high]). ``leave=True`` (the
        final reading) also removes the run under the same lock, so no share can be charged to it after its
        last look.
        """
        # leaving, or giving a device up: under the lock, so the other runs see it at once
        solo = None if (leave or forget) else self._solo_state()
        if solo is not None:
            self._dirty = True
            return self._charge(solo, now, readings, leave, alone=True)
        with self._locked() as state:
            return self._charge(state, now, readings, leave, forget)

    def _charge(
        self, state: dict[str, Any], now: float, readings: list[tuple[str, str, Triple]], leave: bool,
        forget: Collection[tuple[str, str]] = (), alone: bool = False,
    ) -> tuple[float, list[tuple[str, str, Triple]], dict[str, Triple]]:
        """One reading charged against ``state`` (``alone``: the solo in-memory state, no other run in it)."""
        runs: dict[str, Any] = state["runs"]
        devices: dict[str, Any] = state["devices"]
        if not alone:
            self._collect_dead(runs, devices)
        for component, device in forget:
            self._forget(devices, f"{component}:{device}")
        me = runs.get(self.run_key)
        if me is None:  # first time, or the state was lost: register with what we had
            me = runs[self.run_key] = {"pid": self.pid, "start": self._start, "ancestors": self._ancestors,
                                       "charged": {k: list(v) for k, v in self.charged.items()}}
        for component, device, vec in readings:
            key = f"{component}:{device}"
            dev = devices.setdefault(key, {"t": now, "readers": {}})
            readers: dict[str, list[float]] = dev["readers"]
            mine = readers.get(self.run_key)
            readers[self.run_key] = [now, *vec]
            if mine is None:
                if len(readers) == 1:
                    dev["t"] = now  # nobody reads it: nothing before now is ours to charge
                continue
            t0 = mine[0]
            span = now - t0
            if span <= 0:
                continue
            frac = min(1.0, max(0.0, (now - max(t0, float(dev["t"]))) / span))
            dev["t"] = max(float(dev["t"]), now)
            if frac == 0.0:
                continue
            delta = [max(0.0, (vec[i] - mine[1 + i]) * frac) for i in range(3)]
            sharers = [rk for rk in readers if rk in runs]
            for rk in sharers:
                run = runs[rk]
                n = sum(1 for other in sharers if other == rk or not _nested(run, runs[other]))
                tot = run["charged"].setdefault(component, [0.0, 0.0, 0.0])
                for i in range(3):
                    tot[i] += delta[i] / n
        self.charged = {k: list(v) for k, v in me["charged"].items()}
        if leave:
            self._remove(state)
        return now, readings, self.charged  # a fresh dict each reading: the caller may keep it

    def leave(self) -> None:
        """Stop sharing: this run reads no device any more (its charged total stays with the run)."""
        with contextlib.suppress(OSError), self._locked() as state:
            self._remove(state)

    def _forget(self, devices: dict[str, Any], key: str) -> None:
        """This run no longer reads device ``key``: from now on the others reading it are charged all of it."""
        dev = devices.get(key)
        if dev is not None:
            dev["readers"].pop(self.run_key, None)
            if not dev["readers"]:
                del devices[key]

    def _remove(self, state: dict[str, Any]) -> None:
        state["runs"].pop(self.run_key, None)
        for dev in state["devices"].values():
            dev["readers"].pop(self.run_key, None)
        state["devices"] = {k: d for k, d in state["devices"].items() if d["readers"]}

    def live_runs(self) -> int:
        """How many runs currently share this ledger (this one included, if registered)."""
        with self._locked() as state:
            self._collect_dead(state["runs"], state["devices"])
            return len(state["runs"])

    @staticmethod
    def _collect_dead(runs: dict[str, Any], devices: dict[str, Any]) -> None:
        dead = [rk for rk, r in runs.items() if not pid_alive(int(r.get("pid", 0)), r.get("start"))]
        for rk in dead:
            del runs[rk]
        for dev in devices.values():
            for rk in [rk for rk in dev["readers"] if rk not in runs]:
                del dev["readers"][rk]


def _nested(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether one run's process is the other's, or above it (runs of one process, or one under the other)."""
    pa, pb = a.get("pid"), b.get("pid")
    return pa == pb or pa in (b.get("ancestors") or ()) or pb in (a.get("ancestors") or ())


def _not_private(folder: str) -> str | None:
    """Why ``folder`` (a default one, in a folder every user may write to) cannot hold this user's ledger, or None.
    Made with mode 0700 where missing; one found there must be a real directory (not a symbolic link) of this user's
    that no one else may write to."""
    os.makedirs(os.path.dirname(folder), exist_ok=True)  # a $TMPDIR not made yet, as before
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    if st.st_uid != os.geteuid():
        return f"it belongs to uid {st.st_uid}, not to this user (uid {os.geteuid()})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"others may write to it (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _open_state(path: str) -> int:
    """The ledger file, opened read-write (made if missing), never through a symbolic link: one placed there would
    have this user's run rewrite whatever file it points to. A file that is not a regular file of this user's with a
    single link (a hard link to another file) is refused too."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:  # what O_NOFOLLOW answers for a symbolic link: say it plainly
            raise OSError(errno.ELOOP, "the ledger file is a symbolic link", path) from e
        raise
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1:
        return fd
    os.close(fd)
    raise OSError(errno.EPERM, "not a regular file of this user's with one link", path)


def _lock_within(fd: int, seconds: float) -> bool:
    """Take ``fd``'s exclusive flock, waiting at most ``seconds``; False if another process held it all along."""
    import fcntl
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(LOCK_POLL_S)


def _empty() -> dict[str, Any]:
    return {"version": STATE_VERSION, "devices": {}, "runs": {}}
