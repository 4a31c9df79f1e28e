"""Overhead of wattprint's tracker side by side with CodeCarbon, carbontracker, eco2AI (and Zeus), in one run.

    bash bench/setup_peers.sh [--with-zeus]         # once: .venv-bench/ (+ .venv-bench-zeus/), never the test venv
    .venv-bench/bin/python bench/overhead.py        # full run, ~20 min on 2 cores -> bench/results/overhead.md
    .venv-bench/bin/python bench/overhead.py --quick            # ~3 min smoke version
    .venv-bench/bin/python bench/overhead.py --update-readme    # also rewrite README's bench:overhead block

Every figure comes from fresh processes (bench/overhead_worker.py); tracked and untracked runs alternate so slow
drift of the machine hits both alike. Figures: cold import; start+stop of an empty tracked block; an ~8 s
GIL-holding pure-Python workload at each tool's default interval and at 1 s (wall-clock slowdown, main-thread
time lost = wall - main-thread CPU, tracked minus untracked, and the trackers' own CPU time); peak RSS over bare
Python (ru_maxrss of the child from wait4); RSS after 1k vs 100k samples ticked directly; what each reports for
the same job; and what a SIGKILL at half-time leaves on disk.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead_tools import ADAPTERS, available, venv_python  # noqa: E402
from readme_block import replace_readme_block  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
WORKER = REPO / "bench" / "overhead_worker.py"
OUT_DIR = REPO / "bench" / "out"  # scratch (git-ignored): work dirs, raw JSON, child logs
RESULTS_MD = REPO / "bench" / "results" / "overhead.md"
PEERS = ["codecarbon", "carbontracker", "eco2ai", "zeus"]
HEAVY = ["numpy", "pandas", "torch", "matplotlib", "plotly", "fastapi", "flask", "dash", "scipy", "requests",
         "pydantic"]
MB_PER_KB = 1 / 1024
RATIO_RESOLUTION = 0.5  # below this (ms, MB, or slowdown-1 in %/100) a figure is treated as zero: no ratio

# Targets of issue 4 (wattprint only).
TARGET_IMPORT_MS = 25.0
TARGET_STARTSTOP_MS = 50.0
TARGET_RSS_MB = 10.0
TARGET_LOST_MS = 5.0  # per 8 s of workload at 1 s sampling
# "flat memory": RSS may rise while bounded C caches fill (SQLite's page cache is 2 MB by default); after that it
# must stop, and no Python object may accumulate per sample.
TARGET_TAIL_MB = 0.25
PY_BLOCKS_FLAT_PCT = 1.0
NET_EVIDENCE = re.compile(r"HTTPConnection|Name or service not known|Failed to resolve|ipinfo|urlopen|"
                          r"Max retries exceeded|Temporary failure in name resolution", re.I)
RELEVANT_WARN = re.compile(r"cpu|rapl|tdp|power|locat|intensit|countr|sensor|model|estimat", re.I)
WARN_LINE = re.compile(r"warn|fall(ing)? ?back|default(ing)? to|not found|unable|could not|cannot|unknown|modelled|"
                       r"assum", re.I)


@dataclass
class Settings:
    quick: bool
    import_n: int
    startstop_n: int
    pairs: int  # alternating pairs for wattprint
    peer_pairs: int  # alternating pairs for each peer configuration
    workload_s: float
    mem_checkpoints: list[int]
    mem_budget_s: float  # per peer: some take 0.2 s per sample
    mem_budget_wattprint_s: float  # enough for the last checkpoint (~1-2 ms per sample incl. its store write)
    peer_default_intervals: bool

    @classmethod
    def make(cls, args: argparse.Namespace) -> Settings:
        if args.quick:
            s = cls(True, 5, 2, 3, 1, 2.0, [1_000, 10_000], 8.0, 30.0, False)
        else:
            s = cls(False, 15, 7, 10, 4, 8.0, [1_000, 10_000, 50_000, 100_000], 45.0, 400.0, True)
        for name in ("pairs", "peer_pairs", "workload_s"):
            if getattr(args, name) is not None:
                setattr(s, name, getattr(args, name))
        return s


@dataclass
class Child:
    rc: int
    wall_s: float
    maxrss_kb: int
    result: dict[str, Any]
    log: str  # stdout + stderr
    timed_out: bool = False


@dataclass
class Bench:
    settings: Settings
    tools: list[str]  # trackers measured (wattprint first when ready)
    wattprint_ready: bool
    raw: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, str, float | None, str]] = field(default_factory=list)  # tool, figure, number, text
    notes: dict[str, list[str]] = field(default_factory=dict)
    counter: int = 0

    # ---------------------------------------------------------------- processes
    def run(self, tool: str, argv: list[str], timeout_s: float, env: dict[str, str] | None = None,
            on_start: Any = None) -> Child:
        """Run one child with the tool's venv python; wall time, ru_maxrss (wait4) and its JSON result."""
        self.counter += 1
        tag = f"{self.counter:04d}-{tool}"
        log_path = OUT_DIR / "logs" / f"{tag}.log"
        out_path = OUT_DIR / "logs" / f"{tag}.json"
        python = venv_python(REPO, ADAPTERS[tool].venv if tool in ADAPTERS else ".venv-bench")
        cmd = [str(python), *[a.replace("{out}", str(out_path)) for a in argv]]
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "0", **(env or {})}
        with log_path.open("wb") as log:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=full_env, cwd=OUT_DIR)
            killed = threading.Event()

            def kill() -> None:
                killed.set()
                os.kill(proc.pid, signal.SIGKILL)

            timer = threading.Timer(timeout_s, kill)
            timer.start()
            if on_start is not None:
                on_start(proc)
            _, status, ru = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            timer.cancel()
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4: tell Popen
        result: dict[str, Any] = {}
        if out_path.exists():
            result = json.loads(out_path.read_text())
        return Child(proc.returncode, wall, ru.ru_maxrss, result, log_path.read_text(errors="replace"),
                     killed.is_set())

    def worker(self, tool: str, mode: str, *extra: str, timeout_s: float = 180.0, **kw: Any) -> Child:
        return self.run(tool, [str(WORKER), mode, tool, "--out", "{out}", *extra], timeout_s, **kw)

    def workdir(self, label: str) -> Path:
        d = OUT_DIR / "work" / f"{self.counter + 1:04d}-{label}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        return d

    def row(self, tool: str, figure: str, number: float | None, text: str) -> None:
        self.rows.append((tool, figure, number, text))

    def note(self, tool: str, text: str) -> None:
        lst = self.notes.setdefault(tool, [])
        if text not in lst:
            lst.append(text)

    def scan_log(self, tool: str, log: str) -> None:
        m = NET_EVIDENCE.search(log)
        if m:
            line = next((ln for ln in log.splitlines() if NET_EVIDENCE.search(ln)), m.group(0))
            self.note(tool, f"tried the network: `{_clip(line, 140)}`")

    # ---------------------------------------------------------------- figures
    def cold_import(self) -> None:
        n = self.settings.import_n
        mods = {t: [ADAPTERS[t].module] for t in self.tools}
        if self.wattprint_ready:
            mods["wattprint"] = ["wattprint", "wattprint.tracking"]
        targets = [(t, m) for t in self.tools for m in mods[t]]
        bare: dict[str, list[float]] = {}
        times: dict[tuple[str, str], list[float]] = {k: [] for k in targets}
        for t, m in targets:  # warm-up: byte-compile, fill the page cache
            self.run(t, ["-c", f"import {m}"], 120)
        for _ in range(n):
            for t, m in targets:
                venv = ADAPTERS[t].venv
                bare.setdefault(venv, []).append(self.run(t, ["-c", "pass"], 60).wall_s)
                times[(t, m)].append(self.run(t, ["-c", f"import {m}"], 120).wall_s)
        self.raw["import"] = {"bare": bare, "times": {f"{t}:{m}": v for (t, m), v in times.items()}}
        for t, m in targets:
            base = statistics.median(bare[ADAPTERS[t].venv])
            ms = 1e3 * (statistics.median(times[(t, m)]) - base)
            self_ms = self.importtime_ms(t, m)
            mods_new, heavy = self.modules_loaded(t, m)
            fig = "cold import, ms over bare Python" + ("" if m == ADAPTERS[t].module else " (incl. tracker)")
            # round(), not :.0f: a difference of medians within the noise can be -0.3 ms, printed "-0" otherwise
            self.row(t, fig, ms, f"{round(ms)} ms (`import {m}`; -X importtime {round(self_ms)} ms; "
                                 f"{mods_new} modules{'; ' + ', '.join(heavy) if heavy else ''})")
        self.raw["import"]["bare_median_ms"] = {v: 1e3 * statistics.median(x) for v, x in bare.items()}

    def importtime_ms(self, tool: str, module: str) -> float:
        vals = []
        for _ in range(3):
            log = self.run(tool, ["-X", "importtime", "-c", f"import {module}"], 120).log
            cum = [int(m.group(1)) for m in re.finditer(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)", log)
                   if m.group(2) == module]
            if cum:
                vals.append(cum[-1] / 1e3)
        return statistics.median(vals) if vals else float("nan")

    def modules_loaded(self, tool: str, module: str) -> tuple[int, list[str]]:
        code = ("import sys, json; b = set(sys.modules); import " + module +
                "; n = set(sys.modules) - b; print('@@' + json.dumps(sorted(n)))")
        log = self.run(tool, ["-c", code], 120).log
        line = next((ln for ln in log.splitlines() if ln.startswith("@@")), "@@[]")
        new = json.loads(line[2:])
        heavy = [h for h in HEAVY if h in new]
        return len(new), heavy

    def start_stop(self) -> None:
        res: dict[str, list[Child]] = {t: [] for t in self.tools}
        for _ in range(self.settings.startstop_n):
            for t in self.tools:
                wd = self.workdir(f"ss-{t}")
                c = self.worker(t, "startstop", "--dir", str(wd), "--run-id", f"ss{self.counter}", timeout_s=180)
                self.scan_log(t, c.log)
                if c.rc == 0 and c.result:
                    res[t].append(c)
                else:
                    self.note(t, f"start+stop run failed (rc={c.rc}): `{_clip(_last_line(c.log), 160)}`")
        self.raw["startstop"] = {t: [c.result for c in cs] for t, cs in res.items()}
        for t, cs in res.items():
            if not cs:
                self.row(t, "start+stop of an empty block, ms", None, "failed")
                continue
            tot = statistics.median(c.result["total_s"] for c in cs) * 1e3
            parts = {k: statistics.median(c.result[k] for c in cs) * 1e3 for k in ("make_s", "start_s", "stop_s")}
            self.row(t, "start+stop of an empty block, ms", tot,
                     f"{tot:.0f} ms (construct {parts['make_s']:.0f} + start {parts['start_s']:.0f} + "
                     f"stop {parts['stop_s']:.0f})")

    def calibrate(self) -> int:
        c = self.worker("bare", "calibrate", timeout_s=60)
        rate = float(c.result["iters_per_s"])
        iters = int(rate * self.settings.workload_s)
        self.raw["calibration"] = {"iters_per_s": rate, "iters": iters}
        return iters

    def configs(self) -> list[tuple[str, str]]:
        """(tool, interval) pairs: 'default' and '1'; a tool whose default is 1 s (or has none) gets one."""
        out = []
        for t in self.tools:
            d = ADAPTERS[t].default_interval_s
            if d is None or d == 1.0:
                out.append((t, "default"))
            else:
                if t == "wattprint" or self.settings.peer_default_intervals:
                    out.append((t, "default"))
                out.append((t, "1"))
        return out

    def workload(self, iters: int) -> None:
        cfgs = self.configs()
        npairs = {c: (self.settings.pairs if c[0] == "wattprint" else self.settings.peer_pairs) for c in cfgs}
        pairs: dict[tuple[str, str], list[tuple[Child, Child]]] = {c: [] for c in cfgs}
        timeout = self.settings.workload_s * 4 + 90
        for r in range(max(npairs.values())):
            for cfg in cfgs:
                if r >= npairs[cfg]:
                    continue
                tool, interval = cfg
                wd = self.workdir("bare")
                b = self.worker("bare", "workload", "--iters", str(iters), "--dir", str(wd), timeout_s=timeout)
                b.result["tool"] = "bare"
                wd = self.workdir(f"wl-{tool}")
                tr = self.run(tool, [str(WORKER), "workload", tool, "--out", "{out}", "--iters", str(iters),
                                     "--dir", str(wd), "--run-id", f"wl{self.counter}", "--interval", interval],
                              timeout)
                self.scan_log(tool, tr.log)
                if b.rc != 0 or tr.rc != 0 or not tr.result or not b.result:
                    self.note(tool, f"workload run failed (rc={tr.rc}): `{_clip(_last_line(tr.log), 160)}`")
                    continue
                pairs[cfg].append((b, tr))
                if r == 0 and (interval == "1" or ADAPTERS[tool].default_interval_s in (1.0, None)):
                    self.report_of(tool, tr)
        self.raw["workload"] = {f"{t}@{i}": [(b.result | {"maxrss_kb": b.maxrss_kb},
                                              tr.result | {"maxrss_kb": tr.maxrss_kb}) for b, tr in ps]
                                for (t, i), ps in pairs.items()}
        all_bare = [b for ps in pairs.values() for b, _ in ps]
        if not all_bare:
            return
        bare_lost = [1e3 * b.result["lost_s"] for b in all_bare]
        bare_wall = [b.result["wall_s"] for b in all_bare]
        bare_blocked = [1e3 * b.result["blocked_s"] for b in all_bare]
        floor_ms = _iqr(bare_lost)
        floor_blocked_ms = _iqr(bare_blocked)
        self.raw["noise"] = {
            "bare_runs": len(all_bare),
            "bare_lost_ms_median": statistics.median(bare_lost),
            "bare_lost_ms_iqr": floor_ms,
            "bare_lost_ms_range": [min(bare_lost), max(bare_lost)],
            "bare_blocked_ms_median": statistics.median(bare_blocked),
            "bare_blocked_ms_iqr": floor_blocked_ms,
            "bare_runqueue_ms_median": statistics.median(1e3 * b.result["runqueue_s"] for b in all_bare),
            # schedstat's on-CPU time minus thread_time() (why the blocked rows use the latter); 0 for old results
            "bare_schedstat_lag_ms_median": statistics.median(
                1e3 * (b.result.get("schedstat_cpu_s", b.result["main_cpu_s"]) - b.result["main_cpu_s"])
                for b in all_bare),
            "loadavg_median": statistics.median(b.result["loadavg"] for b in all_bare),
            "bare_wall_s_median": statistics.median(bare_wall),
            "bare_wall_spread_pct": 100 * (max(bare_wall) - min(bare_wall)) / statistics.median(bare_wall),
            "bare_wall_cv_pct": 100 * statistics.pstdev(bare_wall) / statistics.mean(bare_wall),
            "bare_maxrss_mb_median": statistics.median(b.maxrss_kb for b in all_bare) * MB_PER_KB,
        }
        bare_rss_kb = statistics.median(b.maxrss_kb for b in all_bare)
        for (tool, interval), ps in pairs.items():
            if not ps:
                continue
            d = ADAPTERS[tool].default_interval_s
            label = (f"default {d:g} s" if d is not None else "no sampling thread") if interval == "default" \
                else "1 s"
            wl = f"{self.settings.workload_s:g} s workload @ {label}"
            ratio = statistics.median(tr.result["wall_s"] / b.result["wall_s"] for b, tr in ps)
            lost = statistics.median(1e3 * (tr.result["lost_s"] - b.result["lost_s"]) for b, tr in ps)
            blocked = statistics.median(1e3 * (tr.result["blocked_s"] - b.result["blocked_s"]) for b, tr in ps)
            cpu = statistics.median(1e3 * (tr.result["tracker_cpu_s"] + tr.result["children_cpu_s"]) for _, tr in ps)
            kids = statistics.median(1e3 * tr.result["children_cpu_s"] for _, tr in ps)
            cpu_tot = statistics.median(1e3 * tr.result["tracker_cpu_total_s"] for _, tr in ps)
            rss = (statistics.median(tr.maxrss_kb for _, tr in ps) - bare_rss_kb) * MB_PER_KB
            n = len(ps)
            self.row(tool, f"{wl}: wall-clock slowdown", ratio, f"×{ratio:.3f} (median of {n} pairs)")
            self.row(tool, f"{wl}: main-thread time lost, ms", lost,
                     f"{lost:+.1f} ms (tracked − untracked, median of {n}; floor ±{floor_ms / 2:.1f})")
            self.row(tool, f"{wl}: main-thread time blocked (GIL), ms", blocked,
                     f"{blocked:+.1f} ms (lost time less run-queue wait, tracked − untracked; "
                     f"floor ±{floor_blocked_ms / 2:.1f})")
            self.row(tool, f"{wl}: tracker's own CPU, ms", cpu,
                     f"{cpu:.0f} ms during the workload{f' (child processes: {kids:.0f} ms)' if kids else ''} "
                     f"({cpu_tot:.0f} ms of other threads over the process' life)")
            self.row(tool, f"{wl}: peak RSS over bare Python, MB", rss, f"{rss:.1f} MB (ru_maxrss)")

    def report_of(self, tool: str, c: Child) -> None:
        rep = c.result.get("report", {})
        warn = [ln.strip() for ln in c.log.splitlines() if WARN_LINE.search(ln) and ln.strip()]
        # show the warning about this machine's missing sensors/location rather than a deprecation notice
        warn.sort(key=lambda ln: not RELEVANT_WARN.search(ln))
        e, co2 = rep.get("energy_kwh"), rep.get("co2e_kg")
        txt = (f"{_num(e, 'kWh')}, {_num(co2, 'kg CO2e')}; {rep.get('note', '')}; "
               + (f"warns: {len(warn)} line(s), e.g. `{_clip(warn[0], 120)}`" if warn else "no warning"))
        self.row(tool, f"reports for the {self.settings.workload_s:g} s job", e, txt)

    def memory(self) -> None:
        cps = ",".join(str(c) for c in self.settings.mem_checkpoints)
        for t in self.tools:
            if t == "zeus":
                self.row(t, "RSS growth over sampled run", None, "n/a: no sampler (reads counters at window ends)")
                continue
            wd = self.workdir(f"mem-{t}")
            budget = self.settings.mem_budget_wattprint_s if t == "wattprint" else self.settings.mem_budget_s
            c = self.worker(t, "memory", "--dir", str(wd), "--run-id", "mem", "--checkpoints", cps,
                            "--budget-s", str(budget), timeout_s=budget * 2 + 120)
            self.scan_log(t, c.log)
            pts = c.result.get("points") if c.rc == 0 else None
            if not pts:
                self.row(t, "RSS growth over sampled run", None, f"failed: `{_clip(_last_line(c.log), 140)}`")
                continue
            self.raw.setdefault("memory", {})[t] = c.result
            first, last = pts[0], pts[-1]
            growth = (last["rss_kb"] - first["rss_kb"]) * MB_PER_KB
            per_1k = growth / max((last["samples"] - first["samples"]) / 1e3, 1e-9)
            blocks = 100 * (last["py_blocks"] - first["py_blocks"]) / first["py_blocks"]
            prev = pts[-2] if len(pts) > 1 else first
            tail_mb = (last["rss_kb"] - prev["rss_kb"]) * MB_PER_KB
            self.row(t, "RSS growth over the last checkpoint, MB", tail_mb,
                     f"{tail_mb:+.2f} MB from {prev['samples']:,} to {last['samples']:,} samples; Python objects "
                     f"(allocated blocks) {blocks:+.1f} % from {first['samples']:,} to {last['samples']:,}")
            short = "" if last["samples"] >= self.settings.mem_checkpoints[-1] else \
                f" (time budget {budget:g} s reached)"
            trail = " → ".join(f"{p['rss_kb'] * MB_PER_KB:.1f}" for p in pts)
            self.row(t, "RSS growth over sampled run", growth,
                     f"{growth:+.2f} MB from {first['samples']:,} to {last['samples']:,} samples{short}; "
                     f"RSS {trail} MB "
                     f"({per_1k * 1e3:+.0f} kB per 1k samples; {c.result['per_tick_us']:.0f} µs per sample)")

    def sigkill(self, iters: int) -> None:
        half = self.settings.workload_s / 2
        for t in self.tools:
            wd = self.workdir(f"kill-{t}")
            marker = wd / "started.json"
            interval = "default" if ADAPTERS[t].default_interval_s in (1.0, None) else "1"
            killed_at: list[float] = []

            def killer(proc: subprocess.Popen[bytes], marker: Path = marker, out: list[float] = killed_at) -> None:
                def go() -> None:
                    deadline = time.time() + 120
                    while not marker.exists() and time.time() < deadline and proc.returncode is None:
                        time.sleep(0.02)
                    time.sleep(half)
                    out.append(time.time())
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGKILL)
                threading.Thread(target=go, daemon=True).start()

            c = self.worker(t, "workload", "--iters", str(iters), "--dir", str(wd), "--run-id", "killed",
                            "--interval", interval, "--marker", str(marker),
                            timeout_s=self.settings.workload_s * 4 + 90, on_start=killer)
            if not marker.exists() or not killed_at:
                self.row(t, "after SIGKILL at half-time", None, f"did not start (rc={c.rc})")
                continue
            tracked_s = killed_at[0] - json.loads(marker.read_text())["t_unix"]
            marker.unlink()
            rb = self.worker(t, "readback", "--dir", str(wd), "--run-id", "killed", timeout_s=60).result
            self.raw.setdefault("sigkill", {})[t] = {"tracked_s": tracked_s, **rb}
            if not rb.get("readable"):
                self.row(t, "after SIGKILL at half-time", None, f"nothing readable: {rb.get('detail', '?')}")
                continue
            dur = rb.get("duration_s")
            lost = None if dur is None else tracked_s - dur
            lost_txt = "" if lost is None else f"; last {lost:.2f} s of {tracked_s:.2f} s lost"
            self.row(t, "after SIGKILL at half-time", lost,
                     f"readable: {_num(rb.get('energy_kwh'), 'kWh')}{lost_txt} ({rb.get('detail', '')})")


