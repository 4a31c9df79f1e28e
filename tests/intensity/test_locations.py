"""Location resolution and intensity look-ups by country, year, sub-national grid, zone and cloud region."""

from __future__ import annotations

import pytest

from wattprint.errors import InputConflictError, UnknownNameError
from wattprint.intensity import intensity_for, intensity_lookup, locations, resolve_location
from wattprint.intensity.locations import resolve_location_noted


@pytest.mark.parametrize(
    ("text", "key", "kind"),
    [
        ("FR", "FRA", "country"), ("fra", "FRA", "country"), ("France", "FRA", "country"),
        ("USA", "USA", "country"), ("United States", "USA", "country"), ("UK", "GBR", "country"),
        ("GB", "GBR", "country"), ("South Korea", "KOR", "country"), ("Germany", "DEU", "country"),
        ("US-CA", "US-CA", "subnational"), ("California", "US-CA", "subnational"),
        ("us-tx", "US-TX", "subnational"), ("CA-QC", "CA-QC", "subnational"), ("Quebec", "CA-QC", "subnational"),
        ("SE3", "SE3", "zone"), ("NO1", "NO1", "zone"), ("zone:FI", "zone:FI", "zone"), ("FI", "FIN", "country"),
        ("aws:us-east-1", "aws:us-east-1", "cloud"), ("gcp:europe-west4", "gcp:europe-west4", "cloud"),
        ("google:europe-west4", "gcp:europe-west4", "cloud"), ("azure:westeurope", "azure:westeurope", "cloud"),
        ("microsoft:westeurope", "azure:westeurope", "cloud"), ("GEO", "GEO", "country"),
        ("GE", "GEO", "country"), ("US-GA", "US-GA", "subnational"),
    ],
)
def test_resolve(text: str, key: str, kind: str) -> None:
    loc = resolve_location(text)
    assert (loc.key, loc.kind) == (key, kind)


def test_unknown_location_lists_closest() -> None:
    with pytest.raises(UnknownNameError) as e:
        resolve_location("Frnace")
    assert "France" in e.value.suggestions
    with pytest.raises(UnknownNameError) as e:
        resolve_location("aws:us-east-9")
    assert any(s.startswith("aws:us-east") for s in e.value.suggestions)


def test_country_latest_and_year() -> None:
    fr = intensity_for("France")
    assert fr.year == 2023 and 40 < fr.g_per_kwh.value < 80
    assert fr.basis == "lifecycle, average (OWID/Ember)"
    assert "Our World in Data" in fr.source
    assert fr.g_per_kwh.low < fr.g_per_kwh.value < fr.g_per_kwh.high
    fr2010 = intensity_for("FR", 2010)
    assert fr2010.year == 2010 and fr2010.g_per_kwh.value != fr.g_per_kwh.value
    pl = intensity_for("Poland", 2015)
    assert pl.g_per_kwh.value > 600


def test_year_after_data_uses_latest_with_a_note() -> None:
    i, notes = intensity_lookup("DE", 2035)
    assert i.year == intensity_for("DE").year
    assert notes and "2035" in notes[0].note
    assert "2035" in i.source


def test_a_year_in_a_gap_uses_the_earlier_year_and_its_range_reaches_the_next_one() -> None:
    """UK: 2021 (OWID 2022 release), then 2023 (newer release). 2022 lies between them: the central value stays
    the earlier year's (no later data used for it), but the range must hold the 2023 value too."""
    i21, i23 = intensity_for("UK", 2021), intensity_for("UK", 2023)
    assert (i21.year, i23.year) == (2021, 2023)
    gap, notes = intensity_lookup("UK", 2022)
    assert gap.year == 2021 and gap.g_per_kwh.value == i21.g_per_kwh.value
    lo, hi = sorted((i21.g_per_kwh.value, i23.g_per_kwh.value))
    assert gap.g_per_kwh.low <= lo and hi <= gap.g_per_kwh.high
    assert gap.g_per_kwh.low < i21.g_per_kwh.low  # widened: 2021's own range does not reach 2023's lower value
    year_note = [n for n in notes if n.what == "intensity year"]
    assert len(year_note) == 1 and "2023" in year_note[0].note and "2023" in gap.source
    assert "takes in" not in i21.source and "takes in" not in intensity_lookup("UK", 2030)[0].source


