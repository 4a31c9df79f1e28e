"""Runs whose last write the store refused (locked past the end-of-run bound, disk full), or whole runs whose store
file was deleted or replaced while they were written: kept in a file beside the store and written to it the next
time a process opens it for writing, so nothing measured is lost.

    <store>.unsaved/<run id>.<pid>.json   {"version", "run_id", "record" (None: the stored run exists),
                                           "samples", "phases", "summary", "patch", "status", "ended_at",
                                           "store" (the store's path, for a person reading the file)}

Where that folder cannot be written (a read-only folder, a full scratch disk), the file goes to the fallback
folder of that store under ``$XDG_STATE_HOME/wattprint/unsaved/`` (:func:`~wattprint.storage.url.fallback_spill_dir`),
read from there alike.

A file is written whole (to a temporary name, then renamed) or not at all, and removed once its samples are in
the store (also when a crash came between that write and the removal: the store then already reaches its last
sample, so it is never written twice). One whose run has since moved on in the store without it (resumed by
another process) is left where it is.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict
from typing import Any, NamedTuple

from .records import SampleRow, SlotPatch, renamed_run_id
from .url import fallback_spill_dir, fallback_spill_root, spill_dir, spill_dirs

SPILL_VERSION = 1
SUFFIX = ".json"
RECOVER_WRITE_WAIT_S = 0.2  # how long recovery waits for a locked store (s); the next opening tries again


def spill_run(store_path: str, run_id: str, *, record: dict[str, Any] | None, samples: list[SampleRow],
              phases: list[Any], summary: dict[str, Any] | None, patch: dict[str, Any] | SlotPatch | None,
              status: str | None, ended_at: float | None) -> str:
    """Write what the store refused to a spill file; its path. ``record`` (project, started_at, meta) where the
    run's record itself was never stored. Beside the store, else in its fallback folder; where both fail, the
    OSError says why for each."""
    doc = {
        "version": SPILL_VERSION, "run_id": run_id, "record": record,
        "samples": [asdict(s) for s in samples], "phases": [list(p) for p in phases],
        "summary": summary or None, "patch": patch.to_dict() if isinstance(patch, SlotPatch) else patch,
        "status": status, "ended_at": ended_at, "store": store_path,
    }
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)[:120]
    name = f"{safe}.{os.getpid()}{SUFFIX}"
    try:
        return _write_file(spill_dir(store_path), name, doc)
    except OSError as first:
        fallback = fallback_spill_dir(store_path)  # hashed only when the folder beside the store failed
        try:
            return _write_file(fallback, name, doc)
        except OSError as second:
            with contextlib.suppress(OSError):
                os.rmdir(fallback_spill_root())  # only if empty: a store's opening then looks no further
            raise OSError(f"beside the store: {first}; in {fallback}: {second}") from second


def _write_file(folder: str, name: str, doc: dict[str, Any]) -> str:
    """``doc`` as the JSON file ``name`` in ``folder`` (made if need be), whole or not at all; its path."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, say: no half-written file left behind, nor a folder holding none
        with contextlib.suppress(OSError):
            os.remove(tmp)
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # only if empty
        raise
    return path


def waiting(store_path: str) -> list[str]:
    """The spill files waiting to be written to the store at ``store_path`` (those this wattprint can read)."""
    return [p for p in _entries(store_path) if _readable(p)]


def unreadable(store_path: str) -> list[str]:
    """What lies in the spill folder of ``store_path`` under a spill file's name but cannot be read as one (damaged,
    a folder, written by another wattprint version): never written to the store, left for a person to look at."""
    return [p for p in _entries(store_path) if not _readable(p)]


def spill_notes(store_path: str) -> list[str]:
    """What a reader of the store says about its spill folders: the runs waiting there, and the files that never will
    be written (named, so that they can be looked at and removed)."""
    entries = _entries(store_path)
    folder = " and ".join(dict.fromkeys(os.path.dirname(p) for p in entries)) or spill_dir(store_path)
    # a new store made at a path whose store is gone gets whole runs, never the last samples of a run it lacks
    gone = not os.path.exists(store_path)
    ready: list[str] = []
    orphans: list[str] = []
    broken: list[str] = []
    for path in entries:
        doc = _read(path)
        (broken if doc is None else orphans if gone and doc.get("record") is None else ready).append(
            os.path.basename(path))
    notes: list[str] = []
    if ready:
        notes.append(f"{len(ready)} run(s) wait in {folder} to be written to the store (it was locked, full, or "
                     "deleted or replaced under them, when they ended); the next `wattprint run` or tracked run on "
                     "it writes them")
    if orphans:
        notes.append(f"{len(orphans)} file(s) in {folder} hold the last samples of runs stored in a store that no "
                     f"longer exists and will not be written to a new one: {', '.join(orphans)}")
    if broken:
        notes.append(f"{len(broken)} file(s) in {folder} cannot be read as runs kept for the store (damaged, or not "
                     f"written by this wattprint version) and will not be written to it: {', '.join(broken)}")
    return notes


