"""The report export's PDF (fpdf2), rendered back with pypdfium2: pages, pictures with the outline drawn,
the score, category, descriptors with provenance, the intended use, and notes in any script."""

from __future__ import annotations

import numpy as np
import pytest
from store_helpers import blob_mask, synthetic_frame

from c5desk.store import Store
from c5desk.store.export_common import INTENDED_USE
from c5desk.store.exports import run_export

pdfium = pytest.importorskip("pypdfium2")

SHAPE = (120, 160)
NOTE = "Łódź 肿块: lobulated,\nnext to a cyst"
MALIGNANT_RGB = np.array([255, 60, 60])  # lesion.overlay draws a malignant outline in BGR (60, 60, 255)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _pages(path):
    document = pdfium.PdfDocument(path)
    pages = []
    for page in document:
        picture = np.asarray(page.render(scale=2).to_pil().convert("RGB")).astype(int)
        pages.append((picture, page.get_textpage().get_text_range()))
    return pages


@pytest.fixture
def report(tmp_path):
    with Store.create(tmp_path / "store") as store:
        case = "case-key-a"
        first = store.add_frame(synthetic_frame(1, SHAPE, mm_per_px=(0.1, 0.1)), case_key=case)
        second = store.add_frame(synthetic_frame(2, SHAPE, dtype=np.uint16), case_key=case)
        mask = np.zeros(SHAPE, bool)
        mask[30:90, 40:120] = True
        store.add_prediction(first, "c5net-9", 0.83, 0.31, mask)
        descriptors = {
            "shape": {"value": "irregular", "source": "clinician"},
            "posterior_features": {"value": "shadowing", "source": "model"},
        }
        store.save_annotation(
            first, mask, "malignant", "BI-RADS 4b", NOTE, model_version="c5net-9", descriptors=descriptors
        )
        store.save_annotation(second, blob_mask(2, SHAPE, noise=0), "benign")
        run_export(store, "report", tmp_path / "out")
        record = store.frame_record(first)
    return tmp_path / "out" / record.case


def test_report_pdf_shows_pictures_score_descriptors_and_intended_use(report):
    assert (report / "report.html").is_file()
    pages = _pages(report / "report.pdf")
    assert 1 <= len(pages) <= 3
    picture, _ = pages[0]
    assert picture.std() > 20  # not a blank page
    outline = np.all(np.abs(picture - MALIGNANT_RGB) <= 40, axis=-1)
    assert outline.sum() > 200  # the malignant outline, drawn on the overlay picture
    text = _flat(" ".join(page_text for _, page_text in pages))
    for expected in (
        "P(malignant)",
        "0.83",
        "0.31",
        "c5net-9",
        "BI-RADS 4b",
        "malignant",
        "Long axis 10.00 mm",
    ):
        assert expected in text
    assert "Shape irregular confirmed by clinician" in text
    assert "Posterior features shadowing suggested by model" in text
    assert _flat(INTENDED_USE) in text
    assert "Uncalibrated" in text and " px" in text  # the 16-bit frame has no calibration


def test_a_note_in_any_script_does_not_break_the_pdf(report):
    text = " ".join(page_text for _, page_text in _pages(report / "report.pdf"))
    assert "Łódź" in text and "lobulated" in text  # latin-2 prints as written
    assert "\ufffd\ufffd" in text and "report.html shows them" in text  # CJK: marked, never dropped
    assert "Łódź 肿块" in (report / "report.html").read_text(encoding="utf-8")
