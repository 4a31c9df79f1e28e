"""A run's figures from what the sampler measured: the :class:`~wattprint.footprint.Footprint`, its embodied CO2e,
and the figures the store keeps (a full summary now and then, float-only patches between: :mod:`.live`).

:class:`RunFigures` holds what is fixed once the devices are read (PUE, intensity, assumptions, the GPU models,
the job's allocation, a resumed run's bases) and turns each :class:`~wattprint.tracking.sampler.Snapshot` into
figures; the sampler thread calls it for the store, the run's own methods for ``footprint()`` and ``progress()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import WattprintError
from ..footprint import Assumption, ComponentEnergy, Footprint, Intensity, amortised_embodied_kg
from ..quantities import Range
from .live import J_PER_KWH, SECONDS_PER_HOUR, LiveFigures

if TYPE_CHECKING:
    from ..storage import SlotPatch
    from .projection import Projection
    from .record import ResumePoint
    from .snapshot import Snapshot

CHARGED_SCOPE = (
    "energy_by_component_kwh is what this run is charged: the devices it reads (the machine's CPU packages and RAM, "
    "or the job's allocation on a shared node; the GPUs it may use), with energy shared by several tracked "
    "processes on the node split equally among them; process_share reports the tracked process tree's CPU-time "
    "share of the machine's CPU energy beside it"
)


def gpu_models(readers: list[Any]) -> dict[str, str]:
    """GPU label ("gpu3") -> model name as the driver reports it, from readers that list their GPUs."""
    out: dict[str, str] = {}
    for r in readers:
        for g in getattr(r, "gpus", None) or []:
            label, name = getattr(g, "label", None), getattr(g, "name", None)
            if label and name:
                out[str(label)] = str(name)
    return out


def gpu_unit_shares(readers: list[Any], accelerator: Callable[[str], Any]) -> dict[str, float]:
    """GPU label -> the share of a catalogue unit it is, for chip-hours and embodied CO2e as for energy. The catalogue
    counts a dual-die board or package as one (a K80's two GK210s, an MI250X's two GCDs) where the driver lists each
    die as a GPU: a listed die is 1/parts of the unit (refdata/count_units.csv), one GCD whose package's energy the
    job is charged half of is half, and a GCD the reader measures for its whole package (an MI250 pair) is one.
    ``accelerator``: model name -> catalogue entry, or None where the catalogue lacks it."""
    from .. import data

    out: dict[str, float] = {}
    for r in readers:
        for g in getattr(r, "gpus", None) or []:
            label, share = getattr(g, "label", None), getattr(g, "share", 1.0)
            if not label or getattr(g, "whole_unit", False):
                continue
            if isinstance(share, int | float) and 0.0 < share < 1.0:
                out[str(label)] = float(share)
                continue
            acc = accelerator(str(getattr(g, "name", "")))
            unit = data.count_unit(acc) if acc is not None else None
            if unit is not None:
                out[str(label)] = 1.0 / int(unit["parts"])
    return out


def sensor_assumptions(readers: list[Any]) -> list[Assumption]:
    """The accuracy band of each measured component's sensor (the range of its energy: reading x (1 -+ band)),
    once per component; and the GPUs whose power is sampled for want of an energy counter, for which the band
    is a floor: what happens between the driver's samples and between reads is not seen."""
    from .. import data

    out: list[Assumption] = []
    seen: set[str] = set()
    for r in readers:
        comp = getattr(r, "component", None)
        if getattr(r, "basis", None) == "measured" and isinstance(comp, str) and comp not in seen:
            seen.add(comp)
            out.append(data.measured_energy_band(comp)[1])
        out += getattr(r, "late_assumptions", [])  # a model that took over mid-run (frozen RAPL DRAM counters)
    sampled = [str(g.label) for r in readers for g in getattr(r, "gpus", None) or []
               if getattr(g, "use_counter", True) is False and not getattr(g, "lost", False)]
    if sampled and "gpu" in seen:
        out.append(Assumption(
            "GPU power sampled", ", ".join(sampled), "Yang, Adamek & Armour, SC24, arXiv:2312.02741 (2024)",
            "no energy counter read: power is integrated between reads, which misses power swings between them and "
            "between the driver's own samples (the power reading covers only 25% of the runtime on A100 and H100); "
            "that error has no documented bound, so the energy range of these GPUs is a floor"))
    return out


