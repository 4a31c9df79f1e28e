"""Run ids and project names as given to track() and `wattprint run --run/--project`: text that `wattprint runs`
can show on one line. A run id with a newline was stored and split the runs table; a project name that was not
text raised a TypeError from inside the id maker."""

from __future__ import annotations

from pathlib import Path

import pytest

from wattprint.cli import main
from wattprint.errors import InputConflictError
from wattprint.tracking import track


@pytest.mark.parametrize(("kw", "said"), [
    ({"run": "a/b\n%"}, "run id 'a/b\\\\n%' holds '\\\\n', a control or invisible character"),
    ({"run": "x\ty"}, "holds '\\\\t'"),
    ({"run": "x\u200by"}, "control or invisible"),
    ({"run": "   "}, "run id '   ' is blank"),
    ({"run": 123}, "run id must be text, got 123"),
    ({"project": 5}, "project name must be text, got 5"),
    ({"project": "a\nb"}, "project name 'a\\\\nb' holds"),
])
def test_a_name_that_cannot_be_shown_on_one_line_is_refused(kw: dict[str, object], said: str) -> None:
    with pytest.raises(InputConflictError, match=said):
        track(persist=False, quiet=True, **kw)  # type: ignore[arg-type]


def test_none_means_not_given_an_empty_name_is_refused_and_ordinary_names_pass() -> None:
    # "" was read as not given (project 'default', a generated id) while `wattprint run --project ''` is refused:
    # most often a variable left unset
    for kw in ({"project": ""}, {"run": ""}):
        with pytest.raises(InputConflictError, match="is empty; give one, or leave it out"):
            track(persist=False, quiet=True, **kw)  # type: ignore[arg-type]
    run = track(None, None, persist=False, quiet=True)  # type: ignore[arg-type]
    assert run.project == "default" and run.id.startswith("default-")
    run = track("my project (v2)", "run:1/ä", persist=False, quiet=True)
    assert (run.project, run.id) == ("my project (v2)", "run:1/ä")


def test_wattprint_run_refuses_it_before_the_command_starts(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    assert main(["run", "--db", str(tmp_path / "runs.db"), "--run", "a\nb", "--", "touch", str(marker)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "control or invisible character" in err
    assert not marker.exists() and not (tmp_path / "runs.db").exists()


@pytest.mark.parametrize(("project", "head"), [("Ünï😀", "Ünï-"), ("my project!!", "my-project-"), ("😀", "run-"),
                                               ("llm", "llm-")])
def test_a_generated_run_id_has_one_dash_before_its_stamp(project: str, head: str) -> None:
    # '--project Ünï😀' made 'Ünï--20261127-...': the dropped emoji left a dash beside the stamp's
    from wattprint.tracking.record import new_run_id

    rid = new_run_id(project)
    assert rid.startswith(head) and rid[len(head)].isdigit(), rid
