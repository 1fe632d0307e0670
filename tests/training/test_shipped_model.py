"""The shipped models: the default (model v2.1) present, loadable, promptable, with replay sample, and its
card's numbers reproducible; its ancestors v2 and v1 kept beside it for rollback, v1 with its comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c5desk.model.bundle import load_bundle
from c5desk.model.catalog import SHIPPED_MODELS, default_bundle
from c5desk.settings import RESOURCES
from training.evaluate import evaluate

V1 = RESOURCES / "models" / "c5net_tiny-busbra-v1"

CARD_KEYS = ("dice", "iou", "hd95", "auc", "accuracy", "sensitivity", "specificity")
COMPARISON = ("scratch_test_metrics.json", "unet_resnet_test_metrics.json")
TEST_PATIENTS = 212  # BUS-BRA fold 5: 383 frames of 212 patients


def _cell(metrics: dict, key: str) -> str:
    """A card table cell: the value and its interval, as the card prints them."""
    form = "{:.1f}" if key == "hd95" else "{:.3f}"
    low, high = metrics["ci"][key]
    return f"{form.format(metrics[key])} [{form.format(low)}–{form.format(high)}]"


def test_the_default_bundle_is_a_trained_c5net_with_card_and_replay() -> None:
    bundle = default_bundle()
    assert bundle.parent == SHIPPED_MODELS
    _model, spec = load_bundle(bundle)
    assert spec.arch == "c5net_tiny" and spec.parent and spec.training["stage"] == "finetune"
    assert spec.training["data"]["init"] == spec.parent  # ISIC source stage → BUS-BRA target stage
    assert not spec.version.startswith("random") and spec.prompt_support
    assert (bundle / "MODEL_CARD.md").is_file() and (bundle / "replay" / "labels.csv").is_file()
    card = (bundle / "MODEL_CARD.md").read_text()
    recorded = json.loads((bundle / "evaluation" / "test_metrics.json").read_text())
    assert f"{recorded['dice']:.3f}" in card and f"{recorded['auc']:.3f}" in card


def test_every_ancestor_of_the_default_stays_installed_for_rollback() -> None:
    _model, spec = load_bundle(V1)
    assert spec.version == "c5net_tiny-busbra-v1" and not spec.prompt_support
    lineage, parent = [], load_bundle(default_bundle())[1].parent
    while parent is not None and (SHIPPED_MODELS / parent).is_dir():
        lineage.append(parent)
        parent = load_bundle(SHIPPED_MODELS / parent)[1].parent
    assert lineage == ["c5net_tiny-v2", "c5net_tiny-busbra-v1"]  # v2.1's parent v2, then v2's parent v1


@pytest.mark.parametrize(
    ("bundle", "name"),
    [
        (None, "test_metrics.json"),
        (V1, "test_metrics.json"),
        *((V1, f"comparison/{n}") for n in COMPARISON),
    ],
)
def test_card_intervals_are_over_patients_and_printed(bundle: Path | None, name: str) -> None:
    bundle = bundle or default_bundle()
    card = (bundle / "MODEL_CARD.md").read_text()
    recorded = json.loads((bundle / "evaluation" / name).read_text())
    assert recorded["ci_resampling"] == "group" and recorded["n_groups"] == TEST_PATIENTS
    assert f"{TEST_PATIENTS} patients" in card
    for key in CARD_KEYS:
        assert _cell(recorded, key) in card, (name, key, _cell(recorded, key))


def test_card_numbers_reproduce_on_the_busbra_test_split(busbra_root: Path) -> None:
    bundle = default_bundle()
    recorded = json.loads((bundle / "evaluation" / "test_metrics.json").read_text())
    result = evaluate(bundle, busbra_root, split="test", out_json=None, n_boot=200)
    assert result["n"] == recorded["n"] == 383
    assert result["ci_resampling"] == recorded["ci_resampling"] == "group"  # over patients, not images
    assert result["n_groups"] == recorded["n_groups"] == TEST_PATIENTS
    for key in CARD_KEYS:  # the CPU backend (ONNX Runtime or PyTorch) may differ in the last digits
        tolerance = 0.5 if key == "hd95" else 0.005
        assert abs(result[key] - recorded[key]) <= tolerance, (key, result[key], recorded[key])
        low, high = result["ci"][key]
        assert low <= result[key] <= high, key
