"""Training cost per step and the projected wall time of the full recipe, against the UNet-ResNet34 reference.

Measures real training steps (augmentation, forward, backward, AdamW) on random frames at the recipe's
input size and batch, for c5net_tiny, unet_resnet (its own CNN branch alone) and unet_resnet34 (the reference
of C5NET.md), then projects the recipe: 4 ISIC epochs (2000 frames) + 12 BUS-BRA epochs (≈1264 frames).

    python benchmarks/bench_training.py [--threads 2] [--steps 12] [--size 192]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from c5desk.model import create_model
from training.augment import AugmentConfig
from training.batches import labelled_batch
from training.data import Samples
from training.loop import FitConfig, class_loss, make_optimizer, segmentation_loss

RECIPE_FRAMES = {"pretrain": (4, 2000), "finetune": (12, 1264)}
MODELS = ("c5net_tiny", "unet_resnet", "unet_resnet34")


def fake_samples(n: int, size: int) -> Samples:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, size, size), dtype=np.uint8)
    masks = np.zeros((n, size, size), np.uint8)
    masks[:, size // 4 : size // 2, size // 4 : size // 2] = 1
    return Samples(images, masks, np.arange(n) % 2, [str(i) for i in range(n)], [str(i) for i in range(n)])


def seconds_per_step(name: str, size: int, batch: int, steps: int) -> float:
    model = create_model(name, input_size=size).train()
    optimizer = make_optimizer(model, FitConfig())
    samples = fake_samples(batch * 2, size)
    rng = np.random.default_rng(1)
    weight = torch.ones(2)
    timings = []
    for step in range(steps + 2):  # two warm-up steps
        started = time.perf_counter()
        x, m, y = labelled_batch(samples, np.arange(batch), rng, AugmentConfig(), 0.326, 0.195, "cpu")
        seg, cls = model(x)
        loss = segmentation_loss(seg, m) + 0.5 * class_loss(cls, y, weight)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= 2:
            timings.append(time.perf_counter() - started)
    return float(np.median(timings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = sum(epochs * frames // args.batch for epochs, frames in RECIPE_FRAMES.values())
    print(f"{args.threads} threads, {args.size}px, batch {args.batch}, recipe = {steps} steps")
    results = {name: seconds_per_step(name, args.size, args.batch, args.steps) for name in MODELS}
    reference = results["unet_resnet34"]
    print(f"{'model':<16}{'s/step':>8}{'vs ref':>8}{'recipe h':>10}")
    for name, seconds in results.items():
        print(f"{name:<16}{seconds:>8.3f}{seconds / reference:>8.2f}{seconds * steps / 3600:>10.2f}")
    print("recipe h excludes data loading (~1 min) and validation (~15 s per epoch)")


if __name__ == "__main__":
    main()
