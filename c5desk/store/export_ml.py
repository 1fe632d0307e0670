"""Machine-learning exports: PNG masks, COCO JSON, a CSV of lesions, and the labelled-folder format.

A frame may show several lesions (store.lesions; the first is the main lesion): each is exported on its
own, numbered 1..n ("lesion"). A frame with one outlined lesion exports as it did before several existed.

- masks:           masks/<stem>.png (0/255), every lesion of an annotated frame together; a frame with
                   several lesions also gets masks/<stem>_lesion<n>.png, one per lesion.
- coco:            annotations.json + images/<stem>.png. Categories 1 benign, 2 malignant, 3 unsure (an
                   outline a clinician would not call). One annotation per lesion, its category the lesion's
                   label; segmentation is COCO RLE (pycocotools), iscrowd 0. A frame without an outlined
                   lesion ("normal", or a label alone) is an image without annotations; the image's "label"
                   says which ("normal": a true negative). Each annotation's "attributes" hold "lesion" (its
                   number), p_malignant, uncertainty and the model version of the frame's stored prediction,
                   the lesion's measurements, BI-RADS/TI-RADS category, note, provenance, the revision, the
                   BI-RADS descriptors by name ("shape": "oval", ...) and "descriptor_sources" ({"shape":
                   "model" | "clinician"}: suggested by the model or confirmed by a clinician). `c5desk
                   import` reads it back (coco_import).
- csv:             lesions.csv, one row per lesion ("lesion" 1..n; a lesion with several islands is one
                   lesion, n_components says how many islands) with its own label, category, note,
                   measurements, box and descriptors: one column per BI-RADS descriptor ("shape", ...) and
                   one for its provenance ("shape_source"), empty when the lesion has none; "calibration"
                   says where mm came from: "scanner", "user" (a scale set from the depth ruler) or empty.
- labelled-folder: labels.csv + images/ + masks/, read back by `c5desk import` and by training. One row per
                   lesion ("lesion" column; masks/<stem>.png for lesion 1, masks/<stem>_lesion<n>.png for
                   the others), sharing the frame's image, split, patient, group and calibration; a frame
                   without lesions is one row with an empty mask and no lesion number.
Every CSV cell passes through csvcells.safe_row: a note such as `=cmd|' /C calc'!A0` is written quoted so
a spreadsheet shows it as text instead of running it; `c5desk import` reads it back as it was.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from c5desk.csvcells import safe_row
from c5desk.lesion import lexicon
from c5desk.store.calibrations import USER as USER_CALIBRATION
from c5desk.store.export_common import (
    ExportItem,
    ExportLesion,
    ExportSummary,
    item_lesions,
    write_png,
    write_text,
)
from c5desk.store.records import FrameRecord, Lesion
from c5desk.store.store import Store

COCO_CATEGORIES = [
    {"id": 1, "name": "benign", "supercategory": "lesion"},
    {"id": 2, "name": "malignant", "supercategory": "lesion"},
    {"id": 3, "name": "unsure", "supercategory": "lesion"},
]
CATEGORY_IDS = {category["name"]: category["id"] for category in COCO_CATEGORIES}
MEASURE_COLUMNS = (
    "units", "calibrated", "area", "long_axis", "short_axis", "sl_ratio", "orientation_deg",
    "taller_than_wide", "circularity", "solidity", "convexity", "n_components",
)  # fmt: skip
DESCRIPTOR_COLUMNS = tuple(column for name in lexicon.DESCRIPTORS for column in (name, f"{name}_source"))
CSV_COLUMNS = (
    "case", "frame_id", "frame_index", "image_stem", "lesion", "label", "category", "note", "revision",
    "annotation_model_version", "p_malignant", "uncertainty", "prediction_model_version",
    *MEASURE_COLUMNS, "bbox_x", "bbox_y", "bbox_w", "bbox_h", "mm_per_px_x", "mm_per_px_y", "calibration",
    "split", "group",
    *DESCRIPTOR_COLUMNS,
)  # fmt: skip
LABELLED_COLUMNS = (
    "image", "mask", "label", "lesion", "split", "patient", "group", "category", "note", "mm_per_px_x",
    "mm_per_px_y",
)  # fmt: skip


def calibration_source(frame: FrameRecord) -> str:
    """Where the frame's mm come from: "scanner" (its own calibration), "user" (a scale a user set from
    the depth ruler, c5desk.store.calibrations), "" when it has none (measurements in px)."""
    if frame.mm_per_px is None:
        return ""
    return "user" if frame.meta.get("calibration") == USER_CALIBRATION else "scanner"


def lesion_mask_name(stem: str, number: int) -> str:
    """masks/<stem>.png for the main lesion (the frame's mask name before several lesions existed)."""
    return f"masks/{stem}.png" if number == 1 else f"masks/{stem}_lesion{number}.png"


def export_masks(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    for item in summary.track(items):
        write_png(out / "masks" / f"{item.stem}.png", _mask_png(store.mask(item.frame.id)))
        summary.exported += 1
        summary.files += 1
        lesions = item_lesions(store, item)
        if len(lesions) > 1:  # the union above, and each lesion on its own
            for lesion in lesions:
                write_png(out / "masks" / f"{item.stem}_lesion{lesion.number}.png", _mask_png(lesion.mask))
                summary.files += 1


def export_csv(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in summary.track(items):
        lesions = store.lesions(item.annotation)  # no mask is read: the CSV holds measurements only
        if not lesions:
            summary.skipped.append((item.stem, f"{item.annotation.label}: no lesion outlined"))
            continue
        for lesion in lesions:
            writer.writerow(safe_row(_csv_row(item, lesion)))
        summary.exported += 1
    write_text(out / "lesions.csv", buffer.getvalue())
    summary.files += 1


def _csv_row(item: ExportItem, lesion: Lesion) -> dict[str, Any]:
    annotation, frame, prediction = item.annotation, item.frame, item.prediction
    measures = lesion.measurements or {}
    bbox = measures.get("bbox_xywh") or [None] * 4
    scale = frame.mm_per_px or (None, None)
    row = {
        "case": frame.case, "frame_id": frame.id, "frame_index": frame.frame_index, "image_stem": item.stem,
        "lesion": lesion.position, "label": lesion.label, "category": lesion.category or "",
        "note": lesion.note, "revision": annotation.revision,
        "annotation_model_version": annotation.model_version or "",
        "p_malignant": _blank_if_none(prediction.malignancy if prediction else None),
        "uncertainty": prediction.uncertainty if prediction else "",
        "prediction_model_version": prediction.model_version if prediction else "",
        "bbox_x": bbox[0], "bbox_y": bbox[1], "bbox_w": bbox[2], "bbox_h": bbox[3],
        "mm_per_px_x": scale[0], "mm_per_px_y": scale[1], "calibration": calibration_source(frame),
        "split": frame.split or "", "group": frame.group or "",
    }  # fmt: skip
    row.update({key: measures.get(key) for key in MEASURE_COLUMNS})
    for name, entry in lesion.descriptors.items():
        row[name], row[f"{name}_source"] = entry["value"], entry["source"]
    return row


def export_coco(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    images, annotations = [], []
    # lesion 1 keeps its annotation's id (as before several lesions); the others number on past them all
    more_ids = iter(range(max((item.annotation.id for item in items), default=0) + 1, 2**53))
    for item in summary.track(items):
        frame = item.frame
        write_png(out / "images" / f"{item.stem}.png", store.export_frame(frame.id).pixels)
        summary.files += 1
        images.append(
            {
                "id": frame.id, "file_name": f"images/{item.stem}.png", "width": frame.width,
                "height": frame.height, "case": frame.case, "label": item.annotation.label,
                "split": frame.split, "group": frame.group,
                "mm_per_px": list(frame.mm_per_px) if frame.mm_per_px else None,
                "calibration": calibration_source(frame) or None,
            }
        )  # fmt: skip
        lesions = [] if item.annotation.label == "normal" else item_lesions(store, item)
        for lesion in lesions:
            ann_id = item.annotation.id if lesion.number == 1 else next(more_ids)
            annotations.append(_coco_annotation(item, lesion, ann_id))
        summary.exported += bool(lesions)
    document = {
        "info": {"description": "c5desk annotation export", "version": "1"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": COCO_CATEGORIES,
    }
    write_text(out / "annotations.json", json.dumps(document, indent=1))
    summary.files += 1


def _coco_annotation(item: ExportItem, exported: ExportLesion, ann_id: int) -> dict[str, Any]:
    rle = coco_mask.encode(np.asfortranarray(exported.mask.astype(np.uint8)))
    prediction, lesion = item.prediction, exported.lesion
    return {
        "id": ann_id,
        "image_id": item.frame.id,
        "category_id": CATEGORY_IDS[lesion.label],
        "segmentation": {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")},
        "area": float(coco_mask.area(rle)),
        "bbox": [float(v) for v in coco_mask.toBbox(rle)],
        "iscrowd": 0,
        "attributes": {
            "lesion": exported.number,
            "p_malignant": prediction.malignancy if prediction else None,
            "uncertainty": prediction.uncertainty if prediction else None,
            "model_version": prediction.model_version if prediction else item.annotation.model_version,
            "measurements": lesion.measurements,
            "category": lesion.category,
            "note": lesion.note,
            "provenance": lesion.provenance,
            "revision": item.annotation.revision,
            **{name: entry["value"] for name, entry in lesion.descriptors.items()},
            "descriptor_sources": {name: entry["source"] for name, entry in lesion.descriptors.items()},
        },
    }


def export_labelled_folder(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LABELLED_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in summary.track(items):
        frame, annotation = item.frame, item.annotation
        write_png(out / "images" / f"{item.stem}.png", store.export_frame(frame.id).pixels)
        scale = frame.mm_per_px or ("", "")
        shared = {
            "image": f"images/{item.stem}.png", "split": frame.split or "", "patient": frame.case,
            "group": frame.group or "", "mm_per_px_x": repr(scale[0]) if scale[0] != "" else "",
            "mm_per_px_y": repr(scale[1]) if scale[1] != "" else "",
        }  # fmt: skip
        lesions = item_lesions(store, item)
        if not lesions:  # "normal" or a label alone: one row, an empty mask
            write_png(out / "masks" / f"{item.stem}.png", _mask_png(store.mask(frame.id)))
            row = {"mask": f"masks/{item.stem}.png", "label": annotation.label, "lesion": ""}
            writer.writerow(safe_row({**shared, **row, "category": annotation.category or "",
                                      "note": annotation.note}))  # fmt: skip
        for exported in lesions:
            name, lesion = lesion_mask_name(item.stem, exported.number), exported.lesion
            write_png(out / name, _mask_png(exported.mask))
            row = {"mask": name, "label": lesion.label, "lesion": exported.number}
            writer.writerow(
                safe_row({**shared, **row, "category": lesion.category or "", "note": lesion.note})
            )
        summary.exported += 1
        summary.files += 1 + max(1, len(lesions))
    write_text(out / "labels.csv", buffer.getvalue())
    summary.files += 1


def _mask_png(mask: np.ndarray | None) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)


def _blank_if_none(value: float | None) -> float | str:
    return "" if value is None else value
