#!/usr/bin/env bash
# Build the c5desk one-folder app with PyInstaller and self-test it; exits non-zero if anything fails.
#
#   installer/build.sh [--bundle DIR] [--variant lean|gpu] [--out DIR] [--allow-untrained] [--self-test-only]
#
#   --bundle DIR        model bundle to ship (default: the shipped default, resources/models/DEFAULT)
#   --variant lean|gpu  lean (default): ONNX Runtime inference, no torch; gpu: also torch/CUDA + retraining
#   --out DIR           build folder (default: build/installer); the app lands in DIR/dist/c5desk
#   --allow-untrained   development only: accept a random-weights test bundle in the self-test
#   --self-test-only    skip the window check and the `c5desk score` check that follow the self-test
#
# Steps: copy the bundle into the stage folder and export its ONNX graphs there (resources/models is never
# modified), freeze with installer/c5desk.spec, print what the bundle contains and how big it is, then run
# `c5desk --self-test` on the built app with QT_QPA_PLATFORM=offscreen, then `c5desk --self-test --gui` (the
# real window loads the model and outlines the sample) and `c5desk score` on the sample. All under `nice`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY="$ROOT/.venv/Scripts/python.exe"  # Windows (Git Bash)
BUNDLE="" VARIANT="lean" OUT="$ROOT/build/installer" ALLOW=() APP_CHECKS=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bundle) BUNDLE="$2"; shift 2 ;;
        --variant) VARIANT="$2"; shift 2 ;;
        --out) OUT="$2"; shift 2 ;;
        --allow-untrained) ALLOW=(--allow-untrained); shift ;;
        --self-test-only) APP_CHECKS=0; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[[ "$VARIANT" == lean || "$VARIANT" == gpu ]] || { echo "build.sh: --variant must be lean or gpu" >&2; exit 2; }
"$PY" -c 'import PyInstaller' 2>/dev/null || {
    echo "build.sh: PyInstaller is missing; install it with: $PY -m pip install -c constraints.txt -e '.[installer]'" >&2
    exit 2
}
NICE=(nice -n 19)
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

if [[ -z "$BUNDLE" ]]; then
    BUNDLE="$(cd "$ROOT" && "$PY" -c '
import sys
from c5desk.errors import C5Error
from c5desk.model.catalog import Catalog
try:
    print(Catalog().shipped_default().folder)
except C5Error as exc:
    sys.exit(f"build.sh: {exc}")')"
fi
[[ -d "$BUNDLE" ]] || { echo "build.sh: no model bundle at $BUNDLE" >&2; exit 2; }
BUNDLE="$(cd "$BUNDLE" && pwd)"
NAME="$(basename "$BUNDLE")"
STAGE="$OUT/stage" DIST="$OUT/dist" APP="$OUT/dist/c5desk"
echo "== c5desk $VARIANT bundle with model $NAME ($BUNDLE) -> $APP"

# 1. stage: the resources the app will see (model copy + ONNX graphs, DEFAULT pointer, sample, icons)
rm -rf "$STAGE"
mkdir -p "$STAGE/resources/models"
LEAN_ONLY=()
[[ "$VARIANT" == lean ]] && LEAN_ONLY=(--exclude replay)  # the retraining replay sample: GPU bundle only
"${NICE[@]}" "$PY" "$ROOT/installer/export_onnx.py" "$BUNDLE" "$STAGE/resources/models/$NAME" "${LEAN_ONLY[@]}"
echo "$NAME" > "$STAGE/resources/models/DEFAULT"
cp -r "$ROOT/resources/samples" "$ROOT/resources/icons" "$ROOT/resources/descriptors" "$ROOT/resources/qt-system-libraries.txt" "$STAGE/resources/"
# PDF reports need a Unicode font; matplotlib (which ships DejaVu) stays out of the bundle, its fonts do not.
mkdir -p "$STAGE/resources/fonts"
MPL_FONTS="$("$PY" -c 'import matplotlib, pathlib; print(pathlib.Path(matplotlib.get_data_path(), "fonts", "ttf"))')"
cp "$MPL_FONTS/DejaVuSans.ttf" "$MPL_FONTS/DejaVuSans-Bold.ttf" "$MPL_FONTS/LICENSE_DEJAVU" "$STAGE/resources/fonts/"

# 2. freeze
start=$(date +%s)
C5DESK_STAGE="$STAGE" C5DESK_VARIANT="$VARIANT" "${NICE[@]}" "$PY" -m PyInstaller --noconfirm --clean \
    --log-level WARN --distpath "$DIST" --workpath "$OUT/work" "$ROOT/installer/c5desk.spec"
echo "== frozen in $(( $(date +%s) - start )) s"

# 3. what it contains
if [[ "$VARIANT" == lean ]]; then
    for heavy in torch triton nvidia timm; do
        [[ ! -e "$APP/_internal/$heavy" ]] || { echo "build.sh: $heavy ended up in the lean bundle" >&2; exit 1; }
    done
fi
echo "== size: $(du -sh "$APP" | cut -f1) in $(find "$APP" -type f | wc -l) files; largest parts:"
# (awk, not head, ends these pipes: head would close them early and pipefail would stop the build)
(cd "$APP/_internal" && du -s -- * | sort -rn | awk 'NR <= 12 {printf "   %7.1f MiB  %s\n", $1/1024, $2}')
echo "== largest files:"
find "$APP" -type f -printf '%s %P\n' | sort -rn | awk 'NR <= 8 {printf "   %7.1f MiB  %s\n", $1/1048576, $2}'

# 4. self-test the built app as a user would run it: no dev environment, no display
EXE="$APP/c5desk"
for candidate in "$APP/c5desk-cli" "$APP/c5desk-cli.exe" "$APP/c5desk.exe"; do
    if [[ -x "$candidate" ]]; then EXE="$candidate"; break; fi
done
CONFIG="$(mktemp -d)"
trap 'rm -rf "$CONFIG"' EXIT
as_user() {  # a fresh user: no settings, no cache, no development environment, no display
    env -u C5DESK_MODEL -u PYTHONPATH -u VIRTUAL_ENV QT_QPA_PLATFORM=offscreen C5DESK_CONFIG="$CONFIG/config" \
        C5DESK_CACHE="$CONFIG/cache" "${NICE[@]}" "$EXE" "$@"
}
self_test() { as_user --self-test "${ALLOW[@]}" "$@"; }
DEVICE=(--device cpu)
[[ "$VARIANT" == gpu ]] && DEVICE=(--device auto)  # the GPU bundle checks CUDA where the build machine has it
echo "== self-test"
start=$(date +%s%N)
self_test "${DEVICE[@]}"
echo "== self-test process took $(( ($(date +%s%N) - start) / 1000000 )) ms (start, load, score, exit)"
if [[ "$APP_CHECKS" == 1 ]]; then
    echo "== self-test with the window"
    self_test "${DEVICE[@]}" --gui
    echo "== c5desk score on the sample"
    as_user score "$ROOT/resources/samples/bus_sample.png" --out "$CONFIG/scores.csv" "${DEVICE[@]}"
    grep -q ',ok,' "$CONFIG/scores.csv" || { echo "build.sh: c5desk score wrote no ok row" >&2; exit 1; }
fi
echo "== built $APP"
