"""The score panel's scope line: hidden for a B-mode frame, the Predictor's reason shown for colour Doppler
(carried by the prediction into the Document's score), gone when no frame is shown."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from c5desk.gui.score_panel import ScorePanel
from c5desk.inference import make_predictor
from c5desk.io.frame import Frame
from c5desk.model.bundle import make_random_bundle
from c5desk.reading.document import Document
from c5desk.reading.document_state import Score


def _frame(colour: bool, name: str) -> Frame:
    rng = np.random.default_rng(0)
    grey = np.clip(rng.rayleigh(40.0, (120, 160)) + 10, 0, 255).astype(np.uint8)
    pixels = np.repeat(grey[..., None], 3, axis=2)
    if colour:
        cv2.ellipse(pixels, (80, 60), (30, 10), 15, 0, 360, (220, 30, 30), cv2.FILLED)
    return Frame(pixels, grey, 0, None, None, name)


def test_the_scope_line_shows_why_a_frame_is_out_of_scope(qtbot) -> None:
    panel = ScorePanel()
    qtbot.addWidget(panel)
    panel.show()
    score = Score(0.7, 0.4, 0.05, None, False, "v1", "cpu", edited=False, pending=False)
    panel.show_score(score)
    assert panel.scope_badge.isHidden()
    panel.show_score(replace(score, out_of_scope="colour Doppler"))
    assert panel.scope_badge.isVisible() and "colour Doppler" in panel.scope_badge.text()
    panel.show_score(None)
    assert panel.scope_badge.isHidden()


def test_the_predictors_scope_check_reaches_the_documents_score(tmp_path) -> None:
    bundle = make_random_bundle(tmp_path / "tiny", arch="c5net_tiny", input_size=64)
    predictor = make_predictor(bundle, device="cpu", backend="torch")
    for colour, expected in ((False, ""), (True, "Doppler")):
        frame = _frame(colour, "doppler" if colour else "bmode")
        doc = Document(frame)
        doc.set_prediction(predictor.predict(frame))
        assert expected in doc.score.out_of_scope and bool(doc.score.out_of_scope) == colour
