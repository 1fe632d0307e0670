"""Pieces the learning and batch dialogs share: an inline message line, number formatting, and
registering a model bundle's version (with its lineage) in the store."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from c5desk import bundles
from c5desk.bundles import installed_bundles
from c5desk.errors import BundleError
from c5desk.model.bundle import BundleSpec, read_spec
from c5desk.store import ModelVersion, Store

# (on a dark window, on a light one); "info" keeps the palette's own text colour
COLOURS = {"ok": ("#7fd18b", "#1a7f37"), "warn": ("#e8c46a", "#9a6700"), "error": ("#ff7b72", "#cf222e")}


class StatusLine(QtWidgets.QLabel):
    """A message inside the dialog (errors too): the user reads it, copies it, and carries on."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.kind = "info"

    def show_message(self, text: str, kind: str = "info") -> None:
        self.kind = kind
        dark = self.palette().color(QtGui.QPalette.ColorRole.Window).lightness() < 128
        colours = COLOURS.get(kind)
        self.setStyleSheet(f"color: {colours[0 if dark else 1]};" if colours else "")
        self.setText(text)


def finite(value: object) -> float | None:
    """A finite float, or None for anything else (null, NaN, a string from a confused child)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def format_eta(seconds: object) -> str:
    value = finite(seconds)
    if value is None or value < 0:
        return "ETA —"
    total = round(value)
    if total < 60:
        return f"ETA {total} s"
    if total < 3600:
        return f"ETA {total // 60} min {total % 60:02d} s"
    return f"ETA {total // 3600} h {total % 3600 // 60:02d} min"


def flatten_metrics(metrics: object, prefix: str = "") -> dict[str, Any]:
    """{"replay": {"dice": 0.8}} → {"replay.dice": 0.8}; lists and scalars are leaves."""
    if not isinstance(metrics, dict):
        return {prefix: metrics} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        flat.update(flatten_metrics(value, name) if isinstance(value, dict) else {name: value})
    return flat


def format_value(value: object) -> str:
    number = finite(value)
    if number is not None:
        return f"{number:.4f}".rstrip("0").rstrip(".") if not float(number).is_integer() else f"{number:.0f}"
    return "—" if value is None else str(value)


def summarise_metrics(metrics: object, limit: int = 4) -> str:
    flat = [(k, v) for k, v in flatten_metrics(metrics).items() if finite(v) is not None]
    text = ", ".join(f"{k}={format_value(v)}" for k, v in flat[:limit])
    return text + (", …" if len(flat) > limit else "")


def scan_bundles(models_dir: Path) -> tuple[dict[str, tuple[Path, BundleSpec]], list[str]]:
    """{version: (folder, spec)} of the readable bundles in models_dir and of the shipped ones (so a retrained
    model can roll back to the model that came with the app), and a note for each unreadable one."""
    found: dict[str, tuple[Path, BundleSpec]] = {}
    problems: list[str] = []
    folders = installed_bundles(Path(models_dir))
    if Path(models_dir).resolve() != bundles.SHIPPED_MODELS.resolve():
        folders += installed_bundles()
    for folder in folders:
        try:
            spec = read_spec(folder)
        except BundleError as exc:
            problems.append(f"{folder.name}: {exc}")
            continue
        found.setdefault(str(spec.version), (folder, spec))
    return found, problems


def register_bundle_version(
    store: Store,
    spec: BundleSpec,
    known: dict[str, tuple[Path, BundleSpec]] | None = None,
    metrics: dict[str, Any] | None = None,
) -> ModelVersion:
    """Register a bundle's version (with `metrics`, else its spec's), first its parents from `known` bundles.

    A parent that is neither registered nor available as a bundle is left out (the store needs every
    recorded parent to exist); the bundle itself still names it.
    """
    registered = {v.id: v for v in store.model_versions()}
    version = str(spec.version)
    if version in registered:
        return registered[version]
    chain: list[BundleSpec] = [spec]
    seen = {version}
    while chain[-1].parent and chain[-1].parent not in registered and known and chain[-1].parent in known:
        parent_spec = known[chain[-1].parent][1]
        if str(parent_spec.version) in seen:  # a cycle in hand-edited specs: stop rather than loop
            break
        seen.add(str(parent_spec.version))
        chain.append(parent_spec)
    result: ModelVersion | None = None
    for item in reversed(chain):
        parent = item.parent if item.parent in registered else None
        values = metrics if item is spec and metrics is not None else dict(item.metrics)
        result = store.register_model_version(str(item.version), parent=parent, metrics=values)
        registered[result.id] = result
    assert result is not None
    return result
