"""The run store: where the tracker persists samples as they arrive and where ``wattprint runs`` reads them.

    >>> from wattprint.storage import open_store
    >>> store = open_store("sqlite:///tmp/runs.db")      # or a plain path; default: resolve_db_url()

Only the standard library's ``sqlite3`` is used. See :mod:`wattprint.storage.sqlite` for the
crash-safety and concurrency guarantees and :mod:`wattprint.storage.url` for the default location.
"""

from __future__ import annotations

from .records import RunRecord, SampleRow, SlotPatch, StoreError
from .sqlite import Store, open_store
from .url import db_path, default_db_path, resolve_db_url

__all__ = ["RunRecord", "SampleRow", "SlotPatch", "Store", "StoreError", "db_path", "default_db_path",
           "open_store", "resolve_db_url"]