def test_year_before_data_is_a_clear_error() -> None:
    with pytest.raises(InputConflictError, match="before 2000"):
        intensity_for("FR", 1990)


@pytest.mark.parametrize("year", ["2020", 2020.5, True, float("nan"), float("inf")])
def test_year_that_is_not_a_year_is_a_clear_error(year: object) -> None:
    with pytest.raises(InputConflictError, match="whole year"):
        intensity_for("FR", year)  # type: ignore[arg-type]


def test_subnational_bases_differ_and_are_carried() -> None:
    ca = intensity_for("US-CA", 2016)
    assert ca.year == 2016 and "eGRID 2016" in ca.basis and "combustion" in ca.basis
    assert ca.g_per_kwh.value == pytest.approx(452.541 * 0.45359237, rel=1e-3)  # lb/MWh -> g/kWh
    ca = intensity_for("US-CA")  # the latest: eGRID2023's CO2e rate
    assert ca.year == 2023 and "eGRID2023" in ca.basis and "combustion" in ca.basis
    assert ca.g_per_kwh.value == pytest.approx(394.769 * 0.4536, rel=1e-3)
    qc = intensity_for("Quebec")
    assert qc.year == 2023 and "lifecycle" in qc.basis and qc.g_per_kwh.value < 50
    ab = intensity_for("CA-AB")
    assert ab.g_per_kwh.value > 300


def test_zones_and_cloud() -> None:
    se3 = intensity_for("SE3")
    assert se3.g_per_kwh.value == 18 and se3.g_per_kwh.low < 18 < se3.g_per_kwh.high
    gcp = intensity_for("gcp:europe-west4")
    assert gcp.year == 2024 and "Google" in gcp.basis
    gcp2019 = intensity_for("gcp:europe-west4", 2019)
    assert gcp2019.basis.startswith("lifecycle")  # Google's 2019/2020 files are lifecycle, 2021+ are not
    assert gcp2019.basis != gcp.basis
    aws = intensity_for("aws:us-east-1")
    assert "eGRID2020" in aws.basis and aws.g_per_kwh.value == pytest.approx(379.069)


def test_world_average_when_no_location() -> None:
    w, notes = intensity_lookup(None)
    assert w.location == "world" and 400 < w.g_per_kwh.value < 550
    # wide: the generation-weighted 10th-90th percentile of countries, from low-carbon grids (France, Brazil,
    # Canada lie below it or near its foot) to coal-heavy ones (India lies near its top)
    assert w.g_per_kwh.low < intensity_lookup("BRA")[0].g_per_kwh.value * 2 < w.g_per_kwh.value
    assert intensity_lookup("IND")[0].g_per_kwh.value * 0.9 < w.g_per_kwh.high
    assert "10th-90th" in w.source
    assert notes and "world" in notes[0].value
    assert "asked for" not in w.source


def test_world_average_says_when_the_asked_year_is_not_in_its_data() -> None:
    w, notes = intensity_lookup(None, 2031)
    assert w.year == intensity_for(None).year and "2031 not in the data" in w.source
    assert [n for n in notes if n.what == "intensity year"] and "latest available" in notes[0].note
    assert intensity_for(None, w.year).source == intensity_for(None).source  # its own year: no note
    gap, notes = intensity_lookup(None, 2021)  # the OWID 2022 release has 2021 for too few countries
    assert gap.year == 2020 and "nearest earlier year 2020" in gap.source
    with pytest.raises(InputConflictError, match="before 2000"):
        intensity_for(None, 1995)