# -------------------------------------------------------------------- report
def _blocks_flat(got: tuple[float | None, str] | None) -> bool:
    m = re.search(r"\(allocated blocks\) ([+-][0-9.]+) %", got[1]) if got else None
    return m is not None and abs(float(m.group(1))) < PY_BLOCKS_FLAT_PCT


def _iqr(xs: list[float]) -> float:
    if len(xs) < 4:
        return max(xs) - min(xs)
    q = statistics.quantiles(xs, n=4)
    return q[2] - q[0]


def _num(x: Any, unit: str) -> str:
    return "n/a" if x is None else f"{float(x):.3g} {unit}"


def _clip(s: str, n: int) -> str:
    s = " ".join(s.split()).replace("|", "/").replace("`", "'")
    return s if len(s) <= n else s[: n - 1] + "…"


def _last_line(log: str) -> str:
    lines = [ln for ln in log.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def find(rows: list[tuple[str, str, float | None, str]], tool: str, prefix: str) -> tuple[float | None, str] | None:
    for t, f, n, txt in rows:
        if t == tool and f.startswith(prefix):
            return n, txt
    return None


def ratio_text(rows: list[tuple[str, str, float | None, str]], tool: str, fig: str, n: float | None) -> str:
    if tool == "wattprint":
        return "1"
    w = next((wn for t, f, wn, _ in rows if t == "wattprint" and f == fig), None)
    if n is None or w is None:
        return "—"
    if any(k in fig for k in ("lost", "blocked", "SIGKILL", "growth", "reports")):
        return "—"  # differences around zero (or not a cost): a ratio would mean nothing
    if "slowdown" in fig:
        n, w = n - 1, w - 1
    if w <= RATIO_RESOLUTION or n <= 0:
        return "—"  # wattprint's figure is within noise of zero
    return f"×{n / w:.1f}"


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, Linux {platform.release()}, "
            f"load avg {os.getloadavg()[0]:.2f} at start")


