"""bench/readme_block.py: only the named block changes; missing markers are an error, not a silent no-op."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scripts import load_script

rb = load_script("bench/readme_block.py")


def test_replaces_only_the_named_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:a:start -->\nold a\n<!-- bench:a:end -->\nmid\n"
                      "<!-- bench:b:start -->\nold b\n<!-- bench:b:end -->\nend\n")
    rb.replace_readme_block("a", "new a\n| x |\n", readme)
    assert readme.read_text() == ("intro\n<!-- bench:a:start -->\nnew a\n| x |\n<!-- bench:a:end -->\nmid\n"
                                  "<!-- bench:b:start -->\nold b\n<!-- bench:b:end -->\nend\n")


def test_missing_markers_stop_with_a_message(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="bench:gpu:start"):
        rb.replace_readme_block("gpu", "x", readme)
    assert readme.read_text() == "no markers\n"
