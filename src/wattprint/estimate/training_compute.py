"""Training compute: the FLOPs of a training run from what was given, and the checks that keep them plausible.

    C = the FLOPs given (checked against 6 x N_active x D when parameters and tokens are given too),
        or 6 x N_active x D (+ causal attention's 6 x L x d x context x D with a context length)
        (+ 2 x N_teacher x D_teacher for each distillation teacher's forward passes)

Units: compute in FLOP; parameters and tokens as counts; the context in tokens.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..errors import InputConflictError
from ..footprint import Assumption
from .common import too_large
from .model_preset import Preset

if TYPE_CHECKING:
    from ..data.models import RecurrentLayers

FLOPS_PER_PARAM_TOKEN = 6  # forward 2 + backward 4 multiply-adds per parameter per token (Kaplan et al. 2020)
FORWARD_FLOPS_PER_PARAM_TOKEN = 2  # a forward pass alone: what a distillation teacher spends per token
# attention, forward + backward, per layer, model width and token attended (derivation in _attention_flops)
ATTENTION_FLOPS_PER_LAYER_WIDTH_ATTENDED = 12.0
# a transformer block holds ~12 d^2 parameters (4 d^2 attention, 8 d^2 MLP): N = 12 L d^2 (Kaplan et al. 2020, eq. 2.1)
PARAMS_PER_LAYER_WIDTH_SQUARED = 12.0
# Given FLOPs below this fraction of 6·N·D contradict the model size and tokens: the model FLOPs of a transformer
# are at least ~6·N·D, and counting N without the embeddings (as some papers do) lowers it by ~20-40% at most.
MIN_FLOPS_OVER_6ND = 0.5
# ... and above this multiple they contradict them too: attention adds at most 12·L·d·T per token (PaLM, Chowdhery
# et al. 2022, App. B, without the causal half that _attention_flops takes), which for a ~1B model (16 layers x
# 2048) at a 128k context brings the total to ~8x 6·N·D, and counting full activation recomputation adds a third
# (~11x). A small-active MoE at its documented context goes further (Qwen3-30B-A3B: 3.3B active, 48 layers x 4096
# attention width, ~17x at 256k), so a context the named model's data document is never refused by this bound.
MAX_FLOPS_OVER_6ND = 12.0
# Below this, a parameter or token count has lost its suffix ("7" for 7B): no trained network has fewer than a
# thousand parameters, and no training sees fewer than a thousand tokens.
MIN_COUNT = 1000
# ... so no training computes less than 6 x the fewest parameters x the fewest tokens: fewer FLOPs (or chip-hours too
# few for them at a chip's full peak) are a unit slip
MIN_FLOPS = FLOPS_PER_PARAM_TOKEN * MIN_COUNT * MIN_COUNT


def training_flops(
    flops: float | None, params: float | None, active: float | None, tokens: float | None,
    seq_len: float | None = None, model: Preset | None = None,
) -> tuple[float | None, float | None, list[Assumption]]:
    """(training FLOPs, active parameters, notes); FLOPs None when neither FLOPs nor params x tokens are given.
    ``seq_len`` (training context) adds causal attention's FLOPs to 6·N·D, at a named ``model``'s layer count,
    sliding window and context window where it has them."""
    if seq_len is not None and flops is not None:
        raise InputConflictError("a context length adds attention FLOPs to 6 x parameters x tokens; with --flops, "
                                 "give the total (attention included) instead")
    if active is not None and params is not None and active > params:
        raise InputConflictError(f"active parameters ({active:.4g}) exceed total parameters ({params:.4g})")
    n_active = active if active is not None else params
    what = "active parameters" if active is not None else "parameters"
    if flops is not None:
        return flops, n_active, [_given_flops_note(flops, n_active, tokens, what, active_given=active is not None)]
    if n_active is not None and tokens is not None:
        c, notes = _params_tokens_flops(n_active, tokens, what, seq_len, model)
        return c, n_active, notes
    _refuse_half_a_size(params, n_active, tokens, seq_len)
    return None, n_active, []


def _given_flops_note(
    flops: float, n_active: float | None, tokens: float | None, what: str, active_given: bool
) -> Assumption:
    """The note on FLOPs given by the user; with parameters and tokens too, they must lie within
    [MIN_FLOPS_OVER_6ND, MAX_FLOPS_OVER_6ND] x 6·N·D (outside is a unit slip) and only the FLOPs are used."""
    if n_active is None or tokens is None:
        return Assumption("training compute", f"{flops:.4g} FLOP", "given by the user")
    six_nd = FLOPS_PER_PARAM_TOKEN * n_active * tokens
    if not math.isfinite(six_nd):
        raise too_large()
    ratio = flops / six_nd
    if ratio < MIN_FLOPS_OVER_6ND:
        raise InputConflictError(
            f"FLOPs ({flops:.4g}) are {ratio:.2g}x 6 x {what} x tokens ({six_nd:.4g}): a transformer's training "
            "compute is at least about that; check the units"
            + ("" if active_given else ", or give --active-params for an MoE")
        )
    if ratio > MAX_FLOPS_OVER_6ND:
        raise InputConflictError(
            f"FLOPs ({flops:.4g}) are {ratio:.3g}x 6 x {what} x tokens ({six_nd:.4g}): even long-context "
            f"attention and recomputation stay below {MAX_FLOPS_OVER_6ND:g}x; check the units, or give "
            "FLOPs or parameters x tokens, not both"
        )
    return Assumption(
        "training compute", f"{flops:.4g} FLOP (given; {ratio:.3g}x 6 x {what} x tokens = {six_nd:.4g})",
        "given by the user",
        "the given FLOPs are used and the tokens only checked against them; FLOPs above 6ND come from attention "
        "at long context or from counting recomputation",
    )


def _params_tokens_flops(
    n_active: float, tokens: float, what: str, seq_len: float | None, model: Preset | None = None
) -> tuple[float, list[Assumption]]:
    """(FLOPs, notes): 6 x N_active x D, plus causal attention's FLOPs at a ``seq_len``-token context."""
    c = FLOPS_PER_PARAM_TOKEN * n_active * tokens
    if not math.isfinite(c):
        raise too_large()
    notes = [Assumption(
        "training compute",
        f"{c:.4g} FLOP = 6 x {n_active:.4g} {what} x {tokens:.4g} tokens",
        "Kaplan et al. 2020, 'Scaling Laws for Neural Language Models' (C = 6ND)",
        "ignores attention FLOPs (small below ~8k context; give --seq-len to add them)"
        if seq_len is None else "the weights' matrix products",
    )]
    if seq_len is None:
        if model is not None and model.recurrent is not None:  # a hybrid's state passes, whatever its context
            state = _recurrent_flops_per_token(model.recurrent) * tokens
            r = model.recurrent
            notes.append(Assumption(
                "recurrent-layer compute", f"{state:.4g} FLOP = {_recurrent_flops_per_token(r):.4g} per token in "
                f"{model.name}'s {r.layers} {r.kind} layers' state (forward + backward) x {tokens:.4g} tokens",
                "passes over the state (read-out, update, decay or delta-rule correction), as in serving",
                "a fixed cost per token beside 6·N·D, whatever the context"))
            c += state
        return c, notes
    extra, note = _attention_flops(n_active, tokens, seq_len, model)
    if not math.isfinite(extra):
        raise too_large()
    ratio = (c + extra) / c
    # a context the named model documents is no unit error, however large its attention (a small MoE at 256k)
    documented = model is not None and model.context is not None and seq_len <= max(
        model.context.tokens, model.context.most or 0)
    if ratio > MAX_FLOPS_OVER_6ND and not documented:
        shipped = model.context if model is not None else None
        past = "" if shipped is None or shipped.most is None else (  # None: no hard limit (ALiBi)
            f"; it is also past every window of {shipped.model} ({max(shipped.tokens, shipped.most):,} tokens)")
        raise InputConflictError(
            f"a {seq_len:.4g}-token context adds attention FLOPs ({extra:.4g}) that bring the total to "
            f"{ratio:.3g}x 6 x {what} x tokens: even long-context trainings stay below "
            f"{MAX_FLOPS_OVER_6ND:g}x{past}; check the units (--seq-len is the context in tokens, e.g. 8192 or 128k)")
    window = _context_window_note(seq_len, model)
    return c + extra, [*notes, note, *([window] if window else [])]


