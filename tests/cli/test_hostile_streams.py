"""The CLI under streams it does not choose: a stdout whose encoding lacks characters of the output, stderr closed
(`2>&-`) or unwritable (`2>/dev/full`), and --help to a full disk. The data still reaches stdout (and only the
data), and the exit code says what happened to the command, not to its diagnostics. Real subprocesses."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

WP = [sys.executable, "-m", "wattprint"]
TRAIN = ["estimate", "training", "--params", "7B", "--tokens", "1T", "--hardware", "H100", "--count", "8"]


def _wattprint(*args: str, env: dict[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*WP, *args], capture_output=True, timeout=120, env={**os.environ, **(env or {})},
                          **kw)  # type: ignore[call-overload]


def _with_stderr_closed(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*WP, *args], stdout=subprocess.PIPE, preexec_fn=lambda: os.close(2), timeout=120)


def _with_stderr_on_a_full_disk(*args: str) -> subprocess.CompletedProcess[bytes]:
    with open("/dev/full", "w") as full:
        return subprocess.run([*WP, *args], stdout=subprocess.PIPE, stderr=full, timeout=120)


def test_a_stdout_without_the_outputs_characters_shows_them_replaced() -> None:
    """PYTHONIOENCODING=ascii (or a Latin-1 locale): the table's en dashes ended the command with a
    UnicodeEncodeError traceback, after part of the output."""
    r = _wattprint(*TRAIN, env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 0, r.stderr
    assert b"Traceback" not in r.stderr
    assert b"total" in r.stdout and b"?" in r.stdout


def test_with_stderr_closed_errors_do_not_go_to_stdout() -> None:
    """fd 2 closed: Python has no sys.stderr and print(file=sys.stderr) wrote to stdout, into the --json data."""
    r = _with_stderr_closed(*TRAIN[:-4], "--hardware", "TPU", "--json")
    assert r.returncode == 2
    assert r.stdout == b""


def test_an_unwritable_stderr_changes_no_exit_code() -> None:
    """2>/dev/full: the error's print raised inside the handler of the error, and the exit code became 1."""
    assert _with_stderr_on_a_full_disk(*TRAIN[:-4], "--hardware", "nope").returncode == 2
    ok = _with_stderr_on_a_full_disk(*TRAIN, "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)


def test_help_that_cannot_be_written_is_an_error_as_any_output_is() -> None:
    """argparse ignores a failed write: --help and --version to a full disk exited 0 with nothing written."""
    for flag in ("--help", "--version"):
        with open("/dev/full", "w") as full:
            r = subprocess.run([*WP, flag], stdout=full, stderr=subprocess.PIPE, timeout=120)
        assert r.returncode == 1, flag
        assert b"cannot write the output" in r.stderr and b"Traceback" not in r.stderr
    piped = subprocess.run(f"{shlex.join(WP)} --help | head -1", shell=True, capture_output=True, timeout=120)
    assert piped.returncode == 0 and piped.stdout.startswith(b"usage:") and piped.stderr == b""
