"""A store on a full device is said to be on a full device (not "not a wattprint store", which invites deleting
it), and is still listed; a store in a read-only folder whose -wal holds writes not merged into the file (no -shm
beside it) shows those writes, never an empty store. Real SQLite files, real subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wattprint.storage import SampleRow, open_store
from wattprint.storage.opening import store_problem

WP = [sys.executable, "-m", "wattprint"]
TMPFS_SIZE = "256k"  # room for a small store, and little enough to fill in a moment


def _cli(*args: str, prefix: tuple[str, ...] = (), tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp)} if tmp else None
    return subprocess.run([*prefix, *WP, *args], capture_output=True, text=True, timeout=120, env=env)


def _store_with_run(db: Path, run_id: str) -> sqlite3.Connection:
    """A store holding ``run_id``, still open: its last transaction is in the -wal until it is closed."""
    with open_store(str(db)) as store:
        store.begin_run(run_id, "p", time.time(), {})
        store.append_samples(run_id, [SampleRow(time.time(), 1.0, None, {"cpu": 10.0}, {"cpu": 10.0})], None)
    # held open, so the WAL is not merged into the file at close (as by a process killed before it closed the store)
    keep = sqlite3.connect(str(db), isolation_level=None)
    keep.execute("PRAGMA wal_autocheckpoint = 0")
    keep.execute("UPDATE runs SET project = 'in-the-wal' WHERE id = ?", (run_id,))
    return keep


@pytest.fixture
def small_device(tmp_path: Path) -> Iterator[Path]:
    """A folder on a tmpfs of TMPFS_SIZE (root only)."""
    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(folder)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _fill(folder: Path) -> Path:
    """Write to ``folder`` until its device is full; the file that filled it."""
    fill = folder / "fill"
    with open(fill, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 1024)
    return fill


def test_a_full_device_is_said_so_the_store_is_kept_and_still_listed(small_device: Path, tmp_path: Path) -> None:
    db = small_device / "runs.db"
    _store_with_run(db, "first").close()
    fill = _fill(small_device)
    marker = tmp_path / "ran"
    r = _cli("run", "--db", str(db), "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert f"no space left on the device holding {db}" in r.stderr, r.stderr
    assert "not a wattprint store" not in r.stderr  # before: "<db> is not a wattprint store (disk I/O error)"
    listed = _cli("runs", "list", "--json", "--db", str(db))  # a read needs no space
    assert listed.returncode == 0, listed.stderr
    assert [d["id"] for d in json.loads(listed.stdout)] == ["first"]
    fill.unlink()
    again = _cli("runs", "list", "--json", "--db", str(db))
    assert again.returncode == 0 and [d["project"] for d in json.loads(again.stdout)] == ["in-the-wal"]


def test_a_disk_io_error_on_a_device_with_room_is_not_called_a_foreign_file(tmp_path: Path) -> None:
    problem = store_problem(str(tmp_path / "runs.db"), sqlite3.OperationalError("disk I/O error"))
    assert problem is not None
    assert f"could not read {tmp_path / 'runs.db'}: disk I/O error" in str(problem)
    assert "not a wattprint store" not in str(problem)


def test_writes_in_the_wal_of_a_store_in_a_read_only_folder_without_its_shm_are_read(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    keep = _store_with_run(src / "runs.db", "k1")
    folder = tmp_path / "ro"  # a copy that left the "temporary" -shm out, as some backups do
    folder.mkdir()
    for name in ("runs.db", "runs.db-wal"):
        shutil.copyfile(src / name, folder / name)
    keep.close()
    assert (folder / "runs.db-wal").stat().st_size > 0 and not (folder / "runs.db-shm").exists()
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root writes anywhere: drop that privilege for the child
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv")
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner")
    before = sorted(os.listdir(folder))
    tmp = tmp_path / "tmp"  # where the copy read is made, and removed
    tmp.mkdir()
    folder.chmod(0o555)
    try:
        listed = _cli("runs", "list", "--json", "--db", str(folder / "runs.db"), prefix=prefix, tmp=tmp)
        shown = _cli("runs", "show", "k1", "--json", "--db", str(folder / "runs.db"), prefix=prefix, tmp=tmp)
    finally:
        folder.chmod(0o755)
    # before: the file alone was read (immutable=1 ignores the -wal): "no runs stored", exit 0
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    assert [(d["id"], d["project"]) for d in json.loads(listed.stdout)] == [("k1", "in-the-wal")]
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == "k1", shown.stderr
    assert sorted(os.listdir(folder)) == before and list(tmp.iterdir()) == []
