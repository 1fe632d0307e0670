"""`retrain --base BUNDLE --data FOLDER_OR_STORE --out MODELS_DIR`: the in-app learning loop, gated.

Prints the verdict as a JSON event ({"event": "verdict", "accepted": ..., "overridden": ..., "reasons": [...],
"base": {...}, "candidate": {...}, "gate": {...}, "version": ..., "bundle": ..., "catalogue": ...}); a
rejected candidate is not written anywhere unless --publish-anyway, which marks it overridden. An accepted
(or overridden) one is published and added to the user's model catalogue (c5desk.model.catalog), so
`c5desk models` and Model → Versions… list it; activating it stays the user's decision.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from c5desk.errors import C5Error
from c5desk.inference.presence import bundle_cut
from c5desk.model.catalog import Catalog
from training import distributed as dd
from training import retrain as rt
from training.data import Samples
from training.domains import RetrainKind, card_text, domain_name, retrain_kind, with_base_card, write_card
from training.gate import REPLAY, FrameScores, GateReport, GateRule, bounded_drop, judge
from training.loop import FitConfig, FitResult
from training.progress import Reporter, dumps
from training.publish import new_version, publish
from training.recipes import run_fit
from training.replay import replay_devices as read_replay_devices

# The recipe for a few corrections (measured: training/README.md, "Learning from few corrections").
DISTILL = 1.0
# At most 200 steps: 4.7 min for 100 corrections on 2 idle cores (300 took 7.7 min, over the 5-minute
# target) and no worse on the held-out corrections or replay (benchmarks/sweep_retrain_recipe.py).
MIN_STEPS, STEPS_PER_CORRECTION, MAX_STEPS = 150, 2, 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base", type=Path, required=True, help="the bundle to start from (e.g. the active one)"
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="corrections: a dataset store or labelled folder"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="models folder; the new bundle goes in a subfolder"
    )
    parser.add_argument(
        "--unlabelled", type=Path, help="frames for mean-teacher consistency (store or folder)"
    )
    parser.add_argument("--consistency", type=float, default=0.0, help="mean-teacher weight (0: off; try 1)")
    parser.add_argument(
        "--domain",
        type=domain_name,
        help="what the corrections are: omit (or name a domain of the base) to improve this model; a new"
        " name (e.g. thyroid) adapts it to a new domain as a new lineage whose gate is that domain's frames",
    )
    parser.add_argument(
        "--distill", type=float, default=DISTILL, help="weight of distillation from the base model (0: off)"
    )
    parser.add_argument(
        "--epochs", type=int, default=0, help="0: enough for about --steps optimiser steps (the default)"
    )
    parser.add_argument("--steps", type=int, default=0, help="0: scaled to the number of corrections")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--encoder-lr-scale", type=float, default=0.3)
    parser.add_argument(
        "--replay-ratio", type=float, default=1.0, help="weight of corrections vs replay frames"
    )
    parser.add_argument(
        "--holdout", type=float, default=0.25, help="share of corrections held out for the gate"
    )
    parser.add_argument("--min-corrections", type=int, default=4)
    parser.add_argument(
        "--margin", type=bounded_drop, default=0.0, help="allowed drop on held-out corrections (0–0.1)"
    )
    parser.add_argument(
        "--tolerance", type=bounded_drop, default=0.02, help="allowed drop on the replay part (0–0.1)"
    )
    parser.add_argument(
        "--publish-anyway",
        action="store_true",
        help="publish even if the gate fails; the bundle is marked GATE OVERRIDDEN everywhere",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--work", type=Path, help="checkpoint folder; rerunning the same command resumes")
    parser.add_argument("--version", help="version name of the new bundle (default: arch + UTC time)")
    parser.add_argument("--progress", choices=("bar", "json", "quiet"))
    parser.add_argument("--cancel-file", type=Path)


@dataclass(frozen=True)
class RetrainData:
    corr_train: Samples
    corr_hold: Samples  # held out for the gate
    replay_train: Samples
    replay_val: Samples  # the forgetting guard
    unlabelled: Samples | None
    replay_devices: list[str] | None = None  # scanner of each replay_val frame, when the sample says

    def parts(self) -> dict[str, Samples]:
        """What the gate scores: held-out corrections, replay, and replay per scanner (reported)."""
        parts = {"corrections": self.corr_hold, REPLAY: self.replay_val}
        devices = np.asarray(self.replay_devices or [])
        for device in sorted(set(devices) - {""}):
            parts[f"{REPLAY} · {device}"] = self.replay_val.subset(np.flatnonzero(devices == device))
        return parts


def load_data(args: argparse.Namespace, size: int) -> RetrainData:
    corrections = rt.load_corrections(args.data, size)
    corr_train, corr_hold = rt.split_corrections(corrections, args.holdout, args.seed, args.min_corrections)
    replay_train, replay_val = rt.replay_parts(args.base, size)
    wants_teacher = args.unlabelled and args.consistency > 0
    unlabelled = rt.load_unlabelled(args.unlabelled, size) if wants_teacher else None
    devices = read_replay_devices(args.base)
    devices = devices if devices is not None and len(devices) == len(replay_val) else None
    return RetrainData(corr_train, corr_hold, replay_train, replay_val, unlabelled, devices)


def fit_config(args: argparse.Namespace, n_train: int, n_corrections: int) -> FitConfig:
    batch = min(args.batch_size, n_train)
    steps = args.steps or auto_steps(n_corrections)
    epochs = args.epochs or max(1, math.ceil(steps / max(1, n_train // batch)))
    return FitConfig(
        epochs=epochs,
        batch_size=batch,
        lr=args.lr,
        encoder_lr_scale=args.encoder_lr_scale,
        seed=args.seed,
        device=args.device_name,
        consistency=args.consistency,
        distill=args.distill,
    )


def auto_steps(n_corrections: int) -> int:
    """Optimiser steps for a retrain: more corrections, more steps, within the 5-minute CPU budget."""
    return int(min(MAX_STEPS, max(MIN_STEPS, MIN_STEPS + STEPS_PER_CORRECTION * n_corrections)))


def publish_candidate(
    args: argparse.Namespace, model, spec, data: RetrainData, result: FitResult, cfg: FitConfig, gate: dict
) -> tuple[str, Path]:
    version = args.version or new_version(spec.arch)
    kind = retrain_kind(spec.training, args.domain)
    training = {
        "stage": "retrain",
        "base": spec.version,
        "mode": kind.mode,
        "domain": kind.domain,
        "domains": kind.domains,
        "lineage": kind.lineage,
        "corrections": {"train": len(data.corr_train), "held_out": len(data.corr_hold)},
        "replay": {"train": len(data.replay_train), "val": len(data.replay_val)},
        "unlabelled": 0 if data.unlabelled is None else len(data.unlabelled),
        "recipe": {
            "epochs": cfg.epochs,
            "lr": cfg.lr,
            "encoder_lr_scale": cfg.encoder_lr_scale,
            "distill": cfg.distill,
            "consistency": cfg.consistency,
        },
        "history": result.history,
        "seconds": round(result.seconds, 1),
    }
    folder = publish(
        model,
        args.out / version,
        version=version,
        parent=spec.version,
        training=training,
        metrics={"gate": gate},
        extras=extras(args, kind, version, spec.version, data, gate),
        scope_frames=scope_frames(data),
        presence_threshold=spec.presence_threshold,
    )
    return version, folder


def scope_frames(data: RetrainData) -> tuple[Samples, Samples]:
    """What the new model's out-of-scope check is fitted on: everything it trained on (replay and the
    site's corrections, so a new organ is in scope for its own lineage) and the held-out frames of both."""
    trained_on = Samples.concat([data.replay_train, data.corr_train])
    return trained_on, Samples.concat([data.replay_val, data.corr_hold])


