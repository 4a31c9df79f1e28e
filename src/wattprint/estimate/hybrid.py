"""Hybrid models (Qwen3-Next, Granite 4.0-H, Nemotron-H, Jamba): some layers are softmax attention, whose KV cache
and attention FLOPs grow with the context, the rest recurrent (linear attention, Mamba2), holding a fixed-size state
per sequence however long the context is. The named model's table row gives both (data.models.RecurrentLayers).

    >>> attention_layer_share(layers=48, attention_layers=12, recurrent_layers=36)  # Qwen3-Next: one in four
    0.25
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..footprint import Assumption

if TYPE_CHECKING:
    from ..data.models import RecurrentLayers


def attention_layer_share(layers: int | None, attention_layers: int | None, recurrent_layers: int = 0) -> float:
    """Share of a model's sequence mixers that are softmax attention, as a transformer block has one: attention over
    attention + recurrent layers where they alternate (Nemotron-H's config also counts its MLP-only blocks as
    layers), attention over layers where each layer holds both side by side (Falcon-H1); 1 for a transformer."""
    if not (layers and attention_layers):
        return 1.0
    mixers = attention_layers + recurrent_layers
    return attention_layers / (layers if mixers > layers else mixers)


def take_hybrid(central: dict[str, float], model: str | None, layers: int | None, attention_layers: int | None,
                recurrent: RecurrentLayers | None, kv_bytes_per_token: float, source: str,
                assumptions: list[Assumption]) -> None:
    """Put a named hybrid's layers into the serving model's values: its attention-layer share (attention FLOPs), its
    recurrent state per sequence in values (FLOPs) and bytes (read and written every decode step), and that state
    in tokens of its KV cache (``state_tokens``: memory, which holds the state beside the cache); said in one
    assumption citing the model's ``source``. Nothing for a transformer."""
    if recurrent is None:
        return
    share = attention_layer_share(layers, attention_layers, recurrent.layers)
    state_bytes = recurrent.bytes_per_sequence()
    central["attention_layer_share"] = share
    central["recurrent_state_values"] = recurrent.layers * recurrent.state_values
    central["recurrent_state_bytes"] = state_bytes
    central["state_tokens"] = state_bytes / kv_bytes_per_token
    in_parallel = attention_layers == layers == recurrent.layers
    assumptions.append(Assumption(
        "hybrid layers",
        f"{model}: {attention_layers or layers} of {layers} layers softmax attention (KV cache, attention FLOPs over "
        f"the context){', each beside' if in_parallel else ';'} {recurrent.layers} {recurrent.kind} "
        f"{'layers' if not in_parallel else 'mixers'} with a fixed state of {state_bytes / 2**20:.3g} MiB per sequence "
        f"(~{central['state_tokens']:,.0f} tokens of KV cache), read and written once per decode step",
        source,
        "the state does not grow with the context: long requests cost less memory and traffic than in a transformer"))
