"""The framework-free training session under the callbacks: failures on the footprint side never stop a
training, and runs are always ended with the right status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wattprint.errors import UnknownNameError, WattprintError, WattprintWarning
from wattprint.integrations.session import TrainingSession
from wattprint.storage import open_store
from wattprint.tracking import track

from .conftest import SAMPLE_INTERVAL_S


def _session(**kw: object) -> TrainingSession:
    return TrainingSession(project="s", interval_s=SAMPLE_INTERVAL_S, **kw)  # type: ignore[arg-type]


def test_a_card_that_cannot_be_written_at_the_end_is_a_warning_not_a_failure(wattprint_env: Path,
                                                                               tmp_path: Path) -> None:
    s = _session(run_name="card")
    s.begin()
    s.finish()
    not_a_folder = tmp_path / "weights.bin"
    not_a_folder.write_bytes(b"\0")
    with pytest.warns(WattprintWarning, match="model card not written"):
        assert s.write_card(not_a_folder, at_end=True) is None
    with pytest.raises(WattprintError):
        s.write_card(not_a_folder)  # asked for explicitly: the error is the answer


def test_a_store_that_cannot_be_used_measures_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    monkeypatch.setenv("WATTPRINT_DB", str(notes))
    monkeypatch.setenv("WATTPRINT_STATE_DIR", str(tmp_path / "state"))
    s = _session(run_name="mem")
    with pytest.warns(WattprintWarning, match="measuring in memory"):
        run = s.begin()
    fp = s.finish()
    assert fp is not None and fp.energy_kwh.value >= 0 and not run.persist
    assert notes.read_text() == "not a database\n"


def test_a_training_that_never_ended_is_closed_as_interrupted_by_the_next(wattprint_env: Path) -> None:
    s = _session()
    first = s.begin()
    second = s.begin()  # the first train() raised and the script caught it (the Trainer has no failure hook)
    assert first.id != second.id
    s.finish()
    store = open_store(str(wattprint_env))
    assert store.get_run(first.id).status == "interrupted"
    assert store.get_run(second.id).status == "finished"


def test_an_ended_run_handed_over_is_said_not_to_measure(wattprint_env: Path) -> None:
    run = track("s", "handed", interval_s=SAMPLE_INTERVAL_S).start()
    run.stop()
    with pytest.warns(WattprintWarning, match="not measured"):
        TrainingSession(run=run).begin()


def test_bad_settings_fail_when_the_callback_is_made(wattprint_env: Path) -> None:
    with pytest.raises(WattprintError, match="training_type"):
        _session(training_type="banana")
    with pytest.raises(UnknownNameError):
        _session(location="Nowhereland")
    with pytest.raises(WattprintError):
        _session(pue=-1)
    with pytest.raises(TypeError, match="WattprintCallback"):
        _session(projct="x")


def _run_python(script: str) -> None:
    """``script`` in a fresh interpreter (what it stores outlives it), which must exit 0."""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_a_training_left_open_at_exit_is_stored_as_not_completed(wattprint_env: Path) -> None:
    script = (
        "from wattprint.integrations.session import TrainingSession\n"
        "s = TrainingSession(project='s', run_name='open', interval_s=0.1)\n"
        "s.begin()\n"
        "try:\n    raise RuntimeError('CUDA out of memory')\nexcept RuntimeError:\n    pass\n"
    )
    _run_python(script)
    assert open_store(str(wattprint_env)).get_run("open").status == "interrupted"


def test_an_evaluation_on_a_handed_in_run_that_has_ended_does_not_fail_the_training(wattprint_env: Path) -> None:
    run = track(project="s", interval_s=SAMPLE_INTERVAL_S)
    run.start()
    run.stop()
    s = _session(run=run)
    s.begin()
    s.enter_phase()  # the run's owner stopped it early: an ended run no longer takes phases, and that is no error here
    assert not s.in_phase
    s.exit_phase()


def test_a_named_training_retried_by_the_same_callback_is_measured(wattprint_env: Path) -> None:
    """The first train() raised and was caught; the same callback's next one continues the stored run (same id):
    it must be measured and ended by that training, not left running with the first attempt's footprint."""
    s = _session(run_name="retry")
    first = s.begin()
    assert first is not None and s.active
    second = s.begin()
    assert second is not None and second is not first and second.id == first.id == "retry"
    assert s.active and second.status == "running" and first.status == "interrupted"
    fp = s.finish()
    assert fp is not None and s.footprint is fp and fp is not first.footprint()
    assert second.status == "finished"
    with open_store(str(wattprint_env), readonly=True) as store:
        assert store.get_run("retry").status == "finished"


def test_the_card_text_says_how_the_energy_was_obtained_and_the_embodied_co2e(wattprint_env: Path,
                                                                               tmp_path: Path) -> None:
    s = _session(run_name="card-text")
    s.begin()
    fp = s.finish()
    assert fp is not None
    path = s.write_card(tmp_path / "model")
    assert path is not None
    text = path.read_text()
    bases = {c.basis for c in fp.energy_by_component_kwh.values()}
    assert ("measured with" in text) == (bases == {"measured"})  # never "measured" for modelled figures
    assert "Embodied CO2e" in text and "not included in `emissions`" in text
    assert f"PUE {fp.pue:.3g}" in text and fp.intensity.basis in text


def test_a_watched_training_that_raised_is_stored_failed_even_at_an_immediate_exit(wattprint_env: Path) -> None:
    """The training call raised and the script caught it, then exits before any check: at exit the call is found
    gone, so the run failed (it used to be stored interrupted, charged the time until the exit)."""
    script = (
        "import sys\n"
        "from wattprint.integrations.session import TrainingSession\n"
        "s = TrainingSession(project='s', run_name='raised', interval_s=60)\n"  # the watch checks once a second
        "def train():\n"
        "    s.begin()\n"
        "    s.watch(sys._getframe())\n"
        "    raise RuntimeError('CUDA out of memory')\n"
        "try:\n    train()\nexcept RuntimeError:\n    pass\n"
    )
    _run_python(script)
    record = open_store(str(wattprint_env)).get_run("raised").to_dict()
    assert record["status"] == "failed"
    assert any(n.startswith("the training raised") for n in record["device_notes"])
