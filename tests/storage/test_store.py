from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from wattprint.errors import InputConflictError, UnknownNameError
from wattprint.footprint import ComponentEnergy, Footprint, Intensity
from wattprint.quantities import Range
from wattprint.storage import SampleRow, Store, open_store

from .conftest import make_samples


def _summary(cpu_kwh: float) -> dict[str, object]:
    fp = Footprint({"cpu": ComponentEnergy(Range.exact(cpu_kwh), "modelled")}, Range(1.2, 1.1, 1.4),
                   Intensity.fixed(300), kind="measured")
    return {**fp.to_dict(), "process_share": {"cpu": 0.5}}


def test_round_trip_keeps_samples_totals_and_summary(store: Store, db: Path) -> None:
    t0 = time.time()
    rec = store.begin_run("r1", "proj", t0, {"host": "n1", "basis": {"cpu": "modelled"}})
    assert (rec.status, rec.duration_s, rec.energy_j) == ("running", 0.0, {})
    first, second = make_samples(0, 5), make_samples(5, 5, base_j=500)
    store.append_samples("r1", first, _summary(0.1))
    store.append_samples("r1", second, _summary(0.2))
    store.add_phase("r1", "train", 0.0, None, {})
    store.add_phase("r1", "train", 0.0, 8.0, {"cpu": 800.0})  # closing the phase updates it, no duplicate
    store.finish_run("r1", "finished", _summary(0.3))
    store.close()

    again = open_store(f"sqlite://{db}")
    run = again.get_run("r1")
    assert run.status == "finished" and run.ended_at is not None and run.ended_at >= t0
    assert run.duration_s == 10.0
    assert run.energy_j == second[-1].energy_j
    assert run.meta["host"] == "n1"
    assert again.samples("r1") == first + second
    assert again.phases("r1") == [{"name": "train", "start_s": 0.0, "end_s": 8.0, "energy_j": {"cpu": 800.0}}]
    d = run.to_dict()
    assert list(d)[:6] == ["id", "project", "status", "started_at", "ended_at", "duration_s"]
    assert d["started_at"].endswith("+00:00")
    assert math.isclose(d["it_energy_kwh"], 0.3) and math.isclose(d["energy_kwh"], 0.36)
    assert d["energy_by_component_kwh"]["cpu"]["basis"] == "modelled"
    for k in ("operational_co2e_kg", "embodied_co2e_kg", "total_co2e_kg"):
        assert d[k + "_low"] <= d[k] <= d[k + "_high"]
    assert d["process_share"] == {"cpu": 0.5}
    json.dumps(d, allow_nan=False)
    again.close()


def test_empty_summary_keeps_the_previous_one(store: Store) -> None:
    store.begin_run("r", "p", time.time(), {})
    store.append_samples("r", make_samples(0, 2), _summary(0.1))
    store.append_samples("r", make_samples(2, 2, base_j=200), {})
    run = store.get_run("r")
    assert math.isclose(run.summary["it_energy_kwh"], 0.1)
    assert run.duration_s == 4.0


def test_resume_continues_the_same_run_from_its_totals(store: Store) -> None:
    t0 = time.time()
    store.begin_run("job", "p", t0, {"host": "a"})
    store.append_samples("job", make_samples(0, 3), {})
    store.finish_run("job", "interrupted", {})
    rec = store.begin_run("job", "p", t0 + 100, {"host": "b"})  # preempted job restarts with the same id
    assert rec.status == "running" and rec.ended_at is None
    assert rec.started_at == t0  # the run keeps its original start
    assert rec.duration_s == 3.0 and rec.energy_j == {"cpu": 300.0, "ram": 0.3}
    assert rec.meta["resumed"] == 1 and rec.meta["host"] == "b" and rec.meta["status_before_resume"] == "interrupted"
    # the tracker continues elapsed time and cumulative energy from the returned totals
    store.append_samples("job", make_samples(rec.duration_s, 2, base_j=rec.energy_j["cpu"]), {})
    store.begin_run("job", "p", t0 + 200, {})
    run = store.get_run("job")
    assert run.meta["resumed"] == 2 and run.status == "running"
    assert run.duration_s == 5.0 and run.energy_j["cpu"] == 500.0
    assert len(store.samples("job")) == 5
    assert len(store.list_runs()) == 1


def test_resume_under_another_project_is_refused(store: Store) -> None:
    store.begin_run("job", "p", time.time(), {})
    with pytest.raises(InputConflictError, match="already exists in project 'p'"):
        store.begin_run("job", "other", time.time(), {})


