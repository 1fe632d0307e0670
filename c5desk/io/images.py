"""Still images (PNG, JPEG, BMP, TIFF incl. multi-page): Pillow reads headers and most pixels; OpenCV
decodes 16-bit colour, which Pillow would truncate to 8 bits."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from c5desk.errors import ReadError
from c5desk.io.frame import Frame
from c5desk.io.greyscale import display_pixels, to_grey
from c5desk.io.ids import source_id
from c5desk.io.limits import MAX_PIXELS_PER_FRAME, FrameLayout, check_decode
from c5desk.io.source import Source, describe, one_line

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
PILLOW_FORMATS = frozenset({"PNG", "JPEG", "MPO", "BMP", "TIFF"})  # MPO: JPEG with extra pictures

_GREY_MODES = frozenset({"1", "L", "I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
_COLOUR_MODELS = {
    "LA": "grey+alpha",
    "P": "palette",
    "PA": "palette+alpha",
    "RGBa": "rgba",
}  # else lower-case
_MODE_BITS = {"1": 1, "I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32}


def open_pillow(name: str, data: bytes) -> Image.Image:
    """Parse only the header; our own pixel limit replaces Pillow's decompression-bomb warning."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ReadError(f"{name}: image is over the {MAX_PIXELS_PER_FRAME / 1e6:.0f} MP limit") from exc
    except UnidentifiedImageError as exc:
        raise ReadError(f"{name}: not an image, DICOM or video file this program can read") from exc
    if image.format not in PILLOW_FORMATS:
        raise ReadError(f"{name}: {image.format} images are not supported (PNG, JPEG, BMP or TIFF expected)")
    return image


def _is_wide_colour(image: Image.Image, data: bytes) -> bool:
    """16-bit RGB(A) PNG/TIFF, which Pillow reduces to 8 bits."""
    if image.format == "PNG":
        return len(data) > 25 and data[24] == 16 and data[25] in (2, 6)  # IHDR bit depth, colour type
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return int(image.tag_v2.get(277, 1)) >= 3 and max(bits) > 8
    return False


def pillow_pixels(image: Image.Image) -> np.ndarray:
    """Pillow image -> (H, W) grey or (H, W, 3) RGB array; alpha dropped, palettes expanded."""
    mode = image.mode
    if mode in ("1", "LA"):
        image, mode = image.convert("L"), "L"
    elif mode not in ("L", "RGB") and not mode.startswith("I") and mode != "F":
        image, mode = image.convert("RGB"), "RGB"
    array = np.asarray(image)
    if mode.startswith("I;16"):
        return array.astype(np.uint16)  # native byte order
    if mode == "I" and array.size and array.min() >= 0 and array.max() <= 0xFFFF:
        return array.astype(np.uint16)
    return array


def _cv2_pixels(data: bytes, page: int) -> np.ndarray:
    buffer = np.frombuffer(data, np.uint8)
    if page == 0:
        array = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    else:
        ok, mats = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED, range=(page, page + 1))
        array = mats[0] if ok and mats else None
    if array is None:
        raise ValueError("OpenCV could not decode the image data")
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2RGB if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return array


class ImageSource(Source):
    """One still image, or the pages of a multi-page TIFF."""

    kind = "image"

    def __init__(self, path: Path, data: bytes) -> None:
        super().__init__(path)
        self._data = data
        image = open_pillow(self.name, data)
        self._wide_colour = _is_wide_colour(image, data)
        check_decode(self.name, self._layout(image), held=len(data))
        self._format = "JPEG" if image.format == "MPO" else str(image.format)
        self._pages = int(getattr(image, "n_frames", 1)) if image.format == "TIFF" else 1
        self._mode = image.mode
        self._size = (image.height, image.width)
        self._key = hashlib.sha256(data).digest()

    def __len__(self) -> int:
        return self._pages

    def _decode(self, index: int) -> Frame:
        image = open_pillow(self.name, self._data)
        if index:
            image.seek(index)
            check_decode(self.name, self._layout(image), held=len(self._data))
        try:
            pixels = _cv2_pixels(self._data, index) if self._wide_colour else pillow_pixels(image)
        except OSError as exc:  # Pillow: truncated or corrupt data
            raise ReadError(f"{self.name}: image data is truncated or corrupt ({one_line(exc)})") from exc
        return Frame(
            pixels=display_pixels(pixels),
            grey=to_grey(pixels),
            index=index,
            mm_per_px=None,
            region=None,
            source_id=source_id(self._key, index),
            meta=self._metadata(),
        )

    def _layout(self, image: Image.Image) -> FrameLayout:
        """The decoded page as its header describes it (a palette is expanded to RGB)."""
        grey = image.mode in _GREY_MODES or image.mode == "LA"
        itemsize = 2 if self._wide_colour else max(1, _MODE_BITS.get(image.mode, 8) // 8)
        return FrameLayout(image.height, image.width, samples=1 if grey else 3, itemsize=itemsize)

    def _metadata(self) -> dict[str, Any]:
        return {"format": self._format, "mode": self._mode}

    def _describe(self) -> dict[str, Any]:
        colour = "grey" if self._mode in _GREY_MODES else _COLOUR_MODELS.get(self._mode, self._mode.lower())
        display = "grey" if colour.startswith("grey") else "rgb"
        bits = 16 if self._wide_colour else _MODE_BITS.get(self._mode, 8)
        return describe(self._format, len(self), self._size, colour, display, bits, self._metadata())