def versions() -> str:
    out: list[str] = []
    for venv in (".venv-bench", ".venv-bench-zeus"):
        py = venv_python(REPO, venv)
        if not py.exists():
            continue
        frz = subprocess.run([str(py), "-m", "pip", "freeze"], capture_output=True, text=True).stdout
        for ln in frz.splitlines():
            name = ln.split("==")[0].split(" @ ")[0].lower()
            if name in ("wattprint", "codecarbon", "carbontracker", "eco2ai", "zeus", "pandas", "psutil"):
                out.append(f"{ln.split(' @ ')[0]} ({venv})")
    return ", ".join(out)


def targets(b: Bench) -> list[tuple[str, str, str, str]]:
    """(figure, target, measured, verdict) for wattprint."""
    if not b.wattprint_ready:
        return [("all", "see below", "pending", "tracker not in the tree yet")]
    rows, out = b.rows, []
    floor = b.raw.get("noise", {}).get("bare_lost_ms_iqr", 0.0)

    def add(fig: str, target: str, got: tuple[float | None, str] | None, ok: Any) -> None:
        if got is None or got[0] is None:
            out.append((fig, target, "—" if got is None else got[1], "not measured"))
        else:
            verdict = ok(got[0])
            out.append((fig, target, got[1], verdict if isinstance(verdict, str) else "met" if verdict else "MISSED"))

    add("cold import", f"< {TARGET_IMPORT_MS:g} ms over bare Python",
        find(rows, "wattprint", "cold import, ms over bare Python"), lambda v: v < TARGET_IMPORT_MS)
    add("start+stop", f"< {TARGET_STARTSTOP_MS:g} ms", find(rows, "wattprint", "start+stop"),
        lambda v: v < TARGET_STARTSTOP_MS)
    wl = f"{b.settings.workload_s:g} s workload @ default 1 s"
    add("RSS with the tracker running", f"< {TARGET_RSS_MB:g} MB over bare Python",
        find(rows, "wattprint", f"{wl}: peak RSS"), lambda v: v < TARGET_RSS_MB)
    per_run = TARGET_LOST_MS * b.settings.workload_s / 8
    add("main-thread time lost (wall − main-thread CPU)", f"< {per_run:g} ms per {b.settings.workload_s:g} s at "
        f"1 s, or below the noise floor (±{floor / 2:.1f} ms here)",
        find(rows, "wattprint", f"{wl}: main-thread time lost"),
        lambda v: "within the noise floor" if abs(v) <= floor / 2 and floor / 2 > per_run else v < per_run)
    add("main-thread time blocked (GIL), run-queue wait removed", f"< {per_run:g} ms per {b.settings.workload_s:g} s "
        f"at 1 s", find(rows, "wattprint", f"{wl}: main-thread time blocked"), lambda v: v < per_run)
    add("memory from 1k to 100k samples", "flat", find(rows, "wattprint", "RSS growth over sampled"),
        lambda v: v < 1.0 or "grows: see the next row")
    add("memory at the end of the run", f"flat: < {TARGET_TAIL_MB:g} MB over the last checkpoint, "
        "no Python objects piling up", find(rows, "wattprint", "RSS growth over the last"),
        lambda v: v < TARGET_TAIL_MB and _blocks_flat(find(rows, "wattprint", "RSS growth over the last")))
    add("SIGKILL", "nothing lost but the last interval (1 s)", find(rows, "wattprint", "after SIGKILL"),
        lambda v: v <= 1.0 + 0.25)
    return out


