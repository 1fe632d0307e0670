"""What a case report shows of one annotated frame, gathered once for both renderings (HTML and PDF):
the pictures (frame, contour overlay), the clinician's facts, the model's score, and per lesion its
measurements and BI-RADS descriptors with who said what. A frame with several lesions lists each under
its own heading (number, label, category, note); a frame with one shows it as before several existed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from c5desk.lesion import lexicon
from c5desk.lesion.measure import Measurements, lesion_contours, measure_mask
from c5desk.lesion.overlay import display_bgr, render_overlay
from c5desk.store.export_common import ExportItem
from c5desk.store.records import Lesion, PredictionRecord
from c5desk.store.store import Store

PROVENANCE_WORDS = {"model": "suggested by model", "clinician": "confirmed by clinician"}
MEASURE_ROWS = (
    ("long_axis", "Long axis"), ("short_axis", "Short axis"), ("sl_ratio", "Short/long ratio"),
    ("area", "Area"), ("orientation_deg", "Orientation (deg)"), ("taller_than_wide", "Taller than wide"),
    ("circularity", "Circularity"), ("solidity", "Solidity"), ("n_components", "Islands"),
)  # fmt: skip


@dataclass(frozen=True)
class ReportLesion:
    title: str | None  # "Lesion 2: benign" when the frame has several; None for a frame's only lesion
    facts: list[tuple[str, str]]  # the lesion's own label, category and note (only when several)
    measurements: dict[str, Any] | None
    descriptors: list[tuple[str, str, str]]  # (descriptor, term, provenance in words)

    @property
    def calibrated(self) -> bool:
        return bool(self.measurements and self.measurements.get("calibrated"))

    def measure_rows(self) -> list[tuple[str, str]]:
        """(title, value with unit) for the report's measurement table."""
        values = self.measurements or {}
        units = values.get("units", "px")
        rows = []
        for key, title in MEASURE_ROWS:
            value = values.get(key)
            unit = {"long_axis": units, "short_axis": units, "area": f"{units}²"}.get(key, "")
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            rows.append((title, f"{shown} {unit}".rstrip()))
        return rows


@dataclass(frozen=True)
class ReportFrame:
    stem: str
    title: str
    picture: np.ndarray  # the display pixels (grey or RGB, as stored)
    overlay: np.ndarray  # RGB uint8: contour, axes and score burned in
    facts: list[tuple[str, str]]
    prediction: PredictionRecord | None
    lesions: list[ReportLesion]  # the main lesion first; [] when nothing is outlined


@dataclass
class _OverlayView:
    """What lesion.overlay.render_overlay reads from a frame and a prediction, for a stored annotation."""

    display: np.ndarray
    contours: list[np.ndarray]
    label: str
    p_malignant: float
    uncertainty: float
    model_version: str
    measurements: Measurements | None


def report_frame(store: Store, item: ExportItem) -> ReportFrame:
    frame = store.export_frame(item.frame.id)
    mask = store.mask(item.frame.id)
    measured = measure_mask(mask, frame.mm_per_px) if mask is not None else None
    overlay = cv2.cvtColor(_overlay(frame.display, mask, item, measured), cv2.COLOR_BGR2RGB)
    annotation = item.annotation
    facts = [
        ("Label (clinician)", annotation.label),
        ("Category (clinician)", annotation.category or "-"),
        ("Note", annotation.note or "-"),
        ("Revision", f"{annotation.revision} ({annotation.created_utc})"),
        ("Model corrected", annotation.model_version or "- (drawn without a model)"),
    ]
    return ReportFrame(
        stem=item.stem,
        title=f"Frame {item.frame.id} (frame {item.frame.frame_index} of its source)",
        picture=frame.display,
        overlay=overlay,
        facts=facts,
        prediction=item.prediction,
        lesions=_lesions(store.lesions(annotation)),
    )


def _lesions(lesions: tuple[Lesion, ...]) -> list[ReportLesion]:
    several = len(lesions) > 1
    return [
        ReportLesion(
            title=f"Lesion {lesion.position}: {lesion.label}" if several else None,
            facts=[("Label (clinician)", lesion.label), ("Category (clinician)", lesion.category or "-"),
                   ("Note", lesion.note or "-")] if several else [],
            measurements=lesion.measurements,
            descriptors=descriptor_rows(lesion.descriptors),
        )
        for lesion in lesions
    ]  # fmt: skip


def descriptor_rows(descriptors: dict[str, dict[str, str]]) -> list[tuple[str, str, str]]:
    """(title, term, provenance in words) in the lexicon's order."""
    return [
        (lexicon.TITLES[name], descriptors[name]["value"], PROVENANCE_WORDS[descriptors[name]["source"]])
        for name in lexicon.DESCRIPTORS
        if name in descriptors
    ]


def _overlay(
    pixels: np.ndarray, mask: np.ndarray | None, item: ExportItem, measured: Measurements | None
) -> np.ndarray:
    """BGR picture: the render_overlay of the app when a model score exists, else the contour alone."""
    contours = lesion_contours(mask) if mask is not None and mask.any() else []
    prediction = item.prediction
    if prediction is not None and prediction.malignancy is not None:  # no score line for "no lesion found"
        view = _OverlayView(
            pixels, contours, item.annotation.label, prediction.malignancy, prediction.uncertainty,
            prediction.model_version, measured,
        )  # fmt: skip
        return render_overlay(view, view)
    canvas = display_bgr(pixels)
    colour = (60, 60, 255) if item.annotation.label == "malignant" else (80, 220, 80)
    for contour in contours:
        cv2.polylines(canvas, [np.round(contour).astype(np.int32).reshape(-1, 1, 2)], True, colour, 2)
    return canvas
