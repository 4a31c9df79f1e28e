"""Memory of a serving replica: the weights plus the batch's KV cache must fit in the share of its memory the
engine fills (gpu_memory_utilization).

* ``replica_size``: the accelerators per replica, given or the smallest power of 2 that holds the weights and a
  batch's cache;
* ``fit_batch_to_memory``: the default batch range is cut to the largest batch that fits; a given batch that does
  not fit moves assumed values (lengths within their ranges, cache per token, memory share) as far as needed, or is
  an error that names the largest batch that fits.

A static batch (``eager``) holds every sequence at its full context, continuous batching (``optimised``) at the
mean context, input + output / 2; a sliding window caps both; a hybrid's recurrent layers add a fixed state per
sequence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..errors import InputConflictError
from ..footprint import Assumption
from .roofline import Chip, attended, kv_bytes_per_token
from .serving_constants import check_chips_chosen, constants
from .serving_inputs import restate_length


def _held_output_share(engine: str) -> float:
    """Share of the output a sequence's KV cache holds on average while a batch runs: all of it in a static batch
    (``eager``: the sequences reach their full context together), half with continuous batching (staggered)."""
    return 1.0 if engine == "eager" else 0.5


def _sequence_tokens(context: float, p: Mapping[str, float]) -> float:
    """A sequence's cache at ``context`` tokens, in tokens of K/V: the context (a sliding window caps it) plus, for a
    hybrid, its recurrent layers' fixed state in the bytes of as many tokens (``state_tokens``)."""
    return attended(context, p) + p.get("state_tokens", 0.0)


def _held_tokens(p: Mapping[str, float], engine: str) -> float:
    """Tokens of context whose K/V a sequence holds on average while its batch runs (a sliding window caps them; a
    hybrid's recurrent state counts as the tokens it weighs)."""
    return _sequence_tokens(p["input_tokens"] + _held_output_share(engine) * p["output_tokens"], p)


def _kv_need_tokens(p: Mapping[str, float], batch: float, engine: str) -> float:
    """Tokens of K/V a replica must hold for ``batch`` sequences: the batch at its held context, and at least one
    sequence at its full context (input + output, a sliding window capping it)."""
    full = _sequence_tokens(p["input_tokens"] + p["output_tokens"], p)
    return max(batch * _held_tokens(p, engine), full)


def _usable_gb(chip: Chip, count: int, most: bool = False) -> float:
    """GB of a replica's memory the engine fills with weights and KV cache: gpu_memory_utilization (its central
    value, the engine default; ``most``: its high end, the most it can be set to) x count x GB per chip."""
    share = constants()["gpu_memory_utilization"]
    return (share.high if most else share.value) * count * (chip.memory_gb or 0.0)


def replica_size(chip: Chip, central: Mapping[str, float], weight_bytes: float, count: int | None, batch: float,
                 engine: str, kv_token_gb: float, assumptions: list[Assumption], batch_given: bool = False) -> int:
    """Accelerators per replica: the user's count, or the smallest power of 2 whose usable memory
    (gpu_memory_utilization, the same rule as for a given count) holds the weights (GB = params x bytes / 1e9) and
    the KV cache of ``batch`` sequences (the default batch's central value, or a smaller given batch; central
    lengths and shape). A given batch gets the smallest power of 2 on which it fits as on a given count
    (fit_batch_to_memory; serving_replica.size_for_load). A size above the bound a given count meets (MAX_CHIPS_AT_ONCE)
    is an error that names what drives it: the parameter count, else the batch (``batch_given``) or the lengths."""
    need_gb = central["params"] * weight_bytes / 1e9
    if chip.memory_gb is None:
        return count or 1
    share = constants()["gpu_memory_utilization"]
    if count is not None:
        if count > (unit := constants()["largest_serving_unit"]).value:
            assumptions.append(Assumption(
                "BEYOND PUBLISHED SERVING UNITS", f"{count} accelerators in one replica, more than the largest "
                f"published unit serving one copy of a model ({unit.value:g})", unit.source,
                "the tensor-parallel efficiency is extrapolated past any published deployment, so the latency and "
                "energy are a lower bound; for a fleet, give --requests-per-day (replicas are counted from the load)"))
        if need_gb > _usable_gb(chip, count, most=True):
            raise InputConflictError(
                f"the weights need {need_gb:.4g} GB but {count} x {chip.name} hold {count * chip.memory_gb:.4g} GB; "
                "raise --count or lower --precision")
        if need_gb > _usable_gb(chip, count):
            assumptions.append(Assumption(
                "memory the engine fills", f"weights alone {need_gb / (count * chip.memory_gb):.0%} of "
                f"{count * chip.memory_gb:.4g} GB (default {share.value:.0%})", share.source,
                "the given count holds the weights only above the engine's default memory share"))
        return count
    kv_gb = _kv_need_tokens(central, batch, engine) * kv_token_gb
    per_chip_gb = _usable_gb(chip, 1)
    check_chips_chosen(f"params {central['params']:g} ({need_gb:.3g} GB of weights at {weight_bytes:g} bytes each, "
                       f"{chip.memory_gb:g} GB per {chip.name})", need_gb / per_chip_gb,
                       "check --params (counts are absolute: 7B = 7e9)")
    what = (f"one replica holding the weights and the KV cache of {batch:g} sequence{'' if batch == 1 else 's'} "
            f"({kv_gb:.3g} GB) on {chip.name}")
    fix = ("lower --batch-size (or give --count to be told the most that fit)" if batch_given
           else "check --input-tokens / --output-tokens")
    check_chips_chosen(what, (need_gb + kv_gb) / per_chip_gb, fix)
    n = 1
    while need_gb + kv_gb > _usable_gb(chip, n):
        n *= 2
    check_chips_chosen(what, n, fix)  # the power of 2 above what it needs
    assumptions.append(Assumption(
        "accelerators per replica", f"{n} (smallest power of 2 whose {share.value:.0%} usable memory holds the "
        f"{need_gb:.4g} GB of weights and ~{kv_gb:.3g} GB of {_cache(central)} for {_sequences(batch)})", share.source,
        "give --count to set it"))
    return n


