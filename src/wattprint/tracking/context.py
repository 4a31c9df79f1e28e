"""What a run ran on and under, as fields a paper or a model card can quote: the hardware the device layer read
(GPU models and counts, CPU model and count, RAM size), the software that measured it, and where each setting came
from (PUE given, a preset or the default; the grid intensity given or looked up; the place as country, region and
cloud region).

Nothing here probes the machine again: the hardware is what :mod:`wattprint.devices` read to open its readers (the
job's :class:`~wattprint.devices.host.Allocation` and the GPUs the readers list), the place is the location the
intensity lookup resolved.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from typing import Any

from .figures import gpu_models

_BYTES_PER_GIB = 1024**3
# what devices.host.cpu_info names a CPU whose /proc/cpuinfo gives no model line
_UNKNOWN_CPU = "unknown CPU"
# data.pue_preset's assumption value ends "(preset 'NAME')": the preset a PUE (default or named) was taken from
_PRESET = re.compile(r"\(preset '([^']+)'\)")
# the settings whose source (argument, env ..., config file ...) a paper may need; the store's path is not one
_SETTINGS = ("location", "pue", "intensity", "interval")


def hardware(alloc: Any, readers: list[Any]) -> dict[str, Any]:
    """``{"gpus": [{"name", "count"}], "cpu": {...} | None, "ram_gib", "ram_allocated_gib"}``: the GPUs the readers
    read, by the driver's name, and the job's allocation (None: it could not be read). ``cpu``: its model (None where
    /proc/cpuinfo gives none), sockets, the host's logical CPUs, the CPUs allocated to the job (a cgroup quota may make
    it fractional), and whether it is a virtual machine. Only where GPUs report their whole superchip module's energy
    (GH200), ``module_energy``: those GPUs, what the energy holds, the host components it covers and the share of
    them still modelled (:meth:`wattprint.devices.module_energy.HostCover.fields`)."""
    from ..devices.base import host_cover

    gpus = [{"name": name, "count": n} for name, n in Counter(gpu_models(readers).values()).items()]
    out: dict[str, Any] = {"gpus": gpus, "cpu": None, "ram_gib": None, "ram_allocated_gib": None}
    if (cover := host_cover(readers)) is not None:
        out["module_energy"] = cover.fields(alloc.sockets if alloc is not None else None)
    if alloc is None:
        return out
    out["cpu"] = {"model": None if alloc.cpu_model == _UNKNOWN_CPU else alloc.cpu_model, "sockets": alloc.sockets,
                  "logical_cpus": alloc.host_cpus, "allocated_cpus": alloc.cpus, "vm": alloc.is_vm}
    if alloc.host_memory_bytes:
        out["ram_gib"] = round(alloc.host_memory_bytes / _BYTES_PER_GIB, 2)
    if alloc.memory_bytes is not None:
        out["ram_allocated_gib"] = round(alloc.memory_bytes / _BYTES_PER_GIB, 2)
    return out


def over_segments(hw: dict[str, Any], earlier: list[dict[str, Any]]) -> dict[str, Any]:
    """``hw`` (:func:`hardware`, this segment's) for the whole run, a resumed one's ``earlier`` segments (the
    stored summary's ``segments``, each with its ``gpu_models``) before it. Where the segments read other GPUs,
    ``gpus`` gives each model at the most of it one segment read (what a methods section names; the chip-hours
    say how long each ran), and ``per_segment`` each segment's GPUs in order (null: a segment stored by a version
    that kept none); the CPU and RAM stay this segment's."""
    this = {str(g["name"]): int(g["count"]) for g in hw["gpus"]}
    per = [_segment_gpus(s) for s in earlier] + [this]
    if all(p == this for p in per):
        return hw
    most: dict[str, int] = {}
    for p in per:
        for name, n in (p or {}).items():
            most[name] = max(most.get(name, 0), n)
    return {**hw, "gpus": [{"name": name, "count": n} for name, n in most.items()],
            "per_segment": [None if p is None else [{"name": k, "count": n} for k, n in p.items()] for p in per]}


def _segment_gpus(segment: dict[str, Any]) -> dict[str, int] | None:
    """Model name -> count of the GPUs a stored segment read; None where it does not say (an earlier version)."""
    models = segment.get("gpu_models")
    if not isinstance(models, list):
        return None
    return dict(Counter(str(m) for m in models if m != "?"))  # "?": a GPU the driver gave no name for


def software() -> dict[str, Any]:
    """The versions that measured the run (stored in its meta): wattprint, Python, the OS (system-release-machine,
    from uname), and torch with its CUDA build where this process has already imported torch (never imported for
    this: in ``wattprint run`` the command's own interpreter may have another)."""
    from .. import __version__

    u = os.uname()
    out: dict[str, Any] = {"wattprint_version": __version__, "python_version": sys.version.split()[0],
                           "os": f"{u.sysname}-{u.release}-{u.machine}"}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_version"] = str(getattr(torch, "__version__", "")) or None
        out["torch_cuda_version"] = getattr(getattr(torch, "version", None), "cuda", None)
    return out


def location_fields(text: str | None, intensity_given: bool) -> dict[str, Any] | None:
    """The place a location setting names: ``{"key", "name", "kind", "country_iso", "region", "cloud"}``; ``region``
    a sub-national region or grid zone ("US-CA", "SE3"), ``cloud`` ``{"provider", "region"}`` for a cloud region.
    No location and a given intensity: None (no place was named); no location otherwise: the world average."""
    from ..errors import WattprintError
    from ..intensity import WORLD, resolve_location

    if text is None or not text.strip():
        if intensity_given:
            return None
        loc = WORLD
    else:
        try:
            loc = resolve_location(text)  # resolved once already by the intensity lookup, which would have failed
        except WattprintError:
            return None
    cloud = None
    if loc.kind == "cloud":
        provider, region = loc.key.split(":", 1)
        cloud = {"provider": provider, "region": region}
    return {"key": loc.key, "name": loc.name, "kind": loc.kind, "country_iso": loc.country_iso3,
            "region": loc.key if loc.kind in ("subnational", "zone") else None, "cloud": cloud}


def settings_fields(cfg: Any, pue_assumption: Any) -> dict[str, Any]:
    """Whether each setting was given or assumed: ``pue_source`` ("given", "preset" or "default") with
    ``pue_preset`` (the preset's name, for a named or default preset), ``intensity_given``, ``location_detail``
    (:func:`location_fields`), and ``settings_source``: where each setting given came from ("argument",
    "env WATTPRINT_PUE", "config file PATH")."""
    pue_source = "default" if cfg.pue is None else "preset" if isinstance(cfg.pue, str) else "given"
    preset = _PRESET.search(str(getattr(pue_assumption, "value", "")))
    intensity_given = cfg.intensity is not None
    return {"pue_source": pue_source, "pue_preset": preset.group(1) if preset and pue_source != "given" else None,
            "intensity_given": intensity_given, "location_detail": location_fields(cfg.location, intensity_given),
            "settings_source": {k: v for k, v in cfg.sources.items() if k in _SETTINGS}}


class RunContext:
    """The fields of this module for one run segment, fixed at start; the GPUs' catalogue names are looked up on
    first use (the catalogue's tables take ~0.1 s to load, off the start path)."""

    def __init__(self, cfg: Any, pue_assumption: Any, alloc: Any, readers: list[Any]) -> None:
        self._hardware = hardware(alloc, readers)
        self.settings = settings_fields(cfg, pue_assumption)
        self._catalogued: dict[str, Any] | None = None
        self._earlier: list[dict[str, Any]] = []

    def continues(self, earlier_segments: list[dict[str, Any]]) -> None:
        """A resumed run: its ``hardware`` covers the earlier segments too (:func:`over_segments`)."""
        self._earlier = [s for s in earlier_segments if isinstance(s, dict)]
        self._catalogued = None

    def hardware(self) -> dict[str, Any]:
        """:func:`hardware` over the run's segments (:func:`over_segments`), each GPU with ``catalogue``: the name of
        its catalogue entry (None: not in it), whose embodied CO2e and chip units the run uses."""
        if self._catalogued is None:
            hw = over_segments(dict(self._hardware), self._earlier)
            hw["gpus"] = [{**g, "catalogue": _catalogue_name(g["name"])} for g in hw["gpus"]]
            self._catalogued = hw
        return self._catalogued

    def summary_fields(self) -> dict[str, Any]:
        """What the stored summary carries of it: ``hardware`` and the settings' fields."""
        return {"hardware": self.hardware(), **self.settings}


def _catalogue_name(model: str) -> str | None:
    from .. import data
    from ..errors import WattprintError

    try:
        return str(data.find_accelerator(model)[0].name)
    except WattprintError:
        return None
