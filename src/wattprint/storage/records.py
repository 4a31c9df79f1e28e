"""Plain records read from and written to a run store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputConflictError, WattprintError

J_PER_KWH = 3.6e6  # joules in one kilowatt-hour (definition)
RUN_STATUSES = ("running", "finished", "interrupted", "failed")
FINAL_STATUSES = RUN_STATUSES[1:]


class StoreError(WattprintError):
    """The store cannot be used: not a wattprint store, corrupt, newer schema, unreadable."""


class StoreLockedError(StoreError):
    """Another process holds the store locked for longer than this one waited (its write, or an exclusive lock)."""


@dataclass
class SampleRow:
    """One persisted sample of a run.

    ``energy_j``: cumulative IT energy per component (J) since the run started, including what
    earlier segments of a resumed run used; ``power_w``: mean power per component (W) over the
    interval that ends at this sample; ``elapsed_s``: run time (s) since start, continuing across resumes.
    """

    t_unix: float
    elapsed_s: float
    phase: str | None
    energy_j: dict[str, float] = field(default_factory=dict)
    power_w: dict[str, float] = field(default_factory=dict)


# A JSON object with number slots: ((key, None | "text" | nested shape), ...). None is a number to fill in.
JsonShape = tuple[tuple[str, Any], ...]


class SlotPatch:
    """A JSON merge patch given as a shape and the numbers for its slots, in order.

    The store has SQLite write the JSON text (``json_object`` of bound numbers), so a tracker's interval
    update never formats floats on the Python side: :meth:`to_dict` is for the rare paths that need the dict.

        >>> SlotPatch((("energy_kwh", None), ("basis", "modelled")), (0.5,)).to_dict()
        {'energy_kwh': 0.5, 'basis': 'modelled'}
    """

    __slots__ = ("shape", "values")

    def __init__(self, shape: JsonShape, values: tuple[float, ...]) -> None:
        self.shape = shape
        self.values = values

    def to_dict(self) -> dict[str, Any]:
        it = iter(self.values)

        def fill(shape: JsonShape) -> dict[str, Any]:
            return {k: next(it) if v is None else v if isinstance(v, str) else fill(v) for k, v in shape}

        return fill(self.shape)


def renamed_run_id(run_id: str, started_unix: float) -> str:
    """The id a run is stored under when its own was taken by another process while the store was locked (its
    record could not be written before): the id, its start time (UTC) and a digest of both, so that the same run
    gets the same new id again (a spill written twice is found already there)."""
    import hashlib

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started_unix))
    digest = hashlib.sha1(f"{run_id}\0{started_unix!r}".encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{run_id[:170]}-{stamp}-{digest}"


def iso_utc(t_unix: float | None) -> str | None:
    """Unix seconds -> ISO 8601 in UTC ("2024-05-01T12:00:00.250000+00:00"); None stays None."""
    if t_unix is None:
        return None
    from datetime import datetime, timezone  # lazily: keeps importing the store cheap

    return datetime.fromtimestamp(t_unix, tz=timezone.utc).isoformat()


@dataclass
class RunRecord:
    """One run as stored: identity, status, totals so far, and the tracker's last summary."""

    id: str
    project: str
    status: str
    started_at: float  # unix seconds
    ended_at: float | None  # unix seconds; None while running or after SIGKILL
    duration_s: float
    energy_j: dict[str, float]  # cumulative IT energy per component, J
    meta: dict[str, Any]
    summary: dict[str, Any]
    updated_at: float | None = None  # unix seconds of the last write: a "running" run not updated for long is dead
    damaged: tuple[str, ...] = ()  # columns whose stored value is not valid JSON (read as empty)

    @property
    def it_energy_kwh(self) -> float:
        """IT energy (kWh, before PUE) from the stored per-component totals."""
        return sum(self.energy_j.values()) / J_PER_KWH

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: id, project, status, started_at/ended_at (ISO 8601 UTC), duration_s, then the summary.

        If no summary was written (a run killed before its first flush, or a tracker that wrote none),
        the energy figures come from the stored per-component totals instead.
        """
        d: dict[str, Any] = {
            "id": self.id,
            "project": self.project,
            "status": self.status,
            "started_at": iso_utc(self.started_at),
            "ended_at": iso_utc(self.ended_at),
            "duration_s": self.duration_s,
        }
        summary = self.summary if "it_energy_kwh" in self.summary else {**self._energy_from_totals(), **self.summary}
        if self.damaged:  # said first, before any figure read from what is left
            d["damaged"] = list(self.damaged)
        for k, v in summary.items():
            d.setdefault(k, v)
        d.setdefault("updated_at", iso_utc(self.updated_at))
        if self.meta:
            d.setdefault("meta", self.meta)
        return d

    def _energy_from_totals(self) -> dict[str, Any]:
        raw_basis = self.meta.get("basis")
        basis: dict[str, Any] = raw_basis if isinstance(raw_basis, dict) else {}
        by_comp = {
            k: {"kwh": j / J_PER_KWH, "kwh_low": j / J_PER_KWH, "kwh_high": j / J_PER_KWH,
                "basis": str(basis.get(k, "unknown"))}
            for k, j in self.energy_j.items()
        }
        it = self.it_energy_kwh
        out: dict[str, Any] = {}
        pue = _as_bounds(self.meta.get("pue"))
        if pue is not None:
            out.update({"energy_kwh": it * pue[0], "energy_kwh_low": it * pue[1], "energy_kwh_high": it * pue[2]})
        else:
            out.update({"energy_kwh": None, "energy_kwh_low": None, "energy_kwh_high": None})
        out.update({"it_energy_kwh": it, "it_energy_kwh_low": it, "it_energy_kwh_high": it})
        out["energy_by_component_kwh"] = by_comp
        out["energy_by_component_kwh_low"] = {k: c["kwh_low"] for k, c in by_comp.items()}
        out["energy_by_component_kwh_high"] = {k: c["kwh_high"] for k, c in by_comp.items()}
        out["note"] = ("the run's stored summary is damaged (not valid JSON)" if "summary" in self.damaged
                       else "no summary was stored for this run") + "; energy is the stored per-component total" + (
            "" if pue is not None else " (PUE unknown, so facility energy is not given)"
        )
        return out


def _as_bounds(x: Any) -> tuple[float, float, float] | None:
    """PUE as stored in meta: a number or {"value","low","high"} -> (value, low, high)."""
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x), float(x), float(x)
    if isinstance(x, dict) and isinstance(x.get("value"), (int, float)):
        v = float(x["value"])
        return v, float(x.get("low", v)), float(x.get("high", v))
    return None


def refuse_resume(run_id: str, stored_project: str, project: str, busy: str | None) -> None:
    """The checks before a stored run of ``run_id`` (in ``stored_project``) is resumed in ``project``: not while
    ``busy`` says a live process measures it, nor in another project. The store's and the tracker's (which makes
    them before the store is free) alike."""
    if busy:
        raise InputConflictError(f"run {run_id!r} cannot be resumed: {busy}",
                                 advice="wait for it to end or choose another run id")
    if stored_project != project:
        raise InputConflictError(f"run {run_id!r} already exists in project {stored_project!r}, not {project!r}",
                                 advice="resume it with the same project or choose another run id")
