"""`wattprint runs export -o FILE` writes to what FILE names as a Unix tool would, through real subprocesses: through a
symbolic link to its file, to a FIFO (never opened to read it), to an open descriptor (/proc/self/fd/N, /dev/fd/N:
bash's `>(cmd)`) and to /dev/null in place, never replacing them with a file; a regular file keeps its mode and its
hard links. Its JSON has the ranges `runs show --json` gives (chip_hours, the rates)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import select
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from wattprint.footprint import ComponentEnergy, Footprint, Intensity
from wattprint.quantities import Range
from wattprint.storage import SampleRow, open_store
from wattprint.storage.export import COLUMNS

# a guard against a hang (an export that waits on a FIFO forever), not a timing assertion
HANG_GUARD_S = 60


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "HOME": str(home), "WATTPRINT_STATE_DIR": str(home / "state"), "XDG_CONFIG_HOME": str(home)}
    for var in ("WATTPRINT_DB", "WATTPRINT_LOCATION", "WATTPRINT_PUE", "WATTPRINT_INTENSITY", "WATTPRINT_CONFIG"):
        env.pop(var, None)
    return env


def _export(db: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "wattprint", "runs", "export", "--db", str(db), *args],
                          capture_output=True, env=_env(db.parent), timeout=HANG_GUARD_S, **kw)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store of one finished GPU run whose chip-hours, energy and CO2e have ranges."""
    db = tmp_path / "runs.db"
    fp = Footprint({"gpu": ComponentEnergy(Range(1e-3, 0.9e-3, 1.2e-3), "measured")}, Range.exact(1.2),
                   Intensity.fixed(300), kind="measured", chip_hours=Range(0.5, 0.4, 0.6)).to_dict()
    with open_store(str(db)) as s:
        t0 = time.time() - 50
        s.begin_run("r1", "p", t0, {"host": "node-1"})
        s.append_samples("r1", [SampleRow(t0 + 5, 5.0, None, {"gpu": 3600.0}, {"gpu": 720.0})], fp)
        s.finish_run("r1", "finished", fp, ended_at=t0 + 10)
    return db


