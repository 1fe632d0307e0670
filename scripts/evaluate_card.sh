#!/usr/bin/env bash
# Every `c5desk evaluate` run behind a model card's results table: the three breast test splits, each with
# prompts none, box and clicks, 1000 bootstrap resamples over patients. BUS-BRA's automatic run also writes
# test_metrics.json, per_image.csv and the ROC / calibration plots at the top of OUT (the bundle's
# evaluation/ layout). Test splits only: nothing here selects a model.
#
#     scripts/evaluate_card.sh BUNDLE OUT [DATA]      # DATA: the data root (default $C5DESK_DATA or ../shared/data)
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 BUNDLE OUT [DATA]" >&2
    exit 2
fi
bundle=$1
out=$2
data=${3:-${C5DESK_DATA:-../shared/data}}
c5desk=${C5DESK:-.venv/bin/c5desk}
mkdir -p "$out/prompted"
for set in busbra bus_uclm breast_lesions_usg; do
    for mode in none box clicks; do
        extra=()
        if [[ $mode == none ]]; then
            extra=(--csv "$out/prompted/$set-per_image.csv")
            [[ $set == busbra ]] && extra=(--csv "$out/per_image.csv" --plots "$out")
        fi
        start=$(date +%s)
        "$c5desk" evaluate "$bundle" "$data/$set" --split test --prompts "$mode" --bootstrap 1000 \
            --json "$out/prompted/$set-$mode.json" "${extra[@]}"
        echo "$set $mode: $(($(date +%s) - start)) s" >&2
    done
done
cp "$out/prompted/busbra-none.json" "$out/test_metrics.json"  # the card's headline file
