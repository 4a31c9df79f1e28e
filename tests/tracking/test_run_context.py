"""A run's summary says whether each setting was given or assumed, and the place as fields (ISO country, region,
cloud); a tracked footprint carries the hardware the model card's ``hardware_used`` is written from."""

from __future__ import annotations

from typing import Any

import pytest

import wattprint
from tests.tracking.conftest import PowerReader


def _summary(**settings: Any) -> dict[str, Any]:
    with wattprint.track("ctx", persist=False, quiet=True, readers=[PowerReader("cpu")], **settings) as run:
        pass
    d: dict[str, Any] = run.summary()
    return d


def test_a_given_intensity_with_a_location_says_the_grid_was_not_looked_up() -> None:
    d = _summary(location="FR", intensity=20)
    assert d["intensity_given"] is True
    assert d["location_detail"] == {"key": "FRA", "name": "France", "kind": "country", "country_iso": "FRA",
                                    "region": None, "cloud": None}
    assert (d["pue_source"], d["pue_preset"]) == ("default", "average")
    assert d["settings_source"] == {"location": "argument", "intensity": "argument"}


def test_no_location_is_the_world_average_and_a_bare_intensity_names_no_place() -> None:
    d = _summary()
    assert d["intensity_given"] is False and d["settings_source"] == {}
    assert d["location_detail"]["kind"] == "world" and d["location_detail"]["country_iso"] is None
    assert _summary(intensity=20)["location_detail"] is None


def test_a_pue_preset_from_the_environment_is_a_preset_and_says_where_it_came_from(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTPRINT_PUE", "hyperscale")
    d = _summary(location="SE3")
    assert (d["pue_source"], d["pue_preset"]) == ("preset", "hyperscale")
    assert d["settings_source"]["pue"] == "env WATTPRINT_PUE"
    assert (d["location_detail"]["region"], d["location_detail"]["country_iso"]) == ("SE3", "SWE")


def test_a_cpu_only_footprint_describes_its_cpu_for_the_model_card() -> None:
    from wattprint.integrations.modelcard import co2_eq_emissions, hardware_used_of

    with wattprint.track("ctx", persist=False, quiet=True, readers=[PowerReader("cpu")]) as run:
        pass
    hw = run.footprint().details["hardware"]
    assert hw == run.summary()["hardware"] and hw["gpus"] == []
    expected = hardware_used_of(hw)
    assert co2_eq_emissions(run.footprint()).get("hardware_used") == expected
    if hw["cpu"]["model"]:
        assert expected is not None and expected.startswith(hw["cpu"]["model"])
    assert hardware_used_of({"gpus": [], "cpu": {"model": "Xeon X", "allocated_cpus": 2.0}}) == "Xeon X (2 CPU cores)"
    # a run whose CPU model is unknown is not described by the CPU of the machine that reads it
    assert hardware_used_of({"gpus": [], "cpu": {"model": None, "allocated_cpus": 2.0}}) is None
