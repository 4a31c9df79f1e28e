"""The serving replica: one copy of the model on ``count`` accelerators, and how many chips it gets (the given
count; for a given batch, the fewest that hold it, or under a load the sequences it keeps in flight of it, as that
count would; or, under a load, the power of 2 of chips that serves a request with the least IT energy).

Units: memory in bytes per weight and per K or V value; energies in J and times in s per request.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..errors import InputConflictError
from ..footprint import Assumption
from .roofline import Chip, kv_bytes_per_token, serving_physics
from .serving_constants import constants
from .serving_inputs import Inputs, Values
from .serving_load import Load, serve_point
from .serving_memory import fit_batch_to_memory, held_batch, most_held, replica_size

# relative margin by which a larger replica must beat a smaller one's energy per request to be chosen (ties and
# rounding noise keep the fewer chips)
SIZING_TIE_TOL = 1e-6


@dataclass(frozen=True)
class Replica:
    """One copy of the model being served: its chip, accelerators, engine, attention and bytes per stored weight and
    per K or V value."""

    chip: Chip
    count: int
    engine: str
    attention: str
    weight_bytes: float
    kv_bytes: float
    # sized below the default batch's chips for a given batch: the assumed request lengths are not cut to fit it
    holds_lengths: bool = False

    def physics(self, p: Mapping[str, float]) -> dict[str, float]:
        """serving_physics of this replica at point ``p`` (J and s per request)."""
        return serving_physics(p, self.chip, self.count, self.engine, self.attention, self.weight_bytes,
                               self.kv_bytes)

    def most_held(self, p: Mapping[str, float]) -> float:
        """The most sequences this replica's memory holds at point ``p`` (serving_memory.most_held)."""
        return most_held(p, self.chip, self.count, self.engine, self.attention, self.weight_bytes, self.kv_bytes)


def size_replica(values: Values, inputs: Inputs, chip: Chip, weight_bytes: float, kv_bytes: float,
                 sizing_batch: float | None = None, count: int | None = None) -> Replica:
    """The replica: ``count`` (default: the given count), or the fewest chips that hold the weights and the KV
    cache of ``sizing_batch`` sequences (default: the default batch); then what depends on it and the engine
    (tensor-parallel efficiency across its chips, the eager launch floor)."""
    central = values.central
    if sizing_batch is None:
        sizing_batch = min(central["batch_size"], constants()["default_batch_size"].value)
    batch_given = "batch_size" not in values.ranges and sizing_batch > 1  # the user's batch drives the KV cache
    n_chips = replica_size(chip, central, weight_bytes, count or inputs.count, sizing_batch, inputs.engine,
                           kv_bytes_per_token(central, inputs.attention, kv_bytes) / 1e9, values.assumptions,
                           batch_given=batch_given)
    if n_chips > 1:
        values.take("tensor_parallel_efficiency_per_doubling", None, "tensor-parallel efficiency per doubling of GPUs")
    else:
        central["tensor_parallel_efficiency_per_doubling"] = 1.0
    if inputs.engine == "eager":
        values.take("eager_overhead_s_per_layer", None, "CPU launch floor per layer and step (eager engine)")
    else:
        central["eager_overhead_s_per_layer"] = 0.0
    return Replica(chip, n_chips, inputs.engine, inputs.attention, weight_bytes, kv_bytes)


def check_serving_unit(replica: Replica, given_count: int | None, central: Mapping[str, float]) -> None:
    """Refuse a replica the estimate sized itself past the largest published unit serving one copy of a model
    (``largest_serving_unit``): only a slip in the batch, the lengths or the parameters needs one so large. A given
    count past it is computed and said (replica_size)."""
    unit = constants()["largest_serving_unit"]
    if given_count is not None or replica.count <= unit.value:
        return
    raise InputConflictError(
        f"{central['params']:.4g} parameters serving {central['batch_size']:g} sequence(s) of "
        f"{central['input_tokens']:g} + {central['output_tokens']:g} tokens need {replica.count} x "
        f"{replica.chip.name} in one replica, more than the largest published unit serving one copy of a model "
        f"({unit.value:g} GPUs, DeepSeek-V3's decode unit); lower --batch-size or check --params, --input-tokens and "
        "--output-tokens (or give --count to set it)")


def _scratch(values: Values) -> Values:
    """A copy of the values for a sizing trial, which leaves them and their assumptions as they were."""
    return Values(dict(values.central), dict(values.ranges), [])


