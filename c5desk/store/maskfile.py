"""Mask image files of a labelled folder, read as (H, W) bool, refusing any whose meaning is a guess.

A mask is two-valued: 0/255 (or 0 and the type's maximum, e.g. 0/65535), 0/1, or boolean. A file with other
values is refused, naming them: values 0..3 are a label map (background plus several classes), and any
threshold would silently turn it into an empty or a wrong mask. JPEG is lossy, so a JPEG mask may have
noise near its two levels: it is accepted when nearly all its pixels lie near one of them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from c5desk.store.records import StoreError

LOSSY = (".jpg", ".jpeg", ".jpe")
NEAR_LEVELS = 0.99  # share of a JPEG mask's pixels that must lie in the outer quarters of the range
SHOWN_VALUES = 6


def read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A mask image as (H, W) bool of exactly `shape`; StoreError when unreadable, of another size or not
    two-valued (see the module doc)."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise StoreError(f"mask {path.name} cannot be read ({exc.strerror})") from exc
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if array is None:
        raise StoreError(f"mask {path.name} is not a readable image")
    if array.ndim == 3:
        array = array[..., :3].max(axis=2)  # any colour channel (alpha ignored)
    if array.shape != tuple(shape):
        raise StoreError(
            f"mask {path.name} is {array.shape[1]}x{array.shape[0]} but the image is {shape[1]}x{shape[0]}"
        )
    return binary_mask(array, path.name, lossy=path.suffix.lower() in LOSSY)


def binary_mask(array: np.ndarray, name: str, lossy: bool = False) -> np.ndarray:
    """The foreground of a two-valued mask array; StoreError naming the values when it is not one."""
    if array.dtype == bool:
        return array.copy()
    top = np.iinfo(array.dtype).max if np.issubdtype(array.dtype, np.integer) else 1.0
    values = np.unique(array)
    if set(values.tolist()) <= {0, 1} or set(values.tolist()) <= {0, 255, top}:
        return array > 0
    if lossy and np.issubdtype(array.dtype, np.integer):
        near = (array <= top // 4) | (array >= top - top // 4)
        if near.mean() >= NEAR_LEVELS:
            return array > top // 2
    shown = ", ".join(f"{v:g}" for v in values[:SHOWN_VALUES].tolist())
    more = f", ... ({len(values)} distinct values)" if len(values) > SHOWN_VALUES else ""
    raise StoreError(
        f"mask {name} holds the values {shown}{more}; a mask must be 0/255 or 0/1"
        " (several values, e.g. 0-3, are a label map and would be read wrongly)"
    )
