"""A named model's serving attention FLOPs from its own heads and head widths, not from a shape assumed from its
parameter count.

For each query token and each token of context it attends to, a softmax-attention layer runs QK^T at the query/key
head width and AV at the value head width: 2 x heads x (qk + v) FLOPs (a multiply-add is two). The 4·L·d of a shape
derived from N = 12·L·d² misses models whose heads are wider than their hidden size (Qwen3-32B: 64 x 128 = 8,192
against 5,120) and MoEs, whose attention is sized for the whole model rather than its active parameters
(Qwen3-30B-A3B: 48 layers of 32 x 128, about 2.3x the shape from 3.3B active).

Multi-head latent attention (DeepSeek-V2/V3, Kimi K2) runs two ways (vLLM, ``v1/attention/backends/mla/common.py``):
prefill up-projects the cached latent into per-head keys and values and runs as multi-head attention (query/key
heads 192 wide = 128 + 64 RoPE, values 128); decode absorbs the up-projections into the query and the output and
attends over the cached entry itself, every head at the latent plus its RoPE key for QK^T (512 + 64) and at the
latent for AV (512): 3.4x prefill's FLOPs per token attended, the price of reading 576 cached values per token
instead of 128 heads x 320. An eager engine (Hugging Face transformers) runs decode the prefill way.

    >>> attention_flops_per_attended(layers=32, heads=32, qk_width=128, v_width=128)  # Llama 3.1 8B
    524288.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..footprint import Assumption

if TYPE_CHECKING:
    from .model_preset import Preset

# FLOPs of one multiply-add (a query value times a key value, a weight times a value, added up)
FLOPS_PER_MULTIPLY_ADD = 2.0


def attention_flops_per_attended(layers: float, heads: int, qk_width: float, v_width: float) -> float:
    """Forward FLOPs of QK^T and AV per query token per token attended, over ``layers`` softmax-attention layers."""
    return FLOPS_PER_MULTIPLY_ADD * layers * heads * (qk_width + v_width)


def _widths(preset: Preset, layers: int, absorbed: bool) -> tuple[float, float, float, float] | None:
    """(prefill's query/key width, its value width, decode's query/key width, its value width) of one head, or None
    where the data lack them. Latent attention decodes absorbed (``absorbed``: an optimised engine) over its cached
    entry, latent + RoPE key (2 x kv_widths / layers: the cache's K and V halves hold that entry once), and its
    latent."""
    if preset.head_dim:
        return (preset.head_dim,) * 4
    if not (preset.qk_head_dim and preset.v_head_dim):
        return None
    prefill = (float(preset.qk_head_dim), float(preset.v_head_dim))
    if absorbed and preset.kv_latent_dim and preset.kv_widths:
        return (*prefill, 2.0 * preset.kv_widths / layers, float(preset.kv_latent_dim))
    return (*prefill, *prefill)


def take_attention_widths(central: dict[str, float], preset: Preset, engine: str,
                          assumptions: list[Assumption]) -> None:
    """Put a named model's attention FLOPs per query token per token attended into the serving model's values
    (``attention_flops_decode``, ``attention_flops_prefill``, over its softmax-attention layers), said in one
    assumption citing its source; nothing where the data lack its heads (the assumed shape's 4·L·d then)."""
    layers = preset.attention_layers or preset.layers
    if not (layers and preset.heads) or preset.compressed_attention is not None:  # that one: its own terms
        return
    if preset.global_head_dim and preset.window_layers and preset.head_dim:  # global layers of their own width
        _take_global_layers(central, preset, layers, assumptions)
        return
    widths = _widths(preset, layers, absorbed=engine == "optimised")
    if widths is None:
        return
    qk_pre, v_pre, qk_dec, v_dec = widths
    central["attention_flops_prefill"] = attention_flops_per_attended(layers, preset.heads, qk_pre, v_pre)
    central["attention_flops_decode"] = attention_flops_per_attended(layers, preset.heads, qk_dec, v_dec)
    if (qk_dec, v_dec) == (qk_pre, v_pre):
        how = f"{preset.heads} query heads x {qk_pre:g}" if qk_pre == v_pre else \
            f"{preset.heads} query heads x ({qk_pre:g} query/key + {v_pre:g} value)"
        what = f"{central['attention_flops_decode']:.4g} FLOP per token per token attended"
    else:
        how = (f"{preset.heads} query heads x ({qk_pre:g} query/key + {v_pre:g} value) in prefill; in decode, "
               f"absorbed, QK^T over the {qk_dec:g}-wide cached latent + RoPE key and AV over the {v_dec:g}-wide "
               "latent")
        what = (f"{central['attention_flops_prefill']:.4g} (prefill) and {central['attention_flops_decode']:.4g} "
                "(decode) FLOP per token per token attended")
    assumptions.append(Assumption(
        "attention width",
        f"{preset.name}: {how} in {layers} softmax-attention layers: {what}", preset.source,
        "QK^T and AV at the widths of its own heads, 2 x heads x (qk + v) per layer, not the width of a shape "
        "assumed from its parameter count"))


def _take_global_layers(central: dict[str, float], preset: Preset, layers: int, assumptions: list[Assumption]) -> None:
    """A model whose global layers run wider heads than its sliding-window layers (Gemma 4: 512 against 256): the
    FLOPs per token attended summed over both, and the share of them in the window layers
    (``window_flops_share``: the part the window caps, which is not their share of the layers or of the cache)."""
    assert preset.global_head_dim and preset.window_layers and preset.head_dim and preset.heads
    window = attention_flops_per_attended(preset.window_layers, preset.heads, preset.head_dim, preset.head_dim)
    global_layers = layers - preset.window_layers
    wide = attention_flops_per_attended(global_layers, preset.heads, preset.global_head_dim, preset.global_head_dim)
    central["attention_flops_prefill"] = central["attention_flops_decode"] = window + wide
    central["window_flops_share"] = window / (window + wide)
    assumptions.append(Assumption(
        "attention width",
        f"{preset.name}: {preset.heads} query heads x {preset.head_dim} in its {preset.window_layers} sliding-window "
        f"layers, x {preset.global_head_dim} in its {global_layers} global layers: {window + wide:.4g} FLOP per token "
        f"per token attended, {central['window_flops_share']:.0%} of them within the window", preset.source,
        "QK^T and AV at the widths of its own heads, 2 x heads x (qk + v) per layer, not the width of a shape "
        "assumed from its parameter count"))
