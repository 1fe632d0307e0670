"""Evaluate a model bundle on a labelled folder, through exactly the app's inference path.

Every row goes through c5desk.store.labelled.prepare_row (the import checks) and c5desk.inference.Predictor
frame by frame, and the prediction is compared at full frame resolution with the reference mask and label:
- segmentation (dice, iou, hd95) on every row with a mask file (benign, malignant, and normal or unsure rows
  that have one); hd95 is in mm only when EVERY segmented frame is calibrated, else in px for all, so that
  one mean never mixes units ("hd95_units" says which). Images where exactly one of the two masks is empty
  have no hd95: they are left out of its mean and counted in "n_hd95_undefined".
- classification (auc, accuracy, sensitivity, specificity at `threshold`) on benign (0) / malignant (1)
  rows only; normal and unsure rows carry no malignancy truth.
Intervals are 95 % percentile bootstraps (score and label resampled together) over PATIENTS when the folder
says which images belong together (its `group` column, else its `patient` column, as training.data groups
them; a row without either is its own group): a cluster bootstrap draws whole groups with replacement and
takes all their images, because two views (or both breasts) of one patient are not independent and an
image bootstrap would make every interval too narrow. Without any group or patient values images are
resampled. "ci_resampling" ("group" or "image") and "n_groups" (None for images) say which was used.
The results dict is JSON-safe (undefined values are None) and is exactly what goes into out_json.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from c5desk.csvcells import safe_cell
from c5desk.errors import C5Error
from c5desk.fsio import write_atomic
from c5desk.inference import Prediction, Predictor, make_predictor
from c5desk.store.labelled import LABELS_CSV, LabelledRow, prepare_row, read_table
from training import metrics as M
from training.data import DataError, warn_unneeded
from training.plots import plot_reliability, plot_roc

CLASS_OF = {"benign": 0, "malignant": 1}
METRICS = ("dice", "iou", "hd95", "auc", "accuracy", "sensitivity", "specificity")
# p_lesion: model v2's P(lesion) (empty for a model without one); below the bundle's cut the frame got
# "no lesion found" and Dice 0 on a lesion frame
CSV_COLUMNS = ("image", "label", "p_malignant", "dice", "iou", "hd95", "uncertainty", "p_lesion")
ROC_PNG, CALIBRATION_PNG = "roc.png", "calibration.png"
NAN = float("nan")


@dataclass
class ImageResult:
    image: str  # path relative to the folder, as in labels.csv
    label: str
    p_malignant: float
    uncertainty: float
    segmented: bool  # the row has a reference mask
    calibrated: bool
    group: str | None = None  # which images belong together (patient); kept in memory, never written
    dice: float = NAN
    iou: float = NAN
    hd95_px: float = NAN
    hd95_mm: float = NAN
    p_lesion: float = NAN  # model v2's P(lesion); NaN for a model without a lesion-present output


def evaluate(
    bundle: Path,
    folder: Path,
    *,
    split: str | None = None,
    out_json: Path | None = None,
    out_csv: Path | None = None,
    plots_dir: Path | None = None,
    device: str = "cpu",
    tta: bool = True,
    threshold: float = 0.5,
    n_boot: int = 2000,
    progress: Callable[[int, int], None] | None = None,
    backend: str = "auto",
    seed: int = 0,
    observe: Callable[[Predictor, LabelledRow, Prediction], None] | None = None,
) -> dict[str, Any]:
    """Metrics of `bundle` on the rows of `folder` (only those of `split` when given); see the module doc.
    observe: called with every row and its prediction (training.evaluate_prompts adds its metrics so)."""
    folder = Path(folder)
    check_outputs(out_json=out_json, out_csv=out_csv, plots_dir=plots_dir)
    rows = select_rows(folder, split)
    predictor = make_predictor(bundle, device=device, backend=backend, tta=tta)
    results = []
    for done, (line, row) in enumerate(rows, start=1):
        results.append(evaluate_row(predictor, folder, line, row, observe))
        if progress is not None:
            progress(done, len(rows))
    summary = summarise(results, threshold=threshold, n_boot=n_boot, seed=seed)
    summary.update(bundle_version=predictor.version, split=split, threshold=threshold, tta=tta, n_boot=n_boot)
    summary = json_safe(summary)
    if out_json is not None:
        write_atomic(Path(out_json), (json.dumps(summary, indent=2, allow_nan=False) + "\n").encode())
    if out_csv is not None:
        write_atomic(Path(out_csv), per_image_csv(results, summary["hd95_units"]).encode())
    if plots_dir is not None:
        scores, labels = classified(results)
        name = f"{predictor.version}" + (f", split {split}" if split else "")
        plot_roc(Path(plots_dir) / ROC_PNG, scores, labels, title=f"ROC: {name}")
        plot_reliability(Path(plots_dir) / CALIBRATION_PNG, scores, labels, title=f"Reliability: {name}")
    return summary


def check_outputs(**outputs: Path | None) -> None:
    """Before any work: a file output that is a folder (or a link), or a plots folder that is a file, is a
    one-line DataError instead of a traceback after the whole evaluation."""
    for what, path in outputs.items():
        if path is None:
            continue
        path, option = Path(path), "--" + what.removeprefix("out_").replace("_dir", "")
        wants_folder = what.endswith("_dir")
        if path.is_symlink():
            raise DataError(f"{option} {path.name}: is a symbolic link; give the real path")
        if path.exists() and path.is_dir() != wants_folder:
            raise DataError(f"{option} {path.name}: is a {'file' if wants_folder else 'folder'}, not a "
                            f"{'folder' if wants_folder else 'file'}")  # fmt: skip


def select_rows(folder: Path, split: str | None) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of labels.csv, filtered on the split column; DataError when nothing is left
    or a selected row cannot be read (the evaluation would otherwise quietly leave it out)."""
    if not folder.is_dir():
        raise DataError(f"evaluation folder {folder} does not exist or is not a folder")
    table, _ignored = read_table(folder)
    selected = [entry for entry in table if split is None or entry.values.get("split") == split]
    for entry in selected:
        if entry.problem is not None:
            raise DataError(f"{folder.name}/{LABELS_CSV} line {entry.line}: {entry.problem}")
    rows = [(entry.line, entry.values) for entry in selected]
    if rows:
        return rows
    if split is None:
        raise DataError(f"{folder / LABELS_CSV} has no rows to evaluate")
    present = sorted({entry.values.get("split", "") for entry in table} - {""})
    found = f"splits present: {', '.join(present)}" if present else "it has no split values"
    raise DataError(f"{folder / LABELS_CSV} has no rows with split {split!r} ({found})")


