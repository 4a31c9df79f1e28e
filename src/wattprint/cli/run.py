"""``wattprint run [options] -- command ...``: run a command as a child process and measure all of it.

The whole command and every process it starts are measured (the tracked tree is this process and its
descendants). SIGINT and SIGTERM are forwarded to the child; wattprint exits with the child's exit code
(128 + N if the child died of signal N) and prints the footprint to stderr at the end (``--json``: the
stored summary as one JSON line on stdout instead). Status: ``finished`` (exit 0), ``failed`` (non-zero),
``interrupted`` (killed by a signal, or a signal was forwarded).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from types import FrameType
from typing import Any

from ..errors import WattprintError

_FORWARDED: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a command and measure its energy and CO2e",
        description=(__doc__ or "").split("\n\n")[0],
        usage="wattprint run [--project P] [--run ID] [--db URL] [--interval S] [--location L] [--pue X] "
        "[--intensity G] [--json] -- command [args ...]",
    )
    p.add_argument("--project", default="default", help="project name (default: default)")
    p.add_argument("--run", dest="run_id", default=None, help="run id; an existing id resumes that run")
    p.add_argument("--db", default=None, help="store URL sqlite:///abs/path.db or a path (default: $WATTPRINT_DB, "
                   "the config file's db, or ~/.local/share/wattprint/wattprint.db)")
    p.add_argument("--interval", type=float, default=None, help="sampling interval in seconds (default 1)")
    p.add_argument("--location", default=None, help="where it runs: country (FRA), region (US-CA), aws:us-east-1 ...")
    p.add_argument("--pue", default=None, help="PUE number (>= 1) or preset (hyperscale, cloud, enterprise, ...)")
    p.add_argument("--intensity", type=float, default=None, help="grid intensity in gCO2e/kWh (overrides location)")
    p.add_argument("--json", action="store_true", help="print the run's summary as JSON on stdout")
    p.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    p.set_defaults(handler=main)


def _foreground_tty() -> bool:
    """True when this process is in the terminal's foreground group: a Ctrl-C there reaches the child too."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def main(args: argparse.Namespace) -> int:
    cmd = list(args.command)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise WattprintError("no command to run: wattprint run [options] -- command [args ...]")
    if args.interval is not None and not args.interval > 0:
        raise WattprintError(f"--interval must be > 0 seconds, got {args.interval:g}")
    from ..tracking import track

    run = track(args.project, args.run_id, db=args.db, interval_s=args.interval, location=args.location,
                pue=args.pue, intensity=args.intensity, handle_signals=False, meta={"command": cmd})
    run.start()  # a bad store, location or PUE fails here (exit 2) before the command starts

    try:
        child = subprocess.Popen(cmd)
    except OSError as e:
        run.stop("failed")
        print(f"wattprint: cannot run {cmd[0]!r}: {e.strerror or e}", file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126

    forwarded: list[int] = []
    previous: dict[int, Any] = {}

    def forward(signum: int, frame: FrameType | None) -> None:
        forwarded.append(signum)
        # a terminal's Ctrl-C already went to the child (same foreground group): do not deliver it twice
        if signum == signal.SIGINT and _foreground_tty():
            return
        with contextlib.suppress(OSError):
            child.send_signal(signum)

    for sig in _FORWARDED:
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, forward)
    try:
        rc = child.wait()
    finally:
        for sig, prev in previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, prev)

    status = "finished" if rc == 0 else ("interrupted" if rc < 0 or forwarded else "failed")
    fp = run.stop(status)
    summary = run.summary()
    try:
        if args.json:
            from ..storage.sqlite import finite

            # on a line of its own even when the command's output did not end with a newline (JSON parsers skip the
            # blank line otherwise left): the last line of stdout is always the summary
            text = json.dumps(finite({**summary, "stored": not run.unsaved}), default=str, allow_nan=False)
            print("\n" + text, flush=True)
        else:
            _print_summary(run, summary, fp, rc)
    except BrokenPipeError:  # the reader went away (`| head`): the run is stored, the command's status still counts
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.dup2(devnull, sys.stderr.fileno())
    return rc if rc >= 0 else 128 - rc


def _print_summary(run: Any, summary: dict[str, Any], fp: Any, rc: int) -> None:
    where = getattr(run.store, "path", None)
    status = run.status
    stored = ""
    if where:
        stored = (f", NOT fully stored in {where} (see the notes above); the figures below are all that is left "
                  "of the measurement") if run.unsaved else f", stored in {where}"
    lines = [f"wattprint: run {run.id} ({status}, exit {rc}) in project {run.project!r}{stored}", fp.table()]
    share = summary.get("process_share") or {}
    if share:
        lines.append(
            f"  process tree share of the machine's CPU: {share.get('cpu_share', 0):.1%} "
            f"({share.get('cpu_time_s', 0):.3g} CPU-s of {share.get('host_busy_cpu_s', 0):.3g} busy CPU-s), "
            "reported beside the charged energy above"
        )
    print("\n".join(lines), file=sys.stderr, flush=True)
