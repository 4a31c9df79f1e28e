"""Settings of the environment the tests run in that would reach wattprint's defaults: a developer's own
XDG_DATA_HOME (their default store) or WATTPRINT_DB made a test that expects no store find theirs. Each test
starts without them (XDG_STATE_HOME points to a folder of the session's own); a test that wants one sets it
(monkeypatch, or the env of the process it starts)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

OUTSIDE_SETTINGS = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "WATTPRINT_DB", "WATTPRINT_LOCATION",
                    "WATTPRINT_PUE", "WATTPRINT_INTENSITY", "WATTPRINT_CONFIG", "WATTPRINT_STATE_DIR")


@pytest.fixture(autouse=True, scope="session")
def _without_outside_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for var in OUTSIDE_SETTINGS:
            if var in os.environ:
                mp.delenv(var)
        # a store's fallback spill folder (storage.url.fallback_spill_dir) is under it: never the developer's
        mp.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
        yield
