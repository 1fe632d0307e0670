"""The project's labelled-folder format: a folder with labels.csv, paths relative to the folder.

Columns (header names are case-insensitive):
  image, mask, label          required (mask may be empty for a "normal" frame: no lesion)
  split, group, patient       optional grouping; patient values are hashed with the installation salt
                              into case keys, never stored as written
  category | birads | tirads  optional BI-RADS / TI-RADS assessment ("4a", "BI-RADS 4a", "TR3")
  note                        optional free text
  mm_per_px_x, mm_per_px_y    optional calibration (PNG frames carry none), written by our own export
Other columns are ignored (and reported). Masks: a grey or colour PNG/JPEG/BMP/TIFF of the image's size;
foreground is > 0 for 0/1 masks, else above half the range (0/255 and JPEG-noisy masks).
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from c5desk.errors import ReadError
from c5desk.io import Frame, open_source
from c5desk.io.ids import case_key
from c5desk.store.records import StoreError, check_category, check_label, check_note, check_token

LABELS_CSV = "labels.csv"
REQUIRED = ("image", "mask", "label")
KNOWN = (
    *REQUIRED,
    "split",
    "group",
    "patient",
    "category",
    "birads",
    "tirads",
    "note",
    "mm_per_px_x",
    "mm_per_px_y",
)
MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class LabelledRow:
    """One row of labels.csv, checked and decoded, ready to be written."""

    line: int
    frame: Frame
    mask: np.ndarray
    label: str
    category: str | None
    note: str
    split: str | None
    group: str | None
    case_key: str | None


def read_table(folder: Path) -> tuple[list[dict[str, str]], list[str]]:
    """Rows of labels.csv (keys lower-cased) and the ignored column names; StoreError if unusable."""
    path = folder / LABELS_CSV
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.DictReader(stream)
            header = [name.strip().lower() for name in (reader.fieldnames or [])]
            missing = [name for name in REQUIRED if name not in header]
            if missing:
                raise StoreError(f"{LABELS_CSV} lacks the required column(s): {', '.join(missing)}")
            table = []
            for row in reader:
                table.append({(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k})
                if len(table) > MAX_ROWS:
                    raise StoreError(f"{LABELS_CSV} has more than {MAX_ROWS} rows")
    except FileNotFoundError as exc:
        raise StoreError(f"{folder.name}: no {LABELS_CSV} in this folder") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise StoreError(f"{LABELS_CSV} cannot be read ({exc})") from exc
    return table, [name for name in header if name not in KNOWN]


def prepare_row(folder: Path, line: int, row: dict[str, str]) -> LabelledRow:
    """Check and decode one row; StoreError naming the problem (nothing is written here)."""
    label = check_label(row.get("label"))
    image_path = _inside(folder, row.get("image", ""), "image")
    try:
        with open_source(image_path) as source:
            frame = source.frame(0)
    except ReadError as exc:
        raise StoreError(f"image {exc}") from exc
    scale = _calibration(row)
    if scale is not None:
        frame = replace(frame, mm_per_px=scale)
    mask_name = row.get("mask", "")
    if mask_name:
        mask = read_mask(_inside(folder, mask_name, "mask"), frame.shape)
    elif label == "normal":
        mask = np.zeros(frame.shape, bool)
    else:
        raise StoreError(f"no mask given for a {label} frame (only 'normal' frames may leave it empty)")
    if label == "normal" and mask.any():
        raise StoreError("label is normal (no lesion) but the mask is not empty")
    patient = row.get("patient", "")
    return LabelledRow(
        line=line,
        frame=frame,
        mask=mask,
        label=label,
        category=_category(row),
        note=check_note(row.get("note", "")),
        split=check_token(row.get("split"), "split"),
        group=check_token(row.get("group"), "group"),
        case_key=case_key(f"labelled-patient:{patient}") if patient else None,
    )


def _inside(folder: Path, relative: str, what: str) -> Path:
    """A path from the table, which must name a file inside the folder (no '..' escaping it)."""
    if not relative:
        raise StoreError(f"no {what} path given")
    candidate = Path(relative)
    if candidate.is_absolute():
        raise StoreError(f"{what} path must be relative to the folder, not absolute")
    normal = Path(os.path.normpath(candidate))
    if normal.parts[:1] == ("..",):  # lexical: a symlinked sub-folder inside the folder is fine
        raise StoreError(f"{what} path leads outside the folder")
    path = folder / normal
    if not path.is_file():
        raise StoreError(f"{what} file {candidate.as_posix()} does not exist")
    return path


def read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """A mask image as (H, W) bool of exactly `shape`; StoreError when unreadable or of another size."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as exc:
        raise StoreError(f"mask {path.name} cannot be read ({exc.strerror})") from exc
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if array is None:
        raise StoreError(f"mask {path.name} is not a readable image")
    if array.ndim == 3:
        array = array[..., :3].max(axis=2)  # any colour channel (alpha ignored)
    if array.shape != tuple(shape):
        raise StoreError(
            f"mask {path.name} is {array.shape[1]}x{array.shape[0]} but the image is {shape[1]}x{shape[0]}"
        )
    if array.max(initial=0) <= 1:
        return array > 0
    return array > np.iinfo(array.dtype).max // 2 if np.issubdtype(array.dtype, np.integer) else array > 0.5


def _category(row: dict[str, str]) -> str | None:
    if row.get("category"):
        return check_category(row["category"])
    if row.get("birads"):
        return check_category(row["birads"], "BI-RADS")
    if row.get("tirads"):
        return check_category(row["tirads"], "TI-RADS")
    return None


def _calibration(row: dict[str, str]) -> tuple[float, float] | None:
    x, y = row.get("mm_per_px_x", ""), row.get("mm_per_px_y", "")
    if not x and not y:
        return None
    try:
        scale = float(x), float(y)
    except ValueError:
        raise StoreError(f"mm_per_px_x/mm_per_px_y must be numbers, got {x!r}, {y!r}") from None
    if not all(math.isfinite(v) and v > 0 for v in scale):
        raise StoreError(f"mm_per_px_x/mm_per_px_y must be positive, got {x!r}, {y!r}")
    return scale
