"""Several processes write their own runs to one fresh store at the same time; nothing is lost."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from wattprint.storage import SampleRow, open_store

WRITERS = 4
BATCHES = 40
PER_BATCH = 5


def _writer(db: str, k: int, go: object) -> None:
    go.wait()  # type: ignore[attr-defined]  # all start together, including creating the store
    store = open_store(db)
    rid = f"rank{k}"
    store.begin_run(rid, "ddp", time.time(), {"rank": k})
    n = 0
    for b in range(BATCHES):
        rows = []
        for _ in range(PER_BATCH):
            n += 1
            rows.append(SampleRow(time.time(), float(n), None, {"gpu": 10.0 * n}, {"gpu": 10.0}))
        store.append_samples(rid, rows, {"batch": b})
        store.add_phase(rid, "step", float(b), float(b + 1), {"gpu": 1.0})
    store.finish_run(rid, "finished", {"done": True})
    store.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "shared" / "node.db")
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(db, k, go)) for k in range(WRITERS)]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    with open_store(db) as store:
        runs = store.list_runs()
        assert sorted(r.id for r in runs) == [f"rank{k}" for k in range(WRITERS)]
        total = BATCHES * PER_BATCH
        for r in runs:
            assert r.status == "finished" and r.summary == {"done": True}
            assert r.duration_s == total and r.energy_j == {"gpu": 10.0 * total}
            samples = store.samples(r.id)
            assert [s.elapsed_s for s in samples] == [float(i) for i in range(1, total + 1)]
            assert len(store.phases(r.id)) == BATCHES


def test_the_wal_is_cut_back_after_a_long_reader_has_let_it_grow(tmp_path: Path) -> None:
    """A reader holding one transaction stops checkpoints, so the -wal file grows while a run writes on; once the
    reader is gone and a checkpoint has merged it, the file is cut back (journal_size_limit). It stayed at its
    largest size (61 MB in a probe) until the last writer closed."""
    import sqlite3

    from wattprint.storage.opening import WAL_KEEP_BYTES

    db = tmp_path / "w.db"
    store = open_store(str(db))
    store.begin_run("long", "p", time.time(), {})
    wal = Path(f"{db}-wal")
    reader = sqlite3.connect(str(db), isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM samples").fetchone()  # a read snapshot held open
    n = 0
    big = {"note": "x" * 6000}  # a run summary of some kB, as a tracked run's is, rewritten at each write
    while wal.stat().st_size < 3 * WAL_KEEP_BYTES:
        n += 1
        store.append_samples("long", [SampleRow(time.time(), float(n), None, {"cpu": float(n)}, {"cpu": 1.0})], big)
    reader.execute("COMMIT")
    reader.close()
    for _ in range(2000):  # writes go on: an automatic checkpoint merges the WAL, the next write restarts it
        n += 1
        store.append_samples("long", [SampleRow(time.time(), float(n), None, {"cpu": float(n)}, {"cpu": 1.0})], big)
        if wal.stat().st_size <= WAL_KEEP_BYTES:
            break
    assert wal.stat().st_size <= WAL_KEEP_BYTES
    store.finish_run("long", "finished", {})
    store.close()
