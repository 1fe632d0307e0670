"""Model v2's lesion-present output applied to a Prediction: "no lesion found" instead of a forced outline.

A model trained with lesion-free frames says how likely the frame shows a lesion at all (P(lesion)). Below
the bundle's presence_threshold (model.json; PRESENCE_THRESHOLD when it has none) the Prediction gets no
outline, no measurements and the label "normal" (the dataset's word for a lesion-free frame); its extras
carry p_lesion and lesion_found, which the score panel and the batch CSV show instead of a malignancy
score. A prompt overrides it: the clinician points at a lesion.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from c5desk.inference.contract import Prediction
from c5desk.inference.prompt import Prompt

# The default for a bundle whose model.json has no presence_threshold (v2's own). Chosen on model v2's
# validation part (never the test split): the highest P(lesion) cut that still finds
# >= 95 % of the lesion frames of EVERY site (BUS-UCLM is the binding one: 0.951 at 0.1, 0.71 at 0.3, 0.51
# at 0.5), because a lesion hidden by "no lesion found" is worse than a false outline the clinician deletes.
# It costs false outlines on 22 % of BUS-UCLM's lesion-free validation frames (11 % at 0.5).
PRESENCE_THRESHOLD = 0.1
NO_LESION = "normal"


def bundle_cut(spec) -> float:
    """The P(lesion) cut of a bundle (its BundleSpec): its presence_threshold, else the default."""
    return spec.presence_threshold or PRESENCE_THRESHOLD


def with_presence(prediction: Prediction, present: float, cut: float = PRESENCE_THRESHOLD) -> Prediction:
    """P(lesion) in the extras; below the cut (the bundle's presence_threshold) no outline and "normal"."""
    found = present >= cut
    extras = {**prediction.extras, "p_lesion": round(present, 4), "lesion_found": found}
    if found:
        return replace(prediction, extras=extras)
    empty = np.zeros_like(prediction.mask)
    return replace(prediction, mask=empty, contours=[], label=NO_LESION, measurements=None, extras=extras)


def no_lesion_found(prediction: Prediction | None) -> bool:
    """The model answered "no lesion found" for this frame (model v2 only)."""
    return prediction is not None and prediction.extras.get("lesion_found") is False


def keep_prompted_regions(mask: np.ndarray, prompt: Prompt) -> np.ndarray:
    """The regions the prompt points at: those touching a positive click or, with no positive click,
    inside the box; the whole mask for a prompt of negative clicks only (it corrects what is there)."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    wanted = {int(labels[y, x]) for x, y in prompt.positive} - {0}
    if not wanted and prompt.box is not None:
        x0, y0, x1, y1 = prompt.box
        wanted = set(np.unique(labels[y0:y1, x0:x1]).tolist()) - {0}
    return np.isin(labels, sorted(wanted)) if wanted else mask