def test_world_average_of_a_past_year_is_that_years_generation_weighted_mean() -> None:
    """Computed from that year's national values: between the countries' values, pulled towards the big grids."""
    w2010 = intensity_for(None, 2010)
    assert w2010.year == 2010 and "that year's" in w2010.source and "asked for" not in w2010.source
    assert w2010.g_per_kwh.value != intensity_for(None, 2015).g_per_kwh.value
    big = {c: intensity_for(c, 2010).g_per_kwh.value for c in ("CHN", "USA", "IND", "FRA")}
    assert big["FRA"] < w2010.g_per_kwh.low < w2010.g_per_kwh.value < w2010.g_per_kwh.high < big["IND"] * 1.1
    assert big["FRA"] < w2010.g_per_kwh.value < big["CHN"] and w2010.g_per_kwh.low < big["USA"]
    # the range is that year's spread, not the latest year's
    assert (w2010.g_per_kwh.low, w2010.g_per_kwh.high) != (intensity_for(None).g_per_kwh.low,
                                                          intensity_for(None).g_per_kwh.high)


def test_locations_listing() -> None:
    assert len(locations("country")) > 200
    assert {loc.key for loc in locations("zone")} >= {"SE1", "SE4", "NO5", "zone:FI"}
    assert all(loc.kind == "cloud" for loc in locations("cloud"))
    with pytest.raises(UnknownNameError):
        locations("planet")


def test_a_location_lookup_does_not_decode_the_generation_mix_table(monkeypatch) -> None:
    """The tracker resolves its location at start: that path must not decode the large mix table."""
    import wattprint.intensity as grid

    seen: list[str] = []
    real = grid.load_table
    monkeypatch.setattr(grid, "load_table", lambda name: (seen.append(name), real(name))[1])
    grid._records.cache_clear()
    grid._aliases.cache_clear()
    try:
        grid.intensity_for("FRA")
        assert "mixes" not in seen
        assert grid.generation_mix("France")["nuclear"] > 50
        assert "mixes" in seen
    finally:
        grid._records.cache_clear()
        grid._aliases.cache_clear()


def test_iso_codes_resolve_from_the_country_table_as_the_full_index_does() -> None:
    """The 2-3 letter fast path (countries only) gives what the full index (regions too) gives."""
    from wattprint.errors import normalise_name
    from wattprint.intensity import _aliases, _country_codes, _records, resolve_location

    short = {k for k in _country_codes() if len(k) <= 3 and k.isalpha()}
    assert {"fr", "fra", "us", "usa", "de", "gb", "gbr"} <= short
    full = _aliases()
    for code in sorted(short):
        assert resolve_location(code.upper()).key == full[code], code
        assert resolve_location(code).key == full[code], code
    # no region key is letters only: the premise of the fast path
    assert not [k for k, (loc, _) in _records().items() if loc.kind != "country" and normalise_name(k).isalpha()
                and len(normalise_name(k)) <= 3]
    assert resolve_location("PEI").key == "CA-PE"  # a 3-letter region alias still goes to the full index
    assert resolve_location("SE3").kind == "zone"


