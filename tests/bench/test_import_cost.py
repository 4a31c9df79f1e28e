"""`import wattprint` stays light: no heavy library is imported (behaviour, not timing; timings live in bench/).

Each check runs in a fresh interpreter, so modules imported by pytest or other tests cannot hide or fake a result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
# Libraries the issue forbids at `import wattprint` (top-level package names).
FORBIDDEN = ("pandas", "numpy", "torch", "matplotlib", "plotly", "fastapi", "flask", "dash")


def modules_after(statement: str, extra_path: Path | None = None) -> set[str]:
    """Names in sys.modules after running `statement` in a fresh interpreter."""
    paths = [str(SRC)] + ([str(extra_path)] if extra_path else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTHONSTARTUP", None)
    code = f"import sys, json\n{statement}\nprint('@@' + json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@"))
    return set(json.loads(line[2:]))


def heavy(mods: set[str]) -> list[str]:
    return sorted(m for m in mods if m.split(".")[0] in FORBIDDEN)


def test_import_wattprint_imports_no_heavy_library() -> None:
    mods = modules_after("import wattprint")
    assert "wattprint" in mods
    assert heavy(mods) == []


def test_public_metadata_does_not_trigger_lazy_imports() -> None:
    mods = modules_after("import wattprint\nwattprint.__version__\ndir(wattprint)")
    assert heavy(mods) == []
    assert "wattprint.tracking" not in mods  # lazy names stay unloaded until used


def test_tracker_core_imports_no_heavy_library() -> None:
    """The tracker's own import path (what `wattprint.track` loads) stays framework-free too."""
    mods = modules_after("import wattprint\ntry:\n    wattprint.track\nexcept (AttributeError, ImportError):\n"
                         "    sys.modules.pop('wattprint.tracking', None)")
    if "wattprint.tracking" not in mods:
        pytest.skip("wattprint.track is not implemented in this tree yet")
    assert heavy(mods) == []


def test_the_check_detects_a_heavy_import(tmp_path: Path) -> None:
    """Guard against a vacuous pass: a (stand-in) numpy imported by the statement is reported."""
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "__init__.py").write_text("")
    (tmp_path / "numpy" / "linalg.py").write_text("")
    mods = modules_after("import wattprint\nimport numpy.linalg", extra_path=tmp_path)
    assert heavy(mods) == ["numpy", "numpy.linalg"]


def test_a_run_on_a_host_without_accelerators_or_powercap_loads_only_what_it_uses(tmp_path: Path) -> None:
    """A tracked run that finds no powercap tree and is asked for no GPU library loads neither the RAPL reader
    nor the hardware-name resolver, nor the progress/projection and sample-merging modules it never calls."""
    sysfs = tmp_path / "sys"
    (sysfs / "class").mkdir(parents=True)
    code = (
        "import wattprint\n"
        "from wattprint.devices import DeviceConfig, detect_readers\n"
        f"readers, notes = detect_readers(DeviceConfig(sysfs_root={str(sysfs)!r}, use_nvml=False, use_amdsmi=False))\n"
        f"run = wattprint.track(project='p', db={str(tmp_path / 'w.db')!r}, location='FRA', readers=readers)\n"
        "run.start(); run.stop()"
    )
    mods = modules_after(code)
    assert "wattprint.tracking.sampler" in mods  # the run did go through the tracker
    for lazy in ("wattprint.devices.rapl", "wattprint.data.hardware_names", "wattprint.tracking.progress",
                 "wattprint.tracking.projection", "wattprint.storage.downsample"):
        assert lazy not in mods, lazy
    (sysfs / "class" / "powercap").mkdir()  # a powercap tree (here empty): RAPL is looked for, so not vacuous
    assert "wattprint.devices.rapl" in modules_after(code)


def test_a_new_run_builds_no_list_of_closest_run_ids(tmp_path: Path) -> None:
    """A run id given for a resumable job is usually new when the run starts: looking it up finds nothing,
    quietly; the error path's did-you-mean machinery (difflib) is not loaded for it. Asking for an unknown run
    still suggests (not vacuous)."""
    start = (
        "import wattprint\n"
        f"run = wattprint.track(project='p', run='job-42', db={str(tmp_path / 'w.db')!r}, location='FRA')\n"
        "run.start(); run.stop()\n"
    )
    assert "difflib" not in modules_after(start)
    lookup = start + (
        "from wattprint.storage import open_store\n"
        f"store = open_store({str(tmp_path / 'w.db')!r})\n"
        "try:\n    store.get_run('no-such-run')\nexcept wattprint.WattprintError:\n    pass\n"
    )
    assert "difflib" in modules_after(lookup)


def test_detection_loads_no_gpu_reader_where_no_vendor_library_can_answer(tmp_path: Path) -> None:
    """On a host with no NVIDIA driver and no amdsmi package, detection (GPU libraries allowed) imports neither
    vendor's reader module; with a pynvml module present (a fake) the NVIDIA reader is loaded and asked."""
    from wattprint.devices.drivers import NVIDIA_DRIVER_PATHS

    if any(os.path.exists(p) for p in NVIDIA_DRIVER_PATHS):
        pytest.skip("this host has an NVIDIA driver")
    fakes = Path(__file__).resolve().parents[1] / "devices" / "fakes"
    code = (
        "import os\n"
        "os.environ.pop('WATTPRINT_NVML', None)\n"
        "from wattprint.devices import DeviceConfig, detect_readers\n"
        f"readers, notes = detect_readers(DeviceConfig(sysfs_root={str(tmp_path)!r}))\n"
    )
    mods = modules_after(code)
    assert "wattprint.devices.nvidia" not in mods
    if "amdsmi" not in mods:  # no amdsmi package here
        assert "wattprint.devices.amd" not in mods
    with_fake = (f"import sys\nsys.path.insert(0, {str(fakes)!r})\n"
                 "import fake_pynvml\nsys.modules['pynvml'] = fake_pynvml\n")
    assert "wattprint.devices.nvidia" in modules_after(with_fake + code)
