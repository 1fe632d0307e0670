#!/usr/bin/env bash
# Prove that the README's app install (no test or installer extras) runs every command that needs no model
# training: a fresh virtual environment in a temporary folder, `pip install -c constraints.txt -e .`, then
# `c5desk import` of a small labelled folder and `c5desk export` in every format, `c5desk models`,
# `c5desk info` and `c5desk score` with the shipped model.
#
#   bash scripts/check_plain_install.sh        (a few minutes: torch is copied into the new environment)
#
# The test suite checks the same with the extras' modules made unimportable (tests/test_plain_install.py);
# this script is the slow, literal version of it, run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
PYTHON="${PYTHON:-python3}"

echo "== fresh environment in $WORK/venv (plain install, no extras)"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --upgrade pip
"$WORK/venv/bin/python" -m pip install -q -c constraints.txt -e .
C5="$WORK/venv/bin/c5desk"
export C5DESK_CONFIG="$WORK/config" C5DESK_CACHE="$WORK/cache" HF_HUB_OFFLINE=1

echo "== a labelled folder"
"$WORK/venv/bin/python" - "$WORK/labelled" <<'EOF'
import csv, sys
from pathlib import Path
import cv2, numpy as np
folder = Path(sys.argv[1]); (folder / "img").mkdir(parents=True)
rows = [["image", "mask", "label", "patient"]]
for i in range(4):
    image = np.full((96, 128), 120, np.uint8); mask = np.zeros((96, 128), np.uint8)
    cv2.ellipse(mask, (60 + 5 * i, 45), (20, 12), 0, 0, 360, 255, -1); image[mask > 0] = 40
    cv2.imwrite(str(folder / "img" / f"f{i}.png"), image); cv2.imwrite(str(folder / "img" / f"m{i}.png"), mask)
    rows.append([f"img/f{i}.png", f"img/m{i}.png", "malignant" if i % 2 else "benign", f"p{i // 2}"])
with open(folder / "labels.csv", "w", newline="") as stream:
    csv.writer(stream).writerows(rows)
EOF

"$C5" import "$WORK/store" "$WORK/labelled"
for format in masks coco csv labelled-folder dicom-seg report; do
    echo "== export $format"
    "$C5" export "$WORK/store" --format "$format" --out "$WORK/out-$format"
done
echo "== models, info, score"
"$C5" models
"$C5" info "$ROOT/resources/samples/bus_sample.png" > /dev/null
"$C5" score "$ROOT/resources/samples/bus_sample.png" --out "$WORK/scores.csv" --device cpu
grep -q ',ok,' "$WORK/scores.csv"
echo "== plain install: every check passed"
