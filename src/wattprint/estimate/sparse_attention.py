"""DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): a lightning indexer scores every past token for each query
(``indexer_heads`` dot products of ``indexer_head_dim`` values each), and the main attention then reads and attends to
only the ``topk`` tokens it selects. The cache still holds every token, plus the indexer's own key per token and
layer (DeepSeek-AI 2025, DeepSeek-V3.2-Exp report, s1, eq. 1). The named model's table row gives the shape
(data.models.SparseAttention).

    >>> indexer_flops_per_attended(layers=61, heads=64, head_dim=128)  # DeepSeek-V3.2, per token and past token
    999424.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..footprint import Assumption

if TYPE_CHECKING:
    from ..data.models import SparseAttention

# FLOPs of one indexer score per head and value: a multiply-add of the query and key (eq. 1's q·k)
INDEXER_FLOPS_PER_VALUE = 2.0


def indexer_flops_per_attended(layers: int, heads: int, head_dim: int) -> float:
    """Forward FLOPs the indexer spends per query token on each past token it scores, over the layers."""
    return INDEXER_FLOPS_PER_VALUE * layers * heads * head_dim


def take_sparse_attention(central: dict[str, float], model: str | None, layers: int | None,
                          sparse: SparseAttention | None, source: str, assumptions: list[Assumption]) -> None:
    """Put a named model's sparse attention into the serving model's values: the main attention's top-k
    (``sparse_topk``: reads and FLOPs over at most that many tokens), the indexer's key cache per token over the
    layers (``indexer_bytes_per_token``: held with the KV cache, read over the whole context) and its FLOPs per
    past token (``indexer_flops_per_token``); said in one assumption. Nothing for dense attention."""
    if sparse is None or not layers:
        return
    central["sparse_topk"] = float(sparse.topk)
    central["indexer_bytes_per_token"] = layers * sparse.indexer_bytes
    central["indexer_flops_per_token"] = indexer_flops_per_attended(layers, sparse.indexer_heads,
                                                                    sparse.indexer_head_dim)
    assumptions.append(Assumption(
        "sparse attention",
        f"{model}: the main attention reads and attends to the top {sparse.topk:,} tokens an indexer of "
        f"{sparse.indexer_heads} heads x {sparse.indexer_head_dim} selects; the indexer scores every past token and "
        f"keeps {sparse.indexer_bytes:g} bytes per token and layer beside the KV cache",
        source, "the cache holds every token; past the top-k, a longer context costs the indexer's reads and "
        "FLOPs, not the main attention's"))
