"""How often a model's scope check (pixels: c5desk.inference.scope; features: c5desk.inference.familiarity)
calls frames out of scope, on breast frames it should answer and on frames of other kinds.

    python scripts/evaluate_scope.py BUNDLE [--data ROOT] [--limit N] [--json OUT]

Every frame goes through the app's own path (open_source, then the Predictor) from its file as stored:
  - in scope: the test splits of BUS-BRA, BUS-UCLM (lesion-free frames included) and BrEaST-Lesions;
  - other kinds: HC18 test (fetal heads: another organ), ISIC 2017 test (dermoscopy photographs) and
    pydicom-data's ultrasound files (obstetric, colour and echo), listed one by one.
Nothing here chose the cut: it is fitted on the bundle's training and validation frames when published.
`--limit` takes every k-th frame of a set to keep at most N of it (the card uses all of them).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

from c5desk.errors import C5Error
from c5desk.inference import make_predictor
from c5desk.inference.predictor import Predictor
from c5desk.io import open_source
from c5desk.settings import data_root

IN_SCOPE_SETS = ("busbra", "bus_uclm", "breast_lesions_usg")
OTHER_SETS = {"hc18": "test", "isic2017": "test"}
PYDICOM_US = (
    "OBXXXX1A.dcm",
    "US1_UNCR.dcm",
    "color-pl.dcm",
    "color3d_jpeg_baseline.dcm",
    "gdcm-US-ALOKA-16.dcm",
)


def verdicts(predictor: Predictor, paths: list[Path]) -> list[dict]:
    """Per frame: in scope or not, the reason, and the feature distance over the cut."""
    rows = []
    for path in paths:
        with open_source(path) as source:
            extras = predictor.predict_batch([source.frame(0)])[0].extras
        rows.append(
            {
                "frame": path.name,
                "in_scope": bool(extras.get("in_scope", True)),
                "reason": str(extras.get("scope_reason", "")),
                "unfamiliarity": extras.get("unfamiliarity"),
            }
        )
    return rows


def split_paths(folder: Path, split: str, limit: int | None) -> list[Path]:
    with (folder / "labels.csv").open(newline="") as stream:
        rows = [r for r in csv.DictReader(stream) if r.get("split") == split]
    step = max(1, len(rows) // limit) if limit else 1
    return [folder / r["image"] for r in rows[::step]][: limit or None]


def pydicom_paths() -> list[Path]:
    from pydicom.data import get_testdata_file

    found = (get_testdata_file(name, download=False) for name in PYDICOM_US)
    return [Path(p) for p in found if p]


def summary(rows: list[dict]) -> dict:
    reasons = Counter(r["reason"].split(" (")[0] for r in rows if not r["in_scope"])
    flagged = sum(not r["in_scope"] for r in rows)
    return {
        "frames": len(rows),
        "out_of_scope": flagged,
        "share_out": round(flagged / max(1, len(rows)), 3),
        "reasons": dict(reasons),
    }


def evaluate(bundle: Path, root: Path, limit: int | None) -> dict:
    predictor = make_predictor(bundle, device="cpu", backend="torch")
    report: dict = {"model": predictor.version, "sets": {}, "pydicom": []}
    for name in IN_SCOPE_SETS:
        report["sets"][name] = summary(verdicts(predictor, split_paths(root / name, "test", limit)))
    for name, split in OTHER_SETS.items():
        report["sets"][name] = summary(verdicts(predictor, split_paths(root / name, split, limit)))
    report["pydicom"] = verdicts(predictor, pydicom_paths())
    return report


def table(report: dict) -> str:
    lines = ["| set | frames | out of scope | why |", "|---|---:|---:|---|"]
    for name, s in report["sets"].items():
        why = "; ".join(f"{k}: {v}" for k, v in s["reasons"].items()) or "-"
        lines.append(f"| {name} | {s['frames']} | {s['out_of_scope']} ({s['share_out']:.1%}) | {why} |")
    for row in report["pydicom"]:
        verdict = "in scope" if row["in_scope"] else row["reason"]
        lines.append(
            f"| pydicom-data {row['frame']} | 1 | {verdict} | unfamiliarity {row['unfamiliarity']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data", type=Path, default=data_root())
    parser.add_argument("--limit", type=int)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.bundle, args.data, args.limit)
    except (C5Error, OSError) as exc:
        print(f"evaluate_scope: {exc}", file=sys.stderr)
        return 1
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