def size_for_load(values: Values, inputs: Inputs, chip: Chip, weight_bytes: float, kv_bytes: float,
                  load: Load, hold: float | None = None) -> Replica:
    """The replica when its count is not given: for a given batch, the fewest chips that hold it, or the ``hold``
    sequences a load keeps in flight of it where fewer (_size_for_given_batch); else, of the powers of 2 of chips
    from the fewest that hold the weights and one sequence
    up to those that hold the default batch, the one that serves a request with the least IT energy (central values;
    the fewest chips on a tie), as an operator sizing a service would. Each candidate runs at the batch its memory
    holds and, with a load, that the load keeps in flight (Little's law); a load one such replica cannot keep up
    with is spread over several (scale-out), so a larger replica is chosen only where its larger batch or shorter
    steps pay for its extra chips. Without this choice a load just above what a small replica serves forced a large
    replica at a small batch, and the energy per request rose with the load; without a load the request is served
    as under a full load. The size chosen is kept at every corner of the ranges (one deployment, its inputs
    uncertain), so where more load picks a larger replica the central energy per request falls but the high end
    can rise: that corner takes the low end of the tensor-parallel efficiency across the extra chips."""
    if inputs.count is not None:
        return size_replica(values, inputs, chip, weight_bytes, kv_bytes)
    if not load.batch_assumed:
        return _size_for_given_batch(values, inputs, chip, weight_bytes, kv_bytes,
                                     values.central["batch_size"] if hold is None else hold)

    n = size_replica(_scratch(values), inputs, chip, weight_bytes, kv_bytes, 1.0).count
    largest = size_replica(_scratch(values), inputs, chip, weight_bytes, kv_bytes).count
    best: tuple[float, int, float] | None = None  # (IT J per request, chips, batch)
    while n <= largest:
        trial = _scratch(values)
        replica = size_replica(trial, inputs, chip, weight_bytes, kv_bytes, count=n)
        try:
            fit_batch_to_memory(trial.central, trial.ranges, False, chip, n, inputs.engine, inputs.attention,
                                weight_bytes, kv_bytes, trial.assumptions)
        except InputConflictError:  # not even one sequence fits on so few chips
            n *= 2
            continue
        point = serve_point(trial.central, replica.physics, load, n, chip.tdp_w)
        it_j = point["accelerator_j"] + point["host_j"]
        if best is None or it_j < best[0] * (1.0 - SIZING_TIE_TOL):
            best = (it_j, n, point["batch_size"])
        n *= 2
    if best is None or best[1] == largest:
        return size_replica(values, inputs, chip, weight_bytes, kv_bytes)
    values.assumptions.append(Assumption(
        "accelerators per replica", f"{best[1]} (of the powers of 2 that hold the weights and the load's KV cache, "
        f"the one with the least energy per request: ~{best[2]:.3g} sequence{'' if best[2] == 1 else 's'} in flight "
        "per replica)",
        constants()["gpu_memory_utilization"].source,
        "sized for the load (without one: a full load), not for the default batch; a load one replica cannot keep up "
        "with is spread over several; give --count to set it"))
    return size_replica(values, inputs, chip, weight_bytes, kv_bytes, count=best[1])


def _holds(values: Values, inputs: Inputs, chip: Chip, weight_bytes: float, kv_bytes: float, count: int,
           cut_lengths: bool, hold: float) -> bool:
    """Whether ``count`` chips hold ``hold`` sequences of the given batch as that --count would (fit_batch_to_memory
    moving assumed values as far as needed), without cutting an assumed request length unless ``cut_lengths``."""
    trial = _scratch(values)
    if not cut_lengths:  # the lengths held as they are: only the other levers (KV shape, memory share) may move
        for name in ("input_tokens", "output_tokens"):
            trial.ranges.pop(name, None)
    try:
        fit_batch_to_memory(trial.central, trial.ranges, True, chip, count, inputs.engine, inputs.attention,
                            weight_bytes, kv_bytes, trial.assumptions, hold)
    except InputConflictError:  # neither the memory share nor any assumed value makes room on so few chips
        return False
    return True


