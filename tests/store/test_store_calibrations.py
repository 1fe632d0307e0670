"""User calibrations in the store: set, read, replaced (the old value audited), kept across reopening, bad
values refused; the scope of a frame; uncalibrated frames of the scope take the scale; linked views."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from store_helpers import synthetic_frame

from c5desk.io.frame import Frame
from c5desk.reading.calibration import calibrate_from_ruler, is_user_calibrated, with_user_calibration
from c5desk.store import Store, StoreError
from c5desk.store.calibrations import calibration_scope


@pytest.fixture
def store(tmp_path):
    with Store.create(tmp_path / "store") as opened:
        yield opened


def scanner_frame(seed: int, mm_per_px: tuple[float, float] | None = None) -> Frame:
    frame = synthetic_frame(seed, mm_per_px=mm_per_px)
    return replace(frame, meta={"manufacturer": "Acme  Medical", "manufacturer_model_name": "Sono|5"})


def test_scope_names_the_scanner_and_size_else_the_salted_source() -> None:
    assert calibration_scope(scanner_frame(1)) == "scanner:Acme Medical|Sono/5|64x48"
    assert calibration_scope(scanner_frame(2)) == calibration_scope(scanner_frame(1))
    png = synthetic_frame(3)
    assert calibration_scope(png) == f"source:{png.source_id}"  # salted id: no path, no name


def test_set_get_replace_audited_and_kept_after_reopening(tmp_path) -> None:
    folder = tmp_path / "s"
    with Store.create(folder) as store:
        assert store.user_calibration("source:abc") is None and store.user_calibrations() == []
        first = store.set_user_calibration("source:abc", (0.2, 0.2), {"distance_mm": 40.0})
        assert first.mm_per_px == (0.2, 0.2) and first.detail == {"distance_mm": 40.0} and first.user
        store.set_user_calibration("source:abc", (0.25, 0.25), {"distance_mm": 50.0})
    with Store.open(folder) as store:
        [kept] = store.user_calibrations()
        assert kept.scope == "source:abc" and kept.mm_per_px == (0.25, 0.25)
        assert store.user_calibration("source:abc") == kept
        first_entry, second_entry = store.audit_log(action="set_user_calibration")
        assert first_entry.before is None and first_entry.after["mm_per_px"] == [0.2, 0.2]
        assert second_entry.before == {"scope": "source:abc", "mm_per_px": [0.2, 0.2]}
        assert second_entry.after["mm_per_px"] == [0.25, 0.25]


@pytest.mark.parametrize(
    ("scope", "scale", "detail", "message"),
    [
        ("source:a", (0.0, 0.1), None, "mm per pixel"),
        ("source:a", (float("nan"), 0.1), None, "mm per pixel"),
        ("source:a", (5.0, 5.0), None, "mm per pixel"),
        ("source:a", "0.1", None, r"\(x, y\) mm per pixel"),
        ("", (0.1, 0.1), None, "one-line name"),
        ("a\nb", (0.1, 0.1), None, "one-line name"),
        ("source:a", (0.1, 0.1), ["points"], "dictionary"),
        ("source:a", (0.1, 0.1), {"note": "x" * 5000}, "limited to"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_written(store, scope, scale, detail, message) -> None:
    with pytest.raises(StoreError, match=message):
        store.set_user_calibration(scope, scale, detail)
    assert store.user_calibrations() == [] and store.audit_log(action="set_user_calibration") == []


def test_stored_frames_of_the_scope_take_it_but_never_over_the_scanners(store) -> None:
    bare = store.add_frame(scanner_frame(1))
    own = store.add_frame(scanner_frame(2, mm_per_px=(0.3, 0.3)))
    other = store.add_frame(synthetic_frame(3))
    store.set_user_calibration(calibration_scope(scanner_frame(1)), (0.1, 0.1))
    assert store.frame_record(bare).mm_per_px == (0.1, 0.1)
    assert store.frame_record(bare).meta["calibration"] == "user"
    kept = store.frame_record(own)
    assert kept.mm_per_px == (0.3, 0.3) and "calibration" not in kept.meta
    assert store.frame_record(other).mm_per_px is None
    [entry] = store.audit_log(action="set_user_calibration")
    assert entry.after["frames"] == [bare]
    store.set_user_calibration(calibration_scope(scanner_frame(1)), (0.12, 0.12))  # a recalibration
    assert store.frame_record(bare).mm_per_px == (0.12, 0.12)
    mask = np.zeros((48, 64), bool)
    mask[10:20, 10:30] = True
    saved = store.save_annotation(bare, mask, "benign")
    assert saved.measurements["units"] == "mm"
    assert saved.measurements["area"] == pytest.approx(200 * 0.12 * 0.12)


def test_a_frame_opened_later_takes_its_scopes_calibration(store) -> None:
    png = synthetic_frame(4)
    assert with_user_calibration(png, store) is png and with_user_calibration(png, None) is png
    calibrated, record = calibrate_from_ruler(png, store, ((5, 2), (5, 42)), 8.0)
    assert record.mm_per_px == pytest.approx((0.2, 0.2)) and record.detail["distance_mm"] == 8.0
    assert record.detail["frame"]["source_id"] == png.source_id
    assert is_user_calibrated(calibrated) and calibrated.mm_per_px == pytest.approx((0.2, 0.2))
    again = with_user_calibration(synthetic_frame(4), store)  # the same PNG opened again
    assert again.mm_per_px == pytest.approx((0.2, 0.2)) and again.meta["calibration"] == "user"
    scanner = scanner_frame(5, mm_per_px=(0.3, 0.3))
    assert with_user_calibration(scanner, store) is scanner
    with pytest.raises(StoreError, match="scanner's own calibration"):
        calibrate_from_ruler(scanner, store, ((5, 2), (5, 42)), 8.0)


def test_linked_views(store) -> None:
    a, b, c = (store.add_frame(synthetic_frame(seed)) for seed in (6, 7, 8))
    store.link_views(b, a)
    store.link_views(a, b)  # idempotent, either order
    store.link_views(a, c)
    assert store.linked_views(a) == [b, c] and store.linked_views(b) == [a] and store.linked_views(c) == [a]
    assert len(store.audit_log(action="link_views")) == 2
    with pytest.raises(StoreError, match="itself"):
        store.link_views(a, a)
    with pytest.raises(StoreError, match="not in this store"):
        store.link_views(a, 999)


def test_the_open_document_is_measured_again_in_mm(store) -> None:
    """After the scale is set, the model's own measurements and an edited mask's are in mm at once."""
    from c5desk.inference.contract import Prediction
    from c5desk.lesion.measure import measure_mask
    from c5desk.reading.calibration import recalibrate_document
    from c5desk.reading.document import Document

    png = synthetic_frame(9)
    mask = np.zeros(png.shape, bool)
    mask[10:30, 10:50] = True
    prediction = Prediction(
        prob=mask.astype(np.float32), mask=mask, contours=[], p_malignant=0.8, uncertainty=0.7,
        score_spread=0.1, seg_uncertainty=0.1, label="malignant", calibrated=False,
        measurements=measure_mask(mask), model_version="m", device="cpu", backend="torch",
    )  # fmt: skip
    doc = Document(png)
    doc.set_prediction(prediction)
    assert doc.score.measurements.units == "px" and doc.score.spread == 0.1
    frame, _ = calibrate_from_ruler(png, store, ((0, 0), (0, 40)), 8.0)
    recalibrate_document(doc, frame)
    own = doc.score
    assert own.measurements.units == "mm" and own.measurements.area == pytest.approx(800 * 0.04)
    assert own.p_malignant == 0.8 and own.spread == 0.1 and not own.pending  # the model's own, kept
    doc.editor.apply(mask[:, ::-1].copy(), "edit")
    doc.rescore(None)
    assert doc.score.measurements.units == "mm"  # the frame it measures is the calibrated one


def test_exports_say_whether_mm_came_from_the_scanner_or_a_user_calibration(store, tmp_path) -> None:
    import csv
    import json

    from c5desk.store.exports import run_export

    mask = np.zeros((48, 64), bool)
    mask[10:20, 10:30] = True
    scanner = store.add_frame(scanner_frame(10, mm_per_px=(0.1, 0.1)))
    user = store.add_frame(synthetic_frame(11))
    bare = store.add_frame(synthetic_frame(12))
    store.set_user_calibration(calibration_scope(synthetic_frame(11)), (0.2, 0.2), {"distance_mm": 10.0})
    for frame_id in (scanner, user, bare):
        store.save_annotation(frame_id, mask, "benign")
    run_export(store, "csv", tmp_path / "csv")
    with (tmp_path / "csv" / "lesions.csv").open(newline="") as stream:
        rows = {int(row["frame_id"]): row for row in csv.DictReader(stream)}
    assert [rows[i]["calibration"] for i in (scanner, user, bare)] == ["scanner", "user", ""]
    assert float(rows[user]["mm_per_px_x"]) == 0.2
    run_export(store, "coco", tmp_path / "coco")
    images = {
        image["id"]: image
        for image in json.loads((tmp_path / "coco" / "annotations.json").read_text())["images"]
    }
    assert [images[i]["calibration"] for i in (scanner, user, bare)] == ["scanner", "user", None]
