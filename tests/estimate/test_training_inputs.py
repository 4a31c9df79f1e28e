"""Input checks of the training estimator (and the helpers it shares with inference): implausible powers, huge or
odd numeric types, MoE flags, context lengths, overflow, the no-location hint and the wall time."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from wattprint import estimate_training
from wattprint.errors import InputConflictError, WattprintError
from wattprint.estimate.common import check_positive, resolve_pue

BASE = {"hardware": "A100", "params": 7e9, "tokens": 2e12}


# -- A: --power-w on a chip without a published TDP ---------------------------------------------------------------
@pytest.mark.parametrize("watts", [1e9, 0.5])
def test_power_w_without_tdp_is_bounded_by_the_catalogue(watts: float) -> None:
    with pytest.raises(InputConflictError, match="outside what any accelerator draws"):
        estimate_training(hardware="TPU v5p", chip_hours=1000, power_w=watts)


def test_power_w_without_tdp_in_range_is_accepted() -> None:
    fp = estimate_training(hardware="TPU v5p", chip_hours=1000, power_w=500)
    assert fp.it_energy_kwh.value == pytest.approx(500.0)  # 1000 chip-hours x 500 W


# -- B: a Python int past the float range --------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["flops", "count", "pue", "intensity", "market_intensity", "power_w", "mfu"])
def test_huge_int_is_a_clear_error(field: str) -> None:
    kwargs: dict[str, object] = {"hardware": "A100", "flops": 1e22, "count": 8}
    kwargs[field] = 10**400
    with pytest.raises(InputConflictError) as e:
        estimate_training(**kwargs)  # type: ignore[arg-type]
    assert len(str(e.value)) < 400  # the 401 digits are not echoed in full


def test_huge_fraction_is_a_clear_error() -> None:
    with pytest.raises(InputConflictError, match="too large"):
        check_positive("flops", Fraction(10**400, 1))


# -- C: numeric types other than int and float ---------------------------------------------------------------------
def test_numpy_scalars_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    plain = estimate_training(hardware="A100", flops=1e22, count=8, mfu=0.4, pue=1.2)
    fp = estimate_training(hardware="A100", flops=np.float64(1e22), count=np.int64(8), mfu=np.float32(0.4),
                           pue=np.float64(1.2))
    assert fp.energy_kwh.value == pytest.approx(plain.energy_kwh.value, rel=1e-6)


def test_decimal_and_fraction_are_accepted() -> None:
    plain = estimate_training(hardware="A100", flops=1e22, count=8, mfu=0.4, pue=1.2, intensity=400)
    fp = estimate_training(hardware="A100", flops=Decimal("1e22"), count=Fraction(8), mfu=Fraction(2, 5),
                           pue=Decimal("1.2"), intensity=Decimal(400))  # type: ignore[arg-type]
    assert fp.total_co2e_kg.value == pytest.approx(plain.total_co2e_kg.value)


@pytest.mark.parametrize("bad", [True, "8", None])
def test_bool_and_str_are_still_refused_where_a_number_is_needed(bad: object) -> None:
    if bad is None:
        assert check_positive("count", None) is None
        return
    with pytest.raises(InputConflictError, match="must be a number"):
        check_positive("count", bad)


def test_numpy_bool_is_not_a_number() -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(InputConflictError, match="must be a number"):
        check_positive("count", np.bool_(True))


def test_whole_number_check_works_for_other_types() -> None:
    assert check_positive("count", Fraction(8), integer=True) == 8.0
    with pytest.raises(InputConflictError, match="whole number"):
        check_positive("count", Fraction(17, 2), integer=True)


# -- D: moe must be a bool ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["no", 1, "False"])
def test_moe_must_be_bool(bad: object) -> None:
    with pytest.raises(InputConflictError, match="moe must be True, False or None"):
        estimate_training(**BASE, moe=bad)  # type: ignore[arg-type]


def test_moe_true_and_false_accepted() -> None:
    dense = estimate_training(**BASE, moe=False)
    moe = estimate_training(**BASE, moe=True)
    assert moe.energy_kwh.value > dense.energy_kwh.value


# -- E: --active-params without --params ----------------------------------------------------------------------------
def test_active_params_without_total_is_an_moe_with_a_note() -> None:
    kw = {"hardware": "H800", "tokens": 14.8e12, "count": 2048}
    active_only = estimate_training(active_params=37e9, **kw)  # type: ignore[arg-type]
    dense = estimate_training(params=37e9, **kw)  # type: ignore[arg-type]
    with_total = estimate_training(params=671e9, active_params=37e9, **kw)  # type: ignore[arg-type]
    assert active_only.energy_kwh.value != pytest.approx(dense.energy_kwh.value)
    assert active_only.energy_kwh.value == pytest.approx(with_total.energy_kwh.value)
    notes = [a for a in active_only.assumptions if a.what == "mixture of experts"]
    assert notes and "total not given" in notes[0].value
    # moe=False keeps it dense
    forced = estimate_training(active_params=37e9, moe=False, **kw)  # type: ignore[arg-type]
    assert forced.energy_kwh.value == pytest.approx(dense.energy_kwh.value)


# -- F: --seq-len bounds ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seq", [0.5, 2048.5])
def test_seq_len_must_be_whole(seq: float) -> None:
    with pytest.raises(InputConflictError, match="whole number"):
        estimate_training(**BASE, seq_len=seq)


def test_seq_len_past_the_flops_ratio_is_refused() -> None:
    with pytest.raises(InputConflictError, match="12x"):
        estimate_training(**BASE, seq_len=1e9)


def test_long_but_plausible_seq_len_accepted() -> None:
    fp = estimate_training(hardware="A100", params=8e9, tokens=1e12, seq_len=131072)
    assert fp.details["training_flops"].value > 6 * 8e9 * 1e12


# -- G: NaN PUE ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pue", [float("nan"), "nan", "inf", float("inf")])
def test_non_finite_pue_says_finite(pue: object) -> None:
    with pytest.raises(InputConflictError, match="PUE must be a finite number"):
        resolve_pue(pue, None)  # type: ignore[arg-type]
    with pytest.raises(InputConflictError, match="PUE must be a finite number"):
        estimate_training(hardware="A100", flops=1e22, count=8, pue=pue)  # type: ignore[arg-type]


# -- H: overflow in 6·N·D -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"params": 1e200, "tokens": 1e200, "chip_hours": 1e5},
    {"flops": 1e308, "params": 1e154, "tokens": 1e154},
    {"params": 1e200, "tokens": 1e200},
])
def test_overflowing_6nd_is_too_large(kwargs: dict[str, float]) -> None:
    with pytest.raises(InputConflictError, match="too large") as e:
        estimate_training(hardware="A100", **kwargs)  # type: ignore[arg-type]
    assert "inf" not in str(e.value).replace("information", "")


# -- I: no location -> the hint to give one, as the tracker shows it -----------------------------------------------
def test_no_location_has_the_location_hint() -> None:
    fp = estimate_training(hardware="A100", count=8, days=1)
    loc = [a for a in fp.assumptions if a.what == "location"]
    assert loc and "world average" in loc[0].value and "--location" in loc[0].note
    assert "location" in [a["what"] for a in fp.to_dict()["assumptions"]]  # in the JSON too


def test_no_location_notes_match_the_tracker() -> None:
    from wattprint.tracking.config import TrackConfig

    _, tracker_notes = TrackConfig().intensity_lookup()
    fp = estimate_training(hardware="A100", count=8, days=1)
    for n in tracker_notes:
        assert n in fp.assumptions


def test_world_by_name_has_the_hint_and_a_country_is_unchanged() -> None:
    fp = estimate_training(hardware="A100", count=8, days=1, location="World")
    assert [a for a in fp.assumptions if a.what == "location" and "world average" in a.value]
    fr = estimate_training(hardware="A100", count=8, days=1, location="FR")
    assert not [a for a in fr.assumptions if a.what == "location"]


# -- J: wall time with days given ------------------------------------------------------------------------------------
def test_wall_time_is_the_days_given() -> None:
    fp = estimate_training(hardware="A100", chip_hours=1930, count=8, days=10)
    assert fp.wall_time_h is not None and fp.wall_time_h.value == pytest.approx(240.0)
    assert fp.chip_hours.value == pytest.approx(1930.0)


def test_flops_and_days_give_average_chips_busy() -> None:
    fp = estimate_training(hardware="A100", flops=1e22, days=10)
    busy = fp.details["average_chips_busy"]
    assert busy.value == pytest.approx(fp.chip_hours.value / 240.0)
    assert fp.wall_time_h is not None and fp.wall_time_h.value == pytest.approx(240.0)


def test_huge_int_error_is_a_wattprint_error() -> None:
    with pytest.raises(WattprintError):
        estimate_training(flops=10**400, hardware="A100")
    assert check_positive("x", Decimal("2.5")) == 2.5


@pytest.mark.parametrize("kw", [{"params": 7, "tokens": 2e12}, {"params": 7e9, "tokens": 2},
                                {"params": 4e10, "active_params": 17, "tokens": 1e12}])
def test_a_count_that_lost_its_suffix_is_refused_with_the_suffix_it_likely_had(kw: dict[str, float]) -> None:
    with pytest.raises(InputConflictError, match=r"did you mean \d+B"):
        estimate_training(hardware="A100", count=64, **kw)
    # the smallest real networks (Strubell's and Patterson's Transformers have ~1e8) are far above the bound
    assert estimate_training(params=1e5, tokens=1e9, hardware="A100").chip_hours is not None


def test_an_impossible_speed_prints_a_short_factor_and_a_bad_context_names_its_flag() -> None:
    with pytest.raises(InputConflictError, match=r"needs 8\.9e\+303x the bf16 peak"):
        estimate_training(flops=1e22, chip_hours=1e-300, hardware="A100")
    with pytest.raises(InputConflictError, match="--seq-len"):
        estimate_training(params=7e9, tokens=2e12, seq_len=0, hardware="A100")


def test_an_impossible_speed_from_count_and_days_says_where_its_chip_hours_came_from() -> None:
    with pytest.raises(InputConflictError, match=r"2304 chip-hours .*\(chip-hours = 64 chips x 1\.5 days x 24\)"):
        estimate_training(params=7e9, tokens=2e12, hardware="A100", count=64, days=1.5)
    with pytest.raises(InputConflictError) as typed:  # chip-hours the user typed need no such note
        estimate_training(params=7e9, tokens=2e12, hardware="A100", chip_hours=2304)
    assert "chips x" not in str(typed.value)


def test_gpu_hours_is_chip_hours_by_the_name_papers_use() -> None:
    """The CLI took --gpu-hours; the Python API raised a bare TypeError for gpu_hours=."""
    assert estimate_training(gpu_hours=1e4, hardware="A100").chip_hours == estimate_training(
        chip_hours=1e4, hardware="A100").chip_hours
    assert estimate_training(gpu_hours=1e4, chip_hours=1e4, hardware="A100").chip_hours is not None
    with pytest.raises(InputConflictError, match="same input .* given twice"):
        estimate_training(gpu_hours=1e4, chip_hours=2e4, hardware="A100")


# -- K: a value just past a bound is said with the digits it was given --------------------------------------------
# the range messages printed the value by :g, six digits: 1.0000001 was "got 1", inside the range it was refused from
@pytest.mark.parametrize(("kw", "said"), [
    ({"mfu": 1.0000001}, r"--mfu \(mfu\) is a fraction of peak \(0-1\], got 1.0000001$"),
    ({"power_fraction": 1.5000001}, r"--power-fraction \(power_fraction\) 1.5000001 is a fraction of TDP"),
    ({"params": 999.9999, "tokens": 2e12}, r"--params \(params\) 999.9999 is fewer than any training has"),
    ({"params": 0.9999999, "tokens": 2e12}, r"--params \(params\) is a count, got 0.9999999:"),
    ({"flops": 5999999.9, "params": None, "tokens": None}, r"--flops \(flops\) 5999999.9 is fewer than any training"),
    ({"pue": 0.9999999}, r"PUE must be a finite number >= 1 \(facility energy / IT energy\), got 0.9999999$"),
])
def test_a_value_just_past_a_bound_is_said_as_given_in_training(kw: dict[str, object], said: str) -> None:
    with pytest.raises(InputConflictError, match=said):
        estimate_training(**{**BASE, "count": 8, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "said"), [
    ({"params": 7e9, "days": 36525.0001, "requests_per_day": 1000},
     r"--days \(days\) 36525.0001 of serving is 100 years"),
    ({"params": 7e9, "active_params": 7000000001}, r"--active-params \(active_params\) 7000000001.0 cannot exceed "
                                                    r"--params \(params\) 7e\+09$"),
    ({"params": 999999.9}, r"--params \(params\) 999999.9 is far fewer parameters than any language model"),
])
def test_a_value_just_past_a_bound_is_said_as_given_in_serving(kw: dict[str, object], said: str) -> None:
    from wattprint.estimate.inference import estimate_inference

    with pytest.raises(InputConflictError, match=said):
        estimate_inference(hardware="H100", **kw)  # type: ignore[arg-type]


def test_moe_contradicting_the_named_model_is_refused() -> None:
    """A named model's card says whether it is an MoE: moe= saying otherwise is a conflict, not an override."""
    with pytest.raises(InputConflictError, match=r"moe=True contradicts model 'Llama 3.1 8B' \(a dense model\)"):
        estimate_training(model="Llama-3.1-8B", moe=True, tokens=1e12, hardware="H100", count=1024)
    with pytest.raises(InputConflictError, match=r"moe=False contradicts model 'DeepSeek-V3' \(an MoE"):
        estimate_training(model="DeepSeek-V3", moe=False, tokens=1e12, hardware="H100", count=1024)
    # saying what the model is changes nothing
    agree = estimate_training(model="DeepSeek-V3", moe=True, tokens=1e12, hardware="H100", count=1024)
    plain = estimate_training(model="DeepSeek-V3", tokens=1e12, hardware="H100", count=1024)
    assert agree.chip_hours.value == plain.chip_hours.value
