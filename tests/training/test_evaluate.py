"""training.evaluate end to end: a synthetic labelled folder and 6 real BUS-BRA rows, random-weight bundle."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.errors import C5Error
from c5desk.inference import make_predictor
from c5desk.io import open_source
from c5desk.model.bundle import make_random_bundle
from c5desk.store.labelled import read_mask
from training import metrics as M
from training.evaluate import CALIBRATION_PNG, CSV_COLUMNS, ROC_PNG, ImageResult, evaluate, summarise

REQUIRED_KEYS = {"dice", "iou", "hd95", "auc", "accuracy", "sensitivity", "specificity", "n", "ci"}
METRIC_KEYS = REQUIRED_KEYS - {"n", "ci"}
HEADER = ["image", "mask", "label", "split", "mm_per_px_x", "mm_per_px_y"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=64)


def _write_image(path: Path, seed: int, lesion: bool = True) -> np.ndarray:
    """A noisy 72x96 grey frame with a dark ellipse; returns the ellipse mask (empty without lesion)."""
    rng = np.random.default_rng(seed)
    image = (100 + 30 * rng.random((72, 96))).astype(np.uint8)
    mask = np.zeros((72, 96), np.uint8)
    if lesion:
        cv2.ellipse(mask, (30 + 4 * seed, 36), (14, 9), 0, 0, 360, 1, cv2.FILLED)
        image[mask > 0] //= 3
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return mask


def _write_folder(folder: Path, calibrated: bool = True) -> None:
    """6 test rows (2 malignant, 2 benign, 1 normal without mask, 1 unsure with mask) and 1 train row."""
    rows = []
    specs = [("malignant", "test"), ("benign", "test"), ("malignant", "test"), ("benign", "test")]
    specs += [("normal", "test"), ("unsure", "test"), ("benign", "train")]
    for i, (label, split) in enumerate(specs):
        image = f"img/{i}.png"
        mask = _write_image(folder / image, i, lesion=label != "normal")
        mask_name = ""
        if label != "normal":
            mask_name = f"masks/{i}.png"
            (folder / "masks").mkdir(exist_ok=True)
            cv2.imwrite(str(folder / mask_name), mask * 255)
        scale = ["0.1", "0.25"] if calibrated else ["", ""]
        rows.append([image, mask_name, label, split, *scale])
    _write_csv(folder / "labels.csv", HEADER, rows)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _check_pngs(plots: Path) -> None:
    for name in (ROC_PNG, CALIBRATION_PNG):
        image = cv2.imread(str(plots / name))
        assert image is not None and image.shape == (640, 640, 3), name
        assert image.std() > 10, f"{name} is blank"


def test_evaluate_synthetic_folder(tmp_path: Path, bundle: Path) -> None:
    folder, out = tmp_path / "data", tmp_path / "out"
    _write_folder(folder)
    calls: list[tuple[int, int]] = []
    result = evaluate(
        bundle, folder, split="test", out_json=out / "eval.json", out_csv=out / "eval.csv",
        plots_dir=out / "plots", backend="torch", n_boot=200, progress=lambda d, t: calls.append((d, t)),
    )  # fmt: skip
    assert calls == [(i, 6) for i in range(1, 7)]
    assert result.keys() >= REQUIRED_KEYS
    assert json.loads((out / "eval.json").read_text()) == result  # the file is exactly what was returned
    assert result["n"] == 6 and result["n_segmented"] == 5 and result["n_classified"] == 4
    assert result["hd95_units"] == "mm" and result["split"] == "test" and result["threshold"] == 0.5
    assert result["bundle_version"].startswith("random-")
    for key in METRIC_KEYS - {"hd95"}:
        assert 0.0 <= result[key] <= 1.0, key
    assert set(result["ci"]) == METRIC_KEYS
    for key, (low, high) in result["ci"].items():
        if low is not None:
            assert low <= high, key

    rows = _read_csv(out / "eval.csv")
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["image"] for r in rows] == [f"img/{i}.png" for i in range(6)]  # the train row is left out
    assert [r["label"] for r in rows][4:] == ["normal", "unsure"]
    assert rows[4]["dice"] == rows[4]["iou"] == rows[4]["hd95"] == ""  # normal, no mask: no segmentation
    assert all(r["p_lesion"] == "" for r in rows)  # v1: no lesion-present output
    dices = [float(r["dice"]) for r in rows if r["dice"]]
    assert len(dices) == 5 and result["dice"] == pytest.approx(np.mean(dices), abs=1e-5)
    scored = [(float(r["p_malignant"]), r["label"] == "malignant") for r in rows[:4]]
    assert result["auc"] == pytest.approx(M.roc_auc(*map(np.array, zip(*scored, strict=True))), abs=1e-5)
    _check_pngs(out / "plots")

    # the same numbers as the app's own Predictor on the full-resolution frame, in mm for hd95
    predictor = make_predictor(bundle, device="cpu", backend="torch", tta=True)
    with open_source(folder / "img/0.png") as source:
        frame = source.frame(0)
    prediction = predictor.predict(frame)
    truth = read_mask(folder / "masks/0.png", frame.shape)
    assert float(rows[0]["p_malignant"]) == pytest.approx(prediction.p_malignant, abs=1e-5)
    assert float(rows[0]["dice"]) == pytest.approx(M.dice(prediction.mask, truth), abs=1e-5)
    expected_hd = M.hd95(prediction.mask, truth, (0.1, 0.25))
    assert (
        (rows[0]["hd95"] == "")
        if math.isnan(expected_hd)
        else float(rows[0]["hd95"]) == pytest.approx(expected_hd, abs=1e-4)
    )


def test_uncalibrated_frames_give_hd95_in_pixels(tmp_path: Path, bundle: Path) -> None:
    _write_folder(tmp_path, calibrated=False)
    result = evaluate(bundle, tmp_path, backend="torch", tta=False, n_boot=20)
    assert result["n"] == 7 and result["n_classified"] == 5 and result["hd95_units"] == "px"
    assert result["tta"] is False


def test_undefined_metrics_are_null_in_json(tmp_path: Path, bundle: Path) -> None:
    folder = tmp_path / "data"
    mask = _write_image(folder / "a.png", 0)
    cv2.imwrite(str(folder / "m.png"), mask * 255)
    _write_csv(folder / "labels.csv", ["image", "mask", "label"], [["a.png", "m.png", "benign"]])
    result = evaluate(bundle, folder, out_json=tmp_path / "r.json", backend="torch", n_boot=20)
    assert result["auc"] is None and result["sensitivity"] is None and result["ci"]["auc"] == [None, None]
    assert json.loads((tmp_path / "r.json").read_text())["auc"] is None  # null, never NaN


def test_missing_folder(tmp_path: Path, bundle: Path) -> None:
    with pytest.raises(C5Error, match="nowhere"):
        evaluate(bundle, tmp_path / "nowhere")


def test_split_without_rows(tmp_path: Path, bundle: Path) -> None:
    _write_folder(tmp_path)
    with pytest.raises(C5Error, match=r"split 'val' \(splits present: test, train\)"):
        evaluate(bundle, tmp_path, split="val", backend="torch")


def test_unreadable_image_names_the_file(tmp_path: Path, bundle: Path) -> None:
    _write_folder(tmp_path)
    (tmp_path / "img/2.png").write_bytes(b"not a png at all")
    with pytest.raises(C5Error, match=r"line 4 \(img/2\.png\)"):
        evaluate(bundle, tmp_path, split="test", backend="torch", n_boot=10)


def test_missing_mask_names_the_file(tmp_path: Path, bundle: Path) -> None:
    _write_folder(tmp_path)
    (tmp_path / "masks/1.png").unlink()
    with pytest.raises(C5Error, match=r"masks/1\.png does not exist"):
        evaluate(bundle, tmp_path, backend="torch", n_boot=10)


def test_six_busbra_test_rows(tmp_path: Path, bundle: Path, busbra_root: Path) -> None:
    """Real frames: Images/ and Masks/ linked into a folder whose labels.csv holds 6 test-split rows."""
    with (busbra_root / "labels.csv").open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        split_at = header.index("split")
        rows = [row for row in reader if row[split_at] == "test"][:6]
    for sub in ("Images", "Masks"):
        (tmp_path / sub).symlink_to(busbra_root / sub, target_is_directory=True)
    _write_csv(tmp_path / "labels.csv", header, rows)
    result = evaluate(
        bundle, tmp_path, split="test", out_json=tmp_path / "out/e.json", out_csv=tmp_path / "out/e.csv",
        plots_dir=tmp_path / "out", backend="torch", n_boot=100,
    )  # fmt: skip
    labels = [row[header.index("label")] for row in rows]
    assert result["n"] == result["n_segmented"] == result["n_classified"] == 6
    assert result["n_malignant"] == labels.count("malignant")
    assert result["hd95_units"] == "px"  # BUS-BRA PNGs carry no calibration
    assert 0.0 <= result["dice"] <= 1.0 and 0.0 <= result["accuracy"] <= 1.0
    assert [r["image"] for r in _read_csv(tmp_path / "out/e.csv")] == [row[0] for row in rows]
    _check_pngs(tmp_path / "out")


# --- intervals over patients --------------------------------------------------------------------------------


def _results(patients: list[str | None], seed: int = 0) -> list[ImageResult]:
    """Synthetic per-image results; images of one patient are duplicates (same Dice, score and label)."""
    rng = np.random.default_rng(seed)
    by_patient: dict[str | None, tuple[float, float, str]] = {}
    out = []
    for i, patient in enumerate(patients):
        key = patient if patient is not None else f"alone{i}"
        if key not in by_patient:
            label = "malignant" if rng.random() < 0.4 else "benign"
            p = float(np.clip(rng.normal(0.65 if label == "malignant" else 0.35, 0.2), 0, 1))
            by_patient[key] = (float(rng.uniform(0.5, 1.0)), p, label)
        dice, p, label = by_patient[key]
        out.append(
            ImageResult(image=f"img{i}.png", label=label, p_malignant=p, uncertainty=0.0, segmented=True,
                        calibrated=False, group=patient, dice=dice, iou=dice / (2 - dice), hd95_px=1 - dice)
        )  # fmt: skip
    return out


def test_duplicated_patients_widen_the_intervals() -> None:
    patients = [f"p{i // 3}" for i in range(90)]  # 30 patients, three identical views each
    grouped = summarise(_results(patients), threshold=0.5, n_boot=500)
    alone = _results(patients)
    for r in alone:
        r.group = None
    by_image = summarise(alone, threshold=0.5, n_boot=500)  # the same numbers, resampled image by image
    assert grouped["ci_resampling"] == "group" and grouped["n_groups"] == 30
    assert by_image["ci_resampling"] == "image" and by_image["n_groups"] is None
    for key in ("dice", "iou", "hd95", "auc", "accuracy"):
        assert grouped[key] == by_image[key], key  # points do not depend on the resampling
        (low_g, high_g), (low_i, high_i) = grouped["ci"][key], by_image["ci"][key]
        assert high_g - low_g > 1.3 * (high_i - low_i), key


def test_rows_without_a_group_are_their_own_group() -> None:
    patients = ["a", "a", None, "b", None, "b", "b"]
    result = summarise(_results(patients), threshold=0.5, n_boot=50)
    assert result["ci_resampling"] == "group" and result["n_groups"] == 4  # a, b and two single images


@pytest.mark.parametrize("column", ["patient", "group"])
def test_evaluation_json_says_it_resampled_patients(tmp_path: Path, bundle: Path, column: str) -> None:
    folder, out = tmp_path / "data", tmp_path / "out"
    _write_folder(folder)
    rows = _read_csv(folder / "labels.csv")
    patients = ["P-17", "P-17", "P-23", "P-23", "P-31", "P-31", "P-40"]  # two views per patient
    _write_csv(
        folder / "labels.csv",
        [*HEADER, column],
        [[*r.values(), p] for r, p in zip(rows, patients, strict=True)],
    )
    result = evaluate(
        bundle,
        folder,
        split="test",
        out_json=out / "e.json",
        out_csv=out / "e.csv",
        backend="torch",
        n_boot=50,
    )
    assert result["ci_resampling"] == "group" and result["n_groups"] == 3
    assert json.loads((out / "e.json").read_text())["n_groups"] == 3
    assert "P-17" not in (out / "e.csv").read_text() + (out / "e.json").read_text()  # ids stay in the dataset


def test_without_patients_images_are_resampled(tmp_path: Path, bundle: Path) -> None:
    _write_folder(tmp_path)
    result = evaluate(
        bundle, tmp_path, split="test", out_json=tmp_path / "e.json", backend="torch", n_boot=20
    )
    assert result["ci_resampling"] == "image" and result["n_groups"] is None