def evaluate_row(
    predictor: Predictor, folder: Path, line: int, row: dict[str, str], observe: Callable | None = None
) -> ImageResult:
    """One row: decode and check it, predict, and score it against its reference."""
    where = f"{folder.name}/{LABELS_CSV} line {line} ({row.get('image', '')})"
    try:
        prepared = prepare_row(folder, line, row, strict=False)  # categories and notes are not needed
        prediction = predictor.predict(prepared.frame)
        if observe is not None:
            observe(predictor, prepared, prediction)
    except C5Error as exc:
        raise DataError(f"{where}: {exc}") from exc
    warn_unneeded(where, prepared.warnings)
    frame = prepared.frame
    result = ImageResult(
        image=Path(row["image"]).as_posix(),
        label=prepared.label,
        p_malignant=float(prediction.p_malignant),
        uncertainty=float(prediction.uncertainty),
        segmented=bool(row.get("mask")),
        calibrated=frame.mm_per_px is not None,
        group=prepared.group or prepared.case_key,  # group column, else the (salted) patient
        p_lesion=float(prediction.extras.get("p_lesion", NAN)),
    )
    if result.segmented:
        result.dice = M.dice(prediction.mask, prepared.mask)
        result.iou = M.iou(prediction.mask, prepared.mask)
        result.hd95_px = M.hd95(prediction.mask, prepared.mask)
        if frame.mm_per_px is not None:
            result.hd95_mm = M.hd95(prediction.mask, prepared.mask, frame.mm_per_px)
    return result


