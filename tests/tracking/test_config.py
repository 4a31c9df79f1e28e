from __future__ import annotations

from pathlib import Path

import pytest

from wattprint.errors import InputConflictError, WattprintError
from wattprint.tracking.config import _tiny_toml, load_config


def test_argument_beats_env_beats_file_beats_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wattprint.toml").write_text('location = "DEU"\npue = 1.4\nintensity = 300\ninterval = 0.5\n')
    cfg = load_config()
    assert (cfg.location, cfg.pue, cfg.intensity, cfg.interval_s) == ("DEU", 1.4, 300.0, 0.5)
    assert cfg.sources["location"].startswith("config file")

    monkeypatch.setenv("WATTPRINT_LOCATION", "FRA")
    monkeypatch.setenv("WATTPRINT_PUE", "hyperscale")
    cfg = load_config()
    assert (cfg.location, cfg.pue) == ("FRA", "hyperscale")
    assert cfg.sources["pue"] == "env WATTPRINT_PUE"

    cfg = load_config(location="US-CA", pue=1.1)
    assert (cfg.location, cfg.pue, cfg.sources["location"]) == ("US-CA", 1.1, "argument")


def test_user_config_file_and_wattprint_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "config" / "wattprint"
    user.mkdir(parents=True)
    (user / "config.toml").write_text('[wattprint]\nlocation = "SE3"\n')
    assert load_config().location == "SE3"
    assert load_config().pue is None  # default: resolved from the location later


def test_pue_and_intensity_resolve_to_ranges_with_sources() -> None:
    pue, assumption = load_config(pue=1.25).pue_range()
    assert (pue.value, pue.low, pue.high) == (1.25, 1.25, 1.25)
    assert "given" in assumption.source
    preset, _ = load_config(pue="hyperscale").pue_range()
    assert 1.0 < preset.low <= preset.value <= preset.high < 1.5
    default, _ = load_config().pue_range()
    assert default.low < default.high  # industry average with its range
    fixed = load_config(intensity=123.0).intensity_obj()
    assert fixed.g_per_kwh.value == 123.0
    fra = load_config(location="FRA").intensity_obj()
    world = load_config().intensity_obj()
    assert fra.g_per_kwh.value < world.g_per_kwh.value


def test_bad_values_are_user_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(InputConflictError, match="PUE"):
        load_config(pue=0.8)
    for bad in (float("inf"), "inf"):  # an infinite PUE was accepted and made every figure infinite
        with pytest.raises(InputConflictError, match="PUE .*finite"):
            load_config(pue=bad)
    with pytest.raises(InputConflictError, match="PUE from argument '1e400' is too large"):  # not "got inf"
        load_config(pue="1e400")
    monkeypatch.setenv("WATTPRINT_INTENSITY", "lots")
    with pytest.raises(InputConflictError, match="WATTPRINT_INTENSITY"):
        load_config()
    monkeypatch.delenv("WATTPRINT_INTENSITY")
    (tmp_path / "wattprint.toml").write_text("location = \n")
    with pytest.raises(WattprintError, match="not valid TOML"):
        load_config()
    (tmp_path / "wattprint.toml").unlink()
    with pytest.raises(WattprintError, match="unknown"):
        load_config(pue="moon base").pue_range()


def test_tiny_toml_parser_for_python_310_without_tomli() -> None:
    doc = _tiny_toml('# c\nlocation = "FRA"  # x\n[wattprint]\npue = 1.2\nflag = true\nn = 3\n')
    assert doc == {"location": "FRA", "wattprint": {"pue": 1.2, "flag": True, "n": 3}}
    # dotted table names nest, as TOML's do: a [tool.wattprint] is then found, and refused, as on Python >= 3.11
    assert _tiny_toml("[tool.wattprint]\npue = 1.2\n") == {"tool": {"wattprint": {"pue": 1.2}}}


def test_a_misspelt_setting_in_the_config_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wattprint.toml").write_text('locaton = "FR"\n')
    with pytest.raises(WattprintError, match=r"unknown setting 'locaton'; closest valid names: location"):
        load_config()
    (tmp_path / "wattprint.toml").write_text('[wattprint]\nlocation = "FR"\nintervall = 5\n')
    with pytest.raises(WattprintError, match="'intervall'.*interval"):
        load_config()
    # a shared file: other tools' tables and the [wattprint] table's own keys are fine
    (tmp_path / "wattprint.toml").write_text('[tool.other]\nx = 1\n[wattprint]\nlocation = "FR"\n')
    assert load_config().location == "FR"


