"""Suite-wide settings: no display, no hub, and a data root that skips cleanly when absent."""

from __future__ import annotations

import os

# Qt aborts without a display unless told to render offscreen; nothing may wait on a model hub.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import pytest

from c5desk.settings import data_root


@pytest.fixture(scope="session")
def busbra_root() -> Path:
    root = data_root() / "busbra"
    if not (root / "labels.csv").is_file():
        pytest.skip(f"BUS-BRA not found at {root} (set C5DESK_DATA to the shared data folder)")
    return root


@pytest.fixture(autouse=True)
def _private_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the per-user config (salt, settings, models) and cache of whoever runs the tests untouched."""
    monkeypatch.setenv("C5DESK_CONFIG", str(tmp_path_factory.getbasetemp() / "config"))
    monkeypatch.setenv("C5DESK_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
