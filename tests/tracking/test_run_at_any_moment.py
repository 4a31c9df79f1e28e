"""`wattprint run` when a signal, a clock step or a hostile environment comes at a bad moment: a signal while the run
starts or while the command is being started, signals beyond INT/TERM/HUP, a wall clock stepped back, stderr closed
or unwritable, a removed working directory, and strict EncodingWarning checks. The run's stored status tells the
truth, the command is never left running without wattprint, and the exit code is the command's (128 + N for a
signal). Real subprocesses and SQLite files; the signal is sent by the process itself at the moment under test."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from wattprint.storage import open_store

WP = [sys.executable, "-m", "wattprint"]

# `wattprint run` with a signal sent to itself right after Run.start() has written the run's record (argv[1]: the
# signal's name), before the command is started
SIGNAL_AFTER_START = """
import os, signal, sys
import wattprint.tracking.run as tracked
start = tracked.Run.start
def start_then_signal(self, *a, **k):
    out = start(self, *a, **k)
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    return out
tracked.Run.start = start_then_signal
from wattprint.cli import main
sys.exit(main(sys.argv[2:]))
"""

# ... sent once the command's process exists, before subprocess.Popen has returned it (argv[2]: where its pid goes)
SIGNAL_IN_POPEN = """
import os, signal, subprocess, sys
class Popen(subprocess.Popen):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        open(sys.argv[2], "w").write(str(self.pid))
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
subprocess.Popen = Popen
from wattprint.cli import main
sys.exit(main(sys.argv[3:]))
"""

# ... with the wall clock stepped back an hour once the command has started (NTP, a VM resumed)
CLOCK_STEPPED_BACK = """
import subprocess, sys, time
real = time.time
step = [0.0]
def stepped():
    return real() + step[0]
