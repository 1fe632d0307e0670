"""The two stages of the C5-Net recipe: source pretraining on ISIC 2017, target fine-tuning on ultrasound."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from c5desk.model import create_model
from c5desk.model.bundle import load_bundle
from training import distributed as dd
from training.augment import AugmentConfig
from training.data import DataError, Samples, group_split, load_isic, load_labelled
from training.domain_random import DomainRandomConfig
from training.loop import FitConfig, FitResult, Trainer
from training.progress import CancelToken, Reporter
from training.publish import new_version, publish
from training.replay import BUSBRA_CITATION, source_devices, stratified_pick, write_replay

TEST_SPLIT = "test"


V2_PARTS = {"prompts": True, "presence": True}  # model v2: prompt inputs and a lesion-present output


def fit_config(args: argparse.Namespace, **changes: Any) -> FitConfig:
    domain = DomainRandomConfig() if getattr(args, "domain_randomise", False) else None
    cfg = FitConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=args.device_name,
        cls_weight=args.cls_weight,
        augment=AugmentConfig(domain=domain),
    )
    return replace(cfg, **changes)


def build_model(args: argparse.Namespace, init: Path | None) -> tuple[torch.nn.Module, str | None]:
    """A fresh network, or the network of the `init` bundle (same architecture) to continue from; with
    --prompts a v1 network grows the v2 parts, which start neutral (c5desk.model.prompt_encoder)."""
    grow = V2_PARTS if getattr(args, "prompts", False) else {}
    if init is None:
        return create_model(args.arch, input_size=args.size, **grow), None
    model, spec = load_bundle(init)
    if spec.arch != args.arch or spec.input_size != args.size:
        raise DataError(
            f"--init bundle is {spec.arch} at {spec.input_size}px;"
            f" this run asks for {args.arch} at {args.size}px"
        )
    arch_args = dict(spec.arch_args)
    if grow and not all(arch_args.get(k) for k in grow):
        arch_args.update(grow)
        grown = create_model(spec.arch, **arch_args)
        result = grown.load_state_dict(model.state_dict(), strict=False)
        new_parts = all(k.startswith(("prompt_encoder.", "presence.")) for k in result.missing_keys)
        if result.unexpected_keys or not new_parts:
            raise DataError(f"--init bundle {spec.version} cannot grow the model-v2 parts")
        model = grown
    model.arch_name, model.arch_args = spec.arch, arch_args
    return model.train(), spec.version


def run_fit(
    args: argparse.Namespace,
    model: torch.nn.Module,
    train: Samples,
    val: Samples | None,
    cfg: FitConfig,
    info: dd.DistInfo,
    unlabelled: Samples | None = None,
    distill_weights: np.ndarray | None = None,
) -> FitResult:
    """Train with this process's progress mode, cancel file and SIGINT handling, and --work checkpoints."""
    reporter = Reporter(args.progress if info.main else "quiet")
    cancel = CancelToken(args.cancel_file).install()
    try:
        trainer = Trainer(
            model,
            train,
            val,
            cfg,
            work=args.work,
            reporter=reporter,
            cancel=cancel,
            info=info,
            unlabelled=unlabelled,
            distill_weights=distill_weights,
        )
        return trainer.fit()
    finally:
        cancel.uninstall()


def provenance(args: argparse.Namespace, stage: str, result: FitResult, cfg: FitConfig, **data: Any) -> dict:
    return {
        "stage": stage,
        "command": " ".join(shlex.quote(a) for a in ["python", "-m", "training", *sys.argv[1:]]),
        "data": data,
        "recipe": {**asdict(cfg), "input_size": args.size, "threads": torch.get_num_threads()},
        "best_epoch": result.best_epoch,
        "history": result.history,
        "seconds": round(result.seconds, 1),
    }


