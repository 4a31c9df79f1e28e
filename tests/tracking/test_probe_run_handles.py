"""Findings of a probe of the tracking API, each as the behaviour it now has: ``@wattprint.track`` without
parentheses is ``@track()``; a run's repr names it; pickling or deep-copying a run says what to do instead; a phase in
a forked worker warns that it is not recorded; a second thread's track() of an id open in another thread says that it
is another thread's block, not an enclosing one."""

from __future__ import annotations

import copy
import json
import os
import pickle
import threading
import warnings
from typing import Any

import pytest

import wattprint
from wattprint.errors import InputConflictError, WattprintWarning
from wattprint.tracking import Run, track
from wattprint.tracking import run as run_module

from .conftest import PowerReader


def _opts(**kw: Any) -> dict[str, Any]:
    return {"interval_s": 0.05, "readers": [PowerReader(power_w=100.0)], "quiet": True, **kw}


# -- 1: the bare decorator --------------------------------------------------------------------------------------
def test_track_without_parentheses_decorates_as_track_with_no_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """``@wattprint.track`` took the function for a project name ("project name must be text, got <function>")."""
    monkeypatch.setattr(run_module, "open_readers", lambda pid, given, note: (None, [PowerReader()]))

    def double(x: int) -> int:
        return 2 * x

    tracked = wattprint.track(double)
    assert tracked.__wrapped__ is double  # type: ignore[attr-defined]
    assert tracked(3) == 6 and tracked(4) == 8
    last = tracked.last_run  # type: ignore[attr-defined]
    assert isinstance(last, Run) and last.status == "finished"
    assert last.project == "default" == track().project  # what track() with no project names it, not "double"
    assert last.id.startswith("default-")


def test_a_function_with_other_arguments_says_how_to_decorate() -> None:
    def f() -> None:
        pass

    for make in (lambda: track(f, "r1"), lambda: track(f, persist=False),  # type: ignore[call-overload]
                 lambda: Run(f)):  # type: ignore[arg-type]
        with pytest.raises(InputConflictError, match=r"^project name must be text, got the function test_a_function"
                                                     r"_with_.*\.f; to track a function, decorate it with "
                                                     r"@wattprint.track or @wattprint.track\(project=\.\.\., "):
            make()


# -- 2: repr ----------------------------------------------------------------------------------------------------
def test_a_runs_repr_names_its_id_project_and_status() -> None:
    run = track("proj", "r-1", persist=False, **_opts())
    assert repr(run) == "<Run 'r-1' project='proj' status='new'>"
    with run:
        assert repr(run) == "<Run 'r-1' project='proj' status='running'>"
    assert repr(run) == "<Run 'r-1' project='proj' status='finished'>"


# -- 3: pickle and deepcopy -------------------------------------------------------------------------------------
def test_pickling_or_deep_copying_a_run_says_to_track_a_run_in_each_worker() -> None:
    """They raised "cannot pickle '_thread.RLock' object"; copy.copy (a second handle on the run) still works."""
    with track("proj", "pk", persist=False, **_opts()) as run:
        for refuse in (pickle.dumps, copy.deepcopy, lambda r: pickle.dumps(r, protocol=0)):
            with pytest.raises(TypeError, match=r"Run \('pk'\) cannot be pickled or deep-copied: .*let each "
                                                r"worker process track its own run with wattprint.track\(\)"):
                refuse(run)
        twin = copy.copy(run)
        assert twin is not run and twin.sampler is run.sampler and repr(twin) == repr(run)
    assert run.status == "finished"


# -- 4: a phase in a forked child -------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_phase_in_a_forked_child_warns_that_it_is_not_recorded() -> None:
    """It did nothing, silently: the child has no sampler thread to take the phase's readings."""
    read_end, write_end = os.pipe()
    with track("proj", "fk", persist=False, **_opts()) as run:
        pid = os.fork()
        if pid == 0:  # the child: report what it saw through the pipe, and never return into pytest
            code = 1
            try:
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    with run.phase("worker"):
                        pass
                said = [(w.category.__name__, str(w.message), os.path.basename(w.filename)) for w in seen]
                os.write(write_end, json.dumps(said).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        _, status = os.waitpid(pid, 0)
        with os.fdopen(read_end) as f:
            said = json.loads(f.read())
        with run.phase("parent"):  # the parent's phases are measured as ever
            pass
    assert os.waitstatus_to_exitcode(status) == 0
    assert said == [[WattprintWarning.__name__,
                     f"phase 'worker' is not recorded: run 'fk' is measured by process {os.getpid()}, not by this one "
                     f"({pid}); this process's energy counts in that run, not as a phase",
                     os.path.basename(__file__)]]  # said at the caller's `with`
    assert run.sampler is not None and "parent" in run.sampler.phases and "worker" not in run.sampler.phases


# -- 5: two threads with one run id -----------------------------------------------------------------------------
def _in_thread(run_id: str, opened: threading.Event, leave: threading.Event, errors: list[BaseException]) -> None:
    try:
        with track("p", run_id, **_opts()):
            opened.set()
            leave.wait(10)
    except BaseException as e:
        errors.append(e)
        opened.set()


def test_a_run_open_in_another_thread_is_said_to_be_another_threads() -> None:
    """The second thread was told of "an enclosing track() block" it did not have."""
    opened, leave, errors = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=_in_thread, args=("thr", opened, leave, errors))
    holder.start()
    try:
        assert opened.wait(10) and not errors
        with pytest.raises(InputConflictError, match="by another thread's track\\(\\) block or decorated call") as e:
            track("p", "thr", **_opts()).start()
        assert "enclosing" not in str(e.value)
    finally:
        leave.set()
        holder.join(10)
    assert not errors
    # ended in its thread: this one resumes it; inside this thread's own block the store's words stand, as before
    with track("p", "thr", **_opts()) as run, pytest.raises(InputConflictError, match="an enclosing track"):
        track("p", "thr", **_opts()).start()
    assert run.status == "finished"


def test_two_threads_starting_one_run_id_at_once_are_told_it_is_another_threads() -> None:
    """A race of two starts: the store's check alone (the first one's record written, not yet registered as open)
    said "an enclosing track() block" too."""
    gate, leave, errors = threading.Barrier(2), threading.Event(), []
    opened = [threading.Event(), threading.Event()]

    def go(i: int) -> None:
        gate.wait(10)
        _in_thread("race", opened[i], leave, errors)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        assert all(o.wait(10) for o in opened)
    finally:
        leave.set()
        for t in threads:
            t.join(10)
    assert len(errors) == 1 and isinstance(errors[0], InputConflictError), errors
    assert "by another thread's track() block" in str(errors[0])
