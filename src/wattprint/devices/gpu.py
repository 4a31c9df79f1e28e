"""What NVIDIA and AMD GPU readers share: an energy counter where the driver has one, power integrated
over time where not; a counter that goes back (driver reload, GPU reset) bridged with power x time; a GPU
that keeps failing (or reports itself lost) kept at its energy so far while the others continue."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .base import Clock, Integrator, NoteMixin, Reading

if TYPE_CHECKING:
    from ..footprint import Assumption
    from .module_energy import HostCover, ModuleCounter

MAX_CONSECUTIVE_FAILURES = 3  # failed reads in a row before a GPU is declared lost (transient errors retry) ...
MIN_FAILING_S = 1.0  # ... and for at least this long: at a short interval, a few ms of NVML timeouts is not a loss


@dataclass
class GpuState:
    """One GPU as a reader follows it; ``energy_j`` is cumulative since the reader opened."""

    index: int
    handle: Any
    name: str
    use_counter: bool
    uuid: str = ""
    last_counter_j: float | None = None
    integ: Integrator = field(default_factory=Integrator)
    energy_j: float = 0.0
    power_w: float | None = None
    lost: bool = False
    failures: int = 0
    failing_since: float | None = None  # clock time of the first of the current run of failed reads
    moved_at: float | None = None  # clock time the energy counter was last seen to move (or first read)
    prefix: str = "gpu"  # "amd-gpu" beside NVIDIA GPUs on one host, whose indices also start at 0
    limit_w: float | None = None  # the board's power limit (re-read before a reading is refused), where known
    max_limit_w: float | None = None  # the most the board can be configured to draw (W), where the driver says
    jumped_j: float | None = None  # a counter value refused as a glitch, kept to tell a glitch from a new base
    jumped_t: float | None = None  # clock time of that refused value
    refused: int = 0  # readings refused as impossible in a row, failed reads break the row (_accept_second_refusal)
    back_j: float | None = None  # the base before the counter last went back, kept to tell a glitch from a reset
    back_t: float | None = None  # clock time of that base
    bridged_j: float = 0.0  # energy bridged with power x time when the counter went back
    last_good_t: float | None = None  # clock time of this GPU's last counted reading (failed reads do not move it)
    share: float = 1.0  # fraction of what the handle reports that is this GPU's (half a dual-die package)
    whole_unit: bool = False  # it stands for a whole dual-die package the driver lists as two GPUs (an MI250 pair)
    module: ModuleCounter | None = None  # its counter reports its whole superchip module (a GH200: GPU, CPU, memory)

    @property
    def label(self) -> str:
        return f"{self.prefix}{self.index}"


# input checks, not data: a board does not draw more than this many times its enforced power limit on average
# over an interval (boost excursions are milliseconds long), and intervals shorter than the window are judged
# over the window (counters update every few ms). The same margin over the most the board can be set to draw (its
# maximum configurable limit where the driver gives it, never above the catalogue's highest accelerator TDP) is the
# absolute cap: what no reading is believed past, not even a second one in a row, and no bound is raised past
GLITCH_MARGIN = 2.0
MIN_GLITCH_WINDOW_S = 0.1
# a powered board's counter moves every few ms: one that stays still this long while power is reported is stuck
FROZEN_COUNTER_S = 2.0


class ReadError(ValueError):
    """A value the driver returned that is no reading: a "not available" sentinel (all bits set) or a negative
    number. Handled as a failed read, never counted."""


def check_raw(value: float, sentinels: tuple[int, ...], what: str) -> float:
    """``value`` as read from the driver, in the driver's own units, or :class:`ReadError` where it is one of the
    driver's sentinel values or negative."""
    if value < 0 or value in sentinels:
        raise ReadError(f"{what} read {value:.0f}, a value that means 'not available', not a reading")
    return value


@lru_cache(maxsize=1)
def catalogue_max_w() -> float:
    """The highest TDP of any accelerator in wattprint's catalogue (W)."""
    from .. import data  # lazy: tables load on first use

    return float(max(a.tdp_w for a in data.accelerators() if a.tdp_w))


