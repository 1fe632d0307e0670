"""Editing a lesion mask as a raster, with undo/redo as data. Pure numpy + OpenCV: no Qt, no torch.

The mask is an (H, W) bool array and stays one: a lasso polygon is rasterised onto it, never kept as a
shape, so a brush fix is never lost by a polygon round trip. Every edit is one undo step (a brush stroke is
one edit however many stamps it took). An undo step stores only the bounding box of what changed, before
and after, and the history is bounded in bytes, so long sessions on large frames stay small in memory.

    editor = MaskEditor(np.zeros((768, 1024), bool))
    editor.begin_stroke(100, 80, radius=6)      # brush; erase=True for the eraser
    editor.extend_stroke(140, 90)               # -> the box that changed, for a partial redraw
    editor.end_stroke()                         # one undo step
    editor.fill_holes(); editor.undo(); editor.redo()
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from c5desk.errors import EditError

# Enough for hundreds of strokes on a large frame; the oldest steps go first.
DEFAULT_HISTORY_BYTES = 64 << 20
DEFAULT_HISTORY_STEPS = 500
MAX_BRUSH_RADIUS = 256
_VERSION_BASES = itertools.count(0, 1 << 40)


@dataclass(frozen=True)
class Box:
    """Rows y0:y1 and columns x0:x1 (end-exclusive) of the mask."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def union(self, other: Box | None) -> Box:
        if other is None:
            return self
        return Box(
            min(self.y0, other.y0), min(self.x0, other.x0), max(self.y1, other.y1), max(self.x1, other.x1)
        )


@dataclass(frozen=True)
class Step:
    """One undoable edit: the changed box before and after."""

    name: str
    box: Box
    before: np.ndarray
    after: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes


def changed_box(a: np.ndarray, b: np.ndarray) -> Box | None:
    """The bounding box of the pixels where two masks differ; None when they are equal."""
    diff = a != b
    rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
    if rows.size == 0:
        return None
    return Box(int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)


