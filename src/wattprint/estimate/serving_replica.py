"""The serving replica: one copy of the model on ``count`` accelerators, and how many chips it gets (the given
count; for a given batch, the fewest that hold it as that count would; or, under a load, the power of 2 of chips
that serves a request with the least IT energy).

Units: memory in bytes per weight and per K or V value; energies in J and times in s per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..errors import InputConflictError
from ..footprint import Assumption
from .roofline import Chip, kv_bytes_per_token, serving_physics
from .serving_constants import constants
from .serving_inputs import Inputs, Values
from .serving_load import Load, serve_point
from .serving_memory import fit_batch_to_memory, replica_size

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


def _scratch(values: Values) -> Values:
    """A copy of the values for a sizing trial, which leaves them and their assumptions as they were."""
    return Values(dict(values.central), dict(values.ranges), [])


def size_for_load(values: Values, inputs: Inputs, chip: Chip, weight_bytes: float, kv_bytes: float,
                  load: Load) -> Replica:
    """The replica when its count is not given: for a given batch, the fewest chips that hold it
    (_size_for_given_batch); else, of the powers of 2 of chips from the fewest that hold the weights and one sequence
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
        return _size_for_given_batch(values, inputs, chip, weight_bytes, kv_bytes)

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
           cut_lengths: bool) -> bool:
    """Whether ``count`` chips hold the given batch as that --count would (fit_batch_to_memory moving assumed
    values as far as needed), without cutting an assumed request length unless ``cut_lengths``."""
    trial = _scratch(values)
    if not cut_lengths:  # the lengths held as they are: only the other levers (KV shape, memory share) may move
        for name in ("input_tokens", "output_tokens"):
            trial.ranges.pop(name, None)
    try:
        fit_batch_to_memory(trial.central, trial.ranges, True, chip, count, inputs.engine, inputs.attention,
                            weight_bytes, kv_bytes, trial.assumptions)
    except InputConflictError:  # neither the memory share nor any assumed value makes room on so few chips
        return False
    return True


def _size_for_given_batch(values: Values, inputs: Inputs, chip: Chip, weight_bytes: float,
                          kv_bytes: float) -> Replica:
    """The replica for a given batch and no count: the smallest power of 2 of chips, from those that hold the
    weights and one sequence, that holds the batch as that --count would, so a longer prompt never gets fewer chips
    and no --count below it is accepted. (Sizing a batch the default replica could not hold at the central values
    skipped the power of 2 that holds it: its spare chips cost energy, and a longer prompt could cost less.) Below
    the chips the default batch takes at the central values, an assumed request length is not cut to fit: that
    would shrink the requests to save chips. The chips that hold the batch at the central values always hold it."""
    central = values.central
    fewest = size_replica(_scratch(values), inputs, chip, weight_bytes, kv_bytes, 1.0).count
    default = size_replica(_scratch(values), inputs, chip, weight_bytes, kv_bytes).count
    most = size_replica(_scratch(values), inputs, chip, weight_bytes, kv_bytes, central["batch_size"]).count
    n = fewest
    while n < most and not _holds(values, inputs, chip, weight_bytes, kv_bytes, n, cut_lengths=n >= default):
        n *= 2
    if n == most:  # held at the central values: sized so, and said so, by replica_size
        return size_replica(values, inputs, chip, weight_bytes, kv_bytes, central["batch_size"])
    values.assumptions.append(Assumption(
        "accelerators per replica", f"{n} (the smallest power of 2 that holds the weights and the given batch of "
        f"{central['batch_size']:g} sequences, with the values moved below; at the central values it takes {most})",
        constants()["gpu_memory_utilization"].source, "give --count to set it"))
    replica = size_replica(values, inputs, chip, weight_bytes, kv_bytes, count=n)
    return replace(replica, holds_lengths=n < default)