def test_a_country_code_does_not_parse_the_regions_table() -> None:
    import subprocess
    import sys

    code = ("import wattprint.data as d\nfrom wattprint.intensity import intensity_for\n"
            "intensity_for('FR'); intensity_for('us', 2019)\n"
            "print(d.load_table.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out == ["2"]  # countries and factors; not regions


def test_each_country_year_names_its_own_source() -> None:
    """Country years are stored as bare values; the source of each year still reaches the output."""
    from wattprint.intensity import intensity_for

    latest, older = intensity_for("FR"), intensity_for("FR", 2019)
    assert "2024 release" in latest.source and latest.year is not None and latest.year >= 2022
    assert "April-2022 release" in older.source and older.year == 2019


def test_a_given_intensity_in_the_wrong_unit_is_noted_or_refused() -> None:
    from wattprint.estimate.training import estimate_training
    from wattprint.intensity import given_intensity_note

    assert given_intensity_note(400.0) == "" and given_intensity_note(0.0) == ""  # 0: a zero-carbon contract
    assert "kgCO2e/kWh" in given_intensity_note(0.4)  # kg given as g
    with pytest.raises(InputConflictError, match="give grams per kWh"):
        given_intensity_note(400_000.0)  # g per MWh given as g per kWh
    kw: dict[str, object] = {"params": 7e9, "tokens": 1e12, "hardware": "A100"}
    low = estimate_training(**kw, intensity=0.4)  # type: ignore[arg-type]
    assert any("give it x1000" in a.source for a in low.assumptions)
    with pytest.raises(InputConflictError, match="give grams per kWh"):
        estimate_training(**kw, intensity=400_000)  # type: ignore[arg-type]
    with pytest.raises(InputConflictError, match="market intensity"):
        estimate_training(**kw, market_intensity=400_000)  # type: ignore[arg-type]


def test_an_alias_that_is_not_the_country_itself_says_so() -> None:
    # Scotland and Wales trade on the Great Britain grid: its national average, and a note saying why
    loc, notes = resolve_location_noted("Scotland")
    assert loc.key == "GBR"
    assert len(notes) == 1 and "Great Britain grid" in notes[0].note and "'Scotland'" in notes[0].value
    loc, notes = resolve_location_noted("England")  # said as Scotland's is: the figure is the whole UK's
    assert loc.key == "GBR" and len(notes) == 1 and "Great Britain grid" in notes[0].note
    # Kosovo's common code XK (no ISO code) is said too; a plain ISO code or country name says nothing
    loc, notes = resolve_location_noted("XK")
    assert loc.key == "RKS" and "Kosovo" in notes[0].note
    assert resolve_location_noted("FR")[1] == []
    assert resolve_location_noted("United Kingdom")[1] == []


def test_korea_says_it_was_read_as_the_republic_of_korea() -> None:
    """North Korea is in the tables too: a bare "Korea" resolved to South Korea with nothing said."""
    from wattprint.estimate.training import estimate_training

    loc, notes = resolve_location_noted("Korea")
    assert loc.key == "KOR" and resolve_location("North Korea").key == "PRK"
    assert len(notes) == 1 and "'Korea' -> South Korea" in notes[0].value
    assert "Republic of Korea (South Korea, KOR)" in notes[0].note and "PRK" in notes[0].note
    for name in ("South Korea", "Republic of Korea", "KR", "KOR"):  # unambiguous: nothing to say
        assert resolve_location_noted(name) == (loc, [])
    fp = estimate_training(chip_hours=100, hardware="A100", location="korea")
    assert any("Republic of Korea" in a.note for a in fp.assumptions if a.what == "location")
    # and the note reaches the estimate's assumptions
    _, said = intensity_lookup("Wales")
    assert any("Great Britain grid" in a.note for a in said)


def test_a_year_before_the_data_of_a_grid_with_one_year_says_so() -> None:
    # a zone with one data year: "available years: 2018-2018" read as a range of one
    year = intensity_for("SE3").year
    assert year is not None
    with pytest.raises(InputConflictError) as e:
        intensity_for("SE3", year - 5)
    assert f"the data hold {year} only" in str(e.value) and f"{year}-{year}" not in str(e.value)
    # years with a gap are listed, not spanned: "2016-2023" said there were the years between
    with pytest.raises(InputConflictError, match=r"available years: 2016, 2023$"):
        intensity_for("US-TX", 2010)
    with pytest.raises(InputConflictError, match=r"available years: 2000-2021, 2023$"):
        intensity_for("FR", 1990)


def test_a_gap_year_does_not_take_in_a_next_year_of_another_basis() -> None:
    # Texas 2020: eGRID2016's CO2 rate; eGRID2023's CO2e rate, 27 % lower, was said to be in the range and was not
    i, notes = intensity_lookup("US-TX", 2020)
    later = intensity_for("US-TX", 2023).g_per_kwh.value
    assert i.year == 2016 and not i.g_per_kwh.low <= later <= i.g_per_kwh.high
    assert "2023, the next year in the data, is of another basis" in notes[-1].note
    assert "takes in" not in notes[-1].note
    fr, notes = intensity_lookup("FR", 2022)  # a gap in one basis: the range reaches the next year
    assert fr.year == 2021 and "the range takes in 2023" in notes[-1].note
    f23 = intensity_for("FR", 2023).g_per_kwh.value
    assert fr.g_per_kwh.low <= f23 <= fr.g_per_kwh.high
