"""`c5desk import` of a COCO folder: plain COCO from other tools (polygons, RLE of both kinds, categories
by name, no attributes), BUS-BRA frames with a second lesion, and bad input: a specific message per
image or annotation, never a traceback, nothing half-imported."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as coco_mask

from c5desk.cli import main
from c5desk.store import Store, StoreError
from c5desk.store.coco_import import import_coco_folder
from c5desk.store.coco_masks import decode_segmentation, rle_string_counts

SHAPE = (40, 50)


def _image(folder: Path, name: str, seed: int, shape: tuple[int, int] = SHAPE) -> dict:
    pixels = np.random.default_rng(seed).integers(0, 255, shape, dtype=np.uint8)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "images" / name), pixels)
    return {"id": seed, "file_name": f"images/{name}", "width": shape[1], "height": shape[0]}


def _box(y0: int, y1: int, x0: int, x1: int, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[y0:y1, x0:x1] = True
    return mask


def _rle(mask: np.ndarray) -> dict:
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _uncompressed(mask: np.ndarray) -> dict:
    flat = mask.T.reshape(-1).astype(np.int8)  # COCO runs go down the columns, starting with 0s
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    counts = np.diff(np.concatenate([[0], edges])).tolist()
    return {"size": list(mask.shape), "counts": counts}


CATEGORIES = [{"id": 7, "name": "Malignant"}, {"id": 8, "name": "benign"}, {"id": 9, "name": "cyst"}]


def _write(folder: Path, images: list[dict], annotations: list[dict]) -> Path:
    document = {"images": images, "annotations": annotations, "categories": CATEGORIES}
    (folder / "annotations.json").write_text(json.dumps(document))
    return folder


def test_rle_strings_decode_as_pycocotools_does():
    for seed in range(5):
        mask = np.random.default_rng(seed).random(SHAPE) > 0.7
        rle = _rle(mask)
        assert np.array_equal(decode_segmentation(rle, *SHAPE), mask)
        assert sum(rle_string_counts(rle["counts"])) == mask.size
    with pytest.raises(StoreError, match="RLE string is corrupt"):
        rle_string_counts("0" * 3 + "\x7f")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # inside pycocotools, under numpy 2
def test_plain_coco_from_another_tool_imports_each_image_with_its_lesions(tmp_path, capsys):
    folder = tmp_path / "coco"
    images = [_image(folder, "a.png", 1), _image(folder, "b.png", 2), _image(folder, "c.png", 3)]
    images[0]["split"] = "test"
    images[2]["label"] = "normal"
    small, large = _box(2, 8, 2, 8), _box(15, 35, 10, 40)
    polygon = [[10.0, 15.0, 39.0, 15.0, 39.0, 34.0, 10.0, 34.0]]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 8, "segmentation": _uncompressed(small), "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 7, "segmentation": polygon, "iscrowd": 0,
         "attributes": {"category": "BI-RADS 9", "note": "firm", "shape": "round"}},
    ]  # fmt: skip
    _write(folder, images, annotations)
    assert main(["import", str(tmp_path / "store"), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "3 frame(s) added, 2 annotation(s) saved" in out and "0 failed" in out
    assert "NOTE annotations.json image 1 (images/a.png): category left out" in out
    with Store.open(tmp_path / "store") as store:
        assert len(store.frames()) == 3 and len(store.annotations()) == 2  # b.png: unlabelled
        by_split = {store.frame_record(a.frame_id).split: a for a in store.annotations()}
        first = by_split["test"]
        [main_lesion, second] = store.lesions(first)  # no "lesion" attribute: largest first
        assert (main_lesion.label, main_lesion.category, main_lesion.note) == ("malignant", None, "firm")
        assert main_lesion.descriptors == {"shape": {"value": "round", "source": "model"}}
        assert store.lesion_mask(main_lesion).sum() >= large.sum() * 0.9  # the polygon, drawn
        assert second.label == "benign" and np.array_equal(store.lesion_mask(second), small)
        assert by_split[None].label == "normal" and store.lesions(by_split[None]) == ()


def test_busbra_frames_with_a_second_lesion_round_trip_through_coco(busbra_root, tmp_path):
    folder = tmp_path / "coco"
    (folder / "images").mkdir(parents=True)
    images, annotations = [], []
    for index, name in enumerate(("bus_0001-l", "bus_0002-l"), start=1):
        picture = cv2.imread(str(busbra_root / "Images" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        mask_name = name.replace("bus_", "mask_")
        lesion = cv2.imread(str(busbra_root / "Masks" / f"{mask_name}.png"), cv2.IMREAD_GRAYSCALE) > 127
        cv2.imwrite(str(folder / "images" / f"{name}.png"), picture)
        height, width = lesion.shape
        images.append({"id": index, "file_name": f"images/{name}.png", "width": width, "height": height})
        other = np.zeros_like(lesion)
        other[height - 12 : height - 4, 4:12] = True  # a small second lesion, away from the first
        assert not (other & lesion).any()
        for number, (mask, category) in enumerate(((lesion, 7), (other, 8)), start=1):
            annotations.append({"id": 10 * index + number, "image_id": index, "category_id": category,
                                "segmentation": _rle(mask), "attributes": {"lesion": number}})  # fmt: skip
    _write(folder, images, annotations)
    with Store.create(tmp_path / "store") as store:
        report = import_coco_folder(store, folder)
        assert report.failures == [] and report.annotations_saved == 2
        for annotation in store.annotations():
            [first, second] = store.lesions(annotation)
            assert (first.label, second.label) == ("malignant", "benign")
            assert store.lesion_mask(second).sum() == 64
            assert np.array_equal(
                store.mask(annotation.frame_id), store.lesion_mask(first) | store.lesion_mask(second)
            )


def test_bad_images_and_annotations_are_refused_one_by_one_and_the_good_ones_imported(tmp_path, capsys):
    folder = tmp_path / "coco"
    good, unknown, size, corrupt, missing, outside, wrong = (
        _image(folder, f"{n}.png", seed) for seed, n in enumerate("abcdefg", start=1)
    )
    missing["file_name"] = "images/nowhere.png"
    outside["file_name"] = "../f.png"
    wrong["width"] = 99
    rle = _rle(_box(5, 9, 5, 9))
    bad_size = _rle(_box(5, 9, 5, 9, (20, 20)))
    broken = {**rle, "counts": [5, 7, 3]}
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 8, "segmentation": rle},
        {"id": 2, "image_id": 2, "category_id": 8, "segmentation": rle},
        {"id": 3, "image_id": 2, "category_id": 9, "segmentation": rle},  # cyst: the whole image refused
        {"id": 4, "image_id": 3, "category_id": 8, "segmentation": bad_size},
        {"id": 5, "image_id": 4, "category_id": 8, "segmentation": broken},
        {"id": 6, "image_id": 99, "category_id": 8, "segmentation": rle},
    ]
    _write(folder, [good, unknown, size, corrupt, missing, outside, wrong], annotations)
    assert main(["import", str(tmp_path / "store"), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Traceback" not in out
    assert "1 frame(s) added, 1 annotation(s) saved" in out
    assert "annotation 3 (image 2): category 'cyst' is not a lesion label" in out
    assert "annotation 4 (image 3): segmentation is 20x20 but the image is 50x40" in out
    assert "annotation 5 (image 4): segmentation RLE is corrupt" in out
    assert "image 5 (images/nowhere.png): image file images/nowhere.png does not exist" in out
    assert "image 6 (../f.png): image path leads outside the folder" in out
    assert "image 7 (images/g.png): annotations.json says 99x40 but the image file is 50x40" in out
    assert "annotation #6: names image 99, which annotations.json does not list" in out
    with Store.open(tmp_path / "store") as store:
        assert len(store.frames()) == 1  # image 2's good annotation did not bring its frame in


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "annotations.json is not valid JSON (line 1, column 2)"),
        ("[1, 2]", "not a COCO file: it has no list of images"),
        ('{"images": [], "annotations": {}}', "annotations is not a list"),
        (b"\xff\xfe{}", "not UTF-8 text"),
    ],
)
def test_an_unusable_annotations_file_is_one_line_and_exit_1(tmp_path, capsys, content, message):
    folder = tmp_path / "coco"
    folder.mkdir()
    path = folder / "annotations.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert main(["import", str(tmp_path / "store"), str(folder)]) == 1
    captured = capsys.readouterr()
    assert message in captured.err + captured.out and "Traceback" not in captured.err


def test_a_box_without_outline_and_a_normal_image_with_lesions_are_refused(tmp_path):
    folder = tmp_path / "coco"
    boxed, normal = _image(folder, "a.png", 1), _image(folder, "b.png", 2)
    normal["label"] = "normal"
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 8, "bbox": [1, 2, 3, 4]},
        {"id": 2, "image_id": 2, "category_id": 8, "segmentation": _rle(_box(5, 9, 5, 9))},
    ]
    _write(folder, [boxed, normal], annotations)
    with Store.create(tmp_path / "store") as store:
        report = import_coco_folder(store, folder)
        reasons = [f.reason for f in report.failures]
        assert reasons[0].startswith("has no segmentation (a box alone is not an outline)")
        assert reasons[1] == "is labelled normal (no lesion) but has 1 annotation(s)"
        assert store.frames() == [] and not report.succeeded
    with Store.create(tmp_path / "other") as store, pytest.raises(StoreError, match=r"no annotations\.json"):
        import_coco_folder(store, tmp_path)
