"""``wattprint run [options] -- command ...``: run a command as a child process and measure all of it.

The whole command and every process it starts are measured while the command runs (the tracked tree is this
process and its descendants; on Linux a process whose parent exits stays in it). The run ends when the command
exits, as time(1) does: processes it left running are named in a note, not waited for. SIGINT, SIGTERM,
SIGHUP, SIGQUIT and SIGALRM are forwarded to the child and mark the run interrupted;
SIGUSR1 and SIGUSR2 (a scheduler's warning, e.g. SLURM's --signal) are forwarded only. Signals ignored when wattprint
started (as under nohup) stay ignored. A signal of the first kind that comes while the run starts (devices, store)
ends it interrupted without running the command; one that comes while the command is being started reaches it as
soon as it runs; a USR1/USR2 that comes before the command runs is dropped with a note (it would kill a command that
has not set its handler yet). wattprint exits with the child's exit code (128 + N if the child died of signal N, or
if signal N came before it was started; 127/126 if it could not be started) and prints the footprint to stderr at
the end (``--json``: the stored summary as JSON instead, as the last line of stdout, with the run's ``status``,
``exit_code``, ``signal``, ``started_at``, ``ended_at``, ``duration_s``, ``stored`` and ``meta``: the versions that
measured it and the command); the exit code and signal are
stored with the run too (``wattprint runs show --json``, ``runs export``). Status: ``finished``
(exit 0), ``failed`` (non-zero, or the command could not be started), ``interrupted`` (killed by a signal, or a
signal of the first kind was forwarded, whatever the command's exit code then). A signal sent to the whole
process group (``kill -- -PGID``, SLURM's ``--signal`` without ``B:``) reaches the command directly as well as
through wattprint, so it gets it twice (a terminal's Ctrl-C is recognised and not forwarded): send it to wattprint
alone (SLURM: ``--signal=B:USR1@60`` with ``exec wattprint run ...`` in the batch script).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from ..errors import WattprintError
from ._args import number

# forwarded to the command, and the run is interrupted whatever the command then does (their default action ends a
# process: wattprint must not die of them and leave the command running, unmeasured)
_FORWARDED: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGALRM)
# forwarded only: a warning the command may act on and go on (SLURM's --signal=USR1@60 before the time limit)
_PASSED_ON: tuple[int, ...] = (signal.SIGUSR1, signal.SIGUSR2)
# what a terminal sends its whole foreground group (Ctrl-C, Ctrl-\)
_FROM_TERMINAL: tuple[int, ...] = (signal.SIGINT, signal.SIGQUIT)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a command and measure its energy and CO2e",
        description=_description(),
    )
    p.add_argument("--project", metavar="NAME", default="default", help="project name (default: default)")
    p.add_argument("--run", dest="run_id", metavar="ID", default=None, help="run id; an existing id resumes that run")
    p.add_argument("--db", metavar="URL", default=None, help="store URL sqlite:///abs/path.db or a path (default: "
                   "$WATTPRINT_DB, the config file's db, else $XDG_DATA_HOME/wattprint/wattprint.db, i.e. "
                   "~/.local/share/wattprint/wattprint.db)")
    p.add_argument("--interval", type=number, metavar="SECONDS", default=None,
                   help="sampling interval in seconds (default 1)")
    p.add_argument("--location", default=None, help="where it runs: country (FRA), region (US-CA), aws:us-east-1 ...")
    p.add_argument("--pue", type=_pue, default=None,
                   help="PUE number (>= 1) or preset (hyperscale, cloud, enterprise, ...)")
    p.add_argument("--intensity", type=number, default=None, help="grid intensity in gCO2e/kWh (overrides location)")
    p.add_argument("--json", action="store_true",
                   help="print the run's stored summary as JSON, as the last line of stdout (after a blank line, so "
                        "it is on a line of its own after the command's output), instead of the footprint on stderr")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    p.usage = _usage(p)
    p.set_defaults(handler=main)


def _pue(text: str) -> str:
    """--pue as given (a number or a preset name, resolved with the other settings); a number a float cannot hold
    (1e400, 1e-400) is refused here as the other number options' are (:func:`number`)."""
    from ..quantities import float_text

    try:
        float_text(text)
    except OverflowError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    except ValueError:
        pass  # a preset name
    return text