def ceiling_w(g: GpuState) -> float:
    """The most this board can draw (W), as far as wattprint can tell: its maximum configurable power limit where
    the driver gives it, never above the highest accelerator TDP in the catalogue. Readings are never believed past
    GLITCH_MARGIN times this (:meth:`CounterOrPowerReader.cap_w`), however often they come."""
    top = catalogue_max_w()
    return min(g.max_limit_w, top) if g.max_limit_w else top


class CounterOrPowerReader(NoteMixin):
    """Base of the GPU readers; a subclass reads the driver: :meth:`_counter_j` (cumulative J) and
    :meth:`_power_w` (W), raising one of ``self._errors`` on failure."""

    component = "gpu"
    basis = "measured"
    name = "gpu"
    reset_cause = "reset"  # what makes this driver's counter go back, for the note
    # what this reader's measured energy holds of the host (a GH200 module's Grace CPU and memory), fixed when it opens
    host_cover: HostCover | None = None

    def __init__(self, gpus: list[GpuState], clock: Clock, errors: tuple[type[BaseException], ...]) -> None:
        self._init_notes()
        self.gpus = gpus
        self._errors: tuple[type[BaseException], ...] = (*errors, ReadError)
        self._clock = clock
        self._t = clock()
        self._closed = False
        for g in gpus:  # starting points: counter value, or the first power sample
            try:
                if g.use_counter:
                    g.last_counter_j = self._counter_j(g)
                    g.moved_at = self._t
                else:
                    g.integ.add(self._t, self._power_w(g))
                g.last_good_t = self._t
            except self._errors as exc:
                self._failed(g, exc, self._t)

    @property
    def assumptions(self) -> list[Assumption]:
        """What the GPU energy holds where it is a whole module's (:class:`~.module_energy.HostCover`)."""
        return [self.host_cover.assumption()] if self.host_cover is not None else []

    # -- driver access (subclasses) --------------------------------------------------------------
    def _counter_j(self, g: GpuState) -> float:
        raise NotImplementedError

    def _power_w(self, g: GpuState) -> float:
        raise NotImplementedError

    def _is_lost(self, exc: BaseException) -> bool:
        """True when the driver says the GPU is gone for good (no retries)."""
        return False

    def _read_limit_w(self, g: GpuState) -> float | None:
        """The board's power limit as the driver gives it now (W), or None where it cannot be read again."""
        return None

    def _describe(self, exc: BaseException) -> str:
        return str(exc)

    # -- shared logic ------------------------------------------------------------------------------
    def _read_one(self, g: GpuState, t: float, dt: float) -> None:
        # a reading spans the time since this GPU's last counted one, not the reader's last read: after failed
        # or refused reads, the counter's step covers the whole gap and is judged over it
        span = t - g.last_good_t if g.last_good_t is not None else dt
        if g.use_counter:
            delta_j = self._counter_step(g, t, span)
            if delta_j is not None:
                g.energy_j += delta_j
                g.last_good_t = t
                if span > 0:
                    g.power_w = delta_j / span
        else:
            p = self._power_w(g)
            if self._allowed(g, p, 1.0) or self._accept_second_refusal(g, f"power sample of {p:.3g} W", p):
                g.energy_j += g.integ.add(t, p)
                g.power_w = p
                g.refused = 0
                g.last_good_t = t
            else:
                g.refused += 1
                self.note(f"{g.label} reported {p:.3g} W, more than {self._bound_text(g)}; that sample is ignored",
                          key=f"power-{g.index}")
        g.failures, g.failing_since = 0, None

    def _counter_step(self, g: GpuState, t: float, span: float) -> float | None:
        """Energy (J) since the last counted reading, ``span`` s ago, from the counter; None when this reading is
        not counted (a glitch, or a stuck counter just switched to power sampling)."""
        counter = self._counter_j(g)
        if g.last_counter_j is None or counter < g.last_counter_j:
            if g.last_counter_j is not None:
                self.note(f"{g.label} energy counter went back ({self.reset_cause}); that interval is "
                          "bridged with power x time", key=f"reset-{g.index}")
            try:
                delta_j = self._power_w(g) * span
            except self._errors:
                delta_j = (g.power_w or 0.0) * span
            # kept for one reading: a counter that carries on from the old base next time only glitched back
            g.back_j, g.back_t, g.bridged_j = g.last_counter_j, g.last_good_t, delta_j
            g.last_counter_j = counter
            g.jumped_j = g.jumped_t = None
            g.refused = 0
            return delta_j
        delta_j = counter - g.last_counter_j
        if delta_j == 0 and self._counter_stuck(g, t):
            return None
        if delta_j != 0:
            g.moved_at = t
        if not self._allowed(g, delta_j, span):
            if (g.back_j is not None and g.back_t is not None and counter >= g.back_j
                    and self._possible(g, counter - g.back_j, t - g.back_t)):
                # the counter went back last time and now carries on from where it was before: that value was a
                # glitch (amdsmi reads 0 on a transient failure), not a reset; the counter's own step replaces the
                # power x time bridge
                self.note(f"{g.label} energy counter read one value below its last one and then carried on from "
                          "where it was: that value was a glitch, not a reset; the time is counted from the counter",
                          key=f"back-{g.index}")
                delta_j = max(0.0, counter - g.back_j - g.bridged_j)
            elif (g.jumped_j is not None and g.jumped_t is not None and counter >= g.jumped_j
                    and self._allowed(g, counter - g.jumped_j, t - g.jumped_t)):
                # the value refused last time was a new base (the counter was rebased): the jump itself is dropped
                delta_j = counter - g.jumped_j
            elif not self._accept_second_refusal(g, f"energy counter step of {delta_j:.3g} J in {span:.3g} s",
                                                 delta_j / max(span, MIN_GLITCH_WINDOW_S)):
                # a glitch (one bogus value): keep the old base; if the next value follows on from this one
                # instead, the counter was rebased and the jump itself is dropped
                g.jumped_j, g.jumped_t = counter, t
                g.refused += 1
                self.note(f"{g.label} energy counter jumped by {delta_j:.3g} J in {span:.3g} s, more than "
                          f"{self._bound_text(g)} allows; reading ignored", key=f"jump-{g.index}")
                return None
        g.jumped_j = g.jumped_t = g.back_j = g.back_t = None
        g.refused = 0
        g.last_counter_j = counter
        return delta_j

    def _allowed(self, g: GpuState, delta_j: float, span: float) -> bool:
        """Whether the board could draw ``delta_j`` in ``span`` s; before saying no, the power limit is read again
        (an administrator or a job scheduler may have raised it since the reader opened)."""
        if self._possible(g, delta_j, span):
            return True
        try:
            limit_w = self._read_limit_w(g)
        except self._errors:
            limit_w = None
        if limit_w is None or g.limit_w is None or limit_w <= g.limit_w:
            return False
        self.note(f"{g.label} power limit now reads {limit_w:g} W (it was {g.limit_w:g} W): readings are bounded "
                  f"by {GLITCH_MARGIN:g}x the new limit from now on", key=f"limit-{g.index}")
        g.limit_w = limit_w
        return self._possible(g, delta_j, span)

    def cap_w(self, g: GpuState) -> float:
        """The absolute bound on the average power a reading may imply (W): GLITCH_MARGIN x :func:`ceiling_w`.
        No second refusal in a row is accepted above it, and the bound is never raised above it."""
        return GLITCH_MARGIN * ceiling_w(g)

    def _bound_text(self, g: GpuState) -> str:
        if g.limit_w is None:
            return f"the {self.cap_w(g):.4g} W any accelerator could draw ({GLITCH_MARGIN:g}x {ceiling_w(g):.4g} W)"
        return f"{GLITCH_MARGIN:g}x its {g.limit_w:g} W power limit"

    def _accept_second_refusal(self, g: GpuState, what: str, implied_w: float) -> bool:
        """A plausible reading is never refused twice in a row: a second refusal in a row (no failed read between)
        means the bound is what is wrong (a limit raised where it cannot be read again, a board that draws more
        than it says), so it is counted, with a note, and the bound is raised to the power it implies - but only
        where that power is under :meth:`cap_w` (what no board can draw: a torn or garbage read, however often it
        comes), and never above it."""
        if g.refused < 1 or g.limit_w is None:
            return False
        cap = self.cap_w(g)
        if not implied_w <= cap:  # NaN too
            self.note(f"{g.label}: a second {what} in a row exceeded {GLITCH_MARGIN:g}x its {g.limit_w:g} W power "
                      f"limit, and implies {implied_w:.3g} W, more than the {cap:.4g} W no board can draw "
                      f"({GLITCH_MARGIN:g}x {ceiling_w(g):.4g} W: its maximum configurable limit where the driver "
                      "gives it, at most the highest accelerator TDP in wattprint's catalogue); a read error, "
                      "ignored", key=f"impossible-{g.index}")
            return False
        raised_w = max(g.limit_w, min(implied_w, ceiling_w(g)))
        self.note(f"{g.label}: a second {what} in a row exceeded {GLITCH_MARGIN:g}x its {g.limit_w:g} W power "
                  "limit; the limit known to wattprint is taken to be wrong and the reading is counted (an energy "
                  f"counter's step also covers the one refused before); readings are bounded by {GLITCH_MARGIN:g}x "
                  f"{raised_w:.3g} W from now on (never more than {cap:.4g} W)", key=f"accepted-{g.index}")
        g.limit_w = raised_w
        return True

    def _counter_stuck(self, g: GpuState, t: float) -> bool:
        """A counter that has not moved for FROZEN_COUNTER_S while the board reports power is stuck (a known ROCm
        fault, ROCm/amdsmi#38): the still time is bridged with power x time and the GPU's power is sampled from
        now on."""
        if g.moved_at is None:
            g.moved_at = t
            return False
        still = t - g.moved_at
        if still < FROZEN_COUNTER_S:
            return False
        try:
            p = self._power_w(g)
        except self._errors:
            return False
        if p <= 0:
            return False
        g.use_counter = False
        g.last_good_t = t
        g.energy_j += p * still
        g.integ.add(t, p)
        g.power_w = p
        self.note(f"{g.label} energy counter has not moved for {still:.3g} s while the board draws {p:.3g} W: that "
                  "time is bridged with power x time, and its power is sampled and integrated from now on",
                  key=f"stuck-{g.index}")
        return True

    def _possible(self, g: GpuState, delta_j: float, dt: float) -> bool:
        """Whether a board could draw ``delta_j`` in ``dt`` s: GLITCH_MARGIN x its power limit, or where no limit is
        known, :meth:`cap_w`."""
        bound_w = GLITCH_MARGIN * g.limit_w if g.limit_w is not None else self.cap_w(g)
        return delta_j <= bound_w * max(dt, MIN_GLITCH_WINDOW_S)

    def _failed(self, g: GpuState, exc: BaseException, t: float) -> None:
        g.failures += 1
        g.refused = 0  # a failed read breaks a row of refusals: two glitches apart are two glitches
        if g.failing_since is None:
            g.failing_since = t
        persistent = g.failures >= MAX_CONSECUTIVE_FAILURES and t - g.failing_since >= MIN_FAILING_S
        if self._is_lost(exc) or persistent:
            g.lost = True
            g.power_w = None
            self.note(f"{g.label} ({g.name}) lost mid-run ({self._describe(exc)}); its energy so far "
                      f"({g.energy_j:.1f} J) is kept, the other GPUs continue", key=f"lost-{g.index}")

    def read(self) -> list[Reading]:
        t = self._clock()
        dt = max(0.0, t - self._t)
        out = []
        for g in self.gpus:
            if not g.lost:
                try:
                    self._read_one(g, t, dt)
                except self._errors as exc:
                    self._failed(g, exc, t)
            out.append(Reading("gpu", g.label, g.energy_j, g.power_w, self.basis, g.lost))
        self._t = t
        return out
