"""Videos through OpenCV: frame counts that may lie, sequential reads with seeks on demand, RGB order."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.errors import ReadError
from c5desk.io import open_source

FRAMES = 12
LEVEL_STEP = 20  # frame i is grey level 20 * i (distinct even after lossy coding)


def _write_video(path: Path, fourcc: str) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (64, 48))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc}"
    for index in range(FRAMES):
        bgr = np.full((48, 64, 3), LEVEL_STEP * index, np.uint8)
        bgr[:, :16] = (0, 0, 255)  # a red band on the left (BGR order on write)
        writer.write(bgr)
    writer.release()
    return path


@pytest.fixture(params=[("clip.avi", "MJPG"), ("clip.mp4", "mp4v")], ids=["avi", "mp4"])
def video(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    name, fourcc = request.param
    return _write_video(tmp_path / name, fourcc)


def _level(frame_pixels: np.ndarray) -> float:
    return float(frame_pixels[:, 24:].mean())


def test_video_frames_in_any_order(video: Path) -> None:
    with open_source(video) as source:
        assert len(source) == FRAMES
        info = source.info()
        assert (info["kind"], info["rows"], info["cols"], info["display"]) == ("video", 48, 64, "rgb")
        assert info["metadata"]["frame_time_ms"] == pytest.approx(100.0)
        for index in (0, 7, 3, 11, 4, 5):  # jumps back and forth, then a sequential step
            frame = source.frame(index)
            assert frame.index == index
            assert _level(frame.pixels) == pytest.approx(LEVEL_STEP * index, abs=6)
        band = source.frame(0).pixels[:, :12].reshape(-1, 3).mean(axis=0)
        assert band[0] > 200 and band[2] < 60  # red stays red: BGR converted to RGB
        assert len({frame.source_id for frame in source}) == FRAMES


class _LyingCapture:
    """A capture whose container claims a wrong frame count."""

    real = cv2.VideoCapture

    def __init__(self, path: str, claimed: int, *backend: int) -> None:
        self._capture = self.real(path, *backend)
        self._claimed = claimed

    def get(self, prop: int) -> float:
        return float(self._claimed) if prop == cv2.CAP_PROP_FRAME_COUNT else self._capture.get(prop)

    def __getattr__(self, name: str) -> object:
        return getattr(self._capture, name)


@pytest.mark.parametrize("claimed", [0, -1, 5, 30])
def test_wrong_frame_count_is_corrected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, claimed: int
) -> None:
    path = _write_video(tmp_path / "clip.avi", "MJPG")
    monkeypatch.setattr(cv2, "VideoCapture", lambda p, *backend: _LyingCapture(p, claimed, *backend))
    with open_source(path) as source:
        assert len(source) == FRAMES
        assert _level(source.frame(FRAMES - 1).pixels) == pytest.approx(LEVEL_STEP * (FRAMES - 1), abs=6)


def test_truncated_video_is_a_read_error_or_fewer_frames(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "clip.mp4", "mp4v")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    try:
        source = open_source(path)
    except ReadError:
        return
    frames = [source.frame(i) for i in range(len(source))]  # whatever opened must decode
    assert 0 < len(frames) <= FRAMES


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_file_that_is_not_a_video(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"notes{suffix}"
    path.write_text("not a video at all\n" * 20)
    with pytest.raises(ReadError, match="video cannot be opened"):
        open_source(path)


class _SeekCountingCapture(_LyingCapture):
    def __init__(self, path: str, *backend: int) -> None:
        super().__init__(path, FRAMES, *backend)
        self.seeks: list[float] = []

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_POS_FRAMES:
            self.seeks.append(value)
        return self._capture.set(prop, value)


def test_sequential_reading_does_not_seek(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    captures: list[_SeekCountingCapture] = []
    monkeypatch.setattr(
        cv2, "VideoCapture", lambda p, *b: captures.append(_SeekCountingCapture(p, *b)) or captures[-1]
    )
    with open_source(_write_video(tmp_path / "clip.avi", "MJPG")) as source:
        opened_with = len(captures[0].seeks)  # the frame-count check at open
        for index in range(FRAMES):
            source.frame(index)
        assert len(captures[0].seeks) == opened_with
        source.frame(2)  # a jump back seeks once
        assert captures[0].seeks[opened_with:] == [2]
