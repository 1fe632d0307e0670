"""The shipped default model: present, loadable, with replay sample, and its card's numbers reproducible."""

from __future__ import annotations

import json

from c5desk.model.bundle import load_bundle
from c5desk.model.catalog import SHIPPED_MODELS, default_bundle
from training.evaluate import evaluate

CARD_KEYS = ("dice", "iou", "hd95", "auc", "accuracy", "sensitivity", "specificity")


def test_the_default_bundle_is_a_trained_c5net_with_card_and_replay() -> None:
    bundle = default_bundle()
    assert bundle.parent == SHIPPED_MODELS
    _model, spec = load_bundle(bundle)
    assert spec.arch == "c5net_tiny" and spec.parent and spec.training["stage"] == "finetune"
    assert spec.training["data"]["init"] == spec.parent  # ISIC source stage → BUS-BRA target stage
    assert not spec.version.startswith("random")
    assert (bundle / "MODEL_CARD.md").is_file() and (bundle / "replay" / "labels.csv").is_file()
    card = (bundle / "MODEL_CARD.md").read_text()
    recorded = json.loads((bundle / "evaluation" / "test_metrics.json").read_text())
    assert f"{recorded['dice']:.3f}" in card and f"{recorded['auc']:.3f}" in card


def test_card_numbers_reproduce_on_the_busbra_test_split(busbra_root) -> None:
    bundle = default_bundle()
    recorded = json.loads((bundle / "evaluation" / "test_metrics.json").read_text())
    result = evaluate(bundle, busbra_root, split="test", out_json=None, n_boot=200)
    assert result["n"] == recorded["n"] == 383
    for key in CARD_KEYS:  # the CPU backend (ONNX Runtime or PyTorch) may differ in the last digits
        tolerance = 0.5 if key == "hd95" else 0.005
        assert abs(result[key] - recorded[key]) <= tolerance, (key, result[key], recorded[key])