def test_list_is_newest_first_with_project_and_limit(store: Store) -> None:
    t0 = time.time()
    for i, proj in enumerate(["a", "b", "a", "b", "a"]):
        store.begin_run(f"run{i}", proj, t0 + i, {})
    assert [r.id for r in store.list_runs()] == ["run4", "run3", "run2", "run1", "run0"]
    assert [r.id for r in store.list_runs(project="a", limit=2)] == ["run4", "run2"]
    assert store.list_runs(project="none") == []


def test_unknown_run_lists_closest_ids(store: Store) -> None:
    store.begin_run("bert-base-2024", "p", time.time(), {})
    for call in (lambda: store.get_run("bert-base-2025"), lambda: store.append_samples("bert-base-2025", [], {}),
                 lambda: store.finish_run("bert-base-2025", "finished", {})):
        with pytest.raises(UnknownNameError, match="bert-base-2024"):
            call()
    assert store.find_run("bert").id == "bert-base-2024"


def test_stored_run_is_the_record_or_none(store: Store) -> None:
    """The lookup for callers to whom a new id is the usual case: None for an unknown id, no error."""
    store.begin_run("bert-base-2024", "p", time.time(), {})
    rec = store.stored_run("bert-base-2024")
    assert rec is not None and rec.project == "p"
    assert rec == store.get_run("bert-base-2024")
    assert store.stored_run("bert-base-2025") is None
    with pytest.raises(InputConflictError):
        store.stored_run("\udcff")  # not text a run id can be: said, as get_run says it


def test_finish_rejects_unknown_status(store: Store) -> None:
    store.begin_run("r", "p", time.time(), {})
    with pytest.raises(InputConflictError):
        store.finish_run("r", "done", {})


def test_run_without_summary_reports_energy_from_totals(store: Store) -> None:
    store.begin_run("k", "p", time.time(), {"pue": {"value": 1.5, "low": 1.2, "high": 1.8},
                                             "basis": {"cpu": "measured"}})
    store.append_samples("k", [SampleRow(time.time(), 60.0, None, {"cpu": 3.6e6}, {"cpu": 60e3})], {})
    d = store.get_run("k").to_dict()
    assert d["it_energy_kwh"] == 1.0
    assert (d["energy_kwh"], d["energy_kwh_low"], d["energy_kwh_high"]) == (1.5, 1.2, 1.8)
    assert d["energy_by_component_kwh"]["cpu"] == {"kwh": 1.0, "kwh_low": 1.0, "kwh_high": 1.0, "basis": "measured"}
    assert d["energy_by_component_kwh_low"] == d["energy_by_component_kwh_high"] == {"cpu": 1.0}
    assert "no summary" in d["note"]


def test_missing_folders_are_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "runs.db"
    with open_store(f"sqlite://{target}") as s:
        s.begin_run("r", "p", time.time(), {})
    assert target.is_file()


def test_store_object_holds_no_samples(store: Store) -> None:
    store.begin_run("long", "p", time.time(), {})
    before = dict(vars(store))
    for k in range(50):
        store.append_samples("long", make_samples(k * 10, 10, base_j=k * 1000), {})
    assert vars(store).keys() == before.keys()
    assert store.sample_count("long") == 500


def test_phases_can_travel_with_the_samples(store: Store) -> None:
    store.begin_run("r", "p", time.time(), {})
    store.append_samples("r", make_samples(0, 3), {}, phases=[("eval", 1.0, None, {})])
    store.append_samples("r", make_samples(3, 3, base_j=300), {}, phases=[("eval", 1.0, 4.0, {"cpu": 300.0})])
    assert store.phases("r") == [{"name": "eval", "start_s": 1.0, "end_s": 4.0, "energy_j": {"cpu": 300.0}}]


def test_threads_share_one_store(store: Store) -> None:
    import threading

    def work(k: int) -> None:
        store.begin_run(f"t{k}", "p", time.time(), {})
        for b in range(20):
            store.append_samples(f"t{k}", make_samples(b * 5, 5, base_j=b * 500), {})
        store.finish_run(f"t{k}", "finished", {})

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(store.sample_count(f"t{k}") == 100 for k in range(4))


@pytest.mark.parametrize("folder", ["with space", "odd?#%chars"])
def test_paths_with_odd_characters(tmp_path: Path, folder: str) -> None:
    import sqlite3

    from wattprint.storage import StoreError

    d = tmp_path / folder
    with open_store(str(d / "runs.db")) as s:
        s.begin_run("r", "p", time.time(), {})
    with open_store(str(d / "runs.db")) as s:
        assert s.get_run("r").project == "p"
    c = sqlite3.connect(d / "other.db")
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()
    with pytest.raises(StoreError, match="tables t"):
        open_store(str(d / "other.db"))


