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
from c5desk.inference.presence import PRESENCE_THRESHOLD
from c5desk.model.bundle import save_bundle
from training.data import DataError, Samples
from training.familiarity_fit import fit_familiarity
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
    scope_frames: tuple[Samples, Samples] | None = None,
    presence_threshold: float | None = None,
) -> Path:
    """Write `model` as a bundle at `folder`; `extras(staging)` may add files (replay sample, card) first.

    `scope_frames` (trained on, held out) fit its out-of-scope statistics (training.familiarity_fit); a
    model with a lesion-present output gets `presence_threshold`, else the default cut, in its model.json."""
    folder = Path(folder)
    familiarity = None if scope_frames is None else fit_familiarity(model, *scope_frames)
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
            presence_threshold=_presence_cut(model, presence_threshold),
            familiarity=familiarity,
        )
        if extras is not None:
            extras(staging)
    return folder


def _presence_cut(model: torch.nn.Module, chosen: float | None) -> float | None:
    if getattr(model, "presence", None) is None:
        return None
    return chosen if chosen is not None else PRESENCE_THRESHOLD
