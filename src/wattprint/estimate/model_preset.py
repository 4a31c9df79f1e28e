"""A named model (``model="Llama-3.1-8B"``) as inputs of the estimators: its parameter counts, and for serving its
expert counts, attention, sliding window, weight format and context window, each used only where the user gave none
(the context window bounds the request lengths).

A count the user gives that contradicts the named model by more than published rounding does (``COUNT_TOLERANCE``)
is refused: one of the two is a slip, and picking either would hide it. One within it is used, and the model's
assumption says so, naming both counts. So is every other value the model fills (expert counts, attention, sliding
window): one given must agree with the model's, or it is refused, as is one the model has none of (experts of a
dense model, a window for a model without one). Expert counts and a window's length are exact in a model's config,
so they must be equal; a window's share of the layers is rounded as counts are (Gemma 3's 5 of 6, "0.83"). The
weight precision is not checked: serving a model in another format (fp8, int4) than it ships in is a choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputConflictError, UnknownNameError
from ..footprint import Assumption
from .common import ATTENTION, both_names, number_text, to_float

if TYPE_CHECKING:
    from ..data.models import CompressedAttention, RecurrentLayers, SparseAttention

# published counts are rounded ("8B" for 8.03e9, "7B" for 6.74e9, "141B" for 140.6e9): within this relative gap a
# given count and the named model's agree; beyond it they name different models
COUNT_TOLERANCE = 0.15


@dataclass(frozen=True)
class ContextWindow:
    """A named model's context window: the positions (input + output tokens) its shipped config allows, and the
    most that a release under its name or an extension the user enables (YaRN) allows (None: no hard limit)."""

    model: str
    tokens: int
    most: int | None
    source: str


@dataclass
class Preset:
    """Inputs after the named model filled the gaps (the given values unchanged) and the assumption saying so."""

    params: float | None
    active_params: float | None
    experts: int | None = None
    experts_per_token: int | None = None
    attention: str | None = None
    precision: str | None = None
    sliding_window: float | None = None
    window_layer_share: float | None = None
    kv_widths: float | None = None  # the model's KV heads x head width summed over its layers (serving only)
    attention_of: str | None = None  # the named model whose attention was used (serving only)
    layers: int | None = None  # the model's transformer blocks
    heads: int | None = None  # the model's query heads (the width its attention FLOPs run at)
    head_dim: int | None = None  # the width of one (None for latent attention, whose Q/K and V heads differ)
    qk_head_dim: int | None = None  # latent attention's query/key head width (prefill's and training's FLOPs)
    v_head_dim: int | None = None  # latent attention's value head width (likewise)
    kv_latent_dim: int | None = None  # latent attention's cached latent width (absorbed decode's FLOPs, serving)
    context: ContextWindow | None = None  # the model's context window
    attention_layers: int | None = None  # a hybrid's softmax-attention layers (None: every layer)
    recurrent: RecurrentLayers | None = None  # a hybrid's layers with a fixed-size state per sequence
    sparse_attention: SparseAttention | None = None  # DeepSeek Sparse Attention (V3.2, GLM-5)
    compressed_attention: CompressedAttention | None = None  # DeepSeek-V4's compressed attention
    global_head_dim: int | None = None  # head width of its global layers where it differs from its window layers'
    window_layers: int | None = None  # its sliding-window layers, where its global layers have a shape of their own
    notes: list[Assumption] = field(default_factory=list)
    name: str | None = None  # the named model's name, None without one
    source: str = ""  # the named model's source


def _agree(what: str, given: Any, named: float, model: str, used_instead: list[str],
           tolerance: float = COUNT_TOLERANCE) -> None:
    """Refuse a given value of the input ``what`` (its keyword) beyond ``tolerance`` (relative) of the named
    model's; one within it that differs is used, and ``used_instead`` gets the words that say so (the model's line
    would otherwise show its own count as the one used)."""
    if given is None or isinstance(given, bool) or not isinstance(given, int | float):
        return  # unchecked here: the estimator's own checks say what is wrong with it
    value = to_float(both_names(what), given)  # an int past the float range (10**400) is said so, not an overflow
    if named > 0 and abs(value - named) > tolerance * named:
        raise InputConflictError(f"{both_names(what)} {value:.4g} contradicts model {model!r} ({named:.4g}); "
                                 "give one of them")
    if not math.isclose(value, named, rel_tol=1e-9):  # not the same count parsed two ways (8.03B, 8.03e9)
        shown_given, shown_named = _told_apart(value, named)
        used_instead.append(f"the given {what} {shown_given} used instead of its {shown_named}")


def _agree_or_absent(what: str, given: Any, named: float | None, model: str, used_instead: list[str],
                     lacks: str, tolerance: float) -> None:
    """``_agree`` where the model has a value for the input ``what`` (``named``); where it has none, a given one is
    refused, ``lacks`` saying what the model lacks ("a dense model: no routed experts")."""
    if named is not None:
        _agree(what, given, named, model, used_instead, tolerance)
    elif given is not None:
        raise InputConflictError(f"{both_names(what)} {number_text(given)} contradicts model {model!r} ({lacks}); "
                                 "give one of them")


def _told_apart(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` with the fewest significant digits (4 at least) that show them different."""
    for digits in range(4, 13):
        shown = f"{a:.{digits}g}", f"{b:.{digits}g}"
        if shown[0] != shown[1]:
            return shown
    return f"{a:.12g}", f"{b:.12g}"


