"""A labelled folder's rows naming one image with "lesion" numbers: imported together as that frame's
lesions, or not at all when they disagree (on the frame, or within a lesion)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.store import Store
from c5desk.store.importer import import_labelled_folder

SHAPE = (40, 50)


@pytest.fixture
def folder(tmp_path) -> Path:
    """img/0..2.png with masks msk/<n>_a.png (top-left box) and msk/<n>_b.png (bottom-right box)."""
    root = tmp_path / "labelled"
    (root / "img").mkdir(parents=True)
    (root / "msk").mkdir()
    for n in range(3):
        pixels = np.random.default_rng(n).integers(0, 255, SHAPE, dtype=np.uint8)
        cv2.imwrite(str(root / "img" / f"{n}.png"), pixels)
        for suffix, (y, x) in (("a", (2, 2)), ("b", (25, 30))):
            mask = np.zeros(SHAPE, np.uint8)
            mask[y : y + 10, x : x + 10] = 255
            cv2.imwrite(str(root / "msk" / f"{n}_{suffix}.png"), mask)
    return root


def _run(tmp_path: Path, folder: Path, lines: list[str]):
    (folder / "labels.csv").write_text("\n".join(["image,mask,label,lesion,split,note", *lines]) + "\n")
    with Store.create(tmp_path / "store") as store:
        report = import_labelled_folder(store, folder)
        lesions = {
            store.frame_record(a.frame_id).split: [(x.label, x.note) for x in store.lesions(a)]
            for a in store.annotations()
        }
    return report, lesions


def test_rows_of_one_image_become_its_lesions_in_number_order(tmp_path, folder):
    report, lesions = _run(tmp_path, folder, [
        "img/0.png,msk/0_b.png,benign,2,s0,second",
        "img/1.png,msk/1_a.png,malignant,,s1,alone",
        "img/0.png,msk/0_a.png,malignant,1,s0,main",
        "./img/0.png,msk/0_b.png,benign,2,s0,second",  # an exact repeat: imported once
    ])  # fmt: skip
    assert report.failures == [] and report.annotations_saved == 2 and report.frames_added == 2
    assert [d.reason for d in report.duplicates] == ["a repeat of line 2: imported once"]
    assert lesions == {"s0": [("malignant", "main"), ("benign", "second")], "s1": [("malignant", "alone")]}


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["img/0.png,msk/0_a.png,malignant,1,s0,", "img/0.png,msk/0_b.png,benign,2,other,"],
         "the lesions of this image disagree on the frame (split: s0 / other); none imported"),
        (["img/0.png,msk/0_a.png,malignant,1,s0,", "img/0.png,msk/0_b.png,benign,2,s0,",
          "img/0.png,msk/0_b.png,malignant,2,s0,"],
         "not imported: rows of another lesion of this image conflict (line 3, 4)"),
        (["img/0.png,msk/0_a.png,malignant,1,s0,", "img/0.png,msk/0_b.png,benign,x,s0,"],
         "lesion 'x' is not a lesion number (1 to 50); no row of this image imported"),
        (["img/0.png,msk/0_a.png,malignant,1,s0,", "img/0.png,,normal,2,s0,"],
         "lesion 2 cannot be labelled normal"),
    ],
)  # fmt: skip
def test_a_frame_whose_lesion_rows_disagree_is_not_imported_at_all(tmp_path, folder, lines, reason):
    report, lesions = _run(tmp_path, folder, [*lines, "img/2.png,msk/2_a.png,benign,1,s2,"])
    assert lesions == {"s2": [("benign", "")]}  # the other image is imported
    assert any(reason in failure.reason for failure in report.failures), report.failures
    assert all("img/0.png" in failure.where for failure in report.failures)


def test_a_bad_lesion_number_on_an_unreadable_row_fails_that_row_only(tmp_path, folder):
    report, lesions = _run(tmp_path, folder, [
        ',msk/0_a.png,benign,x,s0,',  # no image, and a bad lesion number
        'img/1.png,msk/1_a.png,benign,"2,s1,',  # an open quote: the row's own problem
        "img/2.png,msk/2_a.png,benign,1,s2,",
    ])  # fmt: skip
    assert lesions == {"s2": [("benign", "")]}
    assert len(report.failures) >= 1 and all("img/2.png" not in f.where for f in report.failures)
