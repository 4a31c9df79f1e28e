"""What an unknown location's error suggests (names that resolve, to the place suggested), how forgiving cloud
region and zone ids are (case, spaces, hyphens, underscores) and what a name cut short ("US-") gives."""

from __future__ import annotations

import pytest

from wattprint.cli import main
from wattprint.errors import AmbiguousNameError, UnknownNameError, normalise_name
from wattprint.intensity import locations, resolve_location
from wattprint.intensity.locations import region_id_form


def _error(text: str) -> UnknownNameError:
    with pytest.raises(UnknownNameError) as e:
        resolve_location(text)
    return e.value


def _message_names(err: UnknownNameError) -> list[str]:
    """The names the message lists after "closest valid names: ", as written (display names included)."""
    msg = str(err)
    assert "closest valid names: " in msg, msg
    listed = msg.split("closest valid names: ", 1)[1]
    names, depth, cur = [], 0, ""
    for i, ch in enumerate(listed):  # split on ", " outside parentheses
        if ch == "," and depth == 0 and listed[i + 1:i + 2] == " ":
            names.append(cur.strip())
            cur = ""
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        cur += ch
    return [*names, cur.strip()]


TYPOS = ["US East (N. Virginia)", "Tokyo", "Califronia", "US-CAL", "Frnace", "Georgai", "London", "Quebc", "SE5",
         "NO6", "Sweden Bidding Zone 3", "Norway Bidding Zone", "Asia Pacific (Seoul)", "Finland zone",
         "Oslo", "Texs", "Virgina", "Virgin Islands", "us-east-9", "gcp:nope", "gcp:tokio", "aws:tokyo",
         "azure:tokyo", "aws:us-east-9", "azure:westeurop", "zone:SE9", "zone:NO", "US-", "CA-", "France:",
         "Atlantis", "West US (California)", "Japan East (Tokyo, Saitama)", "US-ZZ", "DE-BY", "ca-xx", "FR-75"]


@pytest.mark.parametrize("text", TYPOS)
def test_every_suggestion_resolves(text: str) -> None:
    err = _error(text)
    for name in err.suggestions:
        resolve_location(name)  # raises if a suggested name is not valid
    assert text.strip() not in err.suggestions  # never the very name just rejected


@pytest.mark.parametrize("text", TYPOS)
def test_each_name_in_the_message_resolves_before_its_parenthesis(text: str) -> None:
    err = _error(text)
    if "closest valid names: " not in str(err):
        return
    shown = _message_names(err)
    assert len(shown) >= len(err.suggestions)
    for s in err.suggestions:  # the message shows each suggestion, the resolvable name first
        assert any(m == s or m.startswith(s + " (") for m in shown), (s, str(err))
    assert "\n" not in str(err)


def test_every_location_would_be_suggested_by_a_name_that_resolves_to_it() -> None:
    """What a suggestion shows for each location resolves to that location (not, say, "Georgia" for US-GA)."""
    from wattprint.intensity.locations import _shown

    for loc in locations():
        valid, shown = _shown(loc.key)
        assert resolve_location(valid).key == loc.key, (loc.key, valid)
        assert shown == valid or shown.startswith(valid + " ("), (loc.key, shown)
    assert _shown("US-GA")[0] == "US-GA"  # "Georgia" is also the country


@pytest.mark.parametrize(("text", "first"), [
    ("US East (N. Virginia)", "aws:us-east-1"), ("Califronia", "California"), ("US-CAL", "California"),
    ("Frnace", "France"), ("Asia Pacific (Seoul)", "aws:ap-northeast-2"), ("Sweden Bidding Zone 3", "SE3"),
    ("gcp:tokio", "gcp:asia-northeast1"), ("aws:tokyo", "aws:ap-northeast-1"), ("azure:tokyo", "azure:japaneast"),
])
def test_the_closest_comes_first(text: str, first: str) -> None:
    assert _error(text).suggestions[0] == first