def _context_window(match: Any) -> tuple[ContextWindow | None, Assumption | None]:
    """The named model's context window: a release the table tells apart ships its own; a release the name dates
    (``-2507``, ``-0724``) and the table does not know may ship another than the original's, so none is checked
    (said in a note)."""
    spec = match.spec
    if not spec.context_tokens:
        return None, None
    windows = dict(spec.context_releases)
    if match.release in windows:
        tokens = windows[match.release]
        most = None if spec.max_context_tokens is None else max(spec.max_context_tokens, tokens)
        return ContextWindow(f"{spec.name} ({match.release} release)", tokens, most, spec.context_source), None
    if match.release is not None:
        return None, Assumption("context window", f"not checked for the {match.release} release of {spec.name}",
                                spec.context_source, f"the data give the window of {spec.name}'s first release "
                                f"({spec.context_tokens:,} tokens); a later one may ship another")
    return ContextWindow(spec.name, spec.context_tokens, spec.max_context_tokens, spec.context_source), None


def apply_model(model: Any, params: Any, active_params: Any, *, serving: bool = False, shape: bool = False,
                experts: Any = None,
                experts_per_token: Any = None, attention: Any = None, precision: Any = None,
                sliding_window: Any = None, window_layer_share: Any = None) -> Preset:
    """The inputs with ``model``'s values where none was given (``model`` None: the inputs as they are).

    Both take the parameter counts; ``serving`` and ``shape`` (a training with a context length) the layer count,
    the sliding window and the context window too, and the query heads and head width (the width its attention
    FLOPs run at; latent attention's query/key and value head widths, and for serving its latent's); ``serving`` also
    the expert counts, attention (a given one must be the model's), the KV cache's shape (layers x KV heads x head
    width) and the precision the weights ship in, or that the name says (``...-FP8``)."""
    if isinstance(precision, str) and not precision.strip():  # blank: the default, as for the other names
        precision = None
    given = Preset(params, active_params, experts, experts_per_token, attention, precision, sliding_window,
                   window_layer_share)
    if model is None:
        return given
    from ..data.models import find_model, model_assumption

    match = find_model(model)
    spec = match.spec
    given.name, given.source = spec.name, spec.source
    used_instead: list[str] = []
    _agree("params", params, spec.params, spec.name, used_instead)
    if spec.active_params is not None:
        _agree("active_params", active_params, spec.active_params, spec.name, used_instead)
    elif active_params is not None:  # a dense model: all of it is active, whatever --params says
        _agree("active_params", active_params, spec.params, spec.name, used_instead)
        # ... so the active count given is its parameter count (the one given as such, if any): kept as an active
        # count below a total, it would make the model an MoE
        if params is None:
            given.params = active_params
        given.active_params = None
    filled: list[str] = []

    def fill(name: str, value: Any) -> None:
        if getattr(given, name) is None and value is not None:
            setattr(given, name, value)
            filled.append(name)

    fill("params", spec.params)
    if spec.active_params is not None:
        fill("active_params", spec.active_params)
    if serving:
        if spec.active_params is None or spec.experts is not None:  # an MoE whose counts the table lacks takes any
            for name, value, named in (("experts", experts, spec.experts),
                                       ("experts_per_token", experts_per_token, spec.experts_per_token)):
                _agree_or_absent(name, value, named, spec.name, used_instead, "a dense model: no routed experts", 0.0)
        fill("experts", spec.experts)
        fill("experts_per_token", spec.experts_per_token)
        if attention is None or isinstance(attention, str):  # anything else: the estimator's checks refuse it
            said = (attention or "").strip().lower()
            if said and said not in (*ATTENTION, "mla"):  # a typo is unknown, not a contradiction of the model
                raise UnknownNameError("attention", said, [*ATTENTION, "mla"],
                                       hint=f"use one of {', '.join((*ATTENTION, 'mla'))}; {spec.name} has "
                                            f"{spec.attention_name}: leave --attention out to use it")
            # against its card's name for it: latent attention is 'mla' (served as spec.attention, its cache
            # shape), so 'gqa' contradicts it as 'mha' does
            if said and said != spec.attention_name:
                raise InputConflictError(f"{both_names('attention')} {said!r} contradicts model {spec.name!r} "
                                         f"({spec.attention_name}); give one of them")
            given.attention, given.attention_of = spec.attention, spec.name
            if not said:
                filled.append("attention")
        fill("precision", match.name_precision or match.release_weights or spec.weights)
        if "precision" in filled:  # it sets the bytes per weight: said as the chip's default precision would be
            how, source = ((f"named in {model.strip()!r}", "the quantisation the name says (AWQ, GPTQ, W4A16, "
                            "MXFP4: 4-bit weights; FP8; INT8, W8A8)") if match.name_precision else
                           (f"the format the {match.release} release of {spec.name} ships its weights in",
                            spec.source) if match.release_weights else
                           (f"the format {spec.name}'s weights are released in", spec.source))
            given.notes.append(Assumption("precision", f"{given.precision} ({how})", source,
                                          "weights stored and read at this precision; give --precision to change"))
        fill("kv_widths", spec.kv_widths)  # the KV shape of the attention it has
    if serving or shape:  # the attention's shape: serving's KV reads and a training context's attention FLOPs
        _agree_or_absent("sliding_window", sliding_window, spec.sliding_window, spec.name, used_instead,
                         "no sliding window", 0.0)
        _agree_or_absent("window_layer_share", window_layer_share, spec.window_layer_share, spec.name, used_instead,
                         "no sliding window", COUNT_TOLERANCE)
        fill("sliding_window", spec.sliding_window)
        # serving caps by the share of the cache in its window layers, which differs from their share of the layers
        # where its global layers have a shape of their own (Gemma 4); a training context's FLOPs by layers
        fill("window_layer_share", (spec.window_kv_share() if serving else None) or spec.window_layer_share)
        if (split := spec.window_split()) is not None:
            fill("global_head_dim", spec.global_head_dim)
            fill("window_layers", split[0])
        fill("layers", spec.layers)
        fill("attention_layers", spec.attention_layers)
        fill("sparse_attention", spec.sparse_attention)
        fill("compressed_attention", spec.compressed_attention)
        # the width the score and value products run at: a training context's and serving's attention FLOPs
        fill("heads", spec.heads)
        fill("head_dim", spec.head_dim)
        fill("qk_head_dim", spec.qk_head_dim)
        fill("v_head_dim", spec.v_head_dim)
        if serving:  # decode's absorbed latent attention runs at the latent's width
            fill("kv_latent_dim", spec.kv_latent_dim)
        given.context, note = _context_window(match)
        if note is not None:
            given.notes.append(note)
    # a hybrid's recurrent layers: serving's state, and a training's FLOPs beside 6·N·D whatever its context
    fill("recurrent", spec.recurrent)
    given.notes.append(model_assumption(spec, filled, used_instead, match.alias))
    return given
