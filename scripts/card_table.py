"""The model card's results table, printed from `scripts/evaluate_card.sh` output (no number typed by hand).

    python scripts/card_table.py NAME=EVALUATION_FOLDER [NAME=EVALUATION_FOLDER ...]

Each EVALUATION_FOLDER is a bundle's evaluation/ folder (test_metrics.json, per_image.csv and prompted/
with SET-MODE.json and SET-per_image.csv). One Markdown row per set and model, in the order given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from c5desk.errors import C5Error
from training.per_image import read_per_image

SETS = {"busbra": "BUS-BRA", "bus_uclm": "BUS-UCLM", "breast_lesions_usg": "BrEaST-Lesions"}
LESION_LABELS = ("benign", "malignant")
HEADER = (
    "| set (test) | model | Dice (all frames) | Dice (lesion frames) | AUC | `auc_reference_mask` | "
    "`false_lesion_rate` | box Dice | Dice @1 / @3 / @5 clicks | NoC85 / NoC90 |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def per_image_csv(folder: Path, name: str) -> Path:
    nested = folder / "prompted" / f"{name}-per_image.csv"
    return nested if nested.is_file() else folder / "per_image.csv"


def lesion_dice(path: Path) -> tuple[float, int]:
    """Mean Dice over the frames with a lesion, and their count."""
    rows = read_per_image(path).values()
    values = [float(r["dice"]) for r in rows if r["label"] in LESION_LABELS and r["dice"]]
    return (sum(values) / len(values) if values else float("nan")), len(values)


def row(model: str, folder: Path, name: str) -> str:
    none, box, clicks = (
        json.loads((folder / "prompted" / f"{name}-{mode}.json").read_text())
        for mode in ("none", "box", "clicks")
    )
    dice, lesions = lesion_dice(per_image_csv(folder, name))
    free = none.get("n_lesion_free", 0)
    rate = f"{none['false_lesion_rate']:.3f} ({free})" if free > 1 else f"({free} frame)" if free else "—"
    cells = [
        SETS[name],
        model,
        f"{none['dice']:.3f}",
        f"{dice:.3f} ({lesions})",
        f"{none['auc']:.3f}",
        f"{none['auc_reference_mask']:.3f}",
        rate,
        f"{box['box_dice']:.3f}",
        " / ".join(f"{clicks[f'dice_at_{k}']:.3f}" for k in (1, 3, 5)),
        f"{clicks['noc85']:.2f} / {clicks['noc90']:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=EVALUATION_FOLDER")
    args = parser.parse_args(argv)
    models = [tuple(item.split("=", 1)) for item in args.models]
    if any(len(pair) != 2 for pair in models):
        print("each model is NAME=EVALUATION_FOLDER", file=sys.stderr)
        return 2
    print(HEADER)
    try:
        for name in SETS:
            for model, folder in models:
                print(row(model, Path(folder), name))
    except (C5Error, OSError, KeyError, ValueError) as exc:
        print(f"cannot build the table: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
