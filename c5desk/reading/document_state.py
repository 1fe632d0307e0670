"""What a Document is made of, apart from the Document: where the frame came from (Origin), what the score
panel shows (Score), the score and measurements of one mask version, the last saved state, and score_mask,
the one function that scores, measures and describes a mask (on the model's worker thread in the app)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from c5desk.lesion.descriptors import describe_lesion
from c5desk.lesion.measure import Measurements, measure_mask

if TYPE_CHECKING:  # the readers (pydicom...) and torch load later, off the window's start-up path
    from c5desk.inference import Predictor
    from c5desk.io.frame import Frame


@dataclass(frozen=True)
class Origin:
    """Where a frame came from: a file (and the frame in it) and/or a frame of the dataset store."""

    path: Path | None = None
    frame_index: int = 0
    store_frame_id: int | None = None
    case: str | None = None  # the store's name of the frame's case ("case-0003"), for a store frame

    def describe(self) -> str:
        if self.path is not None:
            return f"{self.path.name} frame {self.frame_index + 1}"
        if self.case is not None:  # the store's own names: "case-0003, frame 6", as in its exports
            return f"{self.case}, frame {self.store_frame_id}"
        return f"dataset frame {self.store_frame_id}"


@dataclass(frozen=True)
class Score:
    """What the score panel shows, for the current mask."""

    p_malignant: float | None  # None: no model loaded
    uncertainty: float | None  # binary entropy of p, bits (0..1)
    spread: float | None  # flip-TTA spread of the model's own result; None after an edit
    measurements: Measurements | None  # None: no lesion in the mask
    calibrated: bool
    model_version: str | None
    device: str | None
    edited: bool  # the score is for a clinician-edited mask, not the model's own output
    pending: bool  # the mask changed since: a new score is being computed
    suggested: dict[str, str] = field(default_factory=dict)  # BI-RADS terms computed for the mask
    out_of_scope: str = ""  # why the model's frame is not what it knows (colour Doppler...); "" in scope
    # model v2 said "no lesion found" and the mask is still its own (empty) one: no malignancy score to show
    no_lesion_found: bool = False
    p_lesion: float | None = None  # P(a lesion is present) of a model with that output

    @property
    def model_label(self) -> str | None:
        if self.p_malignant is None:
            return None
        return "malignant" if self.p_malignant >= 0.5 else "benign"


@dataclass(frozen=True)
class _Scored:
    """P(malignant) computed for one version of the mask (the model's own result or a re-score)."""

    mask_version: int
    p_malignant: float | None = None
    uncertainty: float | None = None
    spread: float | None = None


@dataclass(frozen=True)
class _Measured:
    mask_version: int
    measurements: Measurements | None = None
    descriptors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Saved:
    """What was last saved (or loaded): a later state that differs from it is unsaved work."""

    mask: np.ndarray
    mask_version: int
    meta: tuple[str | None, str | None, str, tuple[tuple[str, str], ...]]  # label, category, note, terms


def score_mask(
    predictor: Predictor | None, frame: Frame, mask: np.ndarray
) -> tuple[float | None, float | None, Measurements | None, dict[str, str]]:
    """P(malignant), uncertainty, measurements and suggested BI-RADS terms of `mask` (P needs a model)."""
    terms = describe_lesion(frame.grey, mask, frame.mm_per_px) if mask.any() else {}
    if predictor is None:
        return None, None, measure_mask(mask, frame.mm_per_px), terms
    return (*predictor.rescore(frame, mask), terms)


def clinician_terms(descriptors: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: entry["value"] for name, entry in descriptors.items() if entry.get("source") == "clinician"}