def test_a_pue_past_every_sourced_facility_is_noted_and_an_absurd_one_refused() -> None:
    pue, note = load_config(pue=2.5).pue_range()
    assert pue.value == 2.5 and "given" in note.source and "least efficient class" in (note.note or "")
    _, plain = load_config(pue=1.3).pue_range()
    assert not plain.note
    with pytest.raises(InputConflictError, match="give a number such as 1.5"):
        load_config(pue=50).pue_range()  # at the tracker's start, before anything is measured


def test_a_given_intensity_in_grams_per_mwh_is_refused_at_start() -> None:
    with pytest.raises(InputConflictError, match="give grams per kWh"):
        load_config(intensity=400_000.0).intensity_obj()
    assert "x1000" in load_config(intensity=0.4).intensity_obj().source


@pytest.mark.parametrize("line", ["interval = true", 'location = ["FR"]', "intensity = true", "pue = false",
                                  'db = ["/tmp/x.db"]'])
def test_a_config_value_of_the_wrong_type_is_refused_not_coerced(tmp_path: Path, line: str) -> None:
    (tmp_path / "wattprint.toml").write_text(line + "\n")
    with pytest.raises(InputConflictError, match="must be"):
        load_config(cwd=str(tmp_path), environ={})


def test_a_config_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "wattprint.toml").write_bytes(b'location = "\xff\xfe"\n')
    with pytest.raises(WattprintError, match="not UTF-8"):
        load_config(cwd=str(tmp_path), environ={})


def test_an_interval_too_short_to_measure_anything_but_the_tracker_is_refused() -> None:
    with pytest.raises(InputConflictError, match="below"):
        load_config(interval_s=1e-6, environ={})
    assert load_config(interval_s=0.05, environ={}).interval_s == 0.05


def test_a_location_from_a_higher_priority_source_beats_a_lower_intensity(tmp_path: Path) -> None:
    (tmp_path / "wattprint.toml").write_text("intensity = 333\n")
    cfg = load_config(location="NO", cwd=str(tmp_path), environ={})
    assert cfg.intensity is None and "overridden by the location" in cfg.sources["intensity"]
    assert cfg.intensity_obj().g_per_kwh.value < 100  # Norway's grid, not the file's 333
    env = load_config(location="NO", environ={"WATTPRINT_INTENSITY": "100"})
    assert env.intensity is None
    same_level = load_config(location="NO", intensity=100, environ={})
    assert same_level.intensity == 100 and same_level.intensity_obj().location == "NOR"
    with pytest.raises(WattprintError, match="unknown location"):
        load_config(location="Narnia", intensity=100, environ={}).intensity_obj()


def test_the_intensity_lookup_gives_the_location_notes_and_a_given_number_names_no_world() -> None:
    _, notes = load_config(location="us-east-1", environ={}).intensity_lookup()
    assert any("read as aws:us-east-1" in n.note for n in notes)
    fixed, notes = load_config(location="FRA", intensity=100, environ={}).intensity_lookup()
    assert fixed.location == "FRA" and any("grid intensity not used" in n.note for n in notes)
    assert load_config(location="World", intensity=100, environ={}).intensity_obj().location == "given"


@pytest.mark.parametrize(("kw", "said"), [
    ({"intensity": True}, "grid intensity .* must be a number, got True"),
    ({"interval_s": True}, "sampling interval .* must be a number, got True"),
    ({"interval_s": 10**400}, r"1000.*\(401 characters\) is too large: it leaves the floating-point range"),
    ({"interval_s": float("inf")}, "must be a finite number > 0, got inf"),
])
def test_a_bool_an_int_past_float_or_infinity_is_no_interval_or_intensity(kw: dict[str, object], said: str) -> None:
    """True was read as 1 (1 gCO2e/kWh, a 1 s interval) and 10**400 raised OverflowError, not a user error; inf was
    'must be a positive number'."""
    with pytest.raises(InputConflictError, match=said):
        load_config(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("env", "what"), [("WATTPRINT_PUE", "PUE"), ("WATTPRINT_INTENSITY", "grid intensity")])
@pytest.mark.parametrize("given", ["1e400", "-1e400"])
def test_a_number_in_the_environment_too_large_for_a_float_is_said_as_given(env: str, what: str, given: str) -> None:
    """float() reads 1e400 as inf: WATTPRINT_PUE=1e400 said "got inf", a value never given, and neither said that
    the number was too large; only an infinity spelled out is one."""
    with pytest.raises(InputConflictError) as e:
        load_config(environ={env: given})
    assert str(e.value).startswith(f"{what}") and f"from env {env} '{given}' is too large: it leaves the " \
        "floating-point range" in str(e.value), str(e.value)
    with pytest.raises(InputConflictError, match="finite"):
        load_config(environ={env: "inf"})