def test_a_display_name_gives_the_keys_of_the_regions_it_names() -> None:
    """"Tokyo" is an AWS, an Azure and a GCP region's display name: not resolved, all three suggested by key."""
    err = _error("Tokyo")
    assert {"gcp:asia-northeast1", "aws:ap-northeast-1", "azure:japaneast"} <= set(err.suggestions)
    assert "Tokyo" not in err.suggestions and "Asia Pacific (Tokyo)" not in err.suggestions
    assert "aws:ap-northeast-1 (Asia Pacific (Tokyo))" in str(err)


@pytest.mark.parametrize(("text", "provider"), [("gcp:nope", "gcp"), ("aws:", "aws"), ("azure:xyzzy", "azure"),
                                                ("aws:us-east-9", "aws"), ("google:europe-west99", "gcp")])
def test_an_unknown_cloud_region_lists_that_providers_regions(text: str, provider: str) -> None:
    err = _error(text)
    msg = str(err)
    assert "closest valid names: " in msg or "valid names include " in msg, msg
    assert f"{provider}:" in msg.split(";", 1)[1] and "\n" not in msg
    assert all(s.startswith(provider + ":") for s in err.suggestions)
    for s in err.suggestions:
        resolve_location(s)
    if not err.suggestions:  # the examples shown resolve too
        listed = msg.split("valid names include ", 1)[1].split(" (see ", 1)[0]
        for example in listed.split(f", {provider}:"):
            key = example if example.startswith(provider + ":") else f"{provider}:{example}"
            assert resolve_location(key.split(" (", 1)[0]).kind == "cloud"


@pytest.mark.parametrize("text", ["zone:XX", "zone:", "zone:SE9"])
def test_an_unknown_zone_lists_zones(text: str) -> None:
    msg = str(_error(text))
    assert "SE" in msg.split(";", 1)[1] or "NO" in msg.split(";", 1)[1], msg
    for s in _error(text).suggestions:
        assert resolve_location(s).kind == "zone"


# -- forgiving region ids ---------------------------------------------------------------------------------------
def test_no_two_regions_of_a_provider_share_a_normalised_id() -> None:
    seen: dict[tuple[str, str], str] = {}
    for loc in locations("cloud"):
        prov, region = loc.key.split(":", 1)
        form = region_id_form(region)
        assert (prov, form) not in seen, (loc.key, seen.get((prov, form)))
        seen[prov, form] = loc.key
    zones = [normalise_name(z.key.replace("zone:", "")) for z in locations("zone")]
    assert len(zones) == len(set(zones))


def _variants(region: str) -> set[str]:
    return {region, region.upper(), region.title(), region.replace("-", " "), region.replace("-", "_"),
            region.replace("-", "").upper(), f" {region} "}


def test_every_cloud_key_resolves_in_its_spelling_variants() -> None:
    for loc in locations("cloud"):
        prov, region = loc.key.split(":", 1)
        for v in _variants(region):
            assert resolve_location(f"{prov}:{v}").key == loc.key, (prov, v)
            assert resolve_location(f"{prov.upper()}:{v}").key == loc.key, (prov, v)


@pytest.mark.parametrize(("text", "key"), [
    ("azure:west europe", "azure:westeurope"), ("azure:West-Europe", "azure:westeurope"),
    ("azure:WEST_EUROPE", "azure:westeurope"), ("aws:us east 1", "aws:us-east-1"), ("aws:us_east_1", "aws:us-east-1"),
    ("aws:US-EAST-1", "aws:us-east-1"), ("aws:useast1", "aws:us-east-1"), ("gcp:Europe West4", "gcp:europe-west4"),
    ("microsoft azure:westeurope", "azure:westeurope"), ("zone:se 3", "SE3"), ("zone:no-1", "NO1"),
    ("zone:fi", "zone:FI"),
])
def test_region_and_zone_spellings(text: str, key: str) -> None:
    assert resolve_location(text).key == key


