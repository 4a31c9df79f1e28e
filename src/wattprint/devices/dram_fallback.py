"""RAM energy from RAPL's DRAM counters, or from the RAM model where those counters never move.

Some platforms expose a ``dram`` powercap zone whose counter the firmware never updates (it reads 0, or one value,
for good). Memory draws power whenever the host is on (refresh alone), and a RAPL counter moves about every
millisecond, so a DRAM counter that has not moved at all for :data:`FROZEN_DRAM_S` since it was opened measures
nothing: the RAM is then modelled from the start of the run (W/GB x GiB, as on a host without RAPL DRAM), and a
note says why. Without a memory size to model from, the counter is kept and the note says RAM may be missing.

Usage::

    ram = DramOrModel(rapl_ram_reader, RamModelReader(alloc, clock), clock)
    ram.read()  # the counters' readings, or the model's once they are found frozen
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Clock, DeviceReader, NoteMixin, Reading

if TYPE_CHECKING:
    from ..footprint import Assumption

# input check, not data: a DRAM counter that has not moved this long (s) since open has no energy behind it
FROZEN_DRAM_S = 2.0


class DramOrModel(NoteMixin):
    """The RAPL DRAM reader ``measured`` until its counters are found never to move, then ``model`` (a
    RamModelReader created when the run starts, so that it covers the whole run), or None where the memory size is
    unknown."""

    component = "ram"

    def __init__(self, measured: DeviceReader, model: DeviceReader | None, clock: Clock) -> None:
        self._init_notes()
        self.measured = measured
        self._model = model
        self._clock = clock
        self._opened = clock()
        self._moved = False
        self.frozen = False  # the counters were found never to move
        self._modelled = False  # ... and the model is read instead, from now on
        self.basis = "measured"
        self.name = getattr(measured, "name", "rapl-ram")
        # how often the counters must be read not to miss a wrap (RaplReader's, also behind an AllocationShare)
        self.max_interval_s: float | None = getattr(measured, "max_interval_s", None) or getattr(
            getattr(measured, "inner", None), "max_interval_s", None)

    @property
    def late_assumptions(self) -> list[Assumption]:
        """The model's assumptions once it is read instead of the counters (none before)."""
        return list(getattr(self._model, "assumptions", []) or []) if self._modelled else []

    def read(self) -> list[Reading]:
        if self._modelled and self._model is not None:
            return self._model.read()
        readings = self.measured.read()
        self._pass_notes(self.measured)
        if not self._moved and any(r.energy_j > 0 for r in readings):
            self._moved = True
        still = self._clock() - self._opened
        if self._moved or self.frozen or still < FROZEN_DRAM_S:
            return readings
        zones = ", ".join(r.device for r in readings) or "dram"
        if self._model is None:
            self.frozen = True  # said once; the counters stay what is read
            self.note(f"RAPL DRAM counters ({zones}) have not moved in {still:.3g} s: this platform does not "
                      "update them, and with no memory size known RAM energy is not included")
            return readings
        self.frozen = self._modelled = True
        self.basis = "modelled"
        self.note(f"RAPL DRAM counters ({zones}) have not moved in {still:.3g} s, though memory draws power "
                  "whenever the host is on: this platform does not update them, so RAM energy is modelled "
                  "(W/GB x GiB) for the whole run instead")
        readings = self._model.read()
        self._pass_notes(self._model)
        return readings

    def _pass_notes(self, reader: object) -> None:
        take = getattr(reader, "take_notes", None)
        if take is not None:
            for msg in take():
                self.note(msg)

    def close(self) -> None:
        self.measured.close()
        if self._model is not None:
            self._model.close()
