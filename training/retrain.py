"""Retraining from clinicians' corrections: warm start, replay, optional mean teacher, a validation gate.

The new model is published (as a new bundle whose parent is the base) only when, by a paired bootstrap
interval (training.gate), it is
  1. not worse than the base beyond a margin on a held-out part of the corrections (what the site wants it
     to learn), and
  2. not worse beyond a tolerance on the replay validation part (what it must not forget);
or when the user overrides a failed gate (--publish-anyway), which the bundle then records.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import torch

from c5desk.errors import ReadError
from c5desk.inference.presence import PRESENCE_THRESHOLD
from c5desk.io import iter_paths, open_source
from c5desk.model.bundle import load_bundle
from c5desk.store.store import DATABASE
from training.data import DataError, Samples, from_arrays, group_split, load_labelled, load_store
from training.gate import FrameScores, frame_scores
from training.replay import REPLAY_DIR, read_replay

log = logging.getLogger(__name__)

MAX_REPEAT = 20


def is_store(path: Path) -> bool:
    return (path / DATABASE).is_file()


def load_corrections(path: Path, size: int) -> Samples:
    if not path.is_dir():
        raise DataError(f"{path}: not a folder (expected a labelled folder or a c5desk dataset store)")
    if is_store(path):
        return load_store(path, size)
    return load_labelled(path, size, exclude=("test",))


def load_unlabelled(path: Path, size: int, limit: int = 2000) -> Samples:
    """Frames without labels for the mean teacher: a store's unannotated frames or a folder of images."""
    from training.data import frame_sample

    items = []
    if is_store(path):
        from c5desk.store import Store

        with Store.open(path) as store:
            for record in store.frames():
                if store.annotation(record.id) is None and len(items) < limit:
                    grey = store.frame_image(record.id)
                    empty = np.zeros(grey.shape, np.uint8)
                    image, mask = frame_sample(grey, empty, record.region, size)
                    items.append((image, mask, -1, f"frame{record.id}", f"frame{record.id}"))
    else:
        for file in iter_paths([path]):
            try:
                with open_source(file) as source:
                    frame = source.frame(0)
            except ReadError as exc:  # one unreadable file (or link loop) never stops the sample
                log.warning("skipped an unlabelled frame: %s", exc)
                continue
            image, mask = frame_sample(frame.grey, np.zeros(frame.grey.shape, np.uint8), frame.region, size)
            items.append((image, mask, -1, file.name, file.name))
            if len(items) >= limit:
                break
    return from_arrays(items, size)


def split_corrections(
    corrections: Samples, holdout: float, seed: int, minimum: int
) -> tuple[Samples, Samples]:
    if len(corrections) < minimum:
        raise DataError(f"only {len(corrections)} corrected frame(s); retraining needs at least {minimum}")
    train_idx, hold_idx = group_split(corrections, holdout, seed)
    if not len(train_idx) or not len(hold_idx):
        raise DataError("the corrections come from a single patient/case; a held-out part needs at least two")
    return corrections.subset(train_idx), corrections.subset(hold_idx)


def training_mix(
    corrections: Samples, replay: Samples, ratio: float, distill_new: bool = True
) -> tuple[Samples, np.ndarray]:
    """Corrections repeated so that they make up about ratio/(1+ratio) of an epoch, plus the replay frames;
    and per frame whether distillation from the base applies (replay always, the corrections when
    improving the same domain: `distill_new`)."""
    repeat = max(1, min(MAX_REPEAT, round(ratio * len(replay) / max(1, len(corrections)))))
    mix = Samples.concat([corrections] * repeat + [replay])
    weights = np.concatenate([np.full(len(corrections) * repeat, float(distill_new)), np.ones(len(replay))])
    return mix, weights


def base_model(bundle: Path) -> tuple[torch.nn.Module, object]:
    model, spec = load_bundle(bundle)
    model.arch_name, model.arch_args = spec.arch, dict(spec.arch_args)
    return model, spec


def measure(
    model: torch.nn.Module, parts: dict[str, Samples], device: str, presence_cut: float = PRESENCE_THRESHOLD
) -> dict[str, FrameScores]:
    """Per-frame scores of the model on each part, for the paired gate (training.gate)."""
    return {name: frame_scores(model, part, device, presence_cut) for name, part in parts.items()}


def carry_replay(base: Path):
    """The new bundle keeps its ancestor's replay sample, so the next retrain has it too."""

    def copy(staging: Path) -> None:
        source = base / REPLAY_DIR
        if source.is_dir():
            shutil.copytree(source, staging / REPLAY_DIR)

    return copy


def replay_parts(bundle: Path, size: int) -> tuple[Samples, Samples]:
    parts = read_replay(bundle, size)
    if parts is None:
        raise DataError(
            f"{bundle}: this bundle has no replay sample (folder '{REPLAY_DIR}'); without it retraining could"
            " forget the original data unchecked. Retrain from a bundle made by `training finetune`."
        )
    return parts