def test_summary_patch_merges_fresh_figures_into_the_last_full_summary(store: Store) -> None:
    store.begin_run("p1", "proj", time.time(), {})
    full = {"energy_kwh": 1.0, "assumptions": [{"what": "pue"}],
            "energy_by_component_kwh": {"cpu": {"kwh": 1.0, "basis": "modelled"}}}
    store.append_samples("p1", [], full)
    store.append_samples("p1", [], None, summary_patch={"energy_kwh": 2.5,
                                                        "energy_by_component_kwh": {"cpu": {"kwh": 2.5}}})
    s = store.get_run("p1").summary
    assert s["energy_kwh"] == 2.5 and s["assumptions"] == [{"what": "pue"}]
    assert s["energy_by_component_kwh"]["cpu"] == {"kwh": 2.5, "basis": "modelled"}
    with pytest.raises(UnknownNameError):
        store.append_samples("nope", [], None, summary_patch={"energy_kwh": 1.0})


def test_one_statement_append_updates_totals_and_merges_the_patch(store: Store) -> None:
    store.begin_run("fast", "proj", time.time(), {})
    store.append_samples("fast", [], {"energy_kwh": 0.0, "assumptions": [{"what": "pue"}]})
    for i in range(1, 4):
        s = SampleRow(time.time(), float(i), None, {"cpu": 100.0 * i}, {"cpu": 100.0})
        store.append_samples("fast", [s], None, summary_patch={"energy_kwh": i / 10})
    run = store.get_run("fast")
    assert run.duration_s == 3.0 and run.energy_j == {"cpu": 300.0}
    assert run.summary["energy_kwh"] == 0.3 and run.summary["assumptions"] == [{"what": "pue"}]
    assert len(store.samples("fast")) == 3


def test_a_version_1_store_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    import sqlite3

    from wattprint.storage import schema

    # a store as the first schema wrote it: no `live` column, no trigger
    v1 = schema.CREATE.replace(schema.LIVE_TRIGGER, "")
    v1 = v1.replace(",           -- JSON: mean power", "            -- JSON: mean power")
    v1 = "\n".join(line for line in v1.splitlines() if not line.strip().startswith("live TEXT"))
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(v1 + f"PRAGMA application_id = {schema.APPLICATION_ID}; PRAGMA user_version = 1;")
    conn.executemany(f"INSERT INTO {schema.META_TABLE} (key, value) VALUES (?, ?)",
                     [("application", schema.APPLICATION_NAME), ("schema_version", "1")])
    conn.execute("INSERT INTO runs (id, project, status, started_at, updated_at) VALUES ('old', 'p', 'finished', 1, 1)")
    conn.commit()
    conn.close()
    with open_store(str(db)) as s:
        assert s.get_run("old").status == "finished"
        s.begin_run("old", "p", time.time(), {})
        s.append_samples("old", [SampleRow(time.time(), 5.0, None, {"cpu": 999.0}, {"cpu": 1.0})], None,
                         summary_patch={"it_energy_kwh": 0.2})
        run = s.get_run("old")
        assert run.duration_s == 5.0 and run.energy_j["cpu"] == 999.0 and run.summary["it_energy_kwh"] == 0.2
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION


def test_an_unbounded_projection_is_stored_as_null_and_later_writes_still_work(store: Store, db: Path) -> None:
    store.begin_run("inf", "proj", time.time(), {})
    summary = {**_summary(0.1), "projection": {"projected_energy_kwh_high": math.inf, "x": [math.nan, 1.0]}}
    store.append_samples("inf", make_samples(0, 3), summary)
    # the per-interval write patches the stored summary with SQLite's JSON functions
    store.append_samples("inf", make_samples(3, 3, base_j=300), None, summary_patch={"process_share": {"cpu": 0.4}})
    store.finish_run("inf", "finished", None)
    run = store.get_run("inf")
    assert run.duration_s == make_samples(3, 3, base_j=300)[-1].elapsed_s
    assert run.summary["projection"] == {"projected_energy_kwh_high": None, "x": [None, 1.0]}
    assert run.summary["process_share"] == {"cpu": 0.4}
    json.loads(json.dumps(run.to_dict(), allow_nan=False))


def test_names_that_are_not_utf8_and_huge_limits_are_user_errors(store: Store) -> None:
    store.begin_run("ok", "proj", time.time(), {})
    bad = b"x\xff".decode("utf-8", "surrogateescape")  # how argv carries such bytes
    for call in (lambda: store.begin_run(bad, "proj", time.time(), {}), lambda: store.begin_run("r", bad, 0.0, {}),
                 lambda: store.find_run(bad), lambda: store.get_run(bad), lambda: store.list_runs(project=bad)):
        with pytest.raises(InputConflictError, match="UTF-8"):
            call()
    assert [r.id for r in store.list_runs(limit=2**63)] == ["ok"]
