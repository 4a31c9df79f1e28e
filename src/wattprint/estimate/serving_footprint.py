"""The serving footprint from the sized replica: per-request figures over all corners of the assumed ranges, the
period's totals, the Footprint through the site (PUE, grid intensity, embodied emissions), its per-token,
per-request, per-day and per-year details, and the break-even with a training footprint.

Units: energies in J until the Footprint (kWh) and the details (Wh per request or per 1000 tokens, kWh per day or
year); chip time in s, then chip-hours; CO2e in g per request and kg per day, per year and for training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InputConflictError, WattprintError
from ..footprint import Assumption, ComponentEnergy, Footprint
from ..quantities import Range
from .common import (
    both_names,
    check_market_intensity,
    check_positive,
    embodied_for,
    refuse_above_world,
    resolve_site,
    too_large,
)
from .roofline import Chip, over_corners
from .serving_constants import DAYS_PER_YEAR, J_PER_KWH, J_PER_WH, constants
from .serving_inputs import Values
from .serving_load import Load, serve_point
from .serving_replica import Replica


@dataclass(frozen=True)
class Period:
    """What the footprint covers, summed over it: ``days`` of serving a load, or one request."""

    requests_per_day: Range | None  # None: no load, one request
    requests: Range
    accelerator_j: Range
    host_j: Range
    chip_s: Range


def evaluate(values: Values, replica: Replica, load: Load,
             batch_cap: float | None = None) -> tuple[dict[str, Range], str]:
    """Per-request figures (and, with a load, per-day ones) over all corners of the assumed ranges, and the regime
    of a decode step at the central values; ``batch_cap``: the most sequences the load may keep in flight at any
    corner, where fewer than the batch (a given batch the replica holds only in part)."""

    def run(p: Mapping[str, float]) -> dict[str, float]:
        if batch_cap is not None and batch_cap < p["batch_size"]:
            p = {**p, "batch_size": batch_cap}
        return serve_point(p, replica.physics, load, replica.count, replica.chip.tdp_w)

    per_req = over_corners(values.central, values.ranges, run)
    mid = replica.physics({**values.central, "batch_size": per_req["batch_size"].value})
    regime = ("CPU-overhead-bound" if mid["t_floor_s"] > max(mid["t_mem_s"], mid["t_comp_s"])
              else "compute-bound" if mid["t_comp_s"] > mid["t_mem_s"] else "memory-bandwidth-bound")
    return per_req, regime


def period_totals(per_req: Mapping[str, Range], load: Load, days: float) -> Period:
    """Requests, accelerator and host energy (J) and chip-seconds the footprint covers: ``days`` of the load, each
    corner with its own request count (tokens per day / its own lengths), or one request without a load."""
    if load.requests_per_day is not None or load.tokens_per_day is not None:
        acc_j, host_j, chip_s = (per_req[k] * float(days) for k in ("accelerator_j_day", "host_j_day", "chip_s_day"))
        period = Period(per_req["requests_per_day"], per_req["requests_per_day"] * float(days), acc_j, host_j, chip_s)
    else:
        period = Period(None, Range.exact(1.0), per_req["accelerator_j"], per_req["host_j"], per_req["chip_s"])
    if not all(math.isfinite(x.high) for x in (period.requests, period.accelerator_j, period.host_j, period.chip_s)):
        if period.requests_per_day is None:
            raise too_large()
        # the per-day figures are finite (over_corners checks them): the days take the totals past the range
        raise InputConflictError(f"--days {days:g} of {load.flag} takes the period's totals past the floating-point "
                                 "range; check --days (days of serving the footprint covers, default one year)")
    return period


def period_footprint(per_req: Mapping[str, Range], period: Period, chip: Chip, acc: Any, days: float,
                     location: str | None, year: int | None, pue: float | str | Range | None, intensity: float | None,
                     mix: str | dict[str, float] | None, market_intensity: float | None,
                     assumptions: list[Assumption]) -> Footprint:
    """The period's energy through the site (PUE, grid intensity) and embodied emissions over its chip-hours; its
    ``details`` are filled in by fill_details."""
    inten, pue_r, site_notes = resolve_site(location, year, pue, intensity, mix)
    assumptions.extend(site_notes)
    embodied, emb_notes = embodied_for(acc, 1, period.chip_s / 3600.0)  # chip-hours already count every accelerator
    assumptions.extend(emb_notes)
    assumptions.append(Assumption("host energy", "charged as the host ratio x accelerator energy, in 'other'",
                                  constants()["host_power_ratio"].source))
    wall_h = Range.exact(float(days) * 24.0) if period.requests_per_day is not None else per_req["latency_s"] / 3600.0
    return Footprint(
        energy_by_component_kwh={chip.component: ComponentEnergy(period.accelerator_j / J_PER_KWH, "modelled"),
                             "other": ComponentEnergy(period.host_j / J_PER_KWH, "modelled")},
        pue=pue_r, intensity=inten, embodied_co2e_kg=embodied, assumptions=assumptions, kind="inference",
        chip_hours=period.chip_s / 3600.0, wall_time_h=wall_h, details={},
        market_intensity_g_per_kwh=check_market_intensity(market_intensity))


def fill_details(fp: Footprint, per_req: Mapping[str, Range], period: Period, replica: Replica, acc: Any,
                 prec: str, regime: str, days: float, dedicated: bool) -> Range:
    """Fill ``fp.details`` with the per-token, per-request (Wh, gCO2e) and, with a load, per-day and per-year
    figures; returns the CO2e of one request (g)."""
    it_req_j = per_req["accelerator_j"] + per_req["host_j"]
    fac_req_j = it_req_j * fp.pue
    # one request's CO2e from its own energy and chip-time (not the period's total over a ranged request count)
    embodied_req, _ = embodied_for(acc, 1, per_req["chip_s"] / 3600.0)
    co2e_req_g = (fac_req_j / J_PER_KWH * fp.intensity.g_per_kwh) + embodied_req * 1000.0
    rpd, n_requests = period.requests_per_day, period.requests
    details = fp.details
    details.update({
        "hardware": replica.chip.name,
        "accelerators_per_replica": replica.count,
        "precision": prec,
        "engine": replica.engine,
        "regime": regime,
        "batch_size": per_req["batch_size"],
        "period": f"{days:g} days at {rpd.value:.6g} requests/day" if rpd is not None else "one request",
        "requests": n_requests if not n_requests.is_exact else n_requests.value,
        # per token: each corner divides by its own token counts
        "energy_per_1k_tokens_wh": per_req["it_j_per_token"] * fp.pue * (1000.0 / J_PER_WH),  # input + output
        "energy_per_1k_output_tokens_wh": per_req["it_j_per_output_token"] * fp.pue * (1000.0 / J_PER_WH),
        "energy_per_request_wh": fac_req_j / J_PER_WH,
        "it_energy_per_request_wh": it_req_j / J_PER_WH,
        "gpu_energy_per_request_wh": per_req["accelerator_j"] / J_PER_WH,
        "gpu_energy_per_output_token_j": per_req["accelerator_j_per_output_token"],
        "co2e_per_request_g": co2e_req_g,
        "decode_step_ms": per_req["step_s"] * 1000.0,
        "latency_per_request_s": per_req["latency_s"],
        "throughput_tokens_per_s_per_replica": per_req["tokens_per_s"],
    })
    if rpd is not None:
        details["requests_per_day"] = rpd if not rpd.is_exact else rpd.value
        details["energy_per_day_kwh"] = fp.energy_kwh / float(days)
        details["energy_per_year_kwh"] = fp.energy_kwh * (DAYS_PER_YEAR / float(days))
        details["co2e_per_day_kg"] = fp.total_co2e_kg / float(days)
        details["co2e_per_year_kg"] = fp.total_co2e_kg * (DAYS_PER_YEAR / float(days))
        details["replicas_needed"] = per_req["replicas_busy"]
        if dedicated:
            details["replicas_provisioned"] = per_req["replicas_provisioned"]
    return co2e_req_g


def compare_training(details: dict[str, Any], training_co2e_kg: float | Range, co2e_req_g: Range) -> None:
    """Add the training footprint (kgCO2e) and the requests (and, with a load, days) after which serving has
    emitted as much. A training footprint above the world's annual emissions is an error, as the training estimate
    refuses a training that would emit it (check_finite): only a slip gives it (1e30 kg gave a break-even after
    4.8e34 requests).

    Each bound is taken at one consistent point of the serving model: requests = training / CO2e per request
    (the fewest at the corner with the most CO2e per request), days = training / CO2e per day (the fewest at the
    corner with the most CO2e per day). Days are not requests / requests per day: with a load in tokens per day the
    request count moves against the request's length (long requests: more CO2e each, fewer of them a day), and
    dividing the two ranges paired the most CO2e per request with the most requests a day, a corner that does not
    exist (a break-even days earlier than the highest daily CO2e allows)."""
    if isinstance(training_co2e_kg, Range):  # each bound as a number would be: > 0 and finite (a range from a caller)
        for bound in (training_co2e_kg.low, training_co2e_kg.high):
            check_positive("--training-co2e-kg (training_co2e_kg, each bound of the range)", bound)
        train = training_co2e_kg
    else:
        train = Range.exact(check_positive(both_names("training_co2e_kg"), training_co2e_kg) or 0.0)
    refuse_above_world(both_names("training_co2e_kg"), train.value, "check --training-co2e-kg (kgCO2e, not g)")
    details["training_co2e_kg"] = train
    details["breakeven_requests"] = _breakeven(train, co2e_req_g)
    per_day = details.get("co2e_per_day_kg")
    if per_day is not None:
        details["breakeven_days"] = train / per_day


def _breakeven(training_kg: Range, per_request_g: Range) -> Range:
    """Requests after which serving at ``per_request_g`` gCO2e each has emitted ``training_kg`` kgCO2e."""
    return training_kg * 1000.0 / per_request_g


def breakeven_requests(training: Footprint, inference: Footprint) -> Range:
    """After how many requests serving has emitted as much CO2e (operational + embodied) as training did."""
    per_req = inference.details.get("co2e_per_request_g")
    if not isinstance(per_req, Range):
        raise WattprintError("the inference footprint has no per-request CO2e; make it with estimate_inference()")
    return _breakeven(training.total_co2e_kg, per_req)
