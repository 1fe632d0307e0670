"""Burned-in PHI never enters the store: frames are cleaned on the way in (and so in every export),
unless the user asks for the original pixels with keep_identity.

The real files' text is located as in tests/io/test_deidentify.py: near-white pixels inside rectangles
checked by eye on renderings; synthetic text is exactly what cv2.putText drew.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from store_helpers import blob_mask

from c5desk.cli import main
from c5desk.io import open_source
from c5desk.io.frame import Frame
from c5desk.store import Store
from c5desk.store.db import Database
from c5desk.store.files import ObjectFiles
from c5desk.store.frames import CLEANING, PIXELS_CLEANED, Frames
from c5desk.store.store import DATABASE

pydicom_data = pytest.importorskip("pydicom.data")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

REAL_TEXT = {
    "US1_UNCR.dcm": [(0, 0, 640, 104), (240, 355, 370, 380)],  # BAPTIST MED CTR ...; LYMPH NODE
    "OBXXXX1A.dcm": [(0, 0, 800, 58), (122, 84, 308, 106)],  # PHILIPS, date; + Cist Mag (in the region)
    "gdcm-US-ALOKA-16.dcm": [(0, 0, 640, 22), (248, 32, 334, 63)],  # *WESTWAY MEDICAL*; 127/128 20Hz
}


def _sample(name: str) -> Path:
    found = pydicom_data.get_testdata_file(name, download=False)
    if not found:
        pytest.skip(f"{name} not available: install the test dependency pydicom-data")
    return Path(found)


def _first_frame(path: Path) -> Frame:
    with warnings.catch_warnings(), open_source(path) as source:
        warnings.simplefilter("ignore")
        return source.frame(0)


def _text_pixels(pixels: np.ndarray, name: str) -> np.ndarray:
    """The near-white pixels of the file's text rectangles, as a mask of the frame."""
    values = pixels.astype(np.int32).reshape(*pixels.shape[:2], -1)
    white = (values.min(axis=2) >= 150) & (np.ptp(values, axis=2) <= 30)
    inside = np.zeros(white.shape, bool)
    for x0, y0, x1, y1 in REAL_TEXT[name]:
        inside[y0:y1, x0:x1] = True
    return white & inside


def _scan_with_text() -> tuple[Frame, np.ndarray]:
    """A synthetic frame: a speckled fan with a name outside and a date over it; (frame, text mask)."""
    rng = np.random.default_rng(7)
    fan = np.zeros((360, 480), np.uint8)
    cv2.ellipse(fan, (240, 30), (320, 320), 90, -35, 35, 1, -1)
    grey = np.where(fan > 0, np.clip(rng.rayleigh(30, fan.shape), 1, 200), 0).astype(np.uint8)
    text = np.zeros_like(grey)
    for target in (grey, text):
        cv2.putText(target, "DOE^JANE 1961", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1)
        cv2.putText(target, "12/03/2024 09:41", (170, 200), cv2.FONT_HERSHEY_SIMPLEX, 0.5, 255, 1)
    frame = Frame(grey, grey.copy(), 0, (0.2, 0.2), None, "synthetic-phi-0001", {"format": "synthetic"})
    return frame, text > 0


def test_imported_dicom_frames_hold_cleaned_pixels(tmp_path):
    paths = {name: _sample(name) for name in REAL_TEXT}
    assert main(["import", str(tmp_path / "store"), *map(str, paths.values())]) == 0
    with Store.open(tmp_path / "store") as store:
        for name, path in paths.items():
            original = _first_frame(path)
            text = _text_pixels(original.pixels, name)
            assert text.sum() > 500  # the file does carry burned-in text
            stored = store.frame(store.frame_id_for(original.source_id))
            assert not stored.pixels[text].any() and not stored.grey[text].any(), name
            assert stored.meta[PIXELS_CLEANED] is True
            assert stored.meta[CLEANING]["region_source"] in ("dicom", "detected")
            kept = (stored.pixels == original.pixels).all(axis=2).mean()
            assert 0.3 < kept < 1.0  # the surround went, the scan stayed


