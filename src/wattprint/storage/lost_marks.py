"""A store whose SQLite header lost wattprint's marks: ``sqlite3 .dump`` (or Python's ``iterdump()``) restored into a
new file keeps every table, ``wattprint_meta`` included, but leaves ``PRAGMA user_version`` and ``application_id`` at
0. Such a file is taken for the store it was only when its tables say one thing: ``wattprint_meta`` names a schema
version this wattprint reads or upgrades, and the file's tables, columns, indexes and triggers, brought to the current
schema by that version's migrations, are exactly those of a store wattprint creates. That is tried on an in-memory
copy of its schema: nothing is written to the file here. The connection that writes the store then restores the marks
(:func:`.opening.connect`, in the transaction that upgrades it); a reader reads it as it is.

Loaded only for a file whose header reads user_version 0.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from . import schema
from .opening import _statements
from .records import StoreError

# what to do with a file that cannot be recognised: a copy that kept the header is the store itself
RESTORE_HINT = ("restore it from a copy that keeps the SQLite header (a `cp` of the closed store, or "
                "`sqlite3 STORE \".backup COPY\"`), or point --db at another file")
Layout = tuple[list[tuple[str, str]], dict[str, list[tuple[Any, ...]]]]


def recognised_version(conn: sqlite3.Connection, path: str, meta: dict[str, str]) -> int:
    """The schema version of the store on ``conn``, whose header reads user_version 0, from its ``wattprint_meta``
    (``meta``) and its tables (see the module docstring); StoreError, the file untouched, where they do not say it
    unambiguously."""
    text = meta.get("schema_version")
    try:
        version = int(text) if text is not None else 0
    except ValueError:
        version = 0
    lost = f"{path} has wattprint's tables but its SQLite header lost their schema version (it reads 0, as after " \
           "`sqlite3 .dump` into a new file)"
    if not schema.upgradable(version):
        raise StoreError(f"{lost}, and wattprint_meta gives none this wattprint reads ({text!r}); it was left "
                         f"untouched: {RESTORE_HINT}")
    if _layout_after(conn, version) != _layout_after(None, schema.SCHEMA_VERSION):
        raise StoreError(f"{lost}, and its tables are not those of the store schema {version} that wattprint_meta "
                         f"names; it was left untouched: {RESTORE_HINT}")
    return version


def _layout_after(conn: sqlite3.Connection | None, version: int) -> Layout | None:
    """The tables (with their columns), indexes and triggers of the schema on ``conn`` (None: a store wattprint
    creates) once the migrations from ``version`` are applied, in memory; None where they cannot be."""
    mem = sqlite3.connect(":memory:")
    try:
        if conn is None:
            script = list(_statements(schema.CREATE))
        else:  # tables before the indexes and triggers that need them
            script = [r[0] for r in conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND substr(name, 1, 7) != 'sqlite_' "
                "ORDER BY type != 'table', rowid")]
        for v in range(version, schema.SCHEMA_VERSION):
            script += [stmt for sql in schema.MIGRATIONS[v] for stmt in _statements(sql)]
        for stmt in script:
            mem.execute(stmt)
        objects = sorted((r[0], r[1]) for r in mem.execute(
            "SELECT type, name FROM sqlite_master WHERE substr(name, 1, 7) != 'sqlite_'"))
        columns = {name: [tuple(r) for r in mem.execute("SELECT * FROM pragma_table_info(?)", (name,))]
                   for kind, name in objects if kind == "table"}
        return objects, columns
    except sqlite3.Error:  # a migration that does not apply (a column it adds is there already): not that version
        return None
    finally:
        mem.close()