class KeptRun(NamedTuple):
    """A run a spill file keeps for the store: its id, the file, and whether the file holds the whole run (its
    record never reached the store) or its last samples and end only (the store holds the rest), and the status it
    ended with (None: it was still running when the store refused it)."""

    run_id: str
    path: str
    whole: bool
    status: str | None = None


def kept_runs(store_path: str) -> list[KeptRun]:
    """The runs waiting in the spill folder of ``store_path`` (see :func:`waiting`), by id."""
    out: list[KeptRun] = []
    for path in _entries(store_path):
        doc = _read(path)
        if doc is not None:
            status = doc.get("status")
            out.append(KeptRun(doc["run_id"], path, doc.get("record") is not None,
                               status if isinstance(status, str) else None))
    return out


def _entries(store_path: str) -> list[str]:
    """Everything in the spill folders (beside the store, then the fallback) named like a spill file."""
    out: list[str] = []
    for folder in spill_dirs(store_path):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        out += sorted(os.path.join(folder, n) for n in names if n.endswith(SUFFIX))
    return out


def _readable(path: str) -> bool:
    """Whether ``path`` is a spill file this version can write to a store (whether its run still can be is known
    only in the store)."""
    return _read(path) is not None


def _read(path: str) -> dict[str, Any] | None:
    """The spill file at ``path`` where this version can write it to a store; None where it cannot."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):  # a folder, unreadable, damaged, not UTF-8
        return None
    ok = isinstance(doc, dict) and doc.get("version") == SPILL_VERSION and isinstance(doc.get("run_id"), str)
    return doc if ok else None


def recover(store: Any) -> list[str]:
    """Write every waiting spill file of ``store`` to it (each in one transaction, then the file is removed); the
    ids of the runs written. A file that cannot be read, or whose run moved on, stays; nothing here raises."""
    done: list[str] = []
    store.set_write_wait(RECOVER_WRITE_WAIT_S)  # a store still locked must not hold up the process opening it
    try:
        for path in _entries(store.path):  # one that cannot be read is passed over below
            with contextlib.suppress(Exception):
                with open(path, encoding="utf-8") as f:
                    doc = json.load(f)
                outcome, run_id = _write(store, doc)
                if outcome != "left":
                    os.remove(path)
                if outcome == "written":
                    done.append(run_id)
    finally:
        store.set_write_wait(None)
    for folder in (*spill_dirs(store.path), fallback_spill_root()):  # the root last: no stat, no hash, next time
        with contextlib.suppress(OSError):
            os.rmdir(folder)  # only when empty
    return done


def _write(store: Any, doc: dict[str, Any]) -> tuple[str, str]:
    """"written", "already" (the store holds these samples: a crash after writing them), or "left"; and the id the
    run is stored under."""
    from ..errors import UnknownNameError

    if doc.get("version") != SPILL_VERSION:
        return "left", str(doc.get("run_id"))
    run_id = doc["run_id"]
    samples = [SampleRow(**s) for s in doc["samples"]]
    record = doc.get("record")
    # checked inside the write transaction: processes opening the store at once (torchrun ranks) take turns, and
    # the second finds the first's samples there
    def stored_as(rid: str) -> Any:
        try:
            return store.get_run(rid)
        except UnknownNameError:
            return None

    with store.transaction():
        stored = stored_as(run_id)
        if record is not None and stored is not None and \
                abs(float(stored.started_at) - float(record["started_at"])) > 1e-6:
            # its record never reached the store, and another process started a run of this id meanwhile: this
            # one goes under an id of its own (as the tracker stores it when it finds that out itself)
            run_id = renamed_run_id(run_id, float(record["started_at"]))
            doc = {**doc, "run_id": run_id}
            stored = stored_as(run_id)
        if stored is None and record is None:
            return "left", run_id  # its record was stored once and is gone now (deleted): nothing to add these to
        if stored is not None and samples:
            if stored.duration_s >= samples[-1].elapsed_s - 1e-6 and stored.status == (doc.get("status") or
                                                                                         "running"):
                return "already", run_id
            if stored.duration_s > samples[0].elapsed_s + 1e-6:
                return "left", run_id  # another process went on with the run past these samples
        if stored is None and record is not None:
            store.begin_run(run_id, record["project"], float(record["started_at"]), dict(record["meta"]))
        store.append_samples(run_id, samples, doc.get("summary"), phases=[tuple(p) for p in doc["phases"]],
                             summary_patch=doc.get("patch"))
        if doc.get("status"):
            store.finish_run(run_id, doc["status"], None, ended_at=doc.get("ended_at"))
    return "written", run_id
