"""Fixtures for the c5desk.io tests (helpers live in io_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Never write the developer's real config folder (the salt lives there)."""
    config = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("C5DESK_CONFIG", str(config))
    monkeypatch.delenv("C5DESK_SALT", raising=False)
    return config
