"""CPU, RAM, PUE, host-server embodied and equivalence factors: values, ranges and sources."""

from __future__ import annotations

import pytest

from wattprint.data import (
    cpu_tdp_w,
    cpu_watts_per_core,
    default_pue,
    embodied_host_server,
    equivalence_factors,
    load_table,
    pue_preset,
    ram_watts_per_gb,
)
from wattprint.errors import UnknownNameError


@pytest.mark.parametrize(
    ("model", "tdp"),
    [
        ("Intel(R) Xeon(R) Platinum 8480+", 350),
        ("AMD EPYC 7742 64-Core Processor", 225),
        ("Intel(R) Xeon(R) CPU E5-2698 v4 @ 2.20GHz", 135),
        ("EPYC 9654", 360),
        ("AMD EPYC 7763", 280),
        ("Intel(R) Xeon(R) Platinum 8480C", 350),  # the DGX H100 host CPU, second name of its catalogue row
        ("AMD EPYC 7A53 64-Core Processor", 280),  # /proc/cpuinfo has no code name ("Trento")
    ],
)
def test_cpu_tdp_forgiving(model: str, tdp: float) -> None:
    hit = cpu_tdp_w(model)
    assert hit is not None
    assert hit[0] == tdp
    assert hit[1]  # a source


def test_an_unconfirmed_cpu_tdp_says_so_and_stays_out_of_the_generic_per_core_figure() -> None:
    hit = cpu_tdp_w("AMD EPYC 7A53 64-Core Processor")
    assert hit is not None and "UNCERTAIN" in hit[1]
    per_core = load_table("factors")["factors"]["cpu_w_per_core"]
    assert per_core["unit"].startswith("W per physical core")


def test_cpu_tdp_unknown_is_none() -> None:
    assert cpu_tdp_w("Totally Unknown CPU 9999") is None
    assert cpu_tdp_w("") is None


def test_cpu_per_core_fallback_is_a_sourced_range() -> None:
    r, a = cpu_watts_per_core()
    assert 2 < r.low < r.value < r.high < 15
    assert "Green Algorithms" in a.source


def test_ram_watts_per_gb_covers_the_three_tools() -> None:
    r, a = ram_watts_per_gb()
    for v in (0.375, 0.3725, 0.392):
        assert r.contains(v)
    assert "CodeCarbon" in a.source


@pytest.mark.parametrize(
    ("name", "value"),
    [("hyperscale", 1.15), ("cloud", 1.15), ("enterprise", 1.8), ("on-premise", 1.8), ("on-premises", 1.8),
     ("colocation", 1.4),
     ("average", 1.56), ("industry", 1.56), ("google", 1.09), ("aws", 1.14), ("microsoft", 1.16), ("azure", 1.16),
     ("meta", 1.08)],
)
def test_pue_presets(name: str, value: float) -> None:
    r, a = pue_preset(name)
    assert r.value == pytest.approx(value)
    assert r.low >= 1.0 and r.low <= r.value <= r.high
    assert a.source


def test_pue_unknown_lists_closest() -> None:
    with pytest.raises(UnknownNameError) as e:
        pue_preset("hyperscal")
    assert "hyperscale" in e.value.suggestions


@pytest.mark.parametrize("name", ["1.1.1", "x", "%"])
def test_a_preset_name_close_to_none_lists_the_presets(name: str) -> None:
    """'1.1.1' (a mistyped number) is close to no preset: the error listed no valid name."""
    with pytest.raises(UnknownNameError, match="valid names include hyperscale, enterprise, colocation, average"):
        pue_preset(name)


def test_default_pue_uses_provider_fleet_for_cloud_regions() -> None:
    assert default_pue("aws:us-east-1")[0].value == pytest.approx(1.14)
    assert default_pue("gcp:europe-west4")[0].value == pytest.approx(1.09)
    assert default_pue("azure:westeurope")[0].value == pytest.approx(1.16)
    avg, note = default_pue(None)
    assert avg.value == pytest.approx(1.56) and avg.low < 1.3 and avg.high > 1.6
    assert default_pue("FR")[0] == avg


