"""The one preprocessing path shared by training and inference: region crop → resize → normalise, and back.

Keeping both directions here guarantees the model sees at run time exactly what it saw in training, and that
predictions land on the right full-frame pixels. `InputSpec` is a model's preprocessing contract (input
size, channels, per-channel mean and std) read from its bundle spec or its architecture's default_cfg, and
`InputSpec.normalise` is the only normalisation there is: training batches, validation, both inference
engines and the ONNX graphs all receive what it produces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from c5desk.io.frame import Region


@dataclass(frozen=True)
class Geometry:
    """Where the model input came from: a crop box (x0, y0, x1, y1) inside a frame of frame_shape."""

    frame_shape: tuple[int, int]
    box: tuple[int, int, int, int]
    size: int


def crop_box(frame_shape: tuple[int, int], region: Region | None) -> tuple[int, int, int, int]:
    """The analysed rectangle: the imaging region clipped to the frame, or the whole frame."""
    height, width = frame_shape
    if region is None:
        return 0, 0, width, height
    x0, y0 = max(0, region.x0), max(0, region.y0)
    x1, y1 = min(width, region.x1), min(height, region.y1)
    if x1 - x0 < 8 or y1 - y0 < 8:  # a degenerate region would leave nothing to analyse
        return 0, 0, width, height
    return x0, y0, x1, y1


def crop_resize(grey: np.ndarray, region: Region | None, size: int) -> tuple[np.ndarray, Geometry]:
    """Grey uint8 frame → the analysed box resized to (size, size) uint8 (training augments this)."""
    box = crop_box(grey.shape[:2], region)
    x0, y0, x1, y1 = box
    resized = cv2.resize(grey[y0:y1, x0:x1], (size, size), interpolation=cv2.INTER_AREA)
    return resized, Geometry(frame_shape=grey.shape[:2], box=box, size=size)


@dataclass(frozen=True)
class InputSpec:
    """What a model expects: (in_chans, size, size) float32, pixels scaled to [0, 1] then (x - mean) / std
    per channel. A grey frame is repeated over the channels before its channel's mean and std apply."""

    size: int
    in_chans: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def of(cls, source: Any) -> InputSpec:
        """From a bundle spec (c5desk.model.bundle.BundleSpec) or a model's ``default_cfg`` mapping."""
        if isinstance(source, Mapping):
            size, chans, mean, std = (source[k] for k in ("input_size", "in_chans", "mean", "std"))
        else:
            size, chans, mean, std = source.input_size, source.in_chans, source.mean, source.std
        spec = cls(int(size), int(chans), tuple(float(m) for m in mean), tuple(float(s) for s in std))
        if len(spec.mean) != spec.in_chans or len(spec.std) != spec.in_chans or min(spec.std) <= 0:
            raise ValueError(f"mean/std need {spec.in_chans} value(s) each and std > 0, got {mean}/{std}")
        return spec

    def normalise(self, image: np.ndarray) -> np.ndarray:
        """uint8 (or float 0..255) (S, S) image → normalised float32 (in_chans, S, S)."""
        scaled = image.astype(np.float32) * np.float32(1.0 / 255.0)
        mean = np.asarray(self.mean, np.float32)[:, None, None]
        inverse_std = (1.0 / np.asarray(self.std, np.float32))[:, None, None]
        return ((scaled[None] - mean) * inverse_std).astype(np.float32, copy=False)

    def model_input(self, grey: np.ndarray, region: Region | None) -> tuple[np.ndarray, Geometry]:
        """Grey uint8 frame → normalised (in_chans, size, size) plus the geometry to map results back."""
        resized, geometry = crop_resize(grey, region, self.size)
        return self.normalise(resized), geometry


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """A label mask resized for training with nearest-neighbour sampling (keeps it binary)."""
    return cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)


def to_frame(prob: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Model-resolution probability map → full-frame float32 map (0 outside the analysed box)."""
    x0, y0, x1, y1 = geometry.box
    full = np.zeros(geometry.frame_shape, dtype=np.float32)
    full[y0:y1, x0:x1] = cv2.resize(
        prob.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR
    )
    return full


def mask_to_model(mask: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Full-frame mask (e.g. a clinician's edit) → float32 (size, size) in [0, 1] in model coordinates."""
    x0, y0, x1, y1 = geometry.box
    crop = mask[y0:y1, x0:x1].astype(np.float32)
    return cv2.resize(crop, (geometry.size, geometry.size), interpolation=cv2.INTER_AREA)