def _attention_flops(
    n_active: float, tokens: float, seq_len: float, model: Preset | None = None
) -> tuple[float, Assumption]:
    """Causal self-attention's training FLOPs, which 6·N·D leaves out: per token and layer, QK^T and AV over the
    tokens it attends to (on average half the context; at most the window in sliding-window layers), 2·2·d·attended
    forward, x3 with the backward pass: 12·L·d·attended per token (PaLM, Chowdhery et al. 2022, App. B counts
    12·L·d·seq, without the causal half). d is the width QK^T and AV run at, query heads x head width; for
    multi-head latent attention (DeepSeek), whose query/key heads are wider than its value heads, QK^T runs at heads x
    the query/key width and AV at heads x the value width, each half of the count: d = heads x (qk + v) / 2. A named
    model gives L, its window, and d from its config's heads where the data have them, else from N = 12 L d^2 (which
    misses it by up to ~2x either way: large embeddings and an MoE's experts make it too wide for Gemma or Mixtral,
    Qwen3's MoEs run attention at twice their hidden size); otherwise L and d come from an assumed model shape."""
    from .roofline import mean_attended, transformer_shape
    from .serving_constants import constants
    from .sparse_attention import indexer_flops_per_attended

    if model is not None and model.compressed_attention is not None and model.heads:
        return _compressed_attention_flops(model, tokens, seq_len)
    if model is not None and model.layers and model.heads and model.head_dim:
        n_layers = float(model.layers)
        d_model = float(model.heads * model.head_dim)
        shape = (f"{model.layers} layers of {model.name}, width {model.heads} query heads x {model.head_dim} from its "
                 "config (the width the score and value products run at)")
    elif model is not None and model.layers and model.heads and model.qk_head_dim and model.v_head_dim:
        n_layers = float(model.layers)
        d_model = model.heads * (model.qk_head_dim + model.v_head_dim) / 2.0
        shape = (f"{model.layers} layers of {model.name}, width {model.heads} query heads x ({model.qk_head_dim} "
                 f"query/key + {model.v_head_dim} value) / 2 from its config: latent attention's QK^T runs at the "
                 "query/key head width and AV at the value head width, each half of the count")
    elif model is not None and model.layers:
        n_layers = float(model.layers)
        d_model = math.sqrt(n_active / (PARAMS_PER_LAYER_WIDTH_SQUARED * n_layers))
        shape = (f"{model.layers} layers of {model.name}, width from N = {PARAMS_PER_LAYER_WIDTH_SQUARED:g} x layers x "
                 "width^2 (Kaplan et al. 2020, eq. 2.1)")
    else:
        aspect = constants()["layers_aspect_ratio"]
        d_model, n_layers = transformer_shape(n_active, aspect.value)
        shape = f"layers and width from {n_active:.4g} active parameters at d_model / n_layers = {aspect.value:g} " \
                f"({aspect.source})"
    window = {"sliding_window": model.sliding_window or 0.0, "window_layer_share": model.window_layer_share or 0.0} \
        if model is not None else {}
    if model is not None and model.global_head_dim and model.window_layers and model.heads and model.layers:
        # global layers of wider heads (Gemma 4): the mean width over the layers, and the window's share of it
        window_width = model.window_layers * model.heads * (model.head_dim or 0)
        global_width = (model.layers - model.window_layers) * model.heads * model.global_head_dim
        d_model = (window_width + global_width) / model.layers
        window["window_layer_share"] = window_width / (window_width + global_width)
        shape += (f"; its {model.layers - model.window_layers} global layers run {model.global_head_dim}-wide heads: "
                  f"mean width {d_model:.0f}, {window['window_layer_share']:.0%} of it in the window layers")
    sparse = model.sparse_attention if model is not None else None
    if sparse is not None:  # the main attention over the indexer's top-k
        window["sparse_topk"] = float(sparse.topk)
    attended = mean_attended(seq_len, window)
    if attended < seq_len / 2.0 and sparse is None:
        shape += (f"; {model.name if model else 'the model'} attends to at most {window['sliding_window']:,.0f} "
                  f"tokens in {(model.window_layer_share if model else None) or window['window_layer_share']:.0%} of "
                  "its layers")
    if model is not None and model.attention_layers:  # a hybrid: the rest of its layers have no softmax attention
        n_layers = float(model.attention_layers)
        shape += f"; {model.name} has softmax attention in {model.attention_layers} of its {model.layers} layers"
    extra = ATTENTION_FLOPS_PER_LAYER_WIDTH_ATTENDED * n_layers * d_model * attended * tokens
    more = ""  # the terms beyond the softmax attention's, as the formula shows them
    if sparse is not None and model is not None and model.layers:  # its indexer scores every past token
        indexer = FLOPS_PER_PARAM_TOKEN / FORWARD_FLOPS_PER_PARAM_TOKEN * indexer_flops_per_attended(
            model.layers, sparse.indexer_heads, sparse.indexer_head_dim)
        extra += indexer * (seq_len / 2.0) * tokens
        shape += (f"; {model.name}'s main attention reads the top {sparse.topk:,} tokens its indexer "
                  f"({sparse.indexer_heads} heads x {sparse.indexer_head_dim}) selects")
        more += f" + {indexer:.4g} x {seq_len / 2.0:.4g} indexer FLOP per token (forward + backward)"
    if model is not None and model.recurrent is not None:  # its recurrent layers' passes over their state
        r = model.recurrent
        per_token = _recurrent_flops_per_token(r)
        extra += per_token * tokens
        more += f" + {per_token:.4g} FLOP per token in its {r.layers} {r.kind} layers' state (forward + backward)"
    return extra, Assumption(
        "attention compute",
        f"{extra:.4g} FLOP = {ATTENTION_FLOPS_PER_LAYER_WIDTH_ATTENDED:g} x {n_layers:.0f} layers x {d_model:.0f} "
        f"width x {attended:.4g} tokens attended on average (of a {seq_len:.4g} context){more} x {tokens:.4g} "
        "tokens",
        "Chowdhery et al. 2022, 'PaLM', App. B (attention FLOPs), causal half",
        f"{shape}; the MFU model was fitted on 6·N·D, so at a short context this counts the attention its "
        "trainings already absorbed a little twice")


