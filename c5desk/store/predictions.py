"""Predictions part of the store: what a model said about a frame, kept apart from the clinician's word.

Predictions are never edited nor mixed into annotations; an annotation only records how far it departs
from the prediction it corrected (see c5desk.store.active), which this part measures.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from c5desk.store import rows
from c5desk.store.active import correction
from c5desk.store.db import Database
from c5desk.store.files import ObjectFiles
from c5desk.store.frames import Frames
from c5desk.store.records import (
    PredictionRecord,
    check_label,
    check_mask,
    check_probability,
    check_suggestions,
)
from c5desk.store.versions import audit, check_version_id, register, to_json, utc_now

_NEWEST_SQL = "SELECT * FROM predictions WHERE frame_id = ? ORDER BY id DESC LIMIT 1"
_NEWEST_OF_VERSION_SQL = (
    "SELECT * FROM predictions WHERE frame_id = ? AND model_version = ? ORDER BY id DESC LIMIT 1"
)


class Predictions:
    """Adds and reads model outputs; needs Frames to check a mask against the frame it belongs to."""

    def __init__(self, db: Database, files: ObjectFiles, frames: Frames) -> None:
        self._db = db
        self._files = files
        self._frames = frames

    def add(
        self,
        frame_id: int,
        model_version: str,
        p_malignant: float,
        uncertainty: float,
        mask: np.ndarray,
        label: str | None = None,
        descriptors: Mapping[str, str] | None = None,
    ) -> PredictionRecord:
        """Keep a model's output (never mixed with the clinician's annotation). Unknown versions are
        registered (without parent or metrics). label defaults to malignant when p_malignant >= 0.5;
        descriptors are the model's BI-RADS suggestions {name: term}."""
        record = self._frames.record(frame_id)
        version = check_version_id(model_version)
        p = check_probability(p_malignant, "p_malignant")
        u = check_probability(uncertainty, "uncertainty")
        label = check_label(label) if label is not None else ("malignant" if p >= 0.5 else "benign")
        suggested = check_suggestions(descriptors)
        mask_file = self._files.put_mask(check_mask(mask, (record.height, record.width), "model mask"))
        with self._db.write() as conn:
            register(conn, version, None, None)
            cursor = conn.execute(
                "INSERT INTO predictions (frame_id, model_version, p_malignant, uncertainty, label,"
                " mask_file, created_utc, descriptors) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.id, version, p, u, label, mask_file, utc_now(), to_json(suggested or None)),
            )
            audit(conn, "add_prediction", frame_id=record.id, model_version=version,
                  after={"p_malignant": round(p, 4), "uncertainty": round(u, 4), "label": label})  # fmt: skip
            row = conn.execute("SELECT * FROM predictions WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return rows.prediction(row)

    def newest(self, frame_id: int, model_version: str | None = None) -> PredictionRecord | None:
        """The newest prediction for a frame (of one model version when given)."""
        if model_version is None:
            row = self._db.row(_NEWEST_SQL, (frame_id,))
        else:
            row = self._db.row(_NEWEST_OF_VERSION_SQL, (frame_id, model_version))
        return rows.prediction(row) if row else None

    def of_frame(self, frame_id: int) -> list[PredictionRecord]:
        found = self._db.rows("SELECT * FROM predictions WHERE frame_id = ? ORDER BY id", (frame_id,))
        return [rows.prediction(row) for row in found]

    def mask(self, prediction: PredictionRecord) -> np.ndarray:
        return self._files.get_mask(prediction.mask_file)

    def correction(
        self, frame_id: int, version: str | None, mask: np.ndarray, label: str
    ) -> tuple[float | None, bool | None]:
        """How much a final annotation departs from the model output it corrected: that version's newest
        prediction, else the frame's newest; (None, None) when the frame has no prediction at all."""
        prediction = self.newest(frame_id, version) if version is not None else None
        prediction = prediction or self.newest(frame_id)
        if prediction is None:
            return None, None
        return correction(self.mask(prediction), prediction.label, mask, label)
