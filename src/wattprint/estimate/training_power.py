"""Training power: IT energy per component from the chip-hours, and the checks on a power the user gives.

    IT energy = chip-hours x power_w / 1000                                  (the all-in W per chip given)
              = chip-hours x TDP x all-in fraction / 1000                    (system-level figures for the chip)
              = chip-hours x (TDP x accelerator fraction + host W per accelerator) / 1000   (otherwise)

Units: power in W per chip (fractions of TDP are dimensionless); time in chip-hours; energy in kWh, before PUE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputConflictError, WattprintError
from ..footprint import Assumption, ComponentEnergy
from ..quantities import Range
from . import utilisation
from .common import check_board_power, check_low_power, component_key, idle_fraction, number_text

if TYPE_CHECKING:
    from ..data.catalogue import Accelerator

# input checks, not data: how far past a datasheet limit a figure may go before it is taken for a unit slip
SLIP_OVER_RATED_SERVER = 2.0  # all-in W per chip vs the server's rated maximum per accelerator
SLIP_OVER_TDP = 1.5  # a power fraction of TDP vs the TDP itself (85 % typed as 85)

Energy = dict[str, ComponentEnergy]  # IT energy (kWh) by component: the accelerator's key, then cpu, ram, other


def it_energy(
    acc: Accelerator, variants: list[Accelerator], chip_hours: Range, power_w: float | None,
    power_fraction: float | None,
) -> tuple[Energy, list[Assumption]]:
    """(IT energy by component in kWh, notes): from the all-in ``power_w`` per chip when given, else from the TDP
    (W, ranged over the variants) times a fraction; a chip without a TDP needs ``power_w``."""
    if power_w is not None:
        return _given_all_in_energy(acc, variants, chip_hours, power_w)
    tdp = _tdp(acc, variants)
    if tdp is None:
        raise WattprintError(f"{acc.no_tdp_reason()}: pass --power-w (power_w=..., average all-in power per chip "
                             "in W)")
    energy, notes = _tdp_share_energy(acc, tdp, chip_hours, power_fraction)
    return energy, [*notes, Assumption("TDP", f"{tdp:.4g} W", acc.source, acc.tdp_caveat())]


def check_power_fraction(fraction: float) -> list[Assumption]:
    """A power fraction of TDP above 1 is possible only past a raised power limit; far above is a unit slip. Below
    a waiting chip's idle draw is noted."""
    if fraction > SLIP_OVER_TDP:
        raise InputConflictError(
            f"--power-fraction (power_fraction) {number_text(fraction)} is a fraction of TDP (boards hold their "
            "average power at or below their power limit, the TDP by default); for 85 % write 0.85")
    idle = idle_fraction().low
    if fraction < idle:
        return [Assumption("power fraction (given)", f"{fraction:g} x TDP", "given by the user",
                           f"below the {idle:g} x TDP a powered accelerator draws idle: check it is a fraction, "
                           "not a percentage or a share of a node")]
    return []


def _tdp(acc: Accelerator, variants: list[Accelerator]) -> Range | None:
    """The chip's TDP (W) with a range over the variants a family covers and, where the vendor publishes none, over
    the figures in use (refdata/tdp_ranges.csv); None when it has no TDP to use."""
    if acc.tdp_w is None:
        return None
    spans = [r for r in (a.tdp_range_w() for a in (acc, *variants)) if r is not None]
    return Range(acc.tdp_w, min(lo for lo, _ in spans), max(hi for _, hi in spans))


def _given_all_in_energy(
    acc: Accelerator, variants: list[Accelerator], chip_hours: Range, power_w: float
) -> tuple[Energy, list[Assumption]]:
    """Chip-hours x the all-in W per chip the user gave (host share included): one component, basis "given"."""
    energy = {component_key(acc): ComponentEnergy(chip_hours * power_w / 1000.0, "given", includes_host=True)}
    return energy, [Assumption("average power per chip (all-in)", f"{power_w:g} W", "given by the user",
                               "includes the host share; nothing added on top"),
                    *_check_all_in_power(power_w, acc, variants)]


def _check_all_in_power(power_w: float, acc: Accelerator, variants: list[Accelerator]) -> list[Assumption]:
    """An all-in power per chip above its server's rated maximum per accelerator gets a note; more than twice that
    (a node's power given as a chip's, kW as W ...) is an error. A chip without a published TDP is checked against
    the catalogue's span of TDPs, as a given board power is."""
    tdp = _tdp(acc, variants)
    if tdp is None:
        return check_board_power(power_w, acc, "--power-w (power_w, per chip, all-in)")
    rated = utilisation.rated_server_watts_per_accelerator(acc.family, tdp.high, acc.module_host(),
                                                           acc.form_factor)
    if power_w > SLIP_OVER_RATED_SERVER * rated:
        raise InputConflictError(
            f"--power-w (power_w) {power_w:g} W per chip is more than {SLIP_OVER_RATED_SERVER:g}x the most a "
            f"{acc.name} server is rated to draw per accelerator (~{rated:.0f} W, host included): give the average "
            "power of one chip with its share of the host, not of a whole node")
    if power_w > rated:
        return [Assumption("average power per chip (all-in)", f"{power_w:g} W", "given by the user",
                           f"above the ~{rated:.0f} W a {acc.name} server is rated to draw per accelerator at most; "
                           "if the figure includes the facility overhead, give it without and pass --pue")]
    return check_low_power("--power-w", power_w, tdp, acc.name)


def _tdp_share_energy(
    acc: Accelerator, tdp: Range, chip_hours: Range, power_fraction: float | None
) -> tuple[Energy, list[Assumption]]:
    """Chip-hours x TDP x the chip's measured all-in fraction where one exists (and no fraction is given); else
    the accelerator at a fraction of its TDP plus the host's W per accelerator, by part."""
    all_in = utilisation.all_in_fraction(acc.name) if power_fraction is None else None
    if all_in is not None:
        fraction, note = all_in
        return {component_key(acc): ComponentEnergy(chip_hours * tdp * fraction / 1000.0, "modelled",
                                                    includes_host=True)}, [note]
    fraction, fraction_note = _accelerator_fraction(acc, power_fraction)
    energy = {component_key(acc): ComponentEnergy(chip_hours * tdp * fraction / 1000.0, "modelled")}
    host, host_note = utilisation.host_watts_per_accelerator(acc.family, tdp.value, acc.module_host(),
                                                                  acc.form_factor)
    for part, watts in host.items():
        energy[part] = ComponentEnergy(chip_hours * watts / 1000.0, "modelled")
    return energy, [fraction_note, host_note]


def _accelerator_fraction(acc: Accelerator, power_fraction: float | None) -> tuple[Range, Assumption]:
    """The accelerator's average power during training as a fraction of its TDP: given, or the family's default."""
    if power_fraction is None:
        return utilisation.gpu_fraction(acc.family)
    return Range.exact(power_fraction), Assumption(
        "average accelerator power", f"{power_fraction:g} x TDP", "given by the user",
        "above the TDP: possible only where the board's power limit was raised" if power_fraction > 1 else "")
