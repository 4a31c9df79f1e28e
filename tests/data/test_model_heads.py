"""The query heads of the --model presets (refdata/dense_models.csv, moe_architectures.csv, column ``heads``): the
width a training context's attention FLOPs run at is heads x head_dim (heads x (qk_head_dim + v_head_dim) / 2 for
latent attention), so a typo there would scale them."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from wattprint.data.models import models

REFDATA = Path(__file__).resolve().parents[2] / "refdata"


def _rows() -> list[dict[str, str]]:
    rows = []
    for name, active in (("dense_models.csv", "params_B"), ("moe_architectures.csv", "params_active_B")):
        with open(REFDATA / name, encoding="utf-8") as f:
            rows += [{**r, "active_B": r[active]} for r in csv.DictReader(f)]
    return rows


def test_every_heads_value_is_a_whole_multiple_of_the_kv_heads_near_the_models_width() -> None:
    checked = 0
    for r in _rows():
        if not r["heads"]:
            continue
        assert r["heads"].isdigit() and int(r["heads"]) > 0, r["model"]
        heads = int(r["heads"])
        if r["kv_heads"]:
            assert heads % int(r["kv_heads"]) == 0, r["model"]  # each K/V head serves a whole group of queries
            if r["attention"] == "mha":
                assert heads == int(r["kv_heads"]), r["model"]
        if r["head_dim"] and r["layers"] and not r.get("compressed_attention"):
            # (DeepSeek-V4's compressed attention is skipped: its one 512-wide vector per entry is both K and V, and
            # its 64-128 query heads of 512 run 8x its hidden size, read in every config copy)
            # N = 12 L d^2's width is off by up to ~2.7x (Gemma's large vocabulary, Mixtral's experts, Qwen3's MoEs
            # whose attention is twice their hidden size, GLM-4.5's 96 heads of 128 on a 4096-5120 hidden size); a
            # slipped digit is 10x
            derived = math.sqrt(float(r["active_B"]) * 1e9 / (12 * int(r["layers"])))
            assert 0.4 < heads * int(r["head_dim"]) / derived < 3.0, r["model"]
            checked += 1
    assert checked >= 100


def test_the_presets_carry_the_tables_heads() -> None:
    table = {r["model"]: r for r in _rows()}
    specs = models()
    assert all(s.heads is not None for s in specs)  # every preset's heads were sourced
    for s in specs:
        r = table[s.name]
        assert (s.heads, s.head_dim) == (int(r["heads"]), int(r["head_dim"]) if r["head_dim"] else None), s.name
        widths = [int(r[c]) if r.get(c) else None for c in ("qk_head_dim", "v_head_dim")]
        assert [s.qk_head_dim, s.v_head_dim] == widths, s.name


def test_latent_attention_rows_give_their_query_key_and_value_head_widths() -> None:
    # multi-head latent attention has no one head width: its Q/K heads (no-RoPE part + the RoPE key) are at least as
    # wide as its V heads, and the Q/K width carries the RoPE part the KV cache columns give
    latent = [r for r in _rows() if r["attention"] == "mla"]
    assert {r["model"] for r in latent} >= {"DeepSeek-V2", "DeepSeek-V2-Lite", "DeepSeek-V3"}
    for r in latent:
        assert not r["head_dim"], r["model"]
        assert r["qk_head_dim"].isdigit() and r["v_head_dim"].isdigit(), r["model"]
        qk, v = int(r["qk_head_dim"]), int(r["v_head_dim"])
        assert qk >= v > 0 and qk > int(r["kv_rope_dim"]), r["model"]
    # other models have one head width and neither of these
    assert all(not r.get("qk_head_dim") and not r.get("v_head_dim") for r in _rows() if r["attention"] != "mla")
