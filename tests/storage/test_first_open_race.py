"""Several ranks opening a store that does not exist yet, at the same instant (the first torchrun job)."""

import multiprocessing as mp


def _opener(path, barrier, q):
    from wattprint.storage import open_store

    barrier.wait()
    try:
        open_store(path).close()
        q.put(None)
    except Exception as e:  # report, the parent asserts
        q.put(repr(e))


def test_concurrent_first_open_never_fails(tmp_path):
    ctx = mp.get_context("spawn")
    errors = []
    for i in range(12):
        path = str(tmp_path / f"runs-{i}.db")
        barrier, q = ctx.Barrier(3), ctx.Queue()
        procs = [ctx.Process(target=_opener, args=(path, barrier, q)) for _ in range(3)]
        for p in procs:
            p.start()
        errors += [r for r in (q.get(timeout=60) for _ in procs) if r]
        for p in procs:
            p.join(60)
    assert errors == []
