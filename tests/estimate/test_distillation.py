"""Knowledge distillation in a training estimate: the teachers' forward passes (2 x N_teacher x tokens each) are
compute the student's 6·N·D leaves out; they are added, said, and refused where the given compute already holds
them."""

from __future__ import annotations

import json

import pytest

from wattprint.cli import main
from wattprint.errors import InputConflictError
from wattprint.estimate.training import estimate_training

STUDENT = dict(params=1.23e9, tokens=9e12, hardware="H100", count=512)


def _flops(**kw: object) -> float:
    return float(estimate_training(**{**STUDENT, **kw}).details["training_flops"].value)  # type: ignore[arg-type]


def test_each_teacher_adds_its_forward_passes() -> None:
    base = _flops()
    assert base == pytest.approx(6 * 1.23e9 * 9e12)
    assert _flops(teacher_params=8e9) - base == pytest.approx(2 * 8e9 * 9e12)
    assert _flops(teacher_params=[8e9, 70e9]) - base == pytest.approx(2 * 78e9 * 9e12)
    assert _flops(teacher_params=[8e9, 70e9], teacher_tokens=1e12) - base == pytest.approx(2 * 78e9 * 1e12)


def test_at_a_given_mfu_the_chip_hours_grow_with_the_compute() -> None:
    plain = estimate_training(**STUDENT, mfu=0.3)  # type: ignore[arg-type]
    taught = estimate_training(**STUDENT, mfu=0.3, teacher_params=8e9)  # type: ignore[arg-type]
    ratio = (6 * 1.23 + 2 * 8) / (6 * 1.23)
    assert taught.chip_hours.value == pytest.approx(plain.chip_hours.value * ratio)
    assert taught.energy_kwh.value == pytest.approx(plain.energy_kwh.value * ratio)
    (note,) = [a for a in taught.assumptions if a.what == "distillation teachers' compute"]
    assert "2 x (8e+09) teacher parameters x 9e+12 training tokens" in note.value
    assert "Llama 3.2 model card" in note.source


def test_llama_3_2_1b_is_in_reach_once_its_teacher_is_counted() -> None:
    """Llama 3.2 1B (Meta's card: 370k H100-hours for up to 9T tokens, logits of Llama 3.1 8B and 70B): blind from
    6·N·D alone the estimate is ~x0.3 of the published hours (its 'MFU' would be 0.05); counting an 8B teacher's
    passes over its tokens brings it within x1.5. The MFU is the model's default: nothing here is fitted to it."""
    published = 370e3
    alone = estimate_training(params=1.23e9, tokens=9e12, hardware="H100").chip_hours.value
    taught = estimate_training(params=1.23e9, tokens=9e12, hardware="H100", teacher_params=8e9).chip_hours.value
    assert alone / published < 0.5
    assert 1 / 1.5 < taught / published < 1.5


def test_the_model_names_the_student() -> None:
    named = estimate_training(model="Llama-3.2-1B", tokens=9e12, hardware="H100", mfu=0.3, teacher_params=8e9)
    counted = estimate_training(params=1.236e9, tokens=9e12, hardware="H100", mfu=0.3, teacher_params=8e9)
    assert named.details["training_flops"].value == pytest.approx(counted.details["training_flops"].value, rel=0.02)


@pytest.mark.parametrize(("kw", "message"), [
    (dict(flops=1e23, hardware="H100", teacher_params=8e9), "given FLOPs or chip-hours already include"),
    (dict(chip_hours=1e5, hardware="H100", teacher_params=8e9), "give --params \\(or --model\\) and --tokens"),
    (dict(params=1e9, tokens=1e12, hardware="H100", teacher_tokens=1e12), "without --teacher-params"),
    (dict(params=1e9, tokens=1e12, hardware="H100", teacher_params=8), "did you mean 8B"),
    (dict(params=1e9, tokens=1e12, hardware="H100", teacher_params=[]), "is empty"),
    (dict(params=1e9, tokens=1e12, hardware="H100", teacher_params=[8e9, None]), "holds None"),
    (dict(params=1e9, tokens=1e12, hardware="H100", teacher_params=-8e9), "teacher_params"),
    (dict(params=1e9, tokens=1e12, hardware="H100", teacher_params=8e9, teacher_tokens=float("nan")),
     "teacher_tokens"),
])
def test_bad_or_contradictory_teachers_are_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(InputConflictError, match=message):
        estimate_training(**kw)  # type: ignore[arg-type]


def test_the_cli_takes_a_list_of_teachers(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["estimate", "training", "--params", "1.23B", "--tokens", "9T", "--hardware", "H100", "--json"]
    assert main([*base, "--teacher-params", "8B,70B", "--teacher-tokens", "1T"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["training_flops"] == pytest.approx(6 * 1.23e9 * 9e12 + 2 * 78e9 * 1e12)
    with pytest.raises(SystemExit) as e:
        main([*base, "--teacher-params", "8B,,70B"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "not a list of counts" in err and "Traceback" not in err


def test_a_teacher_of_impossible_size_is_named_in_the_refusal() -> None:
    """A teacher count that lost its meaning (1e30) makes a run past the world's emissions: the error names it."""
    with pytest.raises(InputConflictError, match=r"--teacher-params 1e\+30"):
        estimate_training(params=1e9, tokens=1e12, hardware="H100", teacher_params=1e30)
