"""``wattprint run`` and tracked processes as real subprocesses: exit codes, signals, SIGKILL, several per node."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.devices.fakes.powercap import FakePowercap
from wattprint.storage import open_store

WP = [sys.executable, "-m", "wattprint"]


def wattprint_run(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WP, "run", *args], capture_output=True, text=True, timeout=120, **kw)  # type: ignore[call-overload]


def wait_for_run(db: Path, timeout: float = 30.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if db.exists():
            try:
                runs = open_store(str(db)).list_runs()
            except Exception:
                runs = []
            if runs and runs[0].duration_s > 0:
                return runs[0].id
        time.sleep(0.05)
    raise AssertionError("the tracked run never appeared in the store")


def test_exit_code_json_summary_and_stored_run(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    r = wattprint_run("--project", "cli", "--run", "r1", "--interval", "0.1", "--pue", "1.2", "--location", "FRA",
                      "--json", "--", sys.executable, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)")
    assert r.returncode == 3, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["run_id"] == "r1" and summary["pue"] == 1.2
    rec = open_store(str(db)).get_run("r1")
    assert rec.status == "failed" and rec.meta["command"][0] == sys.executable
    assert rec.duration_s >= 0.3

    ok = wattprint_run("--run", "r2", "--", sys.executable, "-c", "print('hello')")
    assert ok.returncode == 0 and "hello" in ok.stdout
    assert "run r2 (finished, exit 0)" in ok.stderr and "total CO2e" in ok.stderr


def test_bad_store_exits_2_before_running_the_command(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("my notes, not a database\n" * 20)
    marker = tmp_path / "ran"
    r = wattprint_run("--db", str(bad), "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert r.returncode == 2
    assert str(bad) in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists() and bad.read_text().startswith("my notes")
    none = wattprint_run("--")
    assert none.returncode == 2 and "no command" in none.stderr


def test_sigterm_is_forwarded_and_the_run_is_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    child = ("import signal, sys, time\n"
             "signal.signal(signal.SIGTERM, lambda *a: (print('child got SIGTERM', flush=True), sys.exit(7)))\n"
             "time.sleep(60)\n")
    p = subprocess.Popen([*WP, "run", "--run", "t1", "--interval", "0.1", "--", sys.executable, "-c", child],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_run(db)
    time.sleep(0.5)  # let the child install its handler
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert "child got SIGTERM" in out
    assert p.returncode == 7  # the child's own exit code
    assert open_store(str(db)).get_run("t1").status == "interrupted"


def test_a_signal_ignored_when_wattprint_started_stays_ignored(tmp_path: Path) -> None:
    """nohup wattprint run -- CMD: a SIGHUP (the terminal closed) was caught, forwarded and counted, so a command
    that ran to its end with exit 0 was stored as interrupted."""
    db = tmp_path / "runs.db"
    p = subprocess.Popen([*WP, "run", "--run", "nh", "--interval", "0.1", "--", sys.executable, "-c",
                          "import time; time.sleep(1.5)"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))  # what nohup does
    wait_for_run(db)
    p.send_signal(signal.SIGHUP)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert open_store(str(db)).get_run("nh").status == "finished"


def test_child_killed_by_signal_gives_128_plus_n(tmp_path: Path) -> None:
    suicide = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    r = wattprint_run("--run", "k1", "--", sys.executable, "-c", suicide)
    assert r.returncode == 128 + signal.SIGKILL
    assert open_store(str(tmp_path / "runs.db")).get_run("k1").status == "interrupted"


TRACKED_SCRIPT = """
import sys, time, wattprint
run = wattprint.track("crash", run=sys.argv[1], interval_s=0.1, quiet=True).start()
print("started", flush=True)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    pass
run.stop()
"""


def test_sigkill_leaves_a_running_run_readable_up_to_its_last_sample(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    p = subprocess.Popen([sys.executable, "-c", TRACKED_SCRIPT, "victim", "4"], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "started"
    t_started = time.monotonic()
    time.sleep(2.0)  # half time
    p.kill()
    p.wait(timeout=10)
    alive_s = time.monotonic() - t_started
    show = subprocess.run([*WP, "runs", "show", "victim", "--json", "--db", str(db)], capture_output=True, text=True,
                          timeout=60)
    assert show.returncode == 0, show.stderr
    d = json.loads(show.stdout)
    assert d["status"] == "running"  # reads as unfinished
    assert alive_s - 0.5 <= d["duration_s"] <= alive_s + 0.1  # at most one interval (plus scheduling) lost
    assert d["it_energy_kwh"] > 0 and d["energy_by_component_kwh"]["cpu"]["kwh"] > 0
    assert len(open_store(str(db)).samples("victim")) >= 10
    # the table tells it from a live run: its process is gone
    listed = subprocess.run([*WP, "runs", "list", "--db", str(db)], capture_output=True, text=True, timeout=60)
    row = next(x for x in listed.stdout.splitlines() if x.startswith("victim"))
    assert "running*" in row and "process on this host is gone" in listed.stdout, listed.stdout


def test_sigterm_in_a_tracked_python_process_flushes_and_dies_as_before(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    p = subprocess.Popen([sys.executable, "-c", TRACKED_SCRIPT, "termed", "30"], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "started"
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == -signal.SIGTERM  # the default action still happens
    rec = open_store(str(db)).get_run("termed")
    assert rec.status == "interrupted" and rec.duration_s >= 0.4


BUSY = "import time\nend = time.time() + 3\nwhile time.time() < end:\n    pass\n"


def test_four_concurrent_runs_on_one_node_add_up_to_the_node_energy(tmp_path: Path) -> None:
    """Four `wattprint run` on one fake powercap tree: their charged CPU energies add up to the tree's energy
    over the same time (within 5 %), not four times it."""
    sysfs = tmp_path / "sys"
    pc = FakePowercap(sysfs)
    zone = pc.add_package(0, subdomains=())
    rate_w = 40.0
    t0 = time.time()
    stop = threading.Event()
    energy_file = pc.energy_file(zone)

    def heat() -> None:  # the "CPU": energy_uj = rate x time since t0, every 10 ms
        # in place, as sysfs does (readers keep the file open), in one fixed-width write: never a torn value
        fd = os.open(energy_file, os.O_WRONLY)
        try:
            while not stop.is_set():
                os.pwrite(fd, f"{round((time.time() - t0) * rate_w * 1e6):020d}\n".encode(), 0)
                stop.wait(0.01)
        finally:
            os.close(fd)

    heater = threading.Thread(target=heat, daemon=True)
    heater.start()
    env = {**os.environ, "WATTPRINT_SYSFS_ROOT": str(sysfs)}
    db = tmp_path / "runs.db"
    try:
        procs = [subprocess.Popen([*WP, "run", "--project", "node", "--run", f"rank{i}", "--interval", "0.2",
                                   "--db", str(db), "--", sys.executable, "-c", BUSY],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for i in range(4)]
        errs = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        stop.set()
        heater.join()
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errs
    runs = [open_store(str(db)).get_run(f"rank{i}") for i in range(4)]
    assert all(r.summary["energy_by_component_kwh"]["cpu"]["basis"] == "measured" for r in runs)
    charged = [r.energy_j["cpu"] for r in runs]
    start = min(r.started_at for r in runs)
    end = max(r.started_at + r.duration_s for r in runs)
    node_j = rate_w * (end - start)
    print(f"charged {[round(c, 1) for c in charged]} J, sum {sum(charged):.1f} J, node {node_j:.1f} J")
    assert sum(charged) == pytest.approx(node_j, rel=0.05), (charged, node_j)
    for r, c in zip(runs, charged, strict=True):
        assert c < rate_w * r.duration_s * 0.9  # each was charged a share, not the whole node


@pytest.mark.parametrize("json_out", [False, True])
def test_a_closed_output_pipe_neither_skips_the_command_nor_hides_its_exit_code(tmp_path: Path,
                                                                                   json_out: bool) -> None:
    marker = tmp_path / "ran"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before wattprint writes anything (`... 2>&1 | true`)
    try:
        proc = subprocess.run(
            [*WP, "run", "--interval", "0.1", *(["--json"] if json_out else []), "--", sys.executable, "-c",
             f"open({str(marker)!r}, 'w'); raise SystemExit(3)"],
            stdout=write_end, stderr=write_end, timeout=120)
    finally:
        os.close(write_end)
    assert marker.exists()
    assert proc.returncode == 3


@pytest.mark.parametrize(("body", "status"), [
    ("raise ValueError('boom')", "failed"),
    ("raise KeyboardInterrupt", "interrupted"),
    ("pass", "finished"),
])
def test_a_run_left_open_is_marked_by_how_the_program_ended(tmp_path: Path, body: str, status: str) -> None:
    db = tmp_path / "runs.db"
    script = ("import wattprint\n"
              f"wattprint.track(run='open', interval_s=0.1, db={str(db)!r}).start()\n"
              f"{body}\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (proc.returncode == 0) == (status == "finished"), proc.stderr
    assert open_store(str(db)).get_run("open").status == status


def test_the_json_summary_is_the_last_line_even_after_output_without_a_newline(tmp_path: Path) -> None:
    r = wattprint_run("--json", "--", sys.executable, "-c", "import sys; sys.stdout.write('abc')")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("abc\n")
    assert json.loads(r.stdout.splitlines()[-1])["stored"] is True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="procfs and the child subreaper are Linux's")
def test_a_process_the_command_leaves_running_is_named_not_silently_dropped(tmp_path: Path) -> None:
    # `sh -c '(sleep 5) & exit 0'` ended the run in 10 ms, 'finished', with nothing said about the sleep still running
    db = tmp_path / "runs.db"
    marker = tmp_path / "left.pid"
    script = f"import subprocess; p = subprocess.Popen(['sleep', '5']); open({str(marker)!r}, 'w').write(str(p.pid))"
    r = wattprint_run("--run", "bg", "--", sys.executable, "-c", script)
    left = int(marker.read_text())
    try:
        assert r.returncode == 0, r.stderr
        said = f"1 process the command started still runs after it exited (PID {left})"
        assert said in r.stderr
        assert any(said in n for n in open_store(str(db)).get_run("bg").summary["device_notes"])  # stored too
        quiet = wattprint_run("--run", "fg", "--", sys.executable, "-c", "pass")
        assert "still run" not in quiet.stderr
    finally:
        os.kill(left, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="procfs and the child subreaper are Linux's")
def test_processes_orphaned_during_the_run_are_reaped_not_left_as_zombies(tmp_path: Path) -> None:
    # as the child subreaper wattprint inherits orphans: each that ends must be reaped (a zombie holds a PID until
    # its parent waits for it), and the command's own exit status must still reach wattprint
    script = (
        "import os, time\n"
        "for _ in range(5):\n"
        "    if os.fork() == 0:\n"  # a child that forks a grandchild and exits: the grandchild is orphaned
        "        if os.fork() == 0:\n"
        "            os._exit(0)\n"
        "        time.sleep(0.05); os._exit(0)\n"
        "    os.wait()\n"
        "time.sleep(0.5)\n"
        "parent = os.getppid()\n"
        "zombies = []\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    try:\n"
        "        stat = open(f'/proc/{pid}/stat').read()\n"
        "    except OSError:\n"
        "        continue\n"
        "    state, ppid = stat[stat.rfind(')') + 2:].split()[:2]\n"
        "    if int(ppid) == parent and state == 'Z':\n"
        "        zombies.append(pid)\n"
        "print('zombies', len(zombies))\n"
        "raise SystemExit(7)\n"
    )
    r = wattprint_run("--run", "orphans", "--", sys.executable, "-c", script)
    assert r.returncode == 7, r.stderr
    assert "zombies 0" in r.stdout, r.stdout


def test_the_json_of_wattprint_run_has_every_key_runs_show_gives(tmp_path: Path) -> None:
    # run --json lacked id, damaged, writer_gone, updated_at and chip_hours, which `runs show --json` gives the run
    r = wattprint_run("--run", "same", "--json", "--", sys.executable, "-c", "pass")
    ran = json.loads(r.stdout.strip().splitlines()[-1])
    shown = subprocess.run([*WP, "runs", "show", "same", "--json"], capture_output=True, text=True, timeout=120)
    show = json.loads(shown.stdout)
    assert set(show) <= set(ran), sorted(set(show) - set(ran))
    for key in ("id", "status", "damaged", "writer_gone", "updated_at", "chip_hours", "started_at", "duration_s"):
        assert ran[key] == show[key], key
