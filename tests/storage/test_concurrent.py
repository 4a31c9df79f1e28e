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
