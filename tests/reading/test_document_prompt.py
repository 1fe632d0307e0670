"""Prompts while reading: one undo step each, the outline's provenance (automatic, prompted, hand-drawn)
following undo and hand edits, saved with the annotation and carried by its autosave."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.inference import make_predictor
from c5desk.io import open_source
from c5desk.io.frame import Frame
from c5desk.model.bundle import make_random_bundle
from c5desk.reading.document import Document, Origin
from c5desk.settings import RESOURCES
from c5desk.store import Store

SAMPLE = RESOURCES / "samples" / "bus_sample.png"


@pytest.fixture(scope="module")
def frame() -> Frame:
    with open_source(SAMPLE) as source:
        return source.frame(0)


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    bundle = make_random_bundle(tmp_path_factory.mktemp("prompt-doc") / "tiny", input_size=64, seed=2)
    return make_predictor(bundle, device="cpu", backend="torch")


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "dataset", create=True) as opened:
        yield opened


def blob(shape, centre, radius) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    cv2.circle(out, centre, radius, 1, -1)
    return out > 0


def two_blob_document(frame: Frame, predictor) -> tuple[Document, np.ndarray, np.ndarray]:
    """A document whose model result is a synthetic two-blob map (the random bundle's is noise)."""
    big, small = blob(frame.shape, (90, 110), 30), blob(frame.shape, (220, 90), 18)
    prob = cv2.GaussianBlur((0.9 * big + 0.8 * small).astype(np.float32), (9, 9), 3)
    doc = Document(frame, Origin(path=SAMPLE))
    doc.set_prediction(replace(predictor.predict(frame), prob=prob, mask=prob >= 0.5))
    return doc, big, small


def test_a_prompt_is_one_undo_step_and_undo_restores_the_model_mask(frame, predictor) -> None:
    doc, big, _small = two_blob_document(frame, predictor)
    assert doc.provenance == {"method": "automatic"}
    assert doc.prompt(predictor, "box", doc.prompt_for("box", box=(195, 65, 246, 116)))
    assert doc.editor.undo_names == ["box"] and not (doc.mask & big).any()
    score = doc.score
    assert not score.pending and score.measurements is not None and score.p_malignant is not None
    assert doc.provenance == {"method": "prompted", "prompts": [{"tool": "box", "box": [195, 65, 246, 116]}]}
    doc.editor.undo()
    assert np.array_equal(doc.mask, doc.prediction.mask) and doc.provenance == {"method": "automatic"}
    doc.editor.redo()
    assert doc.provenance["method"] == "prompted"  # the provenance follows the mask, redo included


def test_clicks_refine_the_mask_on_screen_and_keep_the_chain(frame, predictor) -> None:
    doc, big, small = two_blob_document(frame, predictor)
    doc.prompt(predictor, "pick", doc.prompt_for("pick", (90, 110)))
    assert np.array_equal(doc.mask, doc.mask & ~small) and (doc.mask & big).sum() > 0.9 * big.sum()
    doc.prompt(predictor, "click", doc.prompt_for("click", (220, 90), positive=True))
    assert (doc.mask & small).sum() > 0.9 * small.sum()
    doc.prompt(predictor, "click", doc.prompt_for("click", (117, 110), positive=False))  # 3 px inside
    assert not doc.mask[110, 117] and doc.mask[110, 90]
    prompts = doc.provenance["prompts"]
    assert [p["tool"] for p in prompts] == ["pick", "click", "click"]
    last = {"tool": "click", "positive": [[90, 110], [220, 90]], "negative": [[117, 110]]}
    assert prompts[-1] == last  # a click refines the pick: its point stays in the prompt


def test_a_hand_edit_after_a_prompt_is_hand_drawn_and_saved_so(frame, predictor, store) -> None:
    doc, _big, _small = two_blob_document(frame, predictor)
    doc.prompt(predictor, "box", doc.prompt_for("box", box=(195, 65, 246, 116)))
    doc.label = "benign"
    saved = doc.save(store)
    assert saved.provenance["method"] == "prompted" and saved.provenance["prompts"][0]["tool"] == "box"
    again = Document.for_frame(frame, Origin(path=SAMPLE), store)
    assert again.provenance == saved.provenance  # loaded back as saved

    doc.editor.begin_stroke(30, 30, 5)
    doc.editor.end_stroke()
    assert doc.provenance == {"method": "hand-drawn"}
    assert doc.autosave(store)
    assert store.journal_entry(doc.frame_id).provenance == {"method": "hand-drawn"}
    recovered = Document.for_frame(frame, Origin(path=SAMPLE), store)
    assert recovered.provenance == {"method": "hand-drawn"}
    doc.editor.undo()
    assert doc.provenance["method"] == "prompted"
