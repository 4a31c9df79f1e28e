"""The embedded tables: reproducible from ../shared/data, modest in size, and loaded lazily."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "src" / "wattprint" / "data" / "tables"
SHARED = REPO.parent / "shared" / "data"
# tables written by scripts/build_data.py (other modules may add their own tables beside them)
BUILT = ["accelerators.json", "countries.json", "cpus.json", "factors.json", "mixes.json", "models.json",
         "regions.json"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")
def test_build_reproduces_committed_tables(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    subprocess.run([sys.executable, str(REPO / "scripts" / "build_data.py"), "--shared", str(SHARED), "--out",
                    str(out)], check=True, capture_output=True)
    built = sorted(p.name for p in out.glob("*.json"))
    assert built == BUILT
    for name in built:
        assert filecmp.cmp(out / name, TABLES / name, shallow=False), f"{name} differs: rerun scripts/build_data.py"


def test_tables_are_compact_and_carry_sources() -> None:
    import json

    total = sum((TABLES / n).stat().st_size for n in BUILT)
    assert total < 1.5 * 1024 * 1024
    for p in (TABLES / n for n in BUILT):
        meta = json.loads(p.read_text(encoding="utf-8"))["meta"]
        assert meta, p.name


def test_excluded_sources_are_not_embedded() -> None:
    text = "".join((TABLES / n).read_text(encoding="utf-8") for n in BUILT)
    assert "globalpetrolprices" not in text
    assert "world_energy_mix.csv" not in text.replace("global_energy_mix", "")


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_importing_data_and_intensity_loads_no_table() -> None:
    out = _run(
        "import wattprint.data as d, wattprint.intensity as i\n"
        "print(d.load_table.cache_info().currsize, i._records.cache_info().currsize)"
    )
    assert out == "0 0"


def test_tables_load_on_first_use_and_are_cached() -> None:
    out = _run(
        "import wattprint.data as d\n"
        "d.find_accelerator('A100'); d.find_accelerator('H100')\n"
        "print(d.load_table.cache_info().misses, 'countries' in str(d.load_table.cache_info()))"
    )
    assert out.split()[0] == "1"


def test_importing_wattprint_does_not_import_the_data_package() -> None:
    out = _run("import sys, wattprint\nprint('wattprint.data' in sys.modules, 'wattprint.intensity' in sys.modules)")
    assert out == "False False"


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_cited_sources_never_point_into_the_build_only_reference_folder() -> None:
    """A user's assumptions cite publications: ``shared/data`` exists only where the tables are built, so a source
    that points there (rather than to what that file cites) names nothing the user can read. Table ``meta`` keeps
    build provenance and is exempt."""
    import json

    leaks = []
    for p in sorted(TABLES.glob("*.json")):
        body = {k: v for k, v in json.loads(p.read_text(encoding="utf-8")).items() if k != "meta"}
        leaks += [f"{p.name}: {s[:120]}" for s in _strings(body) if "shared/data" in s]
    for model in sorted((REPO / "src" / "wattprint" / "estimate").glob("*.csv")):
        leaks += [f"{model.name}: {line[:120]}" for line in model.read_text(encoding="utf-8").splitlines()
                  if "shared/data" in line]
    assert not leaks, "\n".join(leaks)
