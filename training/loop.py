"""The one training loop behind pretrain, finetune and retrain.

Dice + BCE on the mask, weighted cross-entropy on the class (λ·L_cls), AdamW with warm-up and cosine decay
(the encoder may learn slower than the heads), model selection on a validation part, JSON progress,
cancellation, resumable checkpoints, optional distillation from the base model (retrain), optional
mean-teacher consistency on unlabelled frames and DDP.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from c5desk.inference.preprocess import InputSpec
from training import checkpoint as ckpt
from training import distributed as dd
from training.augment import AugmentConfig
from training.batches import labelled_batch, paired_views
from training.data import Samples
from training.progress import Cancelled, CancelToken, Reporter
from training.prompt_sim import PromptSimConfig, simulate
from training.teachers import consistency_loss, distillation_loss, ema_update, frozen_copy
from training.validate import validate


@dataclass(frozen=True)
class FitConfig:
    epochs: int = 12
    batch_size: int = 8
    lr: float = 2e-3
    encoder_lr_scale: float = 1.0
    weight_decay: float = 1e-2
    warmup: float = 0.05
    cls_weight: float = 0.5
    seed: int = 0
    device: str = "cpu"
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    consistency: float = 0.0  # mean-teacher weight; 0 disables it
    ema_decay: float = 0.99
    distill: float = 0.0  # weight of distillation from the starting model; 0 disables it
    # model v2 only (a network with prompt inputs and a lesion-present output; ignored otherwise)
    prompts: PromptSimConfig = field(default_factory=PromptSimConfig)
    prompt_weight: float = 1.0  # segmentation loss of the prompted path
    presence_weight: float = 0.2  # BCE of "is there a lesion", trained by the lesion-free frames


@dataclass
class FitResult:
    weights: dict[str, torch.Tensor]
    best_epoch: int
    best_metrics: dict[str, float]
    history: list[dict[str, Any]]
    seconds: float


def data_digest(samples: Samples | None) -> str:
    """Content (pixels, masks, labels), not only names: a corrected mask must never resume an old run."""
    if samples is None:
        return ""
    digest = hashlib.sha256()
    for array in (samples.images, samples.masks, samples.labels):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def fingerprint(
    model: torch.nn.Module, train: Samples, val: Samples | None, cfg: FitConfig, extra: str = ""
) -> str:
    """Identity of a run: a checkpoint resumes only the same architecture, recipe and data (`extra`: what
    else decides the run, e.g. which frames are distilled)."""
    text = json.dumps(
        [
            getattr(model, "arch_name", ""),
            getattr(model, "arch_args", {}),
            asdict(cfg),
            data_digest(train),
            data_digest(val),
            train.names,
            extra,
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum((1, 2, 3))
    dice = 1 - (2 * inter + 1) / (prob.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1)
    return bce + dice.mean()


def class_loss(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if not bool((labels >= 0).any()):
        return logits.sum() * 0.0  # keeps the graph (and DDP's gradient buckets) intact
    return F.cross_entropy(logits.float(), labels, weight=weight, ignore_index=-1)


def class_weights(train: Samples) -> torch.Tensor:
    """Inverse-frequency weights so the rarer class (usually malignant) is not ignored."""
    counts = np.array(train.class_counts(), dtype=np.float64)
    if counts.min() == 0:
        return torch.ones(2)
    weights = counts.sum() / (2 * counts)
    return torch.tensor(weights, dtype=torch.float32)


def make_optimizer(model: torch.nn.Module, cfg: FitConfig) -> torch.optim.AdamW:
    encoder = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
    rest = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    groups = [
        {"params": encoder, "lr": cfg.lr * cfg.encoder_lr_scale, "base_lr": cfg.lr * cfg.encoder_lr_scale},
        {"params": rest, "lr": cfg.lr, "base_lr": cfg.lr},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(step: int, total: int, warmup: float) -> float:
    warm = max(1, int(total * warmup))
    if step < warm:
        return 0.1 + 0.9 * step / warm
    progress = (step - warm) / max(1, total - warm)
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def ramp(step: int, total: int) -> float:
    """Consistency weight ramp-up over the first 30 % of steps (a sigmoid, as in mean-teacher training)."""
    t = min(1.0, step / max(1.0, 0.3 * total))
    return math.exp(-5.0 * (1.0 - t) ** 2)


class Trainer:
    def __init__(
        self,
        model: torch.nn.Module,
        train: Samples,
        val: Samples | None,
        cfg: FitConfig,
        *,
        work: Path | None = None,
        reporter: Reporter | None = None,
        cancel: CancelToken | None = None,
        info: dd.DistInfo | None = None,
        unlabelled: Samples | None = None,
        distill_weights: np.ndarray | None = None,
    ) -> None:
        """`distill_weights`: per training frame, how much distillation applies (default: every frame)."""
        self.info = info or dd.DistInfo()
        self.device = dd.device_for(cfg.device, self.info)
        self.model = model.to(self.device)
        self.train, self.val, self.cfg, self.work = train, val, cfg, work
        self.reporter = reporter or Reporter("quiet")
        self.cancel = cancel or CancelToken()
        self.unlabelled = (
            unlabelled if cfg.consistency > 0 and unlabelled is not None and len(unlabelled) else None
        )
        self.teacher = frozen_copy(model) if self.unlabelled is not None else None
        self.base = frozen_copy(model) if cfg.distill > 0 else None
        weights = np.ones(len(train)) if distill_weights is None else np.asarray(distill_weights)
        self.distill_weights = weights.astype(np.float32)
        self.optimizer = make_optimizer(self.model, cfg)
        self.weight = class_weights(train).to(self.device)
        self.steps_per_epoch = max(1, len(dd.shard(np.arange(len(train)), self.info)) // cfg.batch_size)
        self.total_steps = self.steps_per_epoch * cfg.epochs
        self.input = InputSpec.of(model.default_cfg)
        # model v2: prompts and lesion-present trained alongside (one forward pass: DDP needs forward)
        self.extended = any(getattr(model, name, None) is not None for name in ("prompt_encoder", "presence"))
        self.net = self._wrap(self.model)
        fp16 = self.device.startswith("cuda") and self._half == torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)

    def _wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.info.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.info.local_rank] if self.device.startswith("cuda") else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)

    def _autocast(self):
        if self.device.startswith("cuda"):
            return torch.autocast("cuda", dtype=self._half)
        return torch.autocast("cpu", enabled=False)

    @property
    def _half(self) -> torch.dtype:
        """bf16 where the GPU has it (no loss scaling needed), else fp16 with a gradient scaler."""
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def fit(self) -> FitResult:
        started = time.monotonic()
        state = self._resume()
        history: list[dict[str, Any]] = state.get("history", [])
        best = (state.get("best_score", -math.inf), state.get("best_epoch", 0), state.get("best_metrics", {}))
        best_weights = (ckpt.load_best(self.work) if self.work and state else None) or self._weights()
        first = int(state.get("epoch", 0))
        if self.info.main:
            self.reporter.emit(
                "start", epochs=self.cfg.epochs, total_steps=self.total_steps, resumed_from=first
            )
        steps_run = 0
        for epoch in range(first + 1, self.cfg.epochs + 1):
            loss = self._epoch(epoch, started, steps_run)
            steps_run += self.steps_per_epoch
            metrics = self._validate() if self.info.main else {}
            score = _selection_score(metrics) if metrics else float(epoch)
            if self.info.main and score >= best[0]:
                best, best_weights = (score, epoch, metrics), self._weights()
                if self.work:
                    ckpt.save_best(self.work, best_weights)
            history.append({"epoch": epoch, "loss": loss, "val": metrics})
            eta = self._eta(started, steps_run, (self.cfg.epochs - epoch) * self.steps_per_epoch)
            if self.info.main:
                self.reporter.emit(
                    "epoch", epoch=epoch, loss=round(loss, 5), val=metrics, eta_s=round(eta, 1)
                )
                self._checkpoint(epoch, history, best)
            dd.barrier(self.info)
        self.reporter.close()
        return FitResult(best_weights, best[1], best[2], history, time.monotonic() - started)

    def _epoch(self, epoch: int, started: float, steps_before: int) -> float:
        rng = np.random.default_rng([self.cfg.seed, epoch])  # same order on every rank, then sharded
        torch.manual_seed(self.cfg.seed * 1000 + epoch * 10 + self.info.rank)
        order = dd.shard(rng.permutation(len(self.train)), self.info)
        aug_rng = np.random.default_rng([self.cfg.seed, epoch, self.info.rank])
        self.net.train()
        losses = []
        for step in range(self.steps_per_epoch):
            if dd.any_true(self.cancel.requested, self.info):
                raise Cancelled
            index = order[step * self.cfg.batch_size : (step + 1) * self.cfg.batch_size]
            global_step = (epoch - 1) * self.steps_per_epoch + step
            losses.append(self._step(index, aug_rng, global_step))
            done = steps_before + step + 1
            eta = self._eta(started, done, self.total_steps - global_step - 1)
            if self.info.main:
                self.reporter.step(
                    epoch, global_step + 1, self.total_steps, float(np.mean(losses[-20:])), eta
                )
        return float(np.mean(losses))

    def _step(self, index: np.ndarray, rng: np.random.Generator, global_step: int) -> float:
        factor = lr_factor(global_step, self.total_steps, self.cfg.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        x, m, y = labelled_batch(self.train, index, rng, self.cfg.augment, self.input, self.device)
        maps = self._prompt_maps(m, rng) if self.extended else None
        with self._autocast():
            if maps is None:
                seg, cls = self.net(x)
                loss = segmentation_loss(seg.float(), m)
            else:
                seg, cls, presence, prompted = self.net(x, maps)
                loss = segmentation_loss(seg.float(), m) + self._v2_loss(m, presence, prompted)
            loss = loss + self.cfg.cls_weight * class_loss(cls, y, self.weight)
            if self.base is not None:
                loss = loss + self.cfg.distill * self._distillation(x, (seg, cls), index)
            if self.teacher is not None:
                loss = loss + self.cfg.consistency * ramp(global_step, self.total_steps) * self._consistency(
                    rng
                )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.teacher is not None:
            ema_update(self.teacher, self.model, self.cfg.ema_decay)
        return float(loss.detach())

    def _prompt_maps(self, masks: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Simulated prompts (training.prompt_sim) for the batch's augmented reference masks."""
        references = masks[:, 0].cpu().numpy()
        maps = np.stack([simulate(mask, rng, self.cfg.prompts) for mask in references])
        return torch.from_numpy(maps).to(masks.device)

    def _v2_loss(
        self, masks: torch.Tensor, presence: torch.Tensor | None, prompted: torch.Tensor | None
    ) -> torch.Tensor:
        """The prompted path's segmentation loss plus the lesion-present BCE (model v2)."""
        loss = masks.sum() * 0.0
        if prompted is not None:
            loss = loss + self.cfg.prompt_weight * segmentation_loss(prompted.float(), masks)
        if presence is not None:
            present = (masks.sum(dim=(1, 2, 3)) > 0).float()
            bce = F.binary_cross_entropy_with_logits(presence.float(), present)
            loss = loss + self.cfg.presence_weight * bce
        return loss

    def _distillation(self, x: torch.Tensor, student: tuple, index: np.ndarray) -> torch.Tensor:
        """Stay close to the base model on the same augmented view (the guard against forgetting)."""
        with torch.no_grad():
            teacher = self.base(x)
        weight = torch.from_numpy(self.distill_weights[index]).to(x.device)
        return distillation_loss(student, teacher, weight)

    def _consistency(self, rng: np.random.Generator) -> torch.Tensor:
        """Mean teacher: the student's view of an unlabelled frame should agree with the EMA teacher's."""
        pick = rng.choice(
            len(self.unlabelled), size=min(self.cfg.batch_size, len(self.unlabelled)), replace=False
        )
        student_x, teacher_x = paired_views(
            self.unlabelled, pick, rng, self.cfg.augment, self.input, self.device
        )
        with torch.no_grad():
            teacher = self.teacher(teacher_x)
        return consistency_loss(self.net(student_x), teacher)

    def _validate(self) -> dict[str, float]:
        if self.val is None or not len(self.val):
            return {}
        return validate(self.model, self.val, self.input, self.device)

    def _weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu").clone() for k, v in self.model.state_dict().items()}

    def _eta(self, started: float, done: int, remaining: int) -> float:
        return (time.monotonic() - started) / max(1, done) * max(0, remaining)

    def _resume(self) -> dict[str, Any]:
        if self.work is None:
            return {}
        distilled = (
            hashlib.sha256(self.distill_weights.tobytes()).hexdigest() if self.base is not None else ""
        )
        self._fingerprint = fingerprint(self.model, self.train, self.val, self.cfg, distilled)
        return ckpt.load_checkpoint(self.work, self.model, self.optimizer, self._fingerprint) or {}

    def _checkpoint(self, epoch: int, history: list, best: tuple) -> None:
        if self.work is None:
            return
        state = {
            "fingerprint": self._fingerprint,
            "epoch": epoch,
            "history": history,
            "best_score": best[0],
            "best_epoch": best[1],
            "best_metrics": best[2],
        }
        ckpt.save_checkpoint(self.work, self.model, self.optimizer, state)


def _selection_score(metrics: dict[str, float]) -> float:
    """Model selection: mean of validation Dice and AUC (Dice alone when AUC is undefined)."""
    auc = metrics.get("auc")
    dice = metrics.get("dice", 0.0)
    return dice if auc is None or not math.isfinite(auc) else 0.5 * (dice + auc)