def _compressed_attention_flops(model: Preset, tokens: float, seq_len: float) -> tuple[float, Assumption]:
    """A compressed attention's training FLOPs (DeepSeek-V4): its forward FLOPs per token averaged over a sequence's
    causal positions (compressed_attention.training_flops_per_token), x3 with the backward pass."""
    from .compressed_attention import training_flops_per_token

    ca = model.compressed_attention
    assert ca is not None and model.heads
    per_token = FLOPS_PER_PARAM_TOKEN / FORWARD_FLOPS_PER_PARAM_TOKEN * training_flops_per_token(ca, model.heads,
                                                                                               seq_len)
    extra = per_token * tokens
    return extra, Assumption(
        "attention compute",
        f"{extra:.4g} FLOP = {per_token:.4g} FLOP per token (forward + backward) at a {seq_len:.4g} context x "
        f"{tokens:.4g} tokens",
        model.source,
        f"{model.name}'s compressed attention: {ca.sparse_layers} layers attend to the top {ca.topk:,} of their "
        f"entries (one per {ca.SPARSE_RATIO} tokens) and score all with the indexer, {ca.dense_layers} to all of "
        f"theirs (one per {ca.DENSE_RATIO} tokens), every layer to its last {ca.window} tokens; averaged over the "
        "causal positions")


