"""What every reader produces: a Frame with display pixels, a model-ready grey image and calibration."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Region:
    """A rectangle of the frame in pixels (x0, y0 inclusive; x1, y1 exclusive).

    For ultrasound this is one entry of the Sequence of Ultrasound Regions: the scan rectangle or the
    bounding box of a sector. mm_per_px_* are None when the region carries no physical calibration.
    """

    x0: int
    y0: int
    x1: int
    y1: int
    mm_per_px_x: float | None = None
    mm_per_px_y: float | None = None
    kind: str = "image"  # "image" | "sector" | "rectangle" | other region data types, lower-case

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1


@dataclass
class Frame:
    """One decoded frame.

    pixels:     display pixels as stored, colour kept: (H, W) grey or (H, W, 3) RGB, uint8 or uint16.
    grey:       (H, W) uint8, what the model sees.
    index:      frame number inside its source (0 for still images).
    mm_per_px:  (x, y) millimetres per pixel, or None when uncalibrated.
    region:     the imaging region used for analysis, or None when the whole frame is the image.
    source_id:  salted hash of the SOP Instance UID (or file bytes) + frame index; never a name or path.
    meta:       non-PHI metadata only (modality, manufacturer, model, transducer, frame_time_ms, ...).
    """

    pixels: np.ndarray
    grey: np.ndarray
    index: int
    mm_per_px: tuple[float, float] | None
    region: Region | None
    source_id: str
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def display(self) -> np.ndarray:
        """What a person is shown: above 8 bits the scanner's window applied (the grey image), else the
        stored pixels, colour kept."""
        if self.pixels.ndim == 2 and self.pixels.dtype != np.uint8:
            return self.grey
        return self.pixels

    @property
    def calibrated(self) -> bool:
        return self.mm_per_px is not None

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.grey.shape[0]), int(self.grey.shape[1])
