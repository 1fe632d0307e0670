"""Quick validation during training at model resolution (the full-frame evaluation is training.evaluate)."""

from __future__ import annotations

import numpy as np
import torch

from c5desk.inference.preprocess import InputSpec
from c5desk.inference.presence import PRESENCE_THRESHOLD
from c5desk.lesion.overlap import dice_per_image
from training.data import Samples
from training.metrics import roc_auc


@torch.no_grad()
def predict_samples(
    model: torch.nn.Module,
    samples: Samples,
    spec: InputSpec,
    device: str,
    batch: int = 32,
    presence_cut: float = PRESENCE_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """(probability maps (N,S,S), P(malignant) (N,)) without augmentation; `presence_cut` is the bundle's
    presence_threshold (the default cut for a model being trained)."""
    was_training = model.training
    model.eval()
    probs, scores = [], []
    for start in range(0, len(samples), batch):
        images = samples.images[start : start + batch]
        x = torch.from_numpy(np.stack([spec.normalise(i) for i in images])).to(device)
        seg, cls = _gated(model, x, presence_cut)
        probs.append(torch.sigmoid(seg.float())[:, 0].cpu().numpy())
        scores.append(cls.float().softmax(1)[:, 1].cpu().numpy())
    model.train(was_training)
    return np.concatenate(probs), np.concatenate(scores)


def _gated(model: torch.nn.Module, x: torch.Tensor, cut: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's outputs, with no outline where a lesion-present output (model v2) says there is none, as
    the app shows it."""
    if getattr(model, "presence", None) is None:
        return model(x)
    features = model.encode(x)
    seg = model.segment(features)
    cls = model._classify(features, seg)
    absent = torch.sigmoid(model.lesion_present(features).float()) < cut
    return seg.masked_fill(absent[:, None, None, None], -30.0), cls


def validate(model: torch.nn.Module, samples: Samples, spec: InputSpec, device: str) -> dict[str, float]:
    """Mean Dice, AUC and accuracy of the model on `samples` (the numbers used for model selection)."""
    probs, scores = predict_samples(model, samples, spec, device)
    dice = dice_per_image(probs > 0.5, samples.masks > 0)
    known = samples.labels >= 0
    labels = samples.labels[known]
    auc = roc_auc(scores[known], labels) if known.any() else float("nan")
    accuracy = float(((scores[known] >= 0.5) == (labels == 1)).mean()) if known.any() else float("nan")
    return {"dice": round(float(dice.mean()), 4), "auc": round(float(auc), 4), "accuracy": round(accuracy, 4)}