@pytest.mark.parametrize(("env", "what"), [("WATTPRINT_PUE", "PUE"), ("WATTPRINT_INTENSITY", "grid intensity")])
def test_a_number_in_the_environment_too_close_to_zero_for_a_float_is_said_as_given(env: str, what: str) -> None:
    """float() reads 1e-400 as 0: WATTPRINT_PUE=1e-400 said "got 0", and WATTPRINT_INTENSITY=1e-400 was used as 0."""
    with pytest.raises(InputConflictError) as e:
        load_config(environ={env: "1e-400"})
    assert str(e.value).startswith(what) and f"from env {env} '1e-400' is too close to zero: it leaves the " \
        "floating-point range" in str(e.value), str(e.value)


@pytest.mark.parametrize(("toml", "what", "said"), [
    ("pue = 1e400", "PUE", "'1e400' is too large"),
    ("pue = -1e400", "PUE", "'-1e400' is too large"),
    ("intensity = 1e400", "grid intensity", "'1e400' is too large"),
    ("interval = 1_0e400", "sampling interval", "'1_0e400' is too large"),
    ("[wattprint]\ninterval = 1e-400", "sampling interval", "'1e-400' is too close to zero"),
    ("intensity = 1e-400", "grid intensity", "'1e-400' is too close to zero"),
    ("pue = 1e-400", "PUE", "'1e-400' is too close to zero"),
])
@pytest.mark.parametrize("tiny", [False, True])
def test_a_number_in_the_config_file_a_float_cannot_hold_is_said_as_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, what: str, said: str, tiny: bool) -> None:
    """The TOML readers make 1e400 inf and 1e-400 0: `pue = 1e400` said "got inf", a value the file does not hold,
    where WATTPRINT_PUE=1e400 says the number is too large; `interval = 1e-400` said "got 0.0" and
    `intensity = 1e-400` was used as 0. Said as the environment's are, naming the setting and the file (with the
    TOML reader of Python 3.10 without tomli too)."""
    if tiny:
        monkeypatch.setattr("wattprint.tracking.config._loads_toml", _tiny_toml)
    path = tmp_path / "wattprint.toml"
    path.write_text(toml + "\n")
    with pytest.raises(InputConflictError) as e:
        load_config(cwd=str(tmp_path), environ={})
    message = str(e.value)
    assert message.startswith(what) and f"from config file {path} {said}: it leaves the floating-point range" \
        in message, message
    assert "got inf" not in message and "got 0" not in message


def test_a_config_file_number_a_float_cannot_hold_is_said_as_written_where_text_is_wanted(tmp_path: Path) -> None:
    (tmp_path / "wattprint.toml").write_text("location = 1e400\n")
    with pytest.raises(InputConflictError, match="location in the config file .* must be text, got 1e400$"):
        load_config(cwd=str(tmp_path), environ={})


def test_a_config_file_infinity_spelled_out_is_still_refused_as_not_finite(tmp_path: Path) -> None:
    (tmp_path / "wattprint.toml").write_text("pue = inf\n")
    with pytest.raises(InputConflictError, match="PUE from config file .* must be a finite number >= 1"):
        load_config(cwd=str(tmp_path), environ={})


@pytest.mark.parametrize(("kw", "said"), [
    ({"location": ["FR"]}, r"location must be text, got \['FR'\]"),
    ({"location": 5}, "location must be text, got 5"),
    ({"db": 5}, "db must be a path or URL, got 5"),
])
def test_a_location_or_store_of_the_wrong_type_is_refused(kw: dict[str, object], said: str) -> None:
    """str() made them names: ['FR'] read as France, db=5 a store file named '5' in the working directory."""
    with pytest.raises(InputConflictError, match=said):
        load_config(**kw)  # type: ignore[arg-type]


def test_a_store_may_be_a_path_object(tmp_path: Path) -> None:
    assert load_config(db=tmp_path / "runs.db").db == str(tmp_path / "runs.db")  # type: ignore[arg-type]


@pytest.mark.parametrize(("interval", "said"), [(0.009999999, "0.009999999 s (from argument) is below 0.01 s"),
                                                (3600.0001, "3600.0001 s (from argument) is above 3600 s")])
def test_an_interval_just_past_a_bound_is_said_with_its_digits(interval: float, said: str) -> None:
    """By :g, 0.009999999 was "0.01 s is below 0.01 s"."""
    with pytest.raises(InputConflictError) as e:
        load_config(interval_s=interval, environ={})
    assert said in str(e.value)


