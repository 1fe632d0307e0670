"""Prompts: the clinician points the model at the lesion — a box, positive/negative clicks, the mask so far.

    prompt = Prompt(box=(40, 30, 120, 90)).checked(frame.shape)    # drag a box → outline inside
    prompt = Prompt(positive=((60, 50),), previous=mask)             # a left click adds where it points
    mask = refine_mask(prediction.prob, frame.grey, prompt, threshold=0.5)

A bundle that declares prompt support (BundleSpec.prompt_support) takes the prompt as network inputs (the
model-v2 C5-Net, RITM / DeepEdit style); until one exists every bundle is refined here, from the model's own
probability map of the frame (c5desk.inference.prompt_refine), which needs no network call at all.

Coordinates are frame pixels, x to the right and y down; a box is (x0, y0, x1, y1), end-exclusive like a
slice. to_json() is what the annotation stores as its provenance: the box and clicks, never pixels (the
previous mask is the annotation's own earlier state, not part of the record).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from c5desk.errors import ModelError
from c5desk.inference.prompt_refine import refine_mask

__all__ = ["Prompt", "refine_mask"]

Point = tuple[int, int]


@dataclass(frozen=True)
class Prompt:
    box: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1) in frame pixels, end-exclusive
    positive: tuple[Point, ...] = ()  # "this is lesion"
    negative: tuple[Point, ...] = ()  # "this is background"
    previous: np.ndarray | None = field(default=None, compare=False, repr=False)  # the mask so far

    def __post_init__(self) -> None:
        # tuples whatever came in (lists from JSON, numpy ints from a click), so prompts compare and hash
        if self.box is not None:
            object.__setattr__(self, "box", tuple(_integer(v, "box") for v in self.box))
        for name in ("positive", "negative"):
            points = tuple(tuple(_integer(v, f"{name} click") for v in p) for p in getattr(self, name))
            object.__setattr__(self, name, points)

    @property
    def empty(self) -> bool:
        return self.box is None and not self.positive and not self.negative

    def checked(self, shape: tuple[int, ...]) -> Prompt:
        """This prompt when it fits a frame of `shape` (H, W); a ModelError saying what is wrong otherwise."""
        height, width = int(shape[0]), int(shape[1])
        if self.empty:
            raise ModelError("a prompt needs a box or at least one click")
        if self.box is not None:
            if len(self.box) != 4:
                raise ModelError(f"a box is (x0, y0, x1, y1), got {len(self.box)} numbers")
            x0, y0, x1, y1 = self.box
            if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                raise ModelError(f"box {self.box} is empty or outside the {width}×{height} frame")
        for name, points in (("positive", self.positive), ("negative", self.negative)):
            for point in points:
                if len(point) != 2 or not (0 <= point[0] < width and 0 <= point[1] < height):
                    raise ModelError(f"{name} click {point} is outside the {width}×{height} frame")
        if self.previous is not None and np.shape(self.previous) != (height, width):
            shape = np.shape(self.previous)
            raise ModelError(f"previous mask {shape} does not match the {width}×{height} frame")
        return self

    def with_click(self, x: int, y: int, positive: bool, previous: np.ndarray | None) -> Prompt:
        """The next prompt of an iterative refinement: this one's box and clicks plus one more."""
        point = ((int(x), int(y)),)
        # the latest click wins: an opposite click on (about) the same spot is taken back
        positives = tuple(p for p in self.positive if positive or not _near(p, point[0]))
        negatives = tuple(p for p in self.negative if not positive or not _near(p, point[0]))
        if positive:
            return Prompt(self.box, positives + point, negatives, previous)
        return Prompt(self.box, positives, negatives + point, previous)

    def to_json(self) -> dict[str, Any]:
        """The prompt as stored with an annotation (no pixels)."""
        data: dict[str, Any] = {}
        if self.box is not None:
            data["box"] = list(self.box)
        if self.positive:
            data["positive"] = [list(p) for p in self.positive]
        if self.negative:
            data["negative"] = [list(p) for p in self.negative]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prompt:
        if not isinstance(data, dict):
            raise ModelError(f"a stored prompt is a JSON object, not {type(data).__name__}")
        box = data.get("box")
        return cls(
            box=tuple(box) if box is not None else None,  # type: ignore[arg-type]
            positive=tuple(tuple(p) for p in data.get("positive", ())),  # type: ignore[arg-type]
            negative=tuple(tuple(p) for p in data.get("negative", ())),  # type: ignore[arg-type]
        )


def _near(a: Point, b: Point, radius: int = 3) -> bool:
    return abs(a[0] - b[0]) <= radius and abs(a[1] - b[1]) <= radius


def _integer(value: object, what: str) -> int:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ModelError(f"{what}: {value!r} is not a pixel coordinate") from None
    if not np.isfinite(number):
        raise ModelError(f"{what}: {value!r} is not a pixel coordinate")
    return round(number)
