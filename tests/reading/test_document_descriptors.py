"""BI-RADS descriptors while reading: suggested for the current mask, set or confirmed by the clinician,
saved with provenance, autosaved and recovered, and loaded back as the clinician left them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from c5desk.errors import C5Error
from c5desk.io.frame import Frame
from c5desk.reading.document import Document, Origin
from c5desk.settings import RESOURCES

SAMPLE = RESOURCES / "samples" / "bus_sample.png"


def outlined(frame: Frame) -> Document:
    doc = Document(frame, Origin(path=SAMPLE))
    mask = np.zeros(frame.shape, np.uint8)
    cv2.ellipse(mask, (frame.shape[1] // 2, frame.shape[0] // 2), (60, 25), 0, 0, 360, 1, -1)
    doc.editor.apply(mask.astype(bool), "outline")
    doc.rescore(None)
    return doc


def test_the_outline_gets_suggested_terms_and_the_clinician_has_the_last_word(frame, store):
    doc = outlined(frame)
    suggested = doc.score.suggested
    assert set(suggested) == {"shape", "orientation", "margin", "echo_pattern", "posterior_features"}
    assert suggested["orientation"] == "parallel"  # 120 px wide, 50 px tall
    assert all(entry["source"] == "model" for entry in doc.descriptors.values())
    doc.set_descriptor("margin", "spiculated")
    assert doc.descriptors["margin"] == {"value": "spiculated", "source": "clinician"}
    with pytest.raises(C5Error, match="not a BI-RADS term"):
        doc.set_descriptor("shape", "star")
    doc.confirm_descriptors()
    assert doc.descriptors["margin"]["value"] == "spiculated"  # confirming keeps what was set by hand
    assert all(entry["source"] == "clinician" for entry in doc.descriptors.values())
    doc.label = "malignant"
    saved = doc.save(store)
    assert saved.descriptors == doc.descriptors and not doc.dirty
    again = Document.for_frame(frame, Origin(path=SAMPLE), store)
    assert again.descriptor_choices == {name: e["value"] for name, e in saved.descriptors.items()}
    assert not again.dirty


def test_a_changed_term_is_unsaved_work_autosaved_and_recovered(frame, store):
    doc = outlined(frame)
    doc.label = "benign"
    doc.save(store)
    doc.set_descriptor("shape", "irregular")
    assert doc.dirty
    assert doc.autosave(store)
    assert not doc.autosave(store)  # once per change
    recovered = Document.for_frame(frame, Origin(path=SAMPLE), store)
    assert recovered.recovered_from and recovered.descriptor_choices == {"shape": "irregular"}
    doc.set_descriptor("shape", None)  # back to the suggestion
    assert doc.descriptors["shape"]["source"] == "model"


def test_no_lesion_no_descriptors(frame, store):
    doc = Document(frame, Origin(path=SAMPLE))
    doc.rescore(None)
    assert doc.descriptors == {} and doc.score.suggested == {}
    doc.set_descriptor("shape", "oval")  # kept as a choice, but there is no lesion to describe
    assert doc.descriptors == {}
    doc.label = "normal"
    assert doc.save(store).descriptors == {}
