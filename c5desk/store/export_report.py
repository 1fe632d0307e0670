"""Per-case report, as HTML and as PDF: each annotated frame with its contour overlay, the model's score with
an uncertainty bar, label, category, note, model versions and the intended use, and for each of its lesions
the measurements (mm, or px marked "uncalibrated") and BI-RADS descriptors (each "suggested by model" or
"confirmed by clinician"; report_frames says how several lesions are listed).

<out>/<case>/report.html with <stem>_frame.png and <stem>_overlay.png beside it (plain files, so the page
opens in any browser), and <out>/<case>/report.pdf (fpdf2, pictures embedded: export_pdf) for sending on.
"""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from c5desk.store.export_common import (
    INTENDED_USE,
    ExportItem,
    ExportSummary,
    write_file,
    write_png,
    write_text,
)
from c5desk.store.export_pdf import render_pdf
from c5desk.store.records import PredictionRecord
from c5desk.store.report_frames import ReportFrame, ReportLesion, report_frame
from c5desk.store.store import Store

_STYLE = """
body{font-family:sans-serif;margin:2em;color:#222} h1{font-size:1.4em} h2{font-size:1.1em;margin-top:2em}
.pictures img{max-width:48%;margin-right:1%;border:1px solid #999}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
.bar{position:relative;width:20em;height:1em;background:#eee;border:1px solid #999;display:inline-block}
.fill{position:absolute;left:0;top:0;bottom:0} .score{background:#c33} .unc{background:#888}
.warn{color:#a60;font-weight:bold} .use{border:1px solid #999;padding:.5em;background:#f6f6f6}
"""


def export_report(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    by_case: dict[str, list[ExportItem]] = defaultdict(list)
    for item in items:
        by_case[item.frame.case].append(item)
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    for case, case_items in sorted(by_case.items()):
        frames = [report_frame(store, item) for item in summary.track(case_items)]
        for frame in frames:
            write_png(out / case / f"{frame.stem}_frame.png", frame.picture)
            write_png(out / case / f"{frame.stem}_overlay.png", frame.overlay)
        write_text(out / case / "report.html", _page(case, [_frame_section(frame) for frame in frames], made))
        write_file(out / case / "report.pdf", render_pdf(case, frames, made))
        summary.exported += len(case_items)
        summary.files += 2 + 2 * len(case_items)


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _frame_section(frame: ReportFrame) -> str:
    return (
        f"<h2>{html.escape(frame.title)}</h2>"
        f'<div class="pictures"><img src="{frame.stem}_frame.png" alt="frame">'
        f'<img src="{frame.stem}_overlay.png" alt="contour overlay"></div>'
        f"{_table(frame.facts)}{_score_block(frame.prediction)}{_lesion_blocks(frame.lesions)}"
    )


def _lesion_blocks(lesions: list[ReportLesion]) -> str:
    if not lesions:
        return (
            "<p>No lesion outlined: no measurements.</p><p>No BI-RADS descriptors stored for this lesion.</p>"
        )
    blocks = []
    for lesion in lesions:
        heading = f"<h3>{html.escape(lesion.title)}</h3>{_table(lesion.facts)}" if lesion.title else ""
        blocks.append(f"{heading}{_measure_block(lesion)}{_descriptor_block(lesion)}")
    return "".join(blocks)


def _score_block(prediction: PredictionRecord | None) -> str:
    if prediction is None:
        return "<p>No model score stored for this frame.</p>"
    if prediction.malignancy is None:
        version = html.escape(prediction.model_version)
        return f"<p>The model ({version}) found no lesion on this frame: no malignancy score.</p>"
    p, u = prediction.malignancy, prediction.uncertainty
    return (
        f"<table><tr><th>P(malignant)</th><td>{_bar(p, 'score')} {p:.2f}</td></tr>"
        f"<tr><th>Uncertainty</th><td>{_bar(u, 'unc')} {u:.2f} (0 sure, 1 a coin toss)</td></tr>"
        f"<tr><th>Model version</th><td>{html.escape(prediction.model_version)}</td></tr>"
        f"<tr><th>Model's verdict</th><td>{html.escape(prediction.label)}</td></tr>"
        "</table>"
    )


def _bar(value: float, kind: str) -> str:
    return f'<span class="bar"><span class="fill {kind}" style="width:{value * 100:.1f}%"></span></span>'


def _measure_block(lesion: ReportLesion) -> str:
    if not lesion.measurements:
        return "<p>No lesion outlined: no measurements.</p>"
    warning = (
        ""
        if lesion.calibrated
        else '<p class="warn">Uncalibrated: the frame carries no mm calibration, sizes are in pixels.</p>'
    )
    return f"{warning}{_table(lesion.measure_rows())}"


def _descriptor_block(lesion: ReportLesion) -> str:
    if not lesion.descriptors:
        return "<p>No BI-RADS descriptors stored for this lesion.</p>"
    rows = "".join(
        f"<tr><th>{html.escape(title)}</th><td>{html.escape(term)}</td><td>{html.escape(source)}</td></tr>"
        for title, term, source in lesion.descriptors
    )
    return f"<table><tr><th>BI-RADS descriptor</th><th>Term</th><th>Provenance</th></tr>{rows}</table>"


def _page(case: str, sections: list[str], made: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>c5desk report {case}</title>'
        f"<style>{_STYLE}</style></head><body><h1>c5desk lesion report: {case}</h1>"
        f"<p>Generated {made}. De-identified: the case is named by the dataset only.</p>"
        f'<p class="use"><b>Intended use.</b> {html.escape(INTENDED_USE)}</p>'
        f"{''.join(sections)}</body></html>"
    )