def test_add_frame_cleans_by_default_and_exports_carry_no_text(tmp_path):
    frame, text = _scan_with_text()
    before = frame.pixels.copy()
    with Store.create(tmp_path / "store") as store:
        frame_id = store.add_frame(frame)
        store.save_annotation(frame_id, blob_mask(1, frame.shape), "benign")
        stored = store.frame(frame_id)
        assert not stored.pixels[text].any() and not stored.grey[text].any()
        assert stored.meta[PIXELS_CLEANED] is True and stored.meta[CLEANING]["text_boxes"]
        assert stored.meta["format"] == "synthetic"  # the frame's own metadata kept beside it
    assert np.array_equal(frame.pixels, before) and PIXELS_CLEANED not in frame.meta  # caller's frame intact
    assert main(["export", str(tmp_path / "store"), "--format", "coco", "--out", str(tmp_path / "out")]) == 0
    exported = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in (tmp_path / "out").rglob("*.png")]
    images = [image for image in exported if image is not None and image.shape[:2] == frame.shape]
    assert images and all(not image[text].any() for image in images)


def test_keep_identity_stores_the_original_pixels(tmp_path):
    frame, text = _scan_with_text()
    Store.create(tmp_path / "store").close()
    db = Database(tmp_path / "store" / DATABASE)
    try:
        frame_id = Frames(db, ObjectFiles(tmp_path / "store")).add(frame, keep_identity=True)
    finally:
        db.close()
    with Store.open(tmp_path / "store") as store:
        stored = store.frame(frame_id)
        assert np.array_equal(stored.pixels, frame.pixels) and np.array_equal(stored.grey, frame.grey)
        assert stored.pixels[text].all()
        assert stored.meta[PIXELS_CLEANED] is False and CLEANING not in stored.meta


def test_import_keep_identity_flag_keeps_the_originals(tmp_path, capsys):
    path = _sample("US1_UNCR.dcm")
    assert main(["import", str(tmp_path / "store"), str(path), "--keep-identity"]) == 0
    assert "identifying" in capsys.readouterr().err
    original = _first_frame(path)
    with Store.open(tmp_path / "store") as store:
        stored = store.frame(store.frame_id_for(original.source_id))
        assert np.array_equal(stored.pixels, original.pixels) and stored.meta[PIXELS_CLEANED] is False


@pytest.mark.parametrize("fmt", ["coco", "labelled-folder", "report", "dicom-seg"])
def test_a_store_kept_with_identity_still_exports_cleaned_pixels(tmp_path, fmt):
    frame, text = _scan_with_text()
    with Store.create(tmp_path / "store") as store:
        frame_id = store.add_frame(frame, keep_identity=True)  # as `import --keep-identity` or a 0.2 store
        store.save_annotation(frame_id, blob_mask(1, frame.shape), "benign")
        assert store.frame(frame_id).pixels[text].all()
    assert main(["export", str(tmp_path / "store"), "--format", fmt, "--out", str(tmp_path / "out")]) == 0
    images = [
        _exported_pixels(path)
        for path in (tmp_path / "out").rglob("*")
        if path.suffix in (".png", ".dcm") and "mask" not in path.as_posix()  # masks are not the frame
    ]
    frames = [image for image in images if image is not None and image.shape[:2] == frame.shape]
    assert frames and all(not image[text].any() for image in frames), fmt


def _exported_pixels(path: Path) -> np.ndarray | None:
    if path.suffix == ".png":
        return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    import pydicom

    dataset = pydicom.dcmread(path)
    holds_frame = "PixelData" in dataset and dataset.Modality != "SEG"  # a SEG holds masks, an SR no pixels
    return dataset.pixel_array if holds_frame else None
