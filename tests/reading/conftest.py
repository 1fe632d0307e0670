"""What the reading tests share: a real breast ultrasound frame (the bundled sample) and a fresh store."""

from __future__ import annotations

from pathlib import Path

import pytest

from c5desk.io import open_source
from c5desk.io.frame import Frame
from c5desk.settings import RESOURCES
from c5desk.store import Store

SAMPLE = RESOURCES / "samples" / "bus_sample.png"


@pytest.fixture(scope="module")
def frame() -> Frame:
    with open_source(SAMPLE) as source:
        return source.frame(0)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "dataset", create=True) as opened:
        yield opened
