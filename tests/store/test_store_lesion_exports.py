"""Several lesions per frame through the exports: two lesions saved, exported to COCO, the labelled folder
and CSV and imported again; masks, DICOM SEG (two segments read back by highdicom) + SR, the report; and
the active-learning order of frames with several lesions."""

from __future__ import annotations

import csv
import warnings

import cv2
import highdicom as hd
import numpy as np
import pydicom
import pytest
from pycocotools.coco import COCO
from store_helpers import synthetic_frame

from c5desk.cli import main
from c5desk.store import LesionDraft, Store
from c5desk.store.active import frame_verdict
from c5desk.store.browse import browse_rows
from c5desk.store.exports import run_export

SHAPE = (48, 64)
TERMS = {
    "shape": {"value": "irregular", "source": "clinician"},
    "margin": {"value": "angular", "source": "model"},
}


def box(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def two_lesions() -> list[LesionDraft]:
    return [
        LesionDraft(
            box(5, 20, 5, 25), "malignant", "BI-RADS 5", "spiculated, =1+1", TERMS, {"method": "hand-drawn"}
        ),
        LesionDraft(box(30, 40, 40, 60), "benign", "3", "small cyst"),
    ]


@pytest.fixture
def store_dir(tmp_path):
    """Frame 1: two lesions (calibrated, scored); frame 2: one lesion; frame 3: normal."""
    folder = tmp_path / "store"
    with Store.create(folder) as store:
        several = store.add_frame(synthetic_frame(1, mm_per_px=(0.1, 0.2)), split="train", group="site-a")
        single = store.add_frame(synthetic_frame(2))
        normal = store.add_frame(synthetic_frame(3))
        store.add_prediction(several, "m1", 0.7, 0.4, box(5, 20, 5, 25))
        store.save_lesions(several, two_lesions(), model_version="m1")
        store.save_annotation(single, box(2, 9, 3, 12), "unsure", "TI-RADS 3", "one")
        store.save_annotation(normal, np.zeros(SHAPE, bool), "normal")
    return folder


def _export(store_dir, fmt, out) -> None:
    assert main(["export", str(store_dir), "--format", fmt, "--out", str(out)]) == 0


def _by_pixels(store: Store) -> dict[bytes, int]:
    return {store.frame_image(frame.id).tobytes(): frame.id for frame in store.frames()}


def _assert_same_lesions(first_dir, second_dir, *, descriptors: bool) -> None:
    """Every annotated frame of the first store is in the second with the same lesions."""
    with Store.open(first_dir) as first, Store.open(second_dir) as second:
        copies = _by_pixels(second)
        assert len(second.annotations()) == len(first.annotations()) == 3
        for annotation in first.annotations():
            copy = copies[first.frame_image(annotation.frame_id).tobytes()]
            again = second.annotation(copy)
            assert (again.label, again.category, again.note) == (
                annotation.label, annotation.category, annotation.note,
            )  # fmt: skip
            assert np.array_equal(second.mask(copy), first.mask(annotation.frame_id))
            ours, theirs = first.lesions(annotation), second.lesions(again)
            assert [(x.position, x.label, x.category, x.note) for x in theirs] == [
                (x.position, x.label, x.category, x.note) for x in ours
            ]
            for x, y in zip(ours, theirs, strict=True):
                assert np.array_equal(second.lesion_mask(y), first.lesion_mask(x))
                assert y.measurements == x.measurements  # the calibration came along
                if descriptors:
                    assert (y.descriptors, y.provenance) == (x.descriptors, x.provenance)
            record, copied = first.frame_record(annotation.frame_id), second.frame_record(copy)
            assert (copied.split, copied.mm_per_px) == (record.split, record.mm_per_px)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside pycocotools, under numpy 2
def test_two_lesions_saved_exported_to_coco_and_reimported(store_dir, tmp_path):
    _export(store_dir, "coco", tmp_path / "coco")
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == 3 and len({a["id"] for a in anns}) == 3  # two lesions + one; ids unique
    with Store.open(store_dir) as store:
        [main_ann, second_ann] = sorted(coco.loadAnns(coco.getAnnIds(imgIds=[1])), key=lambda a: a["id"])
        assert main_ann["id"] == store.annotation(1).id  # lesion 1 keeps the id a single lesion had
        assert [coco.loadCats(a["category_id"])[0]["name"] for a in (main_ann, second_ann)] == [
            "malignant",
            "benign",
        ]
        [lesion_1, lesion_2] = store.lesions(store.annotation(1))
        assert np.array_equal(coco.annToMask(main_ann).astype(bool), store.lesion_mask(lesion_1))
        assert np.array_equal(coco.annToMask(second_ann).astype(bool), store.lesion_mask(lesion_2))
        first, second = main_ann["attributes"], second_ann["attributes"]
        assert (first["lesion"], first["category"], first["note"]) == (1, "BI-RADS 5", "spiculated, =1+1")
        assert (second["lesion"], second["category"], second["note"]) == (2, "3", "small cyst")
        assert second["measurements"] == lesion_2.measurements
        assert second_ann["area"] == store.lesion_mask(lesion_2).sum()
        assert (first["shape"], first["descriptor_sources"]["margin"]) == ("irregular", "model")
        assert second["descriptor_sources"] == {} and first["p_malignant"] == second["p_malignant"] == 0.7
    assert main(["import", str(tmp_path / "again"), str(tmp_path / "coco")]) == 0
    _assert_same_lesions(store_dir, tmp_path / "again", descriptors=True)
    # importing the same export again changes nothing
    assert main(["import", str(tmp_path / "again"), str(tmp_path / "coco" / "annotations.json")]) == 0
    with Store.open(tmp_path / "again") as store:
        assert len(store.frames()) == 3 and all(a.revision == 1 for a in store.annotations())


def test_labelled_folder_has_a_row_per_lesion_and_round_trips(store_dir, tmp_path):
    _export(store_dir, "labelled-folder", tmp_path / "out")
    with (tmp_path / "out" / "labels.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["lesion"], r["label"]) for r in rows] == [
        ("1", "malignant"),
        ("2", "benign"),
        ("1", "unsure"),
        ("", "normal"),
    ]
    assert rows[0]["image"] == rows[1]["image"] and rows[1]["mask"].endswith("_lesion2.png")
    assert rows[0]["mask"] == rows[0]["image"].replace("images/", "masks/")
    assert (rows[1]["split"], rows[1]["mm_per_px_y"], rows[1]["note"]) == ("train", "0.2", "small cyst")
    second = cv2.imread(str(tmp_path / "out" / rows[1]["mask"]), cv2.IMREAD_GRAYSCALE) == 255
    assert np.array_equal(second, box(30, 40, 40, 60))
    assert main(["import", str(tmp_path / "again"), str(tmp_path / "out")]) == 0
    _assert_same_lesions(store_dir, tmp_path / "again", descriptors=False)


def test_csv_has_one_row_per_lesion_with_its_own_fields(store_dir, tmp_path):
    _export(store_dir, "csv", tmp_path / "out")
    with (tmp_path / "out" / "lesions.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["frame_id"], r["lesion"], r["label"]) for r in rows] == [
        ("1", "1", "malignant"), ("1", "2", "benign"), ("2", "1", "unsure"),
    ]  # fmt: skip
    main_row, second = rows[0], rows[1]
    assert (second["category"], second["note"], second["shape"]) == ("3", "small cyst", "")
    assert (main_row["shape"], main_row["shape_source"]) == ("irregular", "clinician")
    assert main_row["note"] == "spiculated, =1+1"  # quoted against spreadsheets, read back as written
    assert (second["bbox_x"], second["bbox_y"], second["bbox_w"], second["bbox_h"]) == (
        "40",
        "30",
        "20",
        "10",
    )
    assert float(second["area"]) == pytest.approx(10 * 20 * 0.1 * 0.2)
    assert float(main_row["area"]) == pytest.approx(15 * 20 * 0.1 * 0.2)
    assert second["p_malignant"] == "0.7" and second["revision"] == "1"


def test_masks_export_keeps_the_union_and_adds_each_lesion_of_a_frame_with_several(store_dir, tmp_path):
    _export(store_dir, "masks", tmp_path / "out")
    with Store.open(store_dir) as store:
        stem = store.frame_record(1).stem
        names = sorted(p.name for p in (tmp_path / "out" / "masks").iterdir())
        assert names == sorted(
            [f"{stem}.png", f"{stem}_lesion1.png", f"{stem}_lesion2.png"]
            + [f"{store.frame_record(i).stem}.png" for i in (2, 3)]
        )

        def read(name):
            return cv2.imread(str(tmp_path / "out" / "masks" / name), cv2.IMREAD_GRAYSCALE) == 255

        assert np.array_equal(read(f"{stem}.png"), store.mask(1))
        assert np.array_equal(read(f"{stem}_lesion2.png"), box(30, 40, 40, 60))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_dicom_seg_has_one_segment_per_lesion_and_the_sr_one_group_each(store_dir, tmp_path):
    with Store.open(store_dir) as store:
        run_export(store, "dicom-seg", tmp_path / "out")
        record = store.frame_record(1)
        lesions = store.lesions(store.annotation(1))
        masks = [store.lesion_mask(lesion) for lesion in lesions]
    folder = tmp_path / "out" / record.case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seg = hd.seg.segread(folder / f"{record.stem}_seg.dcm")
        sr = hd.sr.srread(folder / f"{record.stem}_sr.dcm")
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["malignant lesion 1", "benign lesion 2"]
    uid = pydicom.dcmread(folder / f"{record.stem}_sc.dcm").SOPInstanceUID
    pixels = seg.get_pixels_by_source_instance([uid], segment_numbers=[1, 2])
    for index, mask in enumerate(masks):
        assert np.array_equal(pixels[0, ..., index] > 0, mask)
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == 2
    for group, lesion in zip(groups, lesions, strict=True):
        (long_axis,) = group.get_measurements(name=hd.sr.CodedConcept("103339001", "SCT", "Long axis"))
        assert long_axis.value == pytest.approx(lesion.measurements["long_axis"])


def test_report_lists_each_lesion_with_its_measurements(store_dir, tmp_path):
    _export(store_dir, "report", tmp_path / "out")
    with Store.open(store_dir) as store:
        record = store.frame_record(1)
        [main_lesion, second] = store.lesions(store.annotation(1))
        single = store.frame_record(2)
    page = (tmp_path / "out" / record.case / "report.html").read_text()
    assert "<h3>Lesion 1: malignant</h3>" in page and "<h3>Lesion 2: benign</h3>" in page
    assert f"{main_lesion.measurements['long_axis']:.2f} mm" in page
    assert f"{second.measurements['long_axis']:.2f} mm" in page and "small cyst" in page
    assert (tmp_path / "out" / record.case / "report.pdf").read_bytes().startswith(b"%PDF-")
    alone = (tmp_path / "out" / single.case / "report.html").read_text()
    assert "<h3>" not in alone and "Long axis" in alone  # one lesion: shown as before


def test_label_flip_of_a_frame_with_several_lesions_compares_the_frames_verdict(tmp_path):
    with Store.create(tmp_path / "s") as store:
        frames = [store.add_frame(synthetic_frame(10 + i), case_key=f"c{i}") for i in range(3)]
        for frame_id in frames:
            store.add_prediction(frame_id, "m1", 0.9, 0.1, box(5, 20, 5, 25) | box(30, 40, 40, 60))
        benign_main = [
            LesionDraft(box(5, 20, 5, 25), "benign"),
            LesionDraft(box(30, 40, 40, 60), "malignant"),
        ]
        all_benign = [LesionDraft(box(5, 20, 5, 25), "benign"), LesionDraft(box(30, 40, 40, 60), "benign")]
        store.save_lesions(frames[0], benign_main, model_version="m1")  # model said malignant: right
        store.save_lesions(frames[1], all_benign, model_version="m1")  # model said malignant: overturned
        store.save_lesions(frames[2], [LesionDraft(box(5, 20, 5, 25), "malignant")], model_version="m1")
        hard = dict(store.hard_examples())
        assert hard[frames[1]] == 1.0  # the verdict was overturned
        assert hard[frames[0]] == pytest.approx(0.0)  # same outline (union), same verdict
        assert 0 < hard[frames[2]] < 1  # a lesion the model outlined was removed: seg_change only
        assert store.annotation(frames[0]).label_flip is False  # stored against the frame's verdict too
        order = [frame_id for frame_id, _ in store.hard_examples()]
        assert order[0] == frames[1]


def test_hard_examples_of_equal_change_put_frames_with_more_lesions_first(tmp_path):
    with Store.create(tmp_path / "s") as store:
        one, two = store.add_frame(synthetic_frame(20)), store.add_frame(synthetic_frame(21))
        for frame_id in (one, two):
            store.add_prediction(frame_id, "m1", 0.1, 0.1, np.zeros(SHAPE, bool))
        store.save_annotation(one, box(5, 20, 5, 25), "benign", model_version="m1")
        store.save_lesions(two, two_lesions())
        assert [frame_id for frame_id, change in store.hard_examples()] == [two, one]


def test_frame_verdict_and_the_browser_lesion_count(store_dir):
    assert frame_verdict(["benign", "malignant"]) == "malignant"
    assert frame_verdict(["unsure", "benign"]) == "benign" and frame_verdict(["unsure"]) is None
    with Store.open(store_dir) as store:
        counts = {row.frame_id: row.lesions for row in browse_rows(store)}
    assert counts == {1: 2, 2: 1, 3: 0}
