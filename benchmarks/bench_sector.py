"""How well the imaging area is found (c5desk.io.sector) and how often frames are judged out of scope
(c5desk.inference.scope), on real frames.

Imaging area, on the labelled folders' frames (PNG/JPEG, no DICOM region): the share of reference lesion
pixels kept inside the area (must be ~100 %), the share of frame area cut away, how many frames had an area
detected, and the time per frame. Scope: the share judged out of scope on in-scope ultrasound (BUS-BRA,
BUS-UCLM, BrEaST-Lesions, HC18 — a false out-of-scope rate) and on frames that are not (ISIC dermoscopy;
pydicom-data's Doppler files), with the reasons given.

    nice -n 10 .venv/bin/python benchmarks/bench_sector.py [--every 1] [--isic-every 5]
"""

from __future__ import annotations

import argparse
import collections
import csv
import statistics
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from pydicom.data import get_testdata_file

from c5desk.inference.scope import assess
from c5desk.io import open_source
from c5desk.io.sector import BLACK, frame_area
from c5desk.settings import data_root

ULTRASOUND = ("busbra", "bus_uclm", "breast_lesions_usg", "hc18")
DICOM_FILES = (  # (name, what it shows)
    ("US1_UNCR.dcm", "lymph node, power Doppler"),
    ("color-px.dcm", "colour Doppler sector"),
    ("color-pl.dcm", "colour Doppler sector (planar)"),
    ("OBXXXX1A.dcm", "obstetric B-mode"),
    ("gdcm-US-ALOKA-16.dcm", "dual B-mode"),
    ("color3d_jpeg_baseline.dcm", "cardiac echo B-mode"),
)


def labelled_rows(folder: Path, every: int) -> list[dict[str, str]]:
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))[::every]


def first_frame(path: Path):
    with warnings.catch_warnings(), open_source(path) as source:
        warnings.simplefilter("ignore")
        return source.frame(0)


def sector_figures(folder: Path, every: int) -> dict[str, float]:
    """Lesion pixels kept, frame area cut, frames with a detected area, ms per frame; plus scope counts."""
    kept, kept_visible, cut, detected, times, worst = [], [], [], 0, [], 1.0
    reasons: collections.Counter[str] = collections.Counter()
    for row in labelled_rows(folder, every):
        frame = first_frame(folder / row["image"])
        start = time.perf_counter()
        area = frame_area(frame)
        times.append((time.perf_counter() - start) * 1000)
        detected += area.source == "detected"
        cut.append(area.cut)
        lesion = cv2.imread(str(folder / row["mask"]), cv2.IMREAD_GRAYSCALE) if row.get("mask") else None
        if lesion is not None and (lesion := lesion > 127).any():
            kept.append(float((lesion & area.mask).sum() / lesion.sum()))
            worst = min(worst, kept[-1])
            visible = lesion & (frame.grey > BLACK)  # references may run into the black below a scan
            kept_visible.append(float((visible & area.mask).sum() / max(1, visible.sum())))
        scope = assess(frame, area)
        reasons[scope.reason.split(":")[0] if not scope.in_scope else "in scope"] += 1
    n = len(cut)
    return {"n": n, "detected": detected, "kept": float(np.mean(kept)), "worst": worst,
            "visible": float(np.mean(kept_visible)), "worst_visible": float(np.min(kept_visible)),
            "cut": float(np.mean(cut)), "ms": statistics.median(times), "reasons": reasons}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="take every n-th row of each labels.csv")
    parser.add_argument("--isic-every", type=int, default=5, help="take every n-th ISIC 2017 image")
    args = parser.parse_args()
    root = data_root()
    print(f"{'set':20} {'frames':>6} {'detected':>8} {'lesion kept':>11} {'worst':>6} {'visible':>8} "
          f"{'worst':>6} {'cut':>6} {'ms':>5}  out of scope")  # fmt: skip
    for name in ULTRASOUND:
        if not (root / name / "labels.csv").is_file():
            print(f"{name:20} missing")
            continue
        f = sector_figures(root / name, args.every)
        out = f["n"] - f["reasons"]["in scope"]
        print(f"{name:20} {f['n']:6d} {f['detected']:8d} {f['kept']:11.4%} {f['worst']:6.1%} "
              f"{f['visible']:8.4%} {f['worst_visible']:6.1%} {f['cut']:6.1%} {f['ms']:5.1f}  "
              f"{out}/{f['n']} ({out / f['n']:.1%}) {dict(f['reasons'])}")  # fmt: skip
    isic = root / "isic2017"
    if (isic / "labels.csv").is_file():
        verdicts = [assess(first_frame(isic / r["image"])) for r in labelled_rows(isic, args.isic_every)]
        reasons = collections.Counter(s.reason.split("(")[0].strip() or "in scope" for s in verdicts)
        out = sum(not s.in_scope for s in verdicts)
        print(
            f"isic2017 (dermoscopy): out of scope {out}/{len(verdicts)} ({out / len(verdicts):.1%}) "
            f"{dict(reasons)}"
        )
    for name, what in DICOM_FILES:
        path = get_testdata_file(name)
        if path is None:
            continue
        frame = first_frame(Path(path))
        area, scope = frame_area(frame), assess(frame)
        verdict = "in scope" if scope.in_scope else f"OUT: {scope.reason}"
        print(f"{name:26} {what:32} area {area.source}/{area.shape} cut {area.cut:.0%}; {verdict}")


if __name__ == "__main__":
    main()
