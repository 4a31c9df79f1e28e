"""Inference estimator: inputs a sweep of bad input found accepted without a word, each pinned by a test that failed
before its fix.

1. a training CO2e given as a Range with a bound at or below zero (or infinite) gave negative break-evens;
2. the default accelerator (H100) was used without the output saying it was assumed;
3. an engine or attention of the wrong type (attention=0) was read as the default and noted as given;
4. a numeric input that is no number ("7B", [8], 1+0j, 10**400) was a raw ValueError, TypeError or OverflowError.
"""

from __future__ import annotations

import math
from decimal import Decimal

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


# -- 4. numeric inputs of the wrong type ----------------------------------------------------------------------------
# estimate_inference formatted every given number with float() (the flags an error asks to check) before any check
# ran: "7B" was a ValueError, [8] a TypeError, 10**400 an OverflowError, all raw tracebacks
_NUMERIC = ("params", "active_params", "input_tokens", "output_tokens", "requests_per_day", "tokens_per_day", "days",
            "utilisation", "count", "batch_size")
_NOT_NUMBERS = ["7B", "100k", "50%", [8], 1 + 0j, Decimal("sNaN")]


@pytest.mark.parametrize("keyword", _NUMERIC)
@pytest.mark.parametrize("bad", _NOT_NUMBERS, ids=repr)
def test_a_numeric_input_that_is_no_number_is_named_as_training_names_it(keyword: str, bad: object) -> None:
    given: dict[str, object] = {"params": 7e9, keyword: bad}
    with pytest.raises(InputConflictError) as e:
        estimate_inference(hardware="H100", **given)  # type: ignore[arg-type]
    said = str(e.value)
    assert said.startswith(f"--{keyword.replace('_', '-')} ({keyword}) must be a number, got ")
    assert "\n" not in said


@pytest.mark.parametrize("keyword", _NUMERIC)
def test_a_numeric_input_past_the_float_range_is_said_too_large(keyword: str) -> None:
    given: dict[str, object] = {"params": 7e9, keyword: 10**400}
    with pytest.raises(InputConflictError, match=rf"^--{keyword.replace('_', '-')} \({keyword}\) .*is too large: it "
                       "leaves the floating-point range$"):
        estimate_inference(hardware="H100", **given)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["7B", "8", 1 + 0j, Decimal("sNaN"), 10**400])
def test_the_two_estimators_refuse_a_parameter_count_alike(bad: object) -> None:
    """A number written as text ("8") is refused by both, as training always did: the API takes numbers."""
    from wattprint.estimate.training import estimate_training

    with pytest.raises(InputConflictError) as serving:
        estimate_inference(params=bad, hardware="H100")  # type: ignore[arg-type]
    with pytest.raises(InputConflictError) as training:
        estimate_training(params=bad, tokens=1e12, hardware="H100")  # type: ignore[arg-type]
    assert str(serving.value) == str(training.value)


def test_a_given_count_past_the_float_range_beside_a_model_is_a_clear_error() -> None:
    """apply_model compared a given count with the model's through float(): 10**400 was an OverflowError."""
    from wattprint.estimate.training import estimate_training

    with pytest.raises(InputConflictError, match=r"--params \(params\) .*is too large"):
        estimate_training(model="Llama-3.1-8B", params=10**400, tokens=1e12, hardware="H100")
