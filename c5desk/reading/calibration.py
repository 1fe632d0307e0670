"""The user's calibration given to a frame as it opens, so that every measurement of it (the score panel,
the saved annotation, exports) is in mm once a clinician has set the scale from the depth ruler.

    frame = with_user_calibration(frame, store)    # Session._show, before the Document is made

A frame with the scanner's own calibration is returned unchanged: the user's scale never overrides it.
A frame that carries a user scale already (loaded from the store) takes the current one of its scope, so a
recalibration reaches it too. The frame's meta then says "calibration": "user" (CALIBRATION_KEY), which
the score panel shows as "user calibration".
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from c5desk.lesion.calipers import scale_from_ruler

if TYPE_CHECKING:
    from c5desk.io.frame import Frame
    from c5desk.reading.document import Document
    from c5desk.store import Store
    from c5desk.store.calibrations import UserCalibration

CALIBRATION_KEY = "calibration"
USER = "user"


def is_user_calibrated(frame: Frame) -> bool:
    return frame.mm_per_px is not None and frame.meta.get(CALIBRATION_KEY) == USER


def with_user_calibration(frame: Frame, store: Store | None) -> Frame:
    """`frame` with its scope's user calibration when it has none of the scanner's; else `frame` itself."""
    if store is None or (frame.calibrated and not is_user_calibrated(frame)):
        return frame
    from c5desk.store.calibrations import calibration_scope

    found = store.user_calibration(calibration_scope(frame))
    return frame if found is None else calibrated_frame(frame, found.mm_per_px)


def calibrated_frame(frame: Frame, mm_per_px: tuple[float, float]) -> Frame:
    return replace(frame, mm_per_px=tuple(mm_per_px), meta={**frame.meta, CALIBRATION_KEY: USER})


def calibrate_from_ruler(
    frame: Frame,
    store: Store,
    points: tuple[tuple[float, float], tuple[float, float]],
    distance_mm: float,
    axis: str = "y",
) -> tuple[Frame, UserCalibration]:
    """Set the user calibration of the frame's scope from two ruler points `distance_mm` apart.

    MaskError for bad points or distance (calipers.scale_from_ruler), StoreError when the frame has the
    scanner's own calibration (it is never overridden). Returns the frame with the new scale and the record.
    """
    from c5desk.store.calibrations import calibration_scope
    from c5desk.store.records import StoreError

    if frame.calibrated and not is_user_calibrated(frame):
        raise StoreError("this frame carries the scanner's own calibration; it is not replaced by hand")
    scale = scale_from_ruler(points[0], points[1], distance_mm, axis=axis)
    detail: dict[str, Any] = {
        "points": [list(map(float, p)) for p in points],
        "distance_mm": float(distance_mm),
        "axis": axis,
        "frame": {"source_id": frame.source_id, "index": frame.index, "shape": list(frame.shape)},
    }
    record = store.set_user_calibration(calibration_scope(frame), scale, detail)
    return calibrated_frame(frame, record.mm_per_px), record


def recalibrate_document(doc: Document, frame: Frame) -> None:
    """Give the open document its newly calibrated `frame` and measure again at once: the model's own
    measurements and the current mask's (its P(malignant) does not depend on the scale and is kept)."""
    from c5desk.lesion.descriptors import describe_lesion
    from c5desk.lesion.measure import measure_mask

    doc.frame = frame
    pred = doc.prediction
    if pred is not None:
        terms = describe_lesion(frame.grey, pred.mask, frame.mm_per_px) if pred.mask.any() else {}
        doc.prediction = replace(
            pred, calibrated=True, measurements=measure_mask(pred.mask, frame.mm_per_px), descriptors=terms
        )
    score = doc.score
    if score.pending:
        return  # the rescore under way is measured again by the caller's next rescore
    mask = doc.mask
    if pred is not None and score.spread is not None and np.array_equal(mask, pred.mask):
        return  # the model's own result shows, re-measured above (with its flip spread kept)
    terms = describe_lesion(frame.grey, mask, frame.mm_per_px) if mask.any() else {}
    doc.apply_rescore(
        doc.editor.version, score.p_malignant, score.uncertainty, measure_mask(mask, frame.mm_per_px), terms
    )
