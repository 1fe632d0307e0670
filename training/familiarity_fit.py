"""The out-of-scope statistics of a bundle (c5desk.inference.familiarity), fitted on its own frames.

Publishing (finetune, retrain) fits them on the frames the model was trained on and sets the cut from its
held-out frames, so a retrained model's check describes its own features and domains (a new organ's lineage
counts the new organ as in scope). `python -m training familiarity` adds them to a bundle published before
they existed: the same rows and the same patient-disjoint validation part as its finetune, the weights
untouched (a new folder; a bundle is never overwritten).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import torch

from c5desk.fsio import StagedFolder
from c5desk.inference.familiarity import FILE, Familiarity, descriptors, fit
from c5desk.inference.preprocess import InputSpec
from c5desk.model.bundle import SPEC_FILE, BundleSpec, load_bundle
from c5desk.settings import data_root
from training.data import DataError, Samples, group_split

BATCH = 16


def frame_descriptors(model: torch.nn.Module, samples: Samples) -> np.ndarray:
    """Each frame's descriptor, as the Predictor computes it (both flip views averaged)."""
    spec = InputSpec.of(model.default_cfg)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rows = []
    with torch.inference_mode():
        for start in range(0, len(samples), BATCH):
            batch = np.stack([spec.normalise(image) for image in samples.images[start : start + BATCH]])
            views = np.concatenate([batch, batch[..., ::-1]])
            features = model.encode(torch.from_numpy(np.ascontiguousarray(views)).to(device))
            rows.append(descriptors([f.float().cpu().numpy() for f in features], 2))
    model.train(was_training)
    return np.concatenate(rows)


def fit_familiarity(model: torch.nn.Module, train: Samples, held_out: Samples) -> Familiarity:
    """Statistics of the training frames' descriptors, the cut from the held-out frames'."""
    return fit(frame_descriptors(model, train), frame_descriptors(model, held_out))


def attach(base: Path, out: Path, familiarity: Familiarity, presence_threshold: float | None) -> dict:
    """A copy of bundle `base` at `out` with the statistics (and the presence cut, when given); returns
    what its model.json says about them."""
    stats = familiarity.to_bytes()
    spec = json.loads((base / SPEC_FILE).read_text(encoding="utf-8"))
    spec["familiarity"] = familiarity.spec_entry(hashlib.sha256(stats).hexdigest())
    if presence_threshold is not None:
        spec["presence_threshold"] = presence_threshold
    BundleSpec.from_dict(spec, f"{out}/{SPEC_FILE}")  # e.g. a presence cut outside (0, 1) is refused here
    try:
        staged = StagedFolder(out)
    except FileExistsError:
        raise DataError(f"{out}: already exists; a bundle is never overwritten") from None
    with staged as staging:
        shutil.copytree(base, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(SPEC_FILE, FILE))
        (staging / FILE).write_bytes(stats)
        (staging / SPEC_FILE).write_text(json.dumps(spec, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return spec["familiarity"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", type=Path, required=True, help="the bundle (its weights are not changed)")
    parser.add_argument(
        "--data", type=Path, nargs="+", default=[data_root() / "busbra"], help="its finetune's folders"
    )
    parser.add_argument("--split", nargs="*", default=["train"], help="rows used (never test)")
    parser.add_argument("--val-fraction", type=float, default=0.15, help="as its finetune: the held-out part")
    parser.add_argument("--seed", type=int, default=0, help="as its finetune")
    parser.add_argument("--presence-threshold", type=float, help="its P(lesion) cut, if any")
    parser.add_argument("--out", type=Path, required=True, help="the new bundle folder")


def run(args: argparse.Namespace) -> int:
    from training.recipes import target_rows

    model, spec = load_bundle(args.base)
    args.size = spec.input_size
    rows = target_rows(args)
    train_idx, val_idx = group_split(rows, args.val_fraction, args.seed)
    familiarity = fit_familiarity(model, rows.subset(train_idx), rows.subset(val_idx))
    entry = attach(args.base, args.out, familiarity, args.presence_threshold)
    print(json.dumps({"bundle": str(args.out), **entry}))
    return 0
