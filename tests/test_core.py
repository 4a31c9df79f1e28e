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
        energy_by_component_kwh={"gpu": ComponentEnergy(Range(100, 80, 120), "modelled"),
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
        Footprint(energy_by_component_kwh={}, pue=Range.exact(0.9), intensity=Intensity.fixed(1))


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
    assert math.isclose(car["amount"], d["total_co2e_kg"] / 0.244, rel_tol=1e-9)
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


def _fp(kwh: float, **kw):
    return Footprint(energy_by_component_kwh={"gpu": ComponentEnergy(Range(kwh, kwh * 0.5, kwh * 2), "modelled")},
                     pue=Range.exact(1.0), intensity=Intensity.fixed(500.0), **kw)


def test_market_based_figure_has_a_range_and_an_assumption():
    fp = _fp(100.0, market_intensity_g_per_kwh=20.0)
    d = fp.to_dict()
    assert (d["market_based_co2e_kg_low"], d["market_based_co2e_kg"], d["market_based_co2e_kg_high"]) == (1.0, 2.0, 4.0)
    assert [a.value for a in fp.assumptions if a.what == "market-based intensity"] == ["20 gCO2e/kWh"]
    assert "2 (1–4) kgCO2e" in fp.table().split("market-based operational CO2e")[1].splitlines()[0]


def test_table_units_follow_the_printed_value_and_everyday_amounts_read_as_written():
    from wattprint.footprint import _amount, _fmt_energy, _fmt_mass

    assert _fmt_energy(Range.exact(999.99999)).endswith(" MWh")  # rounds to 1000 kWh: shown as 1 MWh
    assert _fmt_energy(Range.exact(2e9)) == "2 TWh"
    assert _fmt_energy(Range.exact(1e-6)) == "1 mWh"
    assert _fmt_mass(Range.exact(5e8)) == "500 ktCO2e"
    assert _fmt_mass(Range.exact(2e9)) == "2 MtCO2e"
    assert _fmt_mass(Range.exact(0.0)) == "0 kgCO2e"
    assert (_amount(2104.4), _amount(64213.0), _amount(0.216), _amount(3.2e10)) == ("2,100", "64,200", "0.216",
                                                                                  "3.2e+10")
    table = _fp(2000.0).table()
    assert "e+0" not in table.split("total CO2e is about:")[1].split("smartphone")[0]
    # a tracked 2 s run read "wall time 0.0005556 h": the wall time takes the unit it reads best in
    fp = _fp(1.0)
    for hours, shown in ((1518.0, "1518 h"), (0.5, "30 min"), (2 / 3600, "2 s"), (3e-3 / 3600, "3 ms")):
        fp.wall_time_h = Range.exact(hours)
        assert fp.table().split("wall time")[1].splitlines()[0].strip() == shown


def test_detail_rows_put_the_unit_after_the_number():
    fp = _fp(1.0)
    fp.details["energy_per_request_wh"] = Range(0.25, 0.1, 0.5)
    fp.details["co2e_per_request_g"] = Range.exact(3.0)
    table = fp.table(assumptions=False)
    assert "energy per request" in table and "0.25 (0.1–0.5) Wh" in table
    assert "CO2e per request" in table and "3 gCO2e" in table
    assert "request wh" not in table
    fp.details["energy_per_year_kwh"] = Range.exact(187_800.0)
    fp.details["co2e_per_year_kg"] = Range.exact(92_240.0)
    fp.details["energy_per_1k_tokens_wh"] = Range.exact(0.6072)
    table = fp.table(assumptions=False)
    assert "187.8 MWh" in table and "92.24 tCO2e" in table  # rescaled like the headline rows
    assert "0.6072 Wh" in table  # not 607.2 mWh: per-token figures stay in their own unit or above


def test_format_count_writes_model_sizes_as_people_do():
    from wattprint.quantities import format_count

    assert [format_count(x) for x in (7e10, 1.4e12, 1.25e8, 950.0)] == ["70B", "1.4T", "125M", "950"]
    assert all(parse_count(format_count(x)) == x for x in (7e10, 1.4e12, 1.25e8))


def test_json_carries_the_intensity_year_and_source():
    d = _fp(1.0).to_dict()
    assert d["intensity_year"] is None and d["intensity_source"] == "given by the user"


def test_table_leaves_out_equivalents_too_small_to_mean_anything_but_keeps_one():
    small = _fp(0.1)  # 50 gCO2e: a fraction of a km by car, millionths of a flight
    line = small.table().split("total CO2e is about:")[1].splitlines()[0]
    assert "London-New York" not in line and "e-0" not in line
    assert "km driven" in line and "smartphone" in line
    assert len(small.to_dict(equivalents=True)["equivalents"]) > line.count(";") + 1  # JSON keeps them all
    tiny = _fp(1e-7)  # 50 µgCO2e: nothing reaches a hundredth of a unit, so the largest one is shown alone
    line = tiny.table().split("total CO2e is about:")[1].splitlines()[0]
    assert line.count(";") == 0 and "smartphone" in line


def test_public_signatures_resolve_at_run_time():
    # typing.get_type_hints (used by docs tools, CLIs generated from signatures, validators) must resolve every
    # annotation of the public API, including Run's methods (track() returns a Run); a name imported only for the
    # type checker raises NameError here. Exempt: Run.progress, whose Projection is loaded on its first call so
    # that a run without progress reports loads less (tests/bench/test_import_cost.py)
    import inspect
    import typing

    import wattprint
    from wattprint.tracking.run import Run

    objects = [getattr(wattprint, n) for n in wattprint.__all__ if n != "__version__"] + [Run]
    checked = 0
    for obj in objects:
        members = [obj] + ([v.fget if isinstance(v, property) else v for k, v in vars(obj).items()
                            if not k.startswith("_") and (inspect.isfunction(v) or isinstance(v, property))]
                           if inspect.isclass(obj) else [])
        for member in members:
            if getattr(member, "__qualname__", "") == "Run.progress":
                continue
            typing.get_type_hints(member)
            checked += 1
    assert checked > 20


def test_a_range_whose_bounds_round_to_its_value_prints_as_one_number() -> None:
    assert f"{Range(8766.0, 8765.999999999998, 8766.000000000002):.4g}" == "8766"
    assert f"{Range(1.0, 0.9999999999999999, 1.0):.4g}" == "1"
    assert f"{Range(2.0, 1.0, 3.0):.4g}" == "2 (1–3)"
