import json
import math

import pytest

from wattprint.errors import UnknownNameError, closest_names
from wattprint.footprint import ComponentEnergy, Footprint, Intensity, amortised_embodied_kg
from wattprint.quantities import Range, parse_count


def test_range_multiplies_bounds_and_keeps_order():
    r = Range(2, 1, 3) * Range(10, 5, 20)
    assert (r.value, r.low, r.high) == (20, 5, 60)
    assert (Range(2, 1, 3) / Range(2, 1, 4)).high == 3
    with pytest.raises(ValueError):
        Range(1, 2, 3)
    with pytest.raises(ValueError):
        Range(float("nan"), 0, 1)


def test_parse_count_accepts_suffixes_and_rejects_garbage():
    assert parse_count("7B") == 7e9
    assert parse_count("1.4T") == 1.4e12
    assert parse_count("7000000000") == 7e9
    assert (parse_count("7b"), parse_count("15t"), parse_count("125m")) == (7e9, 15e12, 125e6)  # as in model names
    with pytest.raises(ValueError, match="not a number"):
        parse_count("seven")


def test_footprint_chain_pue_then_intensity_plus_embodied():
    emb = amortised_embodied_kg(8, Range.exact(150), Range.exact(24 * 365.25), Range(6, 4, 6))
    assert math.isclose(emb.value, 8 * 150 / 6)
    fp = Footprint(
        energy_by_component={"gpu": ComponentEnergy(Range(100, 80, 120), "modelled"),
                             "cpu": ComponentEnergy(Range.exact(20), "measured")},
        pue=Range(1.1, 1.05, 1.2),
        intensity=Intensity.fixed(300),
        embodied_co2e_kg=emb,
    )
    assert math.isclose(fp.it_energy_kwh.value, 120)
    assert math.isclose(fp.energy_kwh.value, 132)
    assert math.isclose(fp.operational_co2e_kg.value, 132 * 0.3)
    assert math.isclose(fp.total_co2e_kg.value, 132 * 0.3 + 200)
    d = json.loads(fp.to_json())
    for k in ("energy_kwh", "it_energy_kwh", "operational_co2e_kg", "embodied_co2e_kg", "total_co2e_kg"):
        assert d[k + "_low"] <= d[k] <= d[k + "_high"]
    assert d["energy_by_component_kwh"]["cpu"]["basis"] == "measured"


def test_pue_below_one_is_rejected():
    with pytest.raises(ValueError, match="PUE"):
        Footprint(energy_by_component={}, pue=Range.exact(0.9), intensity=Intensity.fixed(1))


def test_unknown_name_lists_closest():
    err = UnknownNameError("GPU", "A10O", ["A100", "H100", "A10", "V100"])
    assert "A100" in str(err) and "A10" in err.suggestions
    assert closest_names("h100", ["NVIDIA H100 SXM5 80GB", "NVIDIA A100"])[0] == "NVIDIA H100 SXM5 80GB"


def test_market_based_figure_and_equivalents_in_estimate_outputs():
    import wattprint

    fp = wattprint.estimate_training(params=1e9, tokens=20e9, hardware="A100", count=8, intensity=400,
                                     market_intensity=0)
    d = fp.to_dict(equivalents=True)
    assert d["market_based_co2e_kg"] == 0.0 and d["operational_co2e_kg"] > 0
    car = next(e for e in d["equivalents"] if e["name"] == "car_km")
    assert math.isclose(car["amount"], d["total_co2e_kg"] / 0.251, rel_tol=1e-9)
    assert "total CO2e is about" in fp.table()
    # factors nobody re-read at the primary source say so, in JSON and in the table
    phone = next(e for e in d["equivalents"] if e["name"] == "smartphone_charge")
    assert phone["uncertain"] is True and "UNCERTAIN" in phone["note"]
    assert car["uncertain"] is False and "note" not in car
    assert "smartphone full charges (UNCERTAIN factor)" in fp.table()


def test_range_order_is_checked_at_every_magnitude_and_relative_orders_its_bounds():
    # the float-noise tolerance is relative: a small quantity with inverted bounds is an error, not silently fixed
    with pytest.raises(ValueError):
        Range(1e-13, 2e-13, 3e-13)
    with pytest.raises(ValueError):
        Range(math.inf, 0.0, 1.0)
    assert Range(1e-13, 1e-13 * (1 + 1e-15), 3e-13).low == 1e-13  # float noise is still absorbed
    assert Range(2.0, 1.0, math.inf).high == math.inf  # an open upper bound stays valid
    neg = Range.relative(-10.0, 0.5, 1.5)
    assert (neg.low, neg.value, neg.high) == (-15.0, -10.0, -5.0)
    swapped = Range.relative(10.0, 1.5, 0.5)
    assert (swapped.low, swapped.high) == (5.0, 15.0)
