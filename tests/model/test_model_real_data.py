"""The models on real BUS-BRA frames: normalisation constants and mask-conditioned re-scoring."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch

from c5desk.model import create_model

SIZE = 64


def read_rows(root: Path, count: int) -> list[dict[str, str]]:
    with open(root / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows[:: max(1, len(rows) // count)][:count]


def load_pair(root: Path, row: dict[str, str], size: int) -> tuple[np.ndarray, np.ndarray]:
    image = cv2.imread(str(root / row["image"]), cv2.IMREAD_GRAYSCALE)
    mask = cv2.imread(str(root / row["mask"]), cv2.IMREAD_GRAYSCALE)
    assert image is not None and mask is not None, row
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST) > 127
    return image, mask.astype(np.float32)


def test_default_normalisation_matches_busbra_statistics(busbra_root: Path) -> None:
    cfg = create_model("c5net_tiny").default_cfg
    pixels = np.stack([load_pair(busbra_root, row, 224)[0] for row in read_rows(busbra_root, 40)])
    assert abs(float(pixels.mean()) - cfg["mean"][0]) < 0.05
    assert abs(float(pixels.std()) - cfg["std"][0]) < 0.05


def test_rescoring_a_real_frame_with_its_lesion_mask(busbra_root: Path) -> None:
    torch.manual_seed(0)
    model = create_model("c5net_tiny", input_size=SIZE).eval()
    cfg = model.default_cfg
    image, mask = load_pair(busbra_root, read_rows(busbra_root, 1)[0], SIZE)
    assert 0 < mask.mean() < 0.9, "expected a lesion that covers part of the frame"
    x = torch.from_numpy((image - cfg["mean"][0]) / cfg["std"][0])[None, None]
    lesion = torch.from_numpy(mask)[None, None]
    with torch.inference_mode():
        seg, cls = model(x)
        features = model.encode(x)
        on_lesion, off_lesion = model.classify(features, lesion), model.classify(features, 1 - lesion)
    assert torch.isfinite(seg).all() and torch.isfinite(cls).all()
    assert not torch.allclose(on_lesion, off_lesion, atol=1e-5)


def test_a_few_training_steps_lower_the_loss_on_real_frames(busbra_root: Path) -> None:
    """Overfitting four real frames for a few steps must reduce Dice+BCE+CE: the graph is trainable."""
    torch.manual_seed(0)
    model = create_model("c5net_tiny", input_size=SIZE).train()
    cfg = model.default_cfg
    pairs = [load_pair(busbra_root, row, SIZE) for row in read_rows(busbra_root, 4)]
    x = torch.from_numpy((np.stack([p[0] for p in pairs]) - cfg["mean"][0]) / cfg["std"][0])[:, None]
    y = torch.from_numpy(np.stack([p[1] for p in pairs]))[:, None]
    labels = torch.tensor([0, 1, 0, 1])
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def loss_value() -> torch.Tensor:
        seg, cls = model(x)
        prob = torch.sigmoid(seg)
        dice = 1 - (2 * (prob * y).sum() + 1) / (prob.sum() + y.sum() + 1)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(seg, y)
        return dice + bce + torch.nn.functional.cross_entropy(cls, labels)

    first = None
    for _ in range(8):
        loss = loss_value()
        first = float(loss.detach()) if first is None else first
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert float(loss_value().detach()) < first
