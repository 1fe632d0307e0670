"""The results of a batch run: the CSV (spreadsheet-safe, resumable) and the mask/overlay pictures.

Pictures are named from the frame's salted source id (`<id>_f0003_mask.png`), never from its path (a path can
name a patient); an existing file is never overwritten: a name already taken (a copy of the same file, an
earlier run) gets the next free `-2`, `-3`... suffix. The `mask_file` and `overlay_file` columns name the
picture written for each row, so a resumed run keeps rows and pictures matched. Overlays show the frame with
its identifying pixels blanked (io.deidentify) unless the caller keeps identity.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from c5desk.csvcells import plain_cell, safe_row
from c5desk.errors import C5Error
from c5desk.fsio import atomic_path
from c5desk.inference import Prediction, Prepared
from c5desk.io.deidentify import clean_frame
from c5desk.io.ids import source_id
from c5desk.lesion.measure import Measurements
from c5desk.lesion.overlay import write_mask_png, write_overlay_png

log = logging.getLogger("c5desk.batch")

COLUMNS = [
    "source", "frame", "status", "error", "p_malignant", "label", "uncertainty", "area_mm2", "long_axis_mm",
    "short_axis_mm", "sl_ratio", "calibrated", "model_version", "device", "area_px", "long_axis_px",
    "short_axis_px", "score_spread", "seg_uncertainty", "taller_than_wide", "circularity", "solidity",
    "backend", "source_id", "mask_file", "overlay_file", "in_scope", "scope_reason", "p_lesion",
]  # fmt: skip
# earlier CSVs, resumed after an upgrade: version 0.2 without the picture columns, then without the scope,
# then without p_lesion (model v2)
OLD_COLUMNS = (COLUMNS[:-5], COLUMNS[:-3], COLUMNS[:-1])
MAX_NAME_SUFFIX = 999  # copies of one frame's picture in one folder before giving up


@dataclass
class Failed:
    source: str
    frame: int | str
    error: str


class PictureFailed(Exception):
    """A mask or overlay could not be drawn for one frame: an error row, not the end of the run."""


def detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def failure_text(exc: BaseException, subject: str, verb: str) -> str:
    """One line for an error row: a C5Error says it itself; anything else names the file and the exception."""
    if isinstance(exc, C5Error):
        return " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, MemoryError):  # numpy's _ArrayMemoryError too
        return f"{subject}: not enough memory to {verb} it"
    return f"{subject}: could not {verb} it ({detail(exc)})"


def check_outputs(out_csv: Path, masks_dir: Path | None = None, overlays_dir: Path | None = None) -> None:
    """Refuse, with a one-line C5Error, outputs that cannot be written, before anything is scored.

    A missing masks or overlays folder is created here (an unusable one fails now, not after the first row).
    """
    out_csv = Path(out_csv)
    if out_csv.is_dir():
        raise C5Error(f"results CSV {out_csv} is a folder; name a CSV file (e.g. {out_csv / 'scores.csv'})")
    if out_csv.exists() and not out_csv.is_file():
        raise C5Error(f"results CSV {out_csv} is not a regular file")
    if out_csv.exists() and not os.access(out_csv, os.W_OK):
        raise C5Error(f"results CSV {out_csv} cannot be written (permission denied)")
    parent = out_csv.parent
    if not parent.is_dir():
        raise C5Error(f"folder {parent} for the results CSV does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise C5Error(f"folder {parent} for the results CSV cannot be written (permission denied)")
    for what, folder in (("masks", masks_dir), ("overlays", overlays_dir)):
        if folder is not None:
            _check_picture_folder(what, Path(folder))


def _check_picture_folder(what: str, folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise C5Error(f"{what} folder {folder} is a file; name a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise C5Error(f"{what} folder {folder} cannot be created ({detail(exc)})") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise C5Error(f"{what} folder {folder} cannot be written (permission denied)")


def read_done(out_csv: Path) -> set[tuple[str, str]]:
    """Rows already scored; error rows are dropped (rewritten atomically) so they are tried again."""
    if not out_csv.is_file() or out_csv.stat().st_size == 0:
        return set()
    try:
        with out_csv.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            fieldnames, rows = reader.fieldnames, list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise C5Error(f"{out_csv.name} exists and is not a results CSV; choose another --out file") from exc
    if fieldnames != COLUMNS and fieldnames not in OLD_COLUMNS:
        raise C5Error(f"{out_csv.name} exists with other columns; choose another --out file")
    ok_rows = [row for row in rows if row.get("status") == "ok"]
    if len(ok_rows) < len(rows) or fieldnames != COLUMNS:
        rewrite_csv(out_csv, ok_rows)  # cells are written back as read: still spreadsheet-safe
    return {(plain_cell(row["source"] or ""), plain_cell(row["frame"] or "")) for row in ok_rows}


def read_rows(out_csv: Path) -> list[dict[str, str]]:
    """A results CSV's rows with the cells as they were before `safe_cell` (for tables and scripts)."""
    with Path(out_csv).open(newline="", encoding="utf-8") as handle:
        return [{k: plain_cell(v or "") for k, v in row.items() if k} for row in csv.DictReader(handle)]