@pytest.fixture
def expected(store: Path, tmp_path: Path) -> bytes:
    """The export's bytes, as written to a new regular file."""
    out = tmp_path / "expected.csv"
    r = _export(store, "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def _leftovers(folder: Path) -> list[Path]:
    return list(folder.glob(".wattprint-export-*"))


def test_a_symbolic_link_is_written_through_not_replaced(store: Path, expected: bytes, tmp_path: Path) -> None:
    target = tmp_path / "target.csv"
    target.write_text("old export\n", encoding="utf-8")
    (tmp_path / "lnk").mkdir()
    link = tmp_path / "lnk" / "link.csv"
    link.symlink_to("../target.csv")
    dangling = tmp_path / "lnk" / "new.csv"  # a link to a file not there yet: the file is made, as `>` makes it
    dangling.symlink_to("../new-target.csv")
    for name, real in ((link, target), (dangling, tmp_path / "new-target.csv")):
        r = _export(store, "-o", str(name))
        assert r.returncode == 0, r.stderr
        assert name.is_symlink() and real.read_bytes() == expected, name
    assert not _leftovers(tmp_path) and not _leftovers(tmp_path / "lnk")


def test_a_file_keeps_its_mode_and_its_hard_links(store: Path, expected: bytes, tmp_path: Path) -> None:
    private = tmp_path / "private.csv"
    private.write_text("old export\n", encoding="utf-8")
    private.chmod(0o600)
    shared = tmp_path / "shared.csv"
    shared.write_text("old export\n", encoding="utf-8")
    shared.chmod(0o640)
    for out, mode in ((private, 0o600), (shared, 0o640)):
        r = _export(store, "-o", str(out))
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(out.stat().st_mode) == mode and out.read_bytes() == expected

    first = tmp_path / "a.csv"
    first.write_text("old export\n", encoding="utf-8")
    other = tmp_path / "b.csv"
    os.link(first, other)
    inode = first.stat().st_ino
    r = _export(store, "-o", str(first))
    assert r.returncode == 0, r.stderr
    assert first.stat().st_ino == inode and first.stat().st_nlink == 2  # still one file under two names
    assert other.read_bytes() == expected
    assert not _leftovers(tmp_path)


def test_a_failed_export_leaves_a_hard_linked_file_as_it_was(tmp_path: Path) -> None:
    """A file with other names is rewritten in place, but only once the export is whole beside it."""
    from tests.cli.test_runs_export_streams import _fill

    db = tmp_path / "runs.db"
    _fill(db, 400)
    data = bytearray(db.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    at = data.index(b"run-00300bulk")  # a run's row, far past the first runs read
    data[at - at % page_size] = 0xFF  # its page's type: no page SQLite knows ("database disk image is malformed")
    db.write_bytes(bytes(data))
    out = tmp_path / "runs.csv"
    out.write_text("old export\n", encoding="utf-8")
    os.link(out, tmp_path / "also.csv")
    r = _export(db, "-o", str(out))
    assert r.returncode == 2 and b"Traceback" not in r.stderr, r.stderr
    assert out.read_text(encoding="utf-8") == "old export\n" and out.stat().st_nlink == 2
    assert not _leftovers(tmp_path)


def _let_go(fifo: Path) -> None:
    """A reader still waiting for a writer (the export never opened the FIFO) is given one, so that it ends."""
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_a_fifo_with_a_reader_gets_the_export(store: Path, expected: bytes, tmp_path: Path) -> None:
    fifo = tmp_path / "runs.fifo"
    os.mkfifo(fifo)
    got: dict[str, bytes] = {}

    def read() -> None:
        with open(fifo, "rb") as fh:
            got["bytes"] = fh.read()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        r = _export(store, "-o", str(fifo))  # it once opened the FIFO to read its first bytes: forever
    finally:
        _let_go(fifo)
        reader.join(HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and got["bytes"] == expected  # the FIFO is still one
    assert not _leftovers(tmp_path)


def test_a_fifo_without_a_reader_waits_for_one_and_says_so(store: Path, expected: bytes, tmp_path: Path) -> None:
    """Opening a FIFO to write waits for a reader, as for any Unix tool (`mkfifo f; wattprint runs export -o f &
    cat f` must not fail on who opens it first); the wait is said on stderr, so that it does not read as a hang."""
    fifo = tmp_path / "runs.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([sys.executable, "-m", "wattprint", "runs", "export", "--db", str(store), "-o", str(fifo)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path))
    try:
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], HANG_GUARD_S)
        assert ready, "nothing said while waiting"
        assert b"waiting for a process to read the FIFO" in proc.stderr.readline()
        with open(fifo, "rb") as fh:
            assert fh.read() == expected
        assert proc.wait(HANG_GUARD_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def _export_to_a_pipe(store: Path, tmp_path: Path, name: str, *extra: str) -> bytes:
    """What `runs export -o NAME` (``{fd}`` in NAME: the write end of a pipe it inherits) writes into the pipe."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "wattprint", "runs", "export", "--db", str(store), *extra,
                                 "-o", name.format(fd=write_end)], pass_fds=(write_end,),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path))
    finally:
        os.close(write_end)
    with open(read_end, "rb") as pipe:
        got = pipe.read()
    _, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 0, err
    return got


def test_an_open_descriptor_is_written_to_as_the_shell_left_it(store: Path, expected: bytes, tmp_path: Path) -> None:
    """/proc/self/fd/N (what /dev/stdout and /dev/fd/N link to) is the descriptor itself: a pipe gets the export,
    and stdout appended to a file gets it after what the file held (as `-o -`), the file not replaced."""
    assert _export_to_a_pipe(store, tmp_path, "/proc/self/fd/{fd}") == expected

    log = tmp_path / "log.txt"
    log.write_text("before\n", encoding="utf-8")
    link = tmp_path / "stdout-link"  # as /dev/stdout is
    link.symlink_to("/proc/self/fd/1")
    with open(log, "ab") as fh:
        r = subprocess.run([sys.executable, "-m", "wattprint", "runs", "export", "--db", str(store), "-o", str(link)],
                           stdout=fh, stderr=subprocess.PIPE, env=_env(tmp_path), timeout=HANG_GUARD_S)
    assert r.returncode == 0, r.stderr
    assert log.read_bytes() == b"before\n" + expected and link.is_symlink()


def test_device_and_descriptor_names_are_told_apart_without_writing_anything() -> None:
    from wattprint.output_file import resolve_output

    assert resolve_output("/dev/stdout").descriptor == 1 and resolve_output("/dev/stderr").descriptor == 2
    assert resolve_output("/dev/fd/63").descriptor == 63  # bash's >(cmd)
    assert resolve_output(f"/proc/{os.getpid()}/fd/5").descriptor == 5
    null = resolve_output("/dev/null")
    assert null.descriptor is None and not null.is_regular and null.refusal() is None


def test_dev_null_and_dev_fd_are_written_in_place(store: Path, tmp_path: Path) -> None:
    """Only with the fix: the old export replaced /dev/null with a regular file (as root). Its module is the guard:
    without it this test stops here, before any export to /dev/null."""
    from wattprint.output_file import resolve_output

    assert stat.S_ISCHR(os.stat("/dev/null").st_mode) and not resolve_output("/dev/null").is_regular
    r = _export(store, "-o", "/dev/null")
    assert r.returncode == 0 and r.stdout == b"", r.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # still the device

    got = _export_to_a_pipe(store, tmp_path, "/dev/fd/{fd}", "--format", "json")
    assert [r["id"] for r in json.loads(got)] == ["r1"]


def test_a_folder_and_a_socket_are_refused(store: Path, tmp_path: Path) -> None:
    import socket

    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        for name, why in ((tmp_path, "is a folder"), (sock_path, "is a socket")):
            r = _export(store, "-o", str(name))
            assert r.returncode == 2 and why.encode() in r.stderr and r.stderr.count(b"\n") == 1, r.stderr
        assert stat.S_ISSOCK(os.lstat(sock_path).st_mode)


def test_export_json_has_the_ranges_and_the_damaged_type_of_runs_show(store: Path, tmp_path: Path) -> None:
    shown = subprocess.run([sys.executable, "-m", "wattprint", "runs", "show", "r1", "--json", "--db", str(store)],
                           capture_output=True, text=True, env=_env(tmp_path), timeout=HANG_GUARD_S)
    assert shown.returncode == 0, shown.stderr
    show = json.loads(shown.stdout)
    r = _export(store, "--format", "json")
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert list(row) == list(COLUMNS)
    for key in ("chip_hours", "it_mean_power_w", "operational_co2e_g_per_h", "total_co2e_g_per_h"):
        for end in ("", "_low", "_high"):
            assert show[key + end] is not None and row[key + end] == pytest.approx(show[key + end]), key + end
    for end in ("", "_low", "_high"):
        assert row[f"gpu_mean_power_w{end}"] == pytest.approx(show[f"mean_power_w{end}"]["gpu"])
        assert row[f"cpu_mean_power_w{end}"] is None  # not measured: null, as any field a run lacks
    assert row["chip_hours_low"] < row["chip_hours"] < row["chip_hours_high"]
    assert row["damaged"] is None and show["damaged"] is None

    r = _export(store)  # the CSV has a column for each JSON key, the same figures in it
    assert r.returncode == 0, r.stderr
    (cells,) = csv.DictReader(io.StringIO(r.stdout.decode()))
    assert list(cells) == list(COLUMNS)
    assert float(cells["chip_hours_high"]) == pytest.approx(row["chip_hours_high"])
    assert float(cells["total_co2e_g_per_h_low"]) == pytest.approx(row["total_co2e_g_per_h_low"])

