"""Which trained model bundle to use when the user names none.

A model is never invented: when no trained bundle is installed, callers get a clear ModelError and the app
says so instead of scoring with random weights.
"""

from __future__ import annotations

import os
from pathlib import Path

from c5desk.errors import ModelError
from c5desk.settings import RESOURCES

SHIPPED_MODELS = RESOURCES / "models"


def installed_bundles(root: Path | None = None) -> list[Path]:
    """Bundle folders under root (default: the shipped models), each with model.json + model.safetensors."""
    root = SHIPPED_MODELS if root is None else root
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if (p / "model.json").is_file() and (p / "model.safetensors").is_file()
    )


def default_bundle() -> Path:
    """$C5DESK_MODEL, else the bundle named in resources/models/DEFAULT, else the only shipped bundle."""
    configured = os.environ.get("C5DESK_MODEL")
    if configured:
        return Path(configured)
    pointer = SHIPPED_MODELS / "DEFAULT"
    if pointer.is_file():
        return SHIPPED_MODELS / pointer.read_text(encoding="utf-8").strip()
    bundles = installed_bundles()
    if len(bundles) == 1:
        return bundles[0]
    raise ModelError(
        "no trained model is installed (resources/models is empty); pass --model BUNDLE or train one — "
        "c5desk never scores with untrained weights"
    )