@pytest.mark.parametrize(("text", "table", "why"), [
    ("[wattprint.sub]\npue = 1.2\n", "[wattprint.sub]", "the [wattprint] table has no sub-tables"),
    ('[wattprint]\nlocation = "FR"\n[wattprint.sub]\npue = 1.2\n', "[wattprint.sub]", "has no sub-tables"),
    ("[tool.wattprint]\npue = 1.2\n", "[tool.wattprint]", "a pyproject.toml's [tool.wattprint] is not read"),
    ("[Wattprint]\npue = 1.2\n", "[Wattprint]", "read at the top level or in a [wattprint] table"),
    ("[wattprnt]\npue = 1.2\n", "[wattprnt]", "read at the top level or in a [wattprint] table"),
    ('location = "FR"\n[tool.other]\nx = 1\n[tool.Wattprint]\ndb = "x.db"\n', "[tool.Wattprint]", "is not read"),
])
def test_a_table_meant_for_wattprint_that_is_not_read_is_refused(tmp_path: Path, text: str, table: str,
                                                                 why: str) -> None:
    """Its settings were silently unused (nested tables were skipped as other tools'), while a misspelt key at the top
    level is refused: now the table is, naming it and the table read. The store readers (store_setting) refuse it
    too: it may hold the db."""
    from wattprint.tracking.config import store_setting

    path = tmp_path / "wattprint.toml"
    path.write_text(text)
    for read in (lambda: load_config(cwd=str(tmp_path), environ={}),
                 lambda: store_setting(cwd=str(tmp_path), environ={})):
        with pytest.raises(WattprintError) as e:
            read()
        said = str(e.value)
        assert said.startswith(f"unknown config table '{table}'; closest valid names: [wattprint] (in the config "
                               f"file {path}: "), said
        assert why in said and "\n" not in said


def test_other_tools_tables_are_still_left_alone(tmp_path: Path) -> None:
    (tmp_path / "wattprint.toml").write_text('pue = 1.2\n[tool.ruff]\nline-length = 120\n[project]\nname = "x"\n'
                                             '[tool.ruff.lint]\nselect = ["E"]\n[print]\nx = 1\n')
    assert load_config(cwd=str(tmp_path), environ={}).pue == 1.2


@pytest.mark.parametrize("text", ["pue = 1.2\n", "[wattprint]\npue = 1.2\n"])
def test_a_config_file_that_begins_with_a_byte_order_mark_is_read(tmp_path: Path, text: str) -> None:
    """Windows editors write one: it was 'not valid TOML: Invalid statement (at line 1, column 1)'."""
    from wattprint.tracking.config import store_setting

    (tmp_path / "wattprint.toml").write_bytes(b"\xef\xbb\xbf" + f'{text}db = "runs.db"\n'.encode())
    assert load_config(cwd=str(tmp_path), environ={}).pue == 1.2
    assert store_setting(cwd=str(tmp_path), environ={}) == str(tmp_path / "runs.db")


@pytest.mark.parametrize("db", ["file:{abs}", "file://{abs}", "sqlite://{abs}"])
def test_a_config_file_store_url_is_not_read_against_the_files_folder(tmp_path: Path, db: str) -> None:
    """A file: URI was taken for a relative path, under the config file's folder ('<folder>/file:/abs/runs.db')."""
    from wattprint.storage import db_path
    from wattprint.tracking.config import store_setting

    target = tmp_path / "stores" / "runs.db"
    (tmp_path / "wattprint.toml").write_text(f'db = "{db.format(abs=target)}"\n')
    for got in (load_config(cwd=str(tmp_path), environ={}).db, store_setting(cwd=str(tmp_path), environ={})):
        assert got is not None and db_path(got) == str(target)


@pytest.mark.parametrize(("db", "said"), [("C:\\\\runs.db", "is a Windows path"), ("file:runs.db", "absolute path"),
                                          (":memory:", "':memory:' is not a store")])
def test_a_config_file_store_that_is_no_relative_path_is_judged_as_written(tmp_path: Path, db: str, said: str) -> None:
    """They were joined to the config file's folder, making a file of that odd name there."""
    import os

    from wattprint.storage import db_path

    if os.name == "nt" and "C:" in db:
        pytest.skip("a drive is a path on Windows")
    (tmp_path / "wattprint.toml").write_text(f'db = "{db}"\n')
    cfg = load_config(cwd=str(tmp_path), environ={})
    with pytest.raises(WattprintError, match=said):
        db_path(cfg.db or "")