def _usage(p: argparse.ArgumentParser) -> str:
    """argparse's own usage line (the options named as the list below names them), with the command spelled out:
    argparse writes an argparse.REMAINDER as a bare '...', which hides the `--` that must come before it."""
    auto = p.format_usage().strip().removeprefix("usage: ")
    return auto.removesuffix("...").rstrip() + " -- command [args ...]"


def _description() -> str:
    """The module docstring as plain text for --help (no reST markup, no repeat of the usage line)."""
    head, _, body = (__doc__ or "").replace("``", "").partition("\n\n")
    what = head.partition(": ")[2].strip() or head.strip()
    return f"{what[:1].upper()}{what[1:]} {body.strip()}"


def _foreground_tty() -> bool:
    """True when this process is in its controlling terminal's foreground group: a Ctrl-C there reaches the child
    too. The terminal is /dev/tty, not one of our streams: with all three redirected (``</dev/null >log 2>&1``) a
    Ctrl-C typed at it still goes to the whole foreground group."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:  # no controlling terminal (a batch job, a daemon)
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


def _same_group(pid: int) -> bool:
    """True when process ``pid`` is in this process's group (a child started in its own group or session, by
    setsid or a launcher, gets no terminal Ctrl-C: it must be forwarded)."""
    try:
        return os.getpgid(pid) == os.getpgrp()
    except OSError:  # already gone
        return True


class _Signals:
    """wattprint run's signal handlers, installed before the run starts: a signal that comes before the command was
    started is kept (``early``) and acted on once it has been (forwarded) or instead of starting it, never lost
    and never the death of wattprint between the run's record and the command."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.received: list[int] = []
        self.early: list[int] = []
        self.previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (*_FORWARDED, *_PASSED_ON):
            with contextlib.suppress(ValueError, OSError):
                # ignored when we started (nohup: SIGHUP; a script's background job: SIGINT): the child ignores it
                # too, and it neither reaches it nor marks the run interrupted
                if signal.getsignal(sig) != signal.SIG_IGN:
                    self.previous[sig] = signal.signal(sig, self._forward)

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.child is None:
            self.early.append(signum)
        else:
            _send(self.child, signum)

    def ending(self) -> int | None:
        """The first signal received that ends the run (None if none)."""
        return next((sig for sig in self.received if sig in _FORWARDED), None)

    def started(self, child: subprocess.Popen[bytes]) -> None:
        """The command runs: from now on signals go to it, and so do those that came while it was being started
        (a warning that came before it could have set a handler for it would kill it: said, not sent)."""
        self.child = child
        if hasattr(os, "waitid") and sys.platform.startswith("linux"):  # a subreaper's orphans: see _reap_orphans
            with contextlib.suppress(ValueError, OSError):
                self.previous.setdefault(signal.SIGCHLD, signal.signal(signal.SIGCHLD, self._reap_orphans))
        while self.early:
            sig = self.early.pop(0)
            if sig in _FORWARDED:  # sent whatever the terminal: the command did not exist to get a Ctrl-C itself
                with contextlib.suppress(OSError):
                    child.send_signal(sig)
            else:
                with contextlib.suppress(OSError, ValueError):
                    print(f"wattprint: signal {sig} came before the command was started: not passed on",
                          file=sys.stderr, flush=True)

    def _reap_orphans(self, signum: int, frame: FrameType | None) -> None:
        """Reap the ended processes re-parented to wattprint (the child subreaper: _adopt_orphans), which would stay
        zombies, each holding a PID, until wattprint exits; never the command itself, whose status Popen.wait takes.
        Each ended process is looked at without being reaped (WNOWAIT) first, so the command's is left alone."""
        child = self.child
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or child is None or info.si_pid == child.pid:
                return  # none ended, or the command did: Popen.wait reaps it (any other left waits for the next)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(info.si_pid, os.WNOHANG)

    def after_the_command(self) -> None:
        for sig in self.previous:
            with contextlib.suppress(ValueError, OSError, TypeError):
                # orphans still reaped: one ending now is no signal to the run
                signal.signal(sig, self._reap_orphans if sig == signal.SIGCHLD else _after_the_command)

    def restore(self) -> None:
        for sig, prev in self.previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, prev)


