"""Replace a benchmark's generated block in README.md: the text between ``<!-- bench:NAME:start -->`` and
``<!-- bench:NAME:end -->``. README figures come only from here, never typed by hand."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def replace_readme_block(name: str, block: str, readme: Path = README) -> None:
    """Put ``block`` between the ``name`` markers of ``readme``; SystemExit with a message if they are missing."""
    start, end = markers(name)
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{readme.name} has no {start} ... {end} block: not updated")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{block.strip()}\n{end}{tail}", encoding="utf-8")