def embodied_over(basis: tuple[Range, float, Range], hours_h: float) -> Range:
    """The embodied CO2e over ``hours_h`` of a run (kg) from its basis (:meth:`RunFigures.embodied_basis`): the
    earlier segments' as stored, and this segment's hardware over the rest (amortised: linear in the hours)."""
    earlier_kg, earlier_h, rate = basis
    return earlier_kg + rate * max(0.0, hours_h - earlier_h)


class RunFigures:
    """Footprint, embodied CO2e and stored summary of one run segment, from its snapshots.

    ``assumptions`` are the run's (PUE, intensity, location, readers); ``models`` maps GPU labels to model names
    (:func:`gpu_models`); ``alloc`` is the job's allocation (None: the whole machine); ``resume`` what a resumed
    run continues from (:class:`~wattprint.tracking.record.ResumePoint`): its stored basis per component, the
    charged energy stored before this segment (J), and the earlier segments' chip-hours and embodied CO2e, to
    which this segment adds its own at the hardware it reads.
    """

    def __init__(self, pue: Range, intensity: Intensity, assumptions: list[Assumption], models: dict[str, str],
                 alloc: Any, resume: ResumePoint, readers: list[Any] | None = None) -> None:
        self.pue = pue
        self.intensity = intensity
        self.assumptions = assumptions
        self.gpu_models = models
        self._readers = readers or []
        self._unit_shares: dict[str, float] | None = None
        self.alloc = alloc
        self.prev_basis = resume.basis
        self.offset_j = resume.energy_j
        self.earlier_h = resume.priced_s / SECONDS_PER_HOUR  # the earlier time whose figures are carried
        self.earlier_chip_h = resume.chip_hours
        self.earlier_embodied_kg = resume.embodied_kg
        self.earlier_s = resume.duration_s
        self.earlier_segments = resume.segments
        self.offset_triples = resume.energy_triples()
        self.live: LiveFigures | None = None  # factors of the last full summary
        self._accelerators: dict[str, Any] = {}  # model name -> catalogue entry (None: not in it)

    def footprint(self, snap: Snapshot) -> Footprint:
        comps: dict[str, ComponentEnergy] = {}
        bases = self.bases(snap)
        for comp in sorted(snap.charged_j):
            v, lo, hi = snap.charged_j[comp]
            basis = bases.get(comp) or "measured"
            comps[comp] = ComponentEnergy(Range(v, min(lo, v), max(hi, v)) / J_PER_KWH,
                                          "measured" if basis == "measured" else "modelled")
        embodied, emb_assumptions = self.embodied(snap)
        hours = snap.elapsed_s / SECONDS_PER_HOUR
        chips = self.chips(snap)
        return Footprint(
            energy_by_component_kwh=comps,
            pue=self.pue,
            intensity=self.intensity,
            embodied_co2e_kg=embodied,
            assumptions=self.assumptions + sensor_assumptions(self._readers) + emb_assumptions,
            kind="measured",
            chip_hours=Range.exact(self.chip_hours(snap, hours)) if chips or self.earlier_chip_h else None,
            wall_time_h=Range.exact(hours),
        )

    def chip_hours(self, snap: Snapshot, hours: float) -> float:
        """Chip-hours of a run of ``hours``: the earlier segments' + this segment's chips over the rest."""
        return self.earlier_chip_h + self.chips(snap) * max(0.0, hours - self.earlier_h)

    @property
    def gpu_unit_shares(self) -> dict[str, float]:
        """label -> share of a catalogue unit (:func:`gpu_unit_shares`), looked up on first use, not at start."""
        if self._unit_shares is None:
            self._unit_shares = gpu_unit_shares(self._readers, self._accelerator)
        return self._unit_shares

    def _accelerator(self, model: str) -> Any:
        """The catalogue entry of a GPU model name as the driver reports it (None: not in the catalogue), looked up
        once per name."""
        if model not in self._accelerators:
            from .. import data

            try:
                self._accelerators[model] = data.find_accelerator(model)[0]
            except WattprintError:
                self._accelerators[model] = None
        return self._accelerators[model]

    def chips(self, snap: Snapshot) -> float:
        """Accelerators read, as the catalogue counts them (one GCD of an MI250X package alone: half a chip)."""
        return sum(self.gpu_unit_shares.get(label, 1.0) for label in snap.gpus)

    def embodied(self, snap: Snapshot, hours_h: float | None = None) -> tuple[Range, list[Assumption]]:
        """Embodied CO2e of the run over its duration (or ``hours_h`` of it): the earlier segments' as stored, plus
        this segment's hardware (:meth:`segment_embodied`) over the rest."""
        hours = snap.elapsed_s / SECONDS_PER_HOUR if hours_h is None else hours_h
        total, notes = self.segment_embodied(snap, max(0.0, hours - self.earlier_h))
        if not self.earlier_h:
            return total, notes
        return self.earlier_embodied_kg + total, [*notes, Assumption(
            "embodied, earlier segments", f"{self.earlier_embodied_kg:.4g} kgCO2e and {self.earlier_chip_h:.4g} "
            f"chip-hours over the earlier {self.earlier_h * SECONDS_PER_HOUR:.4g} s, as stored with the run "
            "(each segment at the hardware it read)", "the stored run's record")]

    def embodied_at(self, snap: Snapshot, hours_h: float) -> tuple[Range, Range]:
        """(the run's embodied CO2e over ``hours_h`` of it, kg; what each hour more on this segment's hardware adds,
        kg/h), for a projection of the run's duration. Amortised embodied CO2e is linear in the hours."""
        basis = self.embodied_basis(snap)
        return embodied_over(basis, hours_h), basis[2]

    def embodied_basis(self, snap: Snapshot) -> tuple[Range, float, Range]:
        """What :meth:`embodied_at` is worked out from, the same at any hour of a snapshot (``progress()`` works it
        out once per snapshot, not at every step): the earlier segments' embodied CO2e (kg) and hours, and what
        each hour on this segment's hardware adds (kg/h)."""
        return self.earlier_embodied_kg, self.earlier_h, self.segment_embodied(snap, 1.0)[0]

    def segment_embodied(self, snap: Snapshot, hours_h: float) -> tuple[Range, list[Assumption]]:
        """Embodied CO2e of this segment's hardware over ``hours_h``: the GPUs read (their charged share) + the
        host share."""
        from .. import data

        hours = Range.exact(hours_h)
        total = Range.exact(0.0)
        notes: list[Assumption] = []
        gpu_share = self.charged_ratio(snap, "gpu")
        per_server: int | None = None
        gpu_units = 0.0
        for label in snap.gpus:
            model = self.gpu_models.get(label)
            if not model:
                continue
            acc = self._accelerator(model)
            if acc is None:
                notes.append(Assumption("embodied GPU", f"{label} ({model}) not in the catalogue: not counted"))
                continue
            f = data.embodied_accelerator(acc)
            unit = self.gpu_unit_shares.get(label, 1.0)  # one GCD of a package: half of it
            total = total + amortised_embodied_kg(gpu_share * unit, f.kg_per_unit, hours, f.lifetime_years)
            gpu_units += gpu_share * unit
            per_server = per_server or data.accelerators_per_server(acc)
            part = f" x {unit:.3g} of the unit" if unit != 1.0 else ""
            notes.append(Assumption("embodied GPU", f"{label} {acc.name}: {f.kg_per_unit} kgCO2e{part} x share "
                                    f"{gpu_share:.3g}, lifetime {f.lifetime_years} y", f.source))
        share: float | Range
        alloc = self.alloc
        if per_server:
            host = data.embodied_host_server()
            share = gpu_units / per_server
            why = f"{gpu_units:.3g} of {per_server} GPUs of a server"
        elif alloc is not None and alloc.is_vm:
            # the host is invisible from a VM: its vCPUs stand for their share of a typical server
            host = data.embodied_cpu_server()
            server_cpus, server_note = data.server_logical_cpus()
            share = Range.exact(alloc.cpus * self.charged_ratio(snap, "cpu")) / server_cpus
            why = f"VM: {alloc.cpus:g} vCPUs of a host server of {server_cpus:.3g} logical CPUs"
            notes.append(server_note)
        else:
            host = data.embodied_cpu_server()
            share = (alloc.cpus / alloc.host_cpus) if alloc is not None and alloc.host_cpus else 1.0
            share *= self.charged_ratio(snap, "cpu")
            why = f"{share:.3g} of this machine (allocated CPUs x charged share; rack-server figure)"
        total = total + amortised_embodied_kg(share, host.kg_per_unit, hours, host.lifetime_years)
        notes.append(Assumption("embodied host", f"{why}: {host.kg_per_unit} kgCO2e per server, lifetime "
                                f"{host.lifetime_years} y, amortised over the run's duration", host.source))
        return total, notes

    def charged_ratio(self, snap: Snapshot, comp: str) -> float:
        """This segment's charged energy / what this process's readers saw (1 alone on the node, ~1/n shared
        n ways)."""
        seen = snap.read_j.get(comp, 0.0)
        if seen <= 0:
            return 1.0
        charged = snap.charged_j.get(comp, (0.0,))[0] - self.offset_j.get(comp, 0.0)
        return min(1.0, max(0.0, charged / seen))

    def bases(self, snap: Snapshot) -> dict[str, str]:
        """Basis per component; on a resumed run, components this segment has not read keep their stored one."""
        if not self.prev_basis:
            return snap.basis
        return {**self.prev_basis, **{k: v for k, v in snap.basis.items() if v}}

    def live_summary(self, snap: Snapshot, projection: Projection | None = None) -> dict[str, Any] | SlotPatch:
        """The changing figures only (energies, CO2e, ranges), merged into the last full summary between full
        ones; float arithmetic on the factors of that summary (:mod:`wattprint.tracking.live`). ``projection``: the
        run's latest one, already made by ``progress()`` (stored as it is: nothing is projected here)."""
        live = self.live
        if live is None:
            d = self.footprint(snap).to_dict(assumptions=False)
            if projection is not None:
                d["projection"] = projection.to_dict()
            return d
        patch = live.slots(snap.charged_j, self.bases(snap), snap.elapsed_s, self.chips(snap))
        return patch if projection is None else projection.into_patch(patch)

    def summary(self, snap: Snapshot, fp: Footprint) -> dict[str, Any]:
        """The measured part of a full summary: ``fp`` (this snapshot's :meth:`footprint`, which the caller prices
        the phases with too).to_dict() + process_share and what is charged; the factors of the live figures until
        the next one are taken from it."""
        self.live = LiveFigures(self.pue, self.intensity.g_per_kwh, self.segment_embodied(snap, 1.0)[0],
                                self.earlier_h, self.earlier_chip_h, self.earlier_embodied_kg)
        d = fp.to_dict()
        machine_cpu_kwh = snap.read_j.get("cpu", 0.0) / J_PER_KWH
        d["process_share"] = snap.share.to_dict(machine_cpu_kwh, snap.elapsed_s)
        d["charged_scope"] = CHARGED_SCOPE
        # each segment's own figures, the run's being their sum: a resumed run's earlier ones, then this one (as of
        # this full summary; the run's figures are refreshed at every interval, these at the next full summary)
        d["segments"] = [*self.earlier_segments, self.segment(snap)]
        return d

    def segment(self, snap: Snapshot) -> dict[str, Any]:
        """This segment's figures, in the keys of the ``segments`` list (:func:`.record.segment_figures`)."""
        from ..storage.records import iso_utc
        from .record import segment_figures

        seconds = max(0.0, snap.elapsed_s - self.earlier_s)
        energy: dict[str, tuple[float, float, float]] = {}
        for comp, (v, lo, hi) in snap.charged_j.items():  # the run's so far less what was stored before it
            off = self.offset_triples.get(comp, (0.0, 0.0, 0.0))
            energy[comp] = (v - off[0], min(lo, v) - off[1], max(hi, v) - off[2])
        hours = seconds / SECONDS_PER_HOUR
        chips = self.chips(snap)
        return {"started_at": iso_utc(snap.t_unix - seconds), "location": self.intensity.location,
                "pue": self.pue.value, "intensity_g_per_kwh": self.intensity.g_per_kwh.value, "gpus": chips,
                "gpu_models": sorted(self.gpu_models.get(label, "?") for label in snap.gpus),
                **segment_figures(seconds, energy, chips * hours, self.segment_embodied(snap, hours)[0], J_PER_KWH)}
