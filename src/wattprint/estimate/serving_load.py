"""The serving load on a replica: how many sequences it keeps in flight, how many replicas it keeps busy or
provisioned, and what the load adds to the assumptions.

``serve_point`` is the point function the estimate evaluates at every corner: the roofline physics at the batch the
load sustains (Little's law), with per-token figures and, given a load, per-day energies and replica counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..footprint import Assumption
from ..quantities import Range
from .serving_constants import DAYS_PER_YEAR, J_PER_KWH, S_PER_DAY, Constant, check_chips_chosen

# Reporting thresholds (not physical constants): below this busy share of one replica the idle time a dedicated
# replica would add is stated; the load-capped batch is solved to this relative tolerance in at most so many steps.
IDLE_NOTE_BELOW_REPLICAS = 0.5
BATCH_FIXED_POINT_TOL = 1e-6
BATCH_FIXED_POINT_STEPS = 60
LITTLES_LAW = ("Little's law (J. D. C. Little, Operations Research 9(3), 1961): mean requests in a system = arrival "
               "rate x mean time each spends in it")


@dataclass(frozen=True)
class Load:
    """The serving load as given: requests or tokens (input + output) per day, or neither (one request)."""

    requests_per_day: float | None
    tokens_per_day: float | None
    batch_assumed: bool
    dedicated: bool

    @property
    def given(self) -> bool:
        """Whether a load was given (requests or tokens per day); without one the footprint is one request's."""
        return self.requests_per_day is not None or self.tokens_per_day is not None

    @property
    def flag(self) -> str:
        """The CLI flag and value that set this load ("--requests-per-day 1e+06")."""
        if self.tokens_per_day is not None:
            return f"--tokens-per-day {self.tokens_per_day:g}"
        return f"--requests-per-day {self.requests_per_day:g}"

    def per_day(self, p: Mapping[str, float]) -> float | None:
        """Requests per day at this point (tokens per day / this point's input + output tokens per request)."""
        if self.tokens_per_day is not None:
            return self.tokens_per_day / (p["input_tokens"] + p["output_tokens"])
        return self.requests_per_day


def batch_for_load(p: Mapping[str, float], rpd: float, physics: Callable[[Mapping[str, float]], dict[str, float]],
                    count: int) -> float:
    """Concurrent sequences the load sustains on a replica (Little's law: arrival rate (1/s) x time a request
    spends in the system (s)), at least 1 and at most the batch ``B = p["batch_size"]`` (assumed, or given: a load
    cannot fill a batch larger than it keeps in flight, whatever the engine would allow). A load that keeps
    at least one replica busy at B (replicas needed >= 1) fills its replicas' batches: B. Otherwise one replica
    serves it all and, since the time per request depends on the batch, b = min(B, max(1, rate x latency(b))) is
    solved by iteration from B (latency grows with b, so the steps fall monotonically to the fixed point).

    That replica must also keep up: a request's prefill sits in its latency and in the replica's busy time, so
    near a full replica the fixed point can ask for more than all of it (rate x busy time per request > 1). The
    replica then batches more: b rises to the smallest batch (up to B, where it keeps up) at which it does."""
    cap, rate = p["batch_size"], rpd / S_PER_DAY

    def at(b: float) -> dict[str, float]:
        return physics({**p, "batch_size": b, "utilisation": 1.0})

    def busy(b: float, r: dict[str, float] | None = None) -> float:  # replicas the load keeps busy at batch b
        return rate * (r or at(b))["chip_s"] / count

    r = at(cap)
    if busy(cap, r) >= 1.0:  # the load needs at least one replica at the assumed batch
        return cap
    b = cap
    for _ in range(BATCH_FIXED_POINT_STEPS):
        nb = min(cap, max(1.0, rate * r["latency_s"]))
        if abs(nb - b) <= BATCH_FIXED_POINT_TOL * b:
            b = nb
            break
        b = nb
        r = at(b)
    if busy(b) <= 1.0:
        return b
    lo, hi = b, cap  # busy(lo) > 1 >= busy(hi): a larger batch amortises each decode step over more sequences
    for _ in range(BATCH_FIXED_POINT_STEPS):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if busy(mid) > 1.0 else (lo, mid)
        if hi - lo <= BATCH_FIXED_POINT_TOL * hi:
            break
    return hi


def serve_point(p: Mapping[str, float], physics: Callable[[Mapping[str, float]], dict[str, float]], load: Load,
                count: int, tdp_w: float) -> dict[str, float]:
    """serving_physics at one point, with what depends on its own values: the batch the load sustains (at most the
    assumed or given batch), the replicas provisioned (dedicated), per-token figures (J per token, this point's
    lengths) and, with a load, the sequences it keeps in flight, per-day energies (J/day), chip-seconds per day and
    replica counts."""
    point = dict(p)
    rpd = load.per_day(point)
    if rpd is not None:  # a given batch too: a batch the load cannot fill is never formed
        point["batch_size"] = batch_for_load(point, rpd, physics, count)
    busy = physics({**point, "utilisation": 1.0})
    out: dict[str, float] = {}
    if rpd is not None:
        replicas = busy["chip_s"] * rpd / S_PER_DAY / count  # busy replicas (utilisation 1)
        # Little's law, spread over the replicas a load of more than one keeps busy
        out["sequences_in_flight"] = rpd / S_PER_DAY * busy["latency_s"] / max(1.0, replicas)
        if not math.isfinite(replicas):  # at any corner: past the range of a float, it has no central value either
            check_fleet(replicas, 1.0, load, count)
        provisioned = max(1.0, math.ceil(replicas))
        if load.dedicated:
            point["utilisation"] = replicas / provisioned
        # idle accelerator energy (J/day) of the ceil(replicas) replicas left idle between requests
        idle_w = tdp_w * p.get("tdp_scale", 1.0) * p["idle_power_fraction"]  # tdp_scale: as serving_physics
        idle_day = count * idle_w * (provisioned - replicas) * S_PER_DAY
        out.update({"replicas_busy": replicas, "replicas_provisioned": replicas / point["utilisation"],
                    "dedicated_idle_j_day": idle_day * (1.0 + p["host_power_ratio"])})
    res = busy if point["utilisation"] == 1.0 else physics(point)
    out.update(res)
    it_j = res["accelerator_j"] + res["host_j"]
    out.update({"batch_size": point["batch_size"],
                "it_j_per_token": it_j / (p["input_tokens"] + p["output_tokens"]),
                "it_j_per_output_token": it_j / p["output_tokens"],
                "accelerator_j_per_output_token": res["accelerator_j"] / p["output_tokens"]})
    if rpd is not None:
        out.update({"requests_per_day": rpd, "accelerator_j_day": res["accelerator_j"] * rpd,
                    "host_j_day": res["host_j"] * rpd, "chip_s_day": res["chip_s"] * rpd})
    return out