def most_held(central: Mapping[str, float], chip: Chip, count: int, engine: str, attention: str,
              weight_bytes: float, kv_bytes: float) -> float:
    """The most whole sequences a replica of ``count`` chips holds beside the weights at the central values, in the
    engine's default share of its memory (math.inf where the chip's memory is unknown)."""
    if chip.memory_gb is None:
        return math.inf
    free_gb = _usable_gb(chip, count) - central["params"] * weight_bytes / 1e9
    return float(math.floor(free_gb / (_held_tokens(central, engine) * kv_bytes_per_token(central, attention,
                                                                                            kv_bytes) / 1e9)))


def _longest_that_fits(p: Mapping[str, float], name: str, floor: float, batch: float, engine: str,
                       kv_token_gb: float, free_gb: float) -> float:
    """The largest whole ``name`` (tokens) in [floor, current] whose batch fits ``free_gb`` at ``kv_token_gb`` GB
    of K/V per token (the held context grows with it, so a bisection), given that ``floor`` itself fits."""
    lo, hi = math.ceil(floor), max(math.ceil(floor), math.floor(p[name]))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        ok = _kv_need_tokens({**p, name: float(mid)}, batch, engine) * kv_token_gb <= free_gb * (1.0 + 1e-9)
        lo, hi = (mid, hi) if ok else (lo, mid - 1)
    return float(lo)


def _shrink_to_fit(central: dict[str, float], ranges: dict[str, tuple[float, float]], batch: float, engine: str,
                   kv_token_gb: float, kv_small_gb: float, free_gb: float, free_most_gb: float) -> list[str] | None:
    """Make ``batch`` sequences fit ``free_gb`` (GB) by moving assumed values, one lever at a time, each only as far
    as needed: the assumed input, then output, length down to the low end of its sourced range; the KV cache per
    token (GB) down to the small end of the assumed model shape's range; the memory the engine fills from
    ``free_gb`` up to ``free_most_gb`` (GB beside the weights at the default and the highest memory share). Given
    values are never moved, nor an assumed length below its sourced range: a request shorter than the assumption
    admits is no longer the assumed workload (a batch of a million on two chips cut the requests to 1 + 3 tokens and
    reported 1/800 of the energy per request), so a batch that fits only so is refused. Every step keeps the cache
    as full as the memory allows, so energy per token falls steadily as the batch grows. Returns the levers moved
    (None: no fit)."""
    kv = kv_token_gb
    levers: list[tuple[str, float]] = [(n, ranges[n][0]) for n in ("input_tokens", "output_tokens") if n in ranges]
    levers += [("kv", kv_small_gb)] if kv_small_gb < kv_token_gb else []  # a known KV shape has no smaller end
    levers += [("memory", free_most_gb)]
    moved: list[str] = []
    room = free_gb

    def fits(p: Mapping[str, float], kv_gb: float) -> bool:
        return _kv_need_tokens(p, batch, engine) * kv_gb <= room * (1.0 + 1e-9)

    for name, floor in levers:
        if fits(central, kv):
            return moved
        if name == "kv":
            kv = max(floor, free_gb / _kv_need_tokens(central, batch, engine))
            central["kv_bytes_per_token_max"] = kv * 1e9
            moved.append("kv")
            continue
        if name == "memory":
            room = min(floor, _kv_need_tokens(central, batch, engine) * kv)
            central["kv_memory_gb"] = room
            moved.append("memory")
            continue
        floor = min(floor, central[name])
        at_floor = fits({**central, name: floor}, kv)
        value = _longest_that_fits(central, name, floor, batch, engine, kv, room) if at_floor else floor
        central[name] = value
        low, high = ranges[name]
        ranges[name] = (min(low, value), min(high, value))
        moved.append(name)
    return moved if fits(central, kv) else None


