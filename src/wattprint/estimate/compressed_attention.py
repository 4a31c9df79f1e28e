"""DeepSeek-V4's compressed attention in the terms of the serving model (data.models.CompressedAttention).

Its layers cache one entry per 4 tokens (and attend to the top-k of them an indexer picks, scoring all) or one per
128 tokens (and attend to all), and every layer also attends to the last 128 tokens uncompressed (DeepSeek-V4 model
code as vLLM runs it: ``deepseek_v4.py``, ``flashmla_sparse.py``). Per generated token at a context of C tokens:

* the **top-k part** grows with C until the top-k entries cover ``topk x 4`` tokens, then stays: the ratio-4 layers'
  entries, read and attended to like a sparse attention's top-k (``sparse_topk`` in tokens);
* the **whole-context part** grows with C without bound: the indexer's keys and scores in the ratio-4 layers and the
  ratio-128 layers' entries, read and attended to whole (``indexer_bytes_per_token``, ``indexer_flops_per_token``);
* the **fixed part** does not grow: the 128-token window in every layer and the compressors' state
  (``recurrent_state_bytes``, ``window_flops_per_token``).

Each attended entry costs every query head 2 x (width + width) FLOPs: one cached vector of ``width`` values is both
the key and the value.

    >>> from wattprint.data.models import find_model
    >>> round(decode_attention_flops(find_model("DeepSeek-V4-Flash").spec, 131_072) / 1e9, 2)  # GFLOP per token
    16.09
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputConflictError
from ..footprint import Assumption
from .attention_width import FLOPS_PER_MULTIPLY_ADD
from .sparse_attention import indexer_flops_per_attended

if TYPE_CHECKING:
    from ..data.models import CompressedAttention, ModelSpec
    from .model_preset import Preset


def _per_entry_flops(ca: CompressedAttention, heads: int) -> float:
    """FLOPs one query token spends on one cached entry in one layer: QK^T and AV over the same vector, all heads."""
    return FLOPS_PER_MULTIPLY_ADD * heads * 2 * ca.width


def serving_terms(ca: CompressedAttention, heads: int) -> dict[str, float]:
    """The serving model's values for this attention (per token of context unless said): the top-k part's FLOPs
    (``attention_flops_*``) over at most ``sparse_topk`` tokens; the whole-context part's bytes and FLOPs; the fixed
    part's bytes per sequence (window entries and compressor state) and FLOPs per token."""
    entry = _per_entry_flops(ca, heads)
    topk_part = ca.sparse_layers * entry / ca.SPARSE_RATIO
    # the indexer scores every compressed key, as DeepSeek-V3.2's scores every token
    indexer = indexer_flops_per_attended(ca.sparse_layers, ca.indexer_heads, ca.indexer_head_dim)
    whole_flops = indexer / ca.SPARSE_RATIO + ca.dense_layers * entry / ca.DENSE_RATIO
    whole_bytes = ca.sparse_layers * ca.indexer_bytes / ca.SPARSE_RATIO + \
        ca.dense_layers * ca.entry_bytes / ca.DENSE_RATIO
    fixed_bytes = ca.layers * ca.window * ca.entry_bytes + ca.sparse_layers * ca.sparse_state_bytes + \
        ca.dense_layers * ca.dense_state_bytes
    return {"attention_flops_decode": topk_part, "attention_flops_prefill": topk_part,
            "sparse_topk": float(ca.topk * ca.SPARSE_RATIO),
            "indexer_bytes_per_token": whole_bytes, "indexer_flops_per_token": whole_flops,
            "recurrent_state_bytes": fixed_bytes, "window_flops_per_token": ca.layers * ca.window * entry}


def decode_attention_flops(spec: ModelSpec, context: float) -> float:
    """Attention FLOPs of one generated token at ``context`` tokens (past the window), over all layers."""
    ca = spec.compressed_attention
    assert ca is not None and spec.heads
    t = serving_terms(ca, spec.heads)
    return (t["attention_flops_decode"] * min(context, t["sparse_topk"]) + t["indexer_flops_per_token"] * context
            + t["window_flops_per_token"])


def training_flops_per_token(ca: CompressedAttention, heads: int, seq_len: float) -> float:
    """Forward attention FLOPs per token of a ``seq_len`` training sequence, averaged over its causal positions: the
    top-k part over min(position, top-k tokens), the whole-context part over the position, the window over
    min(position, window)."""
    from .roofline import capped_over_prompt

    t = serving_terms(ca, heads)
    capped = capped_over_prompt(seq_len, t["sparse_topk"]) / seq_len
    in_window = capped_over_prompt(seq_len, ca.window) / seq_len / ca.window  # share of the window filled, on average
    return (t["attention_flops_decode"] * capped + t["indexer_flops_per_token"] * seq_len / 2.0
            + t["window_flops_per_token"] * in_window)


def compressed_cache_precision(given: str | None, model: str | None) -> str:
    """The cache format of a compressed attention: FP8 entries with scales, vLLM's only format for DeepSeek-V4
    (``deepseek_v4_attention.py``: 'DeepseekV4 only supports fp8 kv-cache format'); another one given is refused."""
    if given not in (None, "fp8"):
        raise InputConflictError(f"--kv-cache-precision (kv_cache_precision) {given!r}: {model} keeps its cache as "
                                 "FP8 entries with scales, the only format vLLM serves it with; give fp8 or leave it "
                                 "out")
    return "fp8"


def take_compressed_attention(central: dict[str, float], preset: Preset, attention: str, kv_bytes: float,
                              assumptions: list[Assumption]) -> None:
    """Put a named model's compressed attention into the serving model's values (``serving_terms``; its fixed
    part in tokens of its cache for memory, ``state_tokens``), said in one assumption citing its source; nothing for
    other attention."""
    ca = preset.compressed_attention
    if ca is None or not preset.heads:
        return
    from .roofline import kv_bytes_per_token as cache_bytes

    terms = serving_terms(ca, preset.heads)
    central.update(terms)
    kv_bytes_per_token = cache_bytes(central, attention, kv_bytes)
    central["state_tokens"] = terms["recurrent_state_bytes"] / kv_bytes_per_token
    assumptions.append(Assumption(
        "compressed attention",
        f"{preset.name}: {ca.sparse_layers} layers cache one entry per {ca.SPARSE_RATIO} tokens and attend to the top "
        f"{ca.topk:,} an indexer of {ca.indexer_heads} x {ca.indexer_head_dim} picks, {ca.dense_layers} one per "
        f"{ca.DENSE_RATIO} tokens and attend to all, every layer to the last {ca.window} tokens; "
        f"{kv_bytes_per_token:,.0f} bytes of cache per token of context, "
        f"{terms['recurrent_state_bytes'] / 2**20:.3g} MiB of window and compressor state per sequence",
        preset.source,
        f"entries of {ca.entry_bytes:g} bytes, as vLLM keeps them (FP8 with scales, its only format for this model); "
        f"each attended entry costs every head 2 x ({ca.width} + {ca.width}) FLOPs (one vector is key and value)"))
