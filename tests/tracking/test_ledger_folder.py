"""The node ledger's default folder ($TMPDIR/wattprint-<uid>) lies in a folder every user may write to: one that
another user made first, or a symbolic link planted in it, is never used (else another local user could have
`wattprint run` rewrite any file its user may write, or plant fake runs that split its energy), and the ledger
file is never opened through a symbolic link, whoever named the folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wattprint.tracking.ledger import Ledger

VICTIM_TEXT = "precious content\n"
NOBODY = 65534  # the conventional uid of the "nobody" user: any uid other than the test's own would do


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No folder named by the user: the ledger's default one, under a $TMPDIR of the test's own."""
    monkeypatch.delenv("WATTPRINT_STATE_DIR", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    return tmp / f"wattprint-{os.getuid()}"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM_TEXT)
    return path


def _reading(t: float) -> tuple[float, list[tuple[str, str, list[float]]]]:
    return t, [("cpu", "package-0", [10.0 * t] * 3)]


def test_a_fresh_default_folder_is_made_private_and_used(tmpdir_env: Path) -> None:
    led, note = Ledger.for_node("k")
    assert note is None and led.path == str(tmpdir_env / "ledger-node.json")
    assert tmpdir_env.stat().st_mode & 0o777 == 0o700
    led.charge(*_reading(0.0))
    led.charge(*_reading(2.0))
    assert led.charged["cpu"][0] == pytest.approx(20.0)


def test_a_default_folder_of_another_user_is_refused_and_the_file_it_links_to_untouched(
        tmpdir_env: Path, victim: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("making a folder that another user owns needs root")
    tmpdir_env.mkdir()
    tmpdir_env.chmod(0o777)
    link = tmpdir_env / "ledger-node.json"
    link.symlink_to(victim)
    try:
        os.chown(tmpdir_env, NOBODY, -1)
        os.lchown(link, NOBODY, -1)
    except OSError as e:  # e.g. a user namespace without that uid
        pytest.skip(f"cannot give the folder to uid {NOBODY}: {e}")
    led, note = Ledger.for_node("k")
    assert led.path is None and note is not None
    assert str(tmpdir_env) in note and f"belongs to uid {NOBODY}" in note and "WATTPRINT_STATE_DIR" in note
    led.charge(*_reading(0.0))  # the run goes on, charged alone
    led.charge(*_reading(1.0))
    assert led.charged["cpu"][0] == pytest.approx(10.0)
    # the whole command, as the attacked user runs it: before, it rewrote victim.txt with the ledger's JSON
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    r = subprocess.run([sys.executable, "-m", "wattprint", "run", "--db", str(tmp_path / "runs.db"), "--", "true"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == VICTIM_TEXT
    said = [line for line in r.stderr.splitlines() if str(tmpdir_env) in line]
    assert len(said) == 1 and "not used" in said[0] and "WATTPRINT_STATE_DIR" in said[0], r.stderr


@pytest.mark.parametrize("kind", ["others may write to it", "symbolic link"])
def test_a_default_folder_others_may_write_to_or_a_symlinked_one_is_refused(tmpdir_env: Path, tmp_path: Path,
                                                                            kind: str) -> None:
    if kind == "symbolic link":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        tmpdir_env.symlink_to(elsewhere)
    else:
        tmpdir_env.mkdir()
        tmpdir_env.chmod(0o777)
    led, note = Ledger.for_node("k")
    assert led.path is None and note is not None and kind in note and str(tmpdir_env) in note
    assert list(tmp_path.rglob("ledger-*")) == []


def test_a_symlinked_ledger_file_is_never_followed_in_a_folder_the_user_named(tmp_path: Path, victim: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.setenv("WATTPRINT_STATE_DIR", str(state))
    (state / "ledger-node.json").symlink_to(victim)
    led, note = Ledger.for_node("k")
    assert led.path is None and note is not None and "symbolic link" in note
    # one put in place of the file after the run chose it: the run goes on in memory, nothing charged is lost
    (state / "ledger-node.json").unlink()
    led, note = Ledger.for_node("k")
    assert note is None
    notes: list[str] = []
    led.note = notes.append
    (state / "ledger-node.json").unlink()
    (state / "ledger-node.json").symlink_to(victim)
    led.charge(*_reading(0.0))
    led.charge(*_reading(3.0))
    assert led.charged["cpu"][0] == pytest.approx(30.0)
    assert victim.read_text() == VICTIM_TEXT
    assert len(notes) == 1 and "symbolic link" in notes[0] and "goes on without it" in notes[0]
