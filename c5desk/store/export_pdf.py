"""The case report as PDF (fpdf2: pure Python, no browser engine): the same content as the HTML report,
with the pictures embedded (lossless), so one file can be sent on.

Text is set in DejaVu Sans, which matplotlib (a dependency) ships in its mpl-data: it covers Latin, Greek
and Cyrillic, so a note such as "Łódź" prints as written. A character the font has no glyph for (e.g. CJK)
prints as U+FFFD "�" instead of vanishing, and the page says so; the HTML report shows every character.
Without that font (a broken install), the PDF falls back to fpdf2's core Helvetica (latin-1 only, the rest
as "?").
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import cv2
import numpy as np
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from c5desk.lesion.overlay import display_bgr
from c5desk.settings import RESOURCES
from c5desk.store.export_common import INTENDED_USE
from c5desk.store.files import encode_png
from c5desk.store.records import PredictionRecord
from c5desk.store.report_frames import ReportFrame, ReportLesion

FONT = "DejaVu"
_PICTURE_MAX_H = 75.0  # mm: two frames side by side, leaving room for the tables below
_SCORE_RGB, _UNCERTAINTY_RGB, _WARN_RGB = (204, 51, 51), (136, 136, 136), (170, 102, 0)


def font_folder() -> Path | None:
    """The installed app's fonts (the installer copies DejaVu, since matplotlib stays out of the bundle), else
    matplotlib's bundled TrueType fonts, found without importing matplotlib (slow, and not needed)."""
    if (RESOURCES / "fonts" / "DejaVuSans.ttf").is_file():
        return RESOURCES / "fonts"
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    return folder if (folder / "DejaVuSans.ttf").is_file() else None


