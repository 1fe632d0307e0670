"""Machine-learning exports: PNG masks, COCO JSON, a CSV of lesions, and the labelled-folder format.

- masks:           masks/<stem>.png (0/255) for every annotated frame.
- coco:            annotations.json + images/<stem>.png. Categories 1 benign, 2 malignant, 3 unsure (an
                   outline a clinician would not call). Segmentation is COCO RLE (pycocotools), iscrowd 0.
                   A "normal" frame, or one whose mask is empty, is an image without annotations (a true
                   negative). Each annotation's "attributes" hold p_malignant, uncertainty and the model
                   version of the stored prediction, the measurements, BI-RADS/TI-RADS category, revision,
                   the BI-RADS descriptors by name ("shape": "oval", ...) and "descriptor_sources" ({"shape":
                   "model" | "clinician"}: suggested by the model or confirmed by a clinician).
- csv:             lesions.csv, one row per lesion: an annotated frame whose mask is not empty (a mask
                   with several islands is one lesion; n_components says how many islands). One column per
                   BI-RADS descriptor ("shape", ...) and one for its provenance ("shape_source"), empty when
                   the lesion has none.
- labelled-folder: labels.csv + images/ + masks/, read back by `c5desk import` and by training.
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
from c5desk.store.export_common import ExportItem, ExportSummary, write_png, write_text
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
    "case", "frame_id", "frame_index", "image_stem", "label", "category", "note", "revision",
    "annotation_model_version", "p_malignant", "uncertainty", "prediction_model_version",
    *MEASURE_COLUMNS, "bbox_x", "bbox_y", "bbox_w", "bbox_h", "mm_per_px_x", "mm_per_px_y", "split", "group",
    *DESCRIPTOR_COLUMNS,
)  # fmt: skip
LABELLED_COLUMNS = (
    "image", "mask", "label", "split", "patient", "group", "category", "note", "mm_per_px_x", "mm_per_px_y",
)  # fmt: skip


def export_masks(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    for item in summary.track(items):
        write_png(out / "masks" / f"{item.stem}.png", _mask_png(store.mask(item.frame.id)))
        summary.exported += 1
        summary.files += 1


def export_csv(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in summary.track(items):
        if not item.annotation.measurements:
            summary.skipped.append((item.stem, f"{item.annotation.label}: no lesion outlined"))
            continue
        writer.writerow(safe_row(_csv_row(item)))
        summary.exported += 1
    write_text(out / "lesions.csv", buffer.getvalue())
    summary.files += 1


def _csv_row(item: ExportItem) -> dict[str, Any]:
    annotation, frame, prediction = item.annotation, item.frame, item.prediction
    measures = annotation.measurements or {}
    bbox = measures.get("bbox_xywh") or [None] * 4
    scale = frame.mm_per_px or (None, None)
    row = {
        "case": frame.case, "frame_id": frame.id, "frame_index": frame.frame_index, "image_stem": item.stem,
        "label": annotation.label, "category": annotation.category or "", "note": annotation.note,
        "revision": annotation.revision, "annotation_model_version": annotation.model_version or "",
        "p_malignant": prediction.p_malignant if prediction else "",
        "uncertainty": prediction.uncertainty if prediction else "",
        "prediction_model_version": prediction.model_version if prediction else "",
        "bbox_x": bbox[0], "bbox_y": bbox[1], "bbox_w": bbox[2], "bbox_h": bbox[3],
        "mm_per_px_x": scale[0], "mm_per_px_y": scale[1],
        "split": frame.split or "", "group": frame.group or "",
    }  # fmt: skip
    row.update({key: measures.get(key) for key in MEASURE_COLUMNS})
    for name, entry in annotation.descriptors.items():
        row[name], row[f"{name}_source"] = entry["value"], entry["source"]
    return row


def export_coco(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    images, annotations = [], []
    for item in summary.track(items):
        frame = item.frame
        write_png(out / "images" / f"{item.stem}.png", store.export_frame(frame.id).pixels)
        summary.files += 1
        images.append(
            {
                "id": frame.id, "file_name": f"images/{item.stem}.png", "width": frame.width,
                "height": frame.height, "case": frame.case, "label": item.annotation.label,
                "split": frame.split, "mm_per_px": list(frame.mm_per_px) if frame.mm_per_px else None,
            }
        )  # fmt: skip
        mask = store.mask(frame.id)
        if item.annotation.label == "normal" or mask is None or not mask.any():
            continue
        annotations.append(_coco_annotation(item, mask))
        summary.exported += 1
    document = {
        "info": {"description": "c5desk annotation export", "version": "1"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": COCO_CATEGORIES,
    }
    write_text(out / "annotations.json", json.dumps(document, indent=1))
    summary.files += 1


def _coco_annotation(item: ExportItem, mask: np.ndarray) -> dict[str, Any]:
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    prediction = item.prediction
    return {
        "id": item.annotation.id,
        "image_id": item.frame.id,
        "category_id": CATEGORY_IDS[item.annotation.label],
        "segmentation": {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")},
        "area": float(coco_mask.area(rle)),
        "bbox": [float(v) for v in coco_mask.toBbox(rle)],
        "iscrowd": 0,
        "attributes": {
            "p_malignant": prediction.p_malignant if prediction else None,
            "uncertainty": prediction.uncertainty if prediction else None,
            "model_version": prediction.model_version if prediction else item.annotation.model_version,
            "measurements": item.annotation.measurements,
            "category": item.annotation.category,
            "revision": item.annotation.revision,
            **{name: entry["value"] for name, entry in item.annotation.descriptors.items()},
            "descriptor_sources": {
                name: entry["source"] for name, entry in item.annotation.descriptors.items()
            },
        },
    }


def export_labelled_folder(store: Store, items: list[ExportItem], out: Path, summary: ExportSummary) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LABELLED_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in summary.track(items):
        frame, annotation = item.frame, item.annotation
        write_png(out / "images" / f"{item.stem}.png", store.export_frame(frame.id).pixels)
        write_png(out / "masks" / f"{item.stem}.png", _mask_png(store.mask(frame.id)))
        scale = frame.mm_per_px or ("", "")
        writer.writerow(
            safe_row({
                "image": f"images/{item.stem}.png", "mask": f"masks/{item.stem}.png",
                "label": annotation.label,
                "split": frame.split or "", "patient": frame.case, "group": frame.group or "",
                "category": annotation.category or "", "note": annotation.note,
                "mm_per_px_x": repr(scale[0]) if scale[0] != "" else "",
                "mm_per_px_y": repr(scale[1]) if scale[1] != "" else "",
            })
        )  # fmt: skip
        summary.exported += 1
        summary.files += 2
    write_text(out / "labels.csv", buffer.getvalue())
    summary.files += 1


def _mask_png(mask: np.ndarray | None) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)
