"""The `wattprint run` footer's process-tree share agrees with the CPU-seconds it gives beside it, also for a run too
short for the host's clock ticks to count (its tree counted 0.01 CPU-s, the host none: not "0.0%")."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from wattprint.cli.run import _print_summary
from wattprint.tracking.attribution import ShareSnapshot


def _footer(tree_cpu_s: float, host_busy_cpu_s: float, capsys: pytest.CaptureFixture[str]) -> str:
    run = SimpleNamespace(store=None, status="finished", unsaved=False, id="r", project="p")
    summary = {"process_share": ShareSnapshot(tree_cpu_s, host_busy_cpu_s).to_dict(machine_cpu_kwh=1e-6)}
    _print_summary(run, summary, SimpleNamespace(table=lambda: "  (figures)"), 0, None)
    (line,) = [x for x in capsys.readouterr().err.splitlines() if "process tree share" in x]
    return line.split(": ", 1)[1]


def test_the_share_is_the_ratio_of_the_cpu_seconds_it_gives(capsys: pytest.CaptureFixture[str]) -> None:
    assert _footer(0.11, 0.24, capsys).startswith("45.8% (0.11 CPU-s of 0.24 busy CPU-s)")


def test_a_run_too_short_for_the_host_s_ticks_has_no_share_figure(capsys: pytest.CaptureFixture[str]) -> None:
    text = _footer(0.01, 0.0, capsys)
    assert text.startswith("not known (0.01 CPU-s of the tree; the host counted no busy CPU time"), text
    assert "%" not in text and "of 0 busy" not in text


def test_a_tree_counted_above_the_host_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    text = _footer(0.03, 0.02, capsys)  # the share is capped at all of it: not 0.03 "of" 0.02
    assert text.startswith("100.0% (0.03 CPU-s of the tree, more than the host's 0.02 busy CPU-s"), text