def rewrite_csv(out_csv: Path, rows: list[dict[str, str]]) -> None:
    """Replace the CSV atomically: an interruption leaves the old file or the new one, never half of it."""
    with atomic_path(out_csv) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def prediction_row(source: str, prediction: Prediction) -> dict[str, object]:
    m = prediction.measurements
    calibrated = prediction.calibrated
    row: dict[str, object] = {
        "source": source,
        "frame": prediction.frame_index,
        "status": "ok",
        "error": "",
        "p_malignant": f"{prediction.p_malignant:.4f}",
        "label": prediction.label,
        "uncertainty": f"{prediction.uncertainty:.4f}",
        "calibrated": str(calibrated).lower(),
        "model_version": prediction.model_version,
        "device": prediction.device,
        "backend": prediction.backend,
        "score_spread": f"{prediction.score_spread:.4f}",
        "seg_uncertainty": f"{prediction.seg_uncertainty:.4f}",
        "source_id": prediction.source_id,
        **scope_columns(prediction),
        **presence_columns(prediction),
    }
    if m is not None:
        row.update(measurement_columns(m))
    return row


def presence_columns(prediction: Prediction) -> dict[str, object]:
    """p_lesion of a model with a lesion-present output; where it found no lesion, no malignancy score."""
    p_lesion = prediction.extras.get("p_lesion")
    if p_lesion is None:
        return {}
    row: dict[str, object] = {"p_lesion": f"{float(p_lesion):.4f}"}  # type: ignore[arg-type]
    if prediction.extras.get("lesion_found") is False:
        row.update(p_malignant="", uncertainty="", score_spread="")
    return row


def scope_columns(prediction: Prediction) -> dict[str, object]:
    """in_scope (true/false) and its reason, from the Predictor's scope check; empty when it made none."""
    extras = prediction.extras
    if "in_scope" not in extras:
        return {}
    return {"in_scope": str(bool(extras["in_scope"])).lower(), "scope_reason": extras.get("scope_reason", "")}


def measurement_columns(m: Measurements) -> dict[str, object]:
    """Lengths go to the *_mm columns when calibrated, else to the *_px ones; area_px is always given."""
    unit = "mm" if m.calibrated else "px"
    row: dict[str, object] = {
        "area_px": f"{m.area_px:.0f}",
        f"long_axis_{unit}": f"{m.long_axis:.2f}",
        f"short_axis_{unit}": f"{m.short_axis:.2f}",
        "sl_ratio": f"{m.sl_ratio:.4f}",
        "taller_than_wide": str(m.taller_than_wide).lower(),
        "circularity": f"{m.circularity:.4f}",
        "solidity": f"{m.solidity:.4f}",
    }
    if m.calibrated:
        row["area_mm2"] = f"{m.area:.2f}"
    return row


def unusable(prediction: Prediction) -> str:
    """Why a prediction must not be written as ok ('' when it may): a NaN is not an answer."""
    scores = (
        prediction.p_malignant,
        prediction.uncertainty,
        prediction.score_spread,
        prediction.seg_uncertainty,
    )
    if not all(math.isfinite(float(value)) for value in scores):
        return "the model produced no finite result (check the model bundle)"
    if not np.isfinite(prediction.prob).all():
        return "the model produced a mask that is not finite (check the model bundle)"
    return ""