class _ReportPdf(FPDF):
    def __init__(self, case: str) -> None:
        super().__init__(format="A4")
        self.case = case
        self.missing = False  # some character had no glyph
        folder = font_folder()
        if folder is not None:
            self.add_font(FONT, "", folder / "DejaVuSans.ttf")
            self.add_font(FONT, "B", folder / "DejaVuSans-Bold.ttf")
            self.text_family = FONT
        else:
            self.text_family = "Helvetica"
        self.set_auto_page_break(True, margin=15)

    def safe(self, text: str) -> str:
        """The text with every character the font cannot draw replaced (visibly, never silently dropped)."""
        if self.text_family != FONT:
            return text.encode("latin-1", "replace").decode("latin-1")
        cmap = self.fonts[FONT.lower()].cmap
        shown = "".join(c if ord(c) in cmap or c in "\n\t" else "\ufffd" for c in text)
        self.missing = self.missing or shown != text
        return shown

    def write_line(self, text: str, size: float = 10, bold: bool = False, height: float = 6) -> None:
        self.set_font(self.text_family, "B" if bold else "", size)
        self.multi_cell(0, height, self.safe(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.text_family, "", 8)
        self.cell(
            0, 5, self.safe(f"c5desk lesion report {self.case} - page {self.page_no()}/{{nb}}"), align="C"
        )


def render_pdf(case: str, frames: list[ReportFrame], made: str) -> bytes:
    pdf = _ReportPdf(case)
    pdf.add_page()
    pdf.write_line(f"c5desk lesion report: {case}", size=16, bold=True, height=9)
    pdf.write_line(f"Generated {made}. De-identified: the case is named by the dataset only.", size=9)
    pdf.ln(2)
    pdf.set_fill_color(240, 240, 240)
    pdf.set_font(pdf.text_family, "", 9)
    pdf.multi_cell(0, 5, pdf.safe(f"Intended use. {INTENDED_USE}"), border=1, fill=True, padding=2, align="L")
    for frame in frames:
        _frame(pdf, frame)
    if pdf.missing:
        pdf.ln(4)
        pdf.write_line("\ufffd marks characters this PDF's font cannot show; report.html shows them.", size=8)
    return bytes(pdf.output())


def _frame(pdf: _ReportPdf, frame: ReportFrame) -> None:
    if pdf.get_y() + _PICTURE_MAX_H + 20 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(4)
    pdf.write_line(frame.title, size=12, bold=True, height=8)
    _pictures(pdf, [_rgb(frame.picture), frame.overlay])
    _table(pdf, frame.facts)
    _score(pdf, frame.prediction)
    if not frame.lesions:
        pdf.write_line("No lesion outlined: no measurements.")
        pdf.write_line("No BI-RADS descriptors stored for this lesion.")
    for lesion in frame.lesions:
        _lesion(pdf, lesion)


def _lesion(pdf: _ReportPdf, lesion: ReportLesion) -> None:
    if lesion.title:
        pdf.write_line(lesion.title, size=11, bold=True, height=7)
        _table(pdf, lesion.facts)
    if lesion.measurements:
        if not lesion.calibrated:
            pdf.set_text_color(*_WARN_RGB)
            pdf.write_line(
                "Uncalibrated: the frame carries no mm calibration, sizes are in pixels.", bold=True
            )
            pdf.set_text_color(0, 0, 0)
        _table(pdf, lesion.measure_rows())
    else:
        pdf.write_line("No lesion outlined: no measurements.")
    if lesion.descriptors:
        _table(pdf, [("BI-RADS descriptor", "Term", "Provenance"), *lesion.descriptors], headings=True)
    else:
        pdf.write_line("No BI-RADS descriptors stored for this lesion.")


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """8-bit RGB of any stored pixels (16-bit frames are windowed as the app shows them)."""
    return cv2.cvtColor(display_bgr(pixels), cv2.COLOR_BGR2RGB)


def _pictures(pdf: _ReportPdf, pictures: list[np.ndarray]) -> None:
    gap = 4.0
    width = (pdf.epw - gap * (len(pictures) - 1)) / len(pictures)
    height_px, width_px = pictures[0].shape[:2]
    height = width * height_px / width_px
    if height > _PICTURE_MAX_H:
        width, height = width * _PICTURE_MAX_H / height, _PICTURE_MAX_H
    top = pdf.get_y()
    for index, picture in enumerate(pictures):
        pdf.image(
            io.BytesIO(encode_png(picture)), x=pdf.l_margin + index * (width + gap), y=top, w=width, h=height
        )
    pdf.set_y(top + height + 3)


def _table(pdf: _ReportPdf, rows: list[tuple[str, ...]], headings: bool = False) -> None:
    pdf.set_font(pdf.text_family, "", 9)
    pdf.set_fill_color(255, 255, 255)  # fpdf2 tables fill with the current colour (the bars' otherwise)
    pdf.set_draw_color(153, 153, 153)
    widths = (45, pdf.epw - 45) if len(rows[0]) == 2 else (45, 60, pdf.epw - 105)
    with pdf.table(
        col_widths=widths, text_align="LEFT", first_row_as_headings=headings, line_height=5
    ) as table:
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(pdf.safe(str(value)))
    pdf.ln(2)


def _score(pdf: _ReportPdf, prediction: PredictionRecord | None) -> None:
    if prediction is None:
        pdf.write_line("No model score stored for this frame.")
        return
    p, u = prediction.p_malignant, prediction.uncertainty
    _bar(pdf, "P(malignant)", p, f"{p:.2f}", _SCORE_RGB)
    _bar(pdf, "Uncertainty", u, f"{u:.2f} (0 sure, 1 a coin toss)", _UNCERTAINTY_RGB)
    _table(pdf, [("Model version", prediction.model_version), ("Model's verdict", prediction.label)])


def _bar(pdf: _ReportPdf, title: str, value: float, text: str, colour: tuple[int, int, int]) -> None:
    pdf.set_font(pdf.text_family, "B", 9)
    pdf.cell(45, 6, pdf.safe(title))
    x, y = pdf.get_x(), pdf.get_y() + 1.5
    pdf.set_draw_color(153, 153, 153)
    pdf.set_fill_color(238, 238, 238)
    pdf.rect(x, y, 60, 3, style="DF")
    pdf.set_fill_color(*colour)
    if value > 0:
        pdf.rect(x, y, 60 * value, 3, style="F")
    pdf.set_x(x + 63)
    pdf.set_font(pdf.text_family, "", 9)
    pdf.cell(0, 6, pdf.safe(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