time.time = stepped
time.time_ns = lambda: int(stepped() * 1e9)
class Popen(subprocess.Popen):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        step[0] = -3600.0
subprocess.Popen = Popen
from wattprint.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stored(db: Path, run_id: str) -> str:
    return open_store(str(db)).get_run(run_id).status


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_while_the_run_starts_ends_it_interrupted_and_the_command_is_not_run(tmp_path: Path,
                                                                                      name: str) -> None:
    """Before: SIGINT became a KeyboardInterrupt that the CLI turned into exit 130, and the exit hook stored the run
    `finished`; SIGTERM killed wattprint and left it `running`."""
    db, marker = tmp_path / "runs.db", tmp_path / "ran"
    r = subprocess.run([sys.executable, "-c", SIGNAL_AFTER_START, name, "run", "--db", str(db), "--run", "early",
                        "--json", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
                       capture_output=True, text=True, timeout=120)
    signum = getattr(signal, name)
    assert r.returncode == 128 + signum, r.stderr
    assert not marker.exists()
    assert _stored(db, "early") == "interrupted"
    d = json.loads(r.stdout.strip().splitlines()[-1])
    assert d["status"] == "interrupted" and d["exit_code"] == 128 + signum and d["stored"] is True
    assert "the command was not run" in r.stderr and "Traceback" not in r.stderr


def test_a_warning_signal_while_the_run_starts_is_not_passed_to_a_command_that_cannot_handle_it_yet(
        tmp_path: Path) -> None:
    """Before: SIGUSR1 killed wattprint and left the run `running`."""
    db, marker = tmp_path / "runs.db", tmp_path / "ran"
    r = subprocess.run([sys.executable, "-c", SIGNAL_AFTER_START, "SIGUSR1", "run", "--db", str(db), "--run", "usr",
                        "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert marker.exists() and _stored(db, "usr") == "finished"
    assert f"signal {int(signal.SIGUSR1)} came before the command was started: not passed on" in r.stderr


def test_a_signal_while_the_command_is_being_started_reaches_it(tmp_path: Path) -> None:
    """Before: a SIGTERM between the command's start and the handlers' installation killed wattprint, and the
    command ran on, unmeasured and orphaned."""
    db, pid_file = tmp_path / "runs.db", tmp_path / "pid"
    p = subprocess.Popen([sys.executable, "-c", SIGNAL_IN_POPEN, "SIGTERM", str(pid_file), "run", "--db", str(db),
                          "--run", "popen", "--", sys.executable, "-c", "import time; time.sleep(60)"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 128 + signal.SIGTERM, err
        assert _stored(db, "popen") == "interrupted"
        assert not _alive(int(pid_file.read_text()))
    finally:
        if pid_file.exists() and _alive(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _command_waiting_for(sig: signal.Signals, ready: Path, got: Path) -> str:
    """A command that says (in ``got``) it received ``sig`` and then exits 0."""
    return ("import os, signal, sys, time\n"
            f"signal.signal({int(sig)}, lambda *a: (open({str(got)!r}, 'w'), sys.exit(0)))\n"
            f"open({str(ready)!r}, 'w').write(str(os.getpid()))\n"
            "time.sleep(60)\n")


def _run_and_signal(tmp_path: Path, sig: signal.Signals) -> tuple[int, str, bool]:
    """`wattprint run` of :func:`_command_waiting_for` sent ``sig`` once the command is ready: (exit code, stored
    status, whether the command got the signal)."""
    db, ready, got = tmp_path / "runs.db", tmp_path / "ready", tmp_path / "got"
    p = subprocess.Popen([*WP, "run", "--db", str(db), "--run", "sig", "--", sys.executable, "-c",
                          _command_waiting_for(sig, ready, got)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        p.send_signal(sig)
        code = p.wait(timeout=60)
        return code, _stored(db, "sig"), got.exists()
    finally:
        if ready.exists() and ready.read_text() and _alive(int(ready.read_text())):
            os.kill(int(ready.read_text()), signal.SIGKILL)
        if p.poll() is None:
            p.kill()


@pytest.mark.parametrize("sig", [signal.SIGUSR1, signal.SIGUSR2])
def test_a_warning_signal_is_passed_on_and_the_run_goes_on(tmp_path: Path, sig: signal.Signals) -> None:
    """SLURM's --signal=USR1@60 warns a job before its time limit. Before: it killed wattprint, the command was
    orphaned and the run left `running`. Now the command gets it and the run ends as the command does."""
    assert _run_and_signal(tmp_path, sig) == (0, "finished", True)


@pytest.mark.parametrize("sig", [signal.SIGQUIT, signal.SIGALRM])
def test_a_signal_that_ends_a_process_is_forwarded_and_the_run_is_interrupted(tmp_path: Path,
                                                                              sig: signal.Signals) -> None:
    assert _run_and_signal(tmp_path, sig) == (0, "interrupted", True)


def test_run_help_lists_the_forwarded_signals() -> None:
    r = subprocess.run([*WP, "run", "--help"], capture_output=True, text=True, timeout=60)
    assert all(name in r.stdout for name in ("SIGQUIT", "SIGALRM", "SIGUSR1", "SIGUSR2"))


def test_a_wall_clock_stepped_back_during_the_run_does_not_end_it_before_it_started(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    r = subprocess.run([sys.executable, "-c", CLOCK_STEPPED_BACK, "run", "--db", str(db), "--run", "cj", "--interval",
                        "0.1", "--json", "--", sys.executable, "-c", "pass"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout.strip().splitlines()[-1])
    started, ended = datetime.fromisoformat(d["started_at"]), datetime.fromisoformat(d["ended_at"])
    assert started <= ended
    assert (ended - started).total_seconds() == pytest.approx(d["duration_s"], abs=1.0)
    rec = open_store(str(db)).get_run("cj")
    assert rec.ended_at is not None and rec.started_at <= rec.ended_at


def test_stderr_closed_or_unwritable_leaves_stdout_to_the_data_and_the_exit_code_to_the_command(
        tmp_path: Path) -> None:
    """2>&-: the notes, the error and the footprint table went to stdout. 2>/dev/full: `cannot run` raised, the JSON
    summary was never printed and the exit code was 1, not 127."""
    cmd = [*WP, "run", "--db", str(tmp_path / "runs.db"), "--json", "--", "wattprint-no-such-command-xyz"]
    closed = subprocess.run(cmd, stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2), text=True, timeout=120)
    with open("/dev/full", "w") as full:
        unwritable = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=full, text=True, timeout=120)
    for r in (closed, unwritable):
        assert r.returncode == 127
        d = json.loads(r.stdout)  # the whole of stdout: the summary alone
        assert d["status"] == "failed" and d["exit_code"] == 127


def test_a_removed_working_directory_needs_only_an_absolute_store_path(tmp_path: Path) -> None:
    """Before: a traceback from os.getcwd() (the config file lookup), even with an absolute --db."""
    gone = tmp_path / "gone"
    gone.mkdir()
    wp, where = shlex.join(WP), shlex.quote(str(gone))
    script = (f"cd {where} && rmdir {where} && {wp} run --db {shlex.quote(str(tmp_path / 'runs.db'))} --run abs -- true"
              f" && {wp} run --db rel.db -- true")
    r = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert _stored(tmp_path / "runs.db", "abs") == "finished"
    assert "'rel.db' is relative to the working directory, which no longer exists" in r.stderr
    assert "Traceback" not in r.stderr


def test_no_file_is_read_in_the_locales_encoding(tmp_path: Path) -> None:
    """PEP 597: `python -X warn_default_encoding -W error` failed in the device detection (/proc files)."""
    r = subprocess.run([sys.executable, "-X", "warn_default_encoding", "-W", "error", "-m", "wattprint", "run",
                        "--db", str(tmp_path / "runs.db"), "--", sys.executable, "-c", "pass"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


_EARLY_SIGNAL_UNDER_A_TERMINAL = r"""
import os, signal, subprocess, sys
from wattprint.cli.run import _Signals, _foreground_tty
assert _foreground_tty(), "not in the terminal's foreground group"
s = _Signals()
s.install()
s._forward(signal.SIGINT, None)  # a Ctrl-C while the command was being started: it did not exist to get it itself
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
s.started(child)
try:
    print("child", child.wait(timeout=10), flush=True)
except subprocess.TimeoutExpired:
    child.kill()
    print("child never got it", flush=True)
"""


def test_a_ctrl_c_before_the_command_existed_reaches_it_even_in_a_terminal() -> None:
    import pty
    import select

    pid, fd = pty.fork()  # a session of its own whose controlling terminal is the pty: as typed at a shell
    if pid == 0:  # pragma: no cover - the child process
        os.execv(sys.executable, [sys.executable, "-c", _EARLY_SIGNAL_UNDER_A_TERMINAL])
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert f"child {-signal.SIGINT}" in text, text


def test_a_terminal_is_recognised_with_all_three_streams_redirected(tmp_path: Path) -> None:
    # `wattprint run -- cmd </dev/null >log 2>&1` at a shell: a Ctrl-C still goes to the whole foreground group, so
    # the child already has it and must not get it a second time through wattprint
    import pty

    result = tmp_path / "fg.txt"
    code = ("import os, sys\nfrom wattprint.cli.run import _foreground_tty\nnull = os.open(os.devnull, os.O_RDWR)\n"
            "for fd in (0, 1, 2):\n    os.dup2(null, fd)\n"
            f"open({str(result)!r}, 'w').write(str(_foreground_tty()))\n")
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child process
        os.execv(sys.executable, [sys.executable, "-c", code])
    os.waitpid(pid, 0)
    os.close(fd)
    assert result.read_text() == "True"
