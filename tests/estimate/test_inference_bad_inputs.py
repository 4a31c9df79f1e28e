"""Inference estimator: inputs a sweep of bad input found accepted without a word, each pinned by a test that failed
before its fix.

1. a training CO2e given as a Range with a bound at or below zero (or infinite) gave negative break-evens;
2. the default accelerator (H100) was used without the output saying it was assumed;
3. an engine or attention of the wrong type (attention=0) was read as the default and noted as given.
"""

from __future__ import annotations

import math

import pytest

from wattprint.cli import main
from wattprint.errors import InputConflictError
from wattprint.estimate.inference import estimate_inference
from wattprint.quantities import Range


# -- 1. a training CO2e range ------------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [Range(5, -1, 10), Range(5, 0, 10), Range(5, 1, math.inf)])
def test_a_training_co2e_range_needs_positive_finite_bounds(training: Range) -> None:
    with pytest.raises(InputConflictError, match="training_co2e_kg"):
        estimate_inference(7e9, training_co2e_kg=training, requests_per_day=1000)


def test_a_valid_training_co2e_range_gives_positive_break_evens() -> None:
    fp = estimate_inference(7e9, training_co2e_kg=Range(5, 1, 10), requests_per_day=1000)
    for key in ("breakeven_requests", "breakeven_days"):
        assert fp.details[key].low > 0


# -- 2. the default accelerator ---------------------------------------------------------------------------------
def test_the_default_hardware_is_said_to_be_assumed() -> None:
    fp = estimate_inference(7e9)
    assert fp.details["hardware"] == "NVIDIA H100 SXM5 80GB"
    assert any(a.what == "hardware" and "default" in a.value for a in fp.assumptions)
    named = estimate_inference(7e9, hardware="H100")
    assert not any(a.what == "hardware" for a in named.assumptions)
    assert named.to_dict()["total_co2e_kg"] == fp.to_dict()["total_co2e_kg"]  # the same figures


def test_the_cli_says_the_default_hardware_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "inference", "--params", "7B"]) == 0
    assert "hardware: H100 (default: none given)" in capsys.readouterr().out
    assert main(["estimate", "inference", "--params", "7B", "--hardware", "H100"]) == 0
    assert "(default: none given)" not in capsys.readouterr().out


# -- 3. engine and attention of the wrong type --------------------------------------------------------------------
@pytest.mark.parametrize(("kw", "said"), [({"attention": 0}, r"--attention \(attention\) must be a name"),
                                          ({"attention": True}, r"--attention \(attention\) must be a name"),
                                          ({"engine": 5}, r"--engine \(engine\) must be a name")])
def test_engine_and_attention_are_names(kw: dict[str, object], said: str) -> None:
    with pytest.raises(InputConflictError, match=said):
        estimate_inference(7e9, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_engine_or_attention_is_the_default_not_a_given_name(blank: str) -> None:
    fp = estimate_inference(7e9, attention=blank, engine=blank)
    (att,) = [a for a in fp.assumptions if a.what == "attention"]
    assert att.value.startswith("gqa") and att.source != "given by the user"
    assert fp.details == estimate_inference(7e9).details
