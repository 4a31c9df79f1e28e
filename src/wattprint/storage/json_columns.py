"""The JSON text columns of a store (energies, powers, meta, summaries): strict compact encoding, lenient decoding."""

from __future__ import annotations

import json
import math
from typing import Any


def _json_default(o: Any) -> Any:
    to_dict = getattr(o, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if hasattr(o, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(o)
    return str(o)


# compact JSON with one encoder for the process (json.dumps with options builds a new one per call); strict, so
# that a non-finite number (an unbounded projection) never reaches the store: SQLite's JSON functions reject
# 'Infinity', which would break every later write of the run
_encode = json.JSONEncoder(separators=(",", ":"), default=_json_default, allow_nan=False).encode


def dumps(obj: Any) -> str:
    try:
        return _encode(obj)
    except ValueError:  # NaN or +-inf somewhere: stored as null (JSON has no infinity)
        return _encode(finite(json.loads(json.dumps(obj, default=_json_default))))


def finite(o: Any) -> Any:
    """``o`` with every NaN or infinite float replaced by None (strict JSON has neither)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: finite(v) for k, v in o.items()}
    if isinstance(o, list):
        return [finite(v) for v in o]
    return o


def loads(text: str | None) -> dict[str, Any]:
    """A stored JSON object ({} for none); a value that is not JSON (a store damaged or edited by hand) is a
    one-line StoreError, not a traceback."""
    value, damaged = loads_marked(text)
    if damaged:
        from .records import StoreError

        shown = (text or "")[:40]
        raise StoreError(f"the store holds a damaged value (not valid JSON: {shown!r}...); restore the store from a "
                         "copy, or `wattprint runs export` what can still be read")
    return value


def loads_marked(text: str | None) -> tuple[dict[str, Any], bool]:
    """(the stored JSON object, False), or ({}, True) where the text is not valid JSON: a run's record is read
    with what is left of it (its other columns) rather than making every run in the store unreadable."""
    if not text:
        return {}, False
    try:
        value = json.loads(text)
    except ValueError:
        return {}, True
    return (value if isinstance(value, dict) else {}), False
