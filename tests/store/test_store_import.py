"""`c5desk import`: labelled folders (real BUS-BRA rows and broken synthetic ones) and unlabelled files."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from store_helpers import busbra_rows, write_labelled_folder

from c5desk.cli import main
from c5desk.io import open_source
from c5desk.store import Store, StoreError
from c5desk.store.importer import import_labelled_folder

pydicom_data = pytest.importorskip("pydicom.data")


def _frame_id(store: Store, image_path) -> int:
    with open_source(image_path) as source:
        return store.frame_id_for(source.frame(0).source_id)


def test_busbra_rows_import_with_masks_labels_categories_splits_and_cases(busbra_root, tmp_path, capsys):
    rows = busbra_rows(busbra_root, 6)
    folder = write_labelled_folder(tmp_path / "labelled", rows, busbra_root)
    assert main(["import", str(tmp_path / "store"), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "6 frame(s) added, 6 annotation(s) saved" in out and "ignored columns: histology" in out
    with Store.open(tmp_path / "store") as store:
        case_of_patient: dict[str, int] = {}
        for row in rows:
            frame_id = _frame_id(store, folder / row["image"])
            saved = store.annotation(frame_id)
            expected = cv2.imread(str(folder / row["mask"]), cv2.IMREAD_GRAYSCALE) > 127
            assert np.array_equal(store.mask(frame_id), expected)
            assert (saved.label, saved.category) == (row["label"], f"BI-RADS {row['birads']}")
            record = store.frame_record(frame_id)
            assert record.split == row["split"] and record.mm_per_px is None
            assert case_of_patient.setdefault(row["patient"], record.case_id) == record.case_id
        assert len(set(case_of_patient.values())) == len(case_of_patient)  # one case per patient
        assert store.check() == []
    assert main(["import", str(tmp_path / "store"), str(folder / "labels.csv")]) == 0
    assert "0 frame(s) added, 0 annotation(s) saved, 6 already present" in capsys.readouterr().out


def _image(path, shape=(40, 50), seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8))


def _mask(path, shape=(40, 50), box=(5, 5, 20, 20)):
    mask = np.zeros(shape, np.uint8)
    x, y, w, h = box
    mask[y : y + h, x : x + w] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), mask)


def _broken_folder(tmp_path):
    folder = tmp_path / "broken"
    for seed in range(9):
        _image(folder / f"img/{seed}.png", seed=seed)
        _mask(folder / f"msk/{seed}.png")
    _mask(folder / "msk/small.png", shape=(20, 20))
    (folder / "img/garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing an image needs")
    _image(tmp_path / "outside.png")
    rows = [
        {"image": "img/0.png", "mask": "msk/0.png", "label": "benign", "category": "3", "mm_per_px_x": "0.1",
         "mm_per_px_y": "0.12", "split": "train"},
        {"image": "img/1.png", "mask": "", "label": "normal"},
        {"image": "img/2.png", "mask": "msk/small.png", "label": "benign"},
        {"image": "img/garbage.png", "mask": "msk/3.png", "label": "malignant"},
        {"image": "img/4.png", "mask": "msk/4.png", "label": "suspicious"},
        {"image": "img/5.png", "mask": "msk/missing.png", "label": "benign"},
        {"image": "../outside.png", "mask": "msk/6.png", "label": "benign"},
        {"image": "img/7.png", "mask": "msk/7.png", "label": "normal"},
        {"image": "img/8.png", "mask": "msk/8.png", "label": "benign", "category": "BI-RADS 8"},
        {"image": "img/6.png", "mask": "msk/6.png", "label": "malignant", "mm_per_px_x": "-1",
         "mm_per_px_y": "0.1"},
    ]  # fmt: skip
    return write_labelled_folder(folder, rows)


def test_bad_rows_are_reported_good_rows_imported_nothing_half_written(tmp_path, capsys):
    folder = _broken_folder(tmp_path)
    assert main(["import", str(tmp_path / "store"), str(folder)]) == 0  # something was imported
    out = capsys.readouterr().out
    expected = {
        4: "mask small.png is 20x20 but the image is 50x40",
        5: "garbage.png",
        6: "unknown label 'suspicious'",
        7: "mask file msk/missing.png does not exist",
        8: "image path leads outside the folder",
        9: "label is normal (no lesion) but the mask is not empty",
        10: "'BI-RADS 8' is not a BI-RADS or TI-RADS assessment",
        11: "mm_per_px_x/mm_per_px_y must be positive",
    }
    for line, reason in expected.items():
        assert any(f"line {line} " in text and reason in text for text in out.splitlines()), (line, out)
    assert "2 frame(s) added, 2 annotation(s) saved, 0 already present, 0 duplicate row(s), 8 failed" in out
    with Store.open(tmp_path / "store") as store:
        assert len(store.frames()) == 2 and len(store.annotations()) == 2  # no frame without its annotation
        good = store.frame_record(_frame_id(store, folder / "img/0.png"))
        assert good.mm_per_px == (0.1, 0.12) and good.split == "train"
        assert (
            store.annotation(good.id).category == "3"
            and store.annotation(good.id).measurements["units"] == "mm"
        )
        normal = _frame_id(store, folder / "img/1.png")
        assert store.annotation(normal).label == "normal" and not store.mask(normal).any()
        assert store.check() == []
        [entry] = store.audit_log(action="import")
        assert entry.after["failed"] == 8 and entry.after["annotations_saved"] == 2


def test_unusable_table_or_no_good_row_exits_non_zero(tmp_path, capsys):
    folder = tmp_path / "nomask"
    _image(folder / "a.png")
    write_labelled_folder(folder, [{"image": "a.png", "label": "benign"}])
    assert main(["import", str(tmp_path / "store"), str(folder)]) == 1
    assert "labels.csv lacks the required column(s): mask" in capsys.readouterr().err
    bad = write_labelled_folder(tmp_path / "allbad", [{"image": "nope.png", "mask": "", "label": "benign"}])
    assert main(["import", str(tmp_path / "store"), str(bad)]) == 1
    assert "image file nope.png does not exist" in capsys.readouterr().out
    with Store.open(tmp_path / "store") as store:
        assert store.frames() == []


def test_unlabelled_dicom_and_image_frames(tmp_path, capsys):
    cine = pydicom_data.get_testdata_file("OBXXXX1A_2frame.dcm")
    still = pydicom_data.get_testdata_file("US1_UNCR.dcm")
    png = tmp_path / "frames" / "still.png"
    _image(png)
    (tmp_path / "frames" / "broken.dcm").write_bytes(b"not DICOM" * 20)
    store_dir = str(tmp_path / "store")
    assert main(["import", store_dir, cine, still, str(tmp_path / "frames")]) == 0
    out = capsys.readouterr().out
    assert "4 frame(s) added" in out and "FAILED broken.dcm" in out
    with Store.open(store_dir) as store:
        with open_source(cine) as source:
            ids = [store.frame_id_for(frame.source_id) for frame in source]
        assert None not in ids
        records = [store.frame_record(i) for i in ids]
        assert records[0].case_id == records[1].case_id  # one study, one case
        assert records[0].mm_per_px is not None or records[0].meta.get("modality") == "US"
        assert store.annotations() == []
    assert main(["import", store_dir, cine, "--max-frames", "1"]) == 0
    assert "0 frame(s) added, 0 annotation(s) saved, 1 already present" in capsys.readouterr().out


def test_api_reports_progress_and_can_be_cancelled(tmp_path):
    folder = _broken_folder(tmp_path)
    seen = []
    with Store.create(tmp_path / "store") as store:
        report = import_labelled_folder(
            store, folder, progress=lambda done, total: seen.append((done, total))
        )
    assert seen[-1] == (10, 10) and report.succeeded and len(report.failures) == 8
    with Store.create(tmp_path / "other") as store:
        stopped = import_labelled_folder(store, folder, cancel=lambda: True)
        assert stopped.cancelled and not stopped.succeeded and store.frames() == []


def test_cases_follow_the_dicom_study_when_the_app_adds_frames(tmp_path):
    first = pydicom_data.get_testdata_file("US1_UNCR.dcm")
    same_study = pydicom_data.get_testdata_file("US1_UNCI.dcm")
    other_study = pydicom_data.get_testdata_file("gdcm-US-ALOKA-16.dcm")
    with Store.create(tmp_path / "store") as store:
        cases = []
        for path in (first, same_study, other_study):
            with open_source(path) as source:
                frame_id = store.add_frame(source.frame(0), source_path=path)
            cases.append(store.frame_record(frame_id).case_id)
        assert cases[0] == cases[1] != cases[2]
        with open_source(first) as source, pytest.raises(StoreError, match="cannot be read"):
            store.add_frame(replace(source.frame(0), source_id="x" * 20), source_path=tmp_path / "gone.dcm")
