"""`wattprint runs list|show` through a real subprocess: exit codes, JSON shape, errors on bad stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wattprint.footprint import ComponentEnergy, Footprint, Intensity
from wattprint.quantities import Range
from wattprint.storage import SampleRow, open_store

REQUIRED = ("id", "status", "started_at", "duration_s", "energy_kwh", "it_energy_kwh", "energy_by_component_kwh",
            "operational_co2e_kg", "embodied_co2e_kg", "total_co2e_kg")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattprint", "runs", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    db = tmp_path / "runs.db"
    fp = Footprint({"gpu": ComponentEnergy(Range.exact(2.0), "measured"),
                    "cpu": ComponentEnergy(Range(0.5, 0.4, 0.6), "modelled")},
                   Range(1.1, 1.05, 1.2), Intensity.fixed(400), embodied_co2e_kg=Range(1.0, 0.5, 2.0), kind="measured")
    t0 = time.time()
    with open_store(str(db)) as s:
        for i, proj in enumerate(["nlp", "vision", "nlp"]):
            rid = f"run-{i}"
            s.begin_run(rid, proj, t0 + i, {})
            s.append_samples(rid, [SampleRow(t0 + i + 10, 10.0, None, {"gpu": 7.2e6, "cpu": 1.8e6},
                                             {"gpu": 300.0, "cpu": 50.0})],
                             {**fp.to_dict(), "process_share": {"cpu": 0.25}})
        s.finish_run("run-0", "finished", fp.to_dict())
    return db


def test_list_json_newest_first_with_required_fields(filled: Path) -> None:
    r = _cli("list", "--json", "--db", f"sqlite://{filled}")
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)
    assert [d["id"] for d in runs] == ["run-2", "run-1", "run-0"]
    for d in runs:
        for k in REQUIRED:
            assert k in d
        assert d["energy_by_component_kwh"]["gpu"]["basis"] == "measured"
        assert d["energy_kwh"] == pytest.approx(2.75)
    assert runs[-1]["status"] == "finished" and runs[0]["status"] == "running"
    only = json.loads(_cli("list", "--json", "--db", str(filled), "--project", "nlp", "--limit", "1").stdout)
    assert [d["id"] for d in only] == ["run-2"]


def test_list_table_and_show(filled: Path) -> None:
    r = _cli("list", env={"WATTPRINT_DB": str(filled)})
    assert r.returncode == 0 and "run-1" in r.stdout and "vision" in r.stdout
    r = _cli("show", "run-0", "--db", str(filled))
    assert r.returncode == 0, r.stderr
    assert "gpu energy (IT, measured)" in r.stdout and "total CO2e" in r.stdout
    d = json.loads(_cli("show", "run-0", "--json", "--db", str(filled)).stdout)
    assert isinstance(d, dict) and d["id"] == "run-0"
    assert d["status"] == "finished" and d["ended_at"] is not None
    for k in REQUIRED:
        assert k in d
    d = json.loads(_cli("show", "run-1", "--json", "--db", str(filled)).stdout)
    assert d["process_share"] == {"cpu": 0.25} and d["ended_at"] is None
    r = _cli("show", "run-1", "--db", str(filled))
    assert "process-tree share" in r.stdout and "cpu 0.25" in r.stdout


def test_unknown_run_is_exit_2_with_closest_ids(filled: Path) -> None:
    r = _cli("show", "run-9", "--db", str(filled))
    assert r.returncode == 2
    assert "unknown run 'run-9'" in r.stderr and "run-0" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("text", ["xyzzy", "%", "\U0001f4a5"])
def test_an_unknown_run_close_to_no_id_shows_the_newest_ids(filled: Path, text: str) -> None:
    """Nothing is close to 'xyzzy': the error showed no id at all, as if the store were empty."""
    r = _cli("show", text, "--db", str(filled))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "valid names include run-2, run-1, run-0" in r.stderr


def test_not_a_store_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_bytes(b"these are my notes, not a database\n" * 10)
    before = bad.read_bytes()
    for args in (("list", "--json"), ("show", "x")):
        r = _cli(*args, "--db", str(bad))
        assert r.returncode == 2 and str(bad) in r.stderr and "Traceback" not in r.stderr
    assert bad.read_bytes() == before


def test_postgres_url_is_exit_2(tmp_path: Path) -> None:
    r = _cli("list", "--db", "postgresql://u@h/db")
    assert r.returncode == 2 and "PostgreSQL support is not available yet" in r.stderr


def test_reading_a_missing_default_store_creates_nothing(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "WATTPRINT_DB": ""}
    r = _cli("list", "--json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = _cli("show", "abc", env=env)
    assert r.returncode == 2 and "wattprint.db" in r.stderr
    assert not (tmp_path / "xdg").exists()


def test_a_named_store_that_does_not_exist_is_exit_2_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo" / "runs.db"
    for args, env in ((("list", "--db", str(missing)), None), (("show", "x"), {"WATTPRINT_DB": str(missing)})):
        r = _cli(*args, env=env)
        assert r.returncode == 2 and f"no wattprint store at {missing}" in r.stderr and "Traceback" not in r.stderr
    assert not missing.parent.exists()


def test_a_missing_store_with_runs_kept_beside_it_says_they_wait_and_how_they_get_stored(tmp_path: Path) -> None:
    """Before, a named store deleted under a run said only "the file does not exist", hiding the run kept in
    <store>.unsaved/: now each reader says it waits there (exit 2 as before), and the next run on it stores it."""
    from wattprint.storage.spill import spill_run

    db = tmp_path / "d.db"
    spill_run(str(db), "r1", record={"project": "p", "started_at": time.time() - 60, "meta": {}},
              samples=[SampleRow(time.time() - 59, 1.0, None, {"cpu": 50.0}, {"cpu": 50.0})], phases=[], summary=None,
              patch=None, status="finished", ended_at=None)
    for args in (("list",), ("show", "r1"), ("export",)):
        r = _cli(*args, "--db", str(db))
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert f"no wattprint store at {db}: the file does not exist" in r.stderr, r.stderr
        assert f"1 run(s) wait in {db}.unsaved" in r.stderr and "the next `wattprint run`" in r.stderr, r.stderr
    assert not db.exists()  # reading made nothing
    r = _cli("show", "r1", env={"XDG_DATA_HOME": str(tmp_path / "xdg"), "WATTPRINT_DB": ""})  # the default store
    assert r.returncode == 2 and "1 run(s) wait in" not in r.stderr  # it has none waiting
    p = subprocess.run([sys.executable, "-m", "wattprint", "run", "--db", str(db), "--", sys.executable, "-c", ""],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    r = _cli("list", "--json", "--db", str(db))  # as said: the next run stored it
    assert r.returncode == 0 and "r1" in [d["id"] for d in json.loads(r.stdout)] and "wait in" not in r.stderr


def test_a_default_store_that_does_not_exist_yet_says_the_runs_kept_for_it(tmp_path: Path) -> None:
    from wattprint.storage.spill import spill_run

    xdg = tmp_path / "xdg"
    spill_run(str(xdg / "wattprint" / "wattprint.db"), "r1", record={"project": "p", "started_at": 1.7e9, "meta": {}},
              samples=[], phases=[], summary=None, patch=None, status="finished", ended_at=None)
    r = _cli("show", "r1", env={"XDG_DATA_HOME": str(xdg), "WATTPRINT_DB": ""})
    store = xdg / "wattprint" / "wattprint.db"
    assert r.returncode == 2 and f"run 'r1' is not in the store {store} yet: it is kept in {store}.unsaved/" \
        in r.stderr, r.stderr


def test_showing_a_run_kept_beside_an_existing_store_says_it_waits_there_and_how_to_store_it(tmp_path: Path) -> None:
    """The store exists but the run is not in it yet (the store was locked when it ended): `runs show` said
    "1 run(s) wait in ...", then "error: unknown run 'r9'". Now it says that this run is kept there, in which file, and
    how it gets stored; the command it gives stores it (and makes no run of its own)."""
    import shlex

    from wattprint.storage.spill import spill_run

    db = tmp_path / "s.db"
    with open_store(str(db)):
        pass
    path = spill_run(str(db), "r9-long-id", record={"project": "p", "started_at": 1.7e9, "meta": {}},
                     samples=[SampleRow(1.7e9 + 1, 1.0, None, {"cpu": 50.0}, {"cpu": 50.0})], phases=[],
                     summary=None, patch=None, status="finished", ended_at=None)
    for asked in ("r9-long-id", "r9"):  # as runs show takes a unique prefix
        r = _cli("show", asked, "--db", str(db))
        assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr, r.stderr
        said = r.stderr.strip()
        assert said.startswith(f"wattprint: error: run 'r9-long-id' is not in the store {db} yet: it is kept in {path} "
                               "(the store was locked, full, or deleted or replaced under it, when it ended) and is "
                               "stored when a process next opens the store to write: the next `wattprint run` or "
                               "tracked run on it, or now: "), said
        assert "unknown run" not in said and "\n" not in said
    assert _cli("show", "x9", "--db", str(db)).stderr.count("unknown run 'x9'") == 1  # another id: unknown, as before
    command = said.split("or now: ", 1)[1]
    assert shlex.split(command)[0] == sys.executable
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not Path(path).exists()
    r = _cli("show", "r9", "--db", str(db))
    assert r.returncode == 0 and "r9-long-id" in r.stdout and r.stderr == "", r.stderr
    assert [d["id"] for d in json.loads(_cli("list", "--json", "--db", str(db)).stdout)] == ["r9-long-id"]


def test_showing_a_stored_run_whose_last_samples_wait_beside_the_store_says_so(tmp_path: Path) -> None:
    """Its figures end where the store's do, its status 'running': that the rest waits was said nowhere."""
    from wattprint.storage.spill import spill_run

    db = tmp_path / "s.db"
    with open_store(str(db)) as s:
        s.begin_run("r10", "p", 1.7e9, {})
        s.append_samples("r10", [SampleRow(1.7e9 + 10, 10.0, None, {"cpu": 500.0}, {"cpu": 50.0})], None)
        s.begin_run("r1", "p", 1.7e9 + 1, {})
    path = spill_run(str(db), "r10", record=None, samples=[SampleRow(1.7e9 + 20, 20.0, None, {"cpu": 1000.0},
                                                                     {"cpu": 50.0})],
                     phases=[], summary=None, patch=None, status="finished", ended_at=1.7e9 + 20)
    r = _cli("show", "r10", "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert f"its last samples and end are kept in {path}, not in the store yet: stored when a process next opens the " \
           "store to write" in r.stdout, r.stdout
    assert "kept in" not in _cli("show", "r1", "--db", str(db)).stdout  # not the run whose id the other's begins with


def test_an_empty_selection_says_what_was_selected_and_limit_is_at_least_one(filled: Path) -> None:
    r = _cli("list", "--db", str(filled), "--project", "visoin")  # no run has it: a typo, as an unknown run id is
    assert r.returncode == 2 and r.stdout == "" and r.stderr.strip() == (
        f"wattprint: error: unknown project 'visoin'; closest valid names: vision (store {filled})")
    r = _cli("list", "--db", str(filled), "--limit", "0")  # listed nothing and said "no runs stored"
    assert r.returncode == 2 and "must be >= 1" in r.stderr
    # written as other counts are (1e3 was refused as "not a whole number")
    many = json.loads(_cli("list", "--json", "--db", str(filled), "--limit", "1e3").stdout)
    assert len(many) == len(json.loads(_cli("list", "--json", "--db", str(filled)).stdout))
    r = _cli("list", "--db", str(filled), "--limit", "2.5")
    assert r.returncode == 2 and "not a whole number" in r.stderr


def test_a_store_in_a_folder_this_user_may_not_write_is_still_read(filled: Path) -> None:
    import shutil

    folder = filled.parent
    assert not Path(f"{filled}-shm").exists()  # closed cleanly: SQLite would have to create it to read WAL
    before = filled.read_bytes()
    cmd = [sys.executable, "-m", "wattprint", "runs", "list", "--json", "--db", str(filled)]
    if os.geteuid() == 0:  # root writes anywhere: drop that privilege for the child
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", *cmd]
    folder.chmod(0o555)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    finally:
        folder.chmod(0o755)
    assert r.returncode == 0, r.stderr
    assert [d["id"] for d in json.loads(r.stdout)] == ["run-2", "run-1", "run-0"]
    assert filled.read_bytes() == before and not Path(f"{filled}-shm").exists()


def test_runs_are_read_from_the_store_the_config_file_names(filled: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "wattprint.toml").write_text(f'db = "{filled}"\n')
    env = {k: v for k, v in os.environ.items() if k != "WATTPRINT_DB"}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"))
    r = subprocess.run([sys.executable, "-m", "wattprint", "runs", "list", "--json"], capture_output=True, text=True,
                       env=env, cwd=work, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [d["id"] for d in json.loads(r.stdout)] == ["run-2", "run-1", "run-0"]


def test_a_run_whose_end_waits_beside_the_store_does_not_read_as_killed(tmp_path: Path) -> None:
    """A run that ended (finished) but whose final write the store refused (locked, full) read `running*` with "its
    process on this host is gone (killed?)": it gets its own mark saying its end waits in <store>.unsaved/ and how it
    gets stored; `--json` keeps `writer_gone` and adds `kept_in` (as `wattprint run --json` names the file)."""
    from wattprint.storage.spill import spill_run

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    meta = {"pid": int(dead.stdout), "host": os.uname().nodename}  # its process ended: gone, as after any run
    db = tmp_path / "s.db"
    with open_store(str(db)) as s:
        for rid in ("ended", "killed"):
            s.begin_run(rid, "p", 1.7e9, meta)
            s.append_samples(rid, [SampleRow(1.7e9 + 10, 10.0, None, {"cpu": 500.0}, {"cpu": 50.0})], None)
    path = spill_run(str(db), "ended", record=None, samples=[SampleRow(1.7e9 + 20, 20.0, None, {"cpu": 1000.0},
                                                                       {"cpu": 50.0})],
                     phases=[], summary=None, patch=None, status="finished", ended_at=1.7e9 + 20)

    listed = _cli("list", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    status = {line.split()[0]: line.split()[2] for line in listed.stdout.splitlines()[1:3]}
    assert status == {"ended": "running+", "killed": "running*"}, listed.stdout
    assert f"+ it ended, but the store refused its last write (locked or full): its last samples and end wait in " \
           f"{db}.unsaved/" in listed.stdout and "stored when a process next opens the store to write" in listed.stdout
    assert "* its process on this host is gone (killed?)" in listed.stdout  # the killed one still says so

    shown = _cli("show", "ended", "--db", str(db))
    assert shown.returncode == 0, shown.stderr
    assert any(line.split() == ["status", "running+"] for line in shown.stdout.splitlines()), shown.stdout
    assert "killed?" not in shown.stdout, shown.stdout
    assert f"+ it ended (finished), but the store refused its last write (locked or full); its last samples and end " \
           f"are kept in {path}, not in the store yet" in shown.stdout, shown.stdout

    as_json = json.loads(_cli("show", "ended", "--json", "--db", str(db)).stdout)
    assert as_json["writer_gone"] is True and as_json["kept_in"] == path
    assert list(as_json)[list(as_json).index("status") + 1] == "writer_gone"  # beside the status, as before
    by_id = {d["id"]: d for d in json.loads(_cli("list", "--json", "--db", str(db)).stdout)}
    assert by_id["ended"]["kept_in"] == path and "kept_in" not in by_id["killed"]

    with open_store(str(db)):  # opening it to write stores the end: then it reads as it ended
        pass
    after = _cli("show", "ended", "--json", "--db", str(db))
    assert json.loads(after.stdout)["status"] == "finished" and "kept_in" not in json.loads(after.stdout)
