"""Derive the serving model's MoE shared-weight share (``moe_shared_share`` in refdata/inference_model.csv) from
published MoE architectures (refdata/moe_architectures.csv) and check, or with --write set, the constant's row.

For an MoE with E routed experts per layer, k of them per token, T total and A active parameters, the weights
every token reads (attention, embeddings, shared experts, dense layers) are S = (E·A − k·T) / (E − k): the active
parameters are S plus k/E of the routed pool T − S. The constant is S/A: central = the median over the published
architectures, range = their minimum and maximum. Rows with an ``excluded`` reason are listed, not used; nor are
hybrids (a ``recurrent`` kind: Qwen3-Next, Granite 4.0-H), whose linear-attention or Mamba layers hold more of the
shared weights than a transformer's attention does: the constant stands in for an MoE transformer given by its
counts, and a named hybrid brings its own expert counts. A row with the same counts as an earlier one (DeepSeek-V3.2,
V3 with sparse attention) is counted once.

    python scripts/moe_shared_share.py [--write]
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from wattprint.estimate.roofline import shared_from_expert_counts  # noqa: E402

ARCHITECTURES = ROOT / "refdata" / "moe_architectures.csv"
MODEL_CSVS = (ROOT / "refdata" / "inference_model.csv", ROOT / "src" / "wattprint" / "estimate" / "inference_model.csv")
NAME = "moe_shared_share"


def shared_share(total: float, active: float, experts: int, per_token: int) -> float:
    """S/A: the share of the active parameters every token reads, (E·A − k·T) / ((E − k)·A)."""
    return shared_from_expert_counts(total, active, experts, per_token) / active


def shares(path: Path = ARCHITECTURES) -> dict[str, float]:
    """Model -> S/A for the rows used (transformers without an ``excluded`` reason)."""
    out = {}
    seen = set()
    with open(path, encoding="utf-8") as f:
        for r in csv.DictReader(f):
            counts = tuple(r[c] for c in ("params_total_B", "params_active_B", "experts_routed", "experts_per_token"))
            if r["excluded"].strip() or r["recurrent"].strip() or counts in seen:
                continue  # a release with another attention but the same counts (DeepSeek-V3.2) is counted once
            seen.add(counts)
            out[r["model"]] = shared_share(float(r["params_total_B"]), float(r["params_active_B"]),
                                           int(r["experts_routed"]), int(r["experts_per_token"]))
    return out


def constant_row(path: Path = ARCHITECTURES) -> dict[str, str]:
    """The inference_model.csv row the architectures give (value, low, high rounded to 2 decimals)."""
    s = shares(path)
    models = sorted(s, key=s.get)  # type: ignore[arg-type]
    return {
        "name": NAME,
        "value": f"{statistics.median(s.values()):.2f}",
        "low": f"{min(s.values()):.2f}",
        "high": f"{max(s.values()):.2f}",
        "unit": "share of an MoE's active parameters that every token reads",
        "source": (f"{len(s)} published MoE transformers in refdata/moe_architectures.csv (developers' model cards, "
                   "READMEs and config.json files: experts per layer, experts per token, total and active "
                   f"parameters), S/A = (E·A - k·T) / ((E - k)·A): median; range from {models[0]} "
                   f"({s[models[0]]:.2f}) to {models[-1]} ({s[models[-1]]:.2f})"),
        "year": "2025",
        "note": ("MoE serving: a decode step reads these weights (attention, embeddings, shared experts, dense "
                 "layers) once, and of the routed experts only those its batch routes to. Derived by "
                 "scripts/moe_shared_share.py; give --experts and --experts-per-token to compute it for the model "
                 "at hand"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the row in both copies of inference_model.csv")
    args = ap.parse_args(argv)
    for model, share in sorted(shares().items(), key=lambda kv: kv[1]):
        print(f"{model:28s} S/A {share:.3f}")
    row = constant_row()
    print(f"{NAME}: {row['value']} ({row['low']}-{row['high']})")
    if not args.write:
        return 0
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(row.values())
    for path in MODEL_CSVS:  # other rows kept byte for byte
        kept = [x for x in path.read_text(encoding="utf-8").splitlines(keepends=True) if not x.startswith(NAME + ",")]
        path.write_text("".join(kept) + line.getvalue(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