def render(b: Bench, started: float, elapsed_s: float) -> str:
    s = b.settings
    noise = b.raw.get("noise", {})
    lines = [
        "# Tracker overhead: wattprint vs CodeCarbon, carbontracker, eco2AI, Zeus",
        "",
        f"Generated by `bench/overhead.py{' --quick' if s.quick else ''}` on "
        f"{dt.datetime.fromtimestamp(started, dt.timezone.utc):%Y-%m-%d %H:%M} UTC in {elapsed_s / 60:.1f} min. "
        f"Machine: {b.raw.get('machine') or machine()}. Versions: {versions()}.",
        "",
        f"Method: every figure in fresh processes; import N={s.import_n} alternating with bare `python -c pass`; "
        f"start+stop N={s.startstop_n}; workload {s.workload_s:g} s of pure-Python GIL-holding loop, "
        f"{s.pairs} alternating untracked/tracked pairs for wattprint and {s.peer_pairs} per peer configuration; "
        f"memory: samples ticked directly (checkpoints {', '.join(f'{c:,}' for c in s.mem_checkpoints)}, "
        f"{s.mem_budget_s:g} s budget per peer); SIGKILL at half the workload, sampling at 1 s.",
    ]
    if noise:
        lines += [
            "",
            f"Noise (untracked runs, n={noise['bare_runs']}): wall {noise['bare_wall_s_median']:.2f} s median, "
            f"spread {noise['bare_wall_spread_pct']:.1f} % (max−min), CV {noise['bare_wall_cv_pct']:.1f} %; "
            f"main-thread lost time {noise['bare_lost_ms_median']:.1f} ms median, "
            f"IQR {noise['bare_lost_ms_iqr']:.1f} ms "
            f"(range {noise['bare_lost_ms_range'][0]:.1f}–{noise['bare_lost_ms_range'][1]:.1f}): the floor below "
            f"is ±IQR/2. Of that lost time, the main thread of an untracked run waited "
            f"{noise['bare_runqueue_ms_median']:.0f} ms (median) for a CPU held by other processes (load average "
            f"{noise['loadavg_median']:.2f} during the runs) and was blocked {noise['bare_blocked_ms_median']:.1f} ms "
            f"(IQR {noise['bare_blocked_ms_iqr']:.2f} ms); the 'blocked (GIL)' rows subtract the run-queue wait "
            f"(from /proc/thread-self/schedstat), which removes most of the machine's noise and leaves the time the "
            f"main thread was not runnable, i.e. waiting for the GIL or the tracker (its on-CPU time is "
            f"`thread_time()`: schedstat's own on-CPU figure lags by up to a scheduler tick for a thread that runs "
            f"without a break, {noise['bare_schedstat_lag_ms_median']:.1f} ms in the untracked runs here). "
            f"Bare peak RSS {noise['bare_maxrss_mb_median']:.1f} MB.",
        ]
    lines += ["", "## wattprint against its targets (issue 4)", "", "| figure | target | measured | verdict |",
              "|---|---|---|---|"]
    lines += [f"| {a} | {t} | {m} | {v} |" for a, t, m, v in targets(b)]
    lines += ["", "## All figures", "", "| tool | figure | value | ratio to wattprint |", "|---|---|---|---|"]
    order = {t: i for i, t in enumerate(["wattprint", *PEERS])}
    figs: list[str] = []
    for _, f, _, _ in b.rows:
        if f not in figs:
            figs.append(f)
    # the memory tail reads best right after the whole-run growth
    pos = {f: float(i) for i, f in enumerate(figs)}
    for f in figs:
        if f.startswith("RSS growth over the last") and "RSS growth over sampled run" in pos:
            pos[f] = pos["RSS growth over sampled run"] + 0.5
    figs.sort(key=pos.__getitem__)
    for f in figs:
        for t, f2, n, txt in sorted((r for r in b.rows if r[1] == f), key=lambda r: order.get(r[0], 9)):
            lines.append(f"| {t} | {f2} | {txt} | {ratio_text(b.rows, t, f2, n)} |")
    if not b.wattprint_ready:
        lines += ["", "**wattprint: pending** — `wattprint.tracking.track` was not importable when this ran; "
                  "only its import figure is measured."]
    if b.notes:
        lines += ["", "## Notes per tool", ""]
        for t in sorted(b.notes, key=lambda x: order.get(x, 9)):
            lines += [f"- **{t}**: {note}" for note in b.notes[t]]
    lines += ["", "Slowdown ratio column: (tool − 1)/(wattprint − 1). Lost-time, memory-growth and SIGKILL "
              "figures are differences around zero and get no ratio.", ""]
    return "\n".join(lines)