class ResultWriter:
    """Appends rows (header once) and the optional mask/overlay PNGs; flushes after every batch."""

    def __init__(
        self, out_csv: Path, masks_dir: Path | None, overlays_dir: Path | None, keep_identity: bool = False
    ) -> None:
        new = not out_csv.is_file() or out_csv.stat().st_size == 0
        try:
            self.handle = out_csv.open("a", newline="", encoding="utf-8")
        except OSError as exc:
            raise C5Error(f"results CSV {out_csv} cannot be written ({detail(exc)})") from exc
        self.name = out_csv.name
        self.rows = csv.DictWriter(self.handle, fieldnames=COLUMNS, restval="")
        if new:
            self.rows.writeheader()
        self.masks_dir, self.overlays_dir = masks_dir, overlays_dir
        self.keep_identity = keep_identity

    def success(self, name: str, item: Prepared, prediction: Prediction) -> None:
        """The pictures first, then the row naming them: a row never points at a picture not written."""
        stem = picture_stem(name, prediction)
        files: dict[str, str] = {}
        drawers = (
            ("mask", self.masks_dir, lambda path: write_mask_png(path, prediction.mask)),
            ("overlay", self.overlays_dir, lambda path: self.draw_overlay(path, item, prediction)),
        )
        written: list[Path] = []
        try:
            for kind, folder, draw in drawers:
                if folder is not None:
                    written.append(self.picture(Path(folder), stem, kind, draw))
                    files[f"{kind}_file"] = written[-1].name
        except BaseException:
            for path in written:  # no picture without its row
                path.unlink(missing_ok=True)
            raise
        self.write({**prediction_row(name, prediction), **files})

    def draw_overlay(self, path: Path, item: Prepared, prediction: Prediction) -> None:
        """The outline over the frame with its burned-in identity blanked, unless the caller keeps it."""
        frame = item.frame if self.keep_identity else clean_frame(item.frame)[0]
        write_overlay_png(path, frame, prediction)

    def picture(self, folder: Path, stem: str, kind: str, draw: Callable[[Path], None]) -> Path:
        """Draw into a newly reserved name; a folder that cannot be written ends the run (one line)."""
        path = reserve_name(folder, stem, kind)
        try:
            draw(path)
        except OSError as exc:
            path.unlink(missing_ok=True)
            raise C5Error(f"cannot write {kind} {path.name} in {folder} ({detail(exc)})") from exc
        except Exception as exc:  # this frame only
            path.unlink(missing_ok=True)
            raise PictureFailed(f"its {kind} picture could not be made ({detail(exc)})") from exc
        return path

    def failure(self, failed: Failed) -> None:
        log.warning("a frame could not be scored: %s", failed.error)
        self.write({"source": failed.source, "frame": failed.frame, "status": "error", "error": failed.error})
        self.flush()

    def write(self, row: dict[str, object]) -> None:
        try:
            self.rows.writerow(safe_row(row))
        except OSError as exc:
            raise C5Error(f"results CSV {self.name} cannot be written ({detail(exc)})") from exc

    def flush(self) -> None:
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
        except OSError as exc:
            raise C5Error(f"results CSV {self.name} cannot be written ({detail(exc)})") from exc

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.handle.close()


def picture_stem(name: str, prediction: Prediction) -> str:
    """`<salted source id>_f<frame>`: unique per frame and free of the path (which can name a patient)."""
    identity = prediction.source_id or source_id(f"batch-name:{name}", prediction.frame_index)
    return f"{identity}_f{prediction.frame_index:04d}"


def reserve_name(folder: Path, stem: str, kind: str) -> Path:
    """A new, empty `<stem>_<kind>.png` in `folder` (else `-2`, `-3`...): an existing file is never replaced.

    Created exclusively, so two runs writing into one folder cannot pick the same name either.
    """
    for n in range(1, MAX_NAME_SUFFIX + 1):
        path = folder / (f"{stem}_{kind}.png" if n == 1 else f"{stem}_{kind}-{n}.png")
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            continue
        except OSError as exc:
            raise C5Error(f"cannot write {kind} {path.name} in {folder} ({detail(exc)})") from exc
        return path
    raise C5Error(f"{folder} already holds {MAX_NAME_SUFFIX} files named {stem}_{kind}*.png")
