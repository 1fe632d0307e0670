"""`c5desk export`: masks, COCO (checked with pycocotools), CSV, labelled folder (round trip), report, and
the all-or-nothing output folder."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO
from store_helpers import blob_mask, busbra_rows, synthetic_frame, write_labelled_folder

from c5desk.cli import main
from c5desk.io import open_source
from c5desk.io.deidentify import clean_frame
from c5desk.store import Store, StoreError
from c5desk.store import export_ml as export_ml_module
from c5desk.store.export_common import ExportCancelled
from c5desk.store.exports import run_export

SHAPE = (48, 64)
NOTE = 'hypoechoic, "irregular"\nmargin'
DESCRIPTORS = {
    "shape": {"value": "irregular", "source": "clinician"},
    "margin": {"value": "spiculated", "source": "model"},
}


@pytest.fixture
def store_dir(tmp_path):
    """Five annotated frames covering grey/RGB/16-bit, calibrated or not, every label, with predictions."""
    folder = tmp_path / "store"
    with Store.create(folder) as store:
        ids = [
            store.add_frame(synthetic_frame(1, mm_per_px=(0.1, 0.1)), split="train", group="site-a"),
            store.add_frame(synthetic_frame(2, rgb=True), split="test"),
            store.add_frame(synthetic_frame(3)),
            store.add_frame(synthetic_frame(4)),
            store.add_frame(synthetic_frame(5, dtype=np.uint16, mm_per_px=(0.3, 0.2))),
            store.add_frame(synthetic_frame(6)),  # never annotated: not exported
        ]
        store.add_prediction(ids[0], "m1", 0.8, 0.5, blob_mask(100))
        store.add_prediction(ids[1], "m1", 0.3, 0.2, blob_mask(101))
        store.add_prediction(ids[3], "m1", 0.6, 0.3, np.zeros(SHAPE, bool), label="normal")  # no lesion found
        store.save_annotation(
            ids[0], blob_mask(1), "malignant", "BI-RADS 4a", NOTE, model_version="m1", descriptors=DESCRIPTORS
        )
        store.save_annotation(ids[1], blob_mask(2), "benign")
        store.save_annotation(ids[2], np.zeros(SHAPE, bool), "normal")
        store.save_annotation(ids[3], blob_mask(4), "unsure", "TI-RADS 3")
        store.save_annotation(ids[4], blob_mask(5), "benign")
    return folder


def _export(store_dir, fmt, out):
    assert main(["export", str(store_dir), "--format", fmt, "--out", str(out)]) == 0


def test_png_masks(store_dir, tmp_path):
    _export(store_dir, "masks", tmp_path / "out")
    with Store.open(store_dir) as store:
        annotated = store.annotations()
        files = sorted((tmp_path / "out" / "masks").iterdir())
        assert len(files) == len(annotated) == 5
        for annotation in annotated:
            png = tmp_path / "out" / "masks" / f"{store.frame_record(annotation.frame_id).stem}.png"
            assert np.array_equal(
                cv2.imread(str(png), cv2.IMREAD_UNCHANGED) == 255, store.mask(annotation.frame_id)
            )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside pycocotools, under numpy 2
def test_coco_loads_in_pycocotools_with_exact_masks_and_attributes(store_dir, tmp_path):
    _export(store_dir, "coco", tmp_path / "out")
    coco = COCO(str(tmp_path / "out" / "annotations.json"))
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} == {"benign", "malignant", "unsure"}
    assert len(coco.getImgIds()) == 5
    with Store.open(store_dir) as store:
        anns = coco.loadAnns(coco.getAnnIds())
        assert len(anns) == 4  # the normal frame is an image without annotations
        for ann in anns:
            frame_id = ann["image_id"]
            assert np.array_equal(coco.annToMask(ann).astype(bool), store.mask(frame_id))
            assert coco.loadCats(ann["category_id"])[0]["name"] == store.annotation(frame_id).label
            assert ann["area"] == store.mask(frame_id).sum()
            image = coco.loadImgs(frame_id)[0]
            pixels = cv2.imread(str(tmp_path / "out" / image["file_name"]), cv2.IMREAD_UNCHANGED)
            stored = store.frame_image(frame_id)
            assert np.array_equal(pixels if pixels.ndim == 2 else pixels[..., ::-1], stored)
        first = next(a for a in anns if a["category_id"] == 2)
        attributes = first["attributes"]
        assert attributes["p_malignant"] == 0.8 and attributes["model_version"] == "m1"
        assert attributes["measurements"] == store.annotation(first["image_id"]).measurements
        assert attributes["category"] == "BI-RADS 4a"
        assert (attributes["shape"], attributes["margin"]) == ("irregular", "spiculated")
        assert attributes["descriptor_sources"] == {"shape": "clinician", "margin": "model"}
        benign = next(a for a in anns if a["category_id"] == 1)["attributes"]
        assert benign["descriptor_sources"] == {} and "shape" not in benign


def test_csv_has_one_row_per_lesion_with_measurements_and_scores(store_dir, tmp_path):
    _export(store_dir, "csv", tmp_path / "out")
    with (tmp_path / "out" / "lesions.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4  # the normal frame has no lesion
    with Store.open(store_dir) as store:
        for row in rows:
            saved = store.annotation(int(row["frame_id"]))
            assert row["label"] == saved.label and row["note"] == saved.note
            assert float(row["long_axis"]) == pytest.approx(saved.measurements["long_axis"])
            assert row["units"] == saved.measurements["units"]
    malignant = next(r for r in rows if r["label"] == "malignant")
    assert (malignant["p_malignant"], malignant["prediction_model_version"], malignant["units"]) == (
        "0.8",
        "m1",
        "mm",
    )
    assert malignant["note"] == NOTE and malignant["split"] == "train" and malignant["group"] == "site-a"
    assert (malignant["shape"], malignant["shape_source"]) == ("irregular", "clinician")
    assert (malignant["margin"], malignant["margin_source"]) == ("spiculated", "model")
    assert malignant["echo_pattern"] == malignant["echo_pattern_source"] == ""
    assert all(r["shape"] == "" for r in rows if r is not malignant)
    unsure = next(r for r in rows if r["label"] == "unsure")  # the model had found no lesion there
    assert (unsure["p_malignant"], unsure["prediction_model_version"]) == ("", "m1")


def test_labelled_folder_round_trips_exactly(store_dir, tmp_path):
    _export(store_dir, "labelled-folder", tmp_path / "out")
    assert main(["import", str(tmp_path / "again"), str(tmp_path / "out")]) == 0
    with Store.open(store_dir) as first, Store.open(tmp_path / "again") as second:
        assert len(second.annotations()) == len(first.annotations()) == 5
        by_pixels = {second.frame_image(f.id).tobytes(): f for f in second.frames()}
        for annotation in first.annotations():
            original = first.frame_record(annotation.frame_id)
            copy = by_pixels[first.frame_image(original.id).tobytes()]
            again = second.annotation(copy.id)
            assert np.array_equal(second.mask(copy.id), first.mask(original.id))
            assert (again.label, again.category, again.note) == (
                annotation.label,
                annotation.category,
                annotation.note,
            )
            assert (copy.split, copy.group, copy.mm_per_px) == (
                original.split,
                original.group,
                original.mm_per_px,
            )
            assert again.measurements == annotation.measurements


def test_busbra_import_export_reimport_gives_identical_masks_and_labels(busbra_root, tmp_path):
    rows = busbra_rows(busbra_root, 4)
    folder = write_labelled_folder(tmp_path / "labelled", rows, busbra_root)
    assert main(["import", str(tmp_path / "s1"), str(folder)]) == 0
    _export(tmp_path / "s1", "labelled-folder", tmp_path / "exported")
    assert main(["import", str(tmp_path / "s2"), str(tmp_path / "exported")]) == 0
    with Store.open(tmp_path / "s2") as store:
        for row in rows:
            with open_source(folder / row["image"]) as source:  # the store holds de-identified pixels
                original = clean_frame(source.frame(0))[1].pixels
            [frame] = [f for f in store.frames() if np.array_equal(store.frame_image(f.id), original)]
            expected = cv2.imread(str(folder / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127
            assert np.array_equal(store.mask(frame.id), expected)
            assert store.annotation(frame.id).label == row["label"] and frame.split == row["split"]


def test_report_per_case_with_overlay_score_and_measurements(store_dir, tmp_path):
    _export(store_dir, "report", tmp_path / "out")
    with Store.open(store_dir) as store:
        records = {a.frame_id: store.frame_record(a.frame_id) for a in store.annotations()}
    pages = sorted((tmp_path / "out").glob("*/report.html"))
    assert len(pages) == len({r.case for r in records.values()})
    for frame_id, record in records.items():
        folder = tmp_path / "out" / record.case
        page = (folder / "report.html").read_text()
        frame_png = cv2.imread(str(folder / f"{record.stem}_frame.png"), cv2.IMREAD_UNCHANGED)
        overlay = cv2.imread(str(folder / f"{record.stem}_overlay.png"))
        assert frame_png is not None and overlay is not None and f'src="{record.stem}_overlay.png"' in page
        assert (folder / "report.pdf").read_bytes().startswith(b"%PDF-") and "not a medical device" in page
        if frame_id == 1:
            assert "P(malignant)" in page and "0.80" in page and "m1" in page and "width:80.0%" in page
            assert "hypoechoic, &quot;irregular&quot;" in page and " mm</td>" in page
            assert not np.array_equal(overlay, cv2.cvtColor(frame_png, cv2.COLOR_GRAY2BGR))  # contour drawn
            assert "<th>Shape</th><td>irregular</td><td>confirmed by clinician</td>" in page
            assert "<th>Margin</th><td>spiculated</td><td>suggested by model</td>" in page
        if frame_id == 2:
            assert "Uncalibrated" in page and " px</td>" in page
        if frame_id == 3:
            assert "No lesion outlined" in page and "No model score" in page
        if frame_id == 4:
            assert "found no lesion on this frame: no malignancy score" in page and "0.60" not in page


def test_output_folder_is_all_or_nothing(store_dir, tmp_path, monkeypatch, capsys):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "keep.txt").write_text("mine")
    assert main(["export", str(store_dir), "--format", "csv", "--out", str(occupied)]) == 1
    assert "not an empty folder" in capsys.readouterr().err and (occupied / "keep.txt").read_text() == "mine"
    calls = []

    def failing_write(path, image):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(path, image)

    real_write = export_ml_module.write_png
    monkeypatch.setattr(export_ml_module, "write_png", failing_write)
    with Store.open(store_dir) as store, pytest.raises(StoreError, match=r"half: cannot write.*No space"):
        run_export(store, "labelled-folder", tmp_path / "half")
    assert not (tmp_path / "half").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".half")] == []


def test_export_is_audited_and_options_are_checked(store_dir, tmp_path):
    with Store.open(store_dir) as store:
        run_export(store, "masks", tmp_path / "out")
        [entry] = store.audit_log(action="export")
        assert entry.after == {"format": "masks", "keep_identity": False, "exported": 5, "skipped": 0}
        with pytest.raises(StoreError, match="dicom-seg format only"):
            run_export(store, "csv", tmp_path / "x", keep_identity=True)
        with pytest.raises(StoreError, match="unknown export format"):
            run_export(store, "pdf", tmp_path / "y")


def test_export_reports_progress_and_can_be_cancelled(store_dir, tmp_path):
    seen = []
    with Store.open(store_dir) as store:
        run_export(store, "coco", tmp_path / "done", progress=lambda done, total: seen.append((done, total)))
        assert seen == [(n, 5) for n in range(1, 6)]
        with pytest.raises(ExportCancelled):
            run_export(
                store,
                "report",
                tmp_path / "stopped",
                cancel=lambda: len(seen) >= 7,
                progress=lambda *a: seen.append(a),
            )
    assert not (tmp_path / "stopped").exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".stopped")] == []
