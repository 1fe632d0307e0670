"""A COCO segmentation (RLE, compressed or not, or polygons) as a boolean mask of a known image size.

Compressed RLE strings are decoded here, in Python, rather than by pycocotools: its C decoder trusts the
counts and writes past the mask when they add up to more pixels than the size says, so a corrupt file
could crash the app. Here the counts are checked first (each >= 0, summing to exactly height x width).
Polygons are checked (finite numbers, at least three points) and drawn by pycocotools, whose RLEs are
well formed by construction.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from c5desk.store.records import StoreError

MAX_POLYGONS = 1000  # per annotation; a lesion outline is one or a few


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """The mask (height x width, bool) of a COCO segmentation; StoreError saying what is wrong."""
    if isinstance(segmentation, dict):
        return _rle_mask(segmentation, height, width)
    if isinstance(segmentation, list) and segmentation:
        return _polygon_mask(segmentation, height, width)
    raise StoreError("has no segmentation (a box alone is not an outline)")


def _rle_mask(rle: dict[str, Any], height: int, width: int) -> np.ndarray:
    size = rle.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(_whole(v) for v in size)):
        raise StoreError("segmentation RLE has no [height, width] size")
    if (int(size[0]), int(size[1])) != (height, width):
        raise StoreError(
            f"segmentation is {size[1]}x{size[0]} but the image is {width}x{height} (width x height)"
        )
    counts = rle.get("counts")
    if isinstance(counts, str):
        counts = rle_string_counts(counts)
    elif not (isinstance(counts, list) and all(_whole(v) for v in counts)):
        raise StoreError("segmentation RLE counts are neither a COCO string nor a list of whole numbers")
    if any(count < 0 for count in counts) or sum(counts) != height * width:
        raise StoreError(f"segmentation RLE is corrupt: its counts do not cover the {width}x{height} image")
    values = np.repeat(np.arange(len(counts)) % 2 == 1, np.asarray(counts, dtype=np.int64))
    return values.reshape(width, height).T.copy()  # COCO runs go down the columns


def rle_string_counts(text: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string (pycocotools' rleFrString, with bounds checked)."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(text) or not 48 <= ord(text[position]) < 112:
                raise StoreError("segmentation RLE string is corrupt")
            char = ord(text[position]) - 48
            value |= (char & 0x1F) << shift
            more = bool(char & 0x20)
            position, shift = position + 1, shift + 5
            if shift > 60:
                raise StoreError("segmentation RLE string is corrupt")
            if not more and char & 0x10:
                value -= 1 << shift  # the sign bit: a negative difference
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def _polygon_mask(polygons: list[Any], height: int, width: int) -> np.ndarray:
    if len(polygons) > MAX_POLYGONS:
        raise StoreError(f"segmentation has {len(polygons)} polygons; at most {MAX_POLYGONS} are read")
    checked = []
    for polygon in polygons:
        if not (isinstance(polygon, list) and len(polygon) >= 6 and len(polygon) % 2 == 0):
            raise StoreError("segmentation polygon is not a list of at least three x, y points")
        if not all(_number(v) for v in polygon):
            raise StoreError("segmentation polygon holds something other than finite numbers")
        checked.append([float(v) for v in polygon])
    rles = coco_mask.frPyObjects(checked, height, width)
    return coco_mask.decode(coco_mask.merge(rles)).astype(bool)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
