"""Plain-text tables for the terminal, aligned by how wide text shows, not by its code points: a CJK character or
an emoji takes two columns, a combining accent none (run ids and project names are the user's own text)."""

from __future__ import annotations

from collections.abc import Sequence


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (East Asian wide and full-width characters two, combining marks and
    zero-width characters none)."""
    if text.isascii():
        return len(text)
    import unicodedata  # only for text that needs it

    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    """``text`` padded with blanks to ``width`` columns (as str.ljust, by display width)."""
    return text + " " * max(0, width - display_width(text))


def table(rows: Sequence[Sequence[str]]) -> str:
    """``rows`` (the first being the header) in columns two blanks apart, without trailing blanks."""
    if not rows:
        return ""
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
