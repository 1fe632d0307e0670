"""`evaluate --prompts none|box|clicks`: the click simulation and box jitter checked exactly on masks we
control, the summaries on a predictor whose answers we set, and the command end to end on a tiny folder."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from c5desk.inference.presence import PRESENCE_THRESHOLD
from c5desk.model.bundle import make_random_bundle
from training.cli import main as training_main
from training.evaluate_cli import PROMPT_MODES
from training.evaluate_prompts import (
    MAX_CLICKS,
    MODES,
    PromptEvaluation,
    click_dices,
    clicks_to_reach,
    jittered_box,
    next_click,
)

H, W = 60, 80


def disc(x: int, y: int, r: int) -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    cv2.circle(mask, (x, y), r, 1, cv2.FILLED)
    return mask > 0


def test_the_next_click_is_at_the_heart_of_the_larger_error() -> None:
    truth = disc(30, 30, 12)
    assert next_click(np.zeros_like(truth), truth) == (30, 30, True)  # first click: the lesion's centre
    pred = (truth | disc(65, 30, 8)) & ~disc(30, 30, 5)  # a false disc (r 8) beats a missed hole (r 5)
    assert next_click(pred, truth) == (65, 30, False)
    assert next_click(truth, truth) is None


def test_click_dices_follow_the_segmenter_and_count_clicks() -> None:
    """A segmenter that first outlines a bigger wrong blob, then the lesion: Dice 0 then 1; noc at 2."""
    truth = disc(58, 30, 6)
    seen = []

    def segment(prompt):
        seen.append(prompt)
        return truth if len(seen) >= 2 else disc(20, 30, 12)

    dices = click_dices(segment, truth, max_clicks=6)
    assert dices == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert seen[0].positive == ((58, 30),) and seen[0].previous is None
    # the wrong blob (depth 12) is a larger error than the missed lesion (depth 6): a negative click in it
    assert seen[1].negative == ((20, 30),) and seen[1].positive == ((58, 30),)
    assert seen[1].previous is not None and seen[1].previous.sum() == disc(20, 30, 12).sum()
    assert len(seen) == 2 and len(dices) == 5  # no call once perfect, none after the reported clicks
    assert clicks_to_reach(dices, 0.9) == 2 and clicks_to_reach([0.5] * 20, 0.9) == MAX_CLICKS
    never = click_dices(lambda prompt: disc(20, 30, 12), truth, max_clicks=7)  # never reaches 0.90
    assert never == [0.0] * 7 and clicks_to_reach(never, 0.85, cap=7) == 7


def test_the_box_is_jittered_within_bounds_and_repeatably() -> None:
    truth = disc(40, 30, 10)  # bounds x 30..50, y 20..40 (end-exclusive 51, 41)
    a = jittered_box(truth, np.random.default_rng([0, 7]))
    assert a == jittered_box(truth, np.random.default_rng([0, 7]))
    assert a != jittered_box(truth, np.random.default_rng([1, 7]))
    assert jittered_box(truth, np.random.default_rng(0), jitter=0.0) == (30, 20, 51, 41)
    for seed in range(20):
        x0, y0, x1, y1 = jittered_box(truth, np.random.default_rng(seed))
        assert abs(x0 - 30) <= 2.1 and abs(y1 - 41) <= 2.1 and x0 < x1 and y0 < y1


@dataclass
class Row:
    mask: np.ndarray
    label: str
    line: int
    frame: object = None


@dataclass
class FakePredictor:
    """rescore returns a set score; refine returns the box region (box prompts) or the reference."""

    scores: dict[int, float]
    truth: np.ndarray
    calls: list = field(default_factory=list)

    def rescore(self, frame, mask):
        return self.scores[int(mask.sum())], 0.0, None

    def refine(self, frame, prompt, base=None):
        self.calls.append(prompt)
        out = np.zeros((H, W), bool)
        if prompt.box is not None:
            x0, y0, x1, y1 = prompt.box
            out[y0:y1, x0:x1] = True
        return type("P", (), {"mask": out if prompt.box is not None else self.truth})()


def prediction(mask: np.ndarray):
    return type("P", (), {"mask": mask})()


def test_none_gives_auc_on_reference_masks_and_the_false_lesion_rate() -> None:
    small, large = disc(20, 20, 5), disc(50, 30, 9)
    fake = FakePredictor({int(small.sum()): 0.2, int(large.sum()): 0.9}, small)
    ev = PromptEvaluation("none")
    ev.observe(fake, Row(small, "benign", 2), prediction(small))
    ev.observe(fake, Row(large, "malignant", 3), prediction(small))
    ev.observe(fake, Row(large, "unsure", 4), prediction(small))  # no malignancy truth: not scored
    empty = np.zeros((H, W), bool)
    for line, outline in ((5, empty), (6, small), (7, empty), (8, empty)):
        ev.observe(fake, Row(empty, "normal", line), prediction(outline))
    out = ev.summary()
    assert out["auc_reference_mask"] == 1.0 and out["n_reference_mask"] == 2
    assert out["false_lesion_rate"] == 0.25 and out["n_lesion_free"] == 4


def test_box_and_clicks_summaries() -> None:
    truth = np.zeros((H, W), bool)
    truth[20:40, 30:50] = True  # a rectangle: the unjittered box is exact
    fake = FakePredictor({}, truth)
    box = PromptEvaluation("box")
    box.observe(fake, Row(truth, "benign", 2), prediction(truth))
    box.observe(fake, Row(np.zeros((H, W), bool), "normal", 3), prediction(truth))  # not prompted
    out = box.summary()
    assert out["n_prompted"] == 1 and 0.7 < out["box_dice"] <= 1.0
    clicks = PromptEvaluation("clicks")
    clicks.observe(fake, Row(truth, "malignant", 2), prediction(truth))
    out = clicks.summary()
    assert out["dice_at_1"] == out["dice_at_5"] == 1.0 and out["noc85"] == out["noc90"] == 1.0
    with pytest.raises(ValueError, match="prompts must be one of"):
        PromptEvaluation("scribbles")
    assert PROMPT_MODES == MODES  # the command's choices


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_random_bundle(tmp_path_factory.mktemp("bundles") / "tiny", arch="c5net_tiny", input_size=64)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 test rows: 2 lesions (benign, malignant) and 2 lesion-free frames (normal, empty mask)."""
    root = tmp_path_factory.mktemp("labelled")
    (root / "img").mkdir()
    (root / "masks").mkdir()
    rows = []
    for i, label in enumerate(["benign", "malignant", "normal", "normal"]):
        rng = np.random.default_rng(i)
        image = (90 + 40 * rng.random((H, W))).astype(np.uint8)
        mask = disc(25 + 10 * i, 30, 9) if label != "normal" else np.zeros((H, W), bool)
        image[mask] //= 3
        cv2.imwrite(str(root / f"img/{i}.png"), image)
        cv2.imwrite(str(root / f"masks/{i}.png"), mask.astype(np.uint8) * 255)
        rows.append([f"img/{i}.png", f"masks/{i}.png", label, "test"])
    with (root / "labels.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["image", "mask", "label", "split"], *rows])
    return root


@pytest.mark.parametrize(
    "mode,keys",
    [
        ("none", {"auc_reference_mask", "false_lesion_rate", "n_lesion_free"}),
        ("box", {"box_dice", "box_iou", "n_prompted"}),
        ("clicks", {"dice_at_1", "dice_at_3", "dice_at_5", "noc85", "noc90"}),
    ],
)
def test_the_command_adds_its_keys_and_keeps_the_others(folder, bundle, tmp_path: Path, mode, keys) -> None:
    out = tmp_path / "metrics.json"
    code = training_main(["evaluate", str(bundle), str(folder), "--split", "test", "--prompts", mode,
                          "--json", str(out), "--bootstrap", "20"])  # fmt: skip
    assert code == 0
    metrics = json.loads(out.read_text())
    assert keys <= set(metrics) and {"dice", "auc", "ci", "n"} <= set(metrics) and metrics["n"] == 4
    assert metrics["prompts"] == mode
    if mode == "none":
        assert metrics["n_lesion_free"] == 2 and metrics["false_lesion_rate"] in (0.0, 0.5, 1.0)
    if mode == "clicks":
        assert 1 <= metrics["noc85"] <= MAX_CLICKS and 0 <= metrics["dice_at_1"] <= metrics["dice_at_5"] + 0.5


def test_the_per_image_csv_says_each_frames_p_lesion(folder, tmp_path: Path) -> None:
    v2 = make_random_bundle(tmp_path / "v2", input_size=64, prompts=True, presence=True)
    out = tmp_path / "per_image.csv"
    code = training_main(["evaluate", str(v2), str(folder), "--split", "test", "--csv", str(out),
                          "--bootstrap", "20"])  # fmt: skip
    assert code == 0
    with out.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 4 and all(0.0 <= float(row["p_lesion"]) <= 1.0 for row in rows)
    hidden = [row for row in rows if row["dice"] and float(row["p_lesion"]) < PRESENCE_THRESHOLD]
    assert all(float(row["dice"]) == 0.0 for row in hidden)  # "no lesion found" on a lesion frame