def short_table(b: Bench) -> str:
    """The README block: one row per figure, one column per tool."""
    wl = f"{b.settings.workload_s:g} s workload @ "
    figs = [
        ("import, ms over bare Python", "cold import, ms over bare Python", lambda n: f"{round(n)}"),
        ("start+stop, ms", "start+stop", lambda n: f"{n:,.0f}"),
        ("peak RSS over bare Python, MB (1 s sampling)", "peak RSS", lambda n: f"{n:.1f}"),
        ("main-thread time lost per 8 s at 1 s, ms", "main-thread time lost", lambda n: f"{n:+.1f}"),
        ("main-thread time blocked (GIL), run-queue wait removed, ms", "main-thread time blocked",
         lambda n: f"{n:+.1f}"),
        ("tracker CPU per 8 s at 1 s, ms", "tracker's own CPU", lambda n: f"{n:.0f}"),
        ("RSS growth, 1k → 100k samples, MB", "RSS growth over sampled", lambda n: f"{n:+.2f}"),
        ("RSS growth, 50k → 100k samples, MB", "RSS growth over the last", lambda n: f"{n:+.2f}"),
    ]
    tools = [t for t in ["wattprint", *PEERS] if any(r[0] == t for r in b.rows)]
    short = {t for t, _, _, txt in b.rows if "time budget" in txt}
    head = "| figure | " + " | ".join(tools) + " |"
    lines = [head, "|---" * (len(tools) + 1) + "|"]
    for label, key, fmt in figs:
        cells = []
        for t in tools:
            hit = None
            for tt, f, n, _ in b.rows:
                if tt != t or key not in f:
                    continue
                is_wl = f.startswith(wl)
                if is_wl and not (f.startswith(wl + "1 s") or f.startswith(wl + "default 1 s")
                                  or f.startswith(wl + "no sampling")):
                    continue
                hit = n
                break
            if "RSS growth" in key and t in short:
                hit = None  # its ticks are too slow to reach the last checkpoint within the budget
            cells.append("pending" if t == "wattprint" and not b.wattprint_ready and hit is None
                         else "—" if hit is None else fmt(hit))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    kill = []
    for t in tools:
        got = find(b.rows, t, "after SIGKILL")
        kill.append("—" if got is None else ("readable" if got[1].startswith("readable") else "nothing"))
    lines.append("| after SIGKILL at half-time | " + " | ".join(kill) + " |")
    return "\n".join(lines) + "\n\nFull table and method: [bench/results/overhead.md](bench/results/overhead.md)."


