"""Published LLM architectures by name: what a user can give instead of parameter counts.

``find_model("Llama-3.1-8B-Instruct")`` -> the model's parameter count and, for an MoE, its active parameters and
expert counts; its attention (GQA, MQA or MHA), sliding window and the format its weights ship in where those matter
to serving. Names are forgiving: a Hugging Face repo id works with or without its organisation, and the words
that name a release rather than an architecture (Instruct, Chat, Base, a date such as 2507, a quantisation such
as FP8) are ignored; a quantisation word is kept as the precision it implies. Rows come from
``refdata/dense_models.csv`` and ``refdata/moe_architectures.csv`` with their sources.

    >>> find_model("openai/gpt-oss-120b").spec.experts
    128
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ..errors import UnknownNameError, fold_text
from ..footprint import Assumption
from .catalogue import FP4_NAMES, load_table

# words that name a release, not an architecture: the same weights' shapes
_RELEASE_WORDS = {"instruct", "chat", "base", "it", "hf", "thinking", "original", "dynamic", "meta", "pretrained"}
# words that name a quantised release: the precision its weights are read in
_PRECISION_WORDS = {"fp8": "fp8", "int8": "int8", "w8a8": "int8", "int4": "int4", "awq": "int4", "gptq": "int4",
                    "w4a16": "int4", **dict.fromkeys(FP4_NAMES, "int4"), "bf16": "bf16", "fp16": "fp16"}
_DATE = re.compile(r"\d{4}")  # a release date in a repo id: Qwen3-...-2507, Mistral-Nemo-...-2407, R1-0528
_HINT = "see `wattprint data models`, or give the parameter counts"


@dataclass(frozen=True)
class RecurrentLayers:
    """The layers of a hybrid model that keep a fixed-size state per sequence instead of a KV cache that grows with
    the context (linear attention: Gated DeltaNet, lightning attention; state-space: Mamba2). Per sequence and
    layer: ``state_values`` values of the recurrent state and ``conv_values`` of the short convolution's last inputs,
    held at ``state_bytes`` and ``conv_bytes`` bytes each (the engines' default formats)."""

    kind: str
    layers: int
    state_values: float
    conv_values: float
    state_bytes: float
    conv_bytes: float

    def bytes_per_sequence(self) -> float:
        """Bytes of state one sequence holds over all the recurrent layers, whatever its length."""
        return self.layers * (self.state_values * self.state_bytes + self.conv_values * self.conv_bytes)


@dataclass(frozen=True)
class SparseAttention:
    """DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): a lightning indexer of ``indexer_heads`` x
    ``indexer_head_dim`` scores every past token for each query, and the main attention reads only the ``topk`` it
    selects. The cache still holds every token, plus the indexer's key, ``indexer_bytes`` per token and layer as the
    engines keep it (FP8 with an fp32 scale per 128 values)."""

    topk: int
    indexer_heads: int
    indexer_head_dim: int
    indexer_bytes: float


@dataclass(frozen=True)
class CompressedAttention:
    """DeepSeek-V4's attention: every layer attends to the last ``window`` tokens uncompressed; ``sparse_layers``
    also to the ``topk`` of their cached entries (one per 4 tokens) an indexer of ``indexer_heads`` x
    ``indexer_head_dim`` picks, ``dense_layers`` to all of theirs (one per 128 tokens), ``swa_layers`` to the window
    only. One cached vector of ``width`` values is both K and V; the engines keep an entry in ``entry_bytes``, an
    indexer key in ``indexer_bytes``, and per sequence a compressor state (``*_state_bytes`` per layer)."""

    window: int
    topk: int
    width: int
    swa_layers: int
    sparse_layers: int
    dense_layers: int
    entry_bytes: float
    indexer_heads: int
    indexer_head_dim: int
    indexer_bytes: float
    sparse_state_bytes: float
    dense_state_bytes: float

    SPARSE_RATIO = 4  # tokens per cached entry in the layers with an indexer
    DENSE_RATIO = 128  # tokens per cached entry in the layers without one

    @property
    def layers(self) -> int:
        return self.swa_layers + self.sparse_layers + self.dense_layers


@dataclass(frozen=True)
class ModelSpec:
    """One published architecture. Counts are absolute (8.03e9); an MoE has ``active_params`` and its routed
    experts per layer and per token; ``weights`` is the precision its weights ship in where that is not 16-bit."""

    name: str
    aliases: tuple[str, ...]
    params: float
    active_params: float | None
    experts: int | None
    experts_per_token: int | None
    attention: str
    weights: str | None
    sliding_window: float | None
    window_layer_share: float | None
    kv_widths: float | None  # layers x KV heads x head width: the KV cache per token is 2 x this x bytes
    layers: int | None  # transformer blocks (an eager engine's launch overhead is per layer)
    source: str
    note: str
    uncertain: bool
    context_tokens: int | None = None  # positions (input + output) its shipped config allows
    max_context_tokens: int | None = None  # the most a release under its name or an extension allows; None: no limit
    context_source: str = ""
    context_releases: tuple[tuple[str, int], ...] = ()  # (a word of a release's name, the window it ships)
    heads: int | None = None  # query (attention) heads, num_attention_heads in a config
    head_dim: int | None = None  # width of a head; None for latent attention (its Q/K and V heads differ)
    qk_head_dim: int | None = None  # latent attention's query/key head width (no-RoPE + RoPE parts); else None
    v_head_dim: int | None = None  # latent attention's value head width; else None
    release_weights: tuple[tuple[str, str], ...] = ()  # (a word of a release's name, the format its weights ship in)
    latent_attention: bool = False  # multi-head latent attention (DeepSeek's MLA): served as GQA with its own cache
    attention_layers: int | None = None  # softmax-attention layers of a hybrid (the KV cache's); None: every layer
    recurrent: RecurrentLayers | None = None  # a hybrid's layers with a fixed-size state; None: a transformer
    sparse_attention: SparseAttention | None = None  # DeepSeek Sparse Attention's indexer and top-k; None: dense
    kv_latent_dim: int | None = None  # latent attention's cached latent width (absorbed decode runs at it); else None
    compressed_attention: CompressedAttention | None = None  # DeepSeek-V4's compressed attention; None: not so
    global_kv_heads: int | None = None  # K/V heads of its global layers where they differ from its window layers'
    global_head_dim: int | None = None  # head width of its global layers where it differs (Gemma 4: 512 vs 256)
    releases: tuple[str, ...] = ()  # aliases that are other models of its architecture (Qwen3.6-27B: Qwen3.5-27B's)

    def window_split(self) -> tuple[int, int] | None:
        """(sliding-window layers, global layers) where the global layers have a shape of their own, else None."""
        if not (self.global_head_dim and self.window_layer_share and self.layers):
            return None
        window_layers = round(self.window_layer_share * self.layers)
        return window_layers, self.layers - window_layers

    def window_kv_share(self) -> float | None:
        """Share of its KV cache per token (of a context within the window) in its sliding-window layers, where its
        global layers have a shape of their own: the share the serving model's window caps (KV reads, memory)."""
        split = self.window_split()
        if split is None or not self.kv_widths or not self.global_kv_heads or not self.global_head_dim:
            return None
        return 1.0 - split[1] * self.global_kv_heads * self.global_head_dim / self.kv_widths

    @property
    def attention_name(self) -> str:
        """Its attention as its card names it: 'mla' for latent attention (served as ``attention``), else
        ``attention``."""
        return "mla" if self.latent_attention else self.attention


@dataclass(frozen=True)
class ModelMatch:
    """A name resolved: the architecture, the precision the name itself says (``...-FP8``), if any, and the
    release it names where the table tells releases apart or a date in the name names one (``...-2507``), and the
    format that release's weights ship in where it differs from the model's (``Kimi-K2-Thinking``: int4)."""

    spec: ModelSpec
    name_precision: str | None
    release: str | None = None
    release_weights: str | None = None
    alias: str | None = None  # the name as given, where it names another model of the row's architecture


def _words(text: str) -> list[str]:
    """Lower-case words of a model name, without its organisation ("meta-llama/"); ``_key`` drops release words."""
    t = fold_text(text).strip().lower().rsplit("/", 1)[-1]
    return [w for w in re.split(r"[\s_\-]+", t) if w]


def _key(words: list[str]) -> str:
    kept = [w for w in words if w not in _RELEASE_WORDS and w not in _PRECISION_WORDS and not _DATE.fullmatch(w)]
    # a decimal point stays (as "p"): "OPT 1.3B" and "OPT 13B" are different models
    return re.sub(r"[^a-z0-9]", "", re.sub(r"(?<=\d)\.(?=\d)", "p", " ".join(kept)))


@lru_cache(maxsize=1)
def _specs() -> tuple[ModelSpec, ...]:
    return tuple(ModelSpec(
        m["name"], tuple(m["aliases"]), m["params"], m["active_params"], m["experts"], m["experts_per_token"],
        m["attention"], m["weights"], m["sliding_window"], m["window_layer_share"], m["kv_widths"], m["layers"],
        m["source"], m["note"], m["uncertain"], m.get("context_tokens"), m.get("max_context_tokens"),
        m.get("context_source", ""), tuple((m.get("context_releases") or {}).items()), m.get("heads"),
        m.get("head_dim"), m.get("qk_head_dim"), m.get("v_head_dim"), tuple((m.get("release_weights") or {}).items()),
        bool(m.get("latent_attention")), m.get("attention_layers"),
        RecurrentLayers(**m["recurrent"]) if m.get("recurrent") else None,
        SparseAttention(**m["sparse_attention"]) if m.get("sparse_attention") else None, m.get("kv_latent_dim"),
        CompressedAttention(**m["compressed_attention"]) if m.get("compressed_attention") else None,
        m.get("global_kv_heads"), m.get("global_head_dim"), tuple(m.get("releases") or ()))
        for m in load_table("models")["models"])


@lru_cache(maxsize=1)
def _index() -> dict[str, ModelSpec]:
    out: dict[str, ModelSpec] = {}
    for spec in _specs():
        for name in (spec.name, *spec.aliases):
            out.setdefault(_key(_words(name)), spec)
    return out


def models() -> list[ModelSpec]:
    """The models known, in table order (dense, then MoE)."""
    return list(_specs())


def model_names() -> list[str]:
    """The names of the models known, in table order."""
    return [s.name for s in _specs()]


def find_model(name: str) -> ModelMatch:
    """The published architecture ``name`` names; UnknownNameError with the closest names if none."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownNameError("model", str(name), [], _HINT, examples=model_names())
    words = _words(name)
    spec = _index().get(_key(words))
    if spec is None:
        raise UnknownNameError("model", name, model_names(), _HINT)
    said = [_PRECISION_WORDS[w] for w in words if w in _PRECISION_WORDS]
    weights = dict(spec.release_weights)
    known = {**dict(spec.context_releases), **weights}
    release = next((w for w in words if w in known), None) or next((w for w in words if _DATE.fullmatch(w)), None)
    alias = name.strip().rsplit("/", 1)[-1] if _key(words) in {_key(_words(r)) for r in spec.releases} else None
    return ModelMatch(spec, said[-1] if said else None, release, weights.get(release or ""), alias)


def model_assumption(spec: ModelSpec, filled: list[str], used_instead: list[str] | None = None,
                     alias: str | None = None) -> Assumption:
    """What the named model set (``filled``: the inputs taken from it), with its source; ``used_instead`` says which
    given counts were used in place of the model's (each "the given params 7.5e+09 used instead of its 8.03e+09");
    ``alias``: the name given, where it names the row by another model's name (a later release of its shape)."""
    shape = f"{spec.params:.4g} parameters"
    if spec.active_params is not None:
        shape += (f", {spec.active_params:.4g} active ({spec.experts} routed experts, {spec.experts_per_token} per "
                  "token)")
    if spec.layers:
        shape += f", {spec.layers} layers"
    if spec.kv_widths and not spec.compressed_attention:  # that one's cache is said below, in bytes
        over = f"its {spec.attention_layers} attention layers" if spec.attention_layers else "its layers"
        shape += f", KV cache of {2 * spec.kv_widths:.4g} values per token over {over}"
    if spec.recurrent:
        r = spec.recurrent
        shape += (f", {r.layers} {r.kind} layers holding a fixed {r.bytes_per_sequence() / 2**20:.3g} MiB of state "
                  "per sequence")
    if spec.compressed_attention:
        ca = spec.compressed_attention
        shape += (f", compressed attention ({ca.sparse_layers} layers caching one entry per {ca.SPARSE_RATIO} tokens "
                  f"and attending to the top {ca.topk:,}, {ca.dense_layers} one per {ca.DENSE_RATIO} tokens, every "
                  f"layer the last {ca.window} tokens)")
    if spec.sparse_attention:
        sa = spec.sparse_attention
        shape += (f", sparse attention to the top {sa.topk:,} tokens a {sa.indexer_heads} x {sa.indexer_head_dim} "
                  "indexer picks")
    note = f"taken from it: {', '.join(filled)}" if filled else "all its values were given"
    if used_instead:
        note += "; " + "; ".join(used_instead)
    if spec.uncertain:
        note += "; some of its figures are UNCERTAIN: " + spec.note
    named = f"{alias} (the architecture of {spec.name})" if alias else spec.name
    return Assumption("model", f"{named}: {shape}", spec.source, note)