def summarise(results: list[ImageResult], *, threshold: float, n_boot: int, seed: int = 0) -> dict[str, Any]:
    """Means / values of every metric with bootstrap intervals, plus counts (NaN where undefined)."""
    segmented = [r for r in results if r.segmented]
    units = "mm" if segmented and all(r.calibrated for r in segmented) else "px"
    per_image = {
        "dice": np.array([r.dice for r in segmented]),
        "iou": np.array([r.iou for r in segmented]),
        "hd95": np.array([r.hd95_mm if units == "mm" else r.hd95_px for r in segmented]),
    }
    scores, labels = classified(results)
    at = {
        "auc": M.roc_auc,
        "accuracy": lambda s, y: M.accuracy(s, y, threshold),
        "sensitivity": lambda s, y: M.sensitivity(s, y, threshold),
        "specificity": lambda s, y: M.specificity(s, y, threshold),
    }
    out: dict[str, Any] = {name: M.nanmean(values) for name, values in per_image.items()}
    out.update({name: fn(scores, labels) if len(labels) else NAN for name, fn in at.items()})
    out["n"] = len(results)
    out["ci"] = intervals(results, per_image, at, n_boot=n_boot, seed=seed)
    grouped = any(r.group for r in results)
    out.update(
        ci_level=0.95,
        ci_resampling="group" if grouped else "image",
        n_groups=len(set(cluster_labels(results))) if grouped else None,
        hd95_units=units,
        n_segmented=len(segmented),
        n_hd95_undefined=int(np.sum(np.isnan(per_image["hd95"]))),
        n_classified=len(labels),
        n_malignant=int(labels.sum()),
        confusion=M.confusion(scores, labels, threshold),
        ece=M.expected_calibration_error(scores, labels),
    )
    return out


def intervals(
    results: list[ImageResult],
    per_image: dict[str, np.ndarray],
    at: dict[str, Callable[[np.ndarray, np.ndarray], float]],
    *,
    n_boot: int,
    seed: int,
) -> dict[str, list[float]]:
    """95 % bootstrap interval of every metric: segmentation over the segmented rows, classification over
    the benign/malignant rows, each resampling the groups (patients) of its own rows."""
    seg_groups = cluster_labels([r for r in results if r.segmented])
    cls_groups = cluster_labels([r for r in results if r.label in CLASS_OF])
    scores, labels = classified(results)
    ci = {
        name: M.bootstrap_ci(v, M.nanmean, n_boot, seed, groups=seg_groups) for name, v in per_image.items()
    }
    for name, fn in at.items():
        ci[name] = M.bootstrap_ci((scores, labels), fn, n_boot, seed, groups=cls_groups)
    return {name: list(ci[name]) for name in METRICS}


def cluster_labels(results: list[ImageResult]) -> list[tuple[str, str]] | None:
    """One bootstrap cluster per row: its group, or the row alone; None when no row has a group."""
    if not any(r.group for r in results):
        return None
    return [("group", r.group) if r.group else ("image", r.image) for r in results]


def classified(results: list[ImageResult]) -> tuple[np.ndarray, np.ndarray]:
    """P(malignant) and 0/1 truth of the benign/malignant rows."""
    rows = [r for r in results if r.label in CLASS_OF]
    return np.array([r.p_malignant for r in rows], float), np.array([CLASS_OF[r.label] for r in rows], int)


def per_image_csv(results: list[ImageResult], units: str) -> str:
    """One line per image; metrics that do not apply (no mask, undefined hd95) are left empty.

    Image names pass through csvcells.safe_cell (a file named "=1+1.png" is no formula in a spreadsheet);
    training.per_image reads them back with plain_cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for r in results:
        hd95 = r.hd95_mm if units == "mm" else r.hd95_px
        values = (r.p_malignant, r.dice, r.iou, hd95, r.uncertainty, r.p_lesion)
        writer.writerow([safe_cell(r.image), r.label, *(_cell(v) for v in values)])
    return buffer.getvalue()


def json_safe(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python numbers, tuples -> lists (for allow_nan=False)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else ""
