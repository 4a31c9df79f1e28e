"""MoE serving: a decode step reads the shared weights (attention, embeddings, shared experts, dense layers) once
and of the routed experts only those its batch routes to. The shared share comes from the model's expert counts
when given (--experts, --experts-per-token), else from the sourced constant derived by scripts/moe_shared_share.py
from published architectures."""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from wattprint.cli import main
from wattprint.errors import InputConflictError
from wattprint.estimate.inference import constants, estimate_inference
from wattprint.estimate.roofline import moe_weight_read

from ..scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
MAVERICK = {"params": 400e9, "active_params": 17e9}  # Llama 4 Maverick: 128 routed experts, 1 per token


def gpu_j_per_token(**kw: object) -> float:
    base: dict[str, object] = {"hardware": "H100", "count": 8, "precision": "fp8", "input_tokens": 300,
                               "output_tokens": 700, "intensity": 400.0, "pue": 1.2}
    base.update(kw)
    fp = estimate_inference(**base)  # type: ignore[arg-type]
    return float(fp.details["gpu_energy_per_output_token_j"].value)


def test_the_shipped_constant_is_what_the_script_derives_from_the_architectures() -> None:
    script = load_script("scripts/moe_shared_share.py")
    row = script.constant_row()
    shipped = constants()["moe_shared_share"]
    assert (shipped.value, shipped.low, shipped.high) == (float(row["value"]), float(row["low"]),
                                                          float(row["high"])), "rerun scripts/moe_shared_share.py"
    shares = script.shares()
    assert len(shares) >= 10 and all(0 < s < 1 for s in shares.values())
    with open(ROOT / "refdata" / "moe_architectures.csv", encoding="utf-8") as f:
        excluded = {r["model"] for r in csv.DictReader(f) if r["excluded"].strip()}
    assert excluded and not excluded & set(shares)  # listed with a reason, not used
    # Mixtral 8x7B: 8 experts, 2 per token, 46.7B total, 12.9B active -> 1.63B shared (attention, embeddings)
    assert script.shared_share(46.7, 12.9, 8, 2) * 12.9 == pytest.approx(1.633, rel=1e-3)


def test_shared_weights_are_read_once_per_step_whatever_the_batch() -> None:
    # batch 1 reads the active weights; batch 8 the shared ones once and eight tokens' routed experts (at most)
    one = moe_weight_read(400e9, 17e9, 1, 2.0, 1.0, 14 / 17)
    eight = moe_weight_read(400e9, 17e9, 8, 2.0, 1.0, 14 / 17)
    assert one == pytest.approx(17e9 * 2)
    assert 14e9 * 2 + 7 * 3e9 * 2 < eight < 14e9 * 2 + 8 * 3e9 * 2 + 1  # tokens may share an expert
    # the previous model had no shared weights: at batch 8 it read 29 % of all 400B
    assert moe_weight_read(400e9, 17e9, 8, 2.0, 1.0, 0.0) > 2.5 * eight
    # a dense model reads all its weights, shared share or not
    assert moe_weight_read(70e9, 70e9, 4, 2.0, 1.0, 0.4) == 70e9 * 2


def test_given_expert_counts_set_the_split_and_say_so() -> None:
    default = gpu_j_per_token(**MAVERICK, batch_size=8)
    given = gpu_j_per_token(**MAVERICK, batch_size=8, experts=128, experts_per_token=1)
    assert given < 0.6 * default  # 14B of 17B are shared: far fewer routed weights per token than the default
    fp = estimate_inference(**MAVERICK, hardware="H100", count=8, batch_size=8, precision="fp8", experts=128,  # type: ignore[arg-type]
                            experts_per_token=1, intensity=400.0)
    note = next(a for a in fp.assumptions if a.what.startswith("MoE shared weights"))
    assert note.value.startswith("0.82") and "given counts" in note.source
    fp = estimate_inference(**MAVERICK, hardware="H100", count=8, batch_size=8, precision="fp8",  # type: ignore[arg-type]
                            intensity=400.0)
    note = next(a for a in fp.assumptions if a.what.startswith("MoE shared weights"))
    assert "moe_architectures" in note.source and "(0.11" in note.value  # the default, with its range
    assert not any(a.what.startswith("MoE shared") for a in estimate_inference(
        70e9, hardware="H100", intensity=400.0).assumptions)  # dense: no split


@pytest.mark.parametrize(("kw", "said"), [
    ({"experts": 128}, r"give both --experts \(experts, .* and --experts-per-token \(experts_per_token, "),
    ({"experts_per_token": 8}, "give both --experts"),
    ({"experts": 8, "experts_per_token": 8}, r"--experts-per-token \(experts_per_token\) 8 must be fewer "
     r"than --experts \(experts\) 8"),
    ({"experts": 8, "experts_per_token": 2.5}, "whole number"),
    ({"experts": 0, "experts_per_token": 1}, "> 0"),
    ({"experts": 16, "experts_per_token": 8}, "even with no shared weights, more than"),  # 8/16 of 400B > 17B
])
def test_conflicting_expert_counts_are_refused(kw: dict[str, float], said: str) -> None:
    with pytest.raises(InputConflictError, match=said):
        estimate_inference(**MAVERICK, hardware="H100", count=8, **kw)  # type: ignore[arg-type]


def test_expert_counts_need_an_moe() -> None:
    with pytest.raises(InputConflictError, match="describe an MoE"):
        estimate_inference(70e9, hardware="H100", experts=8, experts_per_token=2)


def test_the_cli_takes_expert_counts() -> None:
    argv = ["estimate", "inference", "--params", "400B", "--active-params", "17B", "--hardware", "H100",
            "--count", "8", "--batch-size", "8", "--precision", "fp8", "--intensity", "400", "--json"]
    outs = []
    for extra in ([], ["--experts", "128", "--experts-per-token", "1"]):
        out = io.StringIO()
        with redirect_stdout(out):
            assert main([*argv, *extra]) == 0
        outs.append(json.loads(out.getvalue())["gpu_energy_per_output_token_j"])
    assert outs[1] < 0.6 * outs[0]
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert main([*argv, "--experts", "128"]) == 2
    assert "give both --experts" in err.getvalue() and "Traceback" not in err.getvalue()
