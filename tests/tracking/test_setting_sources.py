"""The tracker's settings where a source was silently ignored or misread: a name of two places, a config file with
settings both at its top level and in [wattprint], a PUE or store of the wrong kind, a blank environment variable,
a misspelt keyword, an intensity a location overrode without a word in the text output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wattprint.errors import AmbiguousNameError, InputConflictError
from wattprint.tracking import track
from wattprint.tracking.config import load_config

from .conftest import PowerReader

WP = [sys.executable, "-m", "wattprint"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """``wattprint run`` as a real subprocess, in the test's isolated environment (conftest)."""
    return subprocess.run([*WP, "run", *args], capture_output=True, text=True, timeout=120)


# -- a name of two places ---------------------------------------------------------------------------------------
def test_track_refuses_a_location_that_names_a_country_and_a_us_state() -> None:
    with pytest.raises(AmbiguousNameError, match="GEO.*US-GA"):
        track(location="Georgia", persist=False, readers=[PowerReader()]).start()
    with track(location="US-GA", persist=False, readers=[PowerReader()], quiet=True) as run:
        pass
    assert run.footprint().intensity.location == "Georgia (US-GA)"


def test_wattprint_run_refuses_it_on_one_line() -> None:
    r = _run("--location", "Georgia", "--", sys.executable, "-c", "pass")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "ambiguous location 'Georgia'" in r.stderr and "give GEO or US-GA" in r.stderr


# -- a config file with settings at the top level and in [wattprint] ---------------------------------------------
def test_a_config_file_with_settings_both_at_the_top_and_in_its_table_is_refused(tmp_path: Path) -> None:
    """The top-level ones were ignored, unchecked: a run priced at the world average, "bogus" never read."""
    (tmp_path / "wattprint.toml").write_text('location = "FR"\nintensity = "bogus"\n[wattprint]\npue = 1.2\n')
    with pytest.raises(InputConflictError) as e:
        load_config(cwd=str(tmp_path))
    msg = str(e.value)
    assert str(tmp_path / "wattprint.toml") in msg and "location, intensity" in msg and "[wattprint]" in msg
    r = _run("--", sys.executable, "-c", "pass")
    assert r.returncode == 2 and "location, intensity" in r.stderr and "Traceback" not in r.stderr


def test_either_place_alone_and_other_tools_tables_still_work(tmp_path: Path) -> None:
    (tmp_path / "wattprint.toml").write_text('location = "FR"\npue = 1.2\n')
    assert (load_config(cwd=str(tmp_path)).location, load_config(cwd=str(tmp_path)).pue) == ("FR", 1.2)
    (tmp_path / "wattprint.toml").write_text('[tool.other]\nx = 1\n[wattprint]\nlocation = "FR"\n')
    assert load_config(cwd=str(tmp_path)).location == "FR"


# -- a PUE or a store of the wrong kind -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [True, False, ["hyperscale"], {"value": 1.2}])
def test_a_pue_that_is_neither_a_number_nor_a_name_is_a_type_error_not_an_unknown_preset(bad: object) -> None:
    """True was 'unknown PUE preset 'True''; as the estimators, and at track(), as the other settings' types."""
    with pytest.raises(InputConflictError, match=r"PUE must be a number \(e.g. 1.1\) or a preset name, got "):
        track(pue=bad, persist=False)  # type: ignore[arg-type]
    with pytest.raises(InputConflictError, match="PUE must be a number"):
        load_config(pue=bad)  # type: ignore[arg-type]


def test_a_pue_number_of_any_numeric_type_or_a_preset_name_is_still_taken() -> None:
    from fractions import Fraction

    assert load_config(pue=Fraction(6, 5)).pue_range()[0].value == pytest.approx(1.2)
    assert load_config(pue=1).pue == 1.0
    assert load_config(pue="hyperscale").pue == "hyperscale"


@pytest.mark.parametrize("blank", ["", " "])
def test_an_empty_store_argument_is_refused_not_read_as_the_next_source(blank: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """track(db='') wrote to $WATTPRINT_DB, while --db '' and a config file's db = "" are refused."""
    monkeypatch.setenv("WATTPRINT_DB", str(tmp_path / "env.db"))
    with pytest.raises(InputConflictError, match="db must be a path or URL, got "):
        track(db=blank)
    with pytest.raises(InputConflictError, match="db must be a path or URL"):
        load_config(db=blank)
    assert not (tmp_path / "env.db").exists()


# -- a blank environment variable ----------------------------------------------------------------------------------
@pytest.mark.parametrize("var", ["WATTPRINT_DB", "WATTPRINT_LOCATION", "WATTPRINT_PUE", "WATTPRINT_INTENSITY",
                                 "WATTPRINT_CONFIG"])
def test_an_environment_variable_of_spaces_only_is_refused_naming_it(var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """WATTPRINT_DB=" " fell back to the per-user store, as --db ' ' is refused."""
    monkeypatch.setenv(var, " \t")
    with pytest.raises(InputConflictError, match=f"environment variable {var}: given an empty value"):
        load_config()


def test_an_empty_environment_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """``WATTPRINT_DB= cmd`` unsets it, as for XDG variables: the next source is used."""
    for var in ("WATTPRINT_DB", "WATTPRINT_LOCATION", "WATTPRINT_PUE", "WATTPRINT_INTENSITY", "WATTPRINT_CONFIG"):
        monkeypatch.setenv(var, "")
    cfg = load_config()
    assert (cfg.db, cfg.location, cfg.pue, cfg.intensity) == (None, None, None, None)


def test_wattprint_run_refuses_a_blank_wattprint_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTPRINT_DB", " ")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    r = _run("--", sys.executable, "-c", "pass")
    assert r.returncode == 2 and "WATTPRINT_DB" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "data").exists()  # nothing written to the per-user store


# -- a misspelt keyword ----------------------------------------------------------------------------------------------
def test_a_misspelt_keyword_names_the_one_meant() -> None:
    with pytest.raises(TypeError, match=r"locaton \(did you mean location\?\)"):
        track(locaton="FR", persist=False)
    with pytest.raises(TypeError, match=r"intervl \(did you mean interval_s\?\), zzzzzz$"):
        track(intervl=2, zzzzzz=1, persist=False)


# -- an intensity a location overrode ---------------------------------------------------------------------------------
def test_an_intensity_a_location_overrode_is_said_in_the_text_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """WATTPRINT_INTENSITY=100 with --location FR: France's grid is used, and the 100 was unused without a word
    (only in --json's settings_source)."""
    monkeypatch.setenv("WATTPRINT_INTENSITY", "100")
    r = _run("--location", "FR", "--", sys.executable, "-c", "pass")
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if "WATTPRINT_INTENSITY" in line]
    assert len(said) == 1, r.stderr
    assert "100 gCO2e/kWh" in said[0] and "not used" in said[0] and "'FR' from the argument" in said[0]


def test_the_overridden_intensity_is_among_the_run_assumptions(tmp_path: Path) -> None:
    (tmp_path / "wattprint.toml").write_text("intensity = 333\n")
    cfg = load_config(location="NO", cwd=str(tmp_path), environ={})
    _, notes = cfg.intensity_lookup()
    (note,) = [n for n in notes if "333" in n.value]
    assert "config file" in note.value and "not used" in note.note and "'NO'" in note.note
    _, same_level = load_config(location="NO", intensity=100, environ={}).intensity_lookup()
    assert not [n for n in same_level if n.what == "grid intensity"]  # the number given is used: nothing unused