def wattprint_ready() -> bool:
    py = venv_python(REPO, ".venv-bench")
    code = "from wattprint.tracking import track; from wattprint.storage import open_store"
    r = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tempfile.gettempdir())
    return r.returncode == 0


def render_only(args: argparse.Namespace) -> int:
    path = OUT_DIR / "raw.json"
    if not path.exists():
        print(f"no {path.relative_to(REPO)}: run the benchmark first", file=sys.stderr)
        return 2
    saved = json.loads(path.read_text())
    settings = Settings(**saved["settings"]) if "settings" in saved else Settings.make(args)
    b = Bench(settings, saved.get("tools", []), saved.get("wattprint_ready", True), raw=saved["raw"],
              rows=[tuple(r) for r in saved["rows"]], notes=saved["notes"])
    started = saved.get("started", path.stat().st_mtime)
    args.output.write_text(render(b, started, saved.get("elapsed_s", float("nan"))))
    short = short_table(b)
    print(short)
    if args.update_readme:
        replace_readme_block("overhead", short)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="~3-minute smoke version")
    ap.add_argument("--update-readme", action="store_true", help="rewrite README's bench:overhead block")
    ap.add_argument("--tools", default=None, help="comma list among wattprint," + ",".join(PEERS))
    ap.add_argument("--pairs", type=int, default=None, help="alternating pairs for wattprint (default 10)")
    ap.add_argument("--peer-pairs", type=int, default=None, help="alternating pairs per peer config (default 4)")
    ap.add_argument("--workload-s", type=float, default=None, help="workload length, s (default 8)")
    ap.add_argument("--no-install", action="store_true", help="do not reinstall wattprint into .venv-bench")
    ap.add_argument("--output", type=lambda s: Path(s).resolve(), default=RESULTS_MD)
    ap.add_argument("--render-only", action="store_true",
                    help="re-render the report (and README block) from the last run's bench/out/raw.json")
    args = ap.parse_args(argv)
    if args.render_only:
        return render_only(args)
    if not venv_python(REPO, ".venv-bench").exists():
        print("missing .venv-bench: run `bash bench/setup_peers.sh` first", file=sys.stderr)
        return 2
    if not args.no_install:  # the benchmark measures the working tree, installed as users get it
        subprocess.run([str(venv_python(REPO, ".venv-bench")), "-m", "pip", "install", "-q", "--no-deps",
                        "--force-reinstall", str(REPO)], check=True, capture_output=True)
    shutil.rmtree(OUT_DIR, ignore_errors=True)
    (OUT_DIR / "logs").mkdir(parents=True)
    settings = Settings.make(args)
    wanted = args.tools.split(",") if args.tools else ["wattprint", *PEERS]
    ready = wattprint_ready()
    tools = [t for t in wanted if t in ADAPTERS and available(REPO, t) and (t != "wattprint" or ready)]
    b = Bench(settings, tools, ready)
    b.raw["machine"] = machine()
    started, t0 = time.time(), time.perf_counter()
    print(f"tools: {', '.join(tools)}; wattprint tracker {'ready' if ready else 'PENDING'}", flush=True)
    phases = [
        ("cold import", b.cold_import),
        ("start+stop", b.start_stop),
    ]
    if not ready and "wattprint" in wanted:  # import figure only
        b.tools = ["wattprint", *tools]
        b.cold_import()
        b.tools = tools
        phases = phases[1:]
    for name, fn in phases:
        print(f"[{time.perf_counter() - t0:6.0f} s] {name}", flush=True)
        fn()
    print(f"[{time.perf_counter() - t0:6.0f} s] calibrate + workload", flush=True)
    iters = b.calibrate()
    b.workload(iters)
    print(f"[{time.perf_counter() - t0:6.0f} s] memory", flush=True)
    b.memory()
    print(f"[{time.perf_counter() - t0:6.0f} s] SIGKILL", flush=True)
    b.sigkill(iters)
    elapsed = time.perf_counter() - t0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(b, started, elapsed))
    saved = {"raw": b.raw, "rows": b.rows, "notes": b.notes, "settings": vars(settings), "tools": tools,
             "wattprint_ready": ready, "started": started, "elapsed_s": elapsed}
    (OUT_DIR / "raw.json").write_text(json.dumps(saved, indent=1, default=str))
    short = short_table(b)
    print(short)
    print(f"\nwrote {args.output.relative_to(REPO)} and {(OUT_DIR / 'raw.json').relative_to(REPO)} "
          f"in {elapsed / 60:.1f} min")
    if args.update_readme:
        replace_readme_block("overhead", short)
    return 0


if __name__ == "__main__":
    sys.exit(main())