def _sequences(batch: Range) -> str:
    """'1 concurrent sequence', '3.2 (1-8) concurrent sequences': the batch a load keeps, in words."""
    return f"{batch:.3g} concurrent sequence{'' if batch.high <= 1 else 's'}"


def _given_batch_not_filled(used: Range, given: float, in_flight: Range, load: Load) -> Assumption:
    """The note for a given batch the load cannot fill: the batch given, the sequences the load keeps in flight,
    the batch the figures are computed at, and what to change."""
    load_text = (f"{load.tokens_per_day:g} tokens a day" if load.tokens_per_day is not None
                 else f"{load.requests_per_day:g} requests a day")
    return Assumption(
        "batch size capped by load", f"{_sequences(used)} per replica, not the {given:g} given",
        LITTLES_LAW,
        f"batch {given:g} given, but {load_text} keep only ~{in_flight:.2g} sequences in flight per replica "
        f"(arrival rate x time a request takes): computed at batch {used:.3g} (at least one, and enough for one "
        "replica to keep up), as a serving engine batches only the requests waiting; give more load or leave "
        "--batch-size (batch_size) out")


def check_fleet(replicas_busy: float, utilisation: float, load: Load, count: int, chip_name: str = "") -> None:
    """Refuse a load whose replicas (``replicas_busy`` busy on average, ``utilisation`` of the provisioned time) take
    more accelerators at once than common.MAX_CHIPS_AT_ONCE: the bound a given --count meets applies to the fleet the
    estimate sizes for the load too (1e30 requests a day gave 1.7e24 replicas of 7B on H100s); the flag that drives
    it is named."""
    replicas = f"replicas of {count} x {chip_name}" if chip_name else \
        f"replicas of {count} accelerator{'' if count == 1 else 's'}"
    what = f"{load.flag} on {replicas}"
    name = load.flag.split()[0]
    check_chips_chosen(what, replicas_busy * count, f"check {name} (counts are absolute: 1M = 1e6, 1B = 1e9)")
    check_chips_chosen(f"{what}, busy {utilisation:g} of the time,", replicas_busy * count / utilisation,
                       "check --utilisation (the busy share of provisioned capacity, in (0, 1])")


def load_notes(per_req: Mapping[str, Range], central: Mapping[str, float], load: Load, c: Mapping[str, Constant],
               count: int, chip_name: str, *, utilisation_given: bool) -> list[Assumption]:
    """Assumptions the load adds: the batch it caps (assumed or given), dedicated replicas, or the idle time left
    uncounted (only where the user gave no utilisation: a given one, 1 included, already says how much idle time
    counts)."""
    notes: list[Assumption] = []
    b = per_req["batch_size"]
    if load.batch_assumed and b.low < central["batch_size"] and b.value < central["batch_size"]:
        notes.append(Assumption(
            "batch size capped by load", f"{_sequences(b)} per replica", LITTLES_LAW,
            "the requests per day, times the time a request takes at that batch, keep no more sequences in flight "
            "(at least one); a given --batch-size is cut the same way, so only more load fills a larger batch"))
    elif not load.batch_assumed and b.low < central["batch_size"]:  # at any corner: that corner's figures change
        notes.append(_given_batch_not_filled(b, central["batch_size"], per_req["sequences_in_flight"], load))
    busy = per_req["replicas_busy"]
    if load.dedicated:
        prov = per_req["replicas_provisioned"]
        notes.append(Assumption(
            "dedicated replicas", f"{prov:.3g} of {count} x {chip_name}, all "
            f"period; busy share {busy.value / prov.value:.2g}", "given by the user (dedicated)",
            "ceil(replicas needed) provisioned the whole time; their idle time draws idle power and counts for "
            "embodied emissions"))
    elif not utilisation_given and busy.value < IDLE_NOTE_BELOW_REPLICAS:
        idle_kwh = per_req["dedicated_idle_j_day"] * (DAYS_PER_YEAR / J_PER_KWH)
        if idle_kwh.low < 1e-6 * idle_kwh.high:  # a replica busy all the time idles 0 kWh, not rounding noise
            idle_kwh = Range(idle_kwh.value, 0.0, idle_kwh.high)
        notes.append(Assumption(
            "idle capacity not counted", f"the load keeps {busy:.2g} of one replica busy",
            c["idle_power_fraction"].source,
            f"only busy time is charged (a shared service); one dedicated replica ({count} x {chip_name}) kept up all "
            f"year would add ~{idle_kwh:.3g} kWh/year of idle energy "
            "(accelerators + host, before PUE); count it with dedicated=True (--dedicated) or --utilisation"))
    return notes
