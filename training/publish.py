"""Publishing a trained model as a new bundle folder, with its replay sample and card, all at once.

The bundle is assembled in a hidden sibling folder and renamed into place, so a reader never sees a bundle
without its replay sample, and an existing bundle is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from c5desk.fsio import StagedFolder
from c5desk.model.bundle import save_bundle
from training.data import DataError
from training.progress import json_safe


def new_version(arch: str) -> str:
    return f"{arch}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"


def publish(
    model: torch.nn.Module,
    folder: Path,
    *,
    version: str,
    parent: str | None,
    training: Mapping[str, Any],
    metrics: Mapping[str, Any],
    notes: str = "",
    extras: Callable[[Path], None] | None = None,
) -> Path:
    """Write `model` as a bundle at `folder`; `extras(staging)` may add files (replay sample, card) first."""
    folder = Path(folder)
    try:
        staged = StagedFolder(folder)
    except FileExistsError:
        raise DataError(
            f"{folder}: already exists; a bundle is never overwritten (choose another --out)"
        ) from None
    with staged as staging:
        save_bundle(
            model.cpu(),
            staging,
            arch=model.arch_name,
            arch_args=model.arch_args,
            version=version,
            parent=parent,
            training=json_safe(dict(training)),
            metrics=json_safe(dict(metrics)),
            notes=notes,
        )
        if extras is not None:
            extras(staging)
    return folder