def extras(args: argparse.Namespace, kind: RetrainKind, version: str, parent: str, data: RetrainData, gate):
    """The replay sample carried over and a model card saying what the new version is for."""
    counts = (len(data.corr_train), len(data.corr_hold))
    text = card_text(version, parent, kind, gate, counts, args.data.name)
    base_card = args.base / "MODEL_CARD.md"
    text = with_base_card(
        text, base_card.read_text(encoding="utf-8") if base_card.is_file() else None, parent
    )

    def add(staging: Path) -> None:
        rt.carry_replay(args.base)(staging)
        write_card(staging, text)

    return add


def run(args: argparse.Namespace, info: dd.DistInfo) -> int:
    model, spec = rt.base_model(args.base)
    kind = retrain_kind(spec.training, args.domain)
    data = load_data(args, spec.input_size)
    parts = data.parts()
    cut = bundle_cut(spec)
    before = rt.measure(model, parts, args.device_name, cut) if info.main else {}
    train, distill_weights = rt.training_mix(
        data.corr_train, data.replay_train, args.replay_ratio, distill_new=kind.replay_gates
    )
    cfg = fit_config(args, len(train), len(data.corr_train))
    result = run_fit(args, model, train, None, cfg, info, data.unlabelled, distill_weights)
    if not info.main:
        return 0
    model.load_state_dict(result.weights)
    after = rt.measure(model, parts, args.device_name, cut)
    rule = GateRule(args.margin, args.tolerance, replay_gates=kind.replay_gates)
    report = judge(before, after, rule, seed=args.seed)
    if not report.passed and args.publish_anyway:
        report = report.override()
    gate = {
        "base": summaries(before),
        "candidate": summaries(after),
        "mode": kind.mode,
        "domain": kind.domain,
        **report.to_json(),
    }
    version, folder, catalogued = None, None, None
    if report.passed or report.overridden:
        version, folder = publish_candidate(args, model, spec, data, result, cfg, gate)
        catalogued = register(folder)
    emit_verdict(args, report, gate, version, folder, catalogued)
    return 0


def summaries(scores: dict[str, FrameScores]) -> dict[str, dict[str, float]]:
    return {part: frame.summary() for part, frame in scores.items()}


def emit_verdict(
    args: argparse.Namespace, report: GateReport, gate: dict, version: str | None, folder: Path | None,
    catalogued: str | None,
) -> None:  # fmt: skip
    """ "accepted" is the gate's verdict; an overridden bundle is published but never "accepted"."""
    verdict = {
        "accepted": report.passed,
        "overridden": report.overridden,
        "reasons": report.reasons,
        "mode": gate["mode"],
        "domain": gate["domain"],
        "base": gate["base"],
        "candidate": gate["candidate"],
        "gate": report.to_json(),
        "version": version,
        "bundle": None if folder is None else str(folder),
        "catalogue": catalogued,
    }
    Reporter(args.progress).emit("verdict", **verdict)
    if args.progress != "json":
        print(dumps({"event": "verdict", **verdict}))


def register(folder: Path) -> str:
    """Add the published bundle to the user's model catalogue; says where or why not (never fails the run)."""
    catalog = Catalog()
    try:
        catalog.register(folder)
    except (C5Error, OSError) as exc:
        return f"not added to the model catalogue: {exc}"
    return f"added to the model catalogue ({catalog.user_dir})"