class MaskEditor:
    def __init__(
        self,
        mask: np.ndarray,
        max_bytes: int = DEFAULT_HISTORY_BYTES,
        max_steps: int = DEFAULT_HISTORY_STEPS,
    ) -> None:
        self._mask = self._checked(mask, None)
        self.max_bytes, self.max_steps = int(max_bytes), int(max_steps)
        self._undo: deque[Step] = deque()
        self._redo: list[Step] = []
        self._stroke: tuple[np.ndarray, bool, int, Box | None, tuple[int, int]] | None = None
        # bumped by every change, undo and redo included; editors start far apart, so that a version names
        # one state of one editor (a document with several lesions has an editor per lesion)
        self.version = next(_VERSION_BASES)

    # ---- state -----------------------------------------------------------------------------------------
    @property
    def mask(self) -> np.ndarray:
        """The current mask, read-only (edit it through the methods so that undo sees every change)."""
        view = self._mask.view()
        view.flags.writeable = False
        return view

    @property
    def shape(self) -> tuple[int, int]:
        return self._mask.shape  # type: ignore[return-value]

    @property
    def in_stroke(self) -> bool:
        return self._stroke is not None

    @property
    def can_undo(self) -> bool:
        return bool(self._undo) and self._stroke is None

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and self._stroke is None

    @property
    def history_bytes(self) -> int:
        return sum(step.nbytes for step in self._undo) + sum(step.nbytes for step in self._redo)

    @property
    def undo_names(self) -> list[str]:
        return [step.name for step in self._undo]

    def reset(self, mask: np.ndarray) -> None:
        """Start over from `mask` (e.g. another frame's or the model's output): history is cleared."""
        self._mask = self._checked(mask, None)
        self._undo.clear()
        self._redo.clear()
        self._stroke = None
        self.version += 1

    # ---- brush and eraser ------------------------------------------------------------------------------
    def begin_stroke(self, x: float, y: float, radius: int, erase: bool = False) -> Box | None:
        """Start a brush (or eraser) stroke with a round stamp at pixel (x, y); returns the changed box."""
        if self._stroke is not None:
            self.end_stroke()
        radius = int(np.clip(round(float(radius)), 0, MAX_BRUSH_RADIUS))
        point = (round(x), round(y))
        self._stroke = (self._mask.copy(), erase, radius, None, point)
        return self._stamp(point, point)

    def extend_stroke(self, x: float, y: float) -> Box | None:
        """Continue the stroke to (x, y): a round-capped segment from the last point (no gaps when fast)."""
        if self._stroke is None:
            raise EditError("extend_stroke called with no stroke in progress")
        point = (round(x), round(y))
        return self._stamp(self._stroke[4], point)

    def end_stroke(self) -> bool:
        """Finish the stroke as one undo step; False when it changed nothing."""
        if self._stroke is None:
            return False
        before, erase, _radius, box, _last = self._stroke
        self._stroke = None
        if box is None:
            return False
        name = "erase" if erase else "brush"
        return self._record(name, before, box)

    def cancel_stroke(self) -> None:
        """Abandon the stroke in progress, restoring the mask as it was before it."""
        if self._stroke is not None:
            before, _erase, _radius, box, _last = self._stroke
            self._stroke = None
            if box is not None:
                self._mask[box.slices] = before[box.slices]
                self.version += 1

    def _stamp(self, start: tuple[int, int], end: tuple[int, int]) -> Box | None:
        before, erase, radius, box, _last = self._stroke  # type: ignore[misc]
        h, w = self._mask.shape
        pad = radius + 1  # OpenCV's thick lines may reach one pixel past the discs
        seg = Box(
            max(0, min(start[1], end[1]) - pad),
            max(0, min(start[0], end[0]) - pad),
            min(h, max(start[1], end[1]) + pad + 1),
            min(w, max(start[0], end[0]) + pad + 1),
        )
        self._stroke = (before, erase, radius, box, end)
        if seg.y0 >= seg.y1 or seg.x0 >= seg.x1:
            return None  # entirely outside the frame
        canvas = self._mask.view(np.uint8)  # bool and uint8 share the layout: OpenCV draws in place
        value = 0 if erase else 1
        if radius == 0:
            cv2.line(canvas, start, end, value, 1, cv2.LINE_8)
        else:
            cv2.circle(canvas, start, radius, value, -1, cv2.LINE_8)
            cv2.circle(canvas, end, radius, value, -1, cv2.LINE_8)
            if start != end:
                cv2.line(canvas, start, end, value, 2 * radius, cv2.LINE_8)  # as wide as the discs
        self._stroke = (before, erase, radius, seg.union(box), end)
        self.version += 1
        return seg

    # ---- whole-mask operations -------------------------------------------------------------------------
    def lasso(self, points: Sequence[tuple[float, float]] | np.ndarray, add: bool = True) -> bool:
        """Add (or subtract) the inside of a closed polygon of (x, y) pixel points."""
        poly = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if len(poly) < 3 or not np.isfinite(poly).all():
            return False
        inside = np.zeros(self._mask.shape, np.uint8)
        cv2.fillPoly(inside, [np.round(poly).astype(np.int32)], 1, cv2.LINE_8)
        region = inside.view(bool)
        new = (self._mask | region) if add else (self._mask & ~region)
        return self.apply(new, "lasso add" if add else "lasso subtract")

    def fill_holes(self) -> bool:
        """Fill background regions enclosed by the lesion (not connected to the frame border)."""
        background = (~self._mask).view(np.uint8)
        count, labels = cv2.connectedComponents(np.pad(background, 1, constant_values=1), connectivity=4)
        outside = labels[0, 0]  # the padding ring joins every background region touching the border
        holes = (labels[1:-1, 1:-1] != outside) & (labels[1:-1, 1:-1] != 0)
        return count > 1 and self.apply(self._mask | holes, "fill holes")

    def keep_largest(self) -> bool:
        """Keep only the largest connected lesion region (8-connected)."""
        count, labels, stats, _ = cv2.connectedComponentsWithStats(self._mask.view(np.uint8), connectivity=8)
        if count <= 2:
            return False
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        return self.apply(labels == largest, "keep largest")

    def remove_small(self, min_area: int) -> bool:
        """Remove lesion islands smaller than `min_area` pixels."""
        count, labels, stats, _ = cv2.connectedComponentsWithStats(self._mask.view(np.uint8), connectivity=8)
        small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < int(min_area))
        small = small[small != 0]
        if count <= 1 or small.size == 0:
            return False
        return self.apply(self._mask & ~np.isin(labels, small), "remove small islands")

    def smooth(self, radius: int = 2) -> bool:
        """Median-smooth the outline: removes spurs and notches narrower than about `radius` pixels."""
        size = 2 * max(1, int(radius)) + 1
        smoothed = cv2.medianBlur(self._mask.view(np.uint8) * np.uint8(255), size) > 127
        return self.apply(smoothed, "smooth")

    def threshold(self, prob: np.ndarray, level: float, merge: bool = True) -> bool:
        """The mask becomes prob >= level; with merge, repeated thresholds (a slider drag) are one step."""
        prob = np.asarray(prob)
        if prob.shape != self._mask.shape:
            raise EditError(f"probability map {prob.shape} does not match the mask {self._mask.shape}")
        return self.apply(prob >= float(level), "threshold", merge=merge)

    def clear(self) -> bool:
        return self.apply(np.zeros_like(self._mask), "clear")

    def apply(self, new_mask: np.ndarray, name: str, merge: bool = False) -> bool:
        """Replace the mask by `new_mask` as one undo step (merged into the last step of the same name)."""
        new_mask = self._checked(new_mask, self._mask.shape)
        self.end_stroke()
        if merge and self._undo and not self._redo and self._undo[-1].name == name:
            last = self._undo.pop()  # rebuild the state before the last step, then diff against it
            base = self._mask.copy()
            base[last.box.slices] = last.before
            self._mask = new_mask.copy()
            box = changed_box(base, self._mask)
            self.version += 1
            return box is not None and self._push(
                Step(name, box, base[box.slices], self._mask[box.slices].copy())
            )
        box = changed_box(self._mask, new_mask)
        if box is None:
            return False
        before = self._mask.copy()
        self._mask[box.slices] = new_mask[box.slices]
        return self._record(name, before, box)

    # ---- undo / redo -----------------------------------------------------------------------------------
    def undo(self) -> Box | None:
        """Undo the last step; returns the box it changed (None when there was nothing to undo)."""
        if not self.can_undo:
            return None
        step = self._undo.pop()
        self._mask[step.box.slices] = step.before
        self._redo.append(step)
        self.version += 1
        return step.box

    def redo(self) -> Box | None:
        if not self.can_redo:
            return None
        step = self._redo.pop()
        self._mask[step.box.slices] = step.after
        self._undo.append(step)
        self.version += 1
        return step.box

    # ---- internals -------------------------------------------------------------------------------------
    def _record(self, name: str, before: np.ndarray, box: Box) -> bool:
        """Push the step that turned `before` into the current mask within `box` (tightened to the change)."""
        tight = changed_box(before[box.slices], self._mask[box.slices])
        if tight is None:
            return False
        box = Box(box.y0 + tight.y0, box.x0 + tight.x0, box.y0 + tight.y1, box.x0 + tight.x1)
        self.version += 1
        return self._push(Step(name, box, before[box.slices].copy(), self._mask[box.slices].copy()))

    def _push(self, step: Step) -> bool:
        self._undo.append(step)
        self._redo.clear()
        total = sum(s.nbytes for s in self._undo)
        while (
            self._undo
            and (len(self._undo) > self.max_steps or total > self.max_bytes)
            and len(self._undo) > 1
        ):
            total -= self._undo.popleft().nbytes  # the newest step always stays undoable
        return True

    @staticmethod
    def _checked(mask: np.ndarray, shape: tuple[int, ...] | None) -> np.ndarray:
        array = np.asarray(mask)
        if array.ndim != 2 or min(array.shape) < 1:
            raise EditError(f"a mask must be a non-empty 2-D array, got shape {array.shape}")
        if shape is not None and array.shape != shape:
            raise EditError(f"mask shape {array.shape} does not match the frame {shape}")
        if array.dtype != bool:
            if not np.issubdtype(array.dtype, np.integer):
                raise EditError(f"a mask must be boolean or integer, got {array.dtype}")
            array = array > 0
        return np.ascontiguousarray(array).copy()
