"""Cost of ``run.progress(step, total_steps)``, the call the Hugging Face and Lightning callbacks make every step.

    PYTHONPATH=src python bench/progress_cost.py            # ~15 s; prints µs per call
    PYTHONPATH=src python bench/progress_cost.py --quick    # ~6 s

A real tracked run (nothing stored) reads a fake CPU package and a fake GPU (a catalogue model, so embodied CO2e
is priced as on a GPU node) at a constant power; only the clock is real. Figures (median of repeats, µs per call):

* first call of a run (the projector is made), the very first in the process (imports its modules) apart;
* steady state: calls in a loop between two samples (no sampler interval has closed since the previous call),
  after a few windows have closed, so the projection has a central value as it has for most of a training run;
  and the same with the projection's energy and CO2e read after each call (they are worked out when first read:
  a callback reads them only on the steps it logs);
* a call between samples and the first call after a new sample (the snapshot's figures are worked out in it),
  each after a 1 ms busy step in the interpreter (colder caches, as after a training step's own work);
* the overhead on a training step of 1 ms and 5 ms, one call per step, the first after each sample costing what
  it does: from the tight-loop figure and from the one after busy steps.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import warnings
from types import SimpleNamespace
from typing import Any

from wattprint.devices import Reading
from wattprint.tracking import Run, track

TOTAL_STEPS = 10**6
STEP_MS = (1.0, 5.0)  # training steps the overhead is given for


class ConstantPower:
    """A device reader at a constant power (W): energy integrated on the monotonic clock."""

    basis = "measured"

    def __init__(self, component: str, device: str, power_w: float, gpu_model: str | None = None) -> None:
        self.component, self.device, self.power_w = component, device, power_w
        self.name = f"bench-{component}"
        self.gpus = [SimpleNamespace(label=device, name=gpu_model)] if gpu_model else []
        self._t = time.monotonic()
        self._energy_j = 0.0
        self._lock = threading.Lock()

    def read(self) -> list[Reading]:
        with self._lock:
            t = time.monotonic()
            self._energy_j += self.power_w * (t - self._t)
            self._t = t
            return [Reading(self.component, self.device, self._energy_j, self.power_w, self.basis)]

    def close(self) -> None:
        pass


def new_run(interval_s: float) -> Run:
    readers = [ConstantPower("cpu", "package-0", 60.0), ConstantPower("gpu", "gpu0", 300.0, "NVIDIA H100 80GB HBM3")]
    return track("bench", interval_s=interval_s, readers=readers, persist=False, quiet=True, handle_signals=False)


def wait_sample(run: Run, after: Any = None) -> Any:
    """The sampler's snapshot once it is a new one (not ``after``) with a closed interval."""
    assert run.sampler is not None
    while True:
        snap = run.sampler.snapshot
        if snap is not None and snap is not after and snap.samples >= 1:
            return snap
        time.sleep(0.0005)


def first_calls(runs: int) -> tuple[float, float]:
    """(µs of the first call in the process, median µs of the first call of a later run)."""
    times = []
    for _ in range(runs + 1):
        with new_run(0.02) as run:
            wait_sample(run)
            t0 = time.perf_counter()
            run.progress(1, TOTAL_STEPS)
            times.append(time.perf_counter() - t0)
    return times[0] * 1e6, statistics.median(times[1:]) * 1e6


