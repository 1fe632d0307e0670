"""Model v2's "no lesion found": the Document's score says so while the mask is the model's own (empty) one,
the score panel shows no malignancy score then, and an outline drawn by the clinician is scored as usual."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from c5desk.gui.score_panel import ScorePanel
from c5desk.inference import make_predictor
from c5desk.io.frame import Frame
from c5desk.model.bundle import make_random_bundle
from c5desk.reading.document import Document
from c5desk.reading.document_state import Score


def test_the_panel_shows_no_malignancy_score_when_no_lesion_was_found(qtbot) -> None:
    panel = ScorePanel()
    qtbot.addWidget(panel)
    panel.show()
    score = Score(0.7, 0.4, 0.05, None, False, "v2", "cpu", edited=False, pending=False)
    panel.show_score(replace(score, no_lesion_found=True, p_lesion=0.07))
    assert panel.verdict.text().startswith("No lesion found (P(lesion) 0.07)")
    assert panel.bar.p is None and panel.uncertainty.text() == ""
    panel.show_score(replace(score, p_lesion=0.93))
    assert panel.verdict.text().startswith("P(malignant) 0.70") and panel.bar.p == 0.7


def test_the_documents_score_says_no_lesion_found_until_the_clinician_outlines_one(tmp_path) -> None:
    bundle = make_random_bundle(tmp_path / "v2", input_size=64, prompts=True, presence=True)
    predictor = make_predictor(bundle, device="cpu", backend="torch")
    torch.nn.init.zeros_(predictor.engine.model.presence.fc.weight)
    torch.nn.init.constant_(predictor.engine.model.presence.fc.bias, -5.0)  # "no lesion" on every frame
    grey = np.clip(np.random.default_rng(0).rayleigh(40.0, (120, 160)) + 10, 0, 255).astype(np.uint8)
    frame = Frame(grey, grey, 0, None, None, "frame")
    doc = Document(frame)
    doc.set_prediction(predictor.predict(frame))
    assert doc.score.no_lesion_found and doc.score.p_lesion is not None and doc.score.p_lesion < 0.01
    assert doc.score.measurements is None
    mask = np.zeros(frame.shape, bool)
    mask[40:70, 50:90] = True
    doc.editor.apply(mask, "brush")
    assert not doc.score.no_lesion_found
