"""Fixtures for the model tests: a tiny random bundle, a fresh copy per test so tests may damage it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from c5desk.model.bundle import make_random_bundle

TINY_SIZE = 64


@pytest.fixture(scope="session")
def _pristine_tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundles") / "tiny"
    return make_random_bundle(folder, arch="c5net_tiny", input_size=TINY_SIZE)


@pytest.fixture
def tiny_bundle(tmp_path: Path, _pristine_tiny_bundle: Path) -> Path:
    """A c5net_tiny bundle with random weights at input size 64 (FOR TESTS ONLY), private to the test."""
    return Path(shutil.copytree(_pristine_tiny_bundle, tmp_path / "tiny-bundle"))