def steady(seconds: float, interval_s: float, batch: int) -> tuple[float, float]:
    """(median µs per call between samples, the same with the projection's figures read after each call)."""
    plain: list[float] = []
    read: list[float] = []
    step = 0
    with new_run(interval_s) as run:
        assert run.sampler is not None
        snap = wait_sample(run)
        warm_until = time.monotonic() + 4 * interval_s  # a few windows closed: a central projection
        end = warm_until + seconds
        while time.monotonic() < end:
            for times, reads in ((plain, False), (read, True)):
                snap = run.sampler.snapshot
                step += 1
                run.progress(step, TOTAL_STEPS)  # this snapshot's figures are worked out here, not below
                t0 = time.perf_counter()
                for _ in range(batch):
                    step += 1
                    p = run.progress(step, TOTAL_STEPS)
                    if reads:
                        p.energy_kwh, p.co2e_kg  # noqa: B018  # a logging step reads them
                dt = time.perf_counter() - t0
                if run.sampler.snapshot is snap and time.monotonic() > warm_until:  # no sample fell in the batch
                    times.append(dt / batch)
        assert run.progress(step, TOTAL_STEPS).central, "no central projection: the figures are not the common case"
    return statistics.median(plain) * 1e6, statistics.median(read) * 1e6


def busy_step(n: int) -> float:
    """A stand-in for a training step's own work in the interpreter (it leaves the caches colder for the call)."""
    return sum([i * 0.5 for i in range(n)])


def step_size(step_s: float) -> int:
    """The ``busy_step`` size that takes about ``step_s`` seconds here."""
    n = 1000
    while True:
        t0 = time.perf_counter()
        busy_step(n)
        dt = time.perf_counter() - t0
        if dt > step_s / 4:
            return max(1, int(n * step_s / dt))
        n *= 2


def in_a_loop(samples: int, interval_s: float, step_s: float) -> tuple[float, float]:
    """(median µs of a call between samples, median µs of the first call after a new sample, in which the
    snapshot's figures are worked out), each after a busy step of ``step_s``. After each new sample, steps without a
    call first let the sampler thread finish its own work on it (else the call would time its waits for the GIL)."""
    n = step_size(step_s)
    between: list[float] = []
    first: list[float] = []
    step = 0
    with new_run(interval_s) as run:
        assert run.sampler is not None
        snap = wait_sample(run)
        for k in range(samples + 3):
            while run.sampler.snapshot is snap:
                busy_step(n)
            snap = run.sampler.snapshot
            settle = time.monotonic() + interval_s / 5
            while time.monotonic() < settle:
                busy_step(n)
            for i in range(5):
                busy_step(n)
                step += 1
                t0 = time.perf_counter()
                run.progress(step, TOTAL_STEPS)
                dt = time.perf_counter() - t0
                if k >= 3 and run.sampler.snapshot is snap:  # a few windows closed first
                    (between if i else first).append(dt)
    return statistics.median(between) * 1e6, statistics.median(first) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (~3 s)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # a bench machine's config notes are not the figures
    first_process, first_run = first_calls(5 if args.quick else 20)
    interval_s = 0.1
    between, read = steady(2.0 if args.quick else 5.0, interval_s, 50)
    looped, after = in_a_loop(10 if args.quick else 30, interval_s, STEP_MS[0] / 1000)
    print(f"progress() cost, µs per call (sampling interval {interval_s:g} s)")
    print(f"  first call in the process (imports):            {first_process:9.1f}")
    print(f"  first call of a run:                            {first_run:9.1f}")
    print(f"  steady state, between samples (a tight loop):   {between:9.1f}")
    print(f"  the same, the projection's figures read:        {read:9.1f}   (a step that logs them)")
    print(f"  between samples, after a {STEP_MS[0]:g} ms busy step:       {looped:9.1f}")
    print(f"  right after a new sample, after such a step:    {after:9.1f}")
    for ms in STEP_MS:
        for interval in (1.0, 0.1):
            calls = interval * 1000 / ms  # calls per sampling interval, the first of them after the new sample
            hot, cold = ((each * (calls - 1) + after) / calls for each in (between, looped))
            print(f"  overhead on a {ms:g} ms step, {interval:g} s interval: {hot / (ms * 10):5.2f} % (tight loop), "
                  f"{cold / (ms * 10):5.2f} % (busy steps)  [{hot:.1f}, {cold:.1f} µs mean per call]")

if __name__ == "__main__":
    main()
