"""Per-case HTML report: each annotated frame with its contour overlay, the model's score with an
uncertainty bar, measurements (mm, or px marked "uncalibrated"), label, category and model versions.

<out>/<case>/report.html with <stem>_frame.png and <stem>_overlay.png beside it (plain files, so the
report opens in any browser and prints to PDF from there). PDF is not written directly: no well-kept
PDF library is installed, and a browser's "print to PDF" renders this page faithfully.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from c5desk.lesion.measure import Measurements, lesion_contours, measure_mask
from c5desk.lesion.overlay import display_bgr, render_overlay
from c5desk.store.export_common import ExportItem, ExportSummary, write_png, write_text
from c5desk.store.store import Store

_STYLE = """
body{font-family:sans-serif;margin:2em;color:#222} h1{font-size:1.4em} h2{font-size:1.1em;margin-top:2em}
.pictures img{max-width:48%;margin-right:1%;border:1px solid #999}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
.bar{position:relative;width:20em;height:1em;background:#eee;border:1px solid #999;display:inline-block}
.fill{position:absolute;left:0;top:0;bottom:0} .score{background:#c33} .unc{background:#888}
.warn{color:#a60;font-weight:bold}
"""
_MEASURE_ROWS = (
    ("long_axis", "Long axis"), ("short_axis", "Short axis"), ("sl_ratio", "Short/long ratio"),
    ("area", "Area"), ("orientation_deg", "Orientation (deg)"), ("taller_than_wide", "Taller than wide"),
    ("circularity", "Circularity"), ("solidity", "Solidity"), ("n_components", "Islands"),
)  # fmt: skip


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


def export_report(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    by_case: dict[str, list[ExportItem]] = defaultdict(list)
    for item in items:
        by_case[item.frame.case].append(item)
    for case, case_items in sorted(by_case.items()):
        sections = [_frame_section(store, item, out / case) for item in summary.track(case_items)]
        write_text(out / case / "report.html", _page(case, sections))
        summary.exported += len(case_items)
        summary.files += 1 + 2 * len(case_items)


def _frame_section(store: Store, item: ExportItem, folder: Path) -> str:
    frame = store.export_frame(item.frame.id)
    mask = store.mask(item.frame.id)
    measured = measure_mask(mask, frame.mm_per_px) if mask is not None else None
    overlay = _overlay(frame.display, mask, item, measured)
    write_png(folder / f"{item.stem}_frame.png", frame.display)
    write_png(folder / f"{item.stem}_overlay.png", cv2.cvtColor(overlay, cv2.COLOR_BGR2RGB))
    annotation, prediction = item.annotation, item.prediction
    facts = [
        ("Label (clinician)", annotation.label),
        ("Category", annotation.category or "-"),
        ("Note", annotation.note or "-"),
        ("Revision", f"{annotation.revision} ({annotation.created_utc})"),
        ("Model corrected", annotation.model_version or "- (drawn without a model)"),
    ]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts)
    return (
        f"<h2>Frame {item.frame.id} (frame {item.frame.frame_index} of its source)</h2>"
        f'<div class="pictures"><img src="{item.stem}_frame.png" alt="frame">'
        f'<img src="{item.stem}_overlay.png" alt="contour overlay"></div>'
        f"<table>{rows}</table>{_score_block(prediction)}{_measure_block(annotation.measurements)}"
    )


def _overlay(
    pixels: np.ndarray, mask: np.ndarray | None, item: ExportItem, measured: Measurements | None
) -> np.ndarray:
    """BGR picture: the render_overlay of the app when a model score exists, else the contour alone."""
    contours = lesion_contours(mask) if mask is not None and mask.any() else []
    prediction = item.prediction
    if prediction is not None:
        view = _OverlayView(
            pixels, contours, item.annotation.label, prediction.p_malignant, prediction.uncertainty,
            prediction.model_version, measured,
        )  # fmt: skip
        return render_overlay(view, view)
    canvas = display_bgr(pixels)
    colour = (60, 60, 255) if item.annotation.label == "malignant" else (80, 220, 80)
    for contour in contours:
        cv2.polylines(canvas, [np.round(contour).astype(np.int32).reshape(-1, 1, 2)], True, colour, 2)
    return canvas


def _score_block(prediction: Any) -> str:
    if prediction is None:
        return "<p>No model score stored for this frame.</p>"
    p, u = prediction.p_malignant, prediction.uncertainty
    return (
        f"<table><tr><th>P(malignant)</th><td>{_bar(p, 'score')} {p:.2f}</td></tr>"
        f"<tr><th>Uncertainty</th><td>{_bar(u, 'unc')} {u:.2f} (0 sure, 1 a coin toss)</td></tr>"
        f"<tr><th>Model version</th><td>{html.escape(prediction.model_version)}</td></tr>"
        f"<tr><th>Model's verdict</th><td>{html.escape(prediction.label)}</td></tr>"
        "</table>"
    )


def _bar(value: float, kind: str) -> str:
    return f'<span class="bar"><span class="fill {kind}" style="width:{value * 100:.1f}%"></span></span>'


def _measure_block(measurements: dict[str, Any] | None) -> str:
    if not measurements:
        return "<p>No lesion outlined: no measurements.</p>"
    units = measurements.get("units", "px")
    rows = []
    for key, title in _MEASURE_ROWS:
        value = measurements.get(key)
        unit = {"long_axis": units, "short_axis": units, "area": f"{units}²"}.get(key, "")
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        rows.append(f"<tr><th>{title}</th><td>{html.escape(shown)} {unit}</td></tr>")
    warning = (
        ""
        if measurements.get("calibrated")
        else '<p class="warn">Uncalibrated: the frame carries no mm calibration, sizes are in pixels.</p>'
    )
    return f"{warning}<table>{''.join(rows)}</table>"


def _page(case: str, sections: list[str]) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>c5desk report {case}</title>'
        f"<style>{_STYLE}</style></head><body><h1>c5desk lesion report: {case}</h1>"
        f"<p>Generated {made}. De-identified: the case is named by the dataset only. Scores come from a "
        "research model and support, never replace, the clinician's reading.</p>"
        f"{''.join(sections)}</body></html>"
    )