def _send(child: subprocess.Popen[bytes], signum: int) -> None:
    # a terminal's Ctrl-C already went to the child when it shares our foreground group: not twice
    if signum in _FROM_TERMINAL and _foreground_tty() and _same_group(child.pid):
        return
    with contextlib.suppress(OSError):
        child.send_signal(signum)


def _after_the_command(signum: int, frame: FrameType | None) -> None:
    # the command has ended: a signal now would kill the report (and, with the store locked, the only copy
    # of the figures); the wait for the store is bounded, so say so and finish (not from inside another write)
    with contextlib.suppress(OSError, RuntimeError):
        print(f"wattprint: signal {signum} after the command ended: finishing the run's record and report",
              file=sys.stderr, flush=True)


def _command(args: argparse.Namespace) -> list[str]:
    """The command to run, as given after ``--``."""
    cmd = list(args.command)
    return cmd[1:] if cmd[:1] == ["--"] else cmd


def main(args: argparse.Namespace) -> int:
    cmd = _command(args)
    if not cmd:
        raise WattprintError("no command to run: wattprint run [options] -- command [args ...]")
    if not cmd[0].strip():  # `wattprint run -- "$CMD"` with CMD unset: a usage error, not a failed run
        raise WattprintError("the command's name is empty: wattprint run [options] -- command [args ...]")
    if args.interval is not None and not args.interval > 0:
        raise WattprintError(f"--interval must be > 0 seconds, got {args.interval:g}")
    from ..tracking import track

    run = track(args.project, args.run_id, db=args.db, interval_s=args.interval, location=args.location,
                pue=args.pue, intensity=args.intensity, handle_signals=False, meta={"command": cmd})
    signals = _Signals()
    signals.install()  # before the run's record is written: from then on a signal must end the run, not wattprint
    try:
        return _measure(args, run, cmd, signals)
    finally:
        signals.restore()


def _measure(args: argparse.Namespace, run: Any, cmd: list[str], signals: _Signals) -> int:
    started = time.time()
    run.start()  # a bad store, location or PUE fails here (exit 2) before the command starts
    early = signals.ending()
    if early is not None:  # e.g. Ctrl-C or a scheduler's SIGTERM while the devices were read: not started at all
        signals.after_the_command()
        run.outcome = {"exit_code": 128 + early, "signal": early}
        fp = run.stop("interrupted")
        print(f"wattprint: signal {early} came while the run started: the command was not run", file=sys.stderr,
              flush=True)
        _report(args, run, fp, 128 + early, early, started)
        return 128 + early
    _adopt_orphans()
    try:
        child = subprocess.Popen(cmd)
    except OSError as e:
        code = 127 if isinstance(e, FileNotFoundError) else 126
        run.outcome = {"exit_code": code, "signal": None}
        fp = run.stop("failed")
        print(f"wattprint: cannot run {cmd[0]!r}: {e.strerror or e}", file=sys.stderr, flush=True)
        _report(args, run, fp, code, None, started)
        return code
    signals.started(child)
    try:
        rc = child.wait()
    finally:
        signals.after_the_command()
    _note_what_still_runs(run)
    # a forwarded signal interrupted the command even when it then exited 0 (it handled the signal)
    status = "interrupted" if rc < 0 or signals.ending() is not None else ("finished" if rc == 0 else "failed")
    code = rc if rc >= 0 else 128 - rc  # what the shell reports for a child killed by signal N
    run.outcome = {"exit_code": code, "signal": -rc if rc < 0 else None}  # stored with the final summary
    fp = run.stop(status)
    _report(args, run, fp, code, -rc if rc < 0 else None, started)
    return code


# prctl option that makes this process the "child subreaper" of its descendants (linux/prctl.h, Linux 3.4+)
PR_SET_CHILD_SUBREAPER = 36