def test_every_zone_key_resolves_with_and_without_the_prefix() -> None:
    for loc in locations("zone"):
        assert resolve_location(loc.key).key == loc.key
        bare = loc.key.replace("zone:", "")
        assert resolve_location(f"zone:{bare}").key == loc.key
        assert resolve_location(f"zone:{bare.lower()}").key == loc.key


@pytest.mark.parametrize(("text", "key"), [("us_east_1", "aws:us-east-1"), ("US EAST 1", "aws:us-east-1"),
                                           ("West Europe", "azure:westeurope"), ("europe_west4", "gcp:europe-west4")])
def test_a_bare_region_id_is_read_in_its_spelling_variants_and_said(text: str, key: str) -> None:
    from wattprint.intensity import resolve_location_noted

    loc, notes = resolve_location_noted(text)
    assert loc.key == key and notes and "read as" in notes[0].note


def test_a_bare_id_two_providers_share_once_normalised_is_ambiguous() -> None:
    with pytest.raises(AmbiguousNameError) as e:
        resolve_location("useast1")  # aws:us-east-1 and gcp:us-east1
    assert {"aws:us-east-1", "gcp:us-east1"} <= set(e.value.suggestions)
    assert resolve_location("us-east-1").key == "aws:us-east-1"  # the exact id is not


# -- a name cut short ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["US-", "us-", "US - ", "CA-", "US_", "France:", "FR-", "-"])
def test_a_trailing_separator_with_nothing_after_is_an_error(text: str) -> None:
    err = _error(text)
    assert "nothing after" in str(err)
    for s in err.suggestions:
        resolve_location(s)


def test_us_dash_suggests_the_country_and_its_grids() -> None:
    err = _error("US-")
    assert resolve_location(err.suggestions[0]).key == "USA"
    assert any(resolve_location(s).kind == "subnational" for s in err.suggestions)


def test_a_name_with_a_comma_is_suggested_by_its_code() -> None:
    err = _error("Virgin Islandz")
    assert "Virgin Islands, U.S." not in err.suggestions
    assert "VIR (Virgin Islands, U.S.)" in str(err)


def test_the_cli_says_it_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("US East (N. Virginia)", "gcp:nope", "US-"):
        code = main(["estimate", "training", "--chip-hours", "100", "--hardware", "A100", "--location", text])
        err = capsys.readouterr().err.strip()
        assert code == 2 and "\n" not in err and "valid names" in err, err


@pytest.mark.parametrize("text", ["123", ":", "\U0001f1eb\U0001f1f7", "x" * 300, "::::"])
def test_a_name_close_to_no_location_shows_valid_names_of_each_form(text: str) -> None:
    """Nothing is close to '123' or a flag emoji: the error showed only the forms in words, no valid name."""
    msg = str(_error(text))
    assert "valid names include France, FR, US-CA, SE3, aws:us-east-1, gcp:europe-west4, World" in msg


def test_the_example_locations_each_resolve() -> None:
    from wattprint.intensity.locations import EXAMPLES

    for name in EXAMPLES:
        assert resolve_location(name) is not None


@pytest.mark.parametrize("text, country", [("US-ZZ", "USA"), ("US-CAL", "USA"), ("CA-XX", "CAN")])
def test_an_unknown_grid_of_a_known_country_suggests_that_countrys_grids(text: str, country: str) -> None:
    """'US-ZZ' was answered with Arizona, United States, Uzbekistan, Eswatini, Australia: names spelled alike."""
    err = _error(text)
    places = [resolve_location(s) for s in err.suggestions]
    assert places[-1].key == country
    assert all(p.kind == "subnational" and p.country_iso3 == country for p in places[:-1]) and len(places) > 1
    assert "grids below the country have data" in str(err)


@pytest.mark.parametrize("text, country", [("DE-BY", "DEU"), ("FR-75", "FRA"), ("GB-ENG", "GBR")])
def test_a_grid_of_a_country_without_sub_national_data_suggests_the_country(text: str, country: str) -> None:
    err = _error(text)
    assert [resolve_location(s).key for s in err.suggestions] == [country]
    assert "no grid below the country has data" in str(err)
