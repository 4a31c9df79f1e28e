"""Store.iter_runs: the runs of list_runs read a batch at a time, all of them (and what else is read meanwhile) as of
one moment, in one read transaction that ends when the iterator is exhausted or closed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wattprint.errors import InputConflictError
from wattprint.storage import Store, open_store
from wattprint.storage.queries import RUN_BATCH

from .conftest import make_samples


def test_iter_runs_gives_list_runs_in_either_order(store: Store) -> None:
    t0 = time.time()
    for i, proj in enumerate(["a", "b", "a", "b", "a", "a"]):
        store.begin_run(f"run{i}", proj, t0 + min(i, 4), {})  # run4 and run5 start together
    newest = [r.id for r in store.list_runs()]
    assert [r.id for r in store.iter_runs(newest_first=True)] == newest == ["run5", "run4", "run3", "run2", "run1",
                                                                           "run0"]
    assert [r.id for r in store.iter_runs()] == newest[::-1]  # oldest first
    assert [r.id for r in store.iter_runs(project="a", newest_first=True, limit=2)] == ["run5", "run4"]
    assert list(store.iter_runs(project="none")) == []
    with pytest.raises(InputConflictError, match="not valid UTF-8"):
        store.iter_runs(project="\udcff")  # said when asked, before any is read


def test_the_runs_are_read_as_of_one_moment_without_holding_writers_up(db: Path) -> None:
    t0 = time.time()
    n = 2 * RUN_BATCH + 5  # more than one batch
    with open_store(str(db)) as w, open_store(str(db), readonly=True) as reader:
        with w.transaction():
            for i in range(n):
                w.begin_run(f"r{i:04d}", "p", t0 + i, {})
        last = f"r{n - 1:04d}"
        w.add_phase(last, "train", 0.0, 2.0, {"cpu": 10.0})
        runs = reader.iter_runs()
        assert next(runs).id == "r0000"
        # written while the read goes on, through another connection: neither waits for the other
        w.begin_run("early", "p", t0 - 1, {})
        w.begin_run("late", "p", t0 + n, {})
        w.append_samples(last, make_samples(0.0, 3), None)
        w.add_phase(last, "eval", 2.0, 3.0, {"cpu": 5.0})
        rest = [next(runs) for _ in range(n - 1)]  # every run, the read not ended yet
        assert [r.id for r in rest] == [f"r{i:04d}" for i in range(1, n)]
        assert rest[-1].duration_s == 0.0  # as stored when the read began
        assert [p["name"] for p in reader.phases(last)] == ["train"]  # read meanwhile: as of the same moment
        assert list(runs) == []  # neither of the runs stored since; the read ends here
        ids = [r.id for r in reader.list_runs()]
        assert (len(ids), ids[0], ids[-1]) == (n + 2, "late", "early")
        assert reader.get_run(last).duration_s == 3.0
        assert [p["name"] for p in reader.phases(last)] == ["train", "eval"]


def test_a_read_closed_early_ends(db: Path) -> None:
    t0 = time.time()
    with open_store(str(db)) as w, open_store(str(db), readonly=True) as reader:
        for i in range(3):
            w.begin_run(f"r{i}", "p", t0 + i, {})
        runs = reader.iter_runs(newest_first=True)
        assert next(runs).id == "r2"
        runs.close()  # as contextlib.closing does when the reader stops (an error writing, ^C)
        w.begin_run("r3", "p", t0 + 3, {})
        assert [r.id for r in reader.iter_runs(newest_first=True, limit=1)] == ["r3"]