def test_host_server_embodied() -> None:
    e = embodied_host_server()
    assert e.kg_per_unit.value == 2500 and e.kg_per_unit.high >= 5700
    assert "BLOOM" in e.source


def test_equivalence_factors_are_sourced() -> None:
    fs = {f.name: f for f in equivalence_factors()}
    assert {"car_km", "flight_km", "smartphone_charge", "household_electricity_year"} <= set(fs)
    assert 0.2 < fs["car_km"].kg_co2e_per_unit < 0.3
    for f in fs.values():
        assert f.kg_co2e_per_unit > 0 and f.source and 2015 <= f.year <= 2030


@pytest.mark.parametrize("pue", [True, b"1.2", [1.2]])
def test_pue_of_the_wrong_type_is_a_clear_error(pue: object) -> None:
    from wattprint.errors import InputConflictError
    from wattprint.estimate.common import resolve_pue

    with pytest.raises(InputConflictError, match="PUE must be a number"):
        resolve_pue(pue, None)  # type: ignore[arg-type]
    assert resolve_pue(1.2, None)[0].value == pytest.approx(1.2)
    assert resolve_pue("1.2", None)[0].value == pytest.approx(1.2)


@pytest.mark.parametrize("pue", ["", "  "])
def test_a_blank_pue_is_not_given_in_the_estimates_as_in_wattprint_run(pue: str) -> None:
    """`estimate training --pue ''` said "unknown PUE preset ''" (no name listed) where `wattprint run --pue ''` and
    a blank --location in the estimates both read blank as not given: the default PUE, noted as such."""
    from wattprint.estimate.common import resolve_pue

    assert resolve_pue(pue, "aws:us-east-1") == default_pue("aws:us-east-1")
    assert resolve_pue(pue, None) == default_pue(None)


def test_an_estimate_with_a_pue_of_50_is_refused_and_one_of_2_5_noted() -> None:
    from wattprint.errors import InputConflictError
    from wattprint.estimate.training import estimate_training

    with pytest.raises(InputConflictError, match="least efficient class"):
        estimate_training(params=7e9, tokens=1e12, hardware="A100", pue=50)
    fp = estimate_training(params=7e9, tokens=1e12, hardware="A100", pue=2.5)
    assert any(a.what == "PUE" and "least efficient class" in (a.note or "") for a in fp.assumptions)


def test_pue_class_presets_cite_the_operator_figures_they_rest_on() -> None:
    """pue.csv's class rows say "Equinix rows above", rows a reader of our output never sees: the figures are
    written in."""
    from wattprint.data import pue_presets

    sources = {p["preset"]: p["source"] for p in pue_presets()}
    assert not any("rows above" in s for s in sources.values())
    assert "Equinix (global portfolio average) 1.42 (2023)" in sources["colocation"]
    assert "Microsoft 1.16-1.17" in sources["hyperscale"]


@pytest.mark.parametrize(("text", "point"), [("1,2", "1.2"), (" 1,15 ", "1.15")])
def test_a_pue_with_a_decimal_comma_says_to_write_a_point(text: str, point: str) -> None:
    """"1,2" was "unknown PUE preset '1,2'", with preset names to pick from; the estimates and the tracker alike."""
    from wattprint.errors import InputConflictError
    from wattprint.estimate.common import resolve_pue
    from wattprint.tracking.config import load_config

    said = rf"^PUE '{text.strip()}' is not a number \(write decimals with a point: {point}\)"
    with pytest.raises(InputConflictError, match=said):
        pue_preset(text)
    with pytest.raises(InputConflictError, match=said):
        resolve_pue(text, None)
    with pytest.raises(InputConflictError, match=said + r" \(pue from env WATTPRINT_PUE\)$"):
        load_config(environ={"WATTPRINT_PUE": text}).pue_range()