def pretrain(args: argparse.Namespace, info: dd.DistInfo) -> dict:
    """Source stage: segmentation + melanoma-vs-not on grey-converted ISIC 2017."""
    train = load_isic(args.data, "train", args.size, args.limit)
    val = load_isic(args.data, "val", args.size, args.limit)
    model, parent = build_model(args, args.init)
    cfg = fit_config(args)
    result = run_fit(args, model, train, val, cfg, info)
    if not info.main:
        return {}
    model.load_state_dict(result.weights)
    version = args.version or new_version(f"{args.arch}-isic")
    data = {"source": "ISIC 2017 (grey-converted)", "train": len(train), "val": len(val)}
    notes = "Source-domain stage (dermoscopy, ISIC Archive research-use terms); not for clinical use."
    training = provenance(args, "pretrain", result, cfg, **data)
    folder = publish(
        model,
        args.out,
        version=version,
        parent=parent,
        training=training,
        metrics={"validation": result.best_metrics},
        notes=notes,
    )
    return {"bundle": str(folder), "version": version, "validation": result.best_metrics}


def target_rows(args: argparse.Namespace) -> Samples:
    """The rows of every --data folder; groups are prefixed by the folder so two sites never share one."""
    splits = args.split or None
    if splits and TEST_SPLIT in splits:
        raise DataError("the test split is never used for training or model selection")
    parts = []
    for folder in data_folders(args):
        part = load_labelled(folder, args.size, splits=splits, exclude=(TEST_SPLIT,))
        part.groups = [f"{folder.name}:{g}" for g in part.groups]
        parts.append(part)
    return Samples.concat(parts)


def data_folders(args: argparse.Namespace) -> list[Path]:
    return list(args.data) if isinstance(args.data, (list, tuple)) else [args.data]


def replay_source(folders: list[Path]) -> str:
    """Where the replay frames come from, with each source's terms (BUS-UCLM's forbid commercial use)."""
    known = {
        "busbra": BUSBRA_CITATION,
        "bus_uclm": "BUS-UCLM (Vallez et al., Scientific Data 2025), CC BY-NC 4.0: non-commercial use only.",
        "breast_lesions_usg": "BrEaST-Lesions_USG (Pawłowska et al., Scientific Data 2024), CC BY 4.0.",
    }
    return " ".join(known.get(f.name.lower(), f"labelled folder {f.name}") for f in folders)


def finetune(args: argparse.Namespace, info: dd.DistInfo) -> dict:
    """Target stage on a labelled folder: patient-disjoint validation, best epoch kept, replay packaged."""
    rows = target_rows(args)
    train_idx, val_idx = group_split(rows, args.val_fraction, args.seed)
    train, val = rows.subset(train_idx), rows.subset(val_idx)
    model, parent = build_model(args, args.init)
    scale = args.encoder_lr_scale if args.encoder_lr_scale is not None else (0.3 if args.init else 1.0)
    cfg = fit_config(args, encoder_lr_scale=scale)
    result = run_fit(args, model, train, val, cfg, info)
    if not info.main:
        return {}
    model.load_state_dict(result.weights)
    version = args.version or new_version(args.arch)
    folders = data_folders(args)
    data = {
        "folder": ", ".join(f.name for f in folders),
        "splits": args.split or "all but test",
        "train": len(train),
        "val": len(val),
        "class_counts_train": train.class_counts(),
        "init": parent,
    }
    training = provenance(args, "finetune", result, cfg, **data)

    def add_replay(staging: Path) -> None:
        if args.replay > 0:
            n_val = max(1, args.replay // 5)
            picked_train = train.subset(stratified_pick(train, args.replay - n_val, args.seed))
            picked_val = val.subset(stratified_pick(val, n_val, args.seed))
            devices = {name: d for f in folders for name, d in source_devices(f).items()}
            write_replay(staging, picked_train, picked_val, replay_source(folders), devices)

    folder = publish(
        model,
        args.out,
        version=version,
        parent=parent,
        training=training,
        metrics={"validation": result.best_metrics},
        notes="",
        extras=add_replay,
        scope_frames=(train, val),
        presence_threshold=getattr(args, "presence_threshold", None),
    )
    return {"bundle": str(folder), "version": version, "validation": result.best_metrics}