def _most_that_fit(central: Mapping[str, float], ranges: Mapping[str, tuple[float, float]], engine: str,
                   kv_small_gb: float, free_most_gb: float) -> int:
    """The largest batch _shrink_to_fit can fit: the assumed lengths at the low ends of their ranges, the KV cache
    per token at the small end of the assumed shape and the memory share at its highest (``free_most_gb`` GB)."""
    floor = {**central, **{n: min(central[n], ranges[n][0]) for n in ("input_tokens", "output_tokens")
                           if n in ranges}}
    return max(0, math.floor(free_most_gb * (1.0 + 1e-9) / (_held_tokens(floor, engine) * kv_small_gb)))


def held_batch(hold: float, given: float) -> str:
    """A given batch as the memory holds it, in words: 'the given batch of 64 sequences', or, where a load keeps
    fewer in flight than given, 'a batch of 27 sequences (as many as the load keeps in flight of the 64 given)'."""
    seqs = _sequences(hold)
    return f"the given batch of {seqs}" if hold >= given else \
        f"a batch of {seqs} (as many as the load keeps in flight of the {given:g} given)"


def _fit_notes(central: dict[str, float], moved: list[str], batch: float, kv_token_gb: float,
               kv_small_gb: float, weights_gb: float, capacity_gb: float, given: float | None) -> list[Assumption]:
    """What _shrink_to_fit moved, as assumptions (the values the model then computes with); ``given``: the batch the
    user gave (None: the default batch)."""
    seqs = _sequences(batch)
    which = held_batch(batch, given) if given is not None else f"even {seqs} (the default batch cut to what fits)"
    why = (f"{which} fits the memory only so; assumed values move in this order, each "
           "only as far as needed: input then output length to the low end of their ranges, the KV cache per token "
           "to the small end of the assumed shape's, then the memory share above the engine default")
    notes = []
    for name in dict.fromkeys(moved):  # each lever once, in order
        if name == "kv":
            kv_kb = central["kv_bytes_per_token_max"] / 1e3
            notes.append(Assumption(
                "KV cache per token", f"at most {kv_kb:.3g} kB (assumed shape: central ~{kv_token_gb * 1e6:.3g} kB, "
                f"small end ~{kv_small_gb * 1e6:.3g} kB)", constants()["kv_dim_gqa"].source,
                note=f"{why}; computed with this smaller cache"))
        elif name == "memory":
            share = constants()["gpu_memory_utilization"]
            used = (weights_gb + central.pop("kv_memory_gb")) / capacity_gb
            notes.append(Assumption(
                "memory the engine fills", f"{used:.0%} of {capacity_gb:.3g} GB (default {share.value:.0%})",
                share.source, f"{why}; set the engine's memory share (vLLM --gpu-memory-utilization) this high"))
        else:
            what = "input tokens per request" if name == "input_tokens" else "output tokens per request"
            notes.append(Assumption(f"{what} capped by memory", f"at most {central[name]:g}",
                                    constants()["gpu_memory_utilization"].source,
                                    f"{why}; give --input-tokens / --output-tokens to set them"))
    return notes


def _restate_lengths(central: Mapping[str, float], ranges: Mapping[str, tuple[float, float]], moved: list[str],
                     batch: float, assumptions: list[Assumption]) -> None:
    """The assumed lengths the fit moved, restated in their own assumptions: the values the model computes with,
    not the sourced ones it no longer uses (which the table printed above the cap)."""
    for name in ("input_tokens", "output_tokens"):
        if name in moved:
            low, high = ranges[name]
            restate_length(assumptions, name, central[name], low, high,
                           f"capped so that {_sequences(batch)} fit{'s' if batch == 1 else ''} the memory "
                           "(within the sourced range)")