def _adopt_orphans() -> None:
    """Linux: a process the command starts whose parent exits (a daemonised or backgrounded helper) is re-parented
    to wattprint instead of init, so it stays in the tracked process tree (the CPU share charged to the run) and is
    seen if it still runs when the command ends. Elsewhere, or where prctl fails, nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _note_what_still_runs(run: Any) -> None:
    """Processes the command started that still run after it exited: the run ends with its command, as time(1)
    does, so what they do from now on is not measured; the run says so."""
    from ..devices.process import running_descendants

    try:
        left = running_descendants(os.getpid())
    except OSError:  # no procfs
        return
    if left:
        shown = ", ".join(map(str, left[:5])) + (" ..." if len(left) > 5 else "")
        what = f"{len(left)} processes the command started still run" if len(left) > 1 else \
            "1 process the command started still runs"
        run._note(f"{what} after it exited (PID {shown}): not measured from then on (the run ends with its command)")


def _report(args: argparse.Namespace, run: Any, fp: Any, code: int, signum: int | None, started: float) -> None:
    """The end of the run: the JSON summary on stdout (--json) or the footprint on stderr."""
    summary = run.summary()
    try:
        if args.json:
            from ..storage.sqlite import finite
            from ..tracking.context import software

            # the versions that measured it, as the stored run's meta has them (runs show --json)
            meta = {**software(), "command": _command(args)}
            from ..storage.export import RUN_KEYS

            record = {**summary, **_outcome(run, code, signum, started), "meta": meta}
            for key in RUN_KEYS:  # every key `runs show --json` gives (chip_hours of a run without GPUs: null)
                record.setdefault(key, None)
            # on a line of its own even when the command's output did not end with a newline (JSON parsers skip the
            # blank line otherwise left): the last line of stdout is always the summary
            text = json.dumps(finite(record), default=str, allow_nan=False)
            print("\n" + text, flush=True)
        else:
            _print_summary(run, summary, fp, code, signum)
    except OSError as e:  # the reader went away (`| head`) or the output's disk is full: the run is stored and the
        # command's status still counts
        if not isinstance(e, BrokenPipeError):
            with contextlib.suppress(OSError):
                print(f"wattprint: cannot write the run's report: {e.strerror or e}", file=sys.stderr, flush=True)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())


def _outcome(run: Any, code: int, signum: int | None, started: float) -> dict[str, Any]:
    """status, exit_code (as wattprint exits), signal (if the command died of one), started_at/ended_at (ISO 8601
    UTC), duration_s and stored: as the store holds them when the run was stored (a resumed run keeps its first
    start), else as this process measured them."""
    from ..storage.records import iso_utc

    snap = getattr(run.sampler, "snapshot", None)
    duration = snap.elapsed_s if snap is not None else None
    out: dict[str, Any] = {
        "status": run.status, "exit_code": code, "signal": signum,
        # the end of the measurement, not of this report (which may come after waiting for a locked store)
        "started_at": iso_utc(started),
        "ended_at": iso_utc(started + duration if duration is not None else time.time()),
        "duration_s": duration, "stored": not run.unsaved,
    }
    if run.unsaved and run.kept_in:  # written to the store at its next opening
        out["kept_in"] = run.kept_in
    url = getattr(run.store, "url", None)
    # the keys `runs show --json` gives a run, null where this process does not know them (not stored yet)
    out.update({"id": run.id, "damaged": None, "writer_gone": None, "updated_at": None})
    if url and not run.unsaved:
        with contextlib.suppress(Exception):  # the figures above stand; the record only makes the times exact
            from ..storage import open_store

            with open_store(url, readonly=True) as store:
                rec = store.get_run(run.id)
            out.update(status=rec.status, started_at=iso_utc(rec.started_at), ended_at=iso_utc(rec.ended_at),
                       duration_s=rec.duration_s, damaged=list(rec.damaged) or None,
                       updated_at=iso_utc(rec.updated_at) if rec.updated_at else None)
    return out


def _print_summary(run: Any, summary: dict[str, Any], fp: Any, code: int, signum: int | None) -> None:
    where = getattr(run.store, "path", None)
    status = run.status
    stored = ""
    if where and run.unsaved and run.kept_in:  # written to the store at its next opening to write
        stored = f", kept in {run.kept_in} (NOT stored in {where} yet: see the notes above)"
    elif where:
        stored = (f", NOT fully stored in {where} (see the notes above); the figures below are all that is left "
                  "of the measurement") if run.unsaved else f", stored in {where}"
    exit_text = f"exit {code}" + (f" (signal {signum})" if signum else "")
    lines = [f"wattprint: run {run.id} ({status}, {exit_text}) in project {run.project!r}{stored}", fp.table()]
    share = summary.get("process_share") or {}
    if share:
        from ..tracking.attribution import share_text

        lines.append(f"  process tree share of the machine's CPU: {share_text(share)}, reported beside the charged "
                     "energy above")
    print("\n".join(lines), file=sys.stderr, flush=True)
