"""Turning database rows into records and records into small audit summaries."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from typing import Any

from c5desk.io.frame import Region
from c5desk.store.records import Annotation, FrameRecord, PredictionRecord
from c5desk.store.versions import from_json

FRAME_SQL = "SELECT f.*, 'case-' || printf('%04d', f.case_id) AS case_name FROM frames f"
LATEST_ANNOTATIONS_SQL = (
    "SELECT a.* FROM annotations a"
    " WHERE a.revision = (SELECT MAX(b.revision) FROM annotations b WHERE b.frame_id = a.frame_id)"
)


def case_name(case_id: int) -> str:
    return f"case-{int(case_id):04d}"


def region_json(region: Region | None) -> str | None:
    return None if region is None else json.dumps(asdict(region), sort_keys=True)


def frame_record(row: sqlite3.Row) -> FrameRecord:
    region = from_json(row["region"])
    scale = row["mm_per_px_x"], row["mm_per_px_y"]
    return FrameRecord(
        id=row["id"],
        case_id=row["case_id"],
        case=case_name(row["case_id"]),
        source_id=row["source_id"],
        frame_index=row["frame_index"],
        height=row["height"],
        width=row["width"],
        mm_per_px=None if scale[0] is None else (float(scale[0]), float(scale[1])),
        region=Region(**region) if region else None,
        meta=from_json(row["meta"]) or {},
        split=row["split"],
        group=row["grp"],
        image_file=row["image_file"],
        grey_file=row["grey_file"],
    )


def annotation(row: sqlite3.Row) -> Annotation:
    return Annotation(
        id=row["id"],
        frame_id=row["frame_id"],
        revision=row["revision"],
        label=row["label"],
        category=row["category"],
        note=row["note"],
        mask_file=row["mask_file"],
        measurements=from_json(row["measurements"]),
        model_version=row["model_version"],
        seg_change=row["seg_change"],
        label_flip=None if row["label_flip"] is None else bool(row["label_flip"]),
        user=row["user"],
        created_utc=row["created_utc"],
        descriptors=from_json(row["descriptors"]) or {},
        provenance=from_json(row["provenance"]) or {},
    )


def prediction(row: sqlite3.Row) -> PredictionRecord:
    return PredictionRecord(
        id=row["id"],
        frame_id=row["frame_id"],
        model_version=row["model_version"],
        p_malignant=row["p_malignant"],
        uncertainty=row["uncertainty"],
        label=row["label"],
        mask_file=row["mask_file"],
        created_utc=row["created_utc"],
        descriptors=from_json(row["descriptors"]) or {},
    )


def annotation_summary(record: Annotation | None) -> dict[str, Any] | None:
    """What the audit log keeps of an annotation: enough to see what changed, no pixels."""
    if record is None:
        return None
    measurements = record.measurements or {}
    return {
        "revision": record.revision,
        "label": record.label,
        "category": record.category,
        "note_chars": len(record.note),
        "mask_file": record.mask_file,
        "area": measurements.get("area"),
        "units": measurements.get("units"),
        "descriptors": {name: entry["value"] for name, entry in record.descriptors.items()},
        "method": record.provenance.get("method"),
    }