def _size_for_given_batch(values: Values, inputs: Inputs, chip: Chip, weight_bytes: float,
                          kv_bytes: float, hold: float) -> Replica:
    """The replica for a given batch and no count: the smallest power of 2 of chips, from those that hold the weights
    and one sequence, that holds ``hold`` sequences (the batch, or the fewer a load keeps in flight of it) as that
    --count would, so a longer prompt never gets fewer chips and no --count below it is accepted. (Sizing a batch the
    default replica could not hold at the central values skipped the power of 2 that holds it: its spare chips cost
    energy, and a longer prompt could cost less.) Below the chips the default batch takes at the central values, an
    assumed request length is not cut to fit: that would shrink the requests to save chips. The chips that hold the
    batch at the central values always hold it."""
    central = values.central
    fewest = size_replica(_scratch(values), inputs, chip, weight_bytes, kv_bytes, 1.0).count
    default = size_replica(_scratch(values), inputs, chip, weight_bytes, kv_bytes).count
    most = size_replica(_scratch(values), inputs, chip, weight_bytes, kv_bytes, hold).count
    n = fewest
    while n < most and not _holds(values, inputs, chip, weight_bytes, kv_bytes, n, n >= default, hold):
        n *= 2
    if n == most:  # held at the central values: sized so, and said so, by replica_size
        return size_replica(values, inputs, chip, weight_bytes, kv_bytes, hold)
    values.assumptions.append(Assumption(
        "accelerators per replica", f"{n} (the smallest power of 2 that holds the weights and "
        f"{held_batch(hold, central['batch_size'])}, with the values moved below; at the central values it takes "
        f"{most})",
        constants()["gpu_memory_utilization"].source, "give --count to set it"))
    replica = size_replica(values, inputs, chip, weight_bytes, kv_bytes, count=n)
    return replace(replica, holds_lengths=n < default)


def fit_replica(values: Values, replica: Replica, inputs: Inputs, load: Load, hold: float | None = None) -> None:
    """Fit the batch to the replica's memory (fit_batch_to_memory), moving any assumed value but the request lengths
    on a replica sized to hold them; of a given batch, ``hold`` sequences (None: all of it)."""
    levers = {k: v for k, v in values.ranges.items()
              if not (replica.holds_lengths and k in ("input_tokens", "output_tokens"))}
    fit_batch_to_memory(values.central, levers, not load.batch_assumed, replica.chip, replica.count, inputs.engine,
                        inputs.attention, replica.weight_bytes, replica.kv_bytes, values.assumptions, hold)
    values.ranges.update(levers)


def _forms(values: Values, inputs: Inputs, chip: Chip, weight_bytes: float, kv_bytes: float, load: Load,
           hold: float) -> float:
    """The sequences the load keeps in flight at the central values (at most the batch given) on the replica sized,
    and with the values fitted, for ``hold`` sequences of the given batch."""
    trial = _scratch(values)
    replica = size_for_load(trial, inputs, chip, weight_bytes, kv_bytes, load, hold)
    fit_replica(trial, replica, inputs, load, hold)
    return serve_point(trial.central, replica.physics, load, replica.count, chip.tdp_w)["batch_size"]


def hold_for_load(values: Values, inputs: Inputs, chip: Chip, weight_bytes: float, kv_bytes: float,
                  load: Load) -> float | None:
    """The sequences of a given batch that the replica and its memory hold under a load: the fewest (whole ones) on
    whose replica, sized and fitted for them, the load keeps no more in flight at the central values (where the
    replica is sized); None with an assumed batch or without a load. Sizing and fitting for a batch the load cannot
    fill cut assumed request lengths, and added chips, for sequences never in flight (--batch-size 2000 at 100
    requests a day cut the assumed 500 + 500 tokens to 100 + 230: half the energy per request of the batch of one it
    computed). A replica that holds fewer has no more chips and no shorter requests, so the load keeps no
    fewer in flight on it than on the one that holds the batch given: the hold is at least that many, and is found
    between them by halving. The batch given must fit as before (its replica is the first tried)."""
    given = values.central["batch_size"]
    if load.batch_assumed or not load.given:
        return None

    def holds(hold: float) -> bool:
        return _forms(values, inputs, chip, weight_bytes, kv_bytes, load, hold) <= hold

    least = float(math.ceil(_forms(values, inputs, chip, weight_bytes, kv_bytes, load, given)))
    if least >= given or holds(least):
        return min(least, given)
    over, hold = least, given  # the load keeps more than ``over`` in flight on its replica; ``hold`` holds it
    while hold - over > 1.0:
        mid = float(math.floor((over + hold) / 2.0))
        over, hold = (over, mid) if holds(mid) else (mid, hold)
    return hold
