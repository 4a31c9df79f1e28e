"""The fake powercap tree that tracker tests drive from a thread: a reader that keeps ``energy_uj`` open (as the
RAPL reader does) sees every update and never a partial number."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.devices.fakes.powercap import FakePowercap

ADDS = 5_000
MAX_READS = 100_000  # the reader stops there and lets the writer finish


def test_a_counter_advanced_from_a_thread_reads_whole_and_increasing(tmp_path: Path) -> None:
    pc = FakePowercap(tmp_path)
    zone = pc.add_package(0, subdomains=())
    fd = os.open(pc.energy_file(zone), os.O_RDONLY)  # opened once, like the reader
    done = threading.Event()

    def advance() -> None:
        for _ in range(ADDS):
            pc.add(zone, 0.001)
        done.set()

    writer = threading.Thread(target=advance)
    writer.start()
    seen: list[bytes] = []
    try:
        while not done.is_set() and len(seen) < MAX_READS:
            seen.append(os.pread(fd, 32, 0))
        writer.join()
        seen.append(os.pread(fd, 32, 0))  # the last update reaches the open file too
    finally:
        writer.join()
        os.close(fd)
    bad = [raw for raw in seen if not raw.strip().isdigit()]
    assert not bad, bad[:3]
    values = [int(raw) for raw in seen]
    assert values == sorted(values) and values[-1] == ADDS * 1000