def _recurrent_flops_per_token(r: RecurrentLayers) -> float:
    """A hybrid's training FLOPs per token in its recurrent layers: the forward passes over each layer's state
    (roofline.RECURRENT_FLOPS_PER_STATE_VALUE per value) and the backward's two more, as 6·N·D counts them."""
    from .roofline import RECURRENT_FLOPS_PER_STATE_VALUE

    return (FLOPS_PER_PARAM_TOKEN / FORWARD_FLOPS_PER_PARAM_TOKEN) * RECURRENT_FLOPS_PER_STATE_VALUE * \
        r.layers * r.state_values


def _context_window_note(seq_len: float, model: Preset | None) -> Assumption | None:
    """A note where a training context is longer than the named model's window. Not an error, unlike a request too
    long to serve: training at a longer context is what long-context continued pretraining does (a longer RoPE
    base, position interpolation), so the compute is counted at the context given and the note says what it means."""
    if model is None or model.name is None:
        return None
    window = model.context
    if window is None:  # no data, or a dated release the data do not know (apply_model's note says so)
        return None
    if seq_len <= window.tokens:
        return None
    if window.most is None or seq_len <= window.most:
        reach = ("which it has no hard limit on" if window.most is None
                 else f"within the {window.most:,} tokens a release or documented extension of it reaches")
        return Assumption("context window", f"{seq_len:,.0f} tokens: past {window.model}'s shipped {window.tokens:,}"
                          f"-token window, {reach}", window.source,
                          "as in long-context continued pretraining; counted at the context given")
    windows = (f"{window.tokens:,}" if window.most == window.tokens
               else f"{window.tokens:,} shipped, {window.most:,} at most")
    return Assumption("context window", f"{seq_len:,.0f} tokens: past every window of {window.model} ({windows})",
                      window.source,
                      "training at it means extending its position encoding (a longer RoPE base, interpolation) or "
                      "changing the architecture; counted at the context given")


