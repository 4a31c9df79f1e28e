from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from wattprint.errors import WattprintError
from wattprint.storage import db_path, resolve_db_url


def test_argument_beats_env_beats_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("WATTPRINT_DB", raising=False)
    assert resolve_db_url() == f"sqlite://{tmp_path}/xdg/wattprint/wattprint.db"
    monkeypatch.setenv("WATTPRINT_DB", f"sqlite:///{tmp_path}/env.db")
    assert Path(db_path(resolve_db_url())) == tmp_path / "env.db"
    assert Path(db_path(resolve_db_url(str(tmp_path / "arg.db")))) == tmp_path / "arg.db"


def test_default_without_xdg_is_under_home_local_share(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("WATTPRINT_DB", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for xdg in (None, "", "relative/dir"):  # the XDG spec ignores a relative XDG_DATA_HOME
        if xdg is None:
            monkeypatch.delenv("XDG_DATA_HOME", raising=False)
        else:
            monkeypatch.setenv("XDG_DATA_HOME", xdg)
        assert Path(db_path(resolve_db_url())) == tmp_path / ".local/share/wattprint/wattprint.db"


def test_plain_paths_are_made_absolute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_db_url("sub/x.db") == f"sqlite://{tmp_path}/sub/x.db"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Path(db_path("~/y.db")) == tmp_path / "y.db"
    assert Path(db_path("sqlite:////abs/z.db")) == Path("/abs/z.db")


@pytest.mark.parametrize("url", ["sqlite://relative.db", "sqlite:relative.db", "sqlite:///", "mysql://h/db",
                                 "sqlite:///tmp/x.db?mode=ro"])
def test_malformed_or_unsupported_urls_are_user_errors(url: str) -> None:
    with pytest.raises(WattprintError):
        db_path(url)


def test_postgres_is_announced_not_silently_ignored() -> None:
    with pytest.raises(WattprintError, match="PostgreSQL support is not available yet") as e:
        resolve_db_url("postgresql://user:secret@db.example/wattprint")
    assert "secret" not in str(e.value)


def test_odd_characters_survive_the_round_trip_through_a_url(tmp_path: Path) -> None:
    p = tmp_path / "100% odd?#" / "runs.db"
    url = resolve_db_url(str(p))
    assert url.startswith("sqlite:///") and "?" not in url and "#" not in url
    assert Path(db_path(url)) == p
    assert resolve_db_url(url) == url


def test_a_nul_character_in_a_store_path_is_a_user_error() -> None:
    for text in ("sqlite:///tmp/%00x.db", "/tmp/a\x00b.db"):
        with pytest.raises(WattprintError, match="NUL"):
            db_path(text)


def test_a_relative_looking_sqlalchemy_url_is_not_taken_for_a_file_in_the_root() -> None:
    with pytest.raises(WattprintError, match="working directory"):
        db_path("sqlite:///runs.db")  # SQLAlchemy's relative form
    assert db_path("sqlite:///tmp/runs.db") == "/tmp/runs.db"
    assert db_path("sqlite:////tmp/runs.db") == "/tmp/runs.db"
    assert db_path("runs.db").endswith("/runs.db")


def test_a_percent_sequence_in_a_plain_path_is_literal() -> None:
    assert db_path("/tmp/a%00b.db") == "/tmp/a%00b.db"


def test_a_relative_sqlalchemy_url_under_a_folder_or_home_is_not_taken_for_a_new_folder_in_the_root() -> None:
    """sqlite:///sub/runs.db (SQLAlchemy: ./sub/runs.db) made /sub; sqlite:///~/y.db made a folder named '~' in /."""
    with pytest.raises(WattprintError, match="'no-such-top-folder-wp/runs.db'"):
        db_path("sqlite:///no-such-top-folder-wp/runs.db")
    assert db_path("sqlite:////no-such-top-folder-wp/runs.db") == "/no-such-top-folder-wp/runs.db"  # four: absolute
    with pytest.raises(WattprintError, match="not expanded"):
        db_path("sqlite:///~/y.db")
    assert db_path("sqlite:///tmp/sub/runs.db") == "/tmp/sub/runs.db"  # an existing top folder: an absolute path
    assert not Path("/no-such-top-folder-wp").exists() and not Path("/~").exists()


@pytest.mark.parametrize("text", ["some/folder/", "./", ".", "..", "~/"])
def test_a_plain_path_naming_a_folder_is_refused_as_the_url_form_is(text: str) -> None:
    """--db runs/ made a FILE named runs (the trailing slash dropped); the URL form said 'names a folder'."""
    with pytest.raises(WattprintError, match="names a folder"):
        db_path(text)
    with pytest.raises(WattprintError, match="names a folder"):
        db_path("sqlite:///tmp/some/folder/")


def test_percent_escapes_that_are_not_utf8_are_refused_rather_than_renamed(tmp_path: Path) -> None:
    """unquote's default replaced the byte %ff with U+FFFD: the store became a file of another name."""
    with pytest.raises(WattprintError, match="not UTF-8"):
        db_path(f"sqlite://{tmp_path}/%ff.db")
    assert db_path(f"sqlite://{tmp_path}/%C3%A9.db") == f"{tmp_path}/\u00e9.db"


def test_a_file_uri_names_its_absolute_path_not_a_folder_named_file(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``--db file:/abs/runs.db`` (RFC 8089's shortest form, as Java writes it) was taken for a relative path: the store
    went to ./file:/abs/runs.db, a folder tree made under the working directory."""
    from wattprint.storage import open_store

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    target = tmp_path / "stores" / "a b.db"
    for url in (f"file:{target}", f"FILE:{target}", f"file://{target}", f"file:{str(target).replace(' ', '%20')}"):
        assert db_path(url) == str(target), url
    with open_store(f"file:{target}") as store:
        store.begin_run("r", "p", 1.7e9, {})
    assert target.is_file() and list(cwd.iterdir()) == []
    assert open_store(str(target), readonly=True).get_run("r").project == "p"


@pytest.mark.parametrize(("url", "said"), [
    ("file:runs.db", "'file:runs.db' needs an absolute path: file:///absolute/path.db (three slashes), or give a plain "
                     "path"),
    ("file://host/runs.db", "needs an absolute path: file:///absolute/path.db"),
    ("file:/tmp/runs.db?mode=ro", "query parameters"),
    ("file:/", "names a folder"),
])
def test_a_file_uri_that_names_no_absolute_file_is_refused_as_a_sqlite_one_is(url: str, said: str) -> None:
    with pytest.raises(WattprintError, match=re.escape(said)):
        db_path(url)


@pytest.mark.skipif(os.name == "nt", reason="a drive is a path on Windows")
@pytest.mark.parametrize("url", ["C:\\runs.db", "c:/data/runs.db", "D:\\"])
def test_a_windows_path_is_refused_outside_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """It was a file of that odd name ('C:\\runs.db') in the working directory."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WattprintError, match=re.escape(f"store path {url!r} is a Windows path (drive {url[0]}:)")):
        db_path(url)
    assert list(tmp_path.iterdir()) == []
