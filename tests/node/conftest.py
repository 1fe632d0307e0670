"""Fixtures for the DICOM node tests: a store, a real (tiny, random) model, and a lesion stand-in."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from node_helpers import LesionModel

from c5desk.model.bundle import make_random_bundle
from c5desk.store import Store

for _noisy in ("pynetdicom", "highdicom"):  # their INFO lines would drown a failing test's log
    logging.getLogger(_noisy).setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=64)


@pytest.fixture(scope="session")
def predictor(tiny_bundle: Path):
    """A real Predictor (PyTorch on the CPU): the node's own scoring path."""
    from c5desk.inference import make_predictor

    return make_predictor(tiny_bundle, device="cpu", backend="torch")


@pytest.fixture
def lesion_model() -> LesionModel:
    return LesionModel()


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "store", create=True) as opened:
        yield opened