def _refuse_half_a_size(
    params: float | None, n_active: float | None, tokens: float | None, seq_len: float | None
) -> None:
    """Without FLOPs, a context length, or tokens or parameters without the rest of 6·N·D, is an error (active
    parameters alone pass: they only make the run an MoE)."""
    if seq_len is not None:  # name only what is missing: the parameters may have come from --model
        wanted = (("--params (params=...) or --model (model=...)", n_active is None),
                  ("--tokens (tokens=...)", tokens is None))
        missing = " and ".join(flag for flag, absent in wanted if absent)
        raise InputConflictError(f"a context length needs {missing} too (attention FLOPs scale with parameters and "
                                 "tokens)")
    if tokens is not None and n_active is None:
        raise InputConflictError("tokens given without parameters: add --params (params=...), and --active-params "
                                 "(active_params=...) for an MoE")
    if n_active is not None and tokens is None and params is not None:
        raise InputConflictError("parameters given without tokens: add --tokens (tokens=...), or give --flops "
                                 "(flops=...)")


def teacher_flops(teachers: list[float], tokens: float, teacher_tokens: float | None) -> tuple[float, Assumption]:
    """The forward passes of knowledge-distillation teachers, which 6·N·D (the student's) leaves out: 2 x N_t x D_t
    FLOP per teacher, over ``teacher_tokens`` (default: every training token, as logit distillation targets each
    token; Llama 3.2 1B and 3B used logits of Llama 3.1 8B and 70B so in pretraining). ``teachers`` are the active
    parameters of each teacher."""
    d = teacher_tokens if teacher_tokens is not None else tokens
    extra = FORWARD_FLOPS_PER_PARAM_TOKEN * sum(teachers) * d
    if not math.isfinite(extra):
        raise too_large()
    names = " + ".join(f"{n:.4g}" for n in teachers)
    over = "tokens given for the teachers" if teacher_tokens is not None else "training tokens (each one's logits)"
    return extra, Assumption(
        "distillation teachers' compute",
        f"{extra:.4g} FLOP = 2 x ({names}) teacher parameters x {d:.4g} {over}",
        "forward pass = 2 FLOP per parameter and token (Kaplan et al. 2020); logit distillation runs the teachers "
        "forward over the student's tokens (Hinton et al. 2015; Meta Llama 3.2 model card: 'we incorporated logits "
        "from the Llama 3.1 8B and 70B models into the pretraining stage')",
        "run at the student's MFU; logits generated once and stored cost the same forward passes")
