"""Mini-batches: augmented views of in-memory Samples as tensors on the training device."""

from __future__ import annotations

import numpy as np
import torch

from c5desk.inference.preprocess import InputSpec
from training.augment import AugmentConfig, augment, augment_geometry, augment_intensity
from training.data import Samples


def to_tensor(images: list[np.ndarray], spec: InputSpec, device: str) -> torch.Tensor:
    batch = np.stack([spec.normalise(image) for image in images])
    return torch.from_numpy(batch).to(device, non_blocking=True)


def labelled_batch(
    samples: Samples,
    index: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    spec: InputSpec,
    device: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(images (B,C,S,S) normalised, masks (B,1,S,S) float, labels (B,) long with -1 = no class)."""
    views = [augment(samples.images[i], samples.masks[i], rng, cfg) for i in index]
    x = to_tensor([v[0] for v in views], spec, device)
    m = torch.from_numpy(np.stack([v[1] for v in views]).astype(np.float32)[:, None]).to(device)
    y = torch.from_numpy(samples.labels[index].astype(np.int64)).to(device)
    return x, m, y


def paired_views(
    samples: Samples,
    index: np.ndarray,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    spec: InputSpec,
    device: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two views of the same frames sharing their geometry (so masks align pixel for pixel) but with
    independent gain, contrast and speckle: the student sees one, the mean teacher the other."""
    student, teacher = [], []
    for i in index:
        image, _ = augment_geometry(samples.images[i], samples.masks[i], rng, cfg)
        student.append(augment_intensity(image, rng, cfg))
        teacher.append(augment_intensity(image, rng, cfg))
    return to_tensor(student, spec, device), to_tensor(teacher, spec, device)
