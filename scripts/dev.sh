#!/usr/bin/env bash
# The README's two set-up commands:
#   bash scripts/dev.sh app    install everything into .venv and open the desktop app on a sample frame
#   bash scripts/dev.sh test   install the test extras into .venv and run the whole suite (what CI runs)
# Both are idempotent: a second run reinstalls nothing unless pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
  app) extras="" ;;
  test) extras="[test]" ;;
  *) echo "usage: bash scripts/dev.sh app|test" >&2; exit 2 ;;
esac

# Qt's offscreen platform needs these; a real X11 window needs the xcb ones as well. The list is shared with
# `c5desk gui`, which names the missing ones when Qt cannot start.
qt_packages() { awk -v want="$1" '$1 == want { printf "%s ", $2 }' resources/qt-system-libraries.txt; }
qt_offscreen_libs="$(qt_packages offscreen)"
qt_x11_libs="$(qt_packages x11)"

pick_python() {
  for candidate in python3 python3.13 python3.12 python3.11 python3.10; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "c5desk needs Python >= 3.10 (apt-get install python3 python3-venv)" >&2; exit 1
}

ensure_os_packages() {
  local wanted="$qt_offscreen_libs"
  [ "$mode" = app ] && wanted="$wanted $qt_x11_libs"
  # dcmtk: a third-party DICOM peer (echoscu, storescu, storescp, dsrdump) for the DICOM node's tests.
  [ "$mode" = test ] && wanted="$wanted dcmtk"
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || wanted="$wanted python3-venv"
  local missing=""
  for pkg in $wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing OS libraries:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "Some OS packages are missing (Qt's libraries; dcmtk for the tests). Run once as root:"
    echo "  sudo apt-get install -y$missing"
  fi
}

ensure_venv() {
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  # One stamp per extra, keyed on the files that decide what gets installed.
  local stamp=".venv/.installed${extras}"
  local key
  key="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$key" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -c constraints.txt -e ".${extras}"
    echo "$key" > "$stamp"
  fi
}

PYTHON="$(pick_python)"
ensure_os_packages
ensure_venv
export HF_HUB_OFFLINE=1

if [ "$mode" = app ]; then
  if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
    echo "No display found: run this from a desktop session (or: xvfb-run bash scripts/dev.sh app)." >&2
    exit 1
  fi
  exec .venv/bin/c5desk gui resources/samples/bus_sample.png
fi

export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/ruff format --check -q .
.venv/bin/deptry . --no-ansi
exec .venv/bin/python -m pytest -q -p no:cacheprovider
