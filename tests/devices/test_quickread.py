"""read_at: the GIL-holding pread of the sampler's small reads gives what os.pread gives."""

from __future__ import annotations

import errno
import os
import sys
import threading
from pathlib import Path

import pytest

from wattprint.devices import quickread
from wattprint.devices.quickread import read_at


def test_same_bytes_as_os_pread(tmp_path: Path) -> None:
    p = tmp_path / "state"
    p.write_bytes(b"0123456789" * 1000)
    fd = os.open(p, os.O_RDONLY)
    try:
        for size, offset in ((1, 0), (10, 5), (4096, 0), (20000, 0), (100, 9990), (100, 10000), (100, 20000)):
            assert read_at(fd, size, offset) == os.pread(fd, size, offset)
        p.write_bytes(b"changed")  # same inode rewritten: the next read sees it (no caching)
        assert read_at(fd, 100) == b"changed"
    finally:
        os.close(fd)


def test_offsets_beyond_32_bits(tmp_path: Path) -> None:
    """The offset reaches libc as a 64-bit off_t (a truncated one would read the zeros at 1 GiB)."""
    p = tmp_path / "sparse"
    fd = os.open(p, os.O_RDWR | os.O_CREAT)
    try:
        far = 5 * 2**30 + 7  # 5 GiB: sparse, nothing written below it but the marker at 1 GiB + 7
        os.pwrite(fd, b"low", 2**30 + 7)
        os.pwrite(fd, b"far away", far)
        assert read_at(fd, 8, far) == b"far away"
        assert read_at(fd, 3, 2**30 + 7) == b"low"
    finally:
        os.close(fd)


def test_procfs_first_line() -> None:
    if not os.path.exists("/proc/stat"):
        pytest.skip("no procfs")
    fd = os.open("/proc/stat", os.O_RDONLY)
    try:
        assert read_at(fd, 4096).split(b"\n", 1)[0].split()[0] == b"cpu"
        assert read_at(fd, 4096).startswith(b"cpu ")  # offset 0 again: procfs regenerates it
    finally:
        os.close(fd)


def test_bad_descriptor_is_oserror(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "x", os.O_WRONLY | os.O_CREAT)
    os.close(fd)
    with pytest.raises(OSError) as e:
        read_at(fd, 10)
    assert e.value.errno == errno.EBADF


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the libc path is set up on Linux")
def test_linux_uses_the_gil_holding_libc_path() -> None:
    quickread._load()
    assert quickread._read is not os.pread


def test_threads_reading_at_once_get_their_own_bytes(tmp_path: Path) -> None:
    """Read buffers are reused per thread: two threads reading different files of one size never mix."""
    fds = []
    for name, fill in (("a", b"a"), ("b", b"b")):
        (tmp_path / name).write_bytes(fill * 300)
        fds.append(os.open(tmp_path / name, os.O_RDONLY))
    bad: list[bytes] = []

    def reader(fd: int, want: bytes) -> None:
        for _ in range(2000):
            got = read_at(fd, 512)
            if got != want:
                bad.append(got)

    threads = [threading.Thread(target=reader, args=(fd, c * 300)) for fd, c in zip(fds, (b"a", b"b"), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for fd in fds:
        os.close(fd)
    assert bad == []
