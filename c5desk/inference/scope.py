"""Is this frame something the model may answer on? Classical checks of the pixels, no network.

The model was trained on greyscale B-mode breast ultrasound. Two kinds of frame fall outside that and can
be told from the pixels alone (thresholds measured in benchmarks/bench_sector.py, see docs/SECTOR.md):
  - colour inside the imaging area: colour or power Doppler (flow painted over the B-mode), or elastography;
    the model never saw colour, and colour flow looks like tissue to it once grey-converted;
  - not an ultrasound image at all: a colour photograph (e.g. dermoscopy) or any picture without speckle —
    B-mode is a granular interference pattern at every depth, photographs and drawings are smooth.
Another organ (a fetal head, a heart, a thyroid) is greyscale speckle like a breast: telling it apart needs
the network's features (c5desk.inference.familiarity), so such a frame is in scope here.

The result travels in Prediction.extras ("in_scope", "scope_reason"), goes to the batch CSV's `in_scope` and
`scope_reason` columns and is shown beside the score; the model's answer is still given (a reader decides).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from c5desk.io.frame import Frame
from c5desk.io.sector import BLACK, ImagingArea, frame_area

CHROMA = 40  # max - min over R, G, B: a pixel this far from grey is colour (tinted grey maps stay below)
DOPPLER_SHARE = 0.005  # of the imaging area in colour: flow; coloured calipers and text stay below
PHOTO_SHARE = 0.5  # of the imaging area in colour: a colour picture, not an overlay on a B-mode scan
MIN_SPECKLE = 0.025  # fine-scale roughness (high-pass std / mean grey); B-mode >= 0.045, photographs ~0.01
MIN_LIT = 0.02  # of the imaging area brighter than the background: less is an empty (frozen-off) screen


@dataclass(frozen=True)
class Scope:
    in_scope: bool
    reason: str  # why not ("" when in scope): one line for the CSV and the score panel
    colour_share: float  # of the imaging area
    speckle: float  # fine-scale roughness of the grey image inside the imaging area

    def extras(self) -> dict[str, object]:
        """What a Prediction carries (plain values)."""
        return {"in_scope": self.in_scope, "scope_reason": self.reason}


def assess(frame: Frame, area: ImagingArea | None = None) -> Scope:
    """The scope of a frame, inside its imaging area (found here when not given)."""
    area = frame_area(frame) if area is None else area
    colour = colour_share(frame.pixels, area.mask)
    lit = area.mask & (frame.grey > BLACK)
    lit_share = float(lit.sum()) / max(1, int(area.mask.sum()))
    speckle = roughness(frame.grey, lit) if lit_share >= MIN_LIT else 0.0
    return Scope(*_verdict(colour, speckle, lit_share), colour_share=colour, speckle=speckle)


def _verdict(colour: float, speckle: float, lit_share: float) -> tuple[bool, str]:
    if lit_share < MIN_LIT:
        return False, "empty image: nothing but background in the imaging area"
    if colour >= PHOTO_SHARE:
        return False, f"not an ultrasound image: a colour picture ({colour:.0%} of it in colour)"
    if speckle < MIN_SPECKLE:
        return False, "not an ultrasound image: no speckle (a photograph or a drawing?)"
    if colour >= DOPPLER_SHARE:
        return False, f"colour Doppler or colour overlay in the image ({colour:.0%} of it in colour)"
    return True, ""


def colour_share(pixels: np.ndarray, mask: np.ndarray) -> float:
    """Share of the masked pixels clearly coloured (0 for grey frames and for 16-bit colour)."""
    if pixels.ndim != 3 or pixels.dtype != np.uint8 or not mask.any():
        return 0.0
    chroma = pixels.max(axis=2).astype(np.int16) - pixels.min(axis=2)
    return float(np.count_nonzero(chroma[mask] > CHROMA)) / float(np.count_nonzero(mask))


def roughness(grey: np.ndarray, where: np.ndarray) -> float:
    """Std of the grey image minus its 1-pixel Gaussian blur over `where`, relative to its mean grey."""
    if not where.any():
        return 0.0
    image = grey.astype(np.float32)
    fine = image - cv2.GaussianBlur(image, (0, 0), 1.0)
    return float(np.std(fine[where]) / max(1.0, float(np.mean(image[where]))))
