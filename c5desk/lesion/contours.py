"""Outline geometry of a binary lesion mask: validation, connected components, contours, pixel-exact hulls.

Coordinates are (x, y) in pixels with the centre of pixel [row, col] at (col, row): a pixel covers the square
[col - 0.5, col + 0.5] x [row - 0.5, row + 0.5]. Contours run through the centres of boundary pixels (what
cv2.findContours gives); hulls and edges that must measure a lesion from edge to edge, as calipers on the
screen do, use the pixel squares themselves. Drawing tools that put pixel i on [i, i + 1) (pyqtgraph's
ImageItem, QImage) must add 0.5 to these coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from c5desk.errors import MaskError

# Offsets from a pixel centre to its four corners, doubled so that hull arithmetic stays in exact integers.
_DOUBLED_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.int32)


def as_binary_mask(mask: object) -> np.ndarray:
    """Validate a lesion mask and return it as a C-contiguous uint8 array of 0/1, shape (H, W).

    Accepted: bool, or integers holding 0 and a single other non-negative value (0/1, 0/255).
    Rejected with MaskError: anything not 2-D, an empty array, floats (probabilities must be thresholded by
    the caller, who knows the operating point), and integer arrays with several non-zero values (a label map,
    a grey image or a JPEG-compressed mask would otherwise be measured silently wrong).
    """
    try:
        array = np.asarray(mask)
    except (ValueError, TypeError) as exc:
        raise MaskError(f"mask is not an array: {exc}") from None
    if array.ndim != 2:
        raise MaskError(
            f"mask must be 2-D (height, width); got a {array.ndim}-D array of shape {array.shape}"
        )
    if array.size == 0:
        raise MaskError(f"mask has no pixels (shape {array.shape})")
    if array.dtype == np.bool_:
        return np.ascontiguousarray(array).view(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        raise MaskError(
            f"mask is floating point ({array.dtype}); threshold probabilities first, e.g. `prob >= 0.5`"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise MaskError(f"mask dtype {array.dtype} is not supported; pass bool or integer 0/1 or 0/255")
    return _binarise_integer_mask(array)


def _binarise_integer_mask(array: np.ndarray) -> np.ndarray:
    low, high = array.min(), array.max()
    if low < 0:
        raise MaskError(f"mask has negative values (min {low}); pass 0/1 or 0/255")
    if high != 0 and np.any((array != 0) & (array != high)):
        values = np.unique(array)
        shown = ", ".join(str(v) for v in values[:6]) + (", ..." if values.size > 6 else "")
        raise MaskError(
            f"mask has {values.size} distinct values ({shown}); a binary mask holds 0 and one other value"
        )
    return (array != 0).view(np.uint8)


@dataclass(frozen=True, eq=False)
class Components:
    """8-connected components of a binary mask, ranked by pixel count (rank 0 = largest).

    labels: label image of the foreground's bounding box (0 = background; with one component, the 0/1 mask
    itself), whose pixel [0, 0] is frame pixel `origin` (x, y). label_by_rank, areas and boxes_xywh (frame
    coordinates) are indexed by rank; ties in area keep OpenCV's raster order, so ranking is deterministic.
    """

    labels: np.ndarray
    origin: tuple[int, int]
    label_by_rank: np.ndarray
    areas: np.ndarray
    boxes_xywh: np.ndarray

    @property
    def count(self) -> int:
        return int(self.areas.size)

    def label_at(self, x: int, y: int) -> int:
        return int(self.labels[y - self.origin[1], x - self.origin[0]])

    def crop(self, rank: int) -> tuple[np.ndarray, tuple[int, int]]:
        """The component of this rank as a uint8 0/1 crop with one pixel of background on every side.

        Returns (crop, (x0, y0)), where (x0, y0) is the frame position of the crop's pixel [0, 0].
        """
        x, y, w, h = (int(v) for v in self.boxes_xywh[rank])
        col, row = x - self.origin[0], y - self.origin[1]
        inside = self.labels[row : row + h, col : col + w] == self.label_by_rank[rank]
        padded = np.pad(inside, 1).view(np.uint8)
        return padded, (x - 1, y - 1)


def find_components(binary: np.ndarray) -> Components:
    """Connected components (8-connectivity, as contours see them) of a validated 0/1 uint8 mask."""
    # Only the foreground's bounding box is examined: a small lesion on a big frame stays cheap.
    x0, y0, w, h = cv2.boundingRect(binary)
    if w == 0:  # OpenCV crashes (not raises) on a zero-sized image
        nothing = np.zeros((0,), dtype=np.int32)
        return Components(np.zeros((1, 1), np.int32), (0, 0), nothing, nothing, np.zeros((0, 4), np.int32))
    region = binary[y0 : y0 + h, x0 : x0 + w]
    if _single_component(region):  # the usual case, and labelling is most of the cost of a measurement
        area = np.array([cv2.countNonZero(region)])
        return Components(region, (x0, y0), np.array([1]), area, np.array([[x0, y0, w, h]]))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8, ltype=cv2.CV_32S)
    areas = stats[1:count, cv2.CC_STAT_AREA]
    order = np.argsort(-areas, kind="stable")
    boxes = stats[1:count, :4][order] + np.array([x0, y0, 0, 0], dtype=stats.dtype)
    return Components(
        labels=labels, origin=(x0, y0), label_by_rank=order + 1, areas=areas[order], boxes_xywh=boxes
    )


def _single_component(region: np.ndarray) -> bool:
    # In a two-level hierarchy every component has exactly one top-level contour, even one inside a hole.
    _, hierarchy = cv2.findContours(region, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    return hierarchy is not None and int((hierarchy[0, :, 3] < 0).sum()) == 1


def outer_contour(crop: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """Outer contour of the single component in a padded crop, as (N, 2) float (x, y) frame coordinates."""
    found, _ = cv2.findContours(crop, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(found, key=len).reshape(-1, 2)
    return (contour + np.asarray(origin)).astype(np.float64)


def contours_by_area(binary: np.ndarray, components: Components) -> list[np.ndarray]:
    """Outer contours of all components, largest component first; one per component, even one in a hole."""
    found, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    outers = [
        c for c, parent in zip(found, hierarchy[0, :, 3], strict=True) if parent < 0
    ]  # the rest outline holes
    rank_of_label = np.empty(components.count + 1, dtype=np.int64)
    rank_of_label[components.label_by_rank] = np.arange(components.count)
    # Every outer contour point is a pixel of its component, so the first point names the component.
    ranks = [rank_of_label[components.label_at(c[0, 0, 0], c[0, 0, 1])] for c in outers]
    return [outers[i].reshape(-1, 2).astype(np.float64) for i in np.argsort(ranks, kind="stable")]


def lesion_contours(mask: object) -> list[np.ndarray]:
    """Outer contour of every connected component, (N, 2) float (x, y) arrays, largest area first."""
    binary = as_binary_mask(mask)
    return contours_by_area(binary, find_components(binary))


def largest_component(mask: object) -> np.ndarray:
    """Boolean mask of the largest 8-connected component (all False when the mask is empty)."""
    binary = as_binary_mask(mask)
    components = find_components(binary)
    largest = np.zeros(binary.shape, dtype=bool)
    if components.count:
        crop, (x0, y0) = components.crop(0)
        rows, cols = crop.shape[0] - 2, crop.shape[1] - 2
        largest[y0 + 1 : y0 + 1 + rows, x0 + 1 : x0 + 1 + cols] = crop[1:-1, 1:-1].view(bool)
    return largest


def pixel_square_hull(contour: np.ndarray) -> np.ndarray:
    """Convex hull of the pixel squares of a component, from its contour: (M, 2) float (x, y) corners.

    The hull of the squares is the hull of the corners of the pixels on the hull of the centres, so only those
    need expanding. Exact: all arithmetic is on doubled integer coordinates.
    """
    doubled = np.rint(contour * 2).astype(np.int32)
    centre_hull = cv2.convexHull(doubled).reshape(-1, 2)
    corners = (centre_hull[:, None, :] + _DOUBLED_CORNERS[None, :, :]).reshape(-1, 2)
    return cv2.convexHull(corners).reshape(-1, 2) / 2.0


def outer_pixel_edges(
    crop: np.ndarray, contour: np.ndarray, origin: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Unit pixel edges of a component's outer outline: (starts, ends), each (K, 2) float (x, y) frame coords.

    crop and origin come from Components.crop, contour from outer_contour. Holes are filled first: they never
    bound a chord from outside, and a ragged mask can have many. The edges trace the pixel-square outline, so
    lengths measured on them run from pixel edge to pixel edge, and they need no ordering into a polygon.
    """
    # A filled polygon through the boundary pixel centres covers exactly the component and its holes.
    local = np.rint(contour - np.asarray(origin)).astype(np.int32)
    filled = cv2.drawContours(crop.copy(), [local], -1, 1, thickness=cv2.FILLED)
    vertical = _changes(filled[:, 1:], filled[:, :-1])  # (col, row): edge at x = col + 0.5
    horizontal = _changes(filled[1:, :], filled[:-1, :])  # (col, row): edge at y = row + 0.5
    starts = np.vstack([vertical + np.array([0.5, -0.5]), horizontal + np.array([-0.5, 0.5])])
    ends = np.vstack([vertical, horizontal]) + 0.5
    shift = np.asarray(origin, dtype=np.float64)
    return starts + shift, ends + shift


def _changes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(col, row) float positions where two equally shaped uint8 0/1 arrays differ (OpenCV: ~5x numpy)."""
    found = cv2.findNonZero(cv2.bitwise_xor(a, b))
    return np.empty((0, 2)) if found is None else found.reshape(-1, 2).astype(np.float64)