def fit_batch_to_memory(central: dict[str, float], ranges: dict[str, tuple[float, float]], given: bool,
                        chip: Chip, count: int, engine: str, attention: str, weight_bytes: float, kv_bytes: float,
                        assumptions: list[Assumption], hold: float | None = None) -> None:
    """Weights plus the batch's KV cache must fit in the engine's share (gpu_memory_utilization) of the replica's
    memory (central model shape): the default batch range is cut to the largest batch that fits (a replica cannot
    hold more sequences, however busy it is); a given batch (or the one sequence the default is cut to) that does
    not fit moves assumed values, said in the assumptions (_shrink_to_fit); if none can, it is an error. Of a given
    batch, ``hold`` sequences are held where fewer than given (as many as a load keeps in flight; said so).

    The KV cache a batch holds: a static batch (``eager``: all sequences start together) reaches the full
    context (input + output) in every sequence at once; continuous batching (``optimised``) keeps sequences at
    staggered stages, so at steady state they hold the mean context, input + output / 2. One sequence must fit
    at its full context either way.
    """
    if chip.memory_gb is None:
        return
    full = _sequence_tokens(central["input_tokens"] + central["output_tokens"], central)
    held = _held_tokens(central, engine)
    kv_token_gb = kv_bytes_per_token(central, attention, kv_bytes) / 1e9
    # the smallest KV cache the assumed shape ranges allow: fewer, wider layers and the narrowest GQA width
    smallest = dict(central)
    for name, side in (("layers_aspect_ratio", 1), ("kv_dim_gqa", 0)):
        if name in ranges:
            smallest[name] = ranges[name][side]
    kv_small_gb = kv_bytes_per_token(smallest, attention, kv_bytes) / 1e9
    weights_gb = central["params"] * weight_bytes / 1e9
    usable_gb = _usable_gb(chip, count)
    free_gb = usable_gb - weights_gb
    free_most_gb = _usable_gb(chip, count, most=True) - weights_gb
    where = f"the {count * chip.memory_gb:.3g} GB of {count} x {chip.name}"
    if weights_gb + full * kv_small_gb > _usable_gb(chip, count, most=True):
        tokens = attended(central["input_tokens"] + central["output_tokens"], central)  # the state's not in tokens
        raise InputConflictError(
            f"one sequence of {tokens:g} tokens needs ~{full * kv_small_gb:.3g} GB or more of {_cache(central)} beside "
            f"{weights_gb:.3g} GB of weights, more than {where}; shorten the context or raise --count")
    how = "at full context (static batch)" if engine == "eager" else "at the mean context, input + output/2 " \
        "(continuous batching)"
    if not given:
        most = math.floor(free_gb / (held * kv_token_gb))
        low, high = ranges["batch_size"]
        if high > most:
            central["batch_size"] = max(1.0, min(central["batch_size"], most))
            ranges["batch_size"] = (max(1.0, min(low, most)), max(1.0, most))
            assumptions.append(Assumption(
                "batch size capped by memory",
                f"at most {most} sequences" if most > 1 else "1 sequence" + (
                    "" if most == 1 else " (not even one fits at the central lengths: see the values moved below)"),
                constants()["gpu_memory_utilization"].source,
                f"{weights_gb:.3g} GB of weights and ~{held * kv_token_gb:.3g} GB of {_cache(central)} per sequence "
                f"{how} in {usable_gb:.3g} GB, the engine's default share of {where}; give --batch-size to set it"))
        if most >= 1:
            return
    batch = hold if given and hold is not None else central["batch_size"]
    need = _kv_need_tokens(central, batch, engine)  # before the levers move the lengths: as the error states them
    most = _most_that_fit(central, ranges, engine, kv_small_gb, free_most_gb)  # before the levers move
    assumed = [n for n in ("input_tokens", "output_tokens") if n in ranges]
    moved = _shrink_to_fit(central, ranges, batch, engine, kv_token_gb, kv_small_gb, free_gb, free_most_gb)
    if moved is None:
        lows = " and ".join(f"{n.split('_')[0]} {ranges[n][0]:g}" for n in assumed)
        at = f" (with the assumed {lows} tokens, the low end{'s' if len(assumed) > 1 else ''} of the sourced " \
            f"range{'s' if len(assumed) > 1 else ''})" if assumed else ""
        raise InputConflictError(
            f"batch {batch:g} x {held - central.get('state_tokens', 0.0):g} tokens of context {how} needs "
            f"~{need * kv_small_gb:.3g} GB or more of {_cache(central)} beside {weights_gb:.3g} GB of weights, "
            f"more than {where}; lower --batch-size to at most "
            f"{most}{at} or raise --count")
    _restate_lengths(central, ranges, moved, batch, assumptions)
    assumptions.extend(_fit_notes(central, moved, batch, kv_token_gb, kv_small_gb, weights_gb,
                                  count * chip.memory_gb, central["batch_size"] if given else None))


def _cache(p: Mapping[str, float]) -> str:
    """What a sequence keeps in memory: its KV cache, and a hybrid's recurrent state or a compressed attention's
    window and compressor state beside it."""
    if p.get("window_flops_per_token"):
        return "KV cache, window and compressor state"
    return "KV cache and recurrent state" if p.get("state_tokens") else "KV cache"


def _sequences(batch: float) -> str:
    """'1 sequence', '32 sequences'."""
    return f"{batch:g} sequence{'' if batch == 1 else 's'}"
